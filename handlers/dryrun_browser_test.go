package handlers_test

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"segmentor/bitrix/b24sim"
)

// The "Dry run" button keeps its label through edits: an edit made with no
// dry run on the page warns of nothing, and an edit after a dry run puts
// the warning that it is stale into the dry run's panel, not the button.
func TestDryRunButtonInBrowser(t *testing.T) {
	exe := chromium(t)
	s := newSettingsStack(t, "en")
	s.sim.Seed(b24sim.GenOptions{Contacts: 60, Companies: 10, Deals: 200})
	admin := s.login(1)
	s.recomputed(admin, buyerConfig, 0)
	f := newFrames(t)
	b := newBrowser(t, exe, 90*time.Second)

	const (
		value  = `[data-path="schemes[0].segments[0].when.all[0]"] input.value-input`
		button = `.footer [data-action="dryrun"]`
	)
	// The button's id, text and children, the warnings on the page, those
	// in the panel, and whether the panel is there.
	const state = `JSON.stringify((() => {
		const b = document.querySelector('` + button + `');
		return [b.id, b.textContent, b.children.length, document.querySelectorAll(".dry-stale").length,
			document.querySelectorAll("section#dryrun .dry-stale").length, !!document.querySelector("section#dryrun")];
	})())`

	b.step("opens the segments",
		chromedp.EmulateViewport(1200, 900),
		chromedp.Navigate(f.open(t, s, 1)),
		chromedp.WaitVisible(chromedp.CSS(`body[data-ready="admin"]`)),
		// The overview has its figures: their arrival renders the page
		// again, and would take the tab away from under the click.
		chromedp.WaitVisible(chromedp.CSS(`.ov-scheme[data-entity="contact"] tr[data-key="buyer"]`)),
		chromedp.Click(chromedp.ID("view-segments")),
		waitFor(countOf(`schemes[0].segments[0]`)+` !== ""`),
	)
	if got := b.eval(state); got != `["run-dryrun","Dry run",0,0,0,false]` {
		t.Fatalf("before any edit (id, label, children, warnings, in the panel, panel): %s", got)
	}

	b.step("edits a condition with no dry run made",
		typeInto(value, "2"),
		waitFor(countOf(`schemes[0].segments[0]`)+` !== ""`),
	)
	if got := b.eval(state); got != `["run-dryrun","Dry run",0,0,0,false]` {
		t.Errorf("after an edit with no dry run (id, label, children, warnings, in the panel, panel): %s, want the button as it was and no warning", got)
	}
	b.shot("dryrun-button-edited", 1200)

	b.step("runs a dry run",
		chromedp.Click(chromedp.CSS(button)),
		chromedp.WaitVisible(chromedp.CSS(`section#dryrun .dry-summary`)),
	)
	if got := b.eval(state); got != `["run-dryrun","Dry run",0,0,0,true]` {
		t.Errorf("after the dry run (id, label, children, warnings, in the panel, panel): %s", got)
	}

	b.step("edits the condition again",
		typeInto(value, "3"),
		waitFor(`!!document.querySelector(".dry-stale")`),
	)
	if got := b.eval(state); got != `["run-dryrun","Dry run",0,1,1,true]` {
		t.Errorf("after an edit since the dry run (id, label, children, warnings, in the panel, panel): %s, want one warning, in the panel", got)
	}
	if got := b.eval(`document.querySelector("section#dryrun .dry-stale").textContent`); got != "The segments changed since this dry run; run it again." {
		t.Errorf("the panel warns %q", got)
	}
	b.shot("dryrun-stale", 1200)
	b.noJSErrors("end")
}
