package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"segmentor/app/segment"
	"segmentor/internal/keyspace"
)

// How the audit trail is kept. A record's trail is one field of a hash
// that holds a bucket of trailBucket records of its entity (a:<entity>:<n>,
// field: the record's id): its entries, newest first, one compact row per
// line. One key per record, as trails were first kept (audit:<entity>:<id>,
// a list of AuditEntry JSON), cost about 550 B a record in Redis: the
// key, its list and the long JSON. A bucket's field costs the row and a few
// dozen bytes (BenchmarkAuditMemory100k has the figures).
//
// A trail of the old layout is still read (after the bucket's entries) and
// moves into its bucket whole when its record gets its next entry, or when
// ConvertAuditTrails runs (the worker, at start): nothing of it is lost.
// The portal's list of latest changes (audit) and the rows of both layouts
// are told apart by their first key: an AuditEntry's JSON starts with
// {"at":, a row with {"t":.
const trailBucket = 1024

// auditRow is how an AuditEntry is stored: short names, the time in
// milliseconds, and in a record's trail no entity or id (its key and
// field name them).
type auditRow struct {
	At      int64      `json:"t"` // Unix milliseconds
	Entity  string     `json:"e,omitempty"`
	ID      int64      `json:"i,omitempty"`
	Version int        `json:"v,omitempty"`
	From    outcomeRow `json:"f,omitzero"`
	To      outcomeRow `json:"o,omitzero"`
	Trigger string     `json:"g,omitempty"`
	Reason  *reasonRow `json:"r,omitempty"`
	Why     string     `json:"w,omitempty"`
}

// reasonRow is a segment.Reason stored; its segment is left out when it is
// the one the entry moved the record to (as the engine writes it).
type reasonRow struct {
	Segment   string     `json:"s,omitempty"`
	Other     bool       `json:"x,omitempty"` // the segment is not the entry's: Segment says which ("" for none)
	Otherwise bool       `json:"w,omitempty"`
	Held      []checkRow `json:"h,omitempty"`
	Nearest   *missRow   `json:"m,omitempty"`
}

type missRow struct {
	Segment string   `json:"s"`
	Name    string   `json:"n"`
	Check   checkRow `json:"c"`
}

type checkRow struct {
	Fact       string        `json:"f"`
	WindowDays int           `json:"d,omitempty"`
	Op         segment.Op    `json:"o"`
	Want       any           `json:"v,omitempty"`
	Seen       segment.Value `json:"s"`
	Not        bool          `json:"n,omitempty"`
}

func newReasonRow(r *segment.Reason, to string) *reasonRow {
	if r == nil {
		return nil
	}
	row := &reasonRow{Otherwise: r.Otherwise, Held: make([]checkRow, len(r.Held))}
	if r.Segment != to {
		row.Segment, row.Other = r.Segment, true
	}
	for i, c := range r.Held {
		row.Held[i] = checkRow(c)
	}
	if m := r.Nearest; m != nil {
		row.Nearest = &missRow{Segment: m.Segment, Name: m.Name, Check: checkRow(m.Check)}
	}
	return row
}

func (row *reasonRow) reason(to string) *segment.Reason {
	if row == nil {
		return nil
	}
	r := &segment.Reason{Segment: to, Otherwise: row.Otherwise}
	if row.Other {
		r.Segment = row.Segment
	}
	for _, c := range row.Held {
		r.Held = append(r.Held, segment.Check(c))
	}
	if m := row.Nearest; m != nil {
		r.Nearest = &segment.Miss{Segment: m.Segment, Name: m.Name, Check: segment.Check(m.Check)}
	}
	return r
}

type outcomeRow struct {
	Segment  string `json:"s,omitempty"`
	Name     string `json:"n,omitempty"`
	Type     string `json:"y,omitempty"`
	Pipeline string `json:"p,omitempty"`
}

