package keyspace

import (
	"context"
	"sync"

	"github.com/redis/go-redis/v9"
)

// scanCount is how many keys one SCAN step asks a node for.
const scanCount = 500

// Scan calls fn with the keys matching pattern, at most scanCount at a
// time, and stops at fn's first error. A SCAN reaches only the node it is
// sent to, so on a Redis Cluster it walks every master (a key lives on
// exactly one); fn is never called twice at once. A batch holds keys of one
// node: on a cluster keys of several slots unless pattern names a hash tag
// (a portal's prefix), so a multi-key command over a batch needs that tag.
func Scan(ctx context.Context, rdb redis.UniversalClient, pattern string, fn func(keys []string) error) error {
	cc, ok := rdb.(*redis.ClusterClient)
	if !ok {
		return scanNode(ctx, rdb, pattern, fn)
	}
	var mu sync.Mutex // ForEachMaster calls its func on every master at once
	return cc.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		return scanNode(ctx, node, pattern, func(keys []string) error {
			mu.Lock()
			defer mu.Unlock()
			return fn(keys)
		})
	})
}

func scanNode(ctx context.Context, rdb redis.Cmdable, pattern string, fn func(keys []string) error) error {
	var cursor uint64
	for {
		keys, next, err := rdb.Scan(ctx, cursor, pattern, scanCount).Result()
		if err != nil {
			return err
		}
		if len(keys) > 0 {
			if err := fn(keys); err != nil {
				return err
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// ForEachNode calls fn on every node that holds data: each master of a
// Redis Cluster, or rdb itself. Checks of a server's settings (CONFIG GET)
// use it; fn may be called on several nodes at once.
func ForEachNode(ctx context.Context, rdb redis.UniversalClient, fn func(ctx context.Context, node redis.Cmdable) error) error {
	cc, ok := rdb.(*redis.ClusterClient)
	if !ok {
		return fn(ctx, rdb)
	}
	return cc.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error { return fn(ctx, node) })
}
