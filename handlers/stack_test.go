package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
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

// stack is the whole app against a simulated portal: real HTTP both ways,
// real Redis (in CI), an asynq worker, and b24sim.
type stack struct {
	t        *testing.T
	sim      *b24sim.Portal
	app      *httptest.Server
	rdb      *redis.Client
	store    *app.Store
	client   *bitrix.Client
	manifest *segmentor.Manifest
	insp     *asynq.Inspector
	metrics  *handlers.Metrics
	worker   *jobs.Worker
	usage    *app.RESTUsage
}

func newStack(t *testing.T, opts b24sim.Options) *stack {
	t.Helper()
	rdb, _ := redistest.New(t)
	sim := b24sim.New(opts)
	t.Cleanup(sim.Close)
	log := slog.New(slog.DiscardHandler)
	key := bytes.Repeat([]byte{42}, 32)
	seal, _ := app.NewSealer(key)
	store := app.NewStore(rdb, seal, nil)
	metrics := handlers.NewMetrics(asynq.NewInspectorFromRedisClient(rdb))
	usage := app.NewRESTUsage(rdb, nil)
	client, err := bitrix.NewClient(bitrix.Config{
		OnRequest: func(ctx context.Context, info bitrix.RequestInfo) {
			metrics.ObserveREST(ctx, info)
			usage.Observe(ctx, info)
		},
		ClientID: sim.ClientID(), ClientSecret: sim.ClientSecret(), OAuthURL: sim.OAuthURL(),
		Redis: rdb, Tokens: store, AllowHTTP: true,
	})
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
	h := &handlers.Bitrix24{Metrics: metrics, Store: store, Client: client, Queue: queue, Manifest: manifest, Key: key, Log: log,
		Tokens: handlers.TokenCheck{Client: client, MaxWait: handlers.InstallWait},
		Users:  handlers.TokenCheck{Client: client, MaxWait: handlers.InstallWait}}
	srv := httptest.NewServer(handlers.Router(handlers.Deps{Logger: log, Manifest: manifest, Bitrix24: h, Metrics: metrics,
		Health: &handlers.Health{Redis: rdb}}))
	t.Cleanup(srv.Close)

	cfg := jobs.ServerConfig(log)
	cfg.Logger = testkit.QuietAsynq{}
	worker := asynq.NewServerFromRedisClient(rdb, cfg)
	mux := asynq.NewServeMux()
	mux.Use(jobs.Observe(metrics.ObserveJob))
	w := &jobs.Worker{Store: store, Bitrix: client, Manifest: manifest, AppBaseURL: srv.URL, Log: log,
		Changes: jobs.Recorder{Store: store}, Redis: rdb, Queue: queue,
		Backfill: &engine.Classifier{Store: store, Mirror: app.NewMirror(rdb), Bitrix: client,
			FieldName: "UF_CRM_" + manifest.SegmentField.FieldName, Log: log}}
	w.Register(mux)
	if err := worker.Start(mux); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(worker.Shutdown)
	insp := asynq.NewInspectorFromRedisClient(rdb)
	return &stack{t: t, sim: sim, app: srv, rdb: rdb, store: store, client: client, manifest: manifest, insp: insp, metrics: metrics, worker: w, usage: usage}
}

// install runs the installer as Bitrix24 does, waits for setup to finish,
// then presses "install finished" as the page's BX24.installFinish would.
func (s *stack) install(opt b24sim.InstallOptions) {
	s.t.Helper()
	ctx := context.Background()
	resp, err := s.sim.Install(ctx, s.app.URL+s.manifest.Handlers.Install, opt)
	if err != nil {
		s.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		s.t.Fatalf("install page answered %d", resp.StatusCode)
	}
	s.waitSetup()
	s.sim.FinishInstall()
}

func (s *stack) waitSetup() *app.Portal {
	s.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		p, err := s.store.Portal(context.Background(), s.sim.MemberID())
		if err == nil && p.Setup.Phase == "done" {
			return p
		}
		if err == nil && p.Setup.Phase == "failed" {
			s.t.Fatalf("setup failed: %s", p.Setup.Error)
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatal("setup did not finish within 60s")
	return nil
}

// commands counts the REST commands the app sent, by method, batches
// opened up.
func (s *stack) commands() map[string]int {
	n := map[string]int{}
	for _, r := range s.sim.Requests() {
		if r.Method == "batch" {
			for _, c := range r.Commands {
				n[c]++
			}
			continue
		}
		n[r.Method]++
	}
	return n
}

func (s *stack) queued() int {
	total := 0
	queues, _ := s.insp.Queues()
	for _, q := range queues {
		info, err := s.insp.GetQueueInfo(q)
		if err == nil {
			total += info.Size + info.Aggregating
		}
	}
	return total
}

func decodeJSON(t *testing.T, raw []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
}
