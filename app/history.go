package app

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"

	"segmentor/app/segment"
)

// HistoryDays is how long a portal keeps its daily snapshots.
const HistoryDays = 400

// Figures are one segment's size and worth on a day.
type Figures struct {
	Segment string `json:"segment"` // key; "" for the records no segment took
	Count   int64  `json:"count"`   // records in the segment
	Value   int64  `json:"value"`   // won in the last 365 days, whole units of the base currency
	Won     int64  `json:"won"`     // won deals in the last 365 days
	Open    int64  `json:"open"`    // open deals
}

// Snapshot is how a scheme split its records on one day (UTC), taken by
// the scheduler from the mirror. A day without a snapshot stays without
// one: a chart shows the gap.
type Snapshot struct {
	Day      Day            `json:"day"`
	Entity   segment.Entity `json:"entity"`
	Currency string         `json:"currency"`
	Segments []Figures      `json:"segments"`
	// Estimated marks a day from before Segmentor kept figures, worked out
	// afterwards from the deals' dates (engine.Analyst.EstimateHistory):
	// never a day it missed.
	Estimated bool `json:"estimated,omitempty"`
}

// Day is a calendar day in UTC, counted from 1970-01-01.
type Day int32

// DayOf is the UTC day t falls on.
func DayOf(t time.Time) Day { return Day(t.UTC().Unix() / 86400) }

// ParseDay reads "2006-01-02".
func ParseDay(s string) (Day, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return 0, err
	}
	return DayOf(t), nil
}

// Time is the day's start (UTC).
func (d Day) Time() time.Time { return time.Unix(int64(d)*86400, 0).UTC() }

func (d Day) String() string { return d.Time().Format(time.DateOnly) }

// MarshalText writes the day as "2006-01-02".
func (d Day) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads "2006-01-02".
func (d *Day) UnmarshalText(b []byte) error {
	v, err := ParseDay(string(b))
	*d = v
	return err
}

func historyKey(memberID string, e segment.Entity) string {
	return portalKey(memberID, "history:"+string(e))
}

// PutSnapshot keeps s as its day's snapshot (replacing one taken earlier
// that day, or an estimate) and drops the days older than HistoryDays
// before the newest. A scheme's whole history is one compressed value: a
// year of 20 segments takes a few KB (encodeHistory).
func (s *Store) PutSnapshot(ctx context.Context, memberID string, snap Snapshot) error {
	return s.updateHistory(ctx, memberID, snap.Entity, func(days []Snapshot) []Snapshot {
		i, found := slices.BinarySearchFunc(days, snap.Day, func(x Snapshot, d Day) int { return int(x.Day - d) })
		if found {
			days[i] = snap
			return days
		}
		return slices.Insert(days, i, snap)
	})
}

// PutEstimates adds estimated days (all of entity e) to a scheme's
// history, each only where the history has no day yet and only before its
// first kept day: an estimate fills the time before Segmentor kept
// figures, never a day it missed, and never replaces a kept day.
func (s *Store) PutEstimates(ctx context.Context, memberID string, e segment.Entity, est []Snapshot) error {
	return s.updateHistory(ctx, memberID, e, func(days []Snapshot) []Snapshot {
		first := Day(math.MaxInt32)
		for _, d := range days {
			if !d.Estimated {
				first = d.Day
				break
			}
		}
		for _, x := range est {
			if x.Entity != e || x.Day >= first {
				continue
			}
			x.Estimated = true
			if i, found := slices.BinarySearchFunc(days, x.Day, func(y Snapshot, d Day) int { return int(y.Day - d) }); !found {
				days = slices.Insert(days, i, x)
			}
		}
		return days
	})
}

// updateHistory rewrites a scheme's history with change, in a
// transaction, dropping the days older than HistoryDays before the newest.
func (s *Store) updateHistory(ctx context.Context, memberID string, e segment.Entity, change func([]Snapshot) []Snapshot) error {
	key := historyKey(memberID, e)
	update := func(tx *redis.Tx) error {
		raw, err := tx.Get(ctx, key).Bytes()
		if err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		days, err := decodeHistory(raw, e)
		if err != nil {
			return fmt.Errorf("history %s %s: %w", memberID, e, err)
		}
		days = change(days)
		if len(days) == 0 {
			return nil
		}
		newest := days[len(days)-1].Day
		days = slices.DeleteFunc(days, func(x Snapshot) bool { return x.Day <= newest-HistoryDays })
		b, err := encodeHistory(days)
		if err != nil {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, key, b, 0)
			return nil
		})
		return err
	}
	for range 10 {
		err := s.rdb.Watch(ctx, update, key)
		if !errors.Is(err, redis.TxFailedErr) {
			if err != nil {
				return fmt.Errorf("history %s: %w", memberID, err)
			}
			return nil
		}
	}
	return fmt.Errorf("history %s: %w", memberID, redis.TxFailedErr)
}

// History returns a scheme's snapshots from day from to day to, both
// included, oldest first.
func (s *Store) History(ctx context.Context, memberID string, e segment.Entity, from, to Day) ([]Snapshot, error) {
	raw, err := s.rdb.Get(ctx, historyKey(memberID, e)).Bytes()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("history %s: %w", memberID, err)
	}
	days, err := decodeHistory(raw, e)
	if err != nil {
		return nil, fmt.Errorf("history %s %s: %w", memberID, e, err)
	}
	return slices.DeleteFunc(days, func(x Snapshot) bool { return x.Day < from || x.Day > to }), nil
}

