package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"segmentor/app"
	"segmentor/bitrix/b24sim"
	"segmentor/jobs"
)

// settleFaults bounds how long work takes to settle under the faults.
const settleFaults = 4 * time.Minute

// The portal misbehaves in every way at once while people edit: 5 % of
// REST requests fail with 500 (a write among them), bursts of
// QUERY_LIMIT_EXCEEDED, every access token expires mid-run, the portal is
// renamed (its old host answers 302), and 10 % of events are never
// delivered. After the reconciliation scan
// every record is in its correct state, and nothing was written twice.
func TestFaultsThenReconciliation(t *testing.T) {
	needRedis(t)
	t.Parallel()
	start := time.Now()
	c, _ := newBackfilledCluster(t, clusterOptions{
		Sim: b24sim.Options{Seed: 74},
		Gen: b24sim.GenOptions{Contacts: 200, Companies: 40, Deals: 600, Years: 2},
	}, "worker-1", "worker-2")
	before := c.sim.Stats()
	oldURL := c.sim.URL()

	c.sim.SetErrorRate(0.05)
	c.sim.SetEventDelivery(0, 0.10)
	ed := newEditor(t, c.sim, 74)
	for i := 0; i < 120; i++ {
		switch i {
		case 10:
			// At least one write refused, whatever the 5 % draw hits:
			// the job is retried, and a client's segment that changed
			// still reaches its deals.
			c.sim.FailWrite(1)
		case 20:
			c.sim.ExpireAccessTokens()
		case 40, 90:
			c.sim.LimitBurst(4)
		case 60:
			c.sim.Rename()
		}
		ed.edit()
		time.Sleep(60 * time.Millisecond)
	}
	// A few more deals whose every event is lost, so that reconciliation
	// certainly has changes to recover, whatever the 10 % happened to hit.
	c.sim.SetEventDelivery(0, 1)
	var unseen []string
	for i := 0; i < 5; i++ {
		id, err := ed.addDeal(map[string]any{"SOURCE_ID": "WEB"})
		if err != nil {
			t.Fatal(err)
		}
		unseen = append(unseen, fmt.Sprintf("deal:%d", id))
	}
	c.sim.SetEventDelivery(0, 0.10)
	// A job whose write is refused runs again within seconds (3 s, 6 s,
	// 12 s, then asynq's back-off) and settles its write in doubt 30 s after
	// it was sent; a job can be refused more than once: allow for it.
	settledLive := c.settle(settleFaults)

	// Measure with a well-behaved portal: lost events left records wrong.
	c.sim.SetErrorRate(0)
	lost := c.evaluate()
	for _, r := range unseen {
		if !lost.wrong(r) {
			t.Errorf("%s, added while events were lost, is already correct before reconciliation", r)
		}
	}
	c.sim.SetErrorRate(0.05)

	// What the scheduler does every 5 minutes, now.
	aq := asynq.NewClientFromRedisClient(c.rdb)
	defer aq.Close()
	if _, err := aq.Enqueue(asynq.NewTask(jobs.TypeReconcile, nil), asynq.Queue(jobs.QueueLow), asynq.MaxRetry(3)); err != nil {
		t.Fatal(err)
	}
	settledScan := c.settle(settleFaults)
	c.sim.SetErrorRate(0)
	c.sim.SetEventDelivery(0, 0)

	evaluated := c.requireCorrect("after reconciliation")
	writes, records := c.requireNoDuplicates()
	st := c.sim.Stats()
	p, err := c.store.Portal(c.ctx, c.sim.MemberID())
	if err != nil {
		t.Fatal(err)
	}
	if p.State != app.StateActive {
		t.Errorf("portal is %s (%s) after the faults; want active", p.State, p.StateReason)
	}
	if p.ClientEndpoint != c.sim.ClientEndpoint() {
		t.Errorf("stored endpoint %s; the portal moved from %s to %s", p.ClientEndpoint, oldURL, c.sim.URL())
	}
	// The faults must have happened, or this proves nothing.
	errors500 := st.Statuses[500] - before.Statuses[500]
	limited := st.QueryLimitRefusals - before.QueryLimitRefusals
	refreshes := st.Refreshes - before.Refreshes
	redirects := st.Redirects - before.Redirects
	dropped := st.Events.Dropped - before.Events.Dropped
	if errors500 == 0 || limited == 0 || refreshes == 0 || redirects == 0 || dropped == 0 {
		t.Errorf("faults seen: %d answers 500, %d QUERY_LIMIT_EXCEEDED, %d refreshes, %d redirects, %d events dropped; want each above 0",
			errors500, limited, refreshes, redirects, dropped)
	}
	t.Logf("edits: %s", ed.summary())
	t.Logf("faults: %d answers 500, %d QUERY_LIMIT_EXCEEDED, %d token refreshes after the expiry, %d redirects after the rename, %d of %d events dropped",
		errors500, limited, refreshes, redirects, dropped, st.Events.Queued-before.Events.Queued)
	t.Logf("settled %s after the edits (a write refused with 500 is settled 30 s after it was sent) and %s after the reconciliation scan",
		settledLive.Round(time.Millisecond), settledScan.Round(time.Millisecond))
	t.Logf("before reconciliation %d records were wrong (%v among them, added while every event was lost); after it, fresh evaluation of %d records: all correct; %d updates to %d records, none repeated; portal %s at %s; total %s",
		lost.Stats.Changed, unseen, evaluated, writes, records, p.State, p.ClientEndpoint, time.Since(start).Round(time.Millisecond))
}
