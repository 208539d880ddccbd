package bitrix_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"segmentor/bitrix"
	"segmentor/bitrix/b24sim"
	"segmentor/internal/redistest"
)

// One client, one OAuth server, many portals on one b24sim Host: the app's
// install path (ParseInstallRequest, InstallPortal at the configured OAuth
// server), its calls to each client_endpoint and its token refresh reach
// the right portal, and each portal's events carry its own member_id and
// application token.
func TestSimHostInstallsMany(t *testing.T) {
	h := b24sim.NewHost(b24sim.HostOptions{})
	t.Cleanup(h.Close)
	var ps []*b24sim.Portal
	for i := 0; i < 20; i++ {
		p := h.AddPortal(b24sim.Options{RatePerSecond: -1})
		p.Seed(b24sim.GenOptions{Deals: 10 + i, Products: 3, Users: 1})
		ps = append(ps, p)
	}
	store := bitrix.NewMemoryTokenStore()
	_, ropts := redistest.New(t)
	c, err := bitrix.NewClient(bitrix.Config{
		ClientID: h.ClientID(), ClientSecret: h.ClientSecret(), OAuthURL: h.OAuthURL(),
		Redis: newRedis(t, ropts), Tokens: store, AllowHTTP: true,
		Profile: func(context.Context, string) (bitrix.Profile, error) { return bitrix.UnlimitedProfile(), nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	events := map[string][]*bitrix.Event{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /b24/install", func(w http.ResponseWriter, r *http.Request) {
		f, err := bitrix.ParseInstallRequest(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if _, err := c.InstallPortal(r.Context(), f); err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
	})
	mux.HandleFunc("POST /b24/events", func(w http.ResponseWriter, r *http.Request) {
		ev, err := bitrix.ParseEventRequest(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		events[ev.Auth.MemberID] = append(events[ev.Auth.MemberID], ev)
		mu.Unlock()
	})
	app := httptest.NewServer(mux)
	t.Cleanup(app.Close)
	ctx := context.Background()

	installed := []*b24sim.Portal{ps[0], ps[7], ps[19]}
	for _, p := range installed {
		resp, err := p.Install(ctx, app.URL+"/b24/install", b24sim.InstallOptions{})
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: install answered %d", p.Name(), resp.StatusCode)
		}
		p.FinishInstall()
		stored, err := store.Load(ctx, p.MemberID())
		if err != nil || stored.ClientEndpoint != p.ClientEndpoint() {
			t.Fatalf("%s: stored %+v, %v", p.Name(), stored, err)
		}
		pc := c.Portal(p.MemberID())
		if _, err := pc.Call(ctx, "event.bind", map[string]string{"event": bitrix.EventDealUpdate, "handler": app.URL + "/b24/events"}, nil); err != nil {
			t.Fatalf("%s: bind: %v", p.Name(), err)
		}
		var deals []map[string]any
		resp2, err := pc.Call(ctx, "crm.deal.list", map[string]any{"select": []string{"ID"}}, &deals)
		if err != nil || resp2.Total != p.Count("deal") {
			t.Errorf("%s: crm.deal.list total %v, want %d: %v", p.Name(), resp2, p.Count("deal"), err)
		}
	}
	if len(events) != 0 || ps[1].Stats().OAuthRequests != 0 {
		t.Fatalf("events before edits %v; an uninstalled portal saw OAuth requests", events)
	}

	// Refresh through the shared OAuth server: each portal's own chain.
	for _, p := range installed[:2] {
		p.ExpireAccessTokens()
	}
	for _, p := range installed {
		if _, err := c.Portal(p.MemberID()).Call(ctx, "profile", nil, nil); err != nil {
			t.Errorf("%s: call after expiry: %v", p.Name(), err)
		}
	}
	for i, p := range installed {
		want := 2 // the install's exchange, then the refresh
		if i == 2 {
			want = 1
		}
		if p.Refreshes() != want {
			t.Errorf("%s: refreshes %d, want %d", p.Name(), p.Refreshes(), want)
		}
	}

	// Edits on each portal reach the app as that portal's events.
	for _, p := range installed {
		if err := p.UserUpdate("deal", 3, map[string]any{"TITLE": "edited on " + p.Name()}, 1, false); err != nil {
			t.Fatal(err)
		}
		if err := p.WaitEvents(ctx); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, p := range installed {
		evs := events[p.MemberID()]
		if len(evs) != 1 || evs[0].RecordID != 3 || evs[0].Auth.ClientEndpoint != p.ClientEndpoint() || !evs[0].Verify(p.ApplicationToken()) {
			t.Errorf("%s: events %+v", p.Name(), evs)
		}
		for _, q := range installed {
			if q != p && len(evs) > 0 && evs[0].Verify(q.ApplicationToken()) {
				t.Errorf("%s's event verifies with %s's application token", p.Name(), q.Name())
			}
		}
	}
}