// encodeAudit is e's row: with its entity and id for the portal's list
// (named), without for its record's trail.
func encodeAudit(e AuditEntry, named bool) (string, error) {
	r := auditRow{At: e.At.UnixMilli(), Version: e.ConfigVersion,
		From: outcomeRow(e.From), To: outcomeRow(e.To), Trigger: e.Trigger, Reason: newReasonRow(e.Reason, e.To.Segment), Why: e.Why}
	if named {
		r.Entity, r.ID = e.Entity, e.ID
	}
	b, err := json.Marshal(r)
	if err != nil {
		return "", fmt.Errorf("encode audit entry: %w", err)
	}
	return string(b), nil
}

// legacyAudit starts an entry stored as AuditEntry JSON (the first layout).
const legacyAudit = `{"at":`

// decodeAudit reads one stored entry of either layout; entity and id are
// the record's when the entry comes from its trail ("" and 0 for the
// portal's list, whose rows name them).
func decodeAudit(s, entity string, id int64) (AuditEntry, error) {
	var e AuditEntry
	if strings.HasPrefix(s, legacyAudit) {
		if err := json.Unmarshal([]byte(s), &e); err != nil {
			return e, fmt.Errorf("decode audit: %w", err)
		}
		return e, nil
	}
	var r auditRow
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		return e, fmt.Errorf("decode audit: %w", err)
	}
	e = AuditEntry{At: time.UnixMilli(r.At).UTC(), Entity: r.Entity, ID: r.ID, ConfigVersion: r.Version,
		From: Outcome(r.From), To: Outcome(r.To), Trigger: r.Trigger, Reason: r.Reason.reason(r.To.Segment), Why: r.Why}
	if entity != "" {
		e.Entity, e.ID = entity, id
	}
	return e, nil
}

// trailKey is the bucket that holds a record's trail; trailField names the
// record in it.
func trailKey(memberID, entity string, id int64) string {
	return portalKey(memberID, "a:"+entity+":"+strconv.FormatInt(id/trailBucket, 10))
}

func trailField(id int64) string { return strconv.FormatInt(id, 10) }

// oldTrailKey is a record's trail in the first layout: a list of its
// entries' JSON, newest first.
func oldTrailKey(memberID, entity string, id int64) string {
	return portalKey(memberID, "audit:"+entity+":"+strconv.FormatInt(id, 10))
}

// trailLua defines trail(bucket, field, old, entry, limit): the record's
// trail gets entry at its head and keeps limit entries; an old-layout trail
// of the record (old) moves in behind the bucket's entries and is deleted.
const trailLua = `
local function keep(v, limit)
  local k, pos = 0, 1
  while true do
    local nl = string.find(v, '\n', pos, true)
    if not nl then return v end
    k = k + 1
    if k == limit then return string.sub(v, 1, nl - 1) end
    pos = nl + 1
  end
end
local function trail(bucket, field, old, entry, limit)
  local v = redis.call('HGET', bucket, field)
  if redis.call('EXISTS', old) == 1 then
    local rows = redis.call('LRANGE', old, 0, limit - 1)
    redis.call('DEL', old)
    if #rows > 0 then
      local moved = table.concat(rows, '\n')
      if v then v = v .. '\n' .. moved else v = moved end
    end
  end
  if entry ~= '' then
    if v then v = entry .. '\n' .. v else v = entry end
  end
  if v then redis.call('HSET', bucket, field, keep(v, limit)) end
end
`

// pushAudit adds entries to their records' trails (KEYS: the portal's list,
// its moves log, then each record's bucket and old trail; ARGV: the limits,
// then each entry's field, trail row, list row and move).
var pushAudit = redis.NewScript(trailLua + `
local recLimit, allLimit, moveLimit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local moved = 0
for i = 1, (#KEYS - 2) / 2 do
  local a = 3 + 4*(i - 1)
  trail(KEYS[1 + 2*i], ARGV[a + 1], KEYS[2 + 2*i], ARGV[a + 2], recLimit)
  redis.call('LPUSH', KEYS[1], ARGV[a + 3])
  if ARGV[a + 4] ~= '' then
    redis.call('LPUSH', KEYS[2], ARGV[a + 4])
    moved = moved + 1
  end
end
redis.call('LTRIM', KEYS[1], 0, allLimit - 1)
if moved > 0 then redis.call('LTRIM', KEYS[2], 0, moveLimit - 1) end
return 0
`)

