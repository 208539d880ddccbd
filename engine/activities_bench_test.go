package engine_test

import (
	"context"
	"strings"
	"testing"
	"unsafe"

	"github.com/redis/go-redis/v9"

	"segmentor/app/segment"
	"segmentor/bitrix"
	"segmentor/bitrix/b24sim"
	"segmentor/engine"
	"segmentor/internal/redistest"
)

// activityPortal is 200,000 activities on the records of the mirror's
// memory benchmark (app/mirror_memory_bench_test.go): 100,000 deals and
// their clients.
var activityPortal = b24sim.GenOptions{Contacts: 26_667, Companies: 6_667, Deals: 100_000, Activities: 200_000}

// BenchmarkActivityMirror200k syncs a portal with 200,000 activities into
// an empty mirror and reports what the activities cost: requests/sync is
// the whole sync's, activity-requests the part the activities add (the
// same portal synced without them: Seed draws activities apart, so its
// records are the same), B/activity the Redis memory of the activities'
// keys (their per-record lists and the index, MEMORY USAGE summed; needs a
// real Redis, REDIS_URL), and B/activity-in-memory what one takes in a
// loaded base (previews, backfills).
func BenchmarkActivityMirror200k(b *testing.B) {
	ctx := context.Background()
	with := newSimEngineEnv(b, b24sim.Options{RatePerSecond: -1, Seed: 41}, activityPortal, bitrix.UnlimitedProfile())
	without := activityPortal
	without.Activities = 0
	bare := newSimEngineEnv(b, b24sim.Options{RatePerSecond: -1, Seed: 41}, without, bitrix.UnlimitedProfile())
	var st, bareSt engine.SyncStats
	var mem activityMemory
	for b.Loop() {
		b.StopTimer()
		flushMirror(b, with.rdb)
		flushMirror(b, bare.rdb)
		b.StartTimer()
		var err error
		if st, err = with.cls.Sync(ctx, with.memberID, engine.SyncOptions{}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if bareSt, err = bare.cls.Sync(ctx, bare.memberID, engine.SyncOptions{}); err != nil {
			b.Fatal(err)
		}
		if redistest.Real() {
			mem = activityKeys(b, with.rdb)
		}
		b.StartTimer()
	}
	if st.Activities != activityPortal.Activities {
		b.Fatalf("synced %d activities, want %d", st.Activities, activityPortal.Activities)
	}
	n := float64(st.Activities)
	b.ReportMetric(float64(st.Requests), "requests/sync")
	b.ReportMetric(float64(st.Requests-bareSt.Requests), "activity-requests")
	b.ReportMetric(float64(unsafe.Sizeof(segment.Activity{})), "B/activity-in-memory")
	if redistest.Real() {
		b.ReportMetric(float64(mem.lists+mem.index)/n, "B/activity")
		b.Logf("%d activities of %d contacts, %d companies, %d deals: %.1f MB in Redis (lists %.1f MB in %d hashes, index %.1f MB in %d hashes); sync %d requests (%d without the activities)",
			st.Activities, st.Contacts, st.Companies, st.Deals, float64(mem.lists+mem.index)/1e6, float64(mem.lists)/1e6, mem.listKeys,
			float64(mem.index)/1e6, mem.indexKeys, st.Requests, bareSt.Requests)
	} else {
		b.Logf("%d activities: sync %d requests (%d without the activities); Redis memory needs a real Redis (REDIS_URL)",
			st.Activities, st.Requests, bareSt.Requests)
	}
}

// flushMirror deletes every portal's mirror (m:…), keeping the rest.
func flushMirror(b *testing.B, rdb *redis.Client) {
	b.Helper()
	ctx := context.Background()
	iter := rdb.Scan(ctx, 0, "*:m:*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		b.Fatal(err)
	}
	for len(keys) > 0 {
		n := min(len(keys), 1000)
		if err := rdb.Del(ctx, keys[:n]...).Err(); err != nil {
			b.Fatal(err)
		}
		keys = keys[n:]
	}
}

// activityMemory is MEMORY USAGE summed over the activities' keys.
type activityMemory struct {
	lists, index        int64
	listKeys, indexKeys int
}

func activityKeys(b *testing.B, rdb *redis.Client) activityMemory {
	b.Helper()
	keys := redistest.KeyMemory(b, rdb, "*:m:a:*")
	var m activityMemory
	for k, n := range keys {
		if strings.Contains(k, ":m:a:ix:") {
			m.index += n
			m.indexKeys++
		} else {
			m.lists += n
			m.listKeys++
		}
	}
	if m.listKeys == 0 || m.indexKeys == 0 {
		b.Fatalf("the activities' keys are not where the benchmark looks (%d keys)", len(keys))
	}
	return m
}
