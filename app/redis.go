package app

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"

	"segmentor/internal/keyspace"
)

// RedisWarnings checks that Redis will not lose the app's data: portals,
// tokens and queued jobs live there, so it must persist (AOF) and must never
// evict keys. It returns one sentence per problem; none means it is safe.
// On a Redis Cluster every master is checked: each holds its own share.
func RedisWarnings(ctx context.Context, rdb redis.UniversalClient) ([]string, error) {
	var mu sync.Mutex
	var warns []string
	err := keyspace.ForEachNode(ctx, rdb, func(ctx context.Context, node redis.Cmdable) error {
		aof, err := node.ConfigGet(ctx, "appendonly").Result()
		if err != nil {
			return fmt.Errorf("read redis config: %w", err)
		}
		pol, err := node.ConfigGet(ctx, "maxmemory-policy").Result()
		if err != nil {
			return fmt.Errorf("read redis config: %w", err)
		}
		mu.Lock()
		defer mu.Unlock()
		for _, w := range persistenceWarnings(aof["appendonly"], pol["maxmemory-policy"]) {
			if !slices.Contains(warns, w) {
				warns = append(warns, w)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return warns, nil
}

func persistenceWarnings(appendonly, policy string) []string {
	var warns []string
	if !strings.EqualFold(appendonly, "yes") {
		warns = append(warns, "Redis persistence (appendonly) is off: tokens, configs and queued jobs are lost if Redis restarts; set appendonly yes")
	}
	if policy != "" && policy != "noeviction" {
		warns = append(warns, fmt.Sprintf("Redis maxmemory-policy is %q: under memory pressure it deletes tokens and queued jobs; set maxmemory-policy noeviction", policy))
	}
	return warns
}
