package bitrix

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"segmentor/internal/fakeclock"

	"github.com/google/go-cmp/cmp"
)

func TestCall(t *testing.T) {
	e := setup(t)
	e.handle("crm.deal.get", func(w http.ResponseWriter, r *http.Request) {
		auth, params := readCall(t, r)
		if auth != "at-0" {
			t.Errorf("auth = %q", auth)
		}
		if d := cmp.Diff(map[string]any{"id": float64(7405)}, params); d != "" {
			t.Errorf("params (-want +got):\n%s", d)
		}
		if ua := r.Header.Get("User-Agent"); ua == "" {
			t.Error("no User-Agent")
		}
		writeJSON(w, 200, `{"result":{"ID":"7405","OPPORTUNITY":"12500.00","OPENED":"Y"},
			"time":{"start":1778747192.91,"finish":1778747193.53,"duration":0.61,"processing":0.03,
			"date_start":"2026-05-14T10:26:32+02:00","date_finish":"2026-05-14T10:26:33+02:00",
			"operating_reset_at":1778747792,"operating":3.3076}}`)
	})
	var deal struct {
		ID          ID
		OPPORTUNITY Money
		OPENED      Bool
	}
	resp, err := e.portal.Call(context.Background(), "crm.deal.get", map[string]any{"id": 7405}, &deal)
	if err != nil {
		t.Fatal(err)
	}
	if deal.ID != 7405 || deal.OPPORTUNITY.String() != "12500" || !bool(deal.OPENED) {
		t.Errorf("deal = %+v", deal)
	}
	if resp.Time.Operating != 3.3076 || resp.Time.OperatingResetAt != 1778747792 || resp.Endpoint != e.srv.URL+portalPath {
		t.Errorf("resp = %+v", resp)
	}
	infos := e.requests()
	if len(infos) != 1 || infos[0].Method != "crm.deal.get" || infos[0].Status != 200 || infos[0].MemberID != testMember || infos[0].Attempt != 1 {
		t.Errorf("hook infos = %+v", infos)
	}
}

func TestCallListEnvelope(t *testing.T) {
	e := setup(t)
	e.handle("crm.deal.list", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `{"result":[{"ID":"1"},{"ID":"2"}],"total":"125","next":50}`)
	})
	var rows []struct{ ID ID }
	resp, err := e.portal.Call(context.Background(), "crm.deal.list", nil, &rows)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || resp.Total != 125 || !resp.HasNext || resp.Next != 50 {
		t.Errorf("rows=%v resp=%+v", rows, resp)
	}
}

func TestCallRejectsBadInput(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	for _, m := range []string{"", "crm.deal.get?id=1", "../x", "batch"} {
		if _, err := e.portal.Call(ctx, m, nil, nil); err == nil {
			t.Errorf("Call(%q) accepted", m)
		}
	}
	if _, err := e.portal.Call(ctx, "crm.deal.get", []int{1}, nil); err == nil {
		t.Error("array params accepted")
	}
}

