package engine

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"segmentor/app"
	"segmentor/app/segment"
)

// maxSamples is how many example records a segment or a move shows.
const maxSamples = 5

// Sample is a record shown as an example, with a link to its CRM card
// and, in a preview or dry run, why the rules put it there.
type Sample struct {
	ID     int64           `json:"id"`
	Title  string          `json:"title"`
	URL    string          `json:"url"`
	Reason *segment.Reason `json:"-"`             // told in the reader's language as Why
	Why    *segment.Told   `json:"why,omitempty"` // set by the handler from Reason
}

// SegmentStanding is a segment's part of a scheme's base.
type SegmentStanding struct {
	Key          string   `json:"key"`
	Name         string   `json:"name"`
	Color        string   `json:"color,omitempty"`
	Count        int      `json:"count"`
	Share        float64  `json:"share"`
	Revenue      float64  `json:"revenue"`
	RevenueShare float64  `json:"revenue_share"`
	Samples      []Sample `json:"samples"`
	// Stale marks, on the dashboard, records still carrying a segment the
	// saved config no longer has (until the recompute reaches them).
	Stale bool `json:"stale,omitempty"`
}

// SchemeStanding is how a scheme splits its records: each segment in the
// config's order, and the records no segment took.
type SchemeStanding struct {
	Entity    segment.Entity    `json:"entity"`
	Total     int               `json:"total"`
	Revenue   float64           `json:"revenue"`
	Currency  string            `json:"currency"`
	Segments  []SegmentStanding `json:"segments"`
	Otherwise SegmentStanding   `json:"otherwise"`
}

// MirrorSummary is what the mirror holds.
type MirrorSummary struct {
	Contacts  int        `json:"contacts"`
	Companies int        `json:"companies"`
	Deals     int        `json:"deals"`
	SyncedAt  *time.Time `json:"synced_at"`
}

// Preview is how a config splits the base.
type Preview struct {
	TookMS int64         `json:"took_ms"` // time spent computing it
	Mirror MirrorSummary `json:"mirror"`
	// RevenueWindowDays is the window revenue is summed over; 0 = all time.
	RevenueWindowDays int              `json:"revenue_window_days"`
	Schemes           []SchemeStanding `json:"schemes"`
}

// Move is how many records would leave one segment for another.
type Move struct {
	From     string   `json:"from"`
	FromName string   `json:"from_name"`
	To       string   `json:"to"`
	ToName   string   `json:"to_name"`
	Count    int      `json:"count"`
	Samples  []Sample `json:"samples"`
}

// FieldChange is how many records a value would be rewritten for.
type FieldChange struct {
	From  string `json:"from"`
	To    string `json:"to"`
	Count int    `json:"count"`
}

// SchemeDiff is what applying a config would change for one record type.
type SchemeDiff struct {
	Entity    segment.Entity `json:"entity"`
	Evaluated int            `json:"evaluated"`
	Changed   int            `json:"changed"`
	Moves     []Move         `json:"moves"`
	Types     []FieldChange  `json:"types"`
	Pipelines []FieldChange  `json:"pipelines"`
	Labels    int            `json:"labels"` // Segment field writes
}

// DryRun is what applying a config now would change, against the values
// the records carry today. Nothing is written.
type DryRun struct {
	TookMS    int64        `json:"took_ms"` // time spent computing it
	Evaluated int          `json:"evaluated"`
	Changed   int          `json:"changed"`
	Schemes   []SchemeDiff `json:"schemes"`
}

// WithoutSamples drops the records named in p, keeping counts and shares:
// what a user who is not an administrator sees.
func (p *Preview) WithoutSamples() *Preview {
	for i := range p.Schemes {
		sc := &p.Schemes[i]
		for j := range sc.Segments {
			sc.Segments[j].Samples = []Sample{}
		}
		sc.Otherwise.Samples = []Sample{}
	}
	return p
}

// WithoutSamples drops the records named in d, keeping the counts.
func (d *DryRun) WithoutSamples() *DryRun {
	for i := range d.Schemes {
		for j := range d.Schemes[i].Moves {
			d.Schemes[i].Moves[j].Samples = []Sample{}
		}
	}
	return d
}

// PreviewOptions tune a preview or standing.
type PreviewOptions struct {
	RevenueWindowDays int // 0 = all time
}

