package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"segmentor/app"
	"segmentor/app/segment"
)

// benchHistory gives the bench portal its saved config, 365 days of
// figures for each scheme and a moves journal of moves changes over the
// last 90 days.
func benchHistory(b *testing.B, env *benchPortal, moves int) {
	ctx := context.Background()
	if _, err := env.store.PutConfig(ctx, env.member, 0, json.RawMessage(benchInsightConfig), 1); err != nil {
		b.Fatal(err)
	}
	now := env.store.Now()
	today := app.DayOf(now)
	rng := rand.New(rand.NewPCG(3, 4))
	keys := map[segment.Entity][]string{
		segment.EntityContact: {"vip", "champions", "sleeping", "regular"},
		segment.EntityCompany: {"big", "small"},
		segment.EntityDeal:    {"premium", ""},
	}
	for e, ks := range keys {
		counts := make([]int64, len(ks))
		for i := range counts {
			counts[i] = int64(1000 + rng.IntN(10000))
		}
		for d := today - 364; d <= today; d++ {
			snap := app.Snapshot{Day: d, Entity: e, Currency: "USD"}
			for i, k := range ks {
				counts[i] += int64(rng.IntN(21) - 10)
				snap.Segments = append(snap.Segments, app.Figures{Segment: k, Count: counts[i], Value: counts[i] * 900, Won: counts[i] / 2, Open: counts[i] / 5})
			}
			if err := env.store.PutSnapshot(ctx, env.member, snap); err != nil {
				b.Fatal(err)
			}
		}
	}
	contact := keys[segment.EntityContact]
	var entries []app.AuditEntry
	for i := range moves {
		// Oldest first, as the journal grows.
		at := now.Add(-90 * 24 * time.Hour).Add(time.Duration(i) * (90 * 24 * time.Hour / time.Duration(moves)))
		from, to := contact[rng.IntN(4)], contact[rng.IntN(4)]
		if from == to {
			to = ""
		}
		entries = append(entries, app.AuditEntry{At: at, Entity: "contact", ID: int64(1 + rng.IntN(20000)),
			From: app.Outcome{Segment: from}, To: app.Outcome{Segment: to}, Trigger: app.TriggerChange})
		if len(entries) == 5000 || i == moves-1 {
			if err := env.store.AddAudit(ctx, env.member, entries); err != nil {
				b.Fatal(err)
			}
			entries = entries[:0]
		}
	}
}

func (env *benchPortal) get(b *testing.B, path string) time.Duration {
	req, _ := http.NewRequest("GET", env.srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+env.admin)
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		b.Fatalf("%s: %d %s", path, resp.StatusCode, raw)
	}
	return time.Since(start)
}

// BenchmarkOverviewWithCharts100k times what the overview asks for, one
// after another, over 100,000 records with 365 days of history: today's
// counts, each scheme's 365-day trend (drawn) and the contacts' 30-day
// movement. The figure is ms for the whole overview, warm.
func BenchmarkOverviewWithCharts100k(b *testing.B) {
	env := newBenchPortal(b, benchSizes)
	benchHistory(b, env, 100000)
	paths := []string{"/api/v1/dashboard", "/api/v1/insight/movement?entity=contact"}
	for _, e := range []string{"contact", "company", "deal"} {
		paths = append(paths, "/api/v1/insight/trends?entity="+e+"&days=365")
	}
	overview := func() map[string]time.Duration {
		took := map[string]time.Duration{}
		for _, p := range paths {
			took[p] = env.get(b, p)
		}
		return took
	}
	cold := overview()
	b.ResetTimer()
	var last map[string]time.Duration
	for b.Loop() {
		last = overview()
	}
	warm := float64(b.Elapsed().Microseconds()) / 1000 / float64(b.N)
	b.ReportMetric(warm, "ms/overview")
	b.ReportMetric(0, "ns/op")
	for _, p := range paths {
		b.Logf("%-50s cold %6.1f ms, warm %6.1f ms", p, ms(cold[p]), ms(last[p]))
	}
}

// BenchmarkMovementMatrix90d times the movement matrix over the last 90
// days of a 100,000-change journal.
func BenchmarkMovementMatrix90d(b *testing.B) {
	env := newBenchPortal(b, benchSizes)
	benchHistory(b, env, 100000)
	from := app.DayOf(env.store.Now()) - 89
	path := fmt.Sprintf("/api/v1/insight/movement?entity=contact&from=%s", from)
	env.get(b, path)
	var body struct{ Moved, Changes int }
	req, _ := http.NewRequest("GET", env.srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+env.admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	err = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if err != nil || body.Changes < 99000 {
		b.Fatalf("the matrix read %d changes (%v); want the 100,000 of 90 days", body.Changes, err)
	}
	b.ResetTimer()
	for b.Loop() {
		env.get(b, path)
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/matrix")
	b.Logf("%d changes read, %d records moved", body.Changes, body.Moved)
	b.ReportMetric(0, "ns/op")
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
