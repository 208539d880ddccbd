package b24sim

import (
	"testing"
	"time"
)

func TestLeakyBucket(t *testing.T) {
	clk := newFakeClock()
	p := New(Options{Clock: clk.Now})
	defer p.Close()
	tok := p.IssueTokens(1).AccessToken
	for i := 0; i < 50; i++ {
		if r := callForm(t, p, "server.time", tok, nil); r.Status != 200 {
			t.Fatalf("request %d of the burst = %d %s", i+1, r.Status, r.Raw)
		}
	}
	r := callForm(t, p, "server.time", tok, nil)
	if r.Status != 503 || r.errCode() != "QUERY_LIMIT_EXCEEDED" || r.Body["error_description"] != "Too many requests" {
		t.Fatalf("51st = %d %s", r.Status, r.Raw)
	}
	// a batch counts as one request: still refused
	if r := callJSON(t, p, "batch", tok, `{"cmd":{"a":"server.time"}}`); r.Status != 503 {
		t.Errorf("batch over the limit = %d", r.Status)
	}
	clk.Advance(time.Second) // drains 2
	for i := 0; i < 2; i++ {
		if r := callForm(t, p, "server.time", tok, nil); r.Status != 200 {
			t.Errorf("after 1 s, request %d = %d", i+1, r.Status)
		}
	}
	if r := callForm(t, p, "server.time", tok, nil); r.Status != 503 {
		t.Errorf("third after 1 s = %d", r.Status)
	}
	clk.Advance(time.Minute)
	if r := callForm(t, p, "server.time", tok, nil); r.Status != 200 {
		t.Errorf("after a minute = %d", r.Status)
	}
	st := p.Stats()
	if st.QueryLimitRefusals != 3 || st.Errors["QUERY_LIMIT_EXCEEDED"] != 3 || st.HTTPRequests != 56 {
		t.Errorf("stats = %+v", st)
	}
}

func TestLeakyBucketPlans(t *testing.T) {
	for _, tc := range []struct {
		opts  Options
		admit int
	}{
		{Options{Enterprise: true}, 250},
		{Options{RatePerSecond: 1, Burst: 7}, 7},
		{Options{RatePerSecond: -1}, 300},
	} {
		clk := newFakeClock()
		tc.opts.Clock = clk.Now
		p := New(tc.opts)
		tok := p.IssueTokens(1).AccessToken
		n := 0
		for i := 0; i < 300; i++ {
			if callForm(t, p, "server.time", tok, nil).Status == 200 {
				n++
			}
		}
		if n != tc.admit {
			t.Errorf("%+v admitted %d, want %d", tc.opts, n, tc.admit)
		}
		p.Close()
	}
}

func TestOperatingLimit(t *testing.T) {
	clk := newFakeClock()
	p := New(Options{Clock: clk.Now, RatePerSecond: -1, OperatingLimit: 5 * time.Second,
		OperatingCost: map[string]time.Duration{"app.info": 2 * time.Second}})
	defer p.Close()
	tok := p.IssueTokens(1).AccessToken
	// 2 s a call: calls 1-3 pass (the third crosses 5 s and still completes), the fourth is refused
	var last reply
	for i := 0; i < 3; i++ {
		last = callForm(t, p, "app.info", tok, nil)
		if last.Status != 200 {
			t.Fatalf("call %d = %d %s", i+1, last.Status, last.Raw)
		}
		clk.Advance(10 * time.Second)
	}
	tb := last.Body["time"].(map[string]any)
	if tb["operating"] != float64(6) {
		t.Errorf("operating = %v", tb["operating"])
	}
	// the oldest bucket (minute of the first call) drops out ten minutes later
	start := newFakeClock().Now()
	if want := float64((start.Unix()/60 + 10) * 60); tb["operating_reset_at"] != want {
		t.Errorf("operating_reset_at = %v, want %v", tb["operating_reset_at"], want)
	}
	r := callForm(t, p, "app.info", tok, nil)
	if r.Status != 429 || r.errCode() != "OPERATION_TIME_LIMIT" || r.Body["error_description"] != "Method is blocked due to operation time limit." {
		t.Errorf("fourth call = %d %s", r.Status, r.Raw)
	}
	// other methods keep working; inside a batch the command is refused
	if r := callForm(t, p, "profile", tok, nil); r.Status != 200 {
		t.Errorf("other method = %d", r.Status)
	}
	r = callJSON(t, p, "batch", tok, `{"cmd":{"x":"app.info","y":"profile"}}`)
	res := r.Body["result"].(map[string]any)
	if r.Status != 200 || res["result_error"].(map[string]any)["x"].(map[string]any)["error"] != "OPERATION_TIME_LIMIT" {
		t.Errorf("batch = %d %s", r.Status, r.Raw)
	}
	// ten minutes later the window has slid past
	clk.Advance(10 * time.Minute)
	if r := callForm(t, p, "app.info", tok, nil); r.Status != 200 {
		t.Errorf("after 10 min = %d %s", r.Status, r.Raw)
	}
	if st := p.Stats(); st.OperatingRefusals != 2 {
		t.Errorf("OperatingRefusals = %d", st.OperatingRefusals)
	}
	if d := p.Operating("app.info"); d != 2*time.Second {
		t.Errorf("Operating = %v", d)
	}
}
