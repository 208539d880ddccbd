package app

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"segmentor/app/segment"
)

// The moves log is every change of a record's segment, newest first, one
// short line each ("unix entity id from to trigger"): what the movement
// matrix and a segment's entries and exits are read from. It is written
// with the audit entry (EndWrites), so it holds exactly the changes that
// landed. The portal's audit list keeps the last 10,000 entries with their
// reasons; the log keeps HistoryDays of moves (TrimMoves), at most maxMoves.
const maxMoves = 2_000_000

func movesKey(memberID string) string { return portalKey(memberID, "moves") }

// Move is one record's change of segment.
type Move struct {
	At      time.Time      `json:"at"`
	Entity  segment.Entity `json:"entity"`
	ID      int64          `json:"id"`
	From    string         `json:"from"` // segment key; "" for none
	To      string         `json:"to"`
	Trigger string         `json:"trigger,omitempty"`
}

// move is the entry's line in the moves log, dated at (when the write
// settled: lines are then in the order they were pushed, give or take the
// clocks of the workers); "" when the segment stayed (a type or pipeline
// change only).
func (e AuditEntry) move(at time.Time) string {
	if e.From.Segment == e.To.Segment {
		return ""
	}
	return strings.Join([]string{strconv.FormatInt(at.Unix(), 10), e.Entity, strconv.FormatInt(e.ID, 10),
		dash(e.From.Segment), dash(e.To.Segment), dash(e.Trigger)}, " ")
}

// dash stands for an empty word in a line of words.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func undash(s string) string {
	if s == "-" {
		return ""
	}
	return s
}

func parseMove(line string) (Move, bool) {
	f := strings.Fields(line)
	if len(f) != 6 {
		return Move{}, false
	}
	at, err1 := strconv.ParseInt(f[0], 10, 64)
	id, err2 := strconv.ParseInt(f[2], 10, 64)
	if err1 != nil || err2 != nil {
		return Move{}, false
	}
	return Move{At: time.Unix(at, 0).UTC(), Entity: segment.Entity(f[1]), ID: id,
		From: undash(f[3]), To: undash(f[4]), Trigger: undash(f[5])}, true
}

// movesPage is how many lines a read takes from Redis at once.
const movesPage = 20000

// Moves calls fn with the portal's moves since since (included) up to
// until (excluded), newest first, until fn returns false. An unreadable
// line is skipped.
func (s *Store) Moves(ctx context.Context, memberID string, since, until time.Time, fn func(Move) bool) error {
	key := movesKey(memberID)
	for start := int64(0); ; start += movesPage {
		raw, err := s.rdb.LRange(ctx, key, start, start+movesPage-1).Result()
		if err != nil {
			return fmt.Errorf("moves %s: %w", memberID, err)
		}
		for _, line := range raw {
			m, ok := parseMove(line)
			if !ok || !m.At.Before(until) {
				continue
			}
			// Lines are dated when pushed, by the clock of the worker that
			// pushed them: the read stops a minute past since.
			if m.At.Before(since) {
				if m.At.Before(since.Add(-time.Minute)) {
					return nil
				}
				continue
			}
			if !fn(m) {
				return nil
			}
		}
		if len(raw) < movesPage {
			return nil
		}
	}
}

// TrimMoves drops the moves older than HistoryDays from the log's tail.
func (s *Store) TrimMoves(ctx context.Context, memberID string) error {
	key := movesKey(memberID)
	cutoff := s.clock().Add(-HistoryDays * 24 * time.Hour)
	for {
		raw, err := s.rdb.LRange(ctx, key, -1000, -1).Result()
		if err != nil {
			return fmt.Errorf("moves %s: %w", memberID, err)
		}
		// The tail is the oldest end: count how many of its lines are old.
		old := 0
		for i := len(raw) - 1; i >= 0; i-- {
			m, ok := parseMove(raw[i])
			if ok && !m.At.Before(cutoff) {
				break
			}
			old++
		}
		if old == 0 {
			return nil
		}
		if err := s.rdb.LTrim(ctx, key, 0, -int64(old)-1).Err(); err != nil {
			return fmt.Errorf("moves %s: %w", memberID, err)
		}
		if old < len(raw) {
			return nil
		}
	}
}