// A missing record is not a missing method, nor another refusal.
func TestIsRecordNotFound(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{&APIError{Description: "Not found"}, true},
		{fmt.Errorf("write deal 7: %w", &APIError{Code: "NOT_FOUND", Description: "Element not found"}), true},
		{&APIError{Code: "ERROR_METHOD_NOT_FOUND", Description: "Method not found!"}, false},
		{&APIError{Description: "Access denied"}, false},
		{errors.New("Not found"), false},
	} {
		if got := IsRecordNotFound(c.err); got != c.want {
			t.Errorf("IsRecordNotFound(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// A failed write is sent again only when it never ran, and re-read at
// once only when the portal's own answer says it is over.
func TestNotRunAndAnswered(t *testing.T) {
	for _, c := range []struct {
		name             string
		err              error
		notRun, answered bool
	}{
		{"budget wait too long", &RateLimitedError{Reason: "budget"}, true, false},
		{"query limit", &APIError{Code: "QUERY_LIMIT_EXCEEDED", Status: 503}, true, true},
		{"query limits outlasting the retries", &RateLimitedError{Reason: "query_limit", Err: &APIError{Code: "QUERY_LIMIT_EXCEEDED", Status: 503}}, true, true},
		{"operation limit", fmt.Errorf("write: %w", &APIError{Code: "OPERATION_TIME_LIMIT", Status: 429}), true, true},
		{"expired token", &APIError{Code: "expired_token", Status: 401}, true, true},
		{"dead tokens", &ReauthError{MemberID: "m", Err: errors.New("invalid_grant")}, true, false},
		{"no token", fmt.Errorf("load: %w", ErrNoToken), true, false},
		{"portal's 500", &APIError{Code: "INTERNAL_SERVER_ERROR", Status: 500}, false, true},
		{"empty code", &APIError{Description: "Access denied", Status: 400}, false, true},
		{"proxy's html 504", &UnexpectedResponseError{Status: 504}, false, false},
		{"timeout", context.DeadlineExceeded, false, false},
		{"connection reset", errors.New("read: connection reset by peer"), false, false},
	} {
		if got := NotRun(c.err); got != c.notRun {
			t.Errorf("%s: NotRun = %v, want %v", c.name, got, c.notRun)
		}
		if got := Answered(c.err); got != c.answered {
			t.Errorf("%s: Answered = %v, want %v", c.name, got, c.answered)
		}
	}
}

func TestErrorMapping(t *testing.T) {
	type check func(error) bool
	tests := []struct {
		name   string
		status int
		ctype  string
		body   string
		checks []check
		code   string
		html   bool
	}{
		{"query limit", 503, "application/json", `{"error":"QUERY_LIMIT_EXCEEDED","error_description":"Too many requests"}`, []check{IsQueryLimit, IsTemporary}, "QUERY_LIMIT_EXCEEDED", false},
		{"query limit lower case", 503, "application/json", `{"error":"query_limit_exceeded","error_description":"Too many requests"}`, []check{IsQueryLimit}, "query_limit_exceeded", false},
		{"operation limit", 429, "application/json", `{"error":"OPERATION_TIME_LIMIT","error_description":"Method is blocked due to operation time limit."}`, []check{IsOperationLimit, IsTemporary}, "OPERATION_TIME_LIMIT", false},
		{"overload", 503, "application/json", `{"error":"OVERLOAD_LIMIT","error_description":"REST API is blocked due to overload."}`, []check{IsOverload}, "OVERLOAD_LIMIT", false},
		{"empty code not found", 400, "application/json", `{"error":"","error_description":"Not found"}`, []check{IsNotFound, IsRecordNotFound}, "", false},
		{"empty code access denied", 400, "application/json", `{"error":"","error_description":"Access denied"}`, []check{IsAccessDenied}, "", false},
		{"NOT_FOUND", 400, "application/json", `{"error":"NOT_FOUND","error_description":"Not found"}`, []check{IsNotFound, IsRecordNotFound}, "NOT_FOUND", false},
		{"method not found", 404, "application/json", `{"error":"ERROR_METHOD_NOT_FOUND","error_description":"Method not found!"}`, []check{IsNotFound}, "ERROR_METHOD_NOT_FOUND", false},
		{"access denied", 403, "application/json", `{"error":"ACCESS_DENIED","error_description":"REST API is available only on commercial plans"}`, []check{IsAccessDenied}, "ACCESS_DENIED", false},
		{"insufficient scope", 403, "application/json", `{"error":"insufficient_scope","error_description":""}`, []check{IsAccessDenied}, "insufficient_scope", false},
		{"portal deleted", 500, "application/json", `{"error":"PORTAL_DELETED","error_description":"Portal was deleted"}`, []check{IsPortalGone}, "PORTAL_DELETED", false},
		{"200 with error", 200, "application/json", `{"error":"ERROR_ARGUMENT","argument":"HANDLER","error_description":"Handler is empty"}`, nil, "ERROR_ARGUMENT", false},
		{"500 json without code", 500, "application/json", `{"result":null}`, []check{IsTemporary}, "", false},
		{"html 502", 502, "text/html", `<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>`, []check{IsTemporary}, "", true},
		{"html 200", 200, "text/html", `<!DOCTYPE html><html><body>Portal is being moved</body></html>`, nil, "", true},
		{"empty 200", 200, "application/json", ``, nil, "", true},
		{"truncated json", 200, "application/json", `{"result":{"ID":`, nil, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t, func(c *Config) { c.MaxLimitRetries = -1 })
			hits := &counter{}
			e.handle("crm.deal.update", func(w http.ResponseWriter, r *http.Request) {
				hits.inc()
				w.Header().Set("Content-Type", tt.ctype)
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			})
			_, err := e.portal.Call(context.Background(), "crm.deal.update", map[string]any{"id": 1}, nil)
			if err == nil {
				t.Fatal("no error")
			}
			for i, c := range tt.checks {
				if !c(err) {
					t.Errorf("check %d false for %v", i, err)
				}
			}
			if tt.html {
				var ue *UnexpectedResponseError
				if !errors.As(err, &ue) || ue.Status != tt.status {
					t.Fatalf("err = %#v, want UnexpectedResponseError", err)
				}
				if tt.status == 502 && ue.Snippet != "502 Bad Gateway" {
					t.Errorf("snippet = %q", ue.Snippet)
				}
			} else {
				var ae *APIError
				if !errors.As(err, &ae) {
					t.Fatalf("err = %#v, want APIError", err)
				}
				if ae.Code != tt.code || ae.Status != tt.status || ae.Method != "crm.deal.update" {
					t.Errorf("APIError = %+v", ae)
				}
			}
			if infos := e.requests(); len(infos) != 1 || infos[0].ErrorCode != tt.code || infos[0].Status != tt.status || infos[0].Err == nil {
				t.Errorf("hook = %+v", infos)
			}
			// A write is never repeated after an answer that may mean it ran.
			if hits.get() != 1 {
				t.Errorf("server hit %d times, want 1", hits.get())
			}
		})
	}
}

func TestAPIErrorIs(t *testing.T) {
	err := fmt.Errorf("wrapped: %w", &APIError{Code: "not_found", Status: 400})
	if !errors.Is(err, &APIError{Code: "NOT_FOUND"}) {
		t.Error("errors.Is by code failed")
	}
	if errors.Is(err, &APIError{Code: "ACCESS_DENIED"}) {
		t.Error("errors.Is matched another code")
	}
	if IsNotFound(errors.New("Not found")) {
		t.Error("plain error matched")
	}
}

func TestReadsRetriedWritesNot(t *testing.T) {
	tests := []struct {
		name     string
		method   string
		fail     func(w http.ResponseWriter)
		wantHits int
		wantErr  bool
	}{
		{"read after 500", "crm.deal.get", func(w http.ResponseWriter) {
			writeJSON(w, 500, `{"error":"INTERNAL_SERVER_ERROR","error_description":"Internal server error"}`)
		}, 2, false},
		{"write after 500", "crm.deal.update", func(w http.ResponseWriter) {
			writeJSON(w, 500, `{"error":"INTERNAL_SERVER_ERROR","error_description":"Internal server error"}`)
		}, 1, true},
		{"read after html 502", "crm.deal.list", func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(502)
		}, 2, false},
		{"read after dropped connection", "crm.deal.get", hangUp, 2, false},
		{"write after dropped connection", "crm.deal.add", hangUp, 1, true},
		{"write after query limit", "crm.deal.add", func(w http.ResponseWriter) {
			writeJSON(w, 503, `{"error":"QUERY_LIMIT_EXCEEDED","error_description":"Too many requests"}`)
		}, 2, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t)
			hits := &counter{}
			e.handle(tt.method, func(w http.ResponseWriter, r *http.Request) {
				if hits.inc() == 1 {
					tt.fail(w)
					return
				}
				writeJSON(w, 200, `{"result":true}`)
			})
			_, err := e.portal.Call(context.Background(), tt.method, nil, nil)
			if (err != nil) != tt.wantErr {
				t.Errorf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if hits.get() != tt.wantHits {
				t.Errorf("hits = %d, want %d", hits.get(), tt.wantHits)
			}
			if tt.wantHits == 2 && len(e.clock.Sleeps()) == 0 {
				t.Error("retried without backoff")
			}
		})
	}
}

