package handlers_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"segmentor/internal/fakeclock"

	"github.com/redis/go-redis/v9"

	"segmentor/handlers"
	"segmentor/internal/redistest"
)

func get(t *testing.T, srv *httptest.Server, path string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("GET %s: body is not JSON: %v", path, err)
	}
	return resp.StatusCode, body
}

func TestHealthAndReadiness(t *testing.T) {
	rdb, _ := redistest.New(t)
	h := &handlers.Health{Redis: rdb, Embedded: true, NeedsReauth: func(context.Context) (int, error) { return 2, nil }}
	srv := httptest.NewServer(handlers.Router(handlers.Deps{Health: h}))
	defer srv.Close()

	if code, body := get(t, srv, "/healthz"); code != 200 || body["status"] != "ok" {
		t.Errorf("/healthz = %d %v", code, body)
	}
	code, body := get(t, srv, "/readyz")
	if code != 200 || body["status"] != "ready" || body["embedded_redis"] != true || body["portals_needing_reauth"] != float64(2) || body["warning"] == nil {
		t.Errorf("/readyz = %d %v", code, body)
	}
	if code, body := get(t, srv, "/no-such-page"); code != 404 || body["error"] != "not_found" {
		t.Errorf("unknown route = %d %v", code, body)
	}
}

func TestReadinessFailsWithoutRedis(t *testing.T) {
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	defer dead.Close()
	srv := httptest.NewServer(handlers.Router(handlers.Deps{Health: &handlers.Health{Redis: dead}}))
	defer srv.Close()
	if code, body := get(t, srv, "/readyz"); code != http.StatusServiceUnavailable || body["status"] != "unavailable" {
		t.Errorf("/readyz with Redis down = %d %v", code, body)
	}
	rdb, _ := redistest.New(t)
	failing := &handlers.Health{Redis: rdb, NeedsReauth: func(context.Context) (int, error) { return 0, errors.New("store down") }}
	srv2 := httptest.NewServer(handlers.Router(handlers.Deps{Health: failing}))
	defer srv2.Close()
	if code, _ := get(t, srv2, "/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz with a failing store = %d, want 503", code)
	}
}

// Counting portals that need re-authorization reads every portal: probes
// reuse a count for ReauthTTL, while Redis is still pinged on every probe.
func TestReadinessReusesTheReauthCount(t *testing.T) {
	rdb, _ := redistest.New(t)
	calls := 0
	clock := fakeclock.At(time.Now())
	h := &handlers.Health{Redis: rdb, ReauthTTL: 30 * time.Second, Clock: clock.Now,
		NeedsReauth: func(context.Context) (int, error) { calls++; return calls, nil }}
	srv := httptest.NewServer(handlers.Router(handlers.Deps{Health: h}))
	defer srv.Close()
	for range 3 {
		if code, body := get(t, srv, "/readyz"); code != 200 || body["portals_needing_reauth"] != float64(1) {
			t.Errorf("/readyz = %d %v, want the first count reused", code, body)
		}
	}
	clock.Advance(31 * time.Second)
	if _, body := get(t, srv, "/readyz"); body["portals_needing_reauth"] != float64(2) || calls != 2 {
		t.Errorf("after the TTL: %v, %d counts; want a fresh count", body, calls)
	}
}
