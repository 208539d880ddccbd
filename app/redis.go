package app

import (
	"context"
	"fmt"
	"slices"
	"strconv"
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
		// Older servers name them ziplist; Redis 7 answers to both.
		lp, err := node.ConfigGet(ctx, "hash-max-ziplist-*").Result()
		if err != nil {
			return fmt.Errorf("read redis config: %w", err)
		}
		mu.Lock()
		defer mu.Unlock()
		found := persistenceWarnings(aof["appendonly"], pol["maxmemory-policy"])
		found = append(found, listpackWarnings(lp["hash-max-ziplist-entries"], lp["hash-max-ziplist-value"])...)
		for _, w := range found {
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

// listpackWarnings warns when Redis keeps hashes compact only below the
// sizes the mirror's buckets are cut to (mirror.go): its memory would grow
// several times over. Unknown settings (an embedded Redis) are no warning.
func listpackWarnings(entries, value string) []string {
	var warns []string
	if n, err := strconv.Atoi(entries); err == nil && n < rowBucket {
		warns = append(warns, fmt.Sprintf("Redis hash-max-listpack-entries is %d: the mirror's buckets of %d rows take several times the memory; set it to at least %d (512 is the default)", n, rowBucket, rowBucket))
	}
	if n, err := strconv.Atoi(value); err == nil && n < listpackValue {
		warns = append(warns, fmt.Sprintf("Redis hash-max-listpack-value is %d: the mirror's rows of up to %d bytes take several times the memory; set it to at least %d (the default)", n, listpackValue, listpackValue))
	}
	return warns
}
