package engine

import (
	"cmp"
	"context"
	"math"
	"slices"
	"time"

	"segmentor/app"
	"segmentor/app/segment"
)

// ValueWindowDays is the window a segment's value is won in: what its
// records brought in the last year.
const ValueWindowDays = 365

// Snapshots are how each scheme of cfg splits the base now, by the
// segment each record carries (no evaluation, no REST): what the
// scheduler keeps for each day. The records of segments cfg no longer has
// are counted under their key until the recompute reaches them. It
// streams the mirror (a worker's daily job holds no base in memory).
func (a *Analyst) Snapshots(ctx context.Context, memberID string, cfg segment.Config) ([]app.Snapshot, error) {
	c := a.classifier()
	rates, err := c.Mirror.Rates(ctx, memberID)
	if err != nil {
		return nil, err
	}
	perUnit, now := ratesPerUnit(rates), a.now()
	out := make([]app.Snapshot, 0, len(cfg.Schemes))
	for _, s := range cfg.Schemes {
		figs := figureTally{}
		if s.Entity == segment.EntityDeal {
			err = c.Mirror.EachDeal(ctx, memberID, func(d *app.MirrorDeal) error {
				sd := d.Deal()
				addDealFigure(figs.count(d.Key), &sd, perUnit, now)
				return nil
			})
		} else {
			err = c.eachClientWithDeals(ctx, memberID, s.Entity, func(cl *app.MirrorClient, deals []segment.Deal) error {
				addDealsFigures(figs.count(cl.Key), deals, perUnit, now)
				return nil
			})
		}
		if err != nil {
			return nil, err
		}
		snap := figs.snapshot()
		snap.Day, snap.Entity, snap.Currency = app.DayOf(now), s.Entity, rates.Base
		out = append(out, snap)
	}
	return out, nil
}

// addDealFigure adds a deal's figures at now to f: what it brought if won
// within ValueWindowDays, or one open deal.
func addDealFigure(f *app.Figures, d *segment.Deal, perUnit map[string]float64, now time.Time) {
	switch d.Semantic {
	case segment.InProgress:
		f.Open++
	case segment.Won:
		if v := dealRevenue(d, perUnit, now); v > 0 {
			f.Value += int64(math.Round(v))
			f.Won++
		}
	}
}

// addDealsFigures adds a client's deals' figures at now to f: its open
// deals, and its deals won within ValueWindowDays with what they brought,
// rounded for the client.
func addDealsFigures(f *app.Figures, deals []segment.Deal, perUnit map[string]float64, now time.Time) {
	value := 0.0
	for i := range deals {
		switch deals[i].Semantic {
		case segment.InProgress:
			f.Open++
		case segment.Won:
			if v := dealRevenue(&deals[i], perUnit, now); v > 0 {
				value += v
				f.Won++
			}
		}
	}
	f.Value += int64(math.Round(value))
}

// dealRevenue is what a won deal brought in the base currency within
// ValueWindowDays of now, as a base's dealRow.revenue tells.
func dealRevenue(d *segment.Deal, perUnit map[string]float64, now time.Time) float64 {
	return wonWithin(wonInBase(d, perUnit), closedAt(d), ValueWindowDays, now)
}

// closedAt is when a deal closed, or was created if it has no close date:
// when what it brought counts.
func closedAt(d *segment.Deal) time.Time {
	if d.Closed.IsZero() {
		return d.Created
	}
	return d.Closed
}

// addFigures adds the i-th record of col to f: one record, its (or its
// deals') value and won deals in the last ValueWindowDays, its open deals.
// Value is summed in whole units, rounded per record. Holds b.mu.RLock.
func (b *base) addFigures(f *app.Figures, col *column, i int, now time.Time) {
	f.Count++
	if col.rows != nil {
		addDealFigure(f, &col.rows[i].deal, b.perUnit, now)
		return
	}
	addDealsFigures(f, col.deals[i], b.perUnit, now)
}

// figureTally sums records' figures by the segment key they fall in.
type figureTally map[string]*app.Figures

// count counts one record under key and returns its segment's figures,
// for the record's (or its deals') value, won and open deals.
func (t figureTally) count(key string) *app.Figures {
	f := t[key]
	if f == nil {
		f = &app.Figures{Segment: key}
		t[key] = f
	}
	f.Count++
	return f
}

