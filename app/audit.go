package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
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
	Why           string    `json:"why"` // the explanation, as shown on the card tab
}

// Outcome is what a record carried before or after a change.
type Outcome struct {
	Segment  string `json:"segment,omitempty"` // segment key
	Type     string `json:"type,omitempty"`
	Pipeline string `json:"pipeline,omitempty"` // "3:C3:NEW" (deals)
}

// AddAudit appends entries to each record's trail and the portal's.
func (s *Store) AddAudit(ctx context.Context, memberID string, entries []AuditEntry) error {
	if len(entries) == 0 {
		return nil
	}
	all := portalKey(memberID, "audit")
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, e := range entries {
			b, err := json.Marshal(e)
			if err != nil {
				return err
			}
			rec := auditKey(memberID, e.Entity, e.ID)
			p.LPush(ctx, rec, b)
			p.LTrim(ctx, rec, 0, auditPerRecord-1)
			p.LPush(ctx, all, b)
		}
		p.LTrim(ctx, all, 0, auditPerPortal-1)
		return nil
	})
	if err != nil {
		return fmt.Errorf("audit %s: %w", memberID, err)
	}
	return nil
}

func auditKey(memberID, entity string, id int64) string {
	return portalKey(memberID, "audit:"+entity+":"+strconv.FormatInt(id, 10))
}

// Audit returns a record's trail, newest first.
func (s *Store) Audit(ctx context.Context, memberID, entity string, id int64) ([]AuditEntry, error) {
	return s.audit(ctx, auditKey(memberID, entity, id), auditPerRecord)
}

// PortalAudit returns the portal's latest changes, newest first.
func (s *Store) PortalAudit(ctx context.Context, memberID string, limit int) ([]AuditEntry, error) {
	return s.audit(ctx, portalKey(memberID, "audit"), limit)
}

func (s *Store) audit(ctx context.Context, key string, limit int) ([]AuditEntry, error) {
	raw, err := s.rdb.LRange(ctx, key, 0, int64(limit)-1).Result()
	if err != nil {
		return nil, fmt.Errorf("read audit: %w", err)
	}
	out := make([]AuditEntry, 0, len(raw))
	for _, r := range raw {
		var e AuditEntry
		if err := json.Unmarshal([]byte(r), &e); err != nil {
			return nil, fmt.Errorf("decode audit: %w", err)
		}
		out = append(out, e)
	}
	return out, nil
}

// Progress is where a long job of a portal stands (backfill, recompute).
type Progress struct {
	State   string    `json:"state"` // running, done, failed
	Phase   string    `json:"phase"` // sync, rfm, evaluate, write
	Done    int       `json:"done"`
	Total   int       `json:"total"`
	Writes  int       `json:"writes"` // records written so far
	Error   string    `json:"error,omitempty"`
	Started time.Time `json:"started"`
	Updated time.Time `json:"updated"`
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
			var e AuditEntry
			if err := json.Unmarshal([]byte(r), &e); err != nil {
				return nil, fmt.Errorf("decode audit: %w", err)
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
