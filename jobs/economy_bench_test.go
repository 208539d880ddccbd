package jobs_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"segmentor/bitrix"
	"segmentor/bitrix/b24sim"
	"segmentor/internal/testkit"
)

// BenchmarkRESTEconomy prints, counted from the simulator's request log,
// what the app spends of a portal's request budget, through the whole app
// (installer, events over HTTP, asynq, the engine) on a portal of 2,000
// contacts, 400 companies and 6,000 deals with the scale test's config:
//
//   - backfill reads: HTTP requests per 2,000 rows read (target ≤ 1);
//   - backfill writes: requests against ceil(changed records / 50), and the
//     retries (commands the portal refused for its limits, sent again);
//   - the echo of the app's own writes (every write comes back as an
//     event): its re-reads, and its writes (target 0);
//   - a burst of 10,000 edits of 2,000 deals: requests per 50 distinct
//     edited deals (target ≤ 2), counting every write the edits cause (a
//     deal's clients and their other deals too, each written record listed
//     by entity), and the re-reads of that burst's own echo.
//
// Limits are raised: this counts requests; BenchmarkBackfillWallTime times
// them at the default limits.
//
//	REDIS_URL=redis://127.0.0.1:6390/0 go test -run XXX -bench RESTEconomy -benchtime 1x ./jobs/
func BenchmarkRESTEconomy(b *testing.B) {
	for range b.N {
		restEconomy(b)
	}
}

func restEconomy(b *testing.B) {
	now := time.Now().UTC().Truncate(time.Second)
	s := newAppStack(b, b24sim.Options{Seed: 9, RatePerSecond: 1000, Burst: 1000},
		bitrix.Profile{Name: "raised", Rate: 800, Burst: 800, Period: time.Second}, now)
	gen := s.sim.Seed(b24sim.GenOptions{Contacts: 2000, Companies: 400, Deals: 6000, Now: now})
	s.install(b)
	rows := s.sim.Count("contact") + s.sim.Count("company") + s.sim.Count("deal") + s.sim.Count("product") + gen.ProductRows
	cfg := fmt.Sprintf(scaleConfig, gen.Pipelines[len(gen.Pipelines)-1], gen.Pipelines[1])

	// Backfill, with every echo of its writes delivered as Bitrix24 does.
	s.sim.ResetLog()
	ev0 := s.sim.EventStats().Delivered
	s.backfill(b, cfg, 3*time.Minute)
	s.waitIdle(b, 3*time.Minute)
	reqs := s.sim.Requests()
	kinds := map[string]int{}
	for _, rq := range reqs {
		kinds[testkit.KindOf(rq)]++
	}
	updated := b24sim.UpdatesByRecord(reqs)
	twice := 0
	for _, list := range updated {
		if len(list) > 1 {
			twice++
		}
	}
	changed := len(updated)
	echoed := s.sim.EventStats().Delivered - ev0
	b.Logf("backfill reads: %d rows in %d requests: %.2f requests per 2,000 rows (target ≤ 1); %d request(s) for Segment items",
		rows, kinds["sync"], 2000*float64(kinds["sync"])/float64(rows), kinds["items"])
	b.Logf("backfill writes: %d changed records in %d requests; ceil(%d/50) = %d; retries %d",
		changed, kinds["write"], changed, (changed+49)/50, testkit.Refusals(reqs))
	b.Logf("echo of the backfill's writes: %d events, %d re-read requests (%.2f per 50 records), %d writes: %d records written twice, %d write requests beyond ceil(changed/50) (target 0)",
		echoed, kinds["reread"], 50*float64(kinds["reread"])/float64(max(echoed, 1)), twice+kinds["write"]-(changed+49)/50, twice, kinds["write"]-(changed+49)/50)
	if other := len(reqs) - kinds["sync"] - kinds["items"] - kinds["write"] - kinds["reread"]; other != 0 {
		b.Logf("other requests: %d %v", other, kinds)
	}
	b.ReportMetric(2000*float64(kinds["sync"])/float64(rows), "read-req/2000rows")
	b.ReportMetric(float64(kinds["write"])/float64((changed+49)/50), "write-req/ceil(changed/50)")
	b.ReportMetric(float64(twice+kinds["write"]-(changed+49)/50), "echo-writes")

	// A burst: 10,000 edits of 2,000 deals, five rounds alternating the
	// source between WEB and CALL (which moves deals between segments).
	s.sim.ResetLog()
	ev0 = s.sim.EventStats().Delivered
	const edits, distinct = 10000, 2000
	start := time.Now()
	for i := range edits {
		src := "WEB"
		if i/distinct%2 == 1 {
			src = "CALL"
		}
		if err := s.sim.UserUpdate("deal", i%distinct+1, map[string]any{"SOURCE_ID": src, "TITLE": fmt.Sprintf("edit %d", i)}, 1, false); err != nil {
			b.Fatal(err)
		}
	}
	s.waitIdle(b, 5*time.Minute)
	took := time.Since(start)
	reqs = s.sim.Requests()
	kinds = map[string]int{}
	for _, rq := range reqs {
		kinds[testkit.KindOf(rq)]++
	}
	burstUpdated := b24sim.UpdatesByRecord(reqs)
	events := s.sim.EventStats().Delivered - ev0
	// A record's first re-read is its edits'; a later one is the echo of
	// the app's own write (or an edit that came after the first re-read).
	// A re-read request is shared among its records.
	seen := map[string]bool{}
	var burstReads, echoReads float64
	for _, rq := range reqs {
		if testkit.KindOf(rq) != "reread" {
			continue
		}
		ids := testkit.RereadIDs(b, rq)
		for _, id := range ids {
			if seen[id] {
				echoReads += 1 / float64(len(ids))
			} else {
				burstReads += 1 / float64(len(ids))
			}
			seen[id] = true
		}
	}
	burst := burstReads + float64(kinds["write"])
	written := map[string]int{}
	for rec := range burstUpdated {
		ent, _, _ := strings.Cut(rec, ":")
		written[ent]++
	}
	b.Logf("burst: %d edits of %d deals (%d events) in %s: %d re-read requests (%.1f for the edits, %.1f for the echo of the %d records written: %d deals, %d contacts, %d companies) and %d write requests (ceil(%d/50) = %d); "+
		"%.1f requests for the edits: %.2f per 50 distinct deals edited (target ≤ 2); with the echo %.2f; retries %d",
		edits, len(seen), events, took.Round(time.Millisecond), kinds["reread"], burstReads, echoReads, len(burstUpdated),
		written["deal"], written["contact"], written["company"], kinds["write"], len(burstUpdated), (len(burstUpdated)+49)/50,
		burst, 50*burst/distinct, 50*float64(kinds["reread"]+kinds["write"])/distinct, testkit.Refusals(reqs))
	if other := len(reqs) - kinds["reread"] - kinds["write"]; other != 0 {
		b.Logf("other requests in the burst: %d %v", other, kinds)
	}
	if len(seen) != distinct {
		b.Errorf("%d records re-read, want the %d edited", len(seen), distinct)
	}
	b.ReportMetric(50*burst/distinct, "burst-req/50records")
	b.ReportMetric(50*float64(kinds["reread"]+kinds["write"])/distinct, "burst+echo-req/50records")
}
