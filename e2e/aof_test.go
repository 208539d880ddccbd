package e2e

import (
	"testing"
	"time"

	"segmentor/bitrix/b24sim"
)

// Events arrive while no worker runs, so their work waits in Redis; Redis
// (AOF on) is then restarted. The work is still there afterwards, and a
// worker started after the restart completes it: every record correct.
func TestQueuedWorkSurvivesRedisRestart(t *testing.T) {
	t.Parallel()
	start := time.Now()
	rs := startRedisServer(t)
	c, _ := newBackfilledCluster(t, clusterOptions{
		Sim:   b24sim.Options{Seed: 73},
		Gen:   b24sim.GenOptions{Contacts: 300, Companies: 60, Deals: 900, Years: 2},
		Redis: rs.options(0),
	}, "worker-1")
	w1 := c.workers[0]
	w1.stop(t, 20*time.Second)
	c.workers = nil

	ed := newEditor(t, c.sim, 73)
	delivered := c.sim.Stats().Events.Delivered
	ed.stream(80, 2*time.Second)
	if err := c.sim.WaitEvents(c.ctx); err != nil {
		t.Fatal(err)
	}
	delivered = c.sim.Stats().Events.Delivered - delivered
	queued, _ := c.queueCounts()
	if queued == 0 {
		t.Fatal("no work is queued after the edits; the test needs some")
	}
	// The records the edits changed are now wrong in the portal: the
	// queued work is what would fix them.
	before := c.evaluate()
	if len(before.Wrong) == 0 {
		t.Fatal("every record is already correct before the queued work ran; the test proves nothing")
	}

	rs.restart()
	after, _ := c.queueCounts()
	if after != queued {
		t.Fatalf("%d tasks were queued before the Redis restart and %d after", queued, after)
	}
	// The web process kept running through the restart and is ready again.
	c.web.waitHTTP(t, c.baseURL()+"/readyz", 30*time.Second)

	c.startWorker("worker-2")
	settled := c.settle(60 * time.Second)
	evaluated := c.requireCorrect("after the Redis restart")
	writes, records := c.requireNoDuplicates()
	t.Logf("edits while no worker ran: %s; %d events delivered to web", ed.summary(), delivered)
	t.Logf("queued: %d tasks before the Redis restart, %d after; %d records were waiting for them", queued, after, before.Stats.Changed)
	t.Logf("after the restart a new worker settled everything in %s; fresh evaluation of %d records: all correct; %d updates to %d records, none repeated; total %s",
		settled.Round(time.Millisecond), evaluated, writes, records, time.Since(start).Round(time.Millisecond))
}
