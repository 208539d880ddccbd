package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"segmentor/app/segment"
)

// Audit bounds: a record keeps its latest changes, a portal its latest
// changes overall, so the trail never grows without limit.
const (
	auditPerRecord = 20
	auditPerPortal = 10000
)

// AuditEntry is one change the app wrote to a record.
type AuditEntry struct {
	At            time.Time `json:"at"`
	Entity        string    `json:"entity"`
	ID            int64     `json:"id"`
	ConfigVersion int       `json:"config_version"`
	From          Outcome   `json:"from"`
	To            Outcome   `json:"to"`
	Trigger       string    `json:"trigger,omitempty"` // what started the change: Trigger…
	// Reason is why the record got its segment, told in the reader's
	// language when read; entries written before it have Why instead, in
	// English.
	Reason *segment.Reason `json:"reason,omitempty"`
	Why    string          `json:"why,omitempty"`
}

// What starts a change of a record's segment: its own change in the CRM,
// or a recompute of the whole base (the backfill task's reason).
const (
	TriggerChange    = "change"    // the record (or one it depends on) changed in the CRM
	TriggerSetup     = "setup"     // the first classification after install
	TriggerConfig    = "config"    // the rules were saved
	TriggerRecompute = "recompute" // an administrator asked for a recompute
	TriggerNightly   = "nightly"   // the scheduled recompute
)

// Outcome is what a record carried before or after a change.
type Outcome struct {
	Segment  string `json:"segment,omitempty"` // segment key
	Name     string `json:"name,omitempty"`    // the segment's name then (the config may drop it later)
	Type     string `json:"type,omitempty"`
	Pipeline string `json:"pipeline,omitempty"` // "3:C3:NEW" (deals)
}

// AddAudit appends entries to each record's trail and the portal's, and
// logs their moves.
func (s *Store) AddAudit(ctx context.Context, memberID string, entries []AuditEntry) error {
	if len(entries) == 0 {
		return nil
	}
	keys := []string{portalKey(memberID, "audit"), movesKey(memberID)}
	args := []any{auditPerRecord, auditPerPortal, maxMoves}
	for _, e := range entries {
		row, err := encodeAudit(e, false)
		if err != nil {
			return err
		}
		listed, err := encodeAudit(e, true)
		if err != nil {
			return err
		}
		keys = append(keys, trailKey(memberID, e.Entity, e.ID), oldTrailKey(memberID, e.Entity, e.ID))
		args = append(args, trailField(e.ID), row, listed, e.move(e.At))
	}
	if err := pushAudit.Run(ctx, s.rdb, keys, args...).Err(); err != nil {
		return fmt.Errorf("audit %s: %w", memberID, err)
	}
	return nil
}

// Audit returns a record's trail, newest first.
func (s *Store) Audit(ctx context.Context, memberID, entity string, id int64) ([]AuditEntry, error) {
	return s.readTrail(ctx, memberID, entity, id, auditPerRecord)
}