// Preview evaluates cfg (a draft, validated by the caller) over the
// portal's mirrored base: per scheme and segment, the count, share,
// revenue, revenue share and a few examples.
func (a *Analyst) Preview(ctx context.Context, memberID string, cfg segment.Config, opt PreviewOptions) (*Preview, error) {
	start := time.Now()
	b, r, err := a.draftRun(ctx, memberID, cfg)
	if err != nil {
		return nil, err
	}
	defer b.mu.RUnlock()
	now := r.env.Now
	tallies := map[segment.Entity]*tally{}
	for _, s := range cfg.Schemes {
		tallies[s.Entity] = newTally(a.chunks(b.size(s.Entity)))
	}
	lookup, err := a.evaluate(ctx, b, r, func(e segment.Entity) visitor {
		t, col := tallies[e], b.cols[e]
		return func(chunk, i int, res *segment.Result) error {
			t.add(chunk, bucketKey(res.Key, res.Otherwise), col.ids[i], b.recordRevenue(col, i, opt.RevenueWindowDays, now))
			return nil
		}
	})
	if err != nil {
		return nil, err
	}
	p, err := a.standing(ctx, b, cfg, tallies, opt, false, b.reasons(r, lookup))
	if p != nil {
		p.TookMS = time.Since(start).Milliseconds()
	}
	return p, err
}

// bucketKey is the tally key of a result: the records no segment took
// share the "" bucket, whether or not an otherwise segment names them.
func bucketKey(key string, otherwise bool) string {
	if otherwise {
		return ""
	}
	return key
}