// convertTrails moves old-layout trails of one portal into their buckets
// (KEYS: each record's bucket and old trail; ARGV: the limit, then each
// record's field).
var convertTrails = redis.NewScript(trailLua + `
for i = 1, #KEYS / 2 do
  trail(KEYS[2*i - 1], ARGV[i + 1], KEYS[2*i], '', tonumber(ARGV[1]))
end
return 0
`)

// readTrail reads a record's trail: its bucket's entries, then any the old
// layout still holds for it, newest first, at most limit.
func (s *Store) readTrail(ctx context.Context, memberID, entity string, id int64, limit int) ([]AuditEntry, error) {
	var row *redis.StringCmd
	var old *redis.StringSliceCmd
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		row = p.HGet(ctx, trailKey(memberID, entity, id), trailField(id))
		old = p.LRange(ctx, oldTrailKey(memberID, entity, id), 0, int64(limit)-1)
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("read audit: %w", err)
	}
	var lines []string
	if v := row.Val(); v != "" {
		lines = strings.Split(v, "\n")
	}
	lines = append(lines, old.Val()...)
	out := make([]AuditEntry, 0, min(len(lines), limit))
	for _, l := range lines[:min(len(lines), limit)] {
		e, err := decodeAudit(l, entity, id)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// auditConvertedKey marks the old trails of every portal as converted.
const auditConvertedKey = "seg:audit-layout"

// ConvertAuditTrails moves every trail still kept in the first layout (one
// list per record) into its bucket, on every master of a cluster, and then
// marks the work done so that later starts skip it. Trails are read in
// either layout meanwhile, and a record's next entry moves its own, so a
// conversion cut short loses nothing and the next start finishes it. It
// returns how many trails it moved.
func (s *Store) ConvertAuditTrails(ctx context.Context) (int, error) {
	if n, err := s.rdb.Exists(ctx, auditConvertedKey).Result(); err != nil || n == 1 {
		return 0, err
	}
	moved := 0
	err := keyspace.Scan(ctx, s.rdb, keyspace.PortalPrefix("*")+"audit:*", func(keys []string) error {
		// A scan's batch may hold several portals' keys; a script takes one
		// portal's (one hash tag).
		byPortal := map[string][]string{}
		args := map[string][]any{}
		for _, k := range keys {
			member, entity, id, ok := parseOldTrailKey(k)
			if !ok {
				continue
			}
			if args[member] == nil {
				args[member] = []any{auditPerRecord}
			}
			byPortal[member] = append(byPortal[member], trailKey(member, entity, id), k)
			args[member] = append(args[member], trailField(id))
		}
		for member, ks := range byPortal {
			if err := convertTrails.Run(ctx, s.rdb, ks, args[member]...).Err(); err != nil {
				return err
			}
			moved += len(ks) / 2
		}
		return nil
	})
	if err != nil {
		return moved, fmt.Errorf("convert audit trails: %w", err)
	}
	return moved, s.rdb.Set(ctx, auditConvertedKey, 2, 0).Err()
}

// parseOldTrailKey reads seg:p:{member}:audit:<entity>:<id>.
func parseOldTrailKey(k string) (member, entity string, id int64, ok bool) {
	rest, ok := strings.CutPrefix(k, strings.TrimSuffix(keyspace.PortalPrefix(""), "}:"))
	if !ok {
		return "", "", 0, false
	}
	member, rest, ok = strings.Cut(rest, "}:audit:")
	if !ok || member == "" || strings.ContainsAny(member, "{}") {
		return "", "", 0, false
	}
	entity, num, ok := strings.Cut(rest, ":")
	if !ok || entity == "" {
		return "", "", 0, false
	}
	id, err := strconv.ParseInt(num, 10, 64)
	if err != nil || id <= 0 || oldTrailKey(member, entity, id) != k {
		return "", "", 0, false
	}
	return member, entity, id, true
}
