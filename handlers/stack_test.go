package handlers_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"segmentor"
	"segmentor/app"
	"segmentor/bitrix"
	"segmentor/bitrix/b24sim"
	"segmentor/engine"
	"segmentor/handlers"
	"segmentor/internal/testkit"
	"segmentor/jobs"
)

// stack is the whole app against a simulated portal (testkit.Stack), its
// merged CRM changes recorded in the store (jobs.Recorder) rather than
// classified: the handlers' tests check the path from an event to a job.
type stack struct {
	t *testing.T
	*testkit.Stack
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
	return stackOf(t, testkit.StackOptions{Sim: opts, Changes: nil})
}

func stackOf(t *testing.T, o testkit.StackOptions) *stack {
	t.Helper()
	var k *testkit.Stack
	if o.Changes == nil {
		o.Changes = recorderOf(&k)
	}
	k = testkit.NewStack(t, o)
	return &stack{t: t, Stack: k, sim: k.Sim, app: k.Server, rdb: k.RDB, store: k.Store, client: k.Bitrix,
		manifest: k.Manifest, insp: k.Inspector, metrics: k.Metrics, worker: k.Worker, usage: k.Usage}
}

// recorderOf records the changes in the store of the stack *k will be.
func recorderOf(k **testkit.Stack) jobs.ChangeSink {
	return changeFunc(func(ctx context.Context, c engine.Change) error {
		return jobs.Recorder{Store: (*k).Store}.Apply(ctx, c)
	})
}

type changeFunc func(ctx context.Context, c engine.Change) error

func (f changeFunc) Apply(ctx context.Context, c engine.Change) error { return f(ctx, c) }

// install runs the installer as Bitrix24 does, waits for setup to finish,
// then presses "install finished" as the page's BX24.installFinish would.
func (s *stack) install(opt b24sim.InstallOptions) { s.Install(opt) }

func (s *stack) waitSetup() *app.Portal { return s.WaitSetup() }

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
