package handlers_test

import (
	"context"
	"testing"
	"time"

	"segmentor/bitrix/b24sim"
	"segmentor/internal/keyspace"
)

// Bitrix24 never redelivers an event. With every event lost, the
// reconciliation scan by DATE_MODIFY still brings the changed records to a
// job, reading only IDs: one request for a quiet portal, one more per
// entity with more than a page of changes.
func TestReconciliationRecoversLostEvents(t *testing.T) {
	s := newStack(t, b24sim.Options{Seed: 13})
	s.sim.Seed(b24sim.GenOptions{Contacts: 30, Companies: 5, Deals: 80})
	s.install(b24sim.InstallOptions{})
	ctx := context.Background()
	m := s.sim.MemberID()
	s.WaitIdle(60 * time.Second)
	if err := s.worker.Reconcile(ctx, m); err != nil { // from now on, scans start at this one
		t.Fatal(err)
	}
	s.WaitIdle(60 * time.Second)

	s.sim.SetEventDelivery(0, 1) // drop every event
	const lostDeals = 55         // more than a page
	for id := 1; id <= lostDeals; id++ {
		if err := s.sim.UserUpdate("deal", id, map[string]any{"TITLE": "changed while events were lost"}, 1, false); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.sim.UserUpdate("contact", 4, map[string]any{"NAME": "Lost"}, 1, false); err != nil {
		t.Fatal(err)
	}
	if err := s.sim.WaitEvents(ctx); err != nil {
		t.Fatal(err)
	}
	if st := s.sim.EventStats(); st.Dropped < lostDeals+1 {
		t.Fatalf("events dropped = %d, the test needs them lost", st.Dropped)
	}
	s.sim.ResetLog()
	if err := s.worker.Reconcile(ctx, m); err != nil {
		t.Fatal(err)
	}
	if reqs := len(s.sim.Requests()); reqs != 2 {
		t.Errorf("reconciling %d lost deals and a contact took %d requests, want 2 (every entity's first page, then the deals' next)", lostDeals, reqs)
	}
	deals, _ := waitReceived(t, s, "deal", lostDeals)
	contacts, _ := waitReceived(t, s, "contact", 1)
	for id := int64(1); id <= lostDeals; id++ {
		if deals[id] == 0 {
			t.Errorf("the lost change of deal %d was not recovered", id)
		}
	}
	if contacts[4] == 0 {
		t.Errorf("the lost change of contact 4 was not recovered: %v", contacts)
	}
	// Ten minutes on, with nothing new, a scan costs one request.
	s.WaitIdle(60 * time.Second)
	later := time.Now().Add(10 * time.Minute).UTC().Format(time.RFC3339)
	if err := s.rdb.Set(ctx, keyspace.Reconciled(m), later, 0).Err(); err != nil {
		t.Fatal(err)
	}
	s.sim.ResetLog()
	if err := s.worker.Reconcile(ctx, m); err != nil {
		t.Fatal(err)
	}
	if reqs := len(s.sim.Requests()); reqs != 1 {
		t.Errorf("a quiet portal's reconciliation took %d requests, want 1", reqs)
	}
}
