package engine

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/shopspring/decimal"

	"segmentor/app"
	"segmentor/app/segment"
	"segmentor/bitrix"
)

// seedAnalystBase fills p's mirror with clients and deals dated over the
// last two years.
func seedAnalystBase(t testing.TB, p *analystPortal, member string, contacts, companies, deals int64) {
	t.Helper()
	ctx := context.Background()
	var cl, co []*app.MirrorClient
	for i := int64(1); i <= contacts; i++ {
		cl = append(cl, p.client(i))
	}
	for i := int64(1); i <= companies; i++ {
		co = append(co, p.client(i))
	}
	var ds []*app.MirrorDeal
	for i := int64(1); i <= deals; i++ {
		d := p.deal(i, contacts, companies)
		d.Activities = []segment.Activity{{At: d.Created + 86400, Type: segment.ActivityCall}}
		ds = append(ds, d)
	}
	if err := p.mirror.PutClients(ctx, member, segment.EntityContact, cl); err != nil {
		t.Fatal(err)
	}
	if err := p.mirror.PutClients(ctx, member, segment.EntityCompany, co); err != nil {
		t.Fatal(err)
	}
	if err := p.mirror.PutDeals(ctx, member, ds); err != nil {
		t.Fatal(err)
	}
}

// The estimate of a past day is what a preview taken that day would have
// said, as far as the mirror knows the past: the same rules over a mirror
// holding only the deals created by then, those closed later still open
// and the activities held later not yet held, give every segment the same
// records and the same worth. The config uses money windows, RFM, open
// deals, fields and client_segment.
func TestEstimateOfADayIsThePreviewOfThatDaysBase(t *testing.T) {
	ctx := context.Background()
	p := newAnalystPortal(t)
	seedAnalystBase(t, p, analystMember, 300, 50, 1200)
	cfg, err := segment.ParseConfig([]byte(analystConfig))
	if err != nil {
		t.Fatal(err)
	}
	rules, err := segment.Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	a := &Analyst{Store: p.store, Mirror: p.mirror, Clock: p.clk.Now, Workers: 3}
	today := app.DayOf(p.clk.Now())
	r, err := a.classifier().newRun(ctx, analystMember, &portalRules{cfg: cfg, rules: rules})
	if err != nil {
		t.Fatal(err)
	}

	// One pass estimates the 200 days; three of them are checked.
	first := today - 200
	all, err := a.estimateDays(ctx, analystMember, r, first, today-1)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 200*len(cfg.Schemes) {
		t.Fatalf("%d snapshots for 200 days of %d schemes", len(all), len(cfg.Schemes))
	}
	for _, back := range []app.Day{1, 45, 200} {
		d := today - back
		at := (d + 1).Time().Add(-time.Second)
		n := int(d-first) * len(cfg.Schemes)
		est := all[n : n+len(cfg.Schemes)]

		// The same base cut at the end of day d, in a portal of its own.
		then := "then" + analystMember[4:]
		if err := p.store.Save(ctx, &bitrix.Token{MemberID: then, AccessToken: "x", ClientEndpoint: "https://b.bitrix24.com/rest/"}); err != nil {
			t.Fatal(err)
		}
		if err := p.mirror.SetRates(ctx, then, segment.Rates{Base: "USD", PerUnit: map[string]decimal.Decimal{"EUR": decimal.NewFromFloat(1.1)}}); err != nil {
			t.Fatal(err)
		}
		for _, e := range []segment.Entity{segment.EntityContact, segment.EntityCompany} {
			var cs []*app.MirrorClient
			if err := p.mirror.EachClient(ctx, analystMember, e, func(c *app.MirrorClient) error {
				cs = append(cs, c)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if err := p.mirror.PutClients(ctx, then, e, cs); err != nil {
				t.Fatal(err)
			}
		}
		var cut []*app.MirrorDeal
		var gone []int64
		if err := p.mirror.EachDeal(ctx, analystMember, func(d *app.MirrorDeal) error {
			if d.Created > at.Unix() {
				gone = append(gone, d.ID)
				return nil
			}
			c := *d
			if c.Semantic != "P" && c.Closed > at.Unix() {
				c.Semantic, c.Closed = "P", 0
			}
			c.Activities = nil
			for _, x := range d.Activities {
				if x.At <= at.Unix() {
					c.Activities = append(c.Activities, x)
				}
			}
			cut = append(cut, &c)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if err := p.mirror.PutDeals(ctx, then, cut); err != nil {
			t.Fatal(err)
		}
		if err := p.mirror.DeleteDeals(ctx, then, gone); err != nil {
			t.Fatal(err)
		}
		past := &Analyst{Store: p.store, Mirror: p.mirror, Clock: func() time.Time { return at }, Workers: 2}
		pv, err := past.Preview(ctx, then, cfg, PreviewOptions{RevenueWindowDays: ValueWindowDays})
		if err != nil {
			t.Fatal(err)
		}

		if len(est) != len(pv.Schemes) {
			t.Fatalf("day -%d: %d estimated schemes, %d previewed", back, len(est), len(pv.Schemes))
		}
		for i, sc := range pv.Schemes {
			snap := est[i]
			if snap.Entity != sc.Entity || !snap.Estimated || snap.Day != d || snap.Currency != "USD" {
				t.Fatalf("day -%d: snapshot %s %v %s %v", back, snap.Entity, snap.Day, snap.Currency, snap.Estimated)
			}
			want := map[string]SegmentStanding{}
			for _, st := range sc.Segments {
				if st.Count > 0 {
					want[st.Key] = st
				}
			}
			if sc.Otherwise.Count > 0 {
				want[sc.Otherwise.Key] = sc.Otherwise
			}
			if len(snap.Segments) != len(want) {
				t.Fatalf("day -%d %s: estimated %v, previewed %v", back, sc.Entity, snap.Segments, want)
			}
			total := int64(0)
			for _, f := range snap.Segments {
				w, ok := want[f.Segment]
				if !ok || int64(w.Count) != f.Count {
					t.Fatalf("day -%d %s: segment %q has %d records estimated, %d previewed", back, sc.Entity, f.Segment, f.Count, w.Count)
				}
				// Values are rounded per record.
				if math.Abs(float64(f.Value)-w.Revenue) > float64(f.Count)/2+1e-6 {
					t.Fatalf("day -%d %s: segment %q is worth %d estimated, %.2f previewed", back, sc.Entity, f.Segment, f.Value, w.Revenue)
				}
				total += f.Count
			}
			if total != int64(sc.Total) && sc.Entity != segment.EntityDeal {
				t.Fatalf("day -%d %s: %d records estimated, %d in the base", back, sc.Entity, total, sc.Total)
			}
		}
		if back == 200 && len(gone) == 0 {
			t.Fatal("the seed has no deal created in the last 200 days: the cut tests nothing")
		}
	}
}

// After a new portal's first snapshot comes an estimate of the year before it,
// marked as such; later snapshots do not redo it, and a kept day is never
// replaced by an estimate.
func TestEstimatePastFillsTheYearBeforeTheFirstSnapshotOnce(t *testing.T) {
	ctx := context.Background()
	p := newAnalystPortal(t)
	seedAnalystBase(t, p, analystMember, 120, 20, 400)
	if _, err := p.store.PutConfig(ctx, analystMember, 0, []byte(analystConfig), 1); err != nil {
		t.Fatal(err)
	}
	a := &Analyst{Store: p.store, Mirror: p.mirror, Clock: p.clk.Now, Workers: 2}
	if err := a.RecordHistory(ctx, analystMember); err != nil {
		t.Fatal(err)
	}
	if _, err := a.EstimatePast(ctx, analystMember); err != nil {
		t.Fatal(err)
	}
	today := app.DayOf(p.clk.Now())
	hist, err := p.store.History(ctx, analystMember, segment.EntityContact, 0, today)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != EstimateDays+1 || hist[0].Day != today-EstimateDays || hist[len(hist)-1].Day != today {
		t.Fatalf("history: %d days from %v to %v", len(hist), hist[0].Day, hist[len(hist)-1].Day)
	}
	for _, h := range hist {
		if h.Estimated != (h.Day != today) {
			t.Fatalf("day %v estimated=%v", h.Day, h.Estimated)
		}
	}
	sum := func(h app.Snapshot) (n int64) {
		for _, f := range h.Segments {
			n += f.Count
		}
		return n
	}
	if sum(hist[0]) != 120 || sum(hist[len(hist)-2]) != 120 {
		t.Fatalf("records counted: %d a year ago, %d yesterday", sum(hist[0]), sum(hist[len(hist)-2]))
	}
	deals, err := p.store.History(ctx, analystMember, segment.EntityDeal, 0, today)
	if err != nil || len(deals) != EstimateDays+1 || sum(deals[0]) >= 400 || sum(deals[0]) == 0 || sum(deals[0]) >= sum(deals[EstimateDays-1]) {
		t.Fatalf("the deals scheme counts the deals created by each day: %d a year ago, %d yesterday (%v)", sum(deals[0]), sum(deals[EstimateDays-1]), err)
	}

	// The next day: a kept snapshot, and no new estimate even though the
	// past changed (a deal backdated a month).
	p.clk.Advance(24 * time.Hour)
	late := p.deal(9999, 120, 20)
	late.Created, late.Semantic, late.Closed = p.clk.Now().Add(-30*24*time.Hour).Unix(), "S", p.clk.Now().Add(-29*24*time.Hour).Unix()
	if err := p.mirror.PutDeals(ctx, analystMember, []*app.MirrorDeal{late}); err != nil {
		t.Fatal(err)
	}
	if err := a.RecordHistory(ctx, analystMember); err != nil {
		t.Fatal(err)
	}
	if _, err := a.EstimatePast(ctx, analystMember); err != nil {
		t.Fatal(err)
	}
	again, err := p.store.History(ctx, analystMember, segment.EntityDeal, 0, today+1)
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != EstimateDays+2 || again[EstimateDays+1].Estimated || again[EstimateDays].Estimated {
		t.Fatalf("after a second day: %d days", len(again))
	}
	if diff := cmp.Diff(deals[:EstimateDays], again[:EstimateDays]); diff != "" {
		t.Fatalf("the estimate was redone (-first +again):\n%s", diff)
	}

	// An estimate never replaces a kept day.
	if err := p.store.PutEstimates(ctx, analystMember, segment.EntityDeal, []app.Snapshot{{Day: today, Entity: segment.EntityDeal, Segments: []app.Figures{{Count: 1}}}}); err != nil {
		t.Fatal(err)
	}
	kept, _ := p.store.History(ctx, analystMember, segment.EntityDeal, today, today)
	if len(kept) != 1 || kept[0].Estimated || sum(kept[0]) == 1 {
		t.Fatalf("a kept day was replaced by an estimate: %v", kept)
	}
}

// A day's snapshot, streamed from the mirror, gives each segment the
// records and figures the segment's page (the in-memory base) gives it:
// count, value won in the last year, won and open deals.
func TestSnapshotsAreTheSegmentPagesFigures(t *testing.T) {
	ctx := context.Background()
	p := newAnalystPortal(t)
	seedAnalystBase(t, p, analystMember, 300, 50, 1200)
	var keyed []*app.MirrorDeal
	if err := p.mirror.EachDeal(ctx, analystMember, func(d *app.MirrorDeal) error {
		d.Key = []string{"", "big", "small"}[d.ID%3]
		keyed = append(keyed, d)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := p.mirror.PutDeals(ctx, analystMember, keyed); err != nil {
		t.Fatal(err)
	}
	cfg, err := segment.ParseConfig([]byte(analystConfig))
	if err != nil {
		t.Fatal(err)
	}
	a := &Analyst{Store: p.store, Mirror: p.mirror, Clock: p.clk.Now, Workers: 2}
	snaps, err := a.Snapshots(ctx, analystMember, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(snaps) != len(cfg.Schemes) {
		t.Fatalf("%d snapshots for %d schemes", len(snaps), len(cfg.Schemes))
	}
	for _, snap := range snaps {
		if snap.Day != app.DayOf(p.clk.Now()) || snap.Currency != "USD" || snap.Estimated {
			t.Fatalf("%s: day %v, currency %q, estimated %v", snap.Entity, snap.Day, snap.Currency, snap.Estimated)
		}
		total, valued := int64(0), false
		for _, f := range snap.Segments {
			page, err := a.Segment(ctx, analystMember, snap.Entity, f.Segment)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(page.Figures, f); diff != "" {
				t.Fatalf("%s %q: the snapshot differs from the segment's page (-page +snapshot):\n%s", snap.Entity, f.Segment, diff)
			}
			total += f.Count
			valued = valued || f.Value > 0 && f.Open > 0
		}
		want := map[segment.Entity]int64{segment.EntityContact: 300, segment.EntityCompany: 50, segment.EntityDeal: 1200}[snap.Entity]
		if total != want || len(snap.Segments) < 2 || !valued {
			t.Fatalf("%s: %d records in %d segments (want %d), some worth and open deals: %v", snap.Entity, total, len(snap.Segments), want, valued)
		}
	}
}
