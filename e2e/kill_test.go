package e2e

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"segmentor/internal/await"

	"github.com/hibiken/asynq"

	"segmentor/bitrix/b24sim"
	"segmentor/jobs"
)

// A worker killed with SIGKILL while it runs both a backfill (in its write
// phase) and a batch of live changes: a replacement takes over, asynq hands
// it the dead worker's tasks once their lease expires, and everything
// completes — the backfill to done, the killed batch re-run, every record
// in its correct state.
func TestKilledWorkerLosesNothing(t *testing.T) {
	needRedis(t)
	t.Parallel()
	start := time.Now()
	c := newInstalledCluster(t, clusterOptions{
		Sim: b24sim.Options{Seed: 72},
		Gen: b24sim.GenOptions{Contacts: 800, Companies: 150, Deals: 2400, Years: 2},
	}, "worker-a")
	a := c.workers[0]
	ed := newEditor(t, c.sim, 72)
	// Slower answers stretch the backfill's write phase, so that the kill
	// lands inside it while a live batch runs beside it.
	c.sim.SetLatency(100 * time.Millisecond)
	c.saveConfig(c.premiumConfig())
	stopEdits := ed.background(40 * time.Millisecond)

	// Wait for the moment: the backfill has written some but not all, and
	// a batch of live changes is being processed.
	var atKill jobProgress
	var killed []*asynq.TaskInfo
	await.That(c.t, 45*time.Second, "a backfill mid-write and a live batch at once", func() bool {
		p := c.backfill()
		if p.Phase != "write" || p.Done == 0 || p.Done >= p.Total {
			return false
		}
		low, _ := c.insp.ListActiveTasks(jobs.QueueLow)
		var events []*asynq.TaskInfo
		for _, q := range jobs.EventQueues() {
			active, _ := c.insp.ListActiveTasks(q)
			events = append(events, active...)
		}
		if len(low) == 0 || len(events) == 0 {
			return false
		}
		atKill, killed = p, append(low, events...)
		return true
	})
	a.Kill()
	killedAt := time.Now()
	var names []string
	for _, ti := range killed {
		names = append(names, fmt.Sprintf("%s %s", ti.Type, ti.Payload))
	}
	t.Logf("SIGKILL worker-a at %s, %s after start: backfill had written %d of %d; tasks running: %v",
		killedAt.Format("15:04:05.000"), killedAt.Sub(start).Round(time.Millisecond), atKill.Done, atKill.Total, names)

	// asynq hands a dead worker's task to another once its lease (30 s)
	// has been expired for 30 s more, when a recoverer looks: at a
	// worker's start, then each minute. The test spares the minute: it
	// ages the leases, and the events the dead worker was merging, and
	// worker-b's recoverer finds them when it starts.
	c.ageLeases(killed, time.Minute+time.Second)
	c.ageAggregations(2*time.Minute + time.Second)
	c.startWorker("worker-b")
	sent := c.sim.EventStats().Queued
	await.That(c.t, 30*time.Second, "edits to go on beside worker-b", func() bool { return c.sim.EventStats().Queued >= sent+20 })
	if err := stopEdits(); err != nil {
		t.Fatal(err)
	}
	c.sim.SetLatency(0)

	await.That(c.t, 120*time.Second, "the dead worker's tasks to be re-run", func() bool {
		for _, ti := range killed {
			info, err := c.insp.GetTaskInfo(ti.Queue, ti.ID)
			switch {
			case errors.Is(err, asynq.ErrTaskNotFound):
				continue // done and gone
			case err != nil:
				t.Fatal(err)
			case info.State == asynq.TaskStateArchived:
				t.Fatalf("task %s %s was given up: %s", info.Type, info.Payload, info.LastErr)
			}
			return false
		}
		return true
	})
	recovered := time.Since(killedAt)
	bf := c.waitBackfill(60 * time.Second)
	prog, err := c.store.Progress(c.ctx, c.sim.MemberID(), "backfill")
	if err != nil {
		t.Fatal(err)
	}
	if !prog.Started.After(killedAt) {
		t.Errorf("the backfill that finished started at %s, before the kill at %s: it was not the re-run", prog.Started, killedAt)
	}
	c.settle(60 * time.Second)
	evaluated := c.requireCorrect("after the worker was killed")
	st := c.sim.Stats()
	if st.QueryLimitRefusals != 0 {
		t.Errorf("the portal refused %d requests with QUERY_LIMIT_EXCEEDED; want none", st.QueryLimitRefusals)
	}
	ws := appliedWrites(c.sim.Requests())
	dups := duplicates(ws)
	t.Logf("edits: %s", ed.summary())
	t.Logf("recovery: the killed tasks ran again %s after the kill; the re-run backfill wrote %d of %d records",
		recovered.Round(time.Millisecond), bf.Writes, bf.Total)
	t.Logf("portal: %d HTTP requests, %d QUERY_LIMIT_EXCEEDED; %d updates applied, %d of them repeating the record's previous update",
		st.HTTPRequests, st.QueryLimitRefusals, len(ws), len(dups))
	for _, d := range dups {
		t.Logf("  repeated: %s", d)
	}
	t.Logf("fresh evaluation of %d records: all correct; total %s", evaluated, time.Since(start).Round(time.Millisecond))
}
