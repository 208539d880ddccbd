package registry_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"

	"segmentor/internal/redistest"
	"segmentor/registry"
	"segmentor/registry/gus"
	"segmentor/registry/gussim"
)

// BenchmarkEnrich10k enriches 10,000 companies through Cached and the gus
// client against the simulator over real HTTP and real Redis, from an empty
// cache, with 8 workers. It runs at a raised budget — at the registry's
// published limit 10,000 lookups take hours — and reports what that limit
// would make of the same work:
//
//	wall-s       the wall time of one enrichment at the raised budget
//	limit-min-s  the least time registry.DefaultLimit() allows for the
//	             requests sent (burst aside, at its steady rate)
//	requests     the HTTP requests the simulator answered
func BenchmarkEnrich10k(b *testing.B) {
	const companies, workers = 10_000, 8
	sim := gussim.New(gussim.Options{Seed: 2026, Companies: companies})
	ts := httptest.NewServer(sim)
	b.Cleanup(ts.Close)
	b.Cleanup(sim.Close)
	rdb, _ := redistest.New(b)
	nips := sim.NIPs()
	raised := redis_rate.Limit{Rate: 1_000_000, Period: time.Second, Burst: 1_000}

	var wall time.Duration
	var requests int
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		client, err := gus.New(gus.Config{
			Endpoint: ts.URL + gussim.Path, Key: gus.TestKey,
			HTTP: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: workers}},
		})
		if err != nil {
			b.Fatal(err)
		}
		cached, err := registry.NewCached(client, registry.CacheConfig{
			Redis: rdb, KeyPrefix: fmt.Sprintf("bench:%d:nip:", i), Limit: raised,
		})
		if err != nil {
			b.Fatal(err)
		}
		before := sim.Stats().Requests
		b.StartTimer()

		began := time.Now()
		work := make(chan string)
		var failed sync.Map
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for nip := range work {
					if _, err := cached.Lookup(context.Background(), nip); err != nil {
						failed.Store(nip, err)
					}
				}
			})
		}
		for _, nip := range nips {
			work <- nip
		}
		close(work)
		wg.Wait()
		wall += time.Since(began)

		b.StopTimer()
		requests += sim.Stats().Requests - before
		failed.Range(func(k, v any) bool { b.Errorf("%s: %v", k, v); return false })
		b.StartTimer()
	}
	perRun := float64(requests) / float64(b.N)
	limit := registry.DefaultLimit()
	leastAtLimit := (perRun - float64(limit.Burst)) * limit.Period.Seconds() / float64(limit.Rate)
	b.ReportMetric(wall.Seconds()/float64(b.N), "wall-s")
	b.ReportMetric(leastAtLimit, "limit-min-s")
	b.ReportMetric(perRun, "requests")
	b.Logf("%d lookups: %.0f requests in %.1fs at a raised budget; at %s they take at least %.0fs (%.1fh)",
		companies, perRun, wall.Seconds()/float64(b.N), limit, leastAtLimit, leastAtLimit/3600)
}
