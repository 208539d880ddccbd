package app_test

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"segmentor/app"
	"segmentor/internal/mirrortest"
	"segmentor/internal/redistest"
)

// memPortal is 100,000 deals with their clients, in the proportions of the
// preview benchmark (handlers/insight_bench_test.go), classified as after
// a backfill.
var memPortal = mirrortest.Portal{Contacts: 26_667, Companies: 6_667, Deals: 100_000, Classified: true}

// BenchmarkMirrorMemory100k writes 100,000 deals and their clients into an
// empty Redis database through the mirror and reports what they take:
// MB/100k-deals is the sum of MEMORY USAGE over the database's keys (this
// database only, so other work on the server does not count); used-MB is
// the server's used_memory delta, which also counts the main dictionary
// and whatever else ran meanwhile. Needs a real Redis (REDIS_URL).
func BenchmarkMirrorMemory100k(b *testing.B) {
	if !redistest.Real() {
		b.Skip("BenchmarkMirrorMemory100k measures a real Redis's memory: set REDIS_URL (the in-memory stand-in reports none)")
	}
	rdb, _ := redistest.New(b)
	ctx := context.Background()
	const member = "memory00000000000000000000000001"
	var keys keyMemory
	var used int64
	for b.Loop() {
		b.StopTimer()
		if err := rdb.FlushDB(ctx).Err(); err != nil {
			b.Fatal(err)
		}
		before := usedMemory(b, rdb)
		b.StartTimer()
		mirrortest.Fill(b, app.NewMirror(rdb), member, memPortal)
		b.StopTimer()
		used = usedMemory(b, rdb) - before
		keys = memoryByKind(b, rdb)
		b.StartTimer()
	}
	per100k := func(n int64) float64 { return float64(n) / 1e6 * 100_000 / float64(memPortal.Deals) }
	b.ReportMetric(per100k(keys.total()), "MB/100k-deals")
	b.ReportMetric(per100k(used), "used-MB/100k-deals")
	b.ReportMetric(float64(keys.total())/float64(memPortal.Deals), "B/deal")
	b.Logf("%d deals, %d contacts, %d companies: %.1f MB in %d keys, %d of them hash tables (deal rows %.1f MB, client rows %.1f MB, %.1f MB of both titles; client→deal index %.1f MB in %d keys; change log %.1f MB in %d entries; other %.2f MB); used_memory grew %.1f MB",
		memPortal.Deals, memPortal.Contacts, memPortal.Companies, float64(keys.total())/1e6, keys.keys, keys.tables,
		float64(keys.deals)/1e6, float64(keys.clients)/1e6, float64(keys.titles)/1e6, float64(keys.index)/1e6, keys.indexKeys,
		float64(keys.log)/1e6, keys.logged, float64(keys.other)/1e6, float64(used)/1e6)
}

func usedMemory(b *testing.B, rdb *redis.Client) int64 {
	b.Helper()
	info, err := rdb.Info(context.Background(), "memory").Result()
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				b.Fatalf("used_memory %q: %v", v, err)
			}
			return n
		}
	}
	b.Fatal("INFO memory has no used_memory")
	return 0
}

// keyMemory is MEMORY USAGE summed by the mirror's kinds of key.
type keyMemory struct {
	deals, clients, index, log, other int64
	titles                            int64 // deals' and clients' titles, counted in deals and clients too
	keys, indexKeys                   int
	tables                            int   // hashes in Redis's hash table encoding, not a compact listpack
	logged                            int64 // entries in the change log
}

func (k keyMemory) total() int64 { return k.deals + k.clients + k.index + k.log + k.other }

func memoryByKind(b *testing.B, rdb *redis.Client) keyMemory {
	b.Helper()
	ctx := context.Background()
	usage := redistest.KeyMemory(b, rdb, "*")
	names := slices.Collect(maps.Keys(usage))
	encs := make([]*redis.StringCmd, len(names))
	if _, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range names {
			encs[i] = p.ObjectEncoding(ctx, k)
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	var m keyMemory
	for i, k := range names {
		n := usage[k]
		m.keys++
		if rdb.Type(ctx, k).Val() == "hash" && encs[i].Val() == "hashtable" {
			m.tables++
		}
		if strings.Contains(k, ":m:n:") {
			m.titles += n
		}
		if strings.HasSuffix(k, ":m:changes") {
			m.logged = rdb.ZCard(ctx, k).Val()
		}
		switch {
		case strings.Contains(k, ":m:deal:"), strings.Contains(k, ":m:n:deal:"):
			m.deals += n
		case strings.Contains(k, ":m:contact:"), strings.Contains(k, ":m:company:"),
			strings.Contains(k, ":m:n:contact:"), strings.Contains(k, ":m:n:company:"):
			m.clients += n
		case strings.Contains(k, ":m:ix:"), strings.Contains(k, ":m:xs:"):
			m.index += n
			m.indexKeys++
		case strings.HasSuffix(k, ":m:changes"):
			m.log += n
		default:
			m.other += n
		}
	}
	if m.deals == 0 || m.indexKeys == 0 {
		b.Fatalf("the mirror's keys are not where the benchmark looks (%d keys, e.g. %q)", len(names), names[:min(3, len(names))])
	}
	return m
}
