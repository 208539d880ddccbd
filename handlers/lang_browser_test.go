package handlers_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"segmentor/app/i18n"
	"segmentor/app/segment"
	"segmentor/bitrix/b24sim"
	"segmentor/handlers"
)

// englishLeftovers lists the English texts a page in lang shows where its
// language has a text of its own: the pages' tables (Segmentor.tables)
// and the server's words given as extra. It reads every text node and
// every title, label and placeholder, the options of closed lists too.
// Only fragments of eight letters or more between placeholders count, so
// that a word both languages share ("Segment") is no leftover.
const englishLeftovers = `((lang, extra) => {
	const pieces = s => String(s).split(/\{[a-zA-Z]+\}|%[a-z]|\|/).map(x => x.trim()).filter(x => x.length >= 8 && /[a-z]{3}/i.test(x));
	const flat = (o, p, out) => { Object.keys(o || {}).forEach(k => typeof o[k] === "object" ? flat(o[k], p + k + ".", out) : out[p + k] = o[k]); return out; };
	const english = new Set();
	Segmentor.tables.forEach(tb => {
		const en = flat(tb.en, "", {}), own = flat(tb[lang], "", {});
		Object.keys(en).forEach(k => { if (en[k] !== own[k]) pieces(en[k]).forEach(x => english.add(x)); });
	});
	extra.forEach(s => pieces(s).forEach(x => english.add(x)));
	const seen = [];
	const w = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT,
		{ acceptNode: n => /^(SCRIPT|STYLE)$/.test(n.parentNode.nodeName) ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT });
	while (w.nextNode()) seen.push(w.currentNode.nodeValue);
	document.querySelectorAll("[title], [aria-label], [placeholder]").forEach(e =>
		["title", "aria-label", "placeholder"].forEach(a => e.getAttribute(a) && seen.push(e.getAttribute(a))));
	const text = seen.join("\n");
	return JSON.stringify(Array.from(english).filter(x => text.includes(x)));
})`

// serverEnglish is what the server says in English that it says otherwise
// in lang: the editor's labels and the handlers' texts.
func serverEnglish(lang i18n.Lang) []string {
	var out []string
	en, own := segment.WordsIn(segment.EN), segment.WordsIn(lang)
	for k, s := range en.Facts {
		if own.Facts[k] != s {
			out = append(out, s)
		}
	}
	for k, s := range en.Ops {
		if own.Ops[k] != s {
			out = append(out, s)
		}
	}
	for k, s := range en.Groups {
		if own.Groups[k] != s {
			out = append(out, s)
		}
	}
	ownTexts := handlers.TextsIn(lang)
	for k, s := range handlers.TextsIn(i18n.EN) {
		if ownTexts[k] != s {
			out = append(out, s)
		}
	}
	return out
}

