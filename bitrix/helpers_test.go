package bitrix

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"segmentor/internal/fakeclock"

	"github.com/redis/go-redis/v9"

	"segmentor/internal/redistest"
)

// The fake portal and OAuth server live under non-empty path prefixes, so a
// request built from an absolute path instead of the endpoint fails.
const (
	portalPath = "/portal-x/rest/"
	oauthPath  = "/oauth-x"
	testMember = "a223c6b3710f85df22e9377d6c4f7553"
)

type testEnv struct {
	t      testing.TB
	srv    *httptest.Server
	mux    *http.ServeMux
	store  *MemoryTokenStore
	rdb    *redis.Client
	ropts  *redis.Options
	clock  *fakeclock.Clock
	client *Client
	portal *PortalClient

	mu    sync.Mutex
	infos []RequestInfo
}

// setup starts a fake portal and OAuth server and a Client whose stored
// token for testMember is at-0/rt-0, valid for an hour.
func setup(t testing.TB, mods ...func(*Config)) *testEnv {
	t.Helper()
	e := &testEnv{t: t, mux: http.NewServeMux(), clock: fakeclock.At(time.Now())}
	e.srv = httptest.NewServer(e.mux)
	t.Cleanup(e.srv.Close)
	e.rdb, e.ropts = redistest.New(t)
	e.store = NewMemoryTokenStore(&Token{
		MemberID: testMember, AccessToken: "at-0", RefreshToken: "rt-0",
		Expiry: e.clock.Now().Add(time.Hour), ClientEndpoint: e.srv.URL + portalPath,
	})
	e.client = e.newClient(e.clock, mods...)
	e.portal = e.client.Portal(testMember)
	return e
}

// newClient builds another Client on the same Redis database and store:
// a second process.
func (e *testEnv) newClient(clock Clock, mods ...func(*Config)) *Client {
	e.t.Helper()
	rdb := redis.NewClient(e.ropts)
	e.t.Cleanup(func() { _ = rdb.Close() })
	cfg := Config{
		ClientID: "app.1", ClientSecret: "s3cr3t",
		OAuthURL:  e.srv.URL + oauthPath,
		Redis:     rdb,
		Tokens:    e.store,
		Profile:   func(context.Context, string) (Profile, error) { return UnlimitedProfile(), nil },
		AllowHTTP: true,
		Clock:     clock,
		Rand:      func() float64 { return 0.5 },
		RetryWait: 10 * time.Millisecond,
		OnRequest: func(_ context.Context, info RequestInfo) {
			e.mu.Lock()
			e.infos = append(e.infos, info)
			e.mu.Unlock()
		},
	}
	for _, m := range mods {
		m(&cfg)
	}
	c, err := NewClient(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *testEnv) requests() []RequestInfo {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]RequestInfo(nil), e.infos...)
}

// handle serves a REST method of the fake portal.
func (e *testEnv) handle(method string, fn http.HandlerFunc) {
	e.mux.HandleFunc(portalPath+method, fn)
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// readCall checks a REST request's shape and returns its auth and params.
func readCall(t testing.TB, r *http.Request) (string, map[string]any) {
	t.Helper()
	if r.Method != http.MethodPost {
		t.Errorf("method = %s, want POST", r.Method)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q", ct)
	}
	var m map[string]any
	if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
		t.Errorf("body: %v", err)
	}
	auth, _ := m["auth"].(string)
	delete(m, "auth")
	return auth, m
}

// counter counts hits, safe for concurrent handlers.
type counter struct {
	mu sync.Mutex
	n  int
}

func (c *counter) inc() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	return c.n
}

func (c *counter) get() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}
