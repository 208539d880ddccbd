package b24sim

import (
	"context"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func waitEvents(t *testing.T, p *Portal) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.WaitEvents(ctx); err != nil {
		t.Fatal(err)
	}
}

func bindEvent(t *testing.T, p *Portal, tok, event, handler string) {
	t.Helper()
	if r := callForm(t, p, "event.bind", tok, url.Values{"event": {event}, "handler": {handler}}); r.Status != 200 || r.Body["result"] != true {
		t.Fatalf("event.bind %s = %d %s", event, r.Status, r.Raw)
	}
}

func TestEventBindGetUnbind(t *testing.T) {
	p := New(Options{RatePerSecond: -1})
	defer p.Close()
	tok := p.IssueTokens(1).AccessToken
	bindEvent(t, p, tok, "onCrmDealUpdate", "https://app.example/b24/events")
	r := callForm(t, p, "event.bind", tok, url.Values{"event": {"ONCRMDEALUPDATE"}, "handler": {"https://app.example/b24/events"}})
	if r.Status != 400 || r.errCode() != "ERROR_HANDLER_ALREADY_EXIST" || r.Body["error_description"] != "Handler already exists!" {
		t.Errorf("duplicate bind = %d %s", r.Status, r.Raw)
	}
	if r := callForm(t, p, "event.bind", tok, url.Values{"event": {"ONNOSUCHTHING"}, "handler": {"https://x/"}}); r.Status != 400 || r.errCode() != "ERROR_EVENT_NOT_FOUND" {
		t.Errorf("unknown event = %d %s", r.Status, r.Raw)
	}
	r = callForm(t, p, "event.get", tok, nil)
	if !strings.Contains(string(r.Raw), `"result":[{"auth_type":"0","event":"ONCRMDEALUPDATE","handler":"https://app.example/b24/events","offline":0}]`) {
		t.Errorf("event.get = %s", r.Raw)
	}
	// a non-admin sees only their own handlers and cannot bind offline events
	u := p.AddUser(User{Name: "Bob"})
	utok := p.IssueTokens(u.ID).AccessToken
	if r := callForm(t, p, "event.get", utok, nil); r.Status != 200 || len(r.Body["result"].([]any)) != 0 {
		t.Errorf("non-admin event.get = %s", r.Raw)
	}
	if r := callForm(t, p, "event.bind", utok, url.Values{"event": {"ONCRMDEALADD"}, "event_type": {"offline"}}); r.Status != 403 {
		t.Errorf("non-admin offline bind = %d", r.Status)
	}
	r = callForm(t, p, "event.unbind", tok, url.Values{"event": {"oncrmdealupdate"}, "handler": {"https://app.example/b24/events"}})
	if r.Body["result"].(map[string]any)["count"] != float64(1) {
		t.Errorf("event.unbind = %s", r.Raw)
	}
	if r := callForm(t, p, "event.get", tok, nil); string(r.Raw[:12]) != `{"result":[]` {
		t.Errorf("event.get after unbind = %s", r.Raw)
	}
}

