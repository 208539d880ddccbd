package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"segmentor/app"
	"segmentor/app/segment"
	"segmentor/bitrix/b24sim"
	"segmentor/registry"
)

// Active companies by what the registry says of them, and everyone else.
const registryRulesConfig = `{"schemes": [{"entity": "company", "segments": [
  {"key": "active", "name": "Active", "when": {"all": [{"fact": "registry:status", "op": "=", "value": "active"}]}, "set": {"label": true}}],
  "otherwise": {"key": "rest", "name": "Rest", "set": {"label": true}}}]}`

// seedRegistry puts the companies ids into the mirror's registry entries
// as lookups would leave them: four found, three not in the registry, two
// with an invalid NIP and one waiting; and a last run that the registry
// refused the key of. It returns the invalid tax ID given to ids[7].
func seedRegistry(t *testing.T, s *settingsStack, ids []int64) string {
	t.Helper()
	ctx, member := context.Background(), s.sim.MemberID()
	m := app.NewMirror(s.rdb)
	const invalid = "1234567890" // its check digit is not 0
	tax := map[int64]app.TaxID{}
	for i, id := range ids[:10] {
		v := validNIP(i + 1)
		if i == 7 || i == 8 {
			v = invalid
		}
		tax[id] = app.TaxID{Value: v, Requisite: int64(100 + i)}
	}
	if _, err := m.PutTaxIDs(ctx, member, tax, true); err != nil {
		t.Fatal(err)
	}
	checked := time.Now().Add(-2 * time.Hour)
	for i, id := range ids[:7] {
		e := app.NewRegistryEntry(tax[id])
		e.Checked, e.State = checked.Unix(), app.RegistryNotFound
		if i < 4 {
			e.State, e.Name, e.REGON = app.RegistryFound, fmt.Sprintf("Firma %d sp. z o.o.", i), fmt.Sprintf("14%07d", i)
			e.Facts = &segment.RegistryFacts{PKD: "47.11.Z", PKDSection: "G", Region: "Mazowieckie", LegalForm: "sp. z o.o.",
				Status: registry.StatusActive, Registered: time.Date(2008, 3, 3, 0, 0, 0, 0, time.UTC)}
		}
		if ok, err := m.PutRegistryAnswer(ctx, member, id, e); err != nil || !ok {
			t.Fatalf("company %d: %v %v", id, ok, err)
		}
	}
	run := app.RegistryRun{At: checked, Asked: 7, Found: 4, NotFound: 3, Remaining: 1, Problem: app.RegistryKeyRefused}
	if err := s.store.SetRegistryRun(ctx, member, run); err != nil {
		t.Fatal(err)
	}
	return invalid
}

