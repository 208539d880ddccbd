package app_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"segmentor/app"
	"segmentor/app/segment"
	"segmentor/internal/keyspace"
	"segmentor/internal/redistest"
)

// Every write to the mirror's rows or rates is in the change log, after a
// generation a reader noted; another portal's writes are not.
func TestMirrorChangeLog(t *testing.T) {
	ctx := context.Background()
	rdb, _ := redistest.New(t)
	m := app.NewMirror(rdb)
	const mid = "p1"
	ch, err := m.ChangesSince(ctx, mid, 0)
	if err != nil || !ch.Complete || ch.Gen != 0 || ch.Count() != 0 {
		t.Fatalf("empty mirror: %+v %v", ch, err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(m.PutDeals(ctx, mid, []*app.MirrorDeal{{ID: 1, CompanyID: 10}, {ID: 2}}))
	must(m.PutClients(ctx, mid, segment.EntityContact, []*app.MirrorClient{{ID: 5}}))
	g1, _ := m.Generation(ctx, mid)
	must(m.PutClients(ctx, mid, segment.EntityCompany, []*app.MirrorClient{{ID: 10}}))
	must(m.DeleteDeals(ctx, mid, []int64{2}))
	must(m.DeleteClients(ctx, mid, segment.EntityContact, []int64{5}))
	must(m.SetRates(ctx, mid, segment.Rates{Base: "USD"}))
	must(m.PutClients(ctx, "other", segment.EntityContact, []*app.MirrorClient{{ID: 77}}))

	ch, err = m.ChangesSince(ctx, mid, g1)
	if err != nil {
		t.Fatal(err)
	}
	want := map[segment.Entity][]int64{segment.EntityCompany: {10}, segment.EntityDeal: {2}, segment.EntityContact: {5}}
	if d := cmp.Diff(want, ch.IDs); d != "" || !ch.Complete || !ch.Rates || ch.Gen != g1+4 {
		t.Errorf("changes since %d: %+v\n%s", g1, ch, d)
	}
	if ch, _ := m.ChangesSince(ctx, mid, ch.Gen); ch.Count() != 0 || ch.Rates || !ch.Complete {
		t.Errorf("nothing changed since: %+v", ch)
	}
	// A reader ahead of the mirror (it was wiped) must reload.
	if ch, _ := m.ChangesSince(ctx, mid, g1+100); ch.Complete {
		t.Errorf("a reader ahead of the log: %+v", ch)
	}
}

// The log keeps the latest records; a reader older than what it dropped
// is told to reload, a newer one still gets every change.
func TestMirrorChangeLogIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 60,000 rows")
	}
	ctx := context.Background()
	rdb, _ := redistest.New(t)
	m := app.NewMirror(rdb)
	rows := make([]*app.MirrorClient, 60000)
	for i := range rows {
		rows[i] = &app.MirrorClient{ID: int64(i + 1)}
	}
	if err := m.PutClients(ctx, "p", segment.EntityContact, rows[:30000]); err != nil {
		t.Fatal(err)
	}
	mid, _ := m.Generation(ctx, "p")
	if err := m.PutClients(ctx, "p", segment.EntityContact, rows[30000:]); err != nil {
		t.Fatal(err)
	}
	n, _ := rdb.ZCard(ctx, keyspace.Portal("p", "m:changes")).Result()
	if n > 50000 {
		t.Errorf("the log holds %d records", n)
	}
	if ch, _ := m.ChangesSince(ctx, "p", 1); ch.Complete {
		t.Errorf("a reader from the start, after the log dropped it: %+v", ch.Gen)
	}
	ch, _ := m.ChangesSince(ctx, "p", mid)
	if !ch.Complete || len(ch.IDs[segment.EntityContact]) != 30000 {
		t.Errorf("a reader from the middle: complete %v, %d changes", ch.Complete, len(ch.IDs[segment.EntityContact]))
	}
}
