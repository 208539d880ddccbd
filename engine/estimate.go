package engine

import (
	"context"
	"fmt"
	"time"

	"segmentor/app"
	"segmentor/app/segment"
)

// EstimateDays is how far back a new portal's history is estimated: the
// longest period a trend chart shows.
const EstimateDays = 365

// estimateBudget bounds an estimate's work in record-days (records of all
// schemes × days): a portal of 100,000 records gets its full year, a
// larger one fewer days.
const estimateBudget = 40_000_000

// EstimatePast estimates the days before the first snapshot of each scheme
// of the saved config (estimateHistory); a portal without one has nothing
// to estimate. The job queued after each RecordHistory; it runs on one
// goroutine, as background work.
func (a *Analyst) EstimatePast(ctx context.Context, memberID string) (days int, err error) {
	sc, err := a.Store.Config(ctx, memberID)
	if err != nil || sc.Version == 0 {
		return 0, err
	}
	cfg, err := segment.ParseSavedConfig(sc.Config)
	if err != nil {
		return 0, err
	}
	return a.estimateHistory(context.WithValue(ctx, backgroundKey{}, true), memberID, cfg)
}

// estimateHistory works out, for the days before a scheme's first kept
// snapshot (at most EstimateDays before today), how the saved config would
// have split the base then, from what the mirror knows of the past: deals
// created later are left out, deals won or lost later were still open,
// activities held later had not happened, and amounts in the base currency
// at today's rates. Records are counted on every day (a contact's or
// company's creation date is not mirrored) and their fields are today's.
// The days are kept marked as estimated (Store.PutEstimates): a chart
// tells them apart, and a kept snapshot always wins over an estimate. A
// scheme whose history already has estimated days, or reaches back far
// enough, is left alone, so this costs a history read once a portal has
// its estimate. No REST request.
func (a *Analyst) estimateHistory(ctx context.Context, memberID string, cfg segment.Config) (int, error) {
	today := app.DayOf(a.now())
	lo := today - EstimateDays
	firsts := map[segment.Entity]app.Day{}
	hi := app.Day(0)
	for _, s := range cfg.Schemes {
		hist, err := a.Store.History(ctx, memberID, s.Entity, lo-1, today)
		if err != nil {
			return 0, err
		}
		if len(hist) == 0 || hist[0].Estimated || hist[0].Day <= lo {
			continue
		}
		firsts[s.Entity] = hist[0].Day
		hi = max(hi, hist[0].Day-1)
	}
	if len(firsts) == 0 {
		return 0, nil
	}
	rules, err := segment.Compile(cfg)
	if err != nil {
		return 0, err
	}
	records, err := a.records(ctx, memberID, cfg)
	if err != nil {
		return 0, err
	}
	if records > 0 {
		lo = max(lo, hi-app.Day(estimateBudget/records)+1)
	}
	r, err := a.classifier().newRun(ctx, memberID, &portalRules{cfg: cfg, rules: rules})
	if err != nil {
		return 0, err
	}
	out := map[segment.Entity][]app.Snapshot{}
	for d := lo; d <= hi; d++ {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		start := time.Now()
		snaps, err := a.estimateDay(ctx, memberID, cfg, r, d)
		if err != nil {
			return 0, fmt.Errorf("estimate %s: %w", d, err)
		}
		// Background work: as long a pause as the day took, so that an
		// estimate takes at most half a core from live work.
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(min(time.Since(start), time.Second)):
		}
		for _, s := range snaps {
			if first, ok := firsts[s.Entity]; ok && s.Day < first {
				out[s.Entity] = append(out[s.Entity], s)
			}
		}
	}
	for e, snaps := range out {
		if err := a.Store.PutEstimates(ctx, memberID, e, snaps); err != nil {
			return 0, err
		}
	}
	return int(hi - lo + 1), nil
}

// records is how many records cfg's schemes have.
func (a *Analyst) records(ctx context.Context, memberID string, cfg segment.Config) (int, error) {
	b, err := a.base(ctx, memberID)
	if err != nil {
		return 0, err
	}
	defer b.mu.RUnlock()
	n := 0
	for _, s := range cfg.Schemes {
		n += b.size(s.Entity)
	}
	return n, nil
}

