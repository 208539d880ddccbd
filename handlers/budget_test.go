package handlers_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"segmentor/handlers"
	"segmentor/internal/testkit"
)

// The session's profile and app.info calls take their turn in the portal's
// request budget the worker spends, rather than adding to the portal's
// bucket behind the limiter's back; a page open waits a short bounded time
// for its turn, and past the bound answers a retryable 503.
func TestSessionWaitsForPortalBudget(t *testing.T) {
	s := newSettingsStack(t, "en")
	ctx := context.Background()
	m := s.sim.MemberID()
	p := s.client.Portal(m)

	// Worker-style calls until the shared budget is spent: the last one
	// had to wait for its turn.
	drain := func() {
		t.Helper()
		for i := 0; ; i++ {
			if i > 60 {
				t.Fatal("the budget (a burst of 48) was not spent after 60 calls")
			}
			resp, err := p.Call(ctx, "user.admin", nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if resp.LimiterWait > 0 {
				return
			}
		}
	}
	drain()
	before := s.sim.Stats()
	start := time.Now()
	tok := s.sim.IssueTokens(1)
	r := s.do("POST", "/api/v1/session", "", map[string]string{"member_id": m, "auth_id": tok.AccessToken})
	took := time.Since(start)
	if r.Status != 200 {
		t.Fatalf("session on a spent budget: %d %s", r.Status, r.Raw)
	}
	// One request (profile and app.info in a batch), waiting for the next
	// of the 2/s units.
	if took < 400*time.Millisecond {
		t.Errorf("session took %v on a spent budget: its calls did not wait their turn", took)
	}
	after := s.sim.Stats()
	if n := after.HTTPRequests - before.HTTPRequests; n != 1 {
		t.Errorf("the sign-in sent %d requests, want 1", n)
	}
	if n := after.Methods["profile"] - before.Methods["profile"]; n != 1 {
		t.Errorf("profile called %d times, want 1", n)
	}
	if n := after.Methods["app.info"] - before.Methods["app.info"]; n != 1 {
		t.Errorf("app.info called %d times, want 1", n)
	}
	if n := after.QueryLimitRefusals; n != 0 {
		t.Errorf("portal refused %d requests with QUERY_LIMIT_EXCEEDED", n)
	}

	// A page that may wait less than the next unit is told to come back.
	short := &handlers.Sessions{Store: s.store, Key: sessionKey,
		Check: handlers.TokenCheck{Client: s.client, MaxWait: 100 * time.Millisecond}}
	web := httptest.NewServer(handlers.Router(handlers.Deps{Manifest: s.manifest, Sessions: short, API: &handlers.API{Store: s.store}}))
	defer web.Close()
	drain()
	before = s.sim.Stats()
	start = time.Now()
	r = testkit.Request(t, web.URL, "POST", "/api/v1/session", "", map[string]string{"member_id": m, "auth_id": s.sim.IssueTokens(1).AccessToken})
	took = time.Since(start)
	msg, _ := r.Body["message"].(string)
	if r.Status != 503 || r.Body["error"] != "unavailable" || r.Header.Get("Retry-After") != "1" ||
		!strings.Contains(msg, "busy") || !strings.Contains(msg, "try again in 1 s") {
		t.Fatalf("session past the bound: %d %v %s", r.Status, r.Header, r.Raw)
	}
	if took > time.Second {
		t.Errorf("a refused session took %v, want it answered at once", took)
	}
	if n := s.sim.Stats().Methods["profile"] - before.Methods["profile"]; n != 0 {
		t.Errorf("the refused session still called profile %d times", n)
	}
}
