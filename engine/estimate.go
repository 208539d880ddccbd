package engine

import (
	"cmp"
	"context"
	"fmt"
	"slices"
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
	return a.estimateHistory(ctx, memberID, cfg)
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
//
// It streams the mirror (estimateDays), many days to a pass: what it holds
// is a few figures a day and segment a day for each client, never the base.
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
	c := a.classifier()
	counts := map[segment.Entity]int{}
	for _, e := range []segment.Entity{segment.EntityContact, segment.EntityCompany, segment.EntityDeal} {
		if counts[e], err = c.Mirror.Count(ctx, memberID, e); err != nil {
			return 0, err
		}
	}
	records := 0
	for _, s := range cfg.Schemes {
		records += counts[s.Entity]
	}
	if records > 0 {
		lo = max(lo, hi-app.Day(estimateBudget/records)+1)
	}
	if hi < lo {
		return 0, nil
	}
	r, err := c.newRun(ctx, memberID, &portalRules{cfg: cfg, rules: rules})
	if err != nil {
		return 0, err
	}
	block := int(hi - lo + 1)
	if w := len(rules.RFMWindows()); w > 0 {
		clients := max(1, (counts[segment.EntityContact]+counts[segment.EntityCompany])*w)
		block = max(1, min(block, estimateRFMCells/clients))
	}
	out := map[segment.Entity][]app.Snapshot{}
	for from := lo; from <= hi; from += app.Day(block) {
		snaps, err := a.estimateDays(ctx, memberID, r, from, min(hi, from+app.Day(block)-1))
		if err != nil {
			return 0, fmt.Errorf("estimate from %s: %w", from, err)
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

// estimateRFMCells bounds the RFM tables a pass of estimateDays builds:
// days × clients × RFM windows, each 24 bytes. A config without RFM takes
// every day in one pass.
const estimateRFMCells = 2_000_000

// estimateDays evaluates r's rules over the base as it stood at the end of
// each day from from to to, streaming the mirror once (twice with RFM,
// whose quintiles of each day come first), and sums each scheme's figures
// as Snapshots does: the days in order, each with r's schemes in order.
// As background work it pauses as long as it worked, at most a second at
// a time, so that it takes at most half a core from live work.
func (a *Analyst) estimateDays(ctx context.Context, memberID string, r *run, from, to app.Day) ([]app.Snapshot, error) {
	c, rules := a.classifier(), r.pr.rules
	k := int(to - from + 1)
	at := make([]time.Time, k)
	for i := range at {
		at[i] = (from + app.Day(i) + 1).Time().Add(-time.Second)
	}
	perUnit := ratesPerUnit(r.env.Rates)
	pace := &pacer{}
	clientKinds := []segment.Entity{segment.EntityContact, segment.EntityCompany}

	// Each day's RFM quintiles, among the clients of each kind then.
	rfm := make([]map[segment.Entity]*segment.RFM, k)
	if windows := rules.RFMWindows(); len(windows) > 0 {
		for i := range rfm {
			rfm[i] = map[segment.Entity]*segment.RFM{}
		}
		for _, e := range clientKinds {
			bs := make([]*segment.RFMBuilder, k)
			for i := range bs {
				env := r.env
				env.Now = at[i]
				bs[i] = segment.NewRFMBuilder(env, windows)
			}
			var past pastView
			err := c.eachClientWithDeals(ctx, memberID, e, func(cl *app.MirrorClient, deals []segment.Deal) error {
				client := cl.Client(e)
				for i, b := range bs {
					b.Add(past.client(client, at[i]), past.deals(deals, at[i]))
				}
				return pace.done(ctx, k)
			})
			if err != nil {
				return nil, err
			}
			for i, b := range bs {
				rfm[i][e] = b.Build()
			}
		}
	}
	env := func(e segment.Entity, i int) segment.Env {
		env := r.env
		env.Now = at[i]
		if rfm[i] != nil {
			env.RFM = rfm[i][e]
		}
		return env
	}

	figs := map[segment.Entity][]figureTally{} // by scheme, by day
	for _, s := range r.pr.cfg.Schemes {
		figs[s.Entity] = make([]figureTally, k)
		for i := range k {
			figs[s.Entity][i] = figureTally{}
		}
	}

	// Clients first: deals that read client_segment see each day's.
	keys := map[segment.Entity]*pastKeys{}
	useKeys := rules.Has(segment.EntityDeal) && rules.UsesClientSegment()
	for _, e := range clientKinds {
		var pk *pastKeys
		if useKeys {
			pk = &pastKeys{days: k}
			keys[e] = pk
		}
		switch {
		case rules.Has(e):
			facts := make([]*segment.ClientFacts, k)
			for i := range facts {
				facts[i] = segment.NewClientFacts(env(e, i))
			}
			var past pastView
			err := c.eachClientWithDeals(ctx, memberID, e, func(cl *app.MirrorClient, deals []segment.Deal) error {
				client := cl.Client(e)
				row := pk.add(cl.ID)
				for i, f := range facts {
					then := past.deals(deals, at[i])
					f.Reset(past.client(client, at[i]), then)
					res := rules.Match(e, f)
					pk.set(row, i, res.Key)
					addDealsFigures(figs[e][i].count(res.Key), then, perUnit, at[i])
				}
				return pace.done(ctx, k)
			})
			if err != nil {
				return nil, err
			}
		case pk != nil:
			// No scheme of its own: its deals read the segment it carries.
			err := c.Mirror.EachClient(ctx, memberID, e, func(cl *app.MirrorClient) error {
				row := pk.add(cl.ID)
				for i := range k {
					pk.set(row, i, cl.Key)
				}
				return nil
			})
			if err != nil {
				return nil, err
			}
		}
		pk.sort()
	}

	if rules.Has(segment.EntityDeal) {
		facts := make([]*segment.DealFacts, k)
		for i := range facts {
			lookup := func(e segment.Entity, id int64) string { return keys[e].key(id, i) }
			facts[i] = segment.NewDealFacts(lookup, at[i])
		}
		var then segment.Deal
		err := c.Mirror.EachDeal(ctx, memberID, func(d *app.MirrorDeal) error {
			sd := d.Deal()
			for i, f := range facts {
				if !dealAsOf(&then, &sd, at[i]) {
					continue // not created yet
				}
				f.Reset(&then)
				res := rules.Match(segment.EntityDeal, f)
				addDealFigure(figs[segment.EntityDeal][i].count(res.Key), &then, perUnit, at[i])
			}
			return pace.done(ctx, k)
		})
		if err != nil {
			return nil, err
		}
	}

	out := make([]app.Snapshot, 0, k*len(r.pr.cfg.Schemes))
	for i := range k {
		for _, s := range r.pr.cfg.Schemes {
			snap := figs[s.Entity][i].snapshot()
			snap.Day, snap.Entity, snap.Currency, snap.Estimated = from+app.Day(i), s.Entity, r.env.Rates.Base, true
			out = append(out, snap)
		}
	}
	return out, nil
}

// pacer paces background work: after each stretch of work it pauses as
// long as the stretch took, at most a second.
type pacer struct {
	work  int
	since time.Time
}

// pacerStretch is how many record-days of work go between pauses.
const pacerStretch = 20_000

// done counts n record-days of work and pauses when a stretch is done.
func (p *pacer) done(ctx context.Context, n int) error {
	if p.since.IsZero() {
		p.since = time.Now()
	}
	if p.work += n; p.work < pacerStretch {
		return nil
	}
	p.work = 0
	t := time.NewTimer(min(time.Since(p.since), time.Second))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
	}
	p.since = time.Now()
	return nil
}

// pastKeys are the segments of one kind of client on each day of an
// estimate, for their deals' client_segment: one small code a client a
// day. A nil *pastKeys holds nothing and knows no client.
type pastKeys struct {
	days  int
	ids   []int64
	codes []uint16 // ids[j]'s on day i at j*days+i
	names []string // code → segment key; 0 is ""
	code  map[string]uint16
}

// add appends a client and returns its row.
func (p *pastKeys) add(id int64) int {
	if p == nil {
		return 0
	}
	p.ids = append(p.ids, id)
	p.codes = append(p.codes, make([]uint16, p.days)...)
	return len(p.ids) - 1
}

// set records the segment of row's client on day i.
func (p *pastKeys) set(row, i int, key string) {
	if p == nil || key == "" {
		return
	}
	c, ok := p.code[key]
	if !ok {
		if p.code == nil {
			p.code, p.names = map[string]uint16{}, []string{""}
		}
		c = uint16(len(p.names))
		p.code[key], p.names = c, append(p.names, key)
	}
	p.codes[row*p.days+i] = c
}

// sort orders the clients by id, for key.
func (p *pastKeys) sort() {
	if p == nil {
		return
	}
	order := make([]int, len(p.ids))
	for j := range order {
		order[j] = j
	}
	slices.SortFunc(order, func(x, y int) int { return cmp.Compare(p.ids[x], p.ids[y]) })
	ids, codes := make([]int64, len(p.ids)), make([]uint16, len(p.codes))
	for j, o := range order {
		ids[j] = p.ids[o]
		copy(codes[j*p.days:(j+1)*p.days], p.codes[o*p.days:(o+1)*p.days])
	}
	p.ids, p.codes = ids, codes
}

// key is the segment of client id on day i; "" for a client it does not
// know.
func (p *pastKeys) key(id int64, i int) string {
	if p == nil {
		return ""
	}
	j, ok := slices.BinarySearch(p.ids, id)
	if !ok || p.codes[j*p.days+i] == 0 {
		return ""
	}
	return p.names[p.codes[j*p.days+i]]
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