// estimateDay evaluates r's rules over the base as it stood at the end of
// day d (setting r's time) and sums each scheme's figures as Snapshots
// does. It holds the base's
// read lock for this day only, so mirror updates go on between days.
func (a *Analyst) estimateDay(ctx context.Context, memberID string, cfg segment.Config, r *run, d app.Day) ([]app.Snapshot, error) {
	b, err := a.base(ctx, memberID)
	if err != nil {
		return nil, err
	}
	defer b.mu.RUnlock()
	at := (d + 1).Time().Add(-time.Second)
	r.pr.since, r.env.Now, r.env.Rates, r.asOf = at, at, b.rates, at
	r.rfm = b.rfmAsOf(r)
	parts := map[segment.Entity][]map[string]*app.Figures{}
	for _, s := range cfg.Schemes {
		parts[s.Entity] = make([]map[string]*app.Figures, a.chunks(b.size(s.Entity)))
	}
	_, err = a.evaluate(ctx, b, r, func(e segment.Entity) visitor {
		col, figs := b.cols[e], parts[e]
		if figs == nil {
			return func(int, int, *segment.Result) error { return nil }
		}
		views := make([]pastView, len(figs))
		return func(chunk, i int, res *segment.Result) error {
			m := figs[chunk]
			if m == nil {
				m = map[string]*app.Figures{}
				figs[chunk] = m
			}
			f := m[res.Key]
			if f == nil {
				f = &app.Figures{Segment: res.Key}
				m[res.Key] = f
			}
			f.Count++
			if e == segment.EntityDeal {
				var then segment.Deal
				if dealAsOf(&then, &col.rows[i].deal, at) {
					b.addDealFigures(f, col.rows[i], then.Semantic, at)
				}
				return nil
			}
			b.addClientFigures(f, views[chunk].deals(col.deals[i], at), at)
			return nil
		}
	})
	if err != nil {
		return nil, err
	}
	out := make([]app.Snapshot, 0, len(cfg.Schemes))
	for _, s := range cfg.Schemes {
		snap := sumFigures(parts[s.Entity])
		snap.Day, snap.Entity, snap.Currency, snap.Estimated = d, s.Entity, b.rates.Base, true
		out = append(out, snap)
	}
	return out, nil
}

// rfmAsOf builds the RFM quintiles of r's windows over the base as it
// stood at r.asOf. Holds b.mu.RLock.
func (b *base) rfmAsOf(r *run) map[segment.Entity]*segment.RFM {
	windows := r.pr.rules.RFMWindows()
	if len(windows) == 0 {
		return nil
	}
	out := map[segment.Entity]*segment.RFM{}
	var past pastView
	for _, e := range []segment.Entity{segment.EntityContact, segment.EntityCompany} {
		col := b.cols[e]
		rb := segment.NewRFMBuilder(r.env, windows)
		for i := range col.ids {
			rb.Add(past.client(col.clients[i].Client(e), r.asOf), past.deals(col.deals[i], r.asOf))
		}
		out[e] = rb.Build()
	}
	return out
}

// pastView shows a client and its deals as they stood at a past time, as
// far as their dates tell, reusing its buffers from record to record: what
// it returns is good until its next call. One per goroutine.
type pastView struct {
	dealBuf []segment.Deal
	actBuf  []segment.Activity
}

// deals are those of deals created by t, each as it stood then.
func (p *pastView) deals(deals []segment.Deal, t time.Time) []segment.Deal {
	p.dealBuf = p.dealBuf[:0]
	for i := range deals {
		var then segment.Deal
		if dealAsOf(&then, &deals[i], t) {
			p.dealBuf = append(p.dealBuf, then)
		}
	}
	return p.dealBuf
}

// client is c with only the activities held by t.
func (p *pastView) client(c segment.Client, t time.Time) segment.Client {
	if later(c.Activities, t) {
		p.actBuf = activitiesBy(p.actBuf[:0], c.Activities, t)
		c.Activities = p.actBuf
	}
	return c
}

// dealAsOf sets then to d as it stood at t and reports whether d existed
// by then (a deal with no creation date is taken to have): closed later,
// it was still open; its later activities had not happened.
func dealAsOf(then, d *segment.Deal, t time.Time) bool {
	if d.Created.After(t) {
		return false
	}
	*then = *d
	if then.Semantic != segment.InProgress && then.Closed.After(t) {
		then.Semantic, then.Closed = segment.InProgress, time.Time{}
	}
	if later(then.Activities, t) {
		then.Activities = activitiesBy(nil, then.Activities, t)
	}
	return true
}

// later reports whether any of acts is dated after t.
func later(acts []segment.Activity, t time.Time) bool {
	ts := t.Unix()
	for _, x := range acts {
		if x.At > ts {
			return true
		}
	}
	return false
}

// activitiesBy appends to dst the activities of acts dated by t (or not
// dated).
func activitiesBy(dst, acts []segment.Activity, t time.Time) []segment.Activity {
	ts := t.Unix()
	for _, x := range acts {
		if x.At <= ts {
			dst = append(dst, x)
		}
	}
	return dst
}
