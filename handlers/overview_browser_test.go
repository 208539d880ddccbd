package handlers_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"segmentor/bitrix/b24sim"
)

// overviewConfig has a segment in each of the three record kinds, names
// as long as portals give them, and the rest of the contacts in a segment
// of their own: the overview has three tables with every column filled.
const overviewConfig = `{"schemes": [
 {"entity": "contact", "segments": [
  {"key": "loyal", "name": "Loyal repeat customers", "color": "#d4a017", "when": {"all": [{"fact": "won_count", "op": ">=", "value": 3}]}, "set": {"label": true}},
  {"key": "buyer", "name": "Buyers", "color": "#2fc6f6", "when": {"all": [{"fact": "won_count", "op": ">=", "value": 1}]}, "set": {"label": true}},
  {"key": "lost", "name": "Lost deals only", "color": "#ff5752", "when": {"all": [{"fact": "lost_count", "op": ">=", "value": 1}]}, "set": {"label": true}}],
  "otherwise": {"key": "prospect", "name": "Prospects", "color": "#a8adb4", "set": {"label": true}}},
 {"entity": "company", "segments": [
  {"key": "key_account", "name": "Key accounts", "color": "#8e52ec", "when": {"all": [{"fact": "won_count", "op": ">=", "value": 2}]}, "set": {"label": true}}]},
 {"entity": "deal", "segments": [
  {"key": "from_loyal", "name": "From loyal customers", "color": "#9dcf00", "when": {"all": [{"fact": "client_segment", "op": "in", "value": ["loyal"]}]}, "set": {"label": true}}]}]}`

// openIn has the simulator open the app for userID in lang and returns the
// URL of a page that POSTs the same to the app page.
func (f *frames) openIn(t *testing.T, s *settingsStack, userID int, lang string) string {
	t.Helper()
	resp, err := s.sim.OpenApp(context.Background(), f.srv.URL+"/capture", userID, lang)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return f.launch(s, s.manifest.Handlers.App, "")
}

// overviewLayout lists what does not fit on the overview as laid out now:
// a table wider than its card, a cell outside it, a clipped header, a
// color dot not on the line of its segment's name, a page that scrolls
// sideways.
const overviewLayout = `JSON.stringify((() => {
	const bad = [];
	const at = el => (el.closest("[id]") || {}).id + " " + el.tagName.toLowerCase() + " " + JSON.stringify(el.textContent.trim().slice(0, 30));
	const doc = document.documentElement;
	if (doc.scrollWidth > doc.clientWidth) bad.push("the page scrolls sideways: " + doc.scrollWidth + " > " + doc.clientWidth);
	document.querySelectorAll("#app table").forEach(table => {
		const card = table.closest(".card");
		const wrap = table.parentElement;
		if (wrap.scrollWidth > wrap.clientWidth) bad.push(at(table) + ": the table is " + wrap.scrollWidth + " px wide in " + wrap.clientWidth + " px");
		const box = card.getBoundingClientRect();
		table.querySelectorAll("th, td").forEach(c => {
			const r = c.getBoundingClientRect();
			if (r.left < box.left - 0.5 || r.right > box.right + 0.5) bad.push(at(c) + ": outside its card");
		});
		table.querySelectorAll("th").forEach(th => {
			if (th.scrollWidth > th.clientWidth) bad.push(at(th) + ": header clipped, " + th.scrollWidth + " > " + th.clientWidth);
		});
	});
	document.querySelectorAll(".ov-scheme tbody tr").forEach(tr => {
		const dot = tr.querySelector(".swatch"), name = tr.querySelector(".ov-seg__name");
		if (!dot || !name) { bad.push(at(tr) + ": no color dot or name"); return; }
		const line = document.createRange();
		line.selectNodeContents(name);
		const d = dot.getBoundingClientRect(), n = line.getClientRects()[0];
		if (Math.abs((d.top + d.bottom) / 2 - (n.top + n.bottom) / 2) > 4 || d.right > n.left)
			bad.push(at(tr) + ": the color dot is not on the line of the name (dot " + Math.round(d.top) + ".." + Math.round(d.bottom) + ", name " + Math.round(n.top) + ".." + Math.round(n.bottom) + ")");
	});
	return bad;
})())`

