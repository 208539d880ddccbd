package app

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"segmentor/app/segment"
)

// The mirror's change log lets a reader that keeps a portal's mirror in
// memory (previews, dry-runs, the dashboard) catch up by re-reading only the
// rows that changed, instead of decoding the whole base again.
//
// Every write to the mirror's rows or rates ends, in the same pipeline and
// after the write itself, with logScript: it increments m:gen and scores
// each written record ("deal:17", "contact:5", "rates") in m:changes with
// the new generation. A reader notes the generation before it reads rows;
// any write it may have missed scores higher, so the reader sees it next
// time. The log keeps the latest maxLoggedChanges records; m:floor is the
// highest generation it dropped, and a reader older than that reloads.
const maxLoggedChanges = 50000

const ratesChange = "rates"

var logScript = `
local g = redis.call('INCR', KEYS[1])
for i = 2, #ARGV do redis.call('ZADD', KEYS[2], g, ARGV[i]) end
local n = redis.call('ZCARD', KEYS[2])
local max = tonumber(ARGV[1])
if n > max then
  local cut = n - max
  local last = redis.call('ZRANGE', KEYS[2], cut - 1, cut - 1, 'WITHSCORES')
  redis.call('SET', KEYS[3], last[2])
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, cut - 1)
end
return g`

func (m *Mirror) logKeys(memberID string) []string {
	return []string{portalKey(memberID, "m:gen"), portalKey(memberID, "m:changes"), portalKey(memberID, "m:floor")}
}

// logChanges queues the log entry of a write on p, after the write.
func (m *Mirror) logChanges(ctx context.Context, p redis.Pipeliner, memberID string, e segment.Entity, ids []int64) {
	if len(ids) == 0 {
		return
	}
	args := make([]any, 0, len(ids)+1)
	args = append(args, maxLoggedChanges)
	for _, id := range ids {
		args = append(args, string(e)+":"+id64(id))
	}
	p.Eval(ctx, logScript, m.logKeys(memberID), args...)
}

// Generation counts the writes to a portal's mirror; 0 before the first.
func (m *Mirror) Generation(ctx context.Context, memberID string) (int64, error) {
	g, err := m.rdb.Get(ctx, portalKey(memberID, "m:gen")).Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("mirror %s: generation: %w", memberID, err)
	}
	return g, nil
}

// MirrorChanges is what changed in a portal's mirror after a generation.
type MirrorChanges struct {
	Gen int64 // the generation these changes bring a reader to
	// Complete is false when the log no longer reaches back to the
	// reader's generation (or the mirror was wiped): reload everything.
	Complete bool
	Rates    bool
	IDs      map[segment.Entity][]int64 // records written or deleted
}

// Count is the number of records changed.
func (c MirrorChanges) Count() int {
	n := 0
	for _, ids := range c.IDs {
		n += len(ids)
	}
	return n
}

// ChangesSince lists the records written since generation since, read
// atomically with the current generation. Rows read after this call are at
// least as new as Gen.
func (m *Mirror) ChangesSince(ctx context.Context, memberID string, since int64) (MirrorChanges, error) {
	keys := m.logKeys(memberID)
	var gen, floor *redis.StringCmd
	var changed *redis.StringSliceCmd
	_, err := m.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		gen = p.Get(ctx, keys[0])
		floor = p.Get(ctx, keys[2])
		changed = p.ZRangeByScore(ctx, keys[1], &redis.ZRangeBy{Min: "(" + strconv.FormatInt(since, 10), Max: "+inf"})
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return MirrorChanges{}, fmt.Errorf("mirror %s: changes: %w", memberID, err)
	}
	out := MirrorChanges{IDs: map[segment.Entity][]int64{}}
	out.Gen, _ = gen.Int64()
	f, _ := floor.Int64()
	if out.Gen < since || since < f {
		return out, nil
	}
	out.Complete = true
	for _, c := range changed.Val() {
		if c == ratesChange {
			out.Rates = true
			continue
		}
		e, id, ok := strings.Cut(c, ":")
		n, err := strconv.ParseInt(id, 10, 64)
		if !ok || err != nil {
			continue
		}
		out.IDs[segment.Entity(e)] = append(out.IDs[segment.Entity(e)], n)
	}
	return out, nil
}
