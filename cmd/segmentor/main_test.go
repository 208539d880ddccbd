package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"segmentor/internal/await"

	"segmentor/internal/redistest"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// With no configuration at all, serve starts on the embedded Redis, says so
// loudly, answers the probes (and no operator route: there is no operator
// to ask) and stops cleanly when its context ends.
func TestServeWithNoConfiguration(t *testing.T) {
	var logs syncBuffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	getenv := env(map[string]string{"LISTEN_ADDR": "127.0.0.1:0"})
	go func() { done <- run(ctx, []string{"serve"}, getenv, log, ready) }()

	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("serve stopped: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start within 30s")
	}
	for _, path := range []string{"/ops/queues", "/metrics"} {
		if code, _ := httpGet(t, "http://"+addr+path, ""); code != 404 {
			t.Errorf("GET %s with no OPS_ADDR or OPS_PASSWORD = %d, want 404", path, code)
		}
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET %s = %d %v", path, resp.StatusCode, body)
		}
		if path == "/readyz" && body["embedded_redis"] != true {
			t.Errorf("/readyz must flag the embedded Redis: %v", body)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("clean shutdown returned %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop within 30s of cancel")
	}
	if !strings.Contains(logs.String(), "embedded in-memory Redis") {
		t.Errorf("no loud warning about the embedded Redis in logs:\n%s", logs.String())
	}
}

func TestRunRefusesBadInput(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	tests := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"frobnicate"}, nil, `unknown command "frobnicate"`},
		{[]string{"worker"}, nil, "embedded Redis lives inside one process"},
		{nil, map[string]string{"ROLE": "worker"}, "embedded Redis lives inside one process"},
		{[]string{"serve"}, map[string]string{"OPS_ADDR": "9090"}, `OPS_ADDR "9090"`},
		{[]string{"serve"}, map[string]string{"REDIS_URL": "redis://127.0.0.1:1/0", "APP_BASE_URL": "https://x.example", "B24_CLIENT_ID": "a", "B24_CLIENT_SECRET": "b", "APP_SECRET_KEY": strings.Repeat("00", 32)}, "does not answer"},
		{[]string{"serve"}, map[string]string{"REDIS_URL": "redis://h:6379"}, "APP_BASE_URL is required"},
	}
	for _, tt := range tests {
		err := run(context.Background(), tt.args, env(tt.env), log, nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("run(%v) = %v, want an error containing %q", tt.args, err, tt.want)
		}
	}
}

