package handlers_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"segmentor"
	"segmentor/app"
	"segmentor/bitrix"
	"segmentor/handlers"
	"segmentor/internal/redistest"
	"segmentor/jobs"
)

// BenchmarkEventIngestion measures POST /b24/events end to end over HTTP
// into Redis: accepted events per second and p50/p99 latency. Run with
// REDIS_URL for the real figure; without it, miniredis is far slower.
func BenchmarkEventIngestion(b *testing.B) {
	rdb, _ := redistest.New(b)
	ctx := context.Background()
	seal, _ := app.NewSealer(bytes.Repeat([]byte{1}, 32))
	store := app.NewStore(rdb, seal, nil)
	const member = "a223c6b3710f85df22e9377d6c4f7553"
	const appToken = "51856fefc120afa4b628cc82d3935cce"
	if err := store.Save(ctx, &bitrix.Token{MemberID: member, AccessToken: "a", ClientEndpoint: "https://x.bitrix24.com/rest/"}); err != nil {
		b.Fatal(err)
	}
	_ = store.SetApplicationToken(ctx, member, appToken)
	_ = store.SetState(ctx, member, app.StateActive, "")
	manifest, _ := segmentor.LoadManifest()
	aq := asynq.NewClientFromRedisClient(rdb)
	defer aq.Close()
	h := &handlers.Bitrix24{Store: store, Queue: &jobs.Queue{Client: aq, Redis: rdb}, Manifest: manifest,
		Log: slog.New(slog.DiscardHandler)}
	srv := httptest.NewServer(handlers.Router(handlers.Deps{Manifest: manifest, Bitrix24: h}))
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

	var next atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	b.SetParallelism(4)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			id := next.Add(1) // every event a distinct record: nothing coalesced away
			body := url.Values{"event": {"ONCRMDEALUPDATE"}, "data[FIELDS][ID]": {strconv.FormatInt(id, 10)},
				"ts": {"1736405807"}, "auth[member_id]": {member}, "auth[application_token]": {appToken},
				"auth[domain]": {"x.bitrix24.com"}}.Encode()
			t0 := time.Now()
			resp, err := client.Post(srv.URL+manifest.Handlers.Events, "application/x-www-form-urlencoded", strings.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
			mine = append(mine, time.Since(t0))
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if len(lat) == 0 {
		return
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkRawEnqueue is the ceiling: asynq's grouped enqueue of the same
// task straight into the same Redis, with no HTTP and no checks.
func BenchmarkRawEnqueue(b *testing.B) {
	rdb, _ := redistest.New(b)
	aq := asynq.NewClientFromRedisClient(rdb)
	defer aq.Close()
	var next atomic.Int64
	b.SetParallelism(4)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			t, opts, _ := jobs.NewCRMEventTask(jobs.CRMEventPayload{MemberID: "m", Entity: "deal", ID: next.Add(1)}, 0)
			if _, err := aq.Enqueue(t, opts...); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "enqueues/s")
	b.ReportMetric(0, "ns/op")
}
