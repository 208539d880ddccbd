package handlers_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"segmentor/handlers"
)

// A card tab opened while the portal's request budget is spent, past the
// session's wait, tells the user the portal is busy and when to try again,
// rather than a generic sign-in failure.
func TestPageSaysWhenThePortalIsBusy(t *testing.T) {
	exe := chromium(t)
	s := newSettingsStack(t, "en")
	s.sessions.Check = handlers.TokenCheck{Client: s.client, MaxWait: time.Millisecond} // a turn must be free at once
	f := newFrames(t)
	url := f.openTab(t, s, "CRM_CONTACT_DETAIL_TAB", s.rep.ID, `{"ID":"1"}`, "")

	// Spend the budget the way a backfill does, and keep it spent: three
	// callers queue for every turn, so none is left for the sign-in even
	// when a loaded machine runs one of them late.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := s.client.Portal(s.sim.MemberID())
	spent := make(chan struct{})
	var once sync.Once
	for range 3 {
		go func() {
			for ctx.Err() == nil {
				resp, err := p.Call(ctx, "user.admin", nil, nil)
				if err == nil && resp.LimiterWait > 0 {
					once.Do(func() { close(spent) })
				}
			}
		}()
	}
	select {
	case <-spent:
	case <-time.After(30 * time.Second):
		t.Fatal("the budget was not spent within 30 s")
	}

	b := newBrowser(t, exe, 60*time.Second)
	b.step("rep opens a card tab on a busy portal",
		chromedp.EmulateViewport(800, 600),
		chromedp.Navigate(url),
		chromedp.WaitVisible(chromedp.CSS(`body[data-ready="error"] #notice [data-kind="err"]`)),
	)
	text := b.eval(`document.getElementById("notice").textContent`)
	if !strings.Contains(text, "busy") || !strings.Contains(text, "try again in") {
		t.Errorf("the busy tab says %q; want that the portal is busy and when to try again", text)
	}
}
