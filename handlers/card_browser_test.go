package handlers_test

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"segmentor/bitrix/b24sim"
)

// VIPs are recent buyers with a source or a second purchase; contacts that
// bought nothing are in no segment (there is no otherwise).
const cardConfig = `{"schemes": [{"entity": "contact", "segments": [
  {"key": "vip", "name": "VIP", "color": "#d4a017",
   "when": {"all": [{"fact": "won_count", "op": ">=", "value": 1},
                    {"any": [{"fact": "won_count", "op": ">=", "value": 2}, {"not": {"fact": "field:SOURCE_ID", "op": "empty"}}]}]},
   "set": {"label": true}}]}]}`

// A CRM card tab shows the record's segment as a colored badge, why, and
// its history, to a user whose CRM rights let them see the record; a tab
// it cannot place, or a record the user may not see, it says so, in the
// portal's language.
func TestCardTabInBrowser(t *testing.T) {
	exe := chromium(t)
	s := newSettingsStack(t, "en")
	s.sim.Seed(b24sim.GenOptions{Contacts: 60, Companies: 10, Deals: 200})
	admin := s.login(1)
	s.recomputed(admin, cardConfig, 0)

	// Which contacts the saved rules put in VIP and in no segment.
	p := s.do("POST", "/api/v1/preview", admin, map[string]any{"config": json.RawMessage(cardConfig)})
	if p.Status != 200 {
		t.Fatalf("preview: %d %s", p.Status, p.Raw)
	}
	scheme := p.Body["schemes"].([]any)[0].(map[string]any)
	vipSamples := scheme["segments"].([]any)[0].(map[string]any)["samples"].([]any)
	noneSamples := scheme["otherwise"].(map[string]any)["samples"].([]any)
	if len(vipSamples) == 0 || len(noneSamples) == 0 {
		t.Fatalf("the seeded contacts must include VIPs and others: %s", p.Raw)
	}
	vipID := int(vipSamples[0].(map[string]any)["id"].(float64))
	noneID := int(noneSamples[0].(map[string]any)["id"].(float64))
	var name, lastName string
	var othersID int // a contact neither the rep nor one of the two above
	for c := range s.sim.Records("contact") {
		switch id := atoiT(t, c["ID"]); id {
		case vipID:
			name, lastName = fmt.Sprint(c["NAME"]), fmt.Sprint(c["LAST_NAME"])
		case noneID:
		default:
			if othersID == 0 && atoiT(t, c["ASSIGNED_BY_ID"]) != s.rep.ID {
				othersID = id
			}
		}
	}
	// The rep is responsible for the two contacts, and sees only their
	// own records in the CRM.
	for _, id := range []int{vipID, noneID} {
		if err := s.sim.UserUpdate("contact", id, map[string]any{"ASSIGNED_BY_ID": s.rep.ID}, 1, false); err != nil {
			t.Fatal(err)
		}
	}

	f := newFrames(t)
	b := newBrowser(t, exe, 60*time.Second)

	// A sales rep opens a VIP contact's card tab.
	b.step("rep opens a VIP's card tab",
		chromedp.EmulateViewport(1200, 900),
		chromedp.Navigate(f.openTab(t, s, "CRM_CONTACT_DETAIL_TAB", s.rep.ID, fmt.Sprintf(`{"ID":"%d","URI":"\/crm\/contact\/details\/%d\/"}`, vipID, vipID), "")),
		chromedp.WaitVisible(chromedp.CSS(`body[data-ready="record"] #badge`)),
	)
	got := b.eval(`JSON.stringify([document.getElementById("badge").textContent, getComputedStyle(document.getElementById("badge")).backgroundColor,
		document.querySelector(".record__title").textContent, document.querySelector(".record__title a").href.includes("/crm/contact/details/` + fmt.Sprint(vipID) + `/"),
		document.querySelector(".record__rules").textContent])`)
	if want := `["VIP","rgb(212, 160, 23)",`; !strings.HasPrefix(got, want) || !strings.Contains(got, name) || !strings.Contains(got, lastName) || !strings.HasSuffix(got, `true,"Rules version 1"]`) {
		t.Fatalf("the VIP's tab shows %s; want the gold VIP badge, %s %s linked to the card, rules version 1", got, name, lastName)
	}
	why := b.eval(`JSON.stringify((() => {
		const seg = document.querySelector('#why .why-seg[data-key="vip"]');
		const lines = Array.from(seg.querySelectorAll(".why-line"));
		return [seg.dataset.held, seg.querySelector(".why-seg__head .mark").textContent, lines.length >= 3,
			lines[0].dataset.held, lines.every(l => l.querySelector(".mark").textContent === (l.dataset.checked === "false" ? "–" : l.dataset.held === "true" ? "✓" : "✗")),
			lines.some(l => l.textContent.includes("won_count") || l.textContent.toLowerCase().includes("won"))];
	})())`)
	if want := `["true","✓",true,"true",true,true]`; why != want {
		t.Fatalf("the explanation reads %s, want %s:\n%s", why, want, b.eval(`document.getElementById("why").innerText`))
	}
	hist := b.eval(`JSON.stringify(Array.from(document.querySelectorAll("#history tbody tr")).map(r => [r.children[1].textContent, r.children[2].textContent]))`)
	if !strings.Contains(hist, `VIP","v1"]`) {
		t.Fatalf("the history lacks the move into VIP by rules v1: %s", hist)
	}
	b.shot("card", 1200)
	b.shot("card", 800)

	// In Russian, a contact in no segment: a grey badge and the conditions
	// that did not hold.
	b.step("opens a card in no segment, in Russian",
		chromedp.Navigate(f.openTab(t, s, "CRM_CONTACT_DETAIL_TAB", s.rep.ID, fmt.Sprintf(`{"ID":"%d"}`, noneID), "ru")),
		chromedp.WaitVisible(chromedp.CSS(`body[data-ready="record"] #badge`)),
	)
	none := b.eval(`JSON.stringify([document.documentElement.lang, document.getElementById("badge").textContent, document.getElementById("badge").dataset.key,
		document.querySelector('#why .why-seg[data-key="vip"]').dataset.held, document.querySelector("#why .card__title").textContent,
		!!document.querySelector('#why .why-line[data-held="false"]'), JSON.stringify(Segmentor.untranslated)])`)
	if want := `["ru","Без сегмента","","false","Почему",true,"[]"]`; none != want {
		t.Fatalf("the Russian tab of a contact in no segment shows %s, want %s", none, want)
	}
	b.shot("card-ru-none", 800)

	// Options Bitrix24 sends on bad days, a record the portal does not
	// have, and a contact the rep's CRM role does not let them see: the tab
	// shows nothing of it, and says why.
	for _, c := range []struct{ options, ready, says, shot string }{
		{"undefined", "no-record", "does not know which record", ""},
		{`{"ID":"0"}`, "no-record", "does not know which record", ""},
		{`{"ID":"999999"}`, "error", "Bitrix24 has no such record", "card-no-such-record"},
		{fmt.Sprintf(`{"ID":"%d"}`, othersID), "error", "Your Bitrix24 access rights do not let you see this record", "card-not-yours"},
	} {
		sel := `body[data-ready="` + c.ready + `"] #message`
		if c.ready == "error" {
			sel = `body[data-ready="error"] #notice [data-kind="err"]`
		}
		b.step("opens a tab with options "+c.options,
			chromedp.Navigate(f.openTab(t, s, "CRM_CONTACT_DETAIL_TAB", s.rep.ID, c.options, "")),
			chromedp.WaitVisible(chromedp.CSS(sel)),
		)
		if msg := b.eval(`document.querySelector(` + strconv.Quote(sel) + `).textContent`); !strings.Contains(msg, c.says) {
			t.Errorf("options %s: the tab says %q", c.options, msg)
		}
		if title := b.eval(`String(!!document.querySelector(".record__title"))`); title != "false" {
			t.Errorf("options %s: the tab shows a record", c.options)
		}
		if c.shot != "" {
			b.shot(c.shot, 800)
		}
	}
	b.noJSErrors("end")
}

func atoiT(t *testing.T, v any) int {
	t.Helper()
	n, err := strconv.Atoi(fmt.Sprint(v))
	if err != nil {
		t.Fatalf("not a number: %v", v)
	}
	return n
}
