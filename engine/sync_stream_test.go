package engine_test

import (
	"context"
	"testing"

	"segmentor/app"
	"segmentor/app/segment"
	"segmentor/bitrix/b24sim"
	"segmentor/engine"
)

// A sync streams what it reads into the mirror as it goes, a few thousand
// rows at a time (a deal once its product rows are read), rather than
// holding the whole portal until its scans end: its memory does not grow
// with the portal. Streamed, it still keeps the segment keys computed
// before, removes what the portal deleted, and gives every deal its
// product groups; and its requests stay as few as packing allows.
func TestSyncStreamsRowsIntoTheMirror(t *testing.T) {
	ctx := context.Background()
	const deals = 30000
	e := newEngineEnv(t, b24sim.GenOptions{Contacts: deals / 3, Companies: deals / 10, Deals: deals})
	m := app.NewMirror(e.rdb)
	// Each store takes the changes lock: the deals the mirror holds then
	// show how the first sync of an empty mirror went.
	var stored []int
	e.cls.Exclusive = func(ctx context.Context, memberID string) (func(), error) {
		n, err := m.Count(ctx, memberID, segment.EntityDeal)
		if err != nil {
			t.Error(err)
		}
		stored = append(stored, n)
		return func() {}, nil
	}
	st, err := e.cls.Sync(ctx, e.memberID, engine.SyncOptions{Rows: true})
	if err != nil {
		t.Fatal(err)
	}
	partly := 0
	for _, n := range stored {
		if n > 0 && n < deals {
			partly++
		}
	}
	if partly < deals/5000 {
		t.Fatalf("deals in the mirror at each store: %v; want it to fill in steps while the scans run", stored)
	}
	// The product-row chains of the deals read last, and each chain's
	// last, short page, cost a few requests more than the rows alone
	// (39 before the sync streamed, 40 now, for 91,281 rows).
	if minRows := (st.Rows() + 2499) / 2500; st.Requests > minRows+3 {
		t.Errorf("sync: %d requests for %d rows; the least is %d", st.Requests, st.Rows(), minRows)
	}
	e.cls.Exclusive = nil
	if _, err := e.cls.Backfill(ctx, e.memberID, app.TriggerSetup); err != nil {
		t.Fatal(err)
	}
	keys, err := m.Keys(ctx, e.memberID, segment.EntityDeal, []int64{1, 2, 3, 4, 5})
	if err != nil || len(keys) != 5 {
		t.Fatalf("keys after the backfill: %v %v", keys, err)
	}
	for _, id := range []int{7, deals / 2, deals} {
		if err := e.sim.UserDelete("deal", id, 1); err != nil {
			t.Fatal(err)
		}
	}
	if st, err = e.cls.Sync(ctx, e.memberID, engine.SyncOptions{Rows: true}); err != nil || st.Deals != deals-3 {
		t.Fatalf("the second sync read %d deals (%v), want %d", st.Deals, err, deals-3)
	}
	n, err := m.Count(ctx, e.memberID, segment.EntityDeal)
	if err != nil || n != deals-3 {
		t.Fatalf("mirror holds %d deals (%v), want %d: the deleted ones removed", n, err, deals-3)
	}
	after, err := m.Keys(ctx, e.memberID, segment.EntityDeal, []int64{1, 2, 3, 4, 5})
	if err != nil {
		t.Fatal(err)
	}
	for id, k := range keys {
		if after[id] != k {
			t.Errorf("deal %d: key %q after the sync, %q before: a sync keeps the keys", id, after[id], k)
		}
	}
	// Every deal has the product groups its rows give.
	groups := 0
	if err := m.EachDeal(ctx, e.memberID, func(d *app.MirrorDeal) error {
		if len(d.Sections) > 0 {
			groups++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if groups < deals*3/4 { // the simulator gives about a fifth of its deals no product rows
		t.Errorf("%d of %d deals have product groups", groups, deals-3)
	}
}
