package app

import (
	"context"
	"strings"
	"testing"

	"segmentor/internal/redistest"
)

func TestPersistenceWarnings(t *testing.T) {
	tests := []struct {
		aof, policy string
		want        []string // substrings, one per expected warning
	}{
		{"yes", "noeviction", nil},
		{"yes", "", nil},
		{"no", "noeviction", []string{"appendonly"}},
		{"yes", "allkeys-lru", []string{"noeviction"}},
		{"no", "volatile-ttl", []string{"appendonly", "noeviction"}},
	}
	for _, tt := range tests {
		got := persistenceWarnings(tt.aof, tt.policy)
		if len(got) != len(tt.want) {
			t.Errorf("(%s, %s) warned %q, want %d warnings", tt.aof, tt.policy, got, len(tt.want))
			continue
		}
		for i, w := range tt.want {
			if !strings.Contains(got[i], w) {
				t.Errorf("(%s, %s) warning %d = %q, want it to mention %s", tt.aof, tt.policy, i, got[i], w)
			}
		}
	}
}

// CI's Redis is started with AOF on and the default noeviction policy, so a
// real server read through RedisWarnings must raise nothing.
func TestRedisWarningsOnCIRedis(t *testing.T) {
	if !redistest.Real() {
		t.Skip("needs a real Redis (REDIS_URL); miniredis has no CONFIG GET for these")
	}
	rdb, _ := redistest.New(t)
	w, err := RedisWarnings(context.Background(), rdb)
	if err != nil {
		t.Fatal(err)
	}
	if len(w) != 0 {
		t.Errorf("CI Redis (appendonly yes, noeviction) warned: %v", w)
	}
}

func TestListpackWarnings(t *testing.T) {
	tests := []struct {
		entries, value string
		want           []string
	}{
		{"512", "64", nil},
		{"128", "100", nil},
		{"", "", nil}, // not told: an embedded Redis
		{"100", "64", []string{"hash-max-listpack-entries is 100"}},
		{"512", "32", []string{"hash-max-listpack-value is 32"}},
	}
	for _, tt := range tests {
		got := listpackWarnings(tt.entries, tt.value)
		if len(got) != len(tt.want) {
			t.Errorf("(%s, %s) warned %q, want %d warnings", tt.entries, tt.value, got, len(tt.want))
			continue
		}
		for i, w := range tt.want {
			if !strings.Contains(got[i], w) {
				t.Errorf("(%s, %s) warning %d = %q, want it to mention %q", tt.entries, tt.value, i, got[i], w)
			}
		}
	}
}
