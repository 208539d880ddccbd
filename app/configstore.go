package app

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// StoredConfig is one saved version of a portal's segmentation config.
type StoredConfig struct {
	Version int             `json:"version"`
	Config  json.RawMessage `json:"config"`
	SavedAt time.Time       `json:"saved_at"`
	SavedBy int64           `json:"saved_by"`
}

// configHistory is how many past versions are kept per portal.
const configHistory = 50

// putConfig saves a new version only when the current one is base.
// KEYS[1] current (hash: version, body), KEYS[2] history (list, newest first)
// ARGV[1] base version, ARGV[2] new StoredConfig JSON without version, ARGV[3] history size
// Returns the new version, or -current when base is stale.
var putConfig = redis.NewScript(`
local cur = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if cur ~= tonumber(ARGV[1]) then return -cur - 1 end
local v = cur + 1
redis.call('HSET', KEYS[1], 'version', v, 'body', ARGV[2])
redis.call('LPUSH', KEYS[2], v .. ' ' .. ARGV[2])
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[3]) - 1)
return v
`)

// Config returns the portal's current config; version 0 and a nil Config
// before the first save.
func (s *Store) Config(ctx context.Context, memberID string) (*StoredConfig, error) {
	vals, err := s.rdb.HMGet(ctx, portalKey(memberID, "config"), "version", "body").Result()
	if err != nil {
		return nil, fmt.Errorf("load config of %s: %w", memberID, err)
	}
	ver, _ := vals[0].(string)
	body, _ := vals[1].(string)
	if ver == "" {
		return &StoredConfig{}, nil
	}
	var c StoredConfig
	if err := json.Unmarshal([]byte(body), &c); err != nil {
		return nil, fmt.Errorf("decode config of %s: %w", memberID, err)
	}
	c.Version, _ = strconv.Atoi(ver)
	return &c, nil
}

// PutConfig saves config as the version after base. If someone saved since
// base was read, it returns an EConflict error and changes nothing, so a
// concurrent edit is refused rather than lost.
func (s *Store) PutConfig(ctx context.Context, memberID string, base int, config json.RawMessage, by int64) (int, error) {
	if !json.Valid(config) {
		return 0, Errorf(EInvalid, "The config is not valid JSON.")
	}
	body, err := json.Marshal(StoredConfig{Config: config, SavedAt: s.clock().UTC(), SavedBy: by})
	if err != nil {
		return 0, err
	}
	keys := []string{portalKey(memberID, "config"), portalKey(memberID, "config:history")}
	v, err := putConfig.Run(ctx, s.rdb, keys, base, body, configHistory).Int()
	if err != nil {
		return 0, fmt.Errorf("save config of %s: %w", memberID, err)
	}
	if v < 0 {
		return 0, Errorf(EConflict, "Someone saved the settings while you were editing (now version %d, you started from %d). Reload to see their changes.", -v-1, base)
	}
	return v, nil
}

// ConfigVersion returns a past version of the config, if still kept.
func (s *Store) ConfigVersion(ctx context.Context, memberID string, version int) (*StoredConfig, error) {
	items, err := s.rdb.LRange(ctx, portalKey(memberID, "config:history"), 0, -1).Result()
	if err != nil {
		return nil, err
	}
	prefix := strconv.Itoa(version) + " "
	for _, it := range items {
		if len(it) > len(prefix) && it[:len(prefix)] == prefix {
			var c StoredConfig
			if err := json.Unmarshal([]byte(it[len(prefix):]), &c); err != nil {
				return nil, err
			}
			c.Version = version
			return &c, nil
		}
	}
	return nil, Errorf(ENotFound, "Config version %d is no longer kept.", version)
}