// snapshot lists the tally's segments in key order; the caller sets its
// day, entity and currency.
func (t figureTally) snapshot() app.Snapshot {
	snap := app.Snapshot{Segments: make([]app.Figures, 0, len(t))}
	for _, f := range t {
		snap.Segments = append(snap.Segments, *f)
	}
	slices.SortFunc(snap.Segments, func(x, y app.Figures) int { return cmp.Compare(x.Segment, y.Segment) })
	return snap
}

// SegmentFigures is one segment as its page shows it.
type SegmentFigures struct {
	Entity   segment.Entity `json:"entity"`
	Key      string         `json:"key"`
	Figures  app.Figures    `json:"figures"`
	Total    int            `json:"total"` // records of the scheme
	Share    float64        `json:"share"` // of the scheme's records
	Currency string         `json:"currency"`
	AvgDeal  float64        `json:"avg_deal"` // value / won deals
	Sections []SectionShare `json:"sections"` // the top product sections of its won deals
}

// SectionShare is a product section among a segment's won deals (last
// ValueWindowDays): how many of them have a row of it, and what they brought.
type SectionShare struct {
	ID    int     `json:"id"`
	Name  string  `json:"name,omitempty"`
	Deals int     `json:"deals"`
	Value float64 `json:"value"`
}

// topSections is how many sections a segment's page lists.
const topSections = 5

// Segment sums up the records carrying key in e's scheme (no REST).
func (a *Analyst) Segment(ctx context.Context, memberID string, e segment.Entity, key string) (*SegmentFigures, error) {
	b, err := a.base(ctx, memberID)
	if err != nil {
		return nil, err
	}
	defer b.mu.RUnlock()
	now := a.now()
	col := b.cols[e]
	out := &SegmentFigures{Entity: e, Key: key, Figures: app.Figures{Segment: key}, Total: b.size(e), Currency: b.rates.Base, Sections: []SectionShare{}}
	sections := map[int]*SectionShare{}
	addDeal := func(dr *dealRow) {
		v := dr.revenue(ValueWindowDays, now)
		if v <= 0 {
			return
		}
		for _, s := range dr.deal.ProductSections {
			if sections[s] == nil {
				sections[s] = &SectionShare{ID: s}
			}
			sections[s].Deals++
			sections[s].Value += v
		}
	}
	for i := range col.ids {
		if col.key(i) != key {
			continue
		}
		b.addFigures(&out.Figures, col, i, now)
		if col.rows != nil {
			addDeal(col.rows[i])
			continue
		}
		for _, d := range col.deals[i] {
			if dr := b.deals[d.ID]; dr != nil && d.Semantic == segment.Won {
				addDeal(dr)
			}
		}
	}
	if out.Total > 0 {
		out.Share = float64(out.Figures.Count) / float64(out.Total)
	}
	if out.Figures.Won > 0 {
		out.AvgDeal = float64(out.Figures.Value) / float64(out.Figures.Won)
	}
	for _, s := range sections {
		out.Sections = append(out.Sections, *s)
	}
	slices.SortFunc(out.Sections, func(x, y SectionShare) int {
		return cmp.Or(cmp.Compare(y.Deals, x.Deals), cmp.Compare(y.Value, x.Value), cmp.Compare(x.ID, y.ID))
	})
	out.Sections = out.Sections[:min(len(out.Sections), topSections)]
	return out, nil
}

// RecordHistory keeps today's snapshot of each scheme of the saved config
// (replacing one taken earlier today) and drops moves older than the
// history: the scheduler's daily call, and the end of every recompute. A
// portal without a saved config has nothing to keep.
func (a *Analyst) RecordHistory(ctx context.Context, memberID string) error {
	sc, err := a.Store.Config(ctx, memberID)
	if err != nil || sc.Version == 0 {
		return err
	}
	cfg, err := segment.ParseSavedConfig(sc.Config)
	if err != nil {
		return err
	}
	snaps, err := a.Snapshots(ctx, memberID, cfg)
	if err != nil {
		return err
	}
	for _, s := range snaps {
		if err := a.Store.PutSnapshot(ctx, memberID, s); err != nil {
			return err
		}
	}
	return a.Store.TrimMoves(ctx, memberID)
}