// PortalAudit returns the portal's latest changes, newest first.
func (s *Store) PortalAudit(ctx context.Context, memberID string, limit int) ([]AuditEntry, error) {
	raw, err := s.rdb.LRange(ctx, portalKey(memberID, "audit"), 0, int64(limit)-1).Result()
	if err != nil {
		return nil, fmt.Errorf("read audit: %w", err)
	}
	out := make([]AuditEntry, 0, len(raw))
	for _, r := range raw {
		e, err := decodeAudit(r, "", 0)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// Progress is where a long job of a portal stands (backfill, recompute).
// Done and Total count the current phase's work: rows read in sync,
// records in evaluate, records to write in write (those written before a
// resume included).
type Progress struct {
	State   string    `json:"state"` // queued, running, done, failed
	Phase   string    `json:"phase"` // sync, rfm, evaluate, write, done
	Done    int       `json:"done"`
	Total   int       `json:"total"`
	Writes  int       `json:"writes"` // records written so far
	Error   string    `json:"error,omitempty"`
	Started time.Time `json:"started"`
	Updated time.Time `json:"updated"`

	// The checkpoint a killed job resumes from.
	Version  int       `json:"version,omitempty"`  // config version the job classifies with
	SyncedAt time.Time `json:"synced_at,omitzero"` // when its full sync finished; zero before
	Cursor   string    `json:"cursor,omitempty"`   // last record written, "deal:123"
	Resumes  int       `json:"resumes,omitempty"`  // times it resumed after an interruption

	// The stretch of the phase this process ran, for the ETA: it began at
	// PhaseStarted with PhaseDone already done.
	PhaseStarted time.Time `json:"phase_started,omitzero"`
	PhaseDone    int       `json:"phase_done,omitempty"`

	// Pace is the phase's recent time per unit of Done, over the last
	// paceWindow (Advance); MinPace the least time per unit the portal's
	// request limit allows in this phase (0: no bound known). A write phase
	// starts fast while the portal's bucket has room, then settles at the
	// limit: an estimate from the pace since the phase started would
	// promise seconds for what takes a minute.
	Pace    time.Duration `json:"pace,omitempty"`
	MinPace time.Duration `json:"min_pace,omitempty"`
	marks   []paceMark    // this process's recent points of the phase, oldest first
}

type paceMark struct {
	at   time.Time
	done int
}

// paceWindow is how far back Pace looks: long enough to even out batches
// that wait their turn behind other jobs, short enough to leave a burst
// behind soon.
const paceWindow = 20 * time.Second

// Advance moves Done to done at now; Pace becomes the time per unit over
// the stretch since the last point at least paceWindow old (or the
// phase's first point).
func (p *Progress) Advance(done int, now time.Time) {
	if done == p.Done && len(p.marks) > 0 {
		return
	}
	p.Done = done
	p.marks = append(p.marks, paceMark{now, done})
	for len(p.marks) > 2 && !p.marks[1].at.After(now.Add(-paceWindow)) {
		p.marks = p.marks[1:]
	}
	base := p.marks[0]
	if d := done - base.done; d > 0 && now.After(base.at) {
		p.Pace = now.Sub(base.at) / time.Duration(d)
	}
}

// StartPhase begins a phase at now with done of total already done.
func (p *Progress) StartPhase(name string, done, total int, minPace time.Duration, now time.Time) {
	p.Phase, p.Done, p.Total = name, done, total
	p.PhaseStarted, p.PhaseDone = now, done
	p.Pace, p.MinPace = 0, minPace
	p.marks = append(p.marks[:0], paceMark{now, done})
}

// ETA estimates the time left in the current phase: remaining units at the
// recent pace (Pace, else the average since PhaseStarted or Started), never
// faster than MinPace; false while there is no pace to go by.
func (p Progress) ETA() (time.Duration, bool) {
	if p.State == "done" {
		return 0, true
	}
	from, base := p.PhaseStarted, p.PhaseDone
	if from.IsZero() {
		from, base = p.Started, 0
	}
	if p.State != "running" || p.Total <= p.Done {
		return 0, false
	}
	per := p.Pace
	if did := p.Done - base; per == 0 && did > 0 && p.Updated.After(from) {
		per = p.Updated.Sub(from) / time.Duration(did)
	}
	per = max(per, p.MinPace)
	if per <= 0 {
		return 0, false
	}
	return per * time.Duration(p.Total-p.Done), true
}

// SetProgress stores a job's progress under its name (e.g. "backfill").
func (s *Store) SetProgress(ctx context.Context, memberID, job string, p Progress) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return s.rdb.Set(ctx, portalKey(memberID, "job:"+job), b, 0).Err()
}

// Progress returns a job's progress; ENotFound when it never ran.
func (s *Store) Progress(ctx context.Context, memberID, job string) (*Progress, error) {
	b, err := s.rdb.Get(ctx, portalKey(memberID, "job:"+job)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, Errorf(ENotFound, "No such job.")
	}
	if err != nil {
		return nil, fmt.Errorf("read progress %s: %w", memberID, err)
	}
	var p Progress
	return &p, json.Unmarshal(b, &p)
}

// AuditFilter narrows the portal's audit list; zero fields match anything.
type AuditFilter struct {
	Entity  string
	Segment string // matches the segment before or after the change
	ID      int64
}

func (f AuditFilter) match(e AuditEntry) bool {
	return (f.Entity == "" || e.Entity == f.Entity) &&
		(f.ID == 0 || e.ID == f.ID) &&
		(f.Segment == "" || e.From.Segment == f.Segment || e.To.Segment == f.Segment)
}

// auditPage is how many entries a filtered read takes from Redis at once.
const auditPage = 500

// FindAudit returns the portal's latest changes that match f, newest
// first, at most limit. A record's own trail answers when f names one;
// otherwise the portal's list is read page by page until limit entries
// match or it ends.
func (s *Store) FindAudit(ctx context.Context, memberID string, f AuditFilter, limit int) ([]AuditEntry, error) {
	out := []AuditEntry{}
	if f.Entity != "" && f.ID != 0 {
		list, err := s.Audit(ctx, memberID, f.Entity, f.ID)
		if err != nil {
			return nil, err
		}
		for _, e := range list {
			if f.match(e) && len(out) < limit {
				out = append(out, e)
			}
		}
		return out, nil
	}
	key := portalKey(memberID, "audit")
	for start := int64(0); start < auditPerPortal && len(out) < limit; start += auditPage {
		raw, err := s.rdb.LRange(ctx, key, start, start+auditPage-1).Result()
		if err != nil {
			return nil, fmt.Errorf("read audit: %w", err)
		}
		for _, r := range raw {
			e, err := decodeAudit(r, "", 0)
			if err != nil {
				return nil, err
			}
			if f.match(e) && len(out) < limit {
				out = append(out, e)
			}
		}
		if len(raw) < auditPage {
			break
		}
	}
	return out, nil
}

// InFlight is one record's write that was sent to the portal and whose
// answer has not been recorded yet: the write journal. The engine notes
// every write batch here before sending it and clears the notes, adding
// the audit entries, once the answer is recorded in the mirror. A note that
// stays behind means the process died (or lost the connection) while the
// batch was out: the write may or may not have run. Whoever finds such a
// note re-reads the record before planning it again (engine.Classifier), so
// a write whose answer was lost is never sent a second time.
type InFlight struct {
	Entity string       `json:"e"`
	ID     int64        `json:"i"`
	Batch  string       `json:"b"`            // the batch's own id: two runs writing one record keep two notes
	By     string       `json:"by,omitempty"` // the kind of run that wrote: "backfill" or "changes"
	Sent   time.Time    `json:"t"`
	Plan   segment.Plan `json:"p"` // what the command writes
	Audit  AuditEntry   `json:"a"` // kept if the write turns out to have run
	// Act is queued in the portal's outbox if the write turns out to have
	// run: what the record's entry into its segment sets off.
	Act *Action `json:"x,omitempty"`
	// Answered: the portal answered the batch with an error of its own, so
	// the batch is over and the record can be re-read at once.
	Answered bool `json:"d,omitempty"`
}

func (w InFlight) field() string { return w.Entity + ":" + strconv.FormatInt(w.ID, 10) + ":" + w.Batch }

func journalKey(memberID string) string { return portalKey(memberID, "journal") }

// BeginWrites notes a batch of writes as sent (see InFlight).
func (s *Store) BeginWrites(ctx context.Context, memberID string, writes []InFlight) error {
	if len(writes) == 0 {
		return nil
	}
	vals := make([]any, 0, 2*len(writes))
	for _, w := range writes {
		b, err := json.Marshal(w)
		if err != nil {
			return err
		}
		vals = append(vals, w.field(), b)
	}
	if err := s.rdb.HSet(ctx, journalKey(memberID), vals...).Err(); err != nil {
		return fmt.Errorf("write journal %s: %w", memberID, err)
	}
	return nil
}

// answerWrites rewrites the journal notes that still exist; a note someone
// settled meanwhile stays settled.
var answerWrites = redis.NewScript(`
local n = 0
for i = 1, #ARGV, 2 do
  if redis.call('HEXISTS', KEYS[1], ARGV[i]) == 1 then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
    n = n + 1
  end
end
return n
`)

// AnsweredWrites marks noted writes as answered (InFlight.Answered): their
// batch failed with the portal's own error, so they can be settled without
// waiting for a batch that may still run.
func (s *Store) AnsweredWrites(ctx context.Context, memberID string, writes []InFlight) error {
	if len(writes) == 0 {
		return nil
	}
	args := make([]any, 0, 2*len(writes))
	for _, w := range writes {
		w.Answered = true
		b, err := json.Marshal(w)
		if err != nil {
			return err
		}
		args = append(args, w.field(), b)
	}
	if err := answerWrites.Run(ctx, s.rdb, []string{journalKey(memberID)}, args...).Err(); err != nil {
		return fmt.Errorf("write journal %s: %w", memberID, err)
	}
	return nil
}

// InFlightWrites lists the writes noted and not yet settled, oldest first.
func (s *Store) InFlightWrites(ctx context.Context, memberID string) ([]InFlight, error) {
	m, err := s.rdb.HGetAll(ctx, journalKey(memberID)).Result()
	if err != nil {
		return nil, fmt.Errorf("write journal %s: %w", memberID, err)
	}
	out := make([]InFlight, 0, len(m))
	for _, v := range m {
		var w InFlight
		if err := json.Unmarshal([]byte(v), &w); err != nil {
			return nil, fmt.Errorf("write journal %s: %w", memberID, err)
		}
		out = append(out, w)
	}
	slices.SortFunc(out, func(a, b InFlight) int {
		if c := a.Sent.Compare(b.Sent); c != 0 {
			return c
		}
		return strings.Compare(a.field(), b.field())
	})
	return out, nil
}

// endWrites removes journal notes and, for each note it removes itself,
// appends its audit entry: whoever settles a write first (the process that
// got the answer, or one that re-read the record after a crash) records it,
// and only once. KEYS: the journal, the portal's list, its outbox, its
// moves log, then each write's trail bucket and old trail (audittrail.go);
// ARGV: the count and the limits, then six per write: its note, its trail
// field, its trail row, its list row, its action and its move (” for
// none; no trail row for a write that did not run).
var endWrites = redis.NewScript(trailLua + `
local n = tonumber(ARGV[1])
local recLimit, allLimit, outLimit, moveLimit = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local added, acted, moved = 0, 0, 0
for i = 1, n do
  local a = 5 + 6*(i - 1)
  local note, field, row, listed, act, move = ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4], ARGV[a + 5], ARGV[a + 6]
  if redis.call('HDEL', KEYS[1], note) == 1 and row ~= '' then
    trail(KEYS[3 + 2*i], field, KEYS[4 + 2*i], row, recLimit)
    redis.call('LPUSH', KEYS[2], listed)
    added = added + 1
    if act ~= '' then
      redis.call('RPUSH', KEYS[3], act)
      acted = acted + 1
    end
    if move ~= '' then
      redis.call('LPUSH', KEYS[4], move)
      moved = moved + 1
    end
  end
end
if added > 0 then redis.call('LTRIM', KEYS[2], 0, allLimit - 1) end
if acted > 0 then redis.call('LTRIM', KEYS[3], -outLimit, -1) end
if moved > 0 then redis.call('LTRIM', KEYS[4], 0, moveLimit - 1) end
return added
`)

// EndWrites settles journal notes: each write's note is removed and, when
// ran is true for it, its audit entry added, its move logged (moves.go) and
// its action queued —
// atomically, and only by the caller that removes the note, so an action
// is queued once for a write that ran and never for one that did not. It
// returns how many audit entries it added.
func (s *Store) EndWrites(ctx context.Context, memberID string, writes []InFlight, ran []bool) (int, error) {
	added, now := 0, s.clock()
	for len(writes) > 0 {
		n := min(len(writes), 200)
		keys := []string{journalKey(memberID), portalKey(memberID, "audit"), outboxKey(memberID), movesKey(memberID)}
		args := []any{n, auditPerRecord, auditPerPortal, maxOutbox, maxMoves}
		for i, w := range writes[:n] {
			keys = append(keys, trailKey(memberID, w.Entity, w.ID), oldTrailKey(memberID, w.Entity, w.ID))
			row, listed, act, move := "", "", "", ""
			if ran[i] {
				move = w.Audit.move(now)
				var err error
				if row, err = encodeAudit(w.Audit, false); err != nil {
					return added, err
				}
				if listed, err = encodeAudit(w.Audit, true); err != nil {
					return added, err
				}
				if w.Act != nil {
					b, err := json.Marshal(w.Act)
					if err != nil {
						return added, err
					}
					act = string(b)
				}
			}
			args = append(args, w.field(), trailField(w.ID), row, listed, act, move)
		}
		k, err := endWrites.Run(ctx, s.rdb, keys, args...).Int()
		if err != nil {
			return added, fmt.Errorf("write journal %s: %w", memberID, err)
		}
		added += k
		writes, ran = writes[n:], ran[n:]
	}
	return added, nil
}

func leaseKey(memberID, job string) string { return portalKey(memberID, "lease:"+job) }

// SetLease marks a portal's job as alive for ttl; the job renews it while
// it runs, so a job whose process died loses it within ttl.
func (s *Store) SetLease(ctx context.Context, memberID, job string, ttl time.Duration) error {
	if err := s.rdb.Set(ctx, leaseKey(memberID, job), "1", ttl).Err(); err != nil {
		return fmt.Errorf("lease %s of %s: %w", job, memberID, err)
	}
	return nil
}

// DropLease ends a job's lease.
func (s *Store) DropLease(ctx context.Context, memberID, job string) error {
	return s.rdb.Del(ctx, leaseKey(memberID, job)).Err()
}

// Leased reports whether a portal's job holds a live lease.
func (s *Store) Leased(ctx context.Context, memberID, job string) (bool, error) {
	n, err := s.rdb.Exists(ctx, leaseKey(memberID, job)).Result()
	if err != nil {
		return false, fmt.Errorf("lease %s of %s: %w", job, memberID, err)
	}
	return n == 1, nil
}
