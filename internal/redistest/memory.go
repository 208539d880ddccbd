package redistest

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"
)

// KeyMemory is MEMORY USAGE (every element: SAMPLES 0) of each key of
// rdb's database that matches pattern, as the memory benchmarks sum it.
// It needs a real Redis: the in-memory stand-in has no MEMORY USAGE.
func KeyMemory(tb testing.TB, rdb *redis.Client, pattern string) map[string]int64 {
	tb.Helper()
	ctx := context.Background()
	var names []string
	iter := rdb.Scan(ctx, 0, pattern, 1000).Iterator()
	for iter.Next(ctx) {
		names = append(names, iter.Val())
	}
	if err := iter.Err(); err != nil {
		tb.Fatal(err)
	}
	cmds := make([]*redis.IntCmd, len(names))
	if _, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range names {
			cmds[i] = p.MemoryUsage(ctx, k, 0)
		}
		return nil
	}); err != nil {
		tb.Fatal(err)
	}
	out := make(map[string]int64, len(names))
	for i, k := range names {
		out[k] = cmds[i].Val()
	}
	return out
}