func TestEventEncodingAndHoldBack(t *testing.T) {
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	p := New(Options{RatePerSecond: -1})
	defer p.Close()
	tok := p.IssueTokens(1).AccessToken
	bindEvent(t, p, tok, "ONCRMDEALUPDATE", srv.URL+"/events")
	bindEvent(t, p, tok, "ONCRMDEALMOVETOCATEGORY", srv.URL+"/events")
	if _, err := p.Install(context.Background(), srv.URL+"/install", InstallOptions{}); err != nil {
		t.Fatal(err)
	}
	rc.mu.Lock()
	rc.forms, rc.raws, rc.ctypes = nil, nil, nil
	rc.mu.Unlock()

	// before installFinish: held back, not delivered
	p.mu.Lock()
	p.emit(Event{Name: "ONCRMDEALUPDATE", Fields: map[string]string{"ID": "759"}, UserID: 1})
	p.mu.Unlock()
	waitEvents(t, p)
	if n := len(rc.got()); n != 0 || p.EventStats().HeldBack != 1 {
		t.Fatalf("delivered %d events before installFinish; stats %+v", n, p.EventStats())
	}

	p.FinishInstall()
	p.mu.Lock()
	p.emit(Event{Name: "ONCRMDEALUPDATE", Fields: map[string]string{"ID": "759"}, UserID: 1})
	p.emit(Event{Name: "ONCRMDEALMOVETOCATEGORY", Fields: map[string]string{"STAGE_ID": "C1:NEW", "ID": "6675", "CATEGORY_ID": "1"}, UserID: 1, Automation: true})
	p.emit(Event{Name: "ONCRMCONTACTADD", Fields: map[string]string{"ID": "1"}}) // nobody bound
	p.mu.Unlock()
	waitEvents(t, p)
	got := rc.got()
	if len(got) != 2 {
		t.Fatalf("got %d events", len(got))
	}
	f := got[0]
	wantKeys := []string{"event", "event_handler_id", "data[FIELDS][ID]", "ts", "auth[access_token]", "auth[expires]", "auth[expires_in]",
		"auth[scope]", "auth[domain]", "auth[server_endpoint]", "auth[status]", "auth[client_endpoint]", "auth[member_id]",
		"auth[user_id]", "auth[application_token]"}
	if len(f) != len(wantKeys) {
		t.Errorf("keys = %v", f)
	}
	for _, k := range wantKeys {
		if f.Get(k) == "" {
			t.Errorf("missing %s in %v", k, f)
		}
	}
	// the raw body is in the order and encoding of protocol §7.2
	rc.mu.Lock()
	raw, ctype := rc.raws[0], rc.ctypes[0]
	rc.mu.Unlock()
	if ctype != "application/x-www-form-urlencoded" || !strings.HasPrefix(raw, "event=ONCRMDEALUPDATE&event_handler_id=1&data%5BFIELDS%5D%5BID%5D=759&ts=") ||
		!strings.Contains(raw, "&auth%5Bscope%5D="+url.QueryEscape(AppScope)+"&") {
		t.Errorf("raw body = %s (%s)", raw, ctype)
	}
	if f.Get("auth[application_token]") != p.ApplicationToken() || f.Get("auth[member_id]") != p.MemberID() ||
		f.Get("auth[client_endpoint]") != p.ClientEndpoint() || f.Get("auth[user_id]") != "1" || f.Get("auth[expires_in]") != "3600" {
		t.Errorf("auth = %v", f)
	}
	// the access token is a live token of the acting user
	if r := callForm(t, p, "profile", f.Get("auth[access_token]"), nil); r.Status != 200 || r.Body["result"].(map[string]any)["ID"] != "1" {
		t.Errorf("event token: %d %s", r.Status, r.Raw)
	}
	m := got[1]
	if m.Get("event") != "ONCRMDEALMOVETOCATEGORY" || m.Get("data[FIELDS][ID]") != "6675" || m.Get("data[FIELDS][CATEGORY_ID]") != "1" || m.Get("data[FIELDS][STAGE_ID]") != "C1:NEW" {
		t.Errorf("move event = %v", m)
	}
	if _, has := m["auth[access_token]"]; has {
		t.Errorf("automation event must not carry access_token: %v", m)
	}
	rc.mu.Lock()
	if !strings.Contains(rc.raws[1], "data%5BFIELDS%5D%5BID%5D=6675&data%5BFIELDS%5D%5BCATEGORY_ID%5D=1&data%5BFIELDS%5D%5BSTAGE_ID%5D=C1%3ANEW&ts=") {
		t.Errorf("move raw = %s", rc.raws[1])
	}
	rc.mu.Unlock()
	if st := p.EventStats(); st.Delivered != 2 || st.Failed != 0 {
		t.Errorf("stats = %+v", st)
	}
}

