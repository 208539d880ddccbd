package e2e

import (
	"testing"
	"time"

	"segmentor/bitrix/b24sim"
)

// One web and two worker processes on one Redis, one portal at the
// default limits (2 requests/s, a bucket of 50), a backfill and then a
// stream of edits while both workers run: the portal never refuses a
// request for the limit, no record is written twice for one change, and
// every record ends in its correct state.
func TestTwoWorkersOneWebOnePortal(t *testing.T) {
	needRedis(t)
	t.Parallel()
	start := time.Now()
	c, bf := newBackfilledCluster(t, clusterOptions{
		Sim: b24sim.Options{Seed: 71},
		Gen: b24sim.GenOptions{Contacts: 400, Companies: 80, Deals: 1200, Years: 2},
	}, "worker-1", "worker-2")
	afterBackfill := c.sim.Stats()
	t.Logf("backfill: %d of %d records written in %s; portal saw %d HTTP requests so far",
		bf.Writes, bf.Total, time.Since(start).Round(time.Millisecond), afterBackfill.HTTPRequests)

	ed := newEditor(t, c.sim, 71)
	ed.stream(150, 8*time.Second)
	settled := c.settle(60 * time.Second)
	serving := c.servingWorkers()
	st := c.sim.Stats()

	writes, records := c.requireNoDuplicates()
	evaluated := c.requireCorrect("after the edit stream")
	// The fresh evaluation spent the same budget: count its requests too.
	if end := c.sim.Stats(); end.QueryLimitRefusals != 0 || end.OperatingRefusals != 0 {
		t.Errorf("the portal refused %d requests with QUERY_LIMIT_EXCEEDED and %d with OPERATION_TIME_LIMIT; want none",
			end.QueryLimitRefusals, end.OperatingRefusals)
	}
	if len(serving) != 2 {
		t.Errorf("asynq lists %v as serving; want both workers", serving)
	}
	live := st.HTTPRequests - afterBackfill.HTTPRequests
	t.Logf("edits: %s; events delivered %d; settled %s after the stream",
		ed.summary(), st.Events.Delivered-afterBackfill.Events.Delivered, settled.Round(time.Millisecond))
	t.Logf("portal: %d HTTP requests (%d for live edits), %d QUERY_LIMIT_EXCEEDED, %d OPERATION_TIME_LIMIT, %d refreshes",
		st.HTTPRequests, live, st.QueryLimitRefusals, st.OperatingRefusals, st.Refreshes)
	t.Logf("processes: web and %v serving one Redis; writes: %d updates to %d records, none repeated; fresh evaluation of %d records: all correct; total %s",
		serving, writes, records, evaluated, time.Since(start).Round(time.Millisecond))
}