// latinWords lists the words in Latin letters the page shows, but for an
// explicit few: the product names, the user's own name and the segment
// names from the portal's data, and Bitrix24 method names (IDs such as
// crm.item.list).
const latinWords = `JSON.stringify((() => {
	const allowed = new Set(["Segmentor", "Bitrix24", "RFM"]);
	const data = [Segmentor.session.user && Segmentor.session.user.name || ""].concat(
		Array.from(document.querySelectorAll(".ov-seg__name"), e => e.textContent));
	data.forEach(s => (s.match(/[A-Za-z][A-Za-z0-9]*/g) || []).forEach(w => allowed.add(w)));
	const method = /^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$/;
	const words = document.body.innerText.split(/[\s,;:()«»“”"·—–]+/);
	return Array.from(new Set(words.filter(w => /[A-Za-z]/.test(w) && !method.test(w) &&
		(w.match(/[A-Za-z][A-Za-z0-9]*/g) || []).some(x => !allowed.has(x)))));
})())`

// An administrator looks at the overview of a portal with segments in
// contacts, companies and deals, in English and in Russian, at 900, 1280
// and 1600 px: every table fits its card with its headers whole, each
// color dot stands on the line of its segment's name, the request limits
// read as Bitrix24 counts them, and the Russian page shows no English word.
func TestOverviewLayoutInBrowser(t *testing.T) {
	exe := chromium(t)
	s := newSettingsStack(t, "en")
	s.sim.Seed(b24sim.GenOptions{Contacts: 150, Companies: 30, Deals: 500})
	// Reading deals takes the portal time: the overview lists the method.
	s.sim.SetOperating(480*time.Second, map[string]time.Duration{"crm.item.list": 4 * time.Second})
	admin := s.login(1)
	s.recomputed(admin, overviewConfig, 0)
	f := newFrames(t)
	b := newBrowser(t, exe, 120*time.Second)

	limits := map[string]string{
		"en": `["2 requests per second, bursts up to 50","Plan: Free","crm.item.list",true]`,
		"ru": `["До 2 запросов в секунду, всплеском до 50","Тариф: Бесплатный","crm.item.list",true]`,
		"pl": `["Do 2 żądań na sekundę, chwilowo do 50","Plan: Free","crm.item.list",true]`,
		"it": `["2 richieste al secondo, picchi fino a 50","Piano: Free","crm.item.list",true]`,
	}
	for _, lang := range []string{"en", "ru", "pl", "it"} {
		b.step("opens the overview in "+lang,
			chromedp.EmulateViewport(1280, 900),
			chromedp.Navigate(f.openIn(t, s, 1, lang)),
			chromedp.WaitVisible(chromedp.CSS(`body[data-ready="admin"]`)),
			chromedp.WaitVisible(chromedp.CSS(`.ov-scheme[data-entity="deal"] tr[data-key="from_loyal"]`)),
		)
		if got := b.eval(`document.documentElement.lang`); got != lang {
			t.Fatalf("the page is in %q, want %s", got, lang)
		}
		got := b.eval(`JSON.stringify([document.getElementById("ov-rate").textContent, document.getElementById("ov-plan").textContent,
			document.querySelector("#ov-rest .ov-ops tbody tr").dataset.method,
			/\b480\b/.test(document.querySelector("#ov-rest .ov-ops tbody td.num").textContent)])`)
		if got != limits[lang] {
			t.Errorf("%s: the request limits read %s, want %s", lang, got, limits[lang])
		}
		if u := b.eval(`JSON.stringify(Segmentor.untranslated)`); u != "[]" {
			t.Errorf("texts with no translation: %s", u)
		}
		if lang == "ru" {
			if w := b.eval(latinWords); w != "[]" {
				t.Errorf("the Russian overview shows words in English: %s\n%s", w, b.eval(`document.body.innerText`))
			}
		}
		for _, width := range []int64{900, 1280, 1600} {
			b.step(fmt.Sprintf("lays the overview out at %d px", width), chromedp.EmulateViewport(width, 900))
			if bad := b.eval(overviewLayout); bad != "[]" {
				t.Errorf("%s at %d px: %s", lang, width, bad)
			}
			b.shot("overview-"+lang, width)
		}
	}
	b.noJSErrors("end")
}
