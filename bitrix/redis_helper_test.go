package bitrix_test

import (
	"testing"

	"github.com/redis/go-redis/v9"
)

// newRedis opens another connection to the test's database: one per
// simulated process.
func newRedis(t *testing.T, opts *redis.Options) *redis.Client {
	c := redis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	return c
}
