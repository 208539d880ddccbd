package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"segmentor/internal/redistest"
)

// REDIS_CLUSTER_ADDRS opens go-redis's cluster client, which the app and
// asynq share, and checks every master's persistence: one master without
// AOF is warned about.
func TestOpenRedisCluster(t *testing.T) {
	cc := redistest.PrivateCluster(t)
	ctx := context.Background()
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	cfg := config{RedisClusterAddrs: cc.Options().Addrs[:1]} // one seed finds the rest
	rdb, embedded, closeRedis, err := openRedis(ctx, cfg, log)
	if err != nil || embedded {
		t.Fatalf("openRedis(cluster) = embedded %v, %v", embedded, err)
	}
	if _, ok := rdb.(*redis.ClusterClient); !ok {
		t.Fatalf("openRedis(cluster) = %T, want *redis.ClusterClient", rdb)
	}
	if strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("a cluster with AOF and noeviction on every master warned:\n%s", logs.String())
	}
	var masters atomic.Int32 // ForEachMaster calls on every master at once
	if err := rdb.(*redis.ClusterClient).ForEachMaster(ctx, func(context.Context, *redis.Client) error { masters.Add(1); return nil }); err != nil || masters.Load() != 3 {
		t.Errorf("the client sees %d masters (%v), want 3", masters.Load(), err)
	}
	closeRedis()

	// One master loses its AOF: the start warns.
	var one atomic.Pointer[redis.Client]
	_ = cc.ForEachMaster(ctx, func(_ context.Context, c *redis.Client) error { one.Store(c); return nil })
	if err := one.Load().ConfigSet(ctx, "appendonly", "no").Err(); err != nil {
		t.Fatal(err)
	}
	logs.Reset()
	_, _, closeRedis, err = openRedis(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	closeRedis()
	if !strings.Contains(logs.String(), "appendonly") {
		t.Errorf("a master without AOF was not warned about:\n%s", logs.String())
	}

	if _, _, _, err := openRedis(ctx, config{RedisClusterAddrs: []string{"127.0.0.1:1"}}, log); err == nil ||
		!strings.Contains(err.Error(), "the Redis Cluster at REDIS_CLUSTER_ADDRS does not answer") {
		t.Errorf("a cluster that is not there: %v", err)
	}
}
