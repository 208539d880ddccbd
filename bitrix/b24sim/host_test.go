package b24sim

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// hostApp is a minimal app installed on a Host's portals the way Segmentor
// installs itself: the installer POST's REFRESH_ID is exchanged at the
// shared OAuth server (never at a host named in the request), the answer's
// member_id must be the posted one, and the app binds ONCRMDEALUPDATE at the
// client_endpoint the OAuth server reported. Events it receives are kept.
type hostApp struct {
	t    *testing.T
	h    *Host
	srv  *httptest.Server
	mu   sync.Mutex
	tk   map[string]map[string]any // member_id → the OAuth server's answer
	evts []url.Values
}

func newHostApp(t *testing.T, h *Host) *hostApp {
	a := &hostApp{t: t, h: h, tk: map[string]map[string]any{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /b24/install", a.install)
	mux.HandleFunc("POST /b24/events", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		a.mu.Lock()
		a.evts = append(a.evts, r.PostForm)
		a.mu.Unlock()
	})
	a.srv = httptest.NewServer(mux)
	t.Cleanup(a.srv.Close)
	return a
}

func (a *hostApp) install(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	q := url.Values{"grant_type": {"refresh_token"}, "client_id": {a.h.ClientID()},
		"client_secret": {a.h.ClientSecret()}, "refresh_token": {r.PostForm.Get("REFRESH_ID")}}
	tk, err := getJSON(a.h.OAuthURL() + "/oauth/token/?" + q.Encode())
	if err != nil || tk["member_id"] != r.PostForm.Get("member_id") {
		http.Error(w, fmt.Sprintf("install not confirmed: %v %v", err, tk), 403)
		return
	}
	bind := url.Values{"auth": {tk["access_token"].(string)}, "event": {"ONCRMDEALUPDATE"}, "handler": {a.srv.URL + "/b24/events"}}
	resp, err := http.PostForm(tk["client_endpoint"].(string)+"event.bind", bind)
	if err != nil || resp.StatusCode != 200 {
		http.Error(w, fmt.Sprintf("event.bind: %v", err), 500)
		return
	}
	resp.Body.Close()
	a.mu.Lock()
	a.tk[tk["member_id"].(string)] = tk
	a.mu.Unlock()
	_, _ = io.WriteString(w, "<html>installed</html>")
}

func (a *hostApp) token(memberID string) map[string]any {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.tk[memberID]
}

func (a *hostApp) events() []url.Values {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]url.Values(nil), a.evts...)
}

func getJSON(target string) (map[string]any, error) {
	resp, err := http.Get(target)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		return nil, err
	}
	if resp.StatusCode != 200 {
		return m, fmt.Errorf("status %d", resp.StatusCode)
	}
	return m, nil
}

