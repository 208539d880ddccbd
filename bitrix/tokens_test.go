package bitrix

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeOAuth is an authorization server whose refresh tokens are single-use:
// each refresh returns a new pair and reusing an old token is invalid_grant.
type fakeOAuth struct {
	t        testing.TB
	endpoint string // client_endpoint it reports

	mu            sync.Mutex
	current       string // the one valid refresh token
	gen           int
	refreshes     int
	invalidGrants int
	answer        string // if set, answer this error code instead
	member        string
	onRotate      func(access string)
}

func (e *testEnv) oauth() *fakeOAuth {
	o := &fakeOAuth{t: e.t, current: "rt-0", endpoint: e.srv.URL + portalPath, member: testMember}
	e.mux.Handle(oauthPath+"/oauth/token/", o)
	return o
}

func (o *fakeOAuth) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// settings/oauth/auto-renewal.md: a GET with the grant in the query.
	if r.Method != http.MethodGet {
		o.t.Errorf("oauth: method %s, want GET", r.Method)
	}
	if b, _ := io.ReadAll(r.Body); len(b) > 0 {
		o.t.Errorf("oauth: a body %q", b)
	}
	f := r.URL.Query()
	if f.Get("client_id") != "app.1" || f.Get("client_secret") != "s3cr3t" {
		o.t.Errorf("oauth: client credentials %v", f)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.answer != "" {
		writeJSON(w, 400, fmt.Sprintf(`{"error":%q,"error_description":"refused"}`, o.answer))
		return
	}
	switch f.Get("grant_type") {
	case "refresh_token":
		o.refreshes++
		if f.Get("refresh_token") != o.current {
			o.invalidGrants++
			writeJSON(w, 400, `{"error":"invalid_grant","error_description":"Invalid grant"}`)
			return
		}
	case "authorization_code":
		if f.Get("code") != "code-1" {
			writeJSON(w, 400, `{"error":"invalid_grant","error_description":"Invalid code"}`)
			return
		}
	default:
		o.t.Errorf("oauth: grant_type %q", f.Get("grant_type"))
	}
	o.gen++
	o.current = fmt.Sprintf("rt-%d", o.gen)
	access := fmt.Sprintf("at-%d", o.gen)
	if o.onRotate != nil {
		o.onRotate(access)
	}
	writeJSON(w, 200, fmt.Sprintf(`{"access_token":%q,"client_endpoint":%q,"domain":"oauth.bitrix.info",
		"expires":1780319382,"expires_in":3600,"member_id":%q,"refresh_token":%q,"scope":"crm,placement",
		"server_endpoint":"https://oauth.bitrix.info/rest/","status":"L","user_id":67}`,
		access, o.endpoint, o.member, o.current))
}

func (o *fakeOAuth) counts() (refreshes, invalidGrants int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.refreshes, o.invalidGrants
}

// tokenPortal answers crm.deal.get for the one valid access token and
// oldCode (expired_token or invalid_token) for any other.
type tokenPortal struct {
	mu      sync.Mutex
	valid   string
	served  int
	expireN int // the first token expires after this many calls
	oldCode string
}

func (p *tokenPortal) rotate(access string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.valid = access
}

func (p *tokenPortal) handler(t testing.TB) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		auth, _ := readCall(t, r)
		p.mu.Lock()
		ok := auth == p.valid && !(auth == "at-0" && p.served >= p.expireN)
		if ok {
			p.served++
		}
		code := p.oldCode
		if auth == "at-0" && p.valid == "at-0" {
			code = "expired_token"
		}
		p.mu.Unlock()
		if !ok {
			writeJSON(w, 401, fmt.Sprintf(`{"error":%q,"error_description":"The access token provided has expired."}`, code))
			return
		}
		writeJSON(w, 200, `{"result":{"ID":"1"}}`)
	}
}

