package app

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"segmentor/app/segment"
	"segmentor/internal/redistest"
)

func TestMovesLogTheSegmentChangesThatLanded(t *testing.T) {
	rdb, _ := redistest.New(t)
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	s := NewStore(rdb, nil, func() time.Time { return now })
	ctx := context.Background()
	at := func(d time.Duration) time.Time { return now.Add(-d) }
	writes := []InFlight{
		{Entity: "contact", ID: 1, Batch: "b", Audit: AuditEntry{At: at(time.Hour), Entity: "contact", ID: 1, From: Outcome{Segment: "new"}, To: Outcome{Segment: "vip"}, Trigger: TriggerChange}},
		{Entity: "contact", ID: 2, Batch: "b", Audit: AuditEntry{At: at(time.Hour), Entity: "contact", ID: 2, From: Outcome{Segment: "vip", Type: "A"}, To: Outcome{Segment: "vip", Type: "B"}}},
		{Entity: "deal", ID: 3, Batch: "b", Audit: AuditEntry{At: at(time.Hour), Entity: "deal", ID: 3, To: Outcome{Segment: "big"}, Trigger: TriggerSetup}},
		{Entity: "deal", ID: 4, Batch: "b", Audit: AuditEntry{At: at(time.Hour), Entity: "deal", ID: 4, From: Outcome{Segment: "big"}, To: Outcome{Segment: "small"}}},
	}
	if err := s.AddAudit(ctx, "m1", []AuditEntry{{At: at(500 * 24 * time.Hour), Entity: "contact", ID: 9, From: Outcome{Segment: "vip"}, To: Outcome{Segment: "sleeping"}, Trigger: TriggerNightly}}); err != nil {
		t.Fatal(err)
	}
	if err := s.BeginWrites(ctx, "m1", writes); err != nil {
		t.Fatal(err)
	}
	// Deal 4's write did not run: no move. Contact 2 kept its segment.
	if _, err := s.EndWrites(ctx, "m1", writes, []bool{true, true, true, false}); err != nil {
		t.Fatal(err)
	}
	// Settling again adds nothing.
	if _, err := s.EndWrites(ctx, "m1", writes, []bool{true, true, true, true}); err != nil {
		t.Fatal(err)
	}
	var got []Move
	err := s.Moves(ctx, "m1", at(48*time.Hour), now.Add(time.Second), func(m Move) bool { got = append(got, m); return true })
	if err != nil {
		t.Fatal(err)
	}
	want := []Move{
		{At: now, Entity: segment.EntityDeal, ID: 3, To: "big", Trigger: TriggerSetup},
		{At: now, Entity: segment.EntityContact, ID: 1, From: "new", To: "vip", Trigger: TriggerChange},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("moves (-want +got):\n%s", diff)
	}
	// The 500-day-old move is past the history: trimmed, the others stay.
	if n, _ := rdb.LLen(ctx, movesKey("m1")).Result(); n != 3 {
		t.Fatalf("moves log before trim: %d lines", n)
	}
	if err := s.TrimMoves(ctx, "m1"); err != nil {
		t.Fatal(err)
	}
	if n, _ := rdb.LLen(ctx, movesKey("m1")).Result(); n != 2 {
		t.Fatalf("moves log after trim: %d lines, want 2", n)
	}
}
