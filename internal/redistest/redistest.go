// Package redistest gives each test its own empty Redis database.
//
// With REDIS_URL set (as .ci/run does) tests use that real Redis server, each
// on a database of its own leased for the test's lifetime, so packages and
// parallel tests never see each other's keys (asynq's included). Without
// REDIS_URL, an in-memory miniredis is used, unless CI is set: under CI a
// missing Redis is a failure, never a silent fallback.
package redistest

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// leaseTTL bounds how long a crashed test can hold a database.
const leaseTTL = 30 * time.Minute

// Real reports whether tests run against a real Redis server.
func Real() bool { return os.Getenv("REDIS_URL") != "" }

// New returns a client on an empty database that is flushed and released
// when the test ends. The returned Options can build further clients on the
// same database (for example one per simulated process).
func New(t testing.TB) (*redis.Client, *redis.Options) {
	t.Helper()
	url := os.Getenv("REDIS_URL")
	if url == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("CI is set but REDIS_URL is not: tests must run against a real Redis (see .ci/run)")
		}
		mr := miniredis.RunT(t)
		mr.ClockTTL(true)
		opt := &redis.Options{Addr: mr.Addr()}
		c := redis.NewClient(opt)
		t.Cleanup(func() { _ = c.Close() })
		return c, opt
	}
	base, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("REDIS_URL: %v", err)
	}
	ctx := context.Background()
	ctl := redis.NewClient(base)
	defer ctl.Close()
	n, err := databases(ctx, ctl)
	if err != nil {
		t.Fatalf("redis at REDIS_URL: %v", err)
	}
	// Database 0 holds the leases; tests get 1..n-1.
	for attempt := 0; attempt < 200; attempt++ {
		for db := 1; db < n; db++ {
			key := "redistest:lease:" + strconv.Itoa(db)
			ok, err := ctl.SetNX(ctx, key, t.Name(), leaseTTL).Result()
			if err != nil {
				t.Fatalf("lease redis db: %v", err)
			}
			if !ok {
				continue
			}
			opt := *base
			opt.DB = db
			c := redis.NewClient(&opt)
			if err := c.FlushDB(ctx).Err(); err != nil {
				t.Fatalf("flush redis db %d: %v", db, err)
			}
			t.Cleanup(func() {
				_ = c.FlushDB(context.Background()).Err()
				_ = c.Close()
				rel := redis.NewClient(base)
				_ = rel.Del(context.Background(), key).Err()
				_ = rel.Close()
			})
			return c, &opt
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no free redis database among %d", n)
	return nil, nil
}

func databases(ctx context.Context, c *redis.Client) (int, error) {
	v, err := c.ConfigGet(ctx, "databases").Result()
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(v["databases"])
	if err != nil || n < 2 {
		return 0, fmt.Errorf("redis needs at least 2 databases, has %q", v["databases"])
	}
	return n, nil
}