// hangUp closes the connection without an answer.
func hangUp(w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		_ = conn.Close()
	}
}

func TestQueryLimitWaitBeyondDeadline(t *testing.T) {
	e := setup(t, func(c *Config) { c.RetryWait = 2 * time.Second })
	hits := &counter{}
	e.handle("crm.deal.add", func(w http.ResponseWriter, r *http.Request) {
		hits.inc()
		writeJSON(w, 503, `{"error":"QUERY_LIMIT_EXCEEDED","error_description":"Too many requests"}`)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err := e.portal.Call(ctx, "crm.deal.add", nil, nil)
	var rl *RateLimitedError
	if !errors.As(err, &rl) {
		t.Fatalf("err = %v, want RateLimitedError", err)
	}
	if rl.RetryIn < time.Second || rl.Reason != "query_limit" || !IsQueryLimit(err) || !IsTemporary(err) {
		t.Errorf("RateLimitedError = %+v", rl)
	}
	if hits.get() != 1 {
		t.Errorf("hits = %d", hits.get())
	}
}

func TestOperationTimeLimitPausesMethod(t *testing.T) {
	e := setup(t)
	hits := &counter{}
	reset := e.clock.Now().Add(40 * time.Second).Unix()
	e.handle("crm.deal.list", func(w http.ResponseWriter, r *http.Request) {
		switch hits.inc() {
		case 1: // 300 s of 480 used: recorded, no slowdown yet.
			writeJSON(w, 200, fmt.Sprintf(`{"result":[],"time":{"operating":300.5,"operating_reset_at":%d}}`, reset))
		case 2:
			writeJSON(w, 429, `{"error":"OPERATION_TIME_LIMIT","error_description":"Method is blocked due to operation time limit."}`)
		default:
			writeJSON(w, 200, `{"result":[]}`)
		}
	})
	e.handle("crm.deal.get", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, `{"result":{}}`) })
	ctx := context.Background()
	if _, err := e.portal.Call(ctx, "crm.deal.list", nil, nil); err != nil {
		t.Fatal(err)
	}
	if len(e.clock.Sleeps()) != 0 {
		t.Fatalf("slept below the slowdown threshold: %v", e.clock.Sleeps())
	}
	// A second process, still at the moment of the 429, must not call the
	// method; its clock does not move with ours.
	clockB := fakeclock.At(e.clock.Now())
	pb := e.newClient(clockB).Portal(testMember)

	if _, err := e.portal.Call(ctx, "crm.deal.list", nil, nil); err != nil {
		t.Fatalf("call after 429: %v", err)
	}
	if hits.get() != 3 {
		t.Errorf("hits = %d, want 3", hits.get())
	}
	sl := e.clock.Sleeps()
	want := time.Unix(reset, 0).Sub(clockB.Now())
	if len(sl) != 1 || sl[0] != want {
		t.Errorf("sleeps = %v, want [%v]", sl, want)
	}
	b, err := pb.MethodBudget(ctx, "crm.deal.list")
	if err != nil || b.PausedUntil.Unix() != reset || b.Operating != 300.5 {
		t.Errorf("MethodBudget = %+v, %v", b, err)
	}

	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err = pb.Call(dctx, "crm.deal.list", nil, nil)
	var rl *RateLimitedError
	if !errors.As(err, &rl) || rl.Reason != "operating" || rl.RetryIn != want {
		t.Errorf("process B: err = %v, want RateLimitedError with RetryIn %v", err, want)
	}
	if hits.get() != 3 {
		t.Errorf("process B called a paused method: hits = %d", hits.get())
	}
	// Other methods are not paused.
	if _, err := pb.Call(dctx, "crm.deal.get", nil, nil); err != nil {
		t.Errorf("other method: %v", err)
	}
}

