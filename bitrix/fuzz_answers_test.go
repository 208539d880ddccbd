package bitrix

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"segmentor/internal/fakeclock"
)

// answer is what the fuzzed portal or OAuth server says to every request.
type answer struct {
	mu     sync.Mutex
	status int
	ctype  string
	body   []byte
}

func (a *answer) set(status int, ctype string, body []byte) {
	a.mu.Lock()
	a.status, a.ctype, a.body = status, ctype, body
	a.mu.Unlock()
}

func (a *answer) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	a.mu.Lock()
	status, ctype, body := a.status, a.ctype, a.body
	a.mu.Unlock()
	w.Header().Set("Content-Type", ctype)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// Redirects are left out: the client re-sends to the Location, which a
// fuzzer must not point at the network.
var fuzzStatuses = []int{200, 200, 200, 400, 401, 403, 404, 429, 500, 502, 503}

var answerSeeds = []string{
	`{"result":{"ID":"7405","OPPORTUNITY":"12500.00"},"time":{"start":1724760000.1,"operating":"0.5","operating_reset_at":1724760600}}`,
	`{"result":[],"total":"0","time":{}}`,
	`{"result":[{"ID":"1"},{"ID":"2"}],"total":2,"next":"50"}`,
	`{"result":{"result":{"p00":[{"ID":"1"}],"w0":true},"result_error":[],"result_total":{"p00":"1"},"result_next":[],"result_time":{"w0":{"operating":1}}}}`,
	`{"result":{"result":[],"result_error":{"w0":{"error":"QUERY_LIMIT_EXCEEDED","error_description":"Too many requests"}},"result_total":[],"result_next":[],"result_time":[]}}`,
	`{"result":{"result":{"p00":{"0":{"ID":"3"}}},"result_error":{},"result_total":[],"result_next":[],"result_time":[]}}`,
	`{"result":{"items":[{"id":5}]},"total":1}`,
	`{"error":"expired_token","error_description":"The access token provided has expired."}`,
	`{"error":"QUERY_LIMIT_EXCEEDED","error_description":"Too many requests"}`,
	`{"error":"OPERATION_TIME_LIMIT","error_description":"Method is blocked due to operation time limit."}`,
	`{"error":{"code":1},"error_description":null}`,
	"<html><head><title>502 Bad Gateway</title></head></html>",
	``, `null`, `[]`, `{"result":null}`, `{"result":{"result":"x"}}`, `{"time":"x","total":{},"next":[]}`,
}

// FuzzPortalAnswer serves arbitrary answers to a plain call, a batch of
// writes and a keyset scan. Nothing may panic or hang; an answer that is
// not a JSON object, or that carries "error", is an error of the client's
// types; a successful call came from a 200 envelope.
func FuzzPortalAnswer(f *testing.F) {
	for i, s := range answerSeeds {
		f.Add(uint8(0), s) // 200
		f.Add(uint8(i), s)
	}
	e := setup(f)
	portal := &answer{}
	e.mux.Handle(portalPath, portal)
	e.mux.HandleFunc(oauthPath+"/oauth/token/", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, 200, `{"access_token":"at-1","refresh_token":"rt-1","expires_in":3600,"member_id":"`+testMember+
			`","client_endpoint":"`+e.srv.URL+portalPath+`"}`)
	})
	// Every input's client shares the test server's HTTP transport: one
	// each (a client without a transport gets its own) would keep its idle
	// connections open until the fuzzer ran out of file descriptors.
	hc := e.srv.Client()
	var execs atomic.Int64
	f.Fuzz(func(t *testing.T, code uint8, body string) {
		// Client sleeps are on a fake clock: real time spent is the work.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		defer func() {
			if ctx.Err() != nil {
				t.Fatalf("answer %q hung the client", body)
			}
		}()
		status := fuzzStatuses[int(code)%len(fuzzStatuses)]
		portal.set(status, "application/json; charset=utf-8", []byte(body))
		// A new process each time, with its own Redis keys: fresh tokens,
		// no pause or timing left by an earlier answer.
		client, err := NewClient(Config{Key: keyIn(fmt.Sprintf("fz%d:", execs.Add(1))), ClientID: "app.1", ClientSecret: "s3cr3t", OAuthURL: e.srv.URL + oauthPath,
			HTTPClient: hc, Redis: e.rdb, AllowHTTP: true, Clock: fakeclock.At(time.Now()), Rand: func() float64 { return 0.5 },
			Profile: func(context.Context, string) (Profile, error) { return UnlimitedProfile(), nil },
			Tokens: NewMemoryTokenStore(&Token{MemberID: testMember, AccessToken: "at-0", RefreshToken: "rt-0",
				Expiry: time.Now().Add(time.Hour), ClientEndpoint: e.srv.URL + portalPath})})
		if err != nil {
			t.Fatal(err)
		}
		p := client.Portal(testMember)

		var out map[string]any
		_, err = p.Call(ctx, "crm.deal.get", map[string]any{"id": 1}, &out)
		trimmed := strings.TrimSpace(body)
		switch {
		case err != nil:
			checkError(t, err)
			var ue *UnexpectedResponseError
			if !strings.HasPrefix(trimmed, "{") && !errors.As(err, &ue) {
				t.Fatalf("answer %q: error %v is not an UnexpectedResponseError", body, err)
			}
		case status != 200:
			t.Fatalf("answer %d %q was taken as success", status, body)
		case !strings.HasPrefix(trimmed, "{"):
			t.Fatalf("non-object answer %q was taken as success", body)
		}

		cmds := []Command{
			{Name: "w0", Method: "crm.deal.update", Params: map[string]any{"id": 1, "fields": map[string]any{"TYPE_ID": "SALE"}}},
			{Name: "w1", Method: "crm.contact.update", Params: map[string]any{"id": 2, "fields": map[string]any{"TYPE_ID": "CLIENT"}}},
		}
		res, _, err := p.Batch(ctx, cmds, false)
		if err != nil {
			checkError(t, err)
		} else {
			for _, c := range cmds {
				if cerr := res.Err(c.Name); cerr != nil {
					checkError(t, cerr)
				}
				var v any
				_ = res.Decode(c.Name, &v)
			}
		}

		_, err = p.Scan(ctx, ScanOptions{Method: "crm.deal.list", Select: []string{"ID"}, PagesPerRequest: 2},
			func(page *ScanPage) error {
				if page.FirstID > page.LastID {
					t.Fatalf("page %d..%d", page.FirstID, page.LastID)
				}
				_, err := DecodeRows[struct {
					ID    ID    `json:"ID"`
					Money Money `json:"OPPORTUNITY"`
				}](page)
				return err
			})
		if err != nil {
			checkError(t, err)
		}
	})
}

