package b24sim

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestFaults(t *testing.T) {
	p := New(Options{RatePerSecond: -1, Seed: 3})
	defer p.Close()
	tok := p.IssueTokens(1).AccessToken

	p.LimitBurst(3)
	for i := 0; i < 3; i++ {
		if r := callForm(t, p, "server.time", tok, nil); r.Status != 503 || r.errCode() != "QUERY_LIMIT_EXCEEDED" {
			t.Errorf("burst %d = %d %s", i, r.Status, r.Raw)
		}
	}
	if r := callForm(t, p, "server.time", tok, nil); r.Status != 200 {
		t.Errorf("after the burst = %d", r.Status)
	}

	p.FailNextHTML(1, 502)
	r := callForm(t, p, "server.time", tok, nil)
	if r.Status != 502 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(r.Raw), "<center>nginx</center>") {
		t.Errorf("HTML 502 = %d %s %s", r.Status, r.Header.Get("Content-Type"), r.Raw)
	}

	p.FailNext(2)
	for i := 0; i < 2; i++ {
		if r := callForm(t, p, "server.time", tok, nil); r.Status != 500 || r.errCode() != "INTERNAL_SERVER_ERROR" {
			t.Errorf("forced failure %d = %d %s", i, r.Status, r.Raw)
		}
	}
	if r := callForm(t, p, "server.time", tok, nil); r.Status != 200 {
		t.Errorf("after the forced failures = %d", r.Status)
	}

	p.SetErrorRate(0.5)
	fails := 0
	for i := 0; i < 100; i++ {
		r := callForm(t, p, "server.time", tok, nil)
		if r.Status == 500 {
			if r.errCode() != "INTERNAL_SERVER_ERROR" {
				t.Fatalf("500 body = %s", r.Raw)
			}
			fails++
		}
	}
	if fails < 30 || fails > 70 {
		t.Errorf("error rate 0.5 gave %d/100", fails)
	}
	p.SetErrorRate(0)

	p.SetLatency(30 * time.Millisecond)
	t0 := time.Now()
	callForm(t, p, "server.time", tok, nil)
	if time.Since(t0) < 30*time.Millisecond {
		t.Error("latency not added")
	}
	p.SetLatency(0)

	st := p.Stats()
	if st.QueryLimitRefusals != 3 || st.Statuses[502] != 1 || st.Errors["INTERNAL_SERVER_ERROR"] != fails+2 {
		t.Errorf("stats = %+v", st)
	}
}

func TestRename(t *testing.T) {
	p := New(Options{RatePerSecond: -1})
	defer p.Close()
	tok := p.IssueTokens(1).AccessToken
	oldURL := p.URL()
	newURL := p.Rename()
	if newURL == oldURL || p.URL() != newURL || p.ClientEndpoint() != newURL+"/rest/" {
		t.Fatalf("URL after rename = %s (old %s)", p.URL(), oldURL)
	}
	req, _ := http.NewRequest("POST", oldURL+"/rest/profile.json?x=1", strings.NewReader(`{"auth":"`+tok+`"}`))
	req.Header.Set("Content-Type", "application/json")
	r := doReq(t, req)
	if r.Status != 302 || r.Header.Get("Location") != newURL+"/rest/profile.json?x=1" {
		t.Errorf("old host = %d Location %q", r.Status, r.Header.Get("Location"))
	}
	// re-POST to the new host works with the same token
	if r := callForm(t, p, "profile", tok, nil); r.Status != 200 {
		t.Errorf("new host = %d %s", r.Status, r.Raw)
	}
	// the OAuth server hands out the new client_endpoint
	rt := p.IssueTokens(1).RefreshToken
	if r := oauthGet(t, p, refreshForm(p, rt)); r.Body["client_endpoint"] != newURL+"/rest/" {
		t.Errorf("client_endpoint after rename = %v", r.Body["client_endpoint"])
	}
	// a second rename: both old hosts redirect to the newest
	third := p.Rename()
	req, _ = http.NewRequest("POST", oldURL+"/rest/profile", nil)
	if r := doReq(t, req); r.Header.Get("Location") != third+"/rest/profile" {
		t.Errorf("first host after second rename → %q", r.Header.Get("Location"))
	}
	if st := p.Stats(); st.Redirects != 2 {
		t.Errorf("Redirects = %d", st.Redirects)
	}
	if log := p.Requests(); log[0].Status != 302 || log[0].Host == log[1].Host {
		t.Errorf("log = %+v", log[:2])
	}
}

// FailWrite lets reads through, alone or batched, and fails the nth request
// that writes, before anything of it runs.
func TestFailWrite(t *testing.T) {
	p := New(Options{RatePerSecond: -1, Seed: 3})
	defer p.Close()
	p.Seed(GenOptions{Contacts: 3, Companies: 1, Deals: 2})
	tok := p.IssueTokens(1).AccessToken
	p.FailWrite(2)

	if r := callForm(t, p, "crm.contact.get", tok, url.Values{"id": {"1"}}); r.Status != 200 {
		t.Errorf("read alone = %d %s", r.Status, r.Raw)
	}
	if r := callJSON(t, p, "batch", tok, `{"cmd":{"a":"crm.contact.get?id=1","b":"crm.contact.list?select[]=ID"}}`); r.Status != 200 {
		t.Errorf("batch of reads = %d %s", r.Status, r.Raw)
	}
	if r := callForm(t, p, "crm.contact.update", tok, url.Values{"id": {"2"}, "fields[NAME]": {"First"}}); r.Status != 200 {
		t.Errorf("the first write = %d %s", r.Status, r.Raw)
	}
	write := `{"cmd":{"a":"crm.contact.get?id=1","b":"crm.contact.update?id=1&fields[NAME]=Changed"}}`
	if r := callJSON(t, p, "batch", tok, write); r.Status != 500 || r.errCode() != "INTERNAL_SERVER_ERROR" {
		t.Errorf("batch with a write = %d %s; want 500", r.Status, r.Raw)
	}
	if rec, _ := p.Record("contact", 1); rec["NAME"] == "Changed" {
		t.Error("the failed write ran")
	}
	if r := callJSON(t, p, "batch", tok, write); r.Status != 200 {
		t.Errorf("the next write = %d %s", r.Status, r.Raw)
	}
	if rec, _ := p.Record("contact", 1); rec["NAME"] != "Changed" {
		t.Errorf("the write after the fault did not run: %v", rec["NAME"])
	}
	if st := p.Stats(); st.Errors["INTERNAL_SERVER_ERROR"] != 1 || st.Statuses[500] != 1 {
		t.Errorf("stats: %v errors, %v statuses; want the one 500 recorded", st.Errors, st.Statuses)
	}
}
