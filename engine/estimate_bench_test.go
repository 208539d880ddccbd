package engine

import (
	"context"
	"testing"
	"time"

	"segmentor/app"
	"segmentor/app/segment"
	"segmentor/internal/keyspace"
)

// BenchmarkEstimateYear100k estimates the history of a portal of 100,000
// deals, 33,000 contacts and 10,000 companies (estimateBudget gives its
// 143,000 records 279 of the year's days): the background job a new portal
// runs once after its first backfill. It reports the time a day takes.
func BenchmarkEstimateYear100k(b *testing.B) {
	ctx := context.Background()
	p := newAnalystPortal(b)
	seedAnalystBase(b, p, analystMember, 33_000, 10_000, 100_000)
	if _, err := p.store.PutConfig(ctx, analystMember, 0, []byte(analystConfig), 1); err != nil {
		b.Fatal(err)
	}
	a := &Analyst{Store: p.store, Mirror: p.mirror, Clock: p.clk.Now}
	today := app.DayOf(p.clk.Now())
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		for _, e := range []segment.Entity{segment.EntityContact, segment.EntityCompany, segment.EntityDeal} {
			if err := p.rdb.Del(ctx, keyspace.Portal(analystMember, "history:"+string(e))).Err(); err != nil {
				b.Fatal(err)
			}
		}
		if err := a.RecordHistory(ctx, analystMember); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		if _, err := a.EstimatePast(ctx, analystMember); err != nil {
			b.Fatal(err)
		}
		took := time.Since(start)
		b.StopTimer()
		hist, err := p.store.History(ctx, analystMember, segment.EntityContact, 0, today)
		days := min(EstimateDays, estimateBudget/143_000)
		if err != nil || len(hist) != days+1 {
			b.Fatalf("history: %d days (%v)", len(hist), err)
		}
		b.ReportMetric(float64(took.Milliseconds())/float64(days), "ms/day")
		b.ReportMetric(took.Seconds(), "s/estimate")
		b.StartTimer()
	}
}
