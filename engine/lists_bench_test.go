package engine_test

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"segmentor/app"
	"segmentor/bitrix"
	"segmentor/bitrix/b24sim"
)

// BenchmarkImport100kEmails matches a 100,000-row list of e-mails with the
// portal's contacts (crm.duplicate.findbycomm, 50 calls a batch request)
// and prints the requests it took against ⌈rows/50⌉ — one call a value, the
// least when most values match — and its wall time against the least the
// portal's limit allows for those requests.
//
// The portal runs at 25 times a cloud portal's limit (50 requests/s from a
// bucket of 50; the app's limiter the same with its usual two of
// headroom), so that the run takes a minute, not a quarter of an hour; the
// minimum there is (N−50)/50 s, and at the real limit (2/s) (N−50)/2 s,
// which the benchmark prints as what the import would take on a portal.
//
//	REDIS_URL=redis://127.0.0.1:6390/0 go test -run XXX -bench Import100kEmails -benchtime 1x ./engine/
func BenchmarkImport100kEmails(b *testing.B) {
	for _, share := range []float64{0.7, 0.05} {
		b.Run(fmt.Sprintf("matching=%d%%", int(share*100)), func(b *testing.B) {
			for range b.N {
				importEmails(b, 100_000, share)
			}
		})
	}
}

func importEmails(b *testing.B, rows int, share float64) {
	ctx := context.Background()
	const rate = 50
	// The methods' operating-time budget is raised as much: a findbycomm
	// call costs the simulator's default 10 ms, so at the real budget (480 s
	// of a method's time per 10 minutes) 100,000 single-value calls need
	// 1,000 s of it, about 21 minutes: on a portal where the search costs
	// that much, the budget, not the request rate, is the bound.
	e := newSimEngineEnv(b, b24sim.Options{RatePerSecond: rate, Burst: 50, OperatingLimit: 25 * 480 * time.Second}, b24sim.GenOptions{Contacts: 2000},
		bitrix.Profile{Name: "raised", Rate: rate, Burst: 48, Period: time.Second})
	// The app's client knows the raised budget too (it spaces a method's
	// calls out as its operating time nears the budget).
	bc, err := bitrix.NewClient(bitrix.Config{ClientID: e.sim.ClientID(), ClientSecret: e.sim.ClientSecret(),
		OAuthURL: e.sim.OAuthURL(), Redis: e.rdb, Tokens: e.store, AllowHTTP: true, RetryWait: 20 * time.Millisecond,
		OperatingBudget: 25 * 480 * time.Second,
		Profile: func(context.Context, string) (bitrix.Profile, error) {
			return bitrix.Profile{Name: "raised", Rate: rate, Burst: 48, Period: time.Second}, nil
		}})
	if err != nil {
		b.Fatal(err)
	}
	e.cls.Bitrix = bc
	entries := make([]app.ListEntry, rows)
	matched := int(float64(rows) * share)
	for i := range entries {
		v := fmt.Sprintf("guest%06d@fair.example", i)
		entries[i] = app.ListEntry{Line: i + 2, Raw: v, Value: v}
		if i < matched {
			// Spread over the contacts; one value in a hundred shared by two.
			if err := e.sim.AddCommunication("contact", 1+i%2000, "EMAIL", v); err != nil {
				b.Fatal(err)
			}
			if i%100 == 0 {
				_ = e.sim.AddCommunication("contact", 1+(i+1)%2000, "EMAIL", v)
			}
		}
	}
	// Interleave the matching rows with the rest, as a real list has them.
	for i := range entries {
		j := (i * 7919) % rows
		entries[i], entries[j] = entries[j], entries[i]
	}
	d, err := e.store.NewListDraft(ctx, e.memberID, app.ListDraft{Name: "Fair", Entity: "contact", By: app.ByEmail},
		&app.ParsedList{By: app.ByEmail, Entries: entries, Rows: rows})
	if err != nil {
		b.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // the setup's requests drain from both buckets
	e.sim.ResetLog()
	b.ResetTimer()
	start := time.Now()
	if err := e.cls.MatchList(ctx, e.memberID, d.ID); err != nil {
		b.Fatal(err)
	}
	took := time.Since(start)
	b.StopTimer()
	got, err := e.store.ListDraft(ctx, e.memberID, d.ID)
	if err != nil || got.Report == nil {
		b.Fatalf("draft: %v %+v", err, got)
	}
	n := len(e.sim.Requests())
	if n != got.Requests {
		b.Errorf("the draft counts %d requests, the portal saw %d", got.Requests, n)
	}
	rep := got.Report
	wantAmbiguous := (matched + 99) / 100
	if len(rep.Ambiguous) != wantAmbiguous || len(rep.NotFound) != rows-matched || len(rep.NotFound)+len(rep.Ambiguous) > rows {
		b.Errorf("report: %d ambiguous (want %d), %d not found (want %d), %d matched records",
			len(rep.Ambiguous), wantAmbiguous, len(rep.NotFound), rows-matched, rep.Matched)
	}
	bound := (rows + 49) / 50
	least := math.Max(0, float64(n-50)) / rate
	b.ReportMetric(float64(n), "requests")
	b.ReportMetric(float64(bound), "ceil(rows/50)")
	b.ReportMetric(took.Seconds(), "s")
	b.ReportMetric(least, "min-s")
	b.ReportMetric(took.Seconds()/math.Max(least, 0.001), "x-min")
	b.ReportMetric(math.Max(0, float64(n-50))/2/60, "min-at-2/s")
	st := e.sim.Stats()
	b.ReportMetric(float64(st.QueryLimitRefusals+st.OperatingRefusals), "refused")
	b.ReportMetric(0, "ns/op")
}
