package bitrix_test

import (
	"context"
	"errors"
	"testing"

	"segmentor/bitrix"
	"segmentor/bitrix/b24sim"
	"segmentor/internal/redistest"
)

// The issue's third "done when": a keyset scan of 10,000 deals takes at most
// 5 HTTP requests; a scan stopped halfway resumes from its cursor without
// gaps or repeats.
func TestSimScan(t *testing.T) {
	if testing.Short() {
		t.Skip("scans 10,000 deals several times")
	}
	t.Parallel()
	e := newSim(t, b24sim.Options{RatePerSecond: -1, Seed: 7})
	st := e.sim.Seed(b24sim.GenOptions{Deals: 10000, Contacts: 300, Companies: 100})
	p := e.newC(bitrix.UnlimitedProfile()).Portal(e.sim.MemberID())
	ctx := context.Background()

	for _, tc := range []struct {
		method      string
		typeID      int
		want        int
		maxRequests int
	}{
		{"crm.deal.list", 0, st.Deals, 5},
		{"crm.item.list", 2, st.Deals, 5},
		{"crm.contact.list", 0, st.Contacts, 1},
		{"crm.company.list", 0, st.Companies, 1},
	} {
		before := e.sim.Stats().HTTPRequests
		rows := 0
		var last bitrix.ID
		_, err := p.Scan(ctx, bitrix.ScanOptions{Method: tc.method, EntityTypeID: tc.typeID}, func(pg *bitrix.ScanPage) error {
			if pg.FirstID <= last {
				t.Errorf("%s: page %d..%d after %d", tc.method, pg.FirstID, pg.LastID, last)
			}
			last = pg.LastID
			rows += len(pg.Rows)
			return nil
		})
		reqs := e.sim.Stats().HTTPRequests - before
		t.Logf("%s: %d rows in %d HTTP requests", tc.method, rows, reqs)
		if err != nil || rows != tc.want {
			t.Errorf("%s: %d rows, want %d; err %v", tc.method, rows, tc.want, err)
		}
		if reqs > tc.maxRequests {
			t.Errorf("%s: %d requests, want at most %d", tc.method, reqs, tc.maxRequests)
		}
	}

	// Stop halfway, resume from the cursor.
	stop := errors.New("stop")
	ids := map[bitrix.ID]int{}
	count := func(pg *bitrix.ScanPage) error {
		rows, err := bitrix.DecodeRows[struct{ ID bitrix.ID }](pg)
		for _, r := range rows {
			ids[r.ID]++
		}
		return err
	}
	pages := 0
	opts := bitrix.ScanOptions{Method: "crm.deal.list", Select: []string{"TITLE", "OPPORTUNITY"}}
	cursor, err := p.Scan(ctx, opts, func(pg *bitrix.ScanPage) error {
		if pages++; pages > 100 {
			return stop
		}
		return count(pg)
	})
	if !errors.Is(err, stop) || len(ids) != 100*bitrix.PageSize {
		t.Fatalf("first half: %d rows, err %v", len(ids), err)
	}
	opts.After = cursor
	if _, err := p.Scan(ctx, opts, count); err != nil {
		t.Fatal(err)
	}
	if len(ids) != st.Deals {
		t.Errorf("resumed scan saw %d deals, want %d", len(ids), st.Deals)
	}
	for id, n := range ids {
		if n != 1 {
			t.Errorf("deal %d seen %d times", id, n)
		}
	}
}

// BenchmarkSimScan scans 10,000 simulated deals per iteration at the
// default limits (portal: 2 requests/s, bucket 50; client: StandardProfile)
// and reports rows per HTTP request and rows per second beside the ceiling
// those limits allow once the burst is spent: 2 requests/s × 2,500 rows.
func BenchmarkSimScan(b *testing.B) {
	sim := b24sim.New(b24sim.Options{Seed: 7})
	defer sim.Close()
	sim.Seed(b24sim.GenOptions{Deals: 10000})
	tk := sim.IssueTokens(1)
	store := bitrix.NewMemoryTokenStore(&bitrix.Token{MemberID: sim.MemberID(), AccessToken: tk.AccessToken,
		RefreshToken: tk.RefreshToken, Expiry: tk.Expires, ClientEndpoint: tk.ClientEndpoint})
	rdb, _ := redistest.New(b)
	c, err := bitrix.NewClient(bitrix.Config{ClientID: sim.ClientID(), ClientSecret: sim.ClientSecret(),
		OAuthURL: sim.OAuthURL(), Redis: rdb, Tokens: store, AllowHTTP: true})
	if err != nil {
		b.Fatal(err)
	}
	p := c.Portal(sim.MemberID())
	before := sim.Stats().HTTPRequests
	rows := 0
	b.ResetTimer()
	for range b.N {
		if _, err := p.Scan(context.Background(), bitrix.ScanOptions{Method: "crm.deal.list"}, func(pg *bitrix.ScanPage) error {
			rows += len(pg.Rows)
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	reqs := sim.Stats().HTTPRequests - before
	prof := bitrix.StandardProfile()
	b.ReportMetric(float64(rows)/float64(reqs), "rows/request")
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(prof.Rate)*float64(bitrix.MaxBatch*bitrix.PageSize)/prof.Period.Seconds(), "ceiling-rows/s")
}