// One Host, fifty portals, the app installed on five: each portal keeps its
// own tokens, bucket, data and events, and one OAuth server serves them all.
func TestHostManyPortals(t *testing.T) {
	clk := newFakeClock()
	h := NewHost(HostOptions{})
	defer h.Close()
	var ps []*Portal
	for i := 0; i < 50; i++ {
		p := h.AddPortal(Options{Clock: clk.Now})
		p.Seed(GenOptions{Deals: 3 + i, Products: 2, Users: 1, Pipelines: -1})
		ps = append(ps, p)
	}
	if got := h.Portals(); len(got) != 50 || got[0] != ps[0] || h.Portal("p0007") != ps[6] || h.Portal("P0007.Bitrix24.test") != ps[6] ||
		h.PortalByMember(ps[9].MemberID()) != ps[9] {
		t.Fatalf("lookups: %d portals", len(got))
	}
	if ps[0].ClientEndpoint() != h.URL()+"/p0001/rest/" || ps[0].OAuthURL() != h.URL() || ps[0].Domain() != "p0001.bitrix24.test" || ps[0].Name() != "p0001" {
		t.Errorf("p0001: endpoint %s, oauth %s, domain %s", ps[0].ClientEndpoint(), ps[0].OAuthURL(), ps[0].Domain())
	}

	// Install on five portals through the installer POST; installFinish.
	app := newHostApp(t, h)
	ctx := context.Background()
	installed := ps[:5]
	for _, p := range installed {
		resp, err := p.Install(ctx, app.srv.URL+"/b24/install", InstallOptions{})
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: install = %d %s", p.Name(), resp.StatusCode, body)
		}
		p.FinishInstall()
	}
	for _, p := range installed {
		tk := app.token(p.MemberID())
		// The shared server answers for the portal the token belongs to
		// (settings/oauth/auto-renewal.md: domain is the OAuth server,
		// client_endpoint the portal, server_endpoint the OAuth server's REST).
		if tk == nil || tk["client_endpoint"] != p.ClientEndpoint() || tk["server_endpoint"] != h.URL()+"/rest/" || tk["domain"] != "oauth.bitrix.info" {
			t.Errorf("%s: token answer %v", p.Name(), tk)
		}
		if p.Stats().Refreshes != 1 || !p.Installed() {
			t.Errorf("%s: refreshes %d, installed %v", p.Name(), p.Stats().Refreshes, p.Installed())
		}
	}
	if ps[5].Stats().OAuthRequests != 0 || ps[5].Installed() {
		t.Error("p0006 was touched by others' installs")
	}

	a, b := installed[0], installed[1]
	tokA := app.token(a.MemberID())["access_token"].(string)
	tokB := app.token(b.MemberID())["access_token"].(string)

	// A's access token means nothing on B: 401 invalid_token, as any token
	// B did not issue (bitrix24-protocol.md §2.4, error-codes.md).
	if r := callForm(t, b, "profile", tokA, nil); r.Status != 401 || r.errCode() != "invalid_token" {
		t.Errorf("A's token on B = %d %s", r.Status, r.Raw)
	}
	if r := callForm(t, a, "profile", tokA, nil); r.Status != 200 {
		t.Errorf("A's token on A = %d %s", r.Status, r.Raw)
	}

	// Data: the same deal ID differs per portal; counts follow each seed.
	if a.Count("deal") != 3 || b.Count("deal") != 4 || ps[49].Count("deal") != 52 {
		t.Errorf("deal counts %d %d %d", a.Count("deal"), b.Count("deal"), ps[49].Count("deal"))
	}
	if err := a.UserUpdate("deal", 1, map[string]any{"TITLE": "Only on A"}, 1, false); err != nil {
		t.Fatal(err)
	}
	ra := callForm(t, a, "crm.deal.get", tokA, url.Values{"id": {"1"}})
	rb := callForm(t, b, "crm.deal.get", tokB, url.Values{"id": {"1"}})
	if ra.Body["result"].(map[string]any)["TITLE"] != "Only on A" || rb.Body["result"].(map[string]any)["TITLE"] == "Only on A" {
		t.Errorf("deal 1: A %s, B %s", ra.Raw, rb.Raw)
	}

	// Events: A's edit reaches A's handler, with A's auth[...] only.
	if err := a.WaitEvents(ctx); err != nil {
		t.Fatal(err)
	}
	ev := app.events()
	if len(ev) != 1 || ev[0].Get("auth[member_id]") != a.MemberID() || ev[0].Get("auth[client_endpoint]") != a.ClientEndpoint() ||
		ev[0].Get("auth[domain]") != "p0001.bitrix24.test" || ev[0].Get("auth[application_token]") != a.ApplicationToken() {
		t.Errorf("events after A's edit = %v", ev)
	}
	if err := b.UserUpdate("deal", 2, map[string]any{"TITLE": "On B"}, 1, false); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitEvents(ctx); err != nil {
		t.Fatal(err)
	}
	if ev := app.events(); len(ev) != 2 || ev[1].Get("auth[member_id]") != b.MemberID() || ev[1].Get("data[FIELDS][ID]") != "2" {
		t.Errorf("events after B's edit = %v", ev)
	}
	if st := ps[2].EventStats(); st.Queued != 0 {
		t.Errorf("p0003 queued %d events", st.Queued)
	}

	// Buckets: A's is exhausted (settings/performance/limits.md: the leaky
	// bucket is per portal, 50 requests at 2/s); B still answers.
	n := 0
	for ; n < 60; n++ {
		if r := callForm(t, a, "server.time", tokA, nil); r.Status == 503 {
			if r.errCode() != "QUERY_LIMIT_EXCEEDED" {
				t.Errorf("A over its limit = %s", r.Raw)
			}
			break
		}
	}
	if n >= 60 {
		t.Fatal("A's bucket never filled")
	}
	if r := callForm(t, b, "server.time", tokB, nil); r.Status != 200 {
		t.Errorf("B while A is limited = %d %s", r.Status, r.Raw)
	}
	if a.Stats().QueryLimitRefusals != 1 || b.Stats().QueryLimitRefusals != 0 {
		t.Errorf("refusals A %d, B %d", a.Stats().QueryLimitRefusals, b.Stats().QueryLimitRefusals)
	}
}