// The embedded Redis expires keys on the wall clock (locks, leases and
// heartbeats depend on it), within a tick of their TTL.
func TestEmbeddedRedisExpiresKeys(t *testing.T) {
	ctx := context.Background()
	rdb, embedded, closeRedis, err := openRedis(ctx, config{}, slog.New(slog.DiscardHandler))
	if err != nil || !embedded {
		t.Fatalf("openRedis(\"\") = embedded %v, %v", embedded, err)
	}
	defer closeRedis()
	if err := rdb.Set(ctx, "lease", "x", 300*time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Set(ctx, "kept", "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if !await.Poll(300*time.Millisecond+4*ttlTick, func() bool { return rdb.Exists(ctx, "lease").Val() == 0 }) {
		t.Fatalf("a key with a 300ms TTL still exists after %s", time.Since(start))
	}
	if gone := time.Since(start); gone < 300*time.Millisecond-50*time.Millisecond {
		t.Errorf("the key expired after %s, before its TTL", gone)
	}
	if rdb.Exists(ctx, "kept").Val() != 1 {
		t.Error("a key without a TTL expired")
	}
}

// A worker (ROLE=worker, no subcommand) serves the probes and its own
// metrics on OPS_ADDR, and nothing of the app; healthcheck finds it there.
func TestWorkerServesProbesAndMetrics(t *testing.T) {
	_, opt := redistest.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	getenv := env(map[string]string{"ROLE": "worker", "REDIS_URL": "redis://" + opt.Addr + "/" + strconv.Itoa(opt.DB),
		"OPS_ADDR": "127.0.0.1:0", "APP_BASE_URL": "https://seg.example.com", "B24_CLIENT_ID": "app.1", "B24_CLIENT_SECRET": "s",
		"APP_SECRET_KEY": strings.Repeat("ab", 32), "OPS_USER": "night", "OPS_PASSWORD": "a-long-operator-password"})
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, getenv, slog.New(slog.DiscardHandler), ready) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("worker stopped: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("worker did not serve OPS_ADDR within 30s")
	}
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/metrics": 200, "/b24/install": 404, "/api/v1/config": 404} {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("worker GET %s = %d, want %d", path, resp.StatusCode, want)
		}
		if path == "/metrics" && !strings.Contains(string(body), "go_goroutines") {
			t.Errorf("worker /metrics lacks the process metrics:\n%.300s", body)
		}
		if path == "/readyz" && !strings.Contains(string(body), `"embedded_redis":false`) {
			t.Errorf("worker /readyz = %s", body)
		}
	}
	// The queue view: behind the operator credential, read-only.
	for _, c := range []struct {
		method, user, pass string
		want               int
	}{
		{"GET", "", "", 401},
		{"GET", "night", "wrong", 401},
		{"GET", "night", "a-long-operator-password", 200},
		{"POST", "night", "a-long-operator-password", 404},
	} {
		req, _ := http.NewRequest(c.method, "http://"+addr+"/ops/queues?format=json", nil)
		if c.user != "" {
			req.SetBasicAuth(c.user, c.pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.want || c.want == 200 && !strings.Contains(string(body), `"queues"`) {
			t.Errorf("worker %s /ops/queues as %q = %d %.200s, want %d", c.method, c.user, resp.StatusCode, body, c.want)
		}
	}
	if err := healthcheck(ctx, env(map[string]string{"ROLE": "worker", "OPS_ADDR": addr})); err != nil {
		t.Errorf("healthcheck of a live worker: %v", err)
	}
	if err := healthcheck(ctx, env(map[string]string{"ROLE": "worker"})); err == nil || !strings.Contains(err.Error(), "OPS_ADDR") {
		t.Errorf("healthcheck of a worker without OPS_ADDR: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("worker stopped with %v", err)
	}
	if err := healthcheck(context.Background(), env(map[string]string{"LISTEN_ADDR": addr})); err == nil {
		t.Error("healthcheck passed against a stopped process")
	}
}

// With OPS_ADDR, serve answers the operator routes there and only there:
// LISTEN_ADDR, the public address, keeps the probes but has no /metrics
// (whose series name portals) and no queue view, credential or not. The
// public address's requests are counted in what OPS_ADDR serves.
func TestServeAnswersOperatorsOnOpsAddr(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	const pass = "a-long-operator-password"
	getenv := env(map[string]string{"LISTEN_ADDR": "127.0.0.1:0", "OPS_ADDR": "127.0.0.1:0", "OPS_PASSWORD": pass})
	ready := make(chan string, 2)
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve"}, getenv, slog.New(slog.DiscardHandler), ready) }()
	var addrs []string
	for len(addrs) < 2 {
		select {
		case addr := <-ready:
			addrs = append(addrs, "http://"+addr)
		case err := <-done:
			t.Fatalf("serve stopped: %v", err)
		case <-time.After(30 * time.Second):
			t.Fatalf("serve did not listen on both addresses within 30s: %v", addrs)
		}
	}
	public, ops := addrs[0], addrs[1]

	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/metrics": 404, "/ops/queues": 404} {
		for _, auth := range []string{"", pass} {
			if code, _ := httpGet(t, public+path, auth); code != want {
				t.Errorf("public GET %s (password %q) = %d, want %d", path, auth, code, want)
			}
		}
	}
	// Scraped before OPS_ADDR has answered anything else: the two probes
	// counted are the public address's.
	if code, body := httpGet(t, ops+"/metrics", ""); code != 200 || !strings.Contains(body, `segmentor_http_requests_total{route="/healthz",status="200"} 2`+"\n") {
		t.Errorf("OPS_ADDR /metrics = %d, without the public address's 2 probes:\n%s", code, body)
	}
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/b24/app": 404, "/api/v1/config": 404} {
		if code, _ := httpGet(t, ops+path, ""); code != want {
			t.Errorf("OPS_ADDR GET %s = %d, want %d", path, code, want)
		}
	}
	if code, _ := httpGet(t, ops+"/ops/queues?format=json", ""); code != 401 {
		t.Errorf("OPS_ADDR /ops/queues without the credential = %d, want 401", code)
	}
	if code, body := httpGet(t, ops+"/ops/queues?format=json", pass); code != 200 || !strings.Contains(body, `"queues"`) {
		t.Errorf("OPS_ADDR /ops/queues with the credential = %d %.200s, want 200", code, body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve stopped with %v", err)
	}
}

// httpGet answers a GET of url with its status and body, as the operator
// ops with password when it is set.
func httpGet(t *testing.T, url, password string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if password != "" {
		req.SetBasicAuth("ops", password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}
