package handlers_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"segmentor/app/segment"
	"segmentor/bitrix/b24sim"
)

// actsPageConfig has a contact segment and a deal segment, neither saying
// what entering it sets off: the defaults.
const actsPageConfig = `{"schemes": [
 {"entity": "contact", "segments": [{"key": "vip", "name": "VIP", "when": {"fact": "won_count", "op": ">=", "value": 1}, "set": {"label": true}}]},
 {"entity": "deal", "segments": [{"key": "premium", "name": "Premium", "when": {"fact": "client_segment", "op": "in", "value": ["vip"]}, "set": {"label": true}}]}]}`

// The editor shows what entering a segment sets off: a deal segment's
// trigger on by default, a contact's off; notifications and the timeline
// per segment and scheme; a portal that refused the im scope is told that
// notifications are not sent. What the admin ticks is saved.
func TestSegmentActionsInEditor(t *testing.T) {
	exe := chromium(t)
	s := newSettingsStack(t, "en")
	s.sim.Seed(b24sim.GenOptions{Contacts: 40, Companies: 8, Deals: 100})
	admin := s.login(1)
	s.recomputed(admin, actsPageConfig, 0)
	for _, scope := range []string{"im", "bizproc"} {
		if err := s.store.NoteMissingScope(context.Background(), s.sim.MemberID(), scope); err != nil {
			t.Fatal(err)
		}
	}
	f := newFrames(t)
	b := newBrowser(t, exe, 90*time.Second)
	const contact, deal = `[data-path="schemes[0].segments[0]"]`, `[data-path="schemes[1].segments[0]"]`
	checks := func(seg string) string {
		return b.eval(`JSON.stringify([document.querySelector('` + seg + ` .on-trigger').checked, document.querySelector('` + seg + ` .on-notify').checked,
			document.querySelector('` + seg + ` .on-trigger').parentElement.textContent])`)
	}

	b.step("opens the contact segments",
		chromedp.EmulateViewport(1200, 900),
		chromedp.Navigate(f.open(t, s, 1)),
		chromedp.WaitVisible(chromedp.CSS(`body[data-ready="admin"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.ov-scheme[data-entity="contact"]`)),
		chromedp.Click(chromedp.ID("view-segments")),
		chromedp.WaitVisible(chromedp.CSS(contact+` .on-notify`)),
	)
	if got := checks(contact); got != `[false,false,"Fire the trigger “Segmentor: entered VIP” for the client's deals"]` {
		t.Errorf("a contact segment's actions: %s", got)
	}
	if got := b.eval(`JSON.stringify([document.getElementById("timeline-contact").checked, document.getElementById("backfill-acts-contact").checked, !!document.getElementById("scope-im")])`); got != `[true,false,false]` {
		t.Errorf("the scheme's timeline, recompute and scope warning: %s", got)
	}
	b.step("asks for a notification",
		chromedp.Click(chromedp.CSS(contact+` .on-notify`)),
		chromedp.WaitVisible(chromedp.ID("scope-im")),
	)
	if got := b.eval(`document.getElementById("scope-im").textContent`); !strings.Contains(got, "installed without the permission to send them") {
		t.Errorf("the missing scope reads %q", got)
	}
	b.step("opens the deal segments",
		chromedp.Click(chromedp.ID("tab-deal")),
		chromedp.WaitVisible(chromedp.CSS(deal+` .on-trigger`)),
	)
	if got := checks(deal); got != `[true,false,"Fire the automation trigger “Segmentor: entered Premium”"]` {
		t.Errorf("a deal segment's actions: %s", got)
	}
	if got := b.eval(`(document.getElementById("scope-bizproc") || {}).textContent || ""`); !strings.Contains(got, "installed without the permission for robots") {
		t.Errorf("the missing bizproc scope reads %q", got)
	}
	b.step("turns the deal's trigger off, asks for actions on recompute and saves",
		chromedp.Click(chromedp.CSS(deal+` .on-trigger`)),
		chromedp.Click(chromedp.ID("backfill-acts-deal")),
		chromedp.Click(chromedp.ID("save")),
		chromedp.WaitVisible(chromedp.ID("confirm-save")),
		chromedp.Click(chromedp.ID("confirm-save")),
		waitFor(`document.querySelector('#notice [data-kind="ok"]')`),
	)
	sc, err := s.store.Config(context.Background(), s.sim.MemberID())
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := segment.ParseSavedConfig(sc.Config)
	if err != nil {
		t.Fatal(err)
	}
	c, d := cfg.Schemes[0], cfg.Schemes[1]
	if !c.Segments[0].OnEntry.Notify || c.Segments[0].OnEntry.Trigger != nil || c.BackfillActions ||
		d.Segments[0].OnEntry.Trigger == nil || *d.Segments[0].OnEntry.Trigger || !d.BackfillActions || d.Timeline != nil {
		t.Errorf("saved %s", sc.Config)
	}
	b.shot("editor-actions", 1200)
	b.noJSErrors("end")
}