func TestOperatingSlowdown(t *testing.T) {
	e := setup(t)
	reset := e.clock.Now().Add(40 * time.Second).Unix()
	e.handle("crm.contact.list", func(w http.ResponseWriter, r *http.Request) {
		// 456 of 480 s: 75 % of the way from 80 % to the budget.
		writeJSON(w, 200, fmt.Sprintf(`{"result":[],"time":{"operating":456,"operating_reset_at":%d}}`, reset))
	})
	ctx := context.Background()
	for range 2 {
		if _, err := e.portal.Call(ctx, "crm.contact.list", nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	sl := e.clock.Sleeps()
	left := time.Unix(reset, 0).Sub(e.clock.Now().Add(-sumDur(sl)))
	want := time.Duration(0.75 * 0.75 * float64(left))
	if len(sl) != 1 || sl[0] != want {
		t.Errorf("sleeps = %v, want [%v]", sl, want)
	}
}

// Where a batch tells what one request of a method spends (the spread of
// its commands' running sums), the slowdown near the budget spaces
// requests to the pace the sliding window frees it, not to the reset: a
// backfill of cheap updates goes on at the budget's pace.
func TestOperatingSlowdownPacesByWhatARequestSpends(t *testing.T) {
	e := setup(t)
	reset := e.clock.Now().Add(40 * time.Second).Unix()
	// 50 updates of 1 ms each, the last at 456.05 of 480 s: 75 % of the
	// way from 80 % to the budget.
	e.handle("batch", func(w http.ResponseWriter, r *http.Request) {
		results, times := []string{}, []string{}
		for i := range 50 {
			results = append(results, fmt.Sprintf(`"u%d":true`, i))
			times = append(times, fmt.Sprintf(`"u%d":{"operating":%.3f,"operating_reset_at":%d}`, i, 456.001+0.001*float64(i), reset))
		}
		writeJSON(w, 200, `{"result":{"result":{`+strings.Join(results, ",")+`},"result_error":[],"result_total":[],"result_next":[],"result_time":{`+
			strings.Join(times, ",")+`}}}`)
	})
	cmds := make([]Command, 50)
	for i := range cmds {
		cmds[i] = Cmd(fmt.Sprintf("u%d", i), "crm.deal.update", map[string]any{"id": i + 1, "fields": map[string]any{"TYPE_ID": "SALE"}})
	}
	ctx := context.Background()
	for range 2 {
		if _, _, err := e.portal.Batch(ctx, cmds, false); err != nil {
			t.Fatal(err)
		}
	}
	f := (456.05 - 384) / 96
	// The batch spent 50 ms; the window frees 480 s in 600: 62.5 ms a batch.
	want := time.Duration(f * f * float64(62500*time.Microsecond))
	sl := e.clock.Sleeps()
	if len(sl) != 1 || (sl[0]-want).Abs() > time.Millisecond {
		t.Errorf("sleeps = %v, want [%v] (not the %v to the reset)", sl, want, time.Duration(f*f*float64(40*time.Second)))
	}
}

func sumDur(ds []time.Duration) time.Duration {
	var s time.Duration
	for _, d := range ds {
		s += d
	}
	return s
}

func TestPortalRename(t *testing.T) {
	var changed []string
	e := setup(t, func(c *Config) {
		c.OnEndpointChange = func(_ context.Context, m, old, nu string) { changed = append(changed, m, old, nu) }
	})
	newHits := &counter{}
	newMux := http.NewServeMux()
	newSrv := httptest.NewServer(newMux)
	defer newSrv.Close()
	newMux.HandleFunc(portalPath+"crm.deal.add", func(w http.ResponseWriter, r *http.Request) {
		newHits.inc()
		auth, params := readCall(t, r)
		if auth != "at-0" || params["fields"] == nil {
			t.Errorf("re-POST lost its body: auth=%q params=%v", auth, params)
		}
		writeJSON(w, 200, `{"result":42}`)
	})
	oldHits := &counter{}
	e.handle("crm.deal.add", func(w http.ResponseWriter, r *http.Request) {
		oldHits.inc()
		http.Redirect(w, r, newSrv.URL+portalPath+"crm.deal.add", http.StatusFound)
	})
	ctx := context.Background()
	var id ID
	resp, err := e.portal.Call(ctx, "crm.deal.add", map[string]any{"fields": map[string]any{"TITLE": "x"}}, &id)
	if err != nil {
		t.Fatal(err)
	}
	if id != 42 || newHits.get() != 1 || oldHits.get() != 1 {
		t.Errorf("id=%d newHits=%d oldHits=%d", id, newHits.get(), oldHits.get())
	}
	newEP := newSrv.URL + portalPath
	if resp.Endpoint != newEP {
		t.Errorf("Endpoint = %q", resp.Endpoint)
	}
	stored, _ := e.store.Load(ctx, testMember)
	if stored.ClientEndpoint != newEP || stored.AccessToken != "at-0" || !strings.HasPrefix(newSrv.URL, "http://"+stored.Domain) {
		t.Errorf("stored = %+v", stored)
	}
	if d := cmp.Diff([]string{testMember, e.srv.URL + portalPath, newEP}, changed); d != "" {
		t.Errorf("OnEndpointChange (-want +got):\n%s", d)
	}
	// The next call goes straight to the new host.
	if _, err := e.portal.Call(ctx, "crm.deal.add", map[string]any{"fields": map[string]any{"TITLE": "y"}}, nil); err != nil {
		t.Fatal(err)
	}
	if oldHits.get() != 1 || newHits.get() != 2 {
		t.Errorf("after rename: oldHits=%d newHits=%d", oldHits.get(), newHits.get())
	}
}

func TestRedirectRules(t *testing.T) {
	e := setup(t, func(c *Config) { c.AllowHTTP = false })
	ctx := context.Background()
	tests := []struct {
		name, endpoint, location string
		n                        int
	}{
		{"same host", "https://old.example/rest/", "https://old.example/other/rest/crm.deal.get", 1},
		{"relative", "https://old.example/rest/", "/rest/crm.deal.get", 1},
		{"http target", "https://old.example/rest/", "http://new.example/rest/crm.deal.get", 1},
		{"too many", "https://old.example/rest/", "https://new.example/rest/crm.deal.get", 4},
		{"garbage", "https://old.example/rest/", "https://[::1", 1},
	}
	for _, tt := range tests {
		if _, err := e.client.followRename(ctx, testMember, tt.endpoint, "crm.deal.get", tt.location, tt.n); err == nil {
			t.Errorf("%s: redirect to %q accepted", tt.name, tt.location)
		}
	}
	stored, _ := e.store.Load(ctx, testMember)
	if stored.ClientEndpoint != e.srv.URL+portalPath {
		t.Errorf("store changed: %+v", stored)
	}
}

func TestEndpointRequiresHTTPS(t *testing.T) {
	e := setup(t, func(c *Config) { c.AllowHTTP = false })
	hits := &counter{}
	e.handle("crm.deal.get", func(w http.ResponseWriter, r *http.Request) { hits.inc() })
	_, err := e.portal.Call(context.Background(), "crm.deal.get", nil, nil)
	if err == nil || !strings.Contains(err.Error(), "https required") || hits.get() != 0 {
		t.Errorf("err = %v, hits = %d", err, hits.get())
	}
}

func TestDecodeResultPHPEmptyArray(t *testing.T) {
	var m map[string]string
	var s struct{ A string }
	var l []int
	for _, out := range []any{&m, &s, &l} {
		if err := decodeResult([]byte("[]"), out); err != nil {
			t.Errorf("decode [] into %T: %v", out, err)
		}
	}
	var b bool
	if err := decodeResult([]byte("[]"), &b); err == nil {
		t.Error("[] decoded into a bool")
	}
	if err := decodeResult([]byte(`{"A":"x"}`), &s); err != nil || s.A != "x" {
		t.Errorf("decode object: %v", err)
	}
}

func TestCallStopsWhenContextEnds(t *testing.T) {
	e := setup(t, func(c *Config) { c.Clock = realClock{}; c.RetryWait = time.Hour; c.RetryMaxWait = time.Hour })
	e.handle("crm.deal.get", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 500, `{"error":"INTERNAL_SERVER_ERROR","error_description":"x"}`)
	})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err := e.portal.Call(ctx, "crm.deal.get", nil, nil)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

// OPERATION_TIME_LIMIT answers that outlast the retries leave the method
// paused and say how long, instead of a bare APIError.
func TestOperationTimeLimitOutlastsRetries(t *testing.T) {
	e := setup(t, func(c *Config) { c.MaxLimitRetries = 2; c.OperatingPause = 45 * time.Second })
	hits := &counter{}
	e.handle("crm.deal.list", func(w http.ResponseWriter, r *http.Request) {
		hits.inc()
		writeJSON(w, 429, `{"error":"OPERATION_TIME_LIMIT","error_description":"Method is blocked due to operation time limit."}`)
	})
	_, err := e.portal.Call(context.Background(), "crm.deal.list", nil, nil)
	var rl *RateLimitedError
	if !errors.As(err, &rl) || rl.Reason != "operating" || rl.RetryIn != 45*time.Second ||
		!IsOperationLimit(err) || !IsTemporary(err) {
		t.Fatalf("err = %v, want RateLimitedError of the 45 s pause", err)
	}
	if hits.get() != 3 {
		t.Errorf("hits = %d, want 3 (two retries)", hits.get())
	}
	if b, _ := e.portal.MethodBudget(context.Background(), "crm.deal.list"); !b.PausedUntil.After(e.clock.Now()) {
		t.Errorf("method not paused after the last refusal: %+v", b)
	}
}
