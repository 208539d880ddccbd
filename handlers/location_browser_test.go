package handlers_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"segmentor/bitrix/b24sim"
)

// Companies by where they are; the recompute fills the mirror with their
// requisites' addresses.
const regionConfig = `{"schemes": [{"entity": "company", "segments": [
  {"key": "central", "name": "Central Poland", "when": {"all": [{"fact": "region", "op": "in", "value": ["Mazowieckie", "Małopolskie"]}]},
   "set": {"label": true}}],
  "otherwise": {"key": "rest", "name": "Rest", "set": {"label": true}}}]}`

// The editor offers a location condition the values the portal's
// companies have, each spelling of a voivodeship as one, with its country
// and how many companies are there, the most common first; the saved
// condition's values are the ones ticked.
func TestLocationValuesInBrowser(t *testing.T) {
	exe := chromium(t)
	s := newSettingsStack(t, "en")
	s.sim.Seed(b24sim.GenOptions{Contacts: 20, Companies: 400, Deals: 50, Requisites: true})
	admin := s.login(1)
	s.recomputed(admin, regionConfig, 0)
	f := newFrames(t)
	b := newBrowser(t, exe, 90*time.Second)

	const choices = `[data-path="schemes[0].segments[0].when.all[0]"] .value-choices`
	b.step("opens the company segments",
		chromedp.EmulateViewport(1200, 900),
		chromedp.Navigate(f.open(t, s, 1)),
		chromedp.WaitVisible(chromedp.CSS(`body[data-ready="admin"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.ov-scheme[data-entity="company"]`)),
		chromedp.Click(chromedp.ID("view-segments")),
		chromedp.Click(chromedp.ID("tab-company")),
		waitFor(`[...document.querySelectorAll('`+choices+` label')].some(l => l.textContent.startsWith("Mazowieckie (PL) · "))`),
	)
	var labels []struct {
		Text    string `json:"text"`
		Checked bool   `json:"checked"`
	}
	raw := b.eval(`JSON.stringify([...document.querySelectorAll('` + choices + ` label')].map(l =>
		({text: l.textContent, checked: l.querySelector("input").checked})))`)
	if err := json.Unmarshal([]byte(raw), &labels); err != nil {
		t.Fatalf("labels %s: %v", raw, err)
	}
	var checked []string
	seen := map[string]bool{}
	for _, l := range labels {
		name, _, _ := strings.Cut(l.Text, " · ")
		if seen[name] {
			t.Errorf("%q offered twice", name)
		}
		seen[name] = true
		if l.Checked {
			checked = append(checked, name)
		}
	}
	if len(checked) != 2 || checked[0] != "Mazowieckie (PL)" && checked[1] != "Mazowieckie (PL)" {
		t.Errorf("ticked %v, want Mazowieckie and Małopolskie", checked)
	}
	for _, v := range []string{"Śląskie (PL)", "Bayern (DE)", "Małopolskie (PL)"} {
		if !seen[v] {
			t.Errorf("%s is not offered: %v", v, labels)
		}
	}
	for name := range seen {
		if strings.HasPrefix(strings.ToLower(name), "woj.") || name == "MAZOWIECKIE (PL)" || name == "mazowieckie (PL)" {
			t.Errorf("a spelling offered as a value of its own: %q", name)
		}
	}
	// The location facts have a group of their own in the fact picker.
	const facts = `JSON.stringify((() => { const s = document.querySelector('[data-path="schemes[0].segments[0].when.all[0]"] select.fact');
		const g = [...s.querySelectorAll("optgroup")].find(g => g.label === "Where the client is");
		return [s.value, g ? [...g.querySelectorAll("option")].map(o => o.value) : null,
			[...s.querySelectorAll("option")].filter(o => o.value === "region").length]; })())`
	if got := b.eval(facts); got != `["region",["country","region","city","postal_prefix"],1]` {
		t.Errorf("the fact picker (chosen, the location group, regions offered): %s", got)
	}
	b.shot("location-values", 1200)
	b.noJSErrors("end")
}
