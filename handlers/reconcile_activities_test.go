package handlers_test

import (
	"context"
	"testing"
	"time"

	"segmentor/bitrix/b24sim"
)

// Activity events lost on the way are recovered by the same scan: the
// activities changed since the last one (LAST_UPDATED) are queued, in the
// scan's first request with the records'; a lead's activity is not read.
func TestReconciliationRecoversLostActivityEvents(t *testing.T) {
	s := newStack(t, b24sim.Options{Seed: 14})
	s.sim.Seed(b24sim.GenOptions{Contacts: 20, Companies: 4, Deals: 30})
	s.install(b24sim.InstallOptions{})
	ctx := context.Background()
	m := s.sim.MemberID()
	s.WaitIdle(60 * time.Second)
	if err := s.worker.Reconcile(ctx, m); err != nil {
		t.Fatal(err)
	}
	s.WaitIdle(60 * time.Second)

	s.sim.SetEventDelivery(0, 1) // drop every event
	var want []int
	for i, owner := range []b24sim.ActivityBinding{{OwnerType: "contact", OwnerID: 3}, {OwnerType: "deal", OwnerID: 7}, {OwnerType: "company", OwnerID: 2}} {
		id, err := s.sim.UserAddActivity(b24sim.Activity{Type: b24sim.ActivityEmail, Direction: 1 + i%2, OwnerType: owner.OwnerType, OwnerID: owner.OwnerID}, 1)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, id)
	}
	if _, err := s.sim.UserAddActivity(b24sim.Activity{Type: b24sim.ActivityCall, OwnerType: "lead", OwnerID: 1}, 1); err != nil {
		t.Fatal(err)
	}
	if err := s.sim.WaitEvents(ctx); err != nil {
		t.Fatal(err)
	}
	s.sim.ResetLog()
	if err := s.worker.Reconcile(ctx, m); err != nil {
		t.Fatal(err)
	}
	if reqs := len(s.sim.Requests()); reqs != 1 {
		t.Errorf("reconciling 3 lost activity events took %d requests, want 1", reqs)
	}
	got, _ := waitReceived(t, s, "activity", len(want))
	for _, id := range want {
		if got[int64(id)] == 0 {
			t.Errorf("the lost add of activity %d was not recovered: %v", id, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("recovered %v, want only %v (no lead's activity)", got, want)
	}
}