func TestRefreshOnExpiredToken(t *testing.T) {
	e := setup(t)
	o := e.oauth()
	tp := &tokenPortal{valid: "at-0", expireN: 0, oldCode: "expired_token"}
	o.onRotate = tp.rotate
	e.handle("crm.deal.get", tp.handler(t))

	if _, err := e.portal.Call(context.Background(), "crm.deal.get", nil, nil); err != nil {
		t.Fatal(err)
	}
	if r, _ := o.counts(); r != 1 {
		t.Errorf("refreshes = %d", r)
	}
	stored, _ := e.store.Load(context.Background(), testMember)
	if stored.AccessToken != "at-1" || stored.RefreshToken != "rt-1" || stored.ClientEndpoint != e.srv.URL+portalPath ||
		!stored.Expiry.Equal(e.clock.Now().Add(time.Hour)) || stored.UserID != 67 || stored.Scope != "crm,placement" {
		t.Errorf("stored = %+v", stored)
	}
	var methods []string
	for _, i := range e.requests() {
		methods = append(methods, fmt.Sprintf("%s:%d", i.Method, i.Status))
	}
	if got := strings.Join(methods, " "); got != "crm.deal.get:401 oauth.token:0 crm.deal.get:200" {
		t.Errorf("requests = %s", got)
	}
}

func TestRefreshWhenStoredExpiryPassed(t *testing.T) {
	e := setup(t)
	o := e.oauth()
	tp := &tokenPortal{valid: "at-0", expireN: 1 << 30, oldCode: "expired_token"}
	o.onRotate = tp.rotate
	e.handle("crm.deal.get", tp.handler(t))
	tok, _ := e.store.Load(context.Background(), testMember)
	tok.Expiry = e.clock.Now().Add(-time.Minute)
	_ = e.store.Save(context.Background(), tok)

	if _, err := e.portal.Call(context.Background(), "crm.deal.get", nil, nil); err != nil {
		t.Fatal(err)
	}
	if r, _ := o.counts(); r != 1 {
		t.Errorf("refreshes = %d", r)
	}
	if n := len(e.requests()); n != 2 { // oauth.token + one REST call
		t.Errorf("requests = %d, want 2", n)
	}
}

func TestRefreshFailuresNeedReauth(t *testing.T) {
	for _, code := range []string{"invalid_grant", "invalid_token", "PAYMENT_REQUIRED"} {
		t.Run(code, func(t *testing.T) {
			e := setup(t)
			o := e.oauth()
			o.answer = code
			hits := &counter{}
			e.handle("crm.deal.get", func(w http.ResponseWriter, r *http.Request) {
				hits.inc()
				writeJSON(w, 401, `{"error":"expired_token","error_description":"expired"}`)
			})
			ctx := context.Background()
			_, err := e.portal.Call(ctx, "crm.deal.get", nil, nil)
			var re *ReauthError
			if !errors.As(err, &re) || !errors.Is(err, ErrNeedsReauth) || !IsPortalGone(err) || re.MemberID != testMember {
				t.Fatalf("err = %v, want ReauthError", err)
			}
			if !e.store.NeedsReauth(testMember) {
				t.Error("store not marked")
			}
			// No loop: the next call fails at once, without the network.
			_, err = e.portal.Call(ctx, "crm.deal.get", nil, nil)
			if !errors.Is(err, ErrNeedsReauth) {
				t.Errorf("second call err = %v", err)
			}
			o.mu.Lock()
			o.answer = ""
			o.mu.Unlock()
			if hits.get() != 1 {
				t.Errorf("portal hits = %d, want 1", hits.get())
			}
		})
	}
}

func TestInvalidTokenFromPortal(t *testing.T) {
	t.Run("marks reauth", func(t *testing.T) {
		e := setup(t)
		o := e.oauth()
		e.handle("crm.deal.get", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 401, `{"error":"invalid_token","error_description":"Unable to get application by token"}`)
		})
		_, err := e.portal.Call(context.Background(), "crm.deal.get", nil, nil)
		if !errors.Is(err, ErrNeedsReauth) || !IsInvalidToken(err) {
			t.Fatalf("err = %v", err)
		}
		if r, _ := o.counts(); r != 0 || !e.store.NeedsReauth(testMember) {
			t.Errorf("refreshes = %d, marked = %v", r, e.store.NeedsReauth(testMember))
		}
	})
	t.Run("another process refreshed", func(t *testing.T) {
		e := setup(t)
		tp := &tokenPortal{valid: "at-0", expireN: 1 << 30, oldCode: "invalid_token"}
		e.handle("crm.deal.get", tp.handler(t))
		ctx := context.Background()
		if _, err := e.portal.Call(ctx, "crm.deal.get", nil, nil); err != nil {
			t.Fatal(err)
		}
		// Elsewhere the pair was rotated; this process still caches at-0.
		tok, _ := e.store.Load(ctx, testMember)
		tok.AccessToken, tok.RefreshToken = "at-7", "rt-7"
		_ = e.store.Save(ctx, tok)
		tp.rotate("at-7")
		if _, err := e.portal.Call(ctx, "crm.deal.get", nil, nil); err != nil {
			t.Fatalf("err = %v", err)
		}
		if e.store.NeedsReauth(testMember) {
			t.Error("marked for reauth")
		}
	})
}

