package engine_test

import (
	"context"
	"testing"

	"segmentor/app"
	"segmentor/bitrix/b24sim"
	"segmentor/engine"
)

// A live change that lands while a backfill writes — after its snapshot —
// is not undone by the backfill's older plan: a deal won meanwhile makes
// its contact VIP (and the contact's open deals premium), and the backfill
// leaves those records as the live change wrote them. Every record ends in
// its right state. The live change runs where the changes lock is taken,
// before the backfill's first write.
func TestBackfillLeavesWhatLiveChangesWroteSinceItsSnapshot(t *testing.T) {
	ctx := context.Background()
	e := newEngineEnv(t, b24sim.GenOptions{Contacts: 1000, Companies: 200, Deals: 3000})
	dealID, contactID := vipCandidate(t, e, e.expect(t))
	held := 0
	e.cls.Exclusive = func(ctx context.Context, memberID string) (func(), error) {
		if memberID != e.memberID {
			t.Errorf("lock for %s", memberID)
		}
		held++
		if held == 1 {
			winBig(t, e, dealID)
			if err := e.cls.Apply(ctx, engine.Change{MemberID: e.memberID, Entity: "deal", IDs: []int64{dealID}}); err != nil {
				t.Error(err)
			}
		}
		return func() {}, nil
	}
	st, err := e.cls.Backfill(ctx, e.memberID, app.TriggerRecompute)
	if err != nil {
		t.Fatal(err)
	}
	if held < 2 || st.WriteRequests == 0 {
		t.Fatalf("the lock was taken %d times for %d write requests", held, st.WriteRequests)
	}
	ex := e.expect(t)
	if ex.key["contact"][contactID] != "vip" {
		t.Fatalf("contact %d is %q: the edit should make it vip", contactID, ex.key["contact"][contactID])
	}
	e.check(t, ex)
}

// A deal added while a backfill's sync scans — the live change that adds
// it to the mirror lands before the sync stores what it read — is neither
// removed as gone nor left unclassified: the sync leaves the rows live
// changes wrote after its scans began, and the backfill classifies it with
// the rest.
func TestSyncKeepsWhatLiveChangesAddedDuringItsScans(t *testing.T) {
	ctx := context.Background()
	e := newEngineEnv(t, b24sim.GenOptions{Contacts: 200, Companies: 40, Deals: 600})
	var added int64
	e.cls.Exclusive = func(ctx context.Context, memberID string) (func(), error) {
		if added == 0 {
			id, err := e.sim.UserAdd("deal", map[string]any{"TITLE": "Added while syncing", "CONTACT_ID": 1, "OPPORTUNITY": "70000",
				"CURRENCY_ID": "USD", "SOURCE_ID": "WEB"}, 1, false)
			if err != nil {
				t.Fatal(err)
			}
			added = int64(id)
			if err := e.cls.Apply(ctx, engine.Change{MemberID: e.memberID, Entity: "deal", IDs: []int64{added}}); err != nil {
				t.Error(err)
			}
		}
		return func() {}, nil
	}
	if _, err := e.cls.Backfill(ctx, e.memberID, app.TriggerRecompute); err != nil {
		t.Fatal(err)
	}
	if added == 0 {
		t.Fatal("the sync took no lock")
	}
	var found bool
	if err := app.NewMirror(e.rdb).EachDeal(ctx, e.memberID, func(d *app.MirrorDeal) error {
		found = found || d.ID == added
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !found {
		t.Fatalf("deal %d, added by a live change during the sync, is gone from the mirror", added)
	}
	e.check(t, e.expect(t))
}