// Standing counts the records by the segment they carry today (no
// evaluation), laid out by cfg, the saved config: the dashboard.
func (a *Analyst) Standing(ctx context.Context, memberID string, cfg segment.Config, opt PreviewOptions) (*Preview, error) {
	b, err := a.base(ctx, memberID)
	if err != nil {
		return nil, err
	}
	defer b.mu.RUnlock()
	now := a.now()
	tallies := map[segment.Entity]*tally{}
	for _, s := range cfg.Schemes {
		otherwise := ""
		if s.Otherwise != nil {
			otherwise = s.Otherwise.Key
		}
		e, col := s.Entity, b.cols[s.Entity]
		t := newTally(a.chunks(b.size(e)))
		tallies[e] = t
		err := a.parallel(ctx, b.size(e), func(chunk, lo, hi int) error {
			for i := lo; i < hi; i++ {
				key := col.key(i)
				t.add(chunk, bucketKey(key, key == otherwise), col.ids[i], b.recordRevenue(col, i, opt.RevenueWindowDays, now))
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return a.standing(ctx, b, cfg, tallies, opt, true, nil)
}

// standing lays tallies out by cfg. With stale, buckets of keys cfg does
// not have are listed as stale segments; why, when set, says why each
// sample is where it is. Holds b.mu.RLock.
func (a *Analyst) standing(ctx context.Context, b *base, cfg segment.Config, tallies map[segment.Entity]*tally, opt PreviewOptions, stale bool, why reasoner) (*Preview, error) {
	portal, err := a.Store.Portal(ctx, b.memberID)
	if err != nil {
		return nil, err
	}
	meta, err := a.Mirror.Meta(ctx, b.memberID)
	if err != nil {
		return nil, err
	}
	out := &Preview{RevenueWindowDays: opt.RevenueWindowDays, Schemes: []SchemeStanding{},
		Mirror: MirrorSummary{Contacts: b.size(segment.EntityContact), Companies: b.size(segment.EntityCompany), Deals: b.size(segment.EntityDeal)}}
	if !meta.SyncedAt.IsZero() {
		out.Mirror.SyncedAt = &meta.SyncedAt
	}
	for _, s := range cfg.Schemes {
		buckets := tallies[s.Entity].merged()
		ss := SchemeStanding{Entity: s.Entity, Total: b.size(s.Entity), Currency: b.rates.Base, Segments: []SegmentStanding{}}
		for _, bk := range buckets {
			ss.Revenue += bk.revenue
		}
		seg := func(key, name, color string, bk *bucket) SegmentStanding {
			st := SegmentStanding{Key: key, Name: name, Color: color, Samples: []Sample{}}
			if bk != nil {
				st.Count, st.Revenue = bk.count, bk.revenue
				st.Share = ratio(float64(bk.count), float64(ss.Total))
				st.RevenueShare = ratio(bk.revenue, ss.Revenue)
				st.Samples = b.samples(portal, s.Entity, bk.samples, why)
			}
			return st
		}
		known := map[string]bool{"": true}
		for _, sg := range s.Segments {
			known[sg.Key] = true
			ss.Segments = append(ss.Segments, seg(sg.Key, sg.Name, sg.Color, buckets[sg.Key]))
		}
		if stale {
			for _, key := range slices.Sorted(maps.Keys(buckets)) {
				if !known[key] {
					st := seg(key, key, "", buckets[key])
					st.Stale = true
					ss.Segments = append(ss.Segments, st)
				}
			}
		}
		if o := s.Otherwise; o != nil {
			ss.Otherwise = seg(o.Key, o.Name, o.Color, buckets[""])
		} else {
			ss.Otherwise = seg("", "", "", buckets[""])
		}
		out.Schemes = append(out.Schemes, ss)
	}
	return out, nil
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// DryRun evaluates cfg over the base and diffs each record's result and
// plan against what it carries today: segment moves, type, pipeline and
// Segment field writes, exactly as a backfill with cfg would plan them.
func (a *Analyst) DryRun(ctx context.Context, memberID string, cfg segment.Config) (*DryRun, error) {
	start := time.Now()
	b, r, err := a.draftRun(ctx, memberID, cfg)
	if err != nil {
		return nil, err
	}
	defer b.mu.RUnlock()
	// A labelled segment the Segment field has no item for yet gets one on
	// save; until then it plans with a stand-in id no record carries.
	for i, s := range cfg.Schemes {
		items := r.items[s.Entity]
		if items == nil {
			items = map[string]int{}
			r.items[s.Entity] = items
		}
		for j, sg := range s.All() {
			if _, ok := items[sg.Key]; sg.Set.Label && !ok {
				items[sg.Key] = -(1000*i + j + 1)
			}
		}
	}
	diffs := map[segment.Entity][]*diffTally{}
	for _, s := range cfg.Schemes {
		diffs[s.Entity] = make([]*diffTally, a.chunks(b.size(s.Entity)))
		for k := range diffs[s.Entity] {
			diffs[s.Entity][k] = newDiffTally()
		}
	}
	lookup, err := a.evaluate(ctx, b, r, func(e segment.Entity) visitor {
		col, opts, d := b.cols[e], r.opts(e), diffs[e]
		return func(chunk, i int, res *segment.Result) error {
			var cur segment.Current
			if e == segment.EntityDeal {
				cur = col.rows[i].cur
			} else {
				cur = col.views[i].cur
			}
			plan, err := segment.NewPlan(e, cur, *res, opts)
			if err != nil {
				return fmt.Errorf("dry-run %s %d: %w", e, col.ids[i], err)
			}
			d[chunk].add(col.ids[i], col.key(i), res.Key, cur, plan)
			return nil
		}
	})
	if err != nil {
		return nil, err
	}
	portal, err := a.Store.Portal(ctx, memberID)
	if err != nil {
		return nil, err
	}
	names := a.segmentNames(ctx, memberID, cfg)
	why := b.reasons(r, lookup)
	out := &DryRun{Schemes: []SchemeDiff{}}
	for _, s := range cfg.Schemes {
		d := mergeDiffs(diffs[s.Entity])
		sd := SchemeDiff{Entity: s.Entity, Evaluated: d.evaluated, Changed: d.changed, Labels: d.labels,
			Moves: []Move{}, Types: changes(d.types), Pipelines: changes(d.pipelineChanges())}
		for mv, bk := range d.moves {
			sd.Moves = append(sd.Moves, Move{From: mv[0], FromName: names[s.Entity][mv[0]], To: mv[1], ToName: names[s.Entity][mv[1]],
				Count: bk.count, Samples: b.samples(portal, s.Entity, bk.samples, why)})
		}
		slices.SortFunc(sd.Moves, func(x, y Move) int {
			return cmp.Or(cmp.Compare(y.Count, x.Count), cmp.Compare(x.From, y.From), cmp.Compare(x.To, y.To))
		})
		out.Evaluated += sd.Evaluated
		out.Changed += sd.Changed
		out.Schemes = append(out.Schemes, sd)
	}
	out.TookMS = time.Since(start).Milliseconds()
	return out, nil
}

// segmentNames names segment keys per entity: the draft's names first,
// then the saved config's for keys the draft dropped.
func (a *Analyst) segmentNames(ctx context.Context, memberID string, draft segment.Config) map[segment.Entity]map[string]string {
	out := map[segment.Entity]map[string]string{}
	add := func(cfg segment.Config) {
		for _, s := range cfg.Schemes {
			if out[s.Entity] == nil {
				out[s.Entity] = map[string]string{}
			}
			for _, sg := range s.All() {
				if _, ok := out[s.Entity][sg.Key]; !ok {
					out[s.Entity][sg.Key] = sg.Name
				}
			}
		}
	}
	add(draft)
	if sc, err := a.Store.Config(ctx, memberID); err == nil && len(sc.Config) > 0 {
		if saved, err := segment.ParseSavedConfig(sc.Config); err == nil {
			add(saved)
		}
	}
	return out
}

// draftRun compiles cfg and returns the portal's base, read-locked (the
// caller must b.mu.RUnlock), with a classification pass of cfg's rules as
// if it were saved now, over the base's rates and RFM quintiles built from
// cfg's windows.
func (a *Analyst) draftRun(ctx context.Context, memberID string, cfg segment.Config) (*base, *run, error) {
	rules, err := segment.Compile(cfg)
	if err != nil {
		return nil, nil, err
	}
	b, err := a.base(ctx, memberID)
	if err != nil {
		return nil, nil, err
	}
	now := a.now()
	pr := &portalRules{since: now, cfg: cfg, rules: rules}
	r, err := a.classifier().newRun(ctx, memberID, pr)
	if err != nil {
		b.mu.RUnlock()
		return nil, nil, err
	}
	r.env.Rates = b.rates
	r.rfm = b.rfmFor(r, now)
	return b, r, nil
}

// visitor takes one record's result: the i-th of its entity's column,
// counted in chunk.
type visitor func(chunk, i int, res *segment.Result) error

// evaluate classifies every record of the base with r's rules — clients
// first, so deals see their clients' new segments through client_segment,
// as a backfill does — and hands each result to the entity's visitor, from
// several goroutines. A chunk is a run of consecutive ids, lower ids in
// lower chunks. It answers how deals see their clients' segments under r's
// rules. Holds b.mu.RLock.
func (a *Analyst) evaluate(ctx context.Context, b *base, r *run, visit func(e segment.Entity) visitor) (segment.SegmentLookup, error) {
	rules := r.pr.rules
	keys := map[segment.Entity][]string{}
	for _, e := range []segment.Entity{segment.EntityContact, segment.EntityCompany} {
		if !rules.Has(e) {
			continue
		}
		col, v, env := b.cols[e], visit(e), r.envFor(e)
		keys[e] = make([]string, len(col.ids))
		err := a.parallel(ctx, len(col.ids), func(chunk, lo, hi int) error {
			f := segment.NewClientFacts(env)
			var res segment.Result // one per chunk: v takes its address
			for i := lo; i < hi; i++ {
				f.ResetBriefed(col.views[i].client, col.deals[i], col.briefs[i]) // r.env.Rates are b.rates
				res = rules.Match(e, f)
				keys[e][i] = res.Key
				if err := v(chunk, i, &res); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	// client_segment: the draft's verdict where it has a scheme, else what
	// the client carries.
	segmentOf := map[segment.Entity]func(id int64) string{}
	for _, e := range []segment.Entity{segment.EntityContact, segment.EntityCompany} {
		col, k := b.cols[e], keys[e]
		segmentOf[e] = func(id int64) string {
			p, ok := col.pos.at(id)
			switch {
			case !ok:
				return ""
			case k != nil:
				return k[p]
			}
			return col.views[p].key
		}
	}
	contact, company := segmentOf[segment.EntityContact], segmentOf[segment.EntityCompany]
	lookup := func(e segment.Entity, id int64) string {
		if e == segment.EntityCompany {
			return company(id)
		}
		return contact(id)
	}
	if !rules.Has(segment.EntityDeal) {
		return lookup, nil
	}
	col, v := b.cols[segment.EntityDeal], visit(segment.EntityDeal)
	return lookup, a.parallel(ctx, len(col.ids), func(chunk, lo, hi int) error {
		f := segment.NewDealFacts(lookup, r.env.Now)
		var res segment.Result
		for i := lo; i < hi; i++ {
			f.Reset(&col.rows[i].deal)
			res = rules.Match(segment.EntityDeal, f)
			if err := v(chunk, i, &res); err != nil {
				return err
			}
		}
		return nil
	})
}

// chunkSize is the least work worth a chunk; chunks spread over workers.
const chunkSize = 2048

// chunks is how many chunks parallel splits n records into.
func (a *Analyst) chunks(n int) int {
	return max(1, min((n+chunkSize-1)/chunkSize, 4*a.workers()))
}

// parallel runs fn over [0, n) split into a.chunks(n) consecutive chunks,
// on up to a.workers() goroutines; the first error wins.
func (a *Analyst) parallel(ctx context.Context, n int, fn func(chunk, lo, hi int) error) error {
	k := a.chunks(n)
	workers := a.workers()
	next := make(chan int, k)
	for c := range k {
		next <- c
	}
	close(next)
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for range min(k, workers) {
		wg.Go(func() {
			for c := range next {
				if err := ctx.Err(); err != nil {
					once.Do(func() { first = err })
					return
				}
				if err := fn(c, c*n/k, (c+1)*n/k); err != nil {
					once.Do(func() { first = err })
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}

// key is the segment the i-th record carries in the mirror.
func (col *column) key(i int) string {
	if col.rows != nil {
		return col.rows[i].key
	}
	return col.views[i].key
}

// recordRevenue is the i-th record's won revenue in the base currency over
// the window: a deal's own, a client's over its deals. Holds b.mu.RLock.
func (b *base) recordRevenue(col *column, i int, window int, now time.Time) float64 {
	if col.rows != nil {
		return col.rows[i].revenue(window, now)
	}
	sum := 0.0
	for _, w := range col.won[i] {
		sum += wonWithin(w.won, w.at, window, now)
	}
	return sum
}

// reasoner says why a record of the base is in its segment; nil for
// none.
type reasoner func(e segment.Entity, id int64) *segment.Reason

// reasons classifies a record of the base again with r's rules, with the
// trace, to say why: only for the few records a page shows. lookup is how
// deals see their clients' segments under the same rules. Holds b.mu.RLock.
func (b *base) reasons(r *run, lookup segment.SegmentLookup) reasoner {
	return func(e segment.Entity, id int64) *segment.Reason {
		col := b.cols[e]
		p, ok := col.pos.at(id)
		if !ok {
			return nil
		}
		var res segment.Result
		if e == segment.EntityDeal {
			f := segment.NewDealFacts(lookup, r.env.Now)
			f.Reset(&col.rows[p].deal)
			res = r.pr.rules.Evaluate(e, f)
		} else {
			f := segment.NewClientFacts(r.envFor(e))
			f.Reset(col.views[p].client, col.deals[p])
			res = r.pr.rules.Evaluate(e, f)
		}
		reason := res.Reason()
		return &reason
	}
}

// samples turns sample ids into titled links, with why each is where it is
// when why is set. Holds b.mu.RLock.
func (b *base) samples(p *app.Portal, e segment.Entity, ids []int64, why reasoner) []Sample {
	out := make([]Sample, 0, len(ids))
	for _, id := range ids {
		s := Sample{ID: id, URL: p.RecordURL(string(e), id)}
		if why != nil {
			s.Reason = why(e, id)
		}
		if e == segment.EntityDeal {
			if d := b.deals[id]; d != nil {
				s.Title = d.row.Title
			}
		} else if cl := b.snap.clients[e][id]; cl != nil {
			s.Title = cl.Title
		}
		out = append(out, s)
	}
	return out
}

// bucket is what a tally knows of one segment (or move).
type bucket struct {
	count   int
	revenue float64
	samples []int64 // the lowest ids, at most maxSamples
}

func (bk *bucket) add(id int64, revenue float64) {
	bk.count++
	bk.revenue += revenue
	if len(bk.samples) < maxSamples {
		bk.samples = append(bk.samples, id)
	}
}

func (bk *bucket) merge(o *bucket) {
	bk.count += o.count
	bk.revenue += o.revenue
	bk.samples = append(bk.samples, o.samples[:min(len(o.samples), maxSamples-len(bk.samples))]...)
}

// tally counts records per segment key, one part per chunk so that chunks
// count in parallel and merge in order (the samples are the lowest ids).
// A scheme has a handful of segments: a part finds its bucket by a short
// scan, cheaper than hashing the key for every record.
type tally struct {
	parts []tallyPart
}

type tallyPart struct {
	keys    []string
	buckets []*bucket
}

func newTally(chunks int) *tally { return &tally{parts: make([]tallyPart, chunks)} }

func (t *tally) add(chunk int, key string, id int64, revenue float64) {
	p := &t.parts[chunk]
	i := slices.Index(p.keys, key)
	if i < 0 {
		i = len(p.keys)
		p.keys, p.buckets = append(p.keys, key), append(p.buckets, &bucket{})
	}
	p.buckets[i].add(id, revenue)
}

func (t *tally) merged() map[string]*bucket {
	out := map[string]*bucket{}
	for _, p := range t.parts {
		for i, k := range p.keys {
			if out[k] == nil {
				out[k] = &bucket{}
			}
			out[k].merge(p.buckets[i])
		}
	}
	return out
}

// diffTally is one chunk's part of a dry-run of a scheme.
type diffTally struct {
	evaluated, changed, labels int
	moves                      map[[2]string]*bucket
	types                      map[[2]string]int
	pipelines                  map[stageMove]int
}

// stageMove is a deal's move between pipeline stages, kept as ids: its
// names are made once per distinct move, not per deal.
type stageMove struct {
	fromCategory, toCategory int
	fromStage, toStage       string
}

func newDiffTally() *diffTally {
	return &diffTally{moves: map[[2]string]*bucket{}, types: map[[2]string]int{}, pipelines: map[stageMove]int{}}
}

func (d *diffTally) add(id int64, from, to string, cur segment.Current, plan segment.Plan) {
	d.evaluated++
	if from == to && plan.Empty() {
		return
	}
	d.changed++
	if from != to {
		mv := [2]string{from, to}
		bk := d.moves[mv]
		if bk == nil {
			bk = &bucket{}
			d.moves[mv] = bk
		}
		bk.add(id, 0)
	}
	if plan.Type != "" {
		d.types[[2]string{cur.TypeID, plan.Type}]++
	}
	if plan.Move != nil {
		d.pipelines[stageMove{cur.CategoryID, plan.Move.CategoryID, cur.StageID, plan.Move.StageID}]++
	}
	if plan.Segment != nil {
		d.labels++
	}
}

// mergeDiffs merges chunks in order.
func mergeDiffs(parts []*diffTally) *diffTally {
	out := newDiffTally()
	for _, p := range parts {
		out.evaluated += p.evaluated
		out.changed += p.changed
		out.labels += p.labels
		for mv, bk := range p.moves {
			if out.moves[mv] == nil {
				out.moves[mv] = &bucket{}
			}
			out.moves[mv].merge(bk)
		}
		for k, n := range p.types {
			out.types[k] += n
		}
		for k, n := range p.pipelines {
			out.pipelines[k] += n
		}
	}
	return out
}

// pipelineChanges names the stage moves as pipelineOf does.
func (d *diffTally) pipelineChanges() map[[2]string]int {
	out := make(map[[2]string]int, len(d.pipelines))
	for mv, n := range d.pipelines {
		out[[2]string{pipelineOf(mv.fromCategory, mv.fromStage), pipelineOf(mv.toCategory, mv.toStage)}] += n
	}
	return out
}

// changes lists field changes by count, descending.
func changes(m map[[2]string]int) []FieldChange {
	out := []FieldChange{}
	for k, n := range m {
		out = append(out, FieldChange{From: k[0], To: k[1], Count: n})
	}
	slices.SortFunc(out, func(x, y FieldChange) int {
		return cmp.Or(cmp.Compare(y.Count, x.Count), cmp.Compare(x.From, y.From), cmp.Compare(x.To, y.To))
	})
	return out
}
