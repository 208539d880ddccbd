package jobs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"segmentor"
	"segmentor/app"
	"segmentor/bitrix"
	"segmentor/bitrix/b24sim"
	"segmentor/engine"
	"segmentor/handlers"
	"segmentor/internal/redistest"
	"segmentor/internal/testkit"
	"segmentor/jobs"
)

// appStack is the whole app against a simulated portal, as production wires
// it: the installer and event routes over real HTTP, asynq workers on real
// Redis (in CI) running the classification engine, and b24sim.
type appStack struct {
	sim      *b24sim.Portal
	rdb      *redis.Client
	store    *app.Store
	queue    *jobs.Queue
	cls      *engine.Classifier
	app      *httptest.Server
	manifest *segmentor.Manifest
	memberID string
	now      time.Time
}

// newAppStack starts the app with the REST budget profile given; the engine
// and the store see the time as now, the simulator runs on the wall clock
// (its rate limit drains with real time).
func newAppStack(t testing.TB, opts b24sim.Options, profile bitrix.Profile, now time.Time) *appStack {
	t.Helper()
	rdb, _ := redistest.New(t)
	sim := b24sim.New(opts)
	t.Cleanup(sim.Close)
	log := slog.New(slog.DiscardHandler)
	key := bytes.Repeat([]byte{42}, 32)
	seal, err := app.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	clock := func() time.Time { return now }
	store := app.NewStore(rdb, seal, clock)
	client, err := bitrix.NewClient(bitrix.Config{ClientID: sim.ClientID(), ClientSecret: sim.ClientSecret(),
		OAuthURL: sim.OAuthURL(), Redis: rdb, Tokens: store, AllowHTTP: true,
		Profile: func(context.Context, string) (bitrix.Profile, error) { return profile, nil }})
	if err != nil {
		t.Fatal(err)
	}
	manifest, err := segmentor.LoadManifest()
	if err != nil {
		t.Fatal(err)
	}
	aq := asynq.NewClientFromRedisClient(rdb)
	t.Cleanup(func() { _ = aq.Close() })
	queue := &jobs.Queue{Client: aq, Redis: rdb}
	h := &handlers.Bitrix24{Store: store, Client: client, Queue: queue, Manifest: manifest, Key: key, Log: log,
		Tokens: handlers.TokenCheck{Client: client}, Users: handlers.TokenCheck{Client: client}}
	srv := httptest.NewServer(handlers.Router(handlers.Deps{Logger: log, Manifest: manifest, Bitrix24: h,
		Health: &handlers.Health{Redis: rdb}}))
	t.Cleanup(srv.Close)

	cls := &engine.Classifier{Store: store, Mirror: app.NewMirror(rdb), Bitrix: client,
		FieldName: "UF_CRM_" + manifest.SegmentField.FieldName, Clock: clock, Log: log, InDoubtWait: time.Millisecond}
	cfg := jobs.ServerConfig(log)
	cfg.Logger = testkit.QuietAsynq{}
	worker := asynq.NewServerFromRedisClient(rdb, cfg)
	mux := asynq.NewServeMux()
	w := &jobs.Worker{Store: store, Bitrix: client, Manifest: manifest, AppBaseURL: srv.URL, Log: log,
		Changes: cls, Backfill: cls, Redis: rdb, Queue: queue}
	w.Register(mux)
	if err := worker.Start(mux); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(worker.Shutdown)
	return &appStack{sim: sim, rdb: rdb, store: store, queue: queue, cls: cls, app: srv, manifest: manifest,
		memberID: sim.MemberID(), now: now}
}

// install runs the installer as Bitrix24 does and waits for setup.
func (s *appStack) install(t testing.TB) {
	t.Helper()
	resp, err := s.sim.Install(context.Background(), s.app.URL+s.manifest.Handlers.Install, b24sim.InstallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("install page answered %d", resp.StatusCode)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		p, err := s.store.Portal(context.Background(), s.memberID)
		if err == nil && p.Setup.Phase == "done" {
			break
		}
		if err == nil && p.Setup.Phase == "failed" {
			t.Fatalf("setup failed: %s", p.Setup.Error)
		}
		if time.Now().After(deadline) {
			t.Fatal("setup did not finish within 60 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.sim.FinishInstall()
}

// backfill saves cfg as the portal's config, queues its backfill as saving
// in the settings page does, and waits for it to finish.
func (s *appStack) backfill(t testing.TB, cfg string, within time.Duration) *app.Progress {
	t.Helper()
	ctx := context.Background()
	cur, err := s.store.Config(ctx, s.memberID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.store.PutConfig(ctx, s.memberID, cur.Version, json.RawMessage(cfg), 1); err != nil {
		t.Fatal(err)
	}
	if err := s.store.SetProgress(ctx, s.memberID, "backfill", app.Progress{State: "queued"}); err != nil {
		t.Fatal(err)
	}
	if err := s.queue.Backfill(ctx, s.memberID, "test"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(within)
	for {
		p, err := s.store.Progress(ctx, s.memberID, "backfill")
		if err == nil && p.State == "done" {
			return p
		}
		if err == nil && p.State == "failed" {
			t.Fatalf("backfill failed: %s", p.Error)
		}
		if time.Now().After(deadline) {
			t.Fatalf("backfill not done within %s: %+v", within, p)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// call runs a REST method on the simulator with plain HTTP, as an admin,
// outside the app: the test's own reading of the portal.
func (s *appStack) call(t testing.TB, method string, params map[string]any, out any) {
	t.Helper()
	if params == nil {
		params = map[string]any{}
	}
	params["auth"] = s.sim.IssueTokens(1).AccessToken
	body, _ := json.Marshal(params)
	resp, err := http.Post(s.sim.ClientEndpoint()+method, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env struct {
		Result json.RawMessage `json:"result"`
		Error  string          `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil || env.Error != "" {
		t.Fatalf("%s: %v %s", method, err, env.Error)
	}
	if err := json.Unmarshal(env.Result, out); err != nil {
		t.Fatalf("%s: %v", method, err)
	}
}
