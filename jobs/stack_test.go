package jobs_test

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"segmentor"
	"segmentor/app"
	"segmentor/bitrix"
	"segmentor/bitrix/b24sim"
	"segmentor/engine"
	"segmentor/internal/testkit"
)

// appStack is the whole app against a simulated portal (testkit.Stack):
// the installer and event routes over real HTTP, asynq workers on real
// Redis (in CI) running the classification engine, and b24sim.
type appStack struct {
	*testkit.Stack
	sim      *b24sim.Portal
	rdb      *redis.Client
	store    *app.Store
	cls      *engine.Classifier
	manifest *segmentor.Manifest
	memberID string
	now      time.Time
}

// newAppStack starts the app with the REST budget profile given; the engine
// and the store see the time as now, the simulator runs on the wall clock
// (its rate limit drains with real time).
func newAppStack(t testing.TB, opts b24sim.Options, profile bitrix.Profile, now time.Time) *appStack {
	t.Helper()
	k := testkit.NewStack(t, testkit.StackOptions{Sim: opts, Limits: &profile, Clock: func() time.Time { return now }})
	return &appStack{Stack: k, sim: k.Sim, rdb: k.RDB, store: k.Store, cls: k.Engine, manifest: k.Manifest,
		memberID: k.Sim.MemberID(), now: now}
}

func (s *appStack) install(testing.TB) { s.Install(b24sim.InstallOptions{}) }

func (s *appStack) backfill(_ testing.TB, cfg string, within time.Duration) *app.Progress {
	return s.Backfill(cfg, within)
}

func (s *appStack) call(_ testing.TB, method string, params map[string]any, out any) {
	s.Call(method, params, out)
}
