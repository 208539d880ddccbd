package jobs_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"segmentor/bitrix"
	"segmentor/bitrix/b24sim"
)

// BenchmarkActionsBurst prints what a burst of 1,000 deals entering a
// segment live costs in requests for what it sets off: each deal's
// automation trigger and its timeline entry, sent 50 commands a batch,
// against the least possible, ⌈2,000/50⌉ = 40 (the goal: ⌈1,000/50⌉ for
// triggers plus as many for the timeline). The deals' own writes are
// counted apart (BenchmarkRESTEconomy measures them).
//
//	REDIS_URL=redis://127.0.0.1:6390/0 go test -run XXX -bench ActionsBurst -benchtime 1x ./jobs/
func BenchmarkActionsBurst(b *testing.B) {
	for range b.N {
		actionsBurst(b)
	}
}

const burstConfig = `{"schemes": [{"entity": "deal", "segments": [
  {"key": "big", "name": "Big", "when": {"fact": "field:OPPORTUNITY", "op": ">=", "value": 100000000}, "set": {"label": true}}]}]}`

func actionsBurst(b *testing.B) {
	now := time.Now().UTC().Truncate(time.Second)
	s := newAppStack(b, b24sim.Options{Seed: 12, RatePerSecond: 1000, Burst: 1000},
		bitrix.Profile{Name: "raised", Rate: 800, Burst: 800, Period: time.Second}, now)
	s.sim.Seed(b24sim.GenOptions{Contacts: 300, Companies: 60, Deals: 1000, Now: now})
	s.install(b)
	s.backfill(b, burstConfig, 3*time.Minute)
	s.waitIdle(b, 3*time.Minute)

	var ids []int
	for d := range s.sim.Records("deal") {
		id, err := strconv.Atoi(fmt.Sprint(d["ID"]))
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	s.sim.ResetLog()
	start := time.Now()
	for _, id := range ids {
		if err := s.sim.UserUpdate("deal", id, map[string]any{"OPPORTUNITY": 200000000}, 1, false); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.sim.WaitEvents(context.Background()); err != nil {
		b.Fatal(err)
	}
	s.waitIdle(b, 3*time.Minute)
	took := time.Since(start)
	batches, triggers, entries := 0, 0, 0
	for _, rq := range s.sim.Requests() {
		n := 0
		for _, m := range rq.Commands {
			switch m {
			case "crm.automation.trigger.execute":
				triggers++
				n++
			case "crm.timeline.logmessage.add":
				entries++
				n++
			}
		}
		if n > 0 {
			batches++
		}
	}
	if triggers != len(ids) || entries != len(ids) {
		b.Fatalf("%d deals entered the segment: %d triggers, %d timeline entries", len(ids), triggers, entries)
	}
	least := (triggers + entries + bitrix.MaxBatch - 1) / bitrix.MaxBatch
	b.ReportMetric(float64(batches), "action-requests")
	b.ReportMetric(float64(least), "least-requests")
	b.Logf("%d deals entered a segment live: %d triggers and %d timeline entries in %d requests (least %d); all done in %s",
		len(ids), triggers, entries, batches, least, took.Round(time.Millisecond))
}
