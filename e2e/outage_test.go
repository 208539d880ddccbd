package e2e

import (
	"testing"
	"time"

	"segmentor/bitrix/b24sim"
	"segmentor/internal/await"
	"segmentor/internal/keyspace"
	"segmentor/jobs"
)

// healWithin is how soon after the last change every record must be right
// with nobody's action, whatever events were lost.
const healWithin = 6 * time.Minute

// Redis stops for five seconds in the middle of a stream of edits, and 10 %
// of events are dropped on the way. Bitrix24 sends no event twice: the web
// process answers the events it cannot queue with 503, remembers the
// outage and queues a reconciliation as soon as Redis is back, and the
// scheduled reconciliation (every 30 s here, 5 minutes by default) catches
// the events lost on the way. Every record is right soon after the last
// edit, with no admin's recompute.
func TestRedisOutageAndLostEventsHealThemselves(t *testing.T) {
	t.Parallel()
	start := time.Now()
	rs := startRedisServer(t)
	c, _ := newBackfilledCluster(t, clusterOptions{
		Sim:   b24sim.Options{Seed: 75},
		Gen:   b24sim.GenOptions{Contacts: 150, Companies: 30, Deals: 450, Years: 2},
		Redis: rs.options(0),
		Env:   map[string]string{"RECONCILE_EVERY": "30s"},
	}, "worker-1")
	// From now on the workers schedule the periodic tasks, as in production.
	if err := c.rdb.Del(c.ctx, jobs.SchedulerLock).Err(); err != nil {
		t.Fatal(err)
	}
	before := c.sim.Stats().Events

	c.sim.SetEventDelivery(0, 0.10)
	ed := newEditor(t, c.sim, 75)
	ed.stream(40, 12*time.Second)
	rs.stop()
	outage := time.Now()
	ed.stream(20, 5*time.Second) // while Redis is down
	rs.start()
	down := time.Since(outage)
	ed.stream(40, 12*time.Second)
	if err := c.sim.WaitEvents(c.ctx); err != nil {
		t.Fatal(err)
	}
	lastEdit := time.Now()
	ev := c.sim.Stats().Events
	refused, dropped := ev.Failed-before.Failed, ev.Dropped-before.Dropped
	if refused == 0 || dropped == 0 {
		t.Fatalf("%d events refused during the outage and %d dropped: the test needs both", refused, dropped)
	}

	// Healed: a reconciliation started after the last edit, and its work
	// is done.
	m := c.sim.MemberID()
	await.That(t, healWithin, "a reconciliation after the last edit", func() bool {
		at, err := c.rdb.Get(c.ctx, keyspace.Reconciled(m)).Time()
		return err == nil && at.After(lastEdit)
	})
	c.settle(healWithin - time.Since(lastEdit))
	healed := time.Since(lastEdit)
	evaluated := c.requireCorrect("after the outage and the lost events")
	writes, records := c.requireNoDuplicates()
	if n := c.web.CountLogged("every portal is being reconciled"); n == 0 {
		t.Error("the web process did not reconcile after the outage")
	}
	t.Logf("edits: %s; Redis down for %s: %d events answered with an error; %d of %d events dropped on the way",
		ed.summary(), down.Round(time.Millisecond), refused, dropped, ev.Queued-before.Queued)
	t.Logf("every record right %s after the last edit (goal %s), with no admin's action: fresh evaluation of %d records; %d updates to %d records, none repeated; total %s",
		healed.Round(time.Second), healWithin, evaluated, writes, records, time.Since(start).Round(time.Millisecond))
}