// Two clients stand for two processes: one Redis, one store, each with its
// own cache and singleflight. The access token expires mid-run.
func TestRefreshSingleFlightAcrossProcesses(t *testing.T) {
	for _, oldCode := range []string{"expired_token", "invalid_token"} {
		t.Run(oldCode, func(t *testing.T) {
			e := setup(t)
			o := e.oauth()
			tp := &tokenPortal{valid: "at-0", expireN: 30, oldCode: oldCode}
			o.onRotate = tp.rotate
			e.handle("crm.deal.get", tp.handler(t))
			clients := []*Client{e.client, e.newClient(e.clock)}

			const workers, calls = 8, 25
			var wg sync.WaitGroup
			errs := make(chan error, 2*workers*calls)
			for _, c := range clients {
				p := c.Portal(testMember)
				for range workers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for range calls {
							if _, err := p.Call(context.Background(), "crm.deal.get", nil, nil); err != nil {
								errs <- err
							}
						}
					}()
				}
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Errorf("call failed: %v", err)
			}
			refreshes, invalid := o.counts()
			if refreshes != 1 || invalid != 0 {
				t.Errorf("refreshes = %d, invalid_grant = %d; want 1, 0", refreshes, invalid)
			}
			tp.mu.Lock()
			served := tp.served
			tp.mu.Unlock()
			if served != 2*workers*calls {
				t.Errorf("served %d calls, want %d", served, 2*workers*calls)
			}
			if stored, _ := e.store.Load(context.Background(), testMember); stored.RefreshToken != "rt-1" {
				t.Errorf("stored refresh token %q", stored.RefreshToken)
			}
		})
	}
}

func TestExchange(t *testing.T) {
	e := setup(t)
	e.oauth()
	ctx := context.Background()
	tok, err := e.client.ExchangeRefreshToken(ctx, "rt-0")
	if err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(e.srv.URL, "http://")
	if tok.MemberID != testMember || tok.AccessToken != "at-1" || tok.RefreshToken != "rt-1" ||
		tok.ClientEndpoint != e.srv.URL+portalPath || tok.Domain != host || tok.Status != "L" ||
		tok.ServerEndpoint != "https://oauth.bitrix.info/rest/" || !tok.Expiry.Equal(e.clock.Now().Add(time.Hour)) {
		t.Errorf("token = %+v", tok)
	}
	// The store is not touched by a bare exchange.
	if stored, _ := e.store.Load(ctx, testMember); stored.AccessToken != "at-0" {
		t.Errorf("store changed: %+v", stored)
	}
	if _, err := e.client.ExchangeRefreshToken(ctx, "rt-0"); !hasCode(err, "invalid_grant") {
		t.Errorf("reused token: err = %v", err)
	}
	tok, err = e.client.ExchangeCode(ctx, "code-1")
	if err != nil || tok.AccessToken != "at-2" {
		t.Errorf("code exchange: %+v, %v", tok, err)
	}
	if _, err := e.client.ExchangeCode(ctx, ""); err == nil {
		t.Error("empty code accepted")
	}
}

func TestExchangeUnexpectedAnswer(t *testing.T) {
	e := setup(t)
	e.mux.HandleFunc(oauthPath+"/oauth/token/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(502)
		_, _ = w.Write([]byte("<html><title>Bad Gateway</title></html>"))
	})
	_, err := e.client.ExchangeRefreshToken(context.Background(), "rt-0")
	var ue *UnexpectedResponseError
	if !errors.As(err, &ue) || ue.Status != 502 || ue.Snippet != "Bad Gateway" {
		t.Errorf("err = %#v", err)
	}
}

func TestRefreshRejectsOtherMember(t *testing.T) {
	e := setup(t)
	o := e.oauth()
	o.member = "ffffffffffffffffffffffffffffffff"
	e.handle("crm.deal.get", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 401, `{"error":"expired_token","error_description":"expired"}`)
	})
	_, err := e.portal.Call(context.Background(), "crm.deal.get", nil, nil)
	if err == nil || !strings.Contains(err.Error(), "answered for member") {
		t.Fatalf("err = %v", err)
	}
	if stored, _ := e.store.Load(context.Background(), testMember); stored.RefreshToken != "rt-0" {
		t.Errorf("foreign token saved: %+v", stored)
	}
}