// An administrator opens the company registry view: what lookups are for,
// that the segments use registry facts while lookups are off, the last
// run's problem and the companies counted by where their lookup stands.
// Turning lookups on without a key is refused at the form; with a key and
// a field to write the main activity into, it is saved. A sales rep sees
// the same view with nothing to change. The rule editor offers the
// registry facts in a group of their own, with their values by name; the
// card tab shows a company's registry entry, an invalid NIP marked.
func TestRegistryInBrowser(t *testing.T) {
	exe := chromium(t)
	s := newRegistryStack(t, "en")
	s.sim.Seed(b24sim.GenOptions{Contacts: 4, Companies: 12, Deals: 6})
	admin := s.login(1)
	s.recomputed(admin, registryRulesConfig, 0)
	ctx, member := context.Background(), s.sim.MemberID()
	ids, err := app.NewMirror(s.rdb).IDs(ctx, member, segment.EntityCompany)
	if err != nil || len(ids) < 10 {
		t.Fatalf("companies: %v %v", ids, err)
	}
	slices.Sort(ids)
	invalid := seedRegistry(t, s, ids)

	f := newFrames(t)
	b := newBrowser(t, exe, 120*time.Second)
	b.step("opens the registry view",
		chromedp.EmulateViewport(1200, 900),
		chromedp.Navigate(f.open(t, s, 1)),
		chromedp.WaitVisible(chromedp.CSS(`body[data-ready="admin"]`)),
		clickUntil("#view-registry", "#panel-registry"),
		chromedp.WaitVisible(chromedp.ID("rg-form")),
	)
	var view struct {
		Intro, Problem, Unused, Run, Placeholder, Type, Autocomplete string
		Counts                                                       map[string]string
		Enabled                                                      bool
		Fields                                                       []string
	}
	raw := b.eval(`JSON.stringify({intro: document.getElementById("rg-intro").textContent,
		problem: (document.getElementById("rg-problem") || {}).textContent || "",
		unused: (document.getElementById("rg-unused") || {}).textContent || "",
		run: document.getElementById("rg-run").innerText,
		placeholder: document.getElementById("rg-key").placeholder, type: document.getElementById("rg-key").type,
		autocomplete: document.getElementById("rg-key").getAttribute("autocomplete"),
		counts: Object.fromEntries([...document.querySelectorAll("#rg-counts dd")].map(d => [d.previousElementSibling.textContent, d.textContent])),
		enabled: document.getElementById("rg-enabled").checked,
		fields: [...document.querySelectorAll("#rg-wb-pkd option")].map(o => o.textContent)})`)
	if err := json.Unmarshal([]byte(raw), &view); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	if !strings.Contains(view.Intro, "REGON") || !strings.Contains(view.Intro, "api.stat.gov.pl") {
		t.Errorf("the view's introduction: %q", view.Intro)
	}
	if view.Problem != "The registry refused the API key: enter the key GUS sent you." {
		t.Errorf("the last run's problem reads %q", view.Problem)
	}
	if !strings.HasPrefix(view.Unused, "Your segments use registry facts, but lookups are off") {
		t.Errorf("the warning of rules that read registry facts reads %q", view.Unused)
	}
	wantCounts := map[string]string{"Found in the registry": "4", "Not in the registry": "3", "Invalid NIP (not sent)": "2",
		"Waiting for a lookup": "1", "No answer from the registry yet": "0"}
	if fmt.Sprint(view.Counts) != fmt.Sprint(wantCounts) {
		t.Errorf("the counts read %v, want %v", view.Counts, wantCounts)
	}
	if !strings.Contains(view.Run, "Companies asked: 7 · found: 4 · not in the registry: 3") || !strings.Contains(view.Run, "Still to look up: 1") {
		t.Errorf("the last run reads %q", view.Run)
	}
	if view.Enabled || view.Type != "password" || view.Autocomplete != "off" || view.Placeholder != "The key GUS sent you" {
		t.Errorf("the form: lookups on %v, key input %s autocomplete=%s placeholder %q", view.Enabled, view.Type, view.Autocomplete, view.Placeholder)
	}
	if want := []string{"— don’t write —", "PKD code (UF_CRM_PKD)"}; !slices.Equal(view.Fields, want) {
		t.Errorf("the fields to write the main activity into: %q, want %q", view.Fields, want)
	}
	b.shot("registry", 1200)

	// Lookups on without a key: the server's refusal stands at the form.
	b.step("turns lookups on without a key",
		chromedp.Click(chromedp.ID("rg-enabled")),
		chromedp.Click(chromedp.ID("rg-save")),
		waitFor(`!!document.getElementById("rg-error")`),
	)
	if got := b.eval(`document.querySelector("#rg-form #rg-error").textContent`); !strings.HasPrefix(got, "Enter your GUS API key") {
		t.Errorf("the refusal reads %q", got)
	}
	if rs, _ := s.store.RegistrySettings(ctx, member); rs.Enabled {
		t.Fatal("lookups were turned on without a key")
	}

	const key = "Abc123def456GHI789jk"
	b.step("gives a key and a field, and saves",
		chromedp.SendKeys(chromedp.ID("rg-key"), key),
		setValue("#rg-wb-pkd", "UF_CRM_PKD"),
		chromedp.Click(chromedp.ID("rg-save")),
		waitFor(`!document.getElementById("rg-error") && document.getElementById("rg-key").placeholder.startsWith("A key is saved")`),
	)
	r := s.do("GET", "/api/v1/registry", admin, nil)
	if r.Body["enabled"] != true || r.Body["has_key"] != true || fmt.Sprint(r.Body["write_back"]) != "map[pkd:UF_CRM_PKD]" {
		t.Errorf("after saving, the API says %s", r.Raw)
	}
	if rs, _ := s.store.RegistrySettings(ctx, member); rs.Key != key {
		t.Errorf("the saved key is %q, want %q", rs.Key, key)
	}
	after := b.eval(`JSON.stringify([document.getElementById("rg-enabled").checked, document.getElementById("rg-key").value,
		document.getElementById("rg-wb-pkd").value, !!document.getElementById("rg-problem"), !!document.getElementById("rg-unused"),
		!!document.getElementById("rg-remove-key"), document.querySelector("#notice [data-kind]").textContent])`)
	// Saving a new key starts lookups afresh: the old key's problem is gone.
	if want := `[true,"","UF_CRM_PKD",false,false,true,"Registry settings saved."]`; after != want {
		t.Errorf("after saving, the view shows %s, want %s", after, want)
	}
	// Removing the key waits for the save, and can be taken back.
	b.step("removes the key, then keeps it",
		chromedp.Click(chromedp.ID("rg-remove-key")),
		waitFor(`!!document.getElementById("rg-key-removing") && document.getElementById("rg-key").placeholder === "The key GUS sent you"`),
		chromedp.Click(chromedp.ID("rg-keep-key")),
		waitFor(`!document.getElementById("rg-key-removing") && !!document.getElementById("rg-remove-key")`),
	)
	if u := b.eval(`JSON.stringify(Segmentor.untranslated)`); u != "[]" {
		t.Errorf("untranslated texts: %s", u)
	}
	b.shot("registry-saved", 800)

	// The rule editor: the registry facts in a group of their own, the
	// saved condition's status by name, the voivodeships to choose from.
	const cond = `[data-path="schemes[0].segments[0].when.all[0]"]`
	b.step("opens the company segments",
		clickUntil("#view-segments", "#panel-segments"),
		clickUntil("#tab-company", `.scheme[data-entity="company"] `+cond+` select.fact`),
	)
	picker := b.eval(`JSON.stringify((() => { const s = document.querySelector('` + cond + ` select.fact');
		const g = [...s.querySelectorAll("optgroup")].find(g => g.label === "Company registry");
		const v = document.querySelector('` + cond + ` select.value-input');
		return [s.value, g ? [...g.querySelectorAll("option")].map(o => o.textContent) : null,
			v ? [v.value, [...v.options].map(o => o.textContent)] : null]; })())`)
	if want := `["registry:status",["Industry (PKD section)","Main activity (PKD code)","Registered voivodeship","Legal form","Registry status","Years since registration"],` +
		`["active",["—","active","closed (struck off)","suspended"]]]`; picker != want {
		t.Errorf("the fact picker and the status's values: %s, want %s", picker, want)
	}
	b.step("chooses the voivodeship",
		setValue(cond+` select.fact`, "registry:region"),
		waitFor(`(document.querySelector('`+cond+` select.value-input') || {options: []}).options.length === 17`),
	)
	if got := b.eval(`[...document.querySelector('` + cond + ` select.value-input').options].slice(1, 4).map(o => o.textContent).join(", ")`); got != "Dolnośląskie, Kujawsko-Pomorskie, Lubelskie" {
		t.Errorf("the voivodeships offered begin %q", got)
	}
	b.noJSErrors("editor")

	// A sales rep sees the view, with nothing to change.
	rep := b.tab()
	rep.step("a rep opens the registry view",
		chromedp.EmulateViewport(1200, 900),
		chromedp.Navigate(f.open(t, s, s.rep.ID)),
		chromedp.WaitVisible(chromedp.CSS(`body[data-ready="readonly"]`)),
		clickUntil("#view-registry", "#panel-registry"),
		chromedp.WaitVisible(chromedp.ID("rg-form")),
	)
	ro := rep.eval(`JSON.stringify([!!document.getElementById("rg-key"), !!document.getElementById("rg-save"), !!document.getElementById("rg-remove-key"),
		[...document.querySelectorAll("#registry input, #registry select, #registry button")].filter(x => !x.disabled).map(x => x.id),
		document.getElementById("rg-key-state").textContent, document.getElementById("rg-enabled").checked,
		document.getElementById("rg-wb-pkd").value, document.querySelector('#rg-counts dd[data-state="found"]').textContent])`)
	if want := `[false,false,false,[],"GUS API key: saved",true,"UF_CRM_PKD","4"]`; ro != want {
		t.Errorf("the rep's view: %s, want %s", ro, want)
	}
	rep.shot("registry-readonly", 800)
	rep.noJSErrors("read-only view")

	// The card tab: an invalid NIP is marked for someone to correct; a
	// company the registry found shows what it says, in words.
	b.step("opens the card of a company with an invalid NIP",
		chromedp.Navigate(f.openTab(t, s, "CRM_COMPANY_DETAIL_TAB", 1, fmt.Sprintf(`{"ID":"%d"}`, ids[7]), "")),
		chromedp.WaitVisible(chromedp.CSS(`body[data-ready="record"] #registry`)),
	)
	note := b.eval(`JSON.stringify([document.querySelector("#registry .card__title").textContent, document.getElementById("registry-note").className,
		document.getElementById("registry-note").textContent, !!document.getElementById("registry-lines")])`)
	if want := `["Company registry (REGON)","callout callout--warn","The NIP in this company's requisite, ` + invalid + `, is not a valid NIP`; !strings.HasPrefix(note, want) || !strings.HasSuffix(note, `false]`) {
		t.Errorf("the invalid NIP's card: %s", note)
	}
	b.shot("card-registry-invalid", 800)
	b.step("opens the card of a company the registry found",
		chromedp.Navigate(f.openTab(t, s, "CRM_COMPANY_DETAIL_TAB", 1, fmt.Sprintf(`{"ID":"%d"}`, ids[0]), "")),
		chromedp.WaitVisible(chromedp.CSS(`body[data-ready="record"] #registry-lines`)),
	)
	var lines map[string]string
	raw = b.eval(`JSON.stringify(Object.fromEntries([...document.querySelectorAll("#registry-lines dt")].map(d => [d.textContent, d.nextElementSibling.textContent])))`)
	if err := json.Unmarshal([]byte(raw), &lines); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	for label, want := range map[string]string{"Official name": "Firma 0 sp. z o.o.", "Registry status": "active", "Registered voivodeship": "Mazowieckie",
		"Industry (PKD section)": "G · Wholesale and retail trade; repair of motor vehicles", "Main activity (PKD code)": "47.11.Z"} {
		if lines[label] != want {
			t.Errorf("the found company's %s reads %q, want %q (%v)", label, lines[label], want, lines)
		}
	}
	if cls := b.eval(`document.getElementById("registry-note").className`); cls != "muted" {
		t.Errorf("a found company's note is marked %q", cls)
	}
	b.shot("card-registry-found", 800)
	b.noJSErrors("end")
}

// clickUntil clicks what sel finds until done finds something: the page
// draws its tabs anew as its first answers arrive, and a click on the
// tabs it replaced is lost.
func clickUntil(sel, done string) chromedp.Action[chromedp.Void] {
	return waitFor(fmt.Sprintf(`(() => { if (document.querySelector(%q)) return true;
		const el = document.querySelector(%q); if (el) el.click(); return false; })()`, done, sel))
}
