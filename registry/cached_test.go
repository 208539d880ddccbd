package registry_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/google/go-cmp/cmp"

	"segmentor/internal/fakeclock"
	"segmentor/internal/redistest"
	"segmentor/registry"
	"segmentor/registry/gus"
	"segmentor/registry/gussim"
)

const prefix = "seg:registry:nip:"

type world struct {
	sim    *gussim.Server
	cached *registry.Cached
	clock  *fakeclock.Clock
}

// newWorld wires Cached over a gus client over a simulator, all on one
// fake clock unless cfg.Clock is set, on a Redis database of the test's own.
func newWorld(t testing.TB, opts gussim.Options, key string, cfg registry.CacheConfig) *world {
	t.Helper()
	clock := fakeclock.At(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	var c registry.Clock = clock
	if cfg.Clock != nil {
		c = cfg.Clock
	}
	opts.Clock = c
	sim := gussim.New(opts)
	ts := httptest.NewServer(sim)
	t.Cleanup(ts.Close)
	t.Cleanup(sim.Close)
	client, err := gus.New(gus.Config{Endpoint: ts.URL + gussim.Path, Key: key, HTTP: ts.Client(), Clock: c})
	if err != nil {
		t.Fatal(err)
	}
	rdb, _ := redistest.New(t)
	cfg.Redis, cfg.KeyPrefix, cfg.Clock = rdb, prefix, c
	if cfg.Limit.IsZero() {
		cfg.Limit = redis_rate.PerSecond(1000)
	}
	if cfg.Rand == nil {
		cfg.Rand = func() float64 { return 0 }
	}
	cached, err := registry.NewCached(client, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &world{sim: sim, cached: cached, clock: clock}
}

func (w *world) requests() int { return w.sim.Stats().Requests }

func TestCachedServesTheSecondLookupFromRedis(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, gussim.Options{Seed: 3, Companies: 2}, gus.TestKey, registry.CacheConfig{})
	nip := w.sim.NIPs()[0]
	first, err := w.cached.Lookup(ctx, nip)
	if err != nil {
		t.Fatal(err)
	}
	sent := w.requests()
	w.clock.Advance(29 * 24 * time.Hour)
	second, err := w.cached.Lookup(ctx, "PL"+nip)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(first, second); diff != "" {
		t.Errorf("cached answer differs (-first +second):\n%s", diff)
	}
	if n := w.requests(); n != sent {
		t.Errorf("second lookup sent %d requests, want none", n-sent)
	}

	w.clock.Advance(2 * 24 * time.Hour) // 31 days: due for refresh
	third, err := w.cached.Lookup(ctx, nip)
	if err != nil {
		t.Fatal(err)
	}
	if w.requests() == sent {
		t.Error("an answer older than the refresh period was not refreshed")
	}
	if !third.FetchedAt.Equal(w.clock.Now()) {
		t.Errorf("refreshed FetchedAt = %s, want %s", third.FetchedAt, w.clock.Now())
	}
}

func TestCachedRemembersNotFound(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, gussim.Options{Seed: 3, Companies: 2}, gus.TestKey, registry.CacheConfig{})
	for i := range 3 {
		if _, err := w.cached.Lookup(ctx, "5261040828"); !errors.Is(err, registry.ErrNotFound) {
			t.Fatalf("lookup %d: err = %v, want ErrNotFound", i, err)
		}
	}
	if st := w.sim.Stats(); st.ByOperation["DaneSzukajPodmioty"] != 1 {
		t.Errorf("searched %d times, want once", st.ByOperation["DaneSzukajPodmioty"])
	}
	// Registered since: found once the negative entry has gone.
	w.sim.Add(registry.Company{TaxID: "5261040828", Name: "NOWA SPÓŁKA Z OGRANICZONĄ ODPOWIEDZIALNOŚCIĄ", LegalForm: "sp. z o.o.", Region: "Mazowieckie", PKD: "62.01.Z"})
	if err := w.cached.Forget(ctx, "5261040828"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.cached.Lookup(ctx, "5261040828"); err != nil {
		t.Errorf("after Forget: %v", err)
	}
}

func TestCachedRetriesAnUnavailableRegistryAndNeverCachesIt(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, gussim.Options{Seed: 3, Companies: 2}, gus.TestKey, registry.CacheConfig{
		Attempts: 4, Backoff: time.Second, MaxBackoff: 3 * time.Second,
	})
	nip := w.sim.NIPs()[0]
	w.sim.SetOutage(gussim.Refused)
	if _, err := w.cached.Lookup(ctx, nip); !errors.Is(err, registry.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	if n := w.requests(); n != 4 {
		t.Errorf("%d requests, want 4 attempts", n)
	}
	// Rand is 0: each wait is the lower half of its doubling, capped.
	if got, want := w.clock.Sleeps(), []time.Duration{500 * time.Millisecond, time.Second, 1500 * time.Millisecond}; !cmp.Equal(got, want) {
		t.Errorf("backoff waits %v, want %v", got, want)
	}
	w.sim.SetOutage(gussim.Up)
	if _, err := w.cached.Lookup(ctx, nip); err != nil {
		t.Fatalf("registry back: %v (was the outage cached?)", err)
	}
}

func TestCachedServesStaleDuringAnOutage(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, gussim.Options{Seed: 3, Companies: 2}, gus.TestKey, registry.CacheConfig{Attempts: 2})
	nip := w.sim.NIPs()[0]
	fresh, err := w.cached.Lookup(ctx, nip)
	if err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(40 * 24 * time.Hour)
	w.sim.SetOutage(gussim.Refused)
	stale, err := w.cached.Lookup(ctx, nip)
	if err != nil {
		t.Fatalf("stale answer not served: %v", err)
	}
	if diff := cmp.Diff(fresh, stale); diff != "" {
		t.Errorf("stale answer (-fresh +stale):\n%s", diff)
	}
}

