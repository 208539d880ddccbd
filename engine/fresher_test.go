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