// HistorySize is how many bytes a scheme's history takes in Redis (its
// value's length).
func (s *Store) HistorySize(ctx context.Context, memberID string, e segment.Entity) (int64, error) {
	return s.rdb.StrLen(ctx, historyKey(memberID, e)).Result()
}

// historyVersion starts every encoded history. Version 1 had no
// estimated days: its day header is the segment count and the currency
// bit; version 2 adds the estimated bit.
const (
	historyVersion1 = 1
	historyVersion  = 2
)

// encodeHistory writes days (sorted, one per day) column-wise: the
// segment keys once, then per day the gap since the day before and, per
// segment, how each figure changed since that segment's last snapshot
// (zig-zag varints), deflated. Segment sizes move slowly, so most changes
// are a byte and most bytes repeat.
func encodeHistory(days []Snapshot) ([]byte, error) {
	var raw []byte
	raw = binary.AppendUvarint(raw, historyVersion)
	keys, index := []string{}, map[string]uint64{}
	for _, d := range days {
		for _, f := range d.Segments {
			if _, ok := index[f.Segment]; !ok {
				index[f.Segment] = uint64(len(keys))
				keys = append(keys, f.Segment)
			}
		}
	}
	appendString := func(s string) {
		raw = binary.AppendUvarint(raw, uint64(len(s)))
		raw = append(raw, s...)
	}
	raw = binary.AppendUvarint(raw, uint64(len(keys)))
	for _, k := range keys {
		appendString(k)
	}
	raw = binary.AppendUvarint(raw, uint64(len(days)))
	prev := make([][4]int64, len(keys))
	prevDay, prevCurrency := Day(0), ""
	for _, d := range days {
		raw = binary.AppendVarint(raw, int64(d.Day-prevDay))
		prevDay = d.Day
		// The currency is written only when it changes (rarely: the base
		// currency is a portal setting).
		head := uint64(len(d.Segments)) << 2
		if d.Estimated {
			head |= 2
		}
		if d.Currency != prevCurrency {
			raw = binary.AppendUvarint(raw, head|1)
			appendString(d.Currency)
			prevCurrency = d.Currency
		} else {
			raw = binary.AppendUvarint(raw, head)
		}
		for _, f := range d.Segments {
			i := index[f.Segment]
			raw = binary.AppendUvarint(raw, i)
			now := [4]int64{f.Count, f.Value, f.Won, f.Open}
			for j := range now {
				raw = binary.AppendVarint(raw, now[j]-prev[i][j])
			}
			prev[i] = now
		}
	}
	var out bytes.Buffer
	w, err := flate.NewWriter(&out, flate.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(raw); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// errHistoryFormat is a stored history this version cannot read.
var errHistoryFormat = errors.New("history: unreadable encoding")

// decodeHistory reads what encodeHistory wrote; nothing reads as no days.
func decodeHistory(b []byte, e segment.Entity) ([]Snapshot, error) {
	if len(b) == 0 {
		return []Snapshot{}, nil
	}
	raw, err := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(b)), 64<<20))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errHistoryFormat, err)
	}
	r := &varintReader{b: raw}
	version := r.uvarint()
	if version != historyVersion && version != historyVersion1 {
		return nil, fmt.Errorf("%w: version %d", errHistoryFormat, version)
	}
	nkeys := r.count(len(raw))
	keys := make([]string, 0, nkeys)
	for range nkeys {
		keys = append(keys, r.string())
	}
	ndays := r.count(len(raw))
	days := make([]Snapshot, 0, ndays)
	prev := make([][4]int64, len(keys))
	day, currency := Day(0), ""
	for range ndays {
		day += Day(r.varint())
		head := r.uvarint()
		if head&1 == 1 {
			currency = r.string()
		}
		n, estimated := head>>1, false
		if version >= 2 {
			n, estimated = head>>2, head&2 != 0
		}
		n = min(n, uint64(len(raw)))
		snap := Snapshot{Day: day, Entity: e, Currency: currency, Segments: make([]Figures, 0, n), Estimated: estimated}
		for range n {
			i := r.uvarint()
			if i >= uint64(len(keys)) {
				r.err = errHistoryFormat
				break
			}
			for j := range prev[i] {
				prev[i][j] += r.varint()
			}
			snap.Segments = append(snap.Segments, Figures{Segment: keys[i], Count: prev[i][0], Value: prev[i][1], Won: prev[i][2], Open: prev[i][3]})
		}
		days = append(days, snap)
	}
	if r.err != nil {
		return nil, r.err
	}
	return days, nil
}

// varintReader reads varints, remembering the first error.
type varintReader struct {
	b   []byte
	err error
}

func (r *varintReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errHistoryFormat
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *varintReader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errHistoryFormat
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads a length no larger than limit (so a corrupt value cannot
// make it allocate much).
func (r *varintReader) count(limit int) int {
	v := r.uvarint()
	if v > uint64(limit) {
		r.err = errHistoryFormat
		return 0
	}
	return int(v)
}

func (r *varintReader) string() string {
	n := r.count(len(r.b))
	if r.err != nil {
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}