// The settings page (its overview, editor and changes) and a contact's
// and a deal's card tab, rendered in Chromium in each language Segmentor
// speaks: the page is in that language, has every text of its tables in
// it, shows no English text where the language has its own, counts in its
// plural forms and tells why a record is in its segment in its words.
func TestEveryLanguageInBrowser(t *testing.T) {
	exe := chromium(t)
	s := newSettingsStackWith(t, "en", func(p *b24sim.Portal) { p.Seed(b24sim.GenOptions{Contacts: 22, Companies: 5, Deals: 150}) })
	admin := s.login(1)
	s.recomputed(admin, cardConfig, 0)
	p := s.do("POST", "/api/v1/preview", admin, map[string]any{"config": json.RawMessage(cardConfig)})
	if p.Status != 200 {
		t.Fatalf("preview: %d %s", p.Status, p.Raw)
	}
	scheme := p.Body["schemes"].([]any)[0].(map[string]any)
	total := int(scheme["total"].(float64))
	vip := scheme["segments"].([]any)[0].(map[string]any)["samples"].([]any)
	if len(vip) == 0 {
		t.Fatalf("no VIP among the seeded contacts: %s", p.Raw)
	}
	vipID := int(vip[0].(map[string]any)["id"].(float64))
	f := newFrames(t)
	b := newBrowser(t, exe, 180*time.Second)

	type want struct {
		tabs, role, records, lead string
		held                      *regexp.Regexp
	}
	wants := map[i18n.Lang]want{
		i18n.EN: {`["Overview","Segments","Changes"]`, "Administrator", "{n} contact|{n} contacts", "In “VIP” because:",
			regexp.MustCompile(`^Won deals: [1-9]\d* \(at least 1\)$`)},
		i18n.RU: {`["Обзор","Сегменты","Изменения"]`, "Администратор", "контактов: {n}", "В сегменте «VIP», потому что:",
			regexp.MustCompile(`^Выигранных сделок: [1-9]\d* \(не меньше 1\)$`)},
		i18n.PL: {`["Przegląd","Segmenty","Zmiany"]`, "Administrator", "{n} kontakt|{n} kontakty|{n} kontaktów", "W segmencie „VIP”, ponieważ:",
			regexp.MustCompile(`^Wygrane deale: [1-9]\d* \(co najmniej 1\)$`)},
		i18n.IT: {`["Panoramica","Segmenti","Modifiche"]`, "Amministratore", "{n} contatto|{n} contatti", "In “VIP” perché:",
			regexp.MustCompile(`^Deal vinti: [1-9]\d* \(almeno 1\)$`)},
	}
	for _, lang := range i18n.All() {
		w := wants[lang]
		extra, _ := json.Marshal(serverEnglish(lang))
		leftovers := func(where string) {
			t.Helper()
			if lang == i18n.EN {
				return
			}
			if got := b.eval(englishLeftovers + `(` + strconv.Quote(string(lang)) + `, ` + string(extra) + `)`); got != "[]" {
				t.Errorf("%s, %s: English where %s has its own: %s", lang, where, lang, got)
			}
		}
		b.step("opens the app in "+string(lang),
			chromedp.EmulateViewport(1200, 900),
			chromedp.Navigate(f.openIn(t, s, 1, string(lang))),
			chromedp.WaitVisible(chromedp.CSS(`body[data-ready="admin"]`)),
			chromedp.WaitVisible(chromedp.CSS(`.ov-scheme[data-entity="contact"] tr[data-key="vip"]`)),
		)
		got := b.eval(`JSON.stringify([document.documentElement.lang, JSON.stringify(Segmentor.untranslated),
			JSON.stringify(["view-overview", "view-segments", "view-changes"].map(id => document.getElementById(id).textContent)),
			document.getElementById("role").textContent])`)
		if want := fmt.Sprintf(`[%q,"[]",%q,%q]`, lang, w.tabs, w.role); got != want {
			t.Errorf("%s: the overview shows %s, want %s", lang, got, want)
		}
		leftovers("overview")

		b.step("opens the editor in "+string(lang),
			chromedp.Click(chromedp.ID("view-segments")),
			waitFor(countOf(`schemes[0].segments[0]`)+` !== ""`),
		)
		// The count's title is the scheme's total in the language's
		// plural form.
		title := b.eval(`document.querySelector('[data-path="schemes[0].segments[0]"] .seg-count').title`)
		if want := strings.ReplaceAll(i18n.Plural(lang, float64(total), w.records), "{n}", strconv.Itoa(total)); title != want {
			t.Errorf("%s: the count of %d contacts is titled %q, want %q", lang, total, title, want)
		}
		// The editor's lists offer the facts in the language's words.
		label := b.eval(`document.querySelector('[data-path="schemes[0].segments[0].when.all[0]"] select.fact').selectedOptions[0].textContent`)
		if want := segment.WordsIn(lang).Facts["won_count"]; label != want {
			t.Errorf("%s: the first condition's fact reads %q, want %q", lang, label, want)
		}
		leftovers("editor")
		b.shot("editor-"+string(lang), 1200)

		b.step("opens the changes in "+string(lang),
			chromedp.Click(chromedp.ID("view-changes")),
			chromedp.WaitVisible(chromedp.CSS(`.audit-row`)),
		)
		if got := b.eval(`document.querySelector(".audit-row .trigger").textContent`); got != handlers.TextsIn(lang)["trigger_config"] {
			t.Errorf("%s: the change was started by %q, want %q", lang, got, handlers.TextsIn(lang)["trigger_config"])
		}
		leftovers("changes")

		b.step("opens a VIP's card tab in "+string(lang),
			chromedp.Navigate(f.openTab(t, s, "CRM_CONTACT_DETAIL_TAB", 1, fmt.Sprintf(`{"ID":"%d"}`, vipID), string(lang))),
			chromedp.WaitVisible(chromedp.CSS(`body[data-ready="record"] #badge`)),
		)
		card := b.eval(`JSON.stringify([document.documentElement.lang, JSON.stringify(Segmentor.untranslated),
			document.getElementById("why-lead").textContent, document.querySelector("#why-held li").textContent.replace(/^✓/, "")])`)
		var c []string
		if err := json.Unmarshal([]byte(card), &c); err != nil {
			t.Fatal(err)
		}
		if c[0] != string(lang) || c[1] != "[]" || c[2] != w.lead || !w.held.MatchString(c[3]) {
			t.Errorf("%s: the VIP's tab shows %q", lang, c)
		}
		leftovers("card tab")
		b.shot("card-"+string(lang), 800)
	}
	b.noJSErrors("end")
}