func TestEventDropRateDelayAndFailures(t *testing.T) {
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	p := New(Options{RatePerSecond: -1, EventDropRate: 0.5, Seed: 7})
	defer p.Close()
	tok := p.IssueTokens(1).AccessToken
	bindEvent(t, p, tok, "ONCRMDEALADD", srv.URL)
	p.FinishInstall()
	p.mu.Lock()
	for i := 0; i < 200; i++ {
		p.emit(Event{Name: "ONCRMDEALADD", Fields: map[string]string{"ID": "1"}, UserID: 1})
	}
	p.mu.Unlock()
	waitEvents(t, p)
	st := p.EventStats()
	if st.Dropped < 60 || st.Dropped > 140 || st.Delivered+st.Dropped != 200 || len(rc.got()) != st.Delivered {
		t.Errorf("drop rate 0.5: %+v, received %d", st, len(rc.got()))
	}

	// no drops, a delay, and a failing handler: nothing is retried
	p.SetEventDelivery(50*time.Millisecond, 0)
	rc.mu.Lock()
	rc.status = 500
	rc.mu.Unlock()
	before := len(rc.got())
	t0 := time.Now()
	p.mu.Lock()
	p.emit(Event{Name: "ONCRMDEALADD", Fields: map[string]string{"ID": "2"}, UserID: 1})
	p.mu.Unlock()
	waitEvents(t, p)
	if time.Since(t0) < 50*time.Millisecond {
		t.Error("EventDelay not honoured")
	}
	if got := len(rc.got()) - before; got != 1 || p.EventStats().Failed != 1 {
		t.Errorf("failed delivery: %d POSTs, stats %+v", got, p.EventStats())
	}
}

func TestAppUpdateAndUninstall(t *testing.T) {
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	p := New(Options{RatePerSecond: -1})
	defer p.Close()
	ctx := context.Background()
	if _, err := p.Install(ctx, srv.URL+"/install", InstallOptions{Lang: "de"}); err != nil {
		t.Fatal(err)
	}
	tok := p.IssueTokens(1).AccessToken
	bindEvent(t, p, tok, "ONAPPUPDATE", srv.URL+"/events")
	p.FinishInstall()
	oldApp := p.ApplicationToken()
	if err := p.TriggerAppUpdate(ctx); err != nil {
		t.Fatal(err)
	}
	got := rc.got()
	u := got[len(got)-1]
	if u.Get("event") != "ONAPPUPDATE" || u.Get("data[VERSION]") != "2" || u.Get("data[PREVIOUS_VERSION]") != "1" || u.Get("data[LANGUAGE_ID]") != "de" ||
		u.Get("auth[application_token]") == oldApp || u.Get("auth[application_token]") != p.ApplicationToken() || u.Get("auth[access_token]") == "" {
		t.Errorf("ONAPPUPDATE = %v", u)
	}
	if r := callForm(t, p, "event.get", tok, nil); len(r.Body["result"].([]any)) != 0 {
		t.Errorf("handlers must be dropped on update: %s", r.Raw)
	}
	if r := callForm(t, p, "app.info", tok, nil); r.Body["result"].(map[string]any)["VERSION"] != float64(2) {
		t.Errorf("app.info after update = %s", r.Raw)
	}

	bindEvent(t, p, tok, "ONAPPUNINSTALL", srv.URL+"/events")
	if r := callForm(t, p, "placement.bind", tok, url.Values{"PLACEMENT": {"CRM_DEAL_DETAIL_TAB"}, "HANDLER": {srv.URL + "/tab"}}); r.Body["result"] != true {
		t.Fatalf("placement.bind = %s", r.Raw)
	}
	if err := p.Uninstall(ctx, true); err != nil {
		t.Fatal(err)
	}
	got = rc.got()
	un := got[len(got)-1]
	if un.Get("event") != "ONAPPUNINSTALL" || un.Get("data[CLEAN]") != "1" || un.Get("data[LANGUAGE_ID]") != "de" ||
		un.Get("auth[application_token]") != p.ApplicationToken() || un.Get("auth[member_id]") != p.MemberID() {
		t.Errorf("ONAPPUNINSTALL = %v", un)
	}
	for _, k := range []string{"auth[access_token]", "auth[refresh_token]", "auth[expires]"} {
		if _, has := un[k]; has {
			t.Errorf("ONAPPUNINSTALL must not carry %s", k)
		}
	}
	if r := callForm(t, p, "event.get", tok, nil); r.errCode() != "invalid_token" {
		t.Errorf("tokens must be revoked by uninstall: %s", r.Raw)
	}
	admin := p.IssueTokens(1).AccessToken
	if r := callForm(t, p, "placement.get", admin, nil); len(r.Body["result"].([]any)) != 0 {
		t.Errorf("placements must be removed: %s", r.Raw)
	}
	if p.Installed() {
		t.Error("still installed after uninstall")
	}
}