func TestCachedNeverSendsAnInvalidNIP(t *testing.T) {
	w := newWorld(t, gussim.Options{Seed: 3, Companies: 2}, gus.TestKey, registry.CacheConfig{})
	for _, bad := range []string{"", "PL 123", "5261040827", "ala ma kota"} {
		if _, err := w.cached.Lookup(context.Background(), bad); !errors.Is(err, registry.ErrInvalidTaxID) {
			t.Errorf("Lookup(%q) err = %v, want ErrInvalidTaxID", bad, err)
		}
	}
	if n := w.requests(); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

func TestCachedDoesNotRetryARefusedKey(t *testing.T) {
	w := newWorld(t, gussim.Options{Seed: 3, Companies: 2}, "nieznanyklucz0000000", registry.CacheConfig{})
	nip := w.sim.NIPs()[0]
	for range 2 {
		if _, err := w.cached.Lookup(context.Background(), nip); !errors.Is(err, registry.ErrUnauthorized) {
			t.Fatalf("err = %v, want ErrUnauthorized", err)
		}
	}
	if n := w.requests(); n != 2 {
		t.Errorf("%d requests, want one login per lookup: no retries, nothing cached", n)
	}
	if s := w.clock.Sleeps(); len(s) != 0 {
		t.Errorf("waited %v", s)
	}
}

func TestCachedKeepsToTheBudget(t *testing.T) {
	ctx := context.Background()
	// One lookup's worth at once, then one request an hour.
	w := newWorld(t, gussim.Options{Seed: 3, Companies: 3}, gus.TestKey, registry.CacheConfig{
		Limit: redis_rate.Limit{Rate: 1, Period: time.Hour, Burst: 3}, MaxWait: time.Minute,
	})
	nips := w.sim.NIPs()
	if _, err := w.cached.Lookup(ctx, nips[0]); err != nil {
		t.Fatal(err)
	}
	sent := w.requests()
	_, err := w.cached.Lookup(ctx, nips[1])
	var limited *registry.RateLimitedError
	if !errors.As(err, &limited) || !errors.Is(err, registry.ErrUnavailable) {
		t.Fatalf("err = %v, want a RateLimitedError counting as ErrUnavailable", err)
	}
	if limited.RetryIn < 2*time.Hour || limited.RetryIn > 3*time.Hour {
		t.Errorf("RetryIn = %s, want about 3 hours (3 requests at 1/h)", limited.RetryIn)
	}
	if n := w.requests(); n != sent {
		t.Errorf("%d requests sent over the budget", n-sent)
	}
}

// The budget is shared in Redis: lookups from several goroutines (as from
// several processes) together keep to it, and the registry refuses none.
func TestCachedBudgetPacesConcurrentLookups(t *testing.T) {
	if testing.Short() {
		t.Skip("takes about a second of wall time")
	}
	const rate, lookups = 90, 30 // 90 requests/s, 3 per lookup
	w := newWorld(t, gussim.Options{Seed: 3, Companies: lookups}, gus.TestKey, registry.CacheConfig{
		Clock: registry.SystemClock,
		Limit: redis_rate.Limit{Rate: rate, Period: time.Second, Burst: 3},
	})
	// The registry enforces the same rate, with room for the login the
	// budget does not see and for requests arriving closer than sent.
	w.sim.SetLimit(gussim.Limit{Rate: rate, Per: time.Second, Burst: 6})
	nips := w.sim.NIPs()
	began := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, lookups)
	for g := range 4 {
		wg.Go(func() {
			for i := g; i < lookups; i += 4 {
				if _, err := w.cached.Lookup(context.Background(), nips[i]); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	elapsed := time.Since(began)
	least := time.Duration(3*lookups-3) * time.Second / rate // all but the first burst paced
	if elapsed < least {
		t.Errorf("%d lookups took %s, less than the %s the budget allows", lookups, elapsed, least)
	}
	if st := w.sim.Stats(); st.Limited != 0 {
		t.Errorf("registry refused %d requests over its limit", st.Limited)
	}
}

func TestNewCachedRefusesABurstBelowALookup(t *testing.T) {
	rdb, _ := redistest.New(t)
	_, err := registry.NewCached(nil, registry.CacheConfig{Redis: rdb, KeyPrefix: prefix, Limit: redis_rate.Limit{Rate: 1, Period: time.Second, Burst: 2}})
	if err == nil {
		t.Error("a budget no lookup fits in was accepted")
	}
}

var _ http.Handler = (*gussim.Server)(nil)
