package handlers_test

import (
	"context"
	"testing"

	"segmentor/bitrix/b24sim"
)

// Bitrix24 never redelivers an event. With every event lost, the
// reconciliation scan by DATE_MODIFY still brings the changed records to a
// job, reading only IDs.
func TestReconciliationRecoversLostEvents(t *testing.T) {
	s := newStack(t, b24sim.Options{Seed: 13})
	s.sim.Seed(b24sim.GenOptions{Contacts: 30, Companies: 5, Deals: 60})
	s.install(b24sim.InstallOptions{})
	ctx := context.Background()
	s.sim.SetEventDelivery(0, 1) // drop every event
	if err := s.sim.UserUpdate("deal", 17, map[string]any{"TITLE": "changed while events were lost"}, 1, false); err != nil {
		t.Fatal(err)
	}
	if err := s.sim.UserUpdate("contact", 4, map[string]any{"NAME": "Lost"}, 1, false); err != nil {
		t.Fatal(err)
	}
	if err := s.sim.WaitEvents(ctx); err != nil {
		t.Fatal(err)
	}
	if st := s.sim.EventStats(); st.Dropped < 2 {
		t.Fatalf("events dropped = %d, the test needs them lost", st.Dropped)
	}
	s.sim.ResetLog()
	if err := s.worker.Reconcile(ctx, s.sim.MemberID()); err != nil {
		t.Fatal(err)
	}
	reqs := len(s.sim.Requests())
	if reqs > 3 {
		t.Errorf("reconciliation of a small portal took %d requests, want one scan per entity at most", reqs)
	}
	deals, _ := waitReceived(t, s, "deal", 1)
	contacts, _ := waitReceived(t, s, "contact", 1)
	if deals[17] == 0 || contacts[4] == 0 {
		t.Errorf("lost changes not recovered: deals %v, contacts %v", deals, contacts)
	}
	// A second scan right away re-reads only the overlap window, and the
	// records already waiting in a job cost nothing new.
	if err := s.worker.Reconcile(ctx, s.sim.MemberID()); err != nil {
		t.Fatal(err)
	}
	t.Logf("reconciliation: %d HTTP requests, recovered deal 17 and contact 4", reqs)
}