func TestMemoryTokenStore(t *testing.T) {
	ctx := context.Background()
	s := NewMemoryTokenStore()
	if _, err := s.Load(ctx, "x"); !errors.Is(err, ErrNoToken) {
		t.Errorf("Load unknown: %v", err)
	}
	if err := s.Save(ctx, &Token{}); err == nil {
		t.Error("saved without member")
	}
	tok := &Token{MemberID: "x", AccessToken: "a"}
	_ = s.Save(ctx, tok)
	tok.AccessToken = "mutated"
	got, _ := s.Load(ctx, "x")
	if got.AccessToken != "a" {
		t.Error("store keeps a reference, not a copy")
	}
	_ = s.MarkNeedsReauth(ctx, "x", errors.New("gone"))
	if _, err := s.Load(ctx, "x"); !errors.Is(err, ErrNeedsReauth) {
		t.Errorf("Load after mark: %v", err)
	}
	_ = s.Save(ctx, &Token{MemberID: "x", AccessToken: "b"})
	if got, err := s.Load(ctx, "x"); err != nil || got.AccessToken != "b" || s.Saves() != 2 {
		t.Errorf("Load after re-save: %v, %v", got, err)
	}
}

func TestInstallPortal(t *testing.T) {
	const other = "ffffffffffffffffffffffffffffffff"
	tests := []struct {
		name    string
		posted  string
		answer  string // OAuth error code
		wantErr bool
	}{
		{"verified", other, "", false},
		{"member mismatch", "0000000000000000000000000000000a", "", true},
		{"refresh token refused", other, "invalid_grant", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t)
			o := e.oauth()
			o.member, o.answer = other, tt.answer
			f := &FrameRequest{MemberID: tt.posted, AuthID: "a", RefreshID: "rt-0", Scope: []string{"crm"}}
			tok, err := e.client.InstallPortal(context.Background(), f)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			stored, lerr := e.store.Load(context.Background(), other)
			if tt.wantErr {
				if lerr == nil {
					t.Errorf("stored after a failed install: %+v", stored)
				}
				return
			}
			if lerr != nil || stored.AccessToken != "at-1" || stored.RefreshToken != "rt-1" || tok.ClientEndpoint != e.srv.URL+portalPath {
				t.Errorf("stored = %+v, %v", stored, lerr)
			}
		})
	}
}

func TestPortalTokenSource(t *testing.T) {
	e := setup(t)
	ot, err := e.portal.TokenSource(context.Background()).Token()
	if err != nil || ot.AccessToken != "at-0" || ot.RefreshToken != "rt-0" {
		t.Errorf("token = %+v, %v", ot, err)
	}
	_, err = e.client.Portal("unknown").TokenSource(context.Background()).Token()
	if !errors.Is(err, ErrNoToken) {
		t.Errorf("unknown portal: %v", err)
	}
}

func TestForgetDropsCache(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	if _, err := e.portal.Token(ctx); err != nil {
		t.Fatal(err)
	}
	tok, _ := e.store.Load(ctx, testMember)
	tok.AccessToken = "at-9"
	_ = e.store.Save(ctx, tok)
	if got, _ := e.portal.Token(ctx); got.AccessToken != "at-0" {
		t.Fatalf("cache not used: %+v", got)
	}
	e.client.Forget(testMember)
	if got, _ := e.portal.Token(ctx); got.AccessToken != "at-9" {
		t.Errorf("after Forget: %+v", got)
	}
}

// The exchange's query string carries the client secret, so a transport
// error must not quote the URL (errors end up in logs).
func TestExchangeErrorKeepsTheSecretOut(t *testing.T) {
	e := setup(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	_ = ln.Close()
	c, err := NewClient(Config{ClientID: "app.1", ClientSecret: "s3cr3t", OAuthURL: dead, Redis: e.rdb, Tokens: NewMemoryTokenStore()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ExchangeRefreshToken(context.Background(), "rt-secret-0")
	if err == nil {
		t.Fatal("exchange with a dead OAuth server succeeded")
	}
	if strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), "rt-secret-0") {
		t.Errorf("error quotes a secret: %v", err)
	}
}
