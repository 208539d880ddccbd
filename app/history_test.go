package app

import (
	"bytes"
	"compress/flate"
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"segmentor/app/segment"
	"segmentor/internal/redistest"
)

func TestHistoryKeepsOneSnapshotADayAndDropsOldDays(t *testing.T) {
	rdb, _ := redistest.New(t)
	s := NewStore(rdb, nil, nil)
	ctx := context.Background()
	first := DayOf(time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC))
	put := func(d Day, vip int64) {
		t.Helper()
		err := s.PutSnapshot(ctx, "m1", Snapshot{Day: d, Entity: segment.EntityContact, Currency: "EUR", Segments: []Figures{
			{Segment: "", Count: 3}, {Segment: "vip", Count: vip, Value: vip * 1000, Won: vip, Open: 2}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	put(first, 10)
	put(first+2, 12) // day first+1 was missed: it stays missing
	put(first+2, 13) // a later snapshot the same day replaces the first
	got, err := s.History(ctx, "m1", segment.EntityContact, first, first+10)
	if err != nil {
		t.Fatal(err)
	}
	want := []Snapshot{
		{Day: first, Entity: segment.EntityContact, Currency: "EUR", Segments: []Figures{{Count: 3}, {Segment: "vip", Count: 10, Value: 10000, Won: 10, Open: 2}}},
		{Day: first + 2, Entity: segment.EntityContact, Currency: "EUR", Segments: []Figures{{Count: 3}, {Segment: "vip", Count: 13, Value: 13000, Won: 13, Open: 2}}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("history (-want +got):\n%s", diff)
	}
	// HistoryDays after the first day, the first one goes.
	put(first+HistoryDays, 20)
	got, err = s.History(ctx, "m1", segment.EntityContact, 0, first+HistoryDays)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Day != first+2 || got[1].Day != first+HistoryDays {
		t.Fatalf("after %d days: %v", HistoryDays, got)
	}
	// Another scheme's history is apart.
	if other, _ := s.History(ctx, "m1", segment.EntityDeal, 0, first+HistoryDays); len(other) != 0 {
		t.Fatalf("deal history: %v", other)
	}
}

// A year of 20 segments fits in a few KB: on a day, a segment's figures
// change with a chance of one in three (records enter and leave, deals
// are won) by a few records and their deals' worth.
func TestHistoryOfAYearIsAFewKB(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var days []Snapshot
	count, value := make([]int64, 20), make([]int64, 20)
	for i := range count {
		count[i] = int64(100 + rng.IntN(5000))
		value[i] = count[i] * 1200
	}
	for d := range Day(365) {
		snap := Snapshot{Day: 20000 + d, Entity: segment.EntityContact, Currency: "EUR"}
		for i := range count {
			if rng.IntN(3) == 0 {
				count[i] += int64(rng.IntN(11) - 5)
				value[i] += int64(rng.IntN(20001) - 10000)
			}
			snap.Segments = append(snap.Segments, Figures{Segment: fmt.Sprintf("seg_%02d", i), Count: count[i],
				Value: value[i], Won: count[i] / 3, Open: count[i] / 10})
		}
		days = append(days, snap)
	}
	b, err := encodeHistory(days)
	if err != nil {
		t.Fatal(err)
	}
	back, err := decodeHistory(b, segment.EntityContact)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(days, back); diff != "" {
		t.Fatalf("round trip (-want +got):\n%s", diff)
	}
	t.Logf("365 days × 20 segments: %d bytes", len(b))
	if len(b) > 16<<10 {
		t.Fatalf("a year of 20 segments takes %d bytes; want a few KB", len(b))
	}
}

func TestHistoryRefusesGarbage(t *testing.T) {
	for _, b := range [][]byte{{1, 2, 3}, mustDeflate(t, []byte{9}), mustDeflate(t, []byte{1, 200, 200, 200, 200, 200})} {
		if _, err := decodeHistory(b, segment.EntityDeal); err == nil {
			t.Errorf("decodeHistory(%v) read garbage", b)
		}
	}
}

func mustDeflate(t *testing.T, raw []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	w, _ := flate.NewWriter(&out, flate.BestSpeed)
	if _, err := w.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// Estimates fill the days before the first kept snapshot only: never a
// missed day between kept ones, never a kept day; a kept snapshot replaces
// an estimate of its day.
func TestHistoryEstimatesOnlyPrecedeKeptDays(t *testing.T) {
	rdb, _ := redistest.New(t)
	s := NewStore(rdb, nil, nil)
	ctx := context.Background()
	day := DayOf(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	snap := func(d Day, n int64) Snapshot {
		return Snapshot{Day: d, Entity: segment.EntityCompany, Currency: "PLN", Segments: []Figures{{Segment: "big", Count: n}}}
	}
	for _, d := range []Day{day, day + 2} {
		if err := s.PutSnapshot(ctx, "m1", snap(d, 7)); err != nil {
			t.Fatal(err)
		}
	}
	est := []Snapshot{snap(day-2, 1), snap(day-1, 2), snap(day, 3), snap(day+1, 4), snap(day+3, 5)}
	if err := s.PutEstimates(ctx, "m1", segment.EntityCompany, est); err != nil {
		t.Fatal(err)
	}
	got, err := s.History(ctx, "m1", segment.EntityCompany, 0, day+10)
	if err != nil {
		t.Fatal(err)
	}
	want := []Snapshot{snap(day-2, 1), snap(day-1, 2), snap(day, 7), snap(day+2, 7)}
	want[0].Estimated, want[1].Estimated = true, true
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("history (-want +got):\n%s", diff)
	}
	if err := s.PutSnapshot(ctx, "m1", snap(day-1, 9)); err != nil {
		t.Fatal(err)
	}
	got, _ = s.History(ctx, "m1", segment.EntityCompany, day-1, day-1)
	if len(got) != 1 || got[0].Estimated || got[0].Segments[0].Count != 9 {
		t.Fatalf("a kept snapshot did not replace the estimate: %v", got)
	}
}

// A history written before estimates existed (version 1) still reads.
func TestHistoryReadsVersionOne(t *testing.T) {
	// version 1; one key "vip"; two days: day 100 with currency "EUR" and
	// vip 5 records, day 101 (+1) with vip 6.
	raw := []byte{1, 1, 3, 'v', 'i', 'p', 2,
		200, 1, 1<<1 | 1, 3, 'E', 'U', 'R', 0, 10, 0, 0, 0,
		2, 1 << 1, 0, 2, 0, 0, 0}
	got, err := decodeHistory(mustDeflate(t, raw), segment.EntityContact)
	if err != nil {
		t.Fatal(err)
	}
	want := []Snapshot{
		{Day: 100, Entity: segment.EntityContact, Currency: "EUR", Segments: []Figures{{Segment: "vip", Count: 5}}},
		{Day: 101, Entity: segment.EntityContact, Currency: "EUR", Segments: []Figures{{Segment: "vip", Count: 6}}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("version 1 (-want +got):\n%s", diff)
	}
}