func checkError(t *testing.T, err error) {
	t.Helper()
	if err.Error() == "" {
		t.Fatalf("error %#v has no message", err)
	}
}

var oauthSeeds = []string{
	`{"access_token":"at","refresh_token":"rt","expires_in":3600,"expires":1780319382,"member_id":"m","client_endpoint":"https://portal.bitrix24.com/rest/","server_endpoint":"https://oauth.bitrix.info/rest/","status":"F","user_id":67,"scope":"crm","domain":"oauth.bitrix.info"}`,
	`{"access_token":"at","refresh_token":"rt","expires_in":"3600","user_id":"67"}`,
	`{"error":"invalid_grant","error_description":"Invalid grant"}`,
	`{"access_token":"","expires_in":1e400}`,
	`{"access_token":"at","expires_in":-5,"client_endpoint":"::"}`,
	`{"access_token":"at","expires_in":30000000000}`,
	"<html>500</html>", ``, `[]`,
}

// FuzzOAuthAnswer serves arbitrary answers of the OAuth server to a refresh.
// Nothing may panic; a failure is an error of the client's types or names
// the OAuth exchange; a success has tokens and a usable expiry.
func FuzzOAuthAnswer(f *testing.F) {
	for i, s := range oauthSeeds {
		f.Add(uint8(0), s) // 200
		f.Add(uint8(i), s)
	}
	e := setup(f)
	oauth := &answer{}
	e.mux.Handle(oauthPath+"/oauth/token/", oauth)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, code uint8, body string) {
		oauth.set(fuzzStatuses[int(code)%len(fuzzStatuses)], "application/json", []byte(body))
		tok, err := e.client.ExchangeRefreshToken(ctx, "rt-0")
		if err != nil {
			var ae *APIError
			var ue *UnexpectedResponseError
			if err.Error() == "" || !(errors.As(err, &ae) || errors.As(err, &ue) || strings.Contains(err.Error(), "oauth")) {
				t.Fatalf("unclear error %#v", err)
			}
			return
		}
		if tok.AccessToken == "" {
			t.Fatalf("a token without access_token from %q", body)
		}
		if !tok.Expiry.IsZero() && tok.Expiry.Before(e.clock.Now().Add(-time.Minute)) && !strings.Contains(body, "-") {
			t.Fatalf("answer %q gave a token that expired at %s", body, tok.Expiry)
		}
	})
}

// FuzzDecodeAnswer runs the same answers straight through the parsers the
// client uses (envelope, batch sections, list rows, ids), without HTTP, so
// the fuzzer covers them fast.
func FuzzDecodeAnswer(f *testing.F) {
	for i, s := range answerSeeds {
		f.Add(uint8(0), s) // 200
		f.Add(uint8(i), s)
	}
	cmds, err := encodeCommands([]Command{{Name: "p00", Method: "crm.deal.list"}, {Name: "w0", Method: "crm.deal.update"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, code uint8, body string) {
		status := fuzzStatuses[int(code)%len(fuzzStatuses)]
		env, err := decodeEnvelope("batch", status, "application/json", []byte(body))
		if err != nil {
			checkError(t, err)
			return
		}
		if env == nil || status != 200 {
			t.Fatalf("answer %d %q accepted", status, body)
		}
		res, err := parseBatch(env.Result, cmds)
		if err == nil {
			for _, n := range res.Names {
				if e := res.Err(n); e != nil {
					checkError(t, e)
				}
				rows, err := PageRows(res.Results[n], "")
				if err == nil && len(rows) > 0 {
					_, _ = RowID(rows[0], "ID")
				}
			}
		}
		for _, key := range []string{"", "items"} {
			rows, err := PageRows(env.Result, key)
			if err != nil && err.Error() == "" {
				t.Fatal("rows error without message")
			}
			for _, r := range rows {
				_, _ = RowID(r, "id")
			}
		}
		var out map[string]any
		_ = decodeResult(env.Result, &out)
	})
}

// keyIn names the client's keys under prefix.
func keyIn(prefix string) func(memberID, name string) string {
	return func(memberID, name string) string { return prefix + name + ":" + memberID }
}
