package handlers_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"segmentor/bitrix/b24sim"
)

// VIPs are recent buyers with a source or a second purchase; contacts that
// bought nothing are everyone else. The open deals of VIPs move to the
// Wholesale pipeline.
const cardConfig = `{"schemes": [{"entity": "contact", "segments": [
  {"key": "vip", "name": "VIP", "color": "#d4a017",
   "when": {"all": [{"fact": "won_count", "op": ">=", "value": 1},
                    {"any": [{"fact": "won_count", "op": ">=", "value": 2}, {"not": {"fact": "field:SOURCE_ID", "op": "empty"}}]}]},
   "set": {"label": true}}],
  "otherwise": {"key": "others", "name": "Others", "color": "#a8adb4"}},
 {"entity": "deal", "segments": [
  {"key": "key_account", "name": "Key account", "color": "#2fc6f6",
   "when": {"all": [{"fact": "client_segment", "op": "in", "value": ["vip"]}]},
   "set": {"pipeline": {"category_id": 1, "stage_id": "C1:NEW", "apply": "always"}}}]}]}`

// A CRM card tab shows the record's segment as a colored badge, why, and
// its history, to a user whose CRM rights let them see the record; a tab
// it cannot place, or a record the user may not see, it says so, in the
// portal's language.
func TestCardTabInBrowser(t *testing.T) {
	exe := chromium(t)
	// Seeded before install: the directory read at install knows the
	// seeded pipelines by name.
	s := newSettingsStackWith(t, "en", func(p *b24sim.Portal) { p.Seed(b24sim.GenOptions{Contacts: 60, Companies: 10, Deals: 200}) })
	admin := s.login(1)
	s.recomputed(admin, cardConfig, 0)

	// Which contacts the saved rules put in VIP and in no segment.
	p := s.do("POST", "/api/v1/preview", admin, map[string]any{"config": json.RawMessage(cardConfig)})
	if p.Status != 200 {
		t.Fatalf("preview: %d %s", p.Status, p.Raw)
	}
	scheme := p.Body["schemes"].([]any)[0].(map[string]any)
	vipSamples := scheme["segments"].([]any)[0].(map[string]any)["samples"].([]any)
	// A deal the rules moved to Wholesale, from the changes list.
	ch := s.do("GET", "/api/v1/audit?entity=deal&limit=200", admin, nil)
	var movedDeal int
	for _, e := range ch.Body["entries"].([]any) {
		e := e.(map[string]any)
		if to := e["to"].(map[string]any); movedDeal == 0 && strings.HasPrefix(fmt.Sprint(to["pipeline"]), "1:") &&
			!strings.HasPrefix(fmt.Sprint(e["from"].(map[string]any)["pipeline"]), "1:") {
			movedDeal = int(e["id"].(float64))
		}
	}
	if movedDeal == 0 {
		t.Fatalf("no deal moved to Wholesale: %s", ch.Raw)
	}
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
	if err := s.sim.UserUpdate("deal", movedDeal, map[string]any{"ASSIGNED_BY_ID": s.rep.ID}, 1, false); err != nil {
		t.Fatal(err)
	}
	sources := map[string]string{} // the portal's sources: id → name
	ref := s.do("GET", "/api/v1/reference", admin, nil)
	for _, st := range ref.Body["sources"].([]any) {
		st := st.(map[string]any)
		sources[st["id"].(string)] = st["name"].(string)
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
	// Why, in sentences with the editor's labels: the segment first, then
	// each condition that held with the value seen; nothing else tried.
	lead := b.eval(`document.getElementById("why-lead").textContent`)
	held := b.eval(`JSON.stringify(Array.from(document.querySelectorAll("#why-held li")).map(l => l.textContent.replace(/^✓/, "")))`)
	var heldLines []string
	if err := json.Unmarshal([]byte(held), &heldLines); err != nil {
		t.Fatal(err)
	}
	if lead != "In “VIP” because:" || len(heldLines) != 2 || !regexp.MustCompile(`^Won deals: [1-9]\d* \(at least 1\)$`).MatchString(heldLines[0]) {
		t.Fatalf("the VIP's reason reads %q, %q", lead, heldLines)
	}
	if second := heldLines[1]; !regexp.MustCompile(`^Won deals: \d+ \(at least 2\)$`).MatchString(second) {
		src, ok := strings.CutPrefix(second, "Source: ")
		name, _, _ := strings.Cut(src, " (is not empty)")
		if !ok || !strings.HasSuffix(second, " (is not empty)") || !slices.Contains(slices.Collect(maps.Values(sources)), name) {
			t.Fatalf("the second reason %q is neither a second purchase nor a source by its name (%v)", second, sources)
		}
	}
	if others := b.eval(`String(!!document.getElementById("why-others"))`); others != "false" {
		t.Errorf("VIP is the first segment, yet the tab lists others tried before it")
	}
	hist := b.eval(`JSON.stringify(Array.from(document.querySelectorAll("#history tbody tr")).map(r => [r.children[1].textContent, r.children[2].textContent]))`)
	if !strings.Contains(hist, `VIP","1"]`) {
		t.Fatalf("the history lacks the move into VIP by rules v1: %s", hist)
	}
	b.shot("card", 1200)
	b.shot("card", 800)

	// In Russian, a contact in the otherwise segment: no segment applies,
	// the nearest miss, and VIP folded under the segments checked first.
	b.step("opens a card of everyone else, in Russian",
		chromedp.Navigate(f.openTab(t, s, "CRM_CONTACT_DETAIL_TAB", s.rep.ID, fmt.Sprintf(`{"ID":"%d"}`, noneID), "ru")),
		chromedp.WaitVisible(chromedp.CSS(`body[data-ready="record"] #badge`)),
	)
	none := b.eval(`JSON.stringify([document.documentElement.lang, document.getElementById("badge").textContent, document.getElementById("badge").dataset.key,
		document.querySelector("#why .card__title").textContent, document.getElementById("why-lead").textContent,
		Array.from(document.querySelectorAll("#why-nearest li")).map(l => l.textContent.replace(/^✗/, "")),
		document.querySelector("#why-others summary").textContent, document.getElementById("why-others").open,
		Array.from(document.querySelectorAll("#why-others li")).map(l => l.textContent.replace(/^✗/, "")),
		JSON.stringify(Segmentor.untranslated)])`)
	if want := `["ru","Others","others","Почему","Ни один из сегментов выше не подходит.",["Ближе всего: VIP: Выигранных сделок: 0, нужно не меньше 1"],` +
		`"Другие сегменты, проверенные раньше (1)",false,["VIP: Выигранных сделок: 0, нужно не меньше 1"],"[]"]`; none != want {
		t.Fatalf("the Russian tab of everyone else shows\n%s\nwant\n%s", none, want)
	}
	b.eval(`document.getElementById("why-others").open = true, ""`)
	b.shot("card-ru-otherwise", 800)

	// The same two the other way round, as the administrator (the rep's
	// sign-ins have their own budget of six at once): the VIP in Russian,
	// everyone else in English.
	b.step("opens the VIP's card in Russian",
		chromedp.Navigate(f.openTab(t, s, "CRM_CONTACT_DETAIL_TAB", 1, fmt.Sprintf(`{"ID":"%d"}`, vipID), "ru")),
		chromedp.WaitVisible(chromedp.CSS(`body[data-ready="record"] #badge`)),
	)
	ruVIP := b.eval(`JSON.stringify([document.getElementById("why-lead").textContent, document.querySelector("#why-held li").textContent.replace(/^✓/, "")])`)
	if !regexp.MustCompile(`^\["В сегменте «VIP», потому что:","Выигранных сделок: [1-9]\d* \(не меньше 1\)"\]$`).MatchString(ruVIP) {
		t.Errorf("the VIP's tab in Russian reads %s", ruVIP)
	}
	b.shot("card-ru-vip", 800)
	b.step("opens everyone else's card in English",
		chromedp.Navigate(f.openTab(t, s, "CRM_CONTACT_DETAIL_TAB", 1, fmt.Sprintf(`{"ID":"%d"}`, noneID), "")),
		chromedp.WaitVisible(chromedp.CSS(`body[data-ready="record"] #badge`)),
	)
	enNone := b.eval(`JSON.stringify([document.getElementById("why-lead").textContent, document.querySelector("#why-nearest li").textContent.replace(/^✗/, ""),
		document.querySelector("#why-others summary").textContent])`)
	if want := `["None of the segments above applies.","Nearest: VIP: Won deals: 0, needs at least 1","Other segments checked first (1)"]`; enNone != want {
		t.Errorf("everyone else's tab in English reads %s, want %s", enNone, want)
	}
	b.shot("card-otherwise", 800)

	// A deal the rules moved: its pipeline and history by names (never
	// C1:NEW), what started the move, and why, in English and Russian.
	for _, c := range []struct{ lang, pipeline, change, trigger, why string }{
		{"", "Wholesale: New", "Pipeline: General: ", "Recompute after the rules were saved", "Segment of the deal's client: VIP (is one of VIP)"},
		{"ru", "Wholesale: New", "Воронка: General: ", "Пересчёт после сохранения правил", "Сегмент клиента сделки: VIP (одно из VIP)"},
	} {
		b.step("opens a moved deal's card "+c.lang,
			chromedp.Navigate(f.openTab(t, s, "CRM_DEAL_DETAIL_TAB", s.rep.ID, fmt.Sprintf(`{"ID":"%d"}`, movedDeal), c.lang)),
			chromedp.WaitVisible(chromedp.CSS(`body[data-ready="record"] #badge`)),
		)
		deal := b.eval(`JSON.stringify([document.getElementById("badge").textContent, document.getElementById("pipeline").textContent,
			document.getElementById("why-held").textContent.replace(/^✓/, ""), document.querySelector("#history .trigger").textContent,
			document.querySelector("#history tbody tr").children[1].textContent, document.body.innerText])`)
		var got []string
		if err := json.Unmarshal([]byte(deal), &got); err != nil {
			t.Fatal(err)
		}
		if got[0] != "Key account" || got[1] != c.pipeline || got[2] != c.why || got[3] != c.trigger ||
			!strings.Contains(got[4], c.change) || !strings.Contains(got[4], " → Wholesale: New") {
			t.Errorf("the moved deal's tab (%s) shows %q", c.lang, got[:5])
		}
		if regexp.MustCompile(`\bC\d+:[A-Z]|\b\d+:[A-Z]{3,}`).MatchString(got[5]) {
			t.Errorf("the deal's tab (%s) shows a pipeline code:\n%s", c.lang, got[5])
		}
		b.shot("card-deal-moved"+map[string]string{"": "", "ru": "-ru"}[c.lang], 800)
	}

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
