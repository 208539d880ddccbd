package app

import (
	"context"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// RedisWarnings checks that Redis will not lose the app's data: portals,
// tokens and queued jobs live there, so it must persist (AOF) and must never
// evict keys. It returns one sentence per problem; none means it is safe.
func RedisWarnings(ctx context.Context, rdb redis.UniversalClient) ([]string, error) {
	aof, err := rdb.ConfigGet(ctx, "appendonly").Result()
	if err != nil {
		return nil, fmt.Errorf("read redis config: %w", err)
	}
	pol, err := rdb.ConfigGet(ctx, "maxmemory-policy").Result()
	if err != nil {
		return nil, fmt.Errorf("read redis config: %w", err)
	}
	return persistenceWarnings(aof["appendonly"], pol["maxmemory-policy"]), nil
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