// The shared OAuth server routes a refresh token or code to its portal by
// the token itself and refuses what no portal issued as a single portal
// would (settings/oauth/auto-renewal.md: GET with the query; protocol §2.3
// errors: invalid_grant for a bad, used or unknown refresh token or code,
// invalid_client for wrong credentials, invalid_request otherwise).
func TestHostSharedOAuth(t *testing.T) {
	clk := newFakeClock()
	h := NewHost(HostOptions{})
	defer h.Close()
	a := h.AddPortal(Options{Clock: clk.Now})
	b := h.AddPortal(Options{Clock: clk.Now})
	ta, tb := a.IssueTokens(1), b.IssueTokens(1)
	if ta.AccessToken[:hostTagLen] == tb.AccessToken[:hostTagLen] || len(ta.RefreshToken) != 32 {
		t.Fatalf("tokens %s %s", ta.AccessToken, tb.AccessToken)
	}
	get := func(q url.Values) reply {
		req, _ := http.NewRequest("GET", h.OAuthURL()+"/oauth/token/?"+q.Encode(), nil)
		return doReq(t, req)
	}
	form := func(rt string) url.Values {
		return url.Values{"grant_type": {"refresh_token"}, "client_id": {h.ClientID()}, "client_secret": {h.ClientSecret()}, "refresh_token": {rt}}
	}

	a.ExpireAccessTokens()
	if r := callForm(t, a, "profile", ta.AccessToken, nil); r.errCode() != "expired_token" {
		t.Fatalf("expired A = %s", r.Raw)
	}
	r := get(form(ta.RefreshToken))
	if r.Status != 200 || r.Body["member_id"] != a.MemberID() || r.Body["client_endpoint"] != a.ClientEndpoint() {
		t.Fatalf("refresh A = %d %s", r.Status, r.Raw)
	}
	if rr := callForm(t, a, "profile", r.Body["access_token"].(string), nil); rr.Status != 200 {
		t.Errorf("refreshed A = %d %s", rr.Status, rr.Raw)
	}
	if rr := callForm(t, b, "profile", r.Body["access_token"].(string), nil); rr.errCode() != "invalid_token" {
		t.Errorf("A's refreshed token on B = %s", rr.Raw)
	}
	if r := get(form(ta.RefreshToken)); r.Status != 400 || r.errCode() != "invalid_grant" {
		t.Errorf("A's used refresh token = %d %s", r.Status, r.Raw)
	}
	if a.Refreshes() != 1 || b.Refreshes() != 0 {
		t.Errorf("refreshes A %d, B %d", a.Refreshes(), b.Refreshes())
	}
	if r := get(form(tb.RefreshToken)); r.Status != 200 || r.Body["member_id"] != b.MemberID() {
		t.Errorf("refresh B = %d %s", r.Status, r.Raw)
	}

	// An authorization code (settings/oauth/index.md) goes to its portal too.
	code := b.AuthCode(1)
	r = get(url.Values{"grant_type": {"authorization_code"}, "client_id": {h.ClientID()}, "client_secret": {h.ClientSecret()}, "code": {code}})
	if r.Status != 200 || r.Body["member_id"] != b.MemberID() {
		t.Errorf("code of B = %d %s", r.Status, r.Raw)
	}

	// What no portal issued, in the order a single portal checks.
	for _, tc := range []struct {
		q      url.Values
		status int
		code   string
	}{
		{form("ffffff" + strings.Repeat("x", 26)), 400, "invalid_grant"},
		{form("short"), 400, "invalid_grant"},
		{form(""), 400, "invalid_request"},
		{url.Values{"grant_type": {"authorization_code"}, "client_id": {h.ClientID()}, "client_secret": {h.ClientSecret()}, "code": {"nope"}}, 400, "invalid_grant"},
		{url.Values{"grant_type": {"password"}, "client_id": {h.ClientID()}, "client_secret": {h.ClientSecret()}}, 400, "invalid_request"},
		{url.Values{"grant_type": {"refresh_token"}, "client_id": {h.ClientID()}, "client_secret": {"wrong"}, "refresh_token": {"zzz"}}, 401, "invalid_client"},
		// a live token of A with the wrong secret: A refuses the client
		{url.Values{"grant_type": {"refresh_token"}, "client_id": {h.ClientID()}, "client_secret": {"wrong"}, "refresh_token": {tb.RefreshToken}}, 401, "invalid_client"},
	} {
		if r := get(tc.q); r.Status != tc.status || r.errCode() != tc.code {
			t.Errorf("%v = %d %s, want %d %s", tc.q, r.Status, r.Raw, tc.status, tc.code)
		}
	}
	// The docs give a GET; a POST is refused (as Portal.serveOAuth does).
	req, _ := http.NewRequest("POST", h.OAuthURL()+"/oauth/token/", strings.NewReader(form(tb.RefreshToken).Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if r := doReq(t, req); r.Status != 400 || r.errCode() != "invalid_request" {
		t.Errorf("POST = %d %s", r.Status, r.Raw)
	}
	if h.OAuthRequests() != 7 {
		t.Errorf("unrouted OAuth requests = %d", h.OAuthRequests())
	}

	// A closed portal is gone: its path 404s and its tokens are unknown.
	tk := a.IssueTokens(1)
	a.Close()
	if r := callForm(t, a, "profile", tk.AccessToken, nil); r.Status != 404 {
		t.Errorf("closed portal = %d %s", r.Status, r.Raw)
	}
	if r := get(form(tk.RefreshToken)); r.errCode() != "invalid_grant" {
		t.Errorf("closed portal's refresh = %s", r.Raw)
	}
	if len(h.Portals()) != 1 || h.Portal("p0001") != nil {
		t.Errorf("portals after close: %d", len(h.Portals()))
	}
}

// A client that resolves every portal domain to the Host (as a wildcard DNS
// record would) reaches a portal by the Host header at /rest/.
func TestHostRoutesByHostHeader(t *testing.T) {
	h := NewHost(HostOptions{})
	defer h.Close()
	h.AddPortal(Options{RatePerSecond: -1})
	b := h.AddPortal(Options{RatePerSecond: -1})
	tk := b.IssueTokens(1)
	_, port, _ := strings.Cut(strings.TrimPrefix(h.URL(), "http://"), ":")
	req, _ := http.NewRequest("POST", h.URL()+"/rest/profile", strings.NewReader(url.Values{"auth": {tk.AccessToken}}.Encode()))
	req.Host = "p0002.bitrix24.test:" + port
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if r := doReq(t, req); r.Status != 200 {
		t.Errorf("by Host header = %d %s", r.Status, r.Raw)
	}
	if st := b.Stats(); st.HTTPRequests != 1 {
		t.Errorf("p0002 requests = %d", st.HTTPRequests)
	}
	// No portal serves /oauth/token/: the secret goes only to the
	// authorization server (bitrix24-protocol.md §2, settings/oauth/index.md).
	for _, path := range []string{"/p0009/rest/profile", "/p0002/oauth/token/", "/rest/profile", "/p0002"} {
		req, _ := http.NewRequest("POST", h.URL()+path, nil)
		if r := doReq(t, req); r.Status != 404 {
			t.Errorf("%s = %d %s", path, r.Status, r.Raw)
		}
	}
}

// BenchmarkHost1000 puts 1,000 small portals (a few hundred records each)
// on one Host and prints the heap per portal and the goroutines they cost,
// idle and after every portal has answered a REST call and sent an event.
//
//	go test -run XXX -bench Host -benchtime 1x ./bitrix/b24sim/
func BenchmarkHost1000(b *testing.B) {
	const n = 1000
	gen := GenOptions{Contacts: 60, Companies: 20, Deals: 150, Products: 20, Users: 2, Pipelines: 1}
	for b.Loop() {
		var before, empty, seeded, used runtime.MemStats
		g0 := runtime.NumGoroutine()
		runtime.GC()
		runtime.ReadMemStats(&before)
		h := NewHost(HostOptions{LogLimit: 100})
		ps := make([]*Portal, n)
		for i := range ps {
			ps[i] = h.AddPortal(Options{})
		}
		runtime.GC()
		runtime.ReadMemStats(&empty)
		records := 0
		for _, p := range ps {
			st := p.Seed(gen)
			records += st.Contacts + st.Companies + st.Deals
		}
		runtime.GC()
		runtime.ReadMemStats(&seeded)
		gIdle := runtime.NumGoroutine() - g0

		// Every portal answers over HTTP and POSTs one event to the app.
		sink := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		for _, p := range ps {
			tk := p.IssueTokens(1)
			resp, err := http.PostForm(p.ClientEndpoint()+"event.bind", url.Values{"auth": {tk.AccessToken}, "event": {"ONCRMDEALUPDATE"}, "handler": {sink.URL}})
			if err != nil || resp.StatusCode != 200 {
				b.Fatalf("%s: event.bind: %v", p.Name(), err)
			}
			resp.Body.Close()
			p.FinishInstall()
			if err := p.UserUpdate("deal", 1, map[string]any{"TITLE": "edited"}, 1, false); err != nil {
				b.Fatal(err)
			}
		}
		for _, p := range ps {
			if err := p.WaitEvents(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
		time.Sleep(50 * time.Millisecond) // let finished delivery goroutines exit
		runtime.GC()
		runtime.ReadMemStats(&used)
		gUsed := runtime.NumGoroutine() - g0
		mb := func(m runtime.MemStats) float64 {
			return float64(int64(m.HeapAlloc)-int64(before.HeapAlloc)) / n / (1 << 20)
		}
		fmt.Printf("host: %d portals, %d CRM records each (+%d products): empty %.3f MB/portal, seeded %.3f MB/portal, after use %.3f MB/portal; goroutines idle %d, after use %d\n",
			n, records/n, gen.Products, mb(empty), mb(seeded), mb(used), gIdle, gUsed)
		b.ReportMetric(mb(seeded), "MB/portal")
		b.ReportMetric(float64(gIdle), "goroutines")
		sink.Close()
		h.Close()
	}
}
