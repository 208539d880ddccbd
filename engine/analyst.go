package engine

import (
	"cmp"
	"context"
	"maps"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"time"

	"segmentor/app"
	"segmentor/app/segment"
)

// Analyst answers questions about a portal's base from its mirror, without
// a REST call: how a draft config would split the base (Preview), what
// applying it would change (DryRun), where the records stand today
// (Standing), and why one record is where it is (Explain). Evaluation is
// the classifier's: the same snapshot, RFM quintiles, facts and planner.
//
// Previews must answer in milliseconds for a base of 100,000 records, so
// the Analyst keeps each portal's mirror decoded in memory (a base) and
// catches it up through the mirror's change log, re-reading only the rows
// written since; bases of portals nobody is looking at are dropped. The
// worker's jobs (each day's snapshot, the history estimate) stream the
// mirror instead and hold no base: a worker serves many portals.
type Analyst struct {
	Store  *app.Store
	Mirror *app.Mirror
	Clock  func() time.Time
	// MaxPortals bounds the bases held in memory, least recently used
	// dropped first; default 4. A base of 100,000 deals takes ~100 MB.
	MaxPortals int
	// Idle drops a base unused this long; default 10 minutes.
	Idle time.Duration
	// Workers evaluate a base in parallel; default GOMAXPROCS.
	Workers int

	mu    sync.Mutex
	bases map[string]*base
}

func (a *Analyst) now() time.Time {
	if a.Clock != nil {
		return a.Clock()
	}
	return time.Now()
}

func (a *Analyst) workers() int {
	if a.Workers > 0 {
		return a.Workers
	}
	return runtime.GOMAXPROCS(0)
}

// classifier gives the Analyst the classifier's helpers (newRun, the
// snapshot); it never calls Bitrix24.
func (a *Analyst) classifier() *Classifier {
	return &Classifier{Store: a.Store, Mirror: a.Mirror, Clock: a.Clock}
}

// rfmReuse is how long RFM quintiles built for a set of windows serve
// later requests although the mirror changed since (a quintile shifts
// negligibly in a minute; live classification reuses them for 10).
const rfmReuse = time.Minute

// base is a portal's mirror decoded in memory. Readers hold mu.RLock for a
// whole evaluation; catching up holds refresh (one at a time, reading rows
// from Redis) and then mu.Lock only to apply what it read.
type base struct {
	memberID string
	refresh  sync.Mutex
	mu       sync.RWMutex
	loaded   bool
	gen      int64
	rates    segment.Rates
	briefer  *segment.ClientFacts // converts deals at rates (briefOf); nil when rates change
	perUnit  map[string]float64   // rates as floats: "" and the base currency are 1
	snap     *snapshot            // clients and their deals (snap.deals is unused: see deals)
	deals    map[int64]*dealRow
	cols     map[segment.Entity]*column
	used     time.Time

	rfmMu sync.Mutex
	rfm   map[string]*rfmEntry
}

// dealRow is a deal of the base: its row, converted once for the rules,
// and what it brought.
type dealRow struct {
	row  *app.MirrorDeal
	deal segment.Deal
	won  float64   // amount in the base currency if won, else 0 (also without a rate)
	at   time.Time // when it closed (created, if no close date)
	// cur and key are the row's as a dry run diffs them, kept beside the
	// deal it evaluates: reading them from row cost a dry run a cache
	// miss a deal, a third of its time at 100,000 deals.
	cur segment.Current
	key string
}

// column is one entity's records in id order with what a pass over the
// base reads of each, so that evaluation indexes slices, not maps.
type column struct {
	ids     []int64
	pos     idIndex              // id → index
	clients []*app.MirrorClient  // contacts and companies
	views   []clientView         // what an evaluation reads of each client (view)
	deals   [][]segment.Deal     // a client's deals (the snapshot's lists)
	won     [][]wonDeal          // a client's deals that brought something, in deal id order (wonOf)
	briefs  []segment.DealBriefs // a client's deals as its facts read them, at the base's rates (briefOf)
	rows    []*dealRow           // deals
}

// clientView is what an evaluation reads of a client, laid out in its
// column: reading it from the decoded row cost a pass over the base a
// cache miss a client, and choosing its location again each time a
// twentieth of a preview.
type clientView struct {
	client segment.Client
	cur    segment.Current // as a dry run diffs it
	key    string          // the segment it carries: its deals' client_segment
}

// view lays out the p-th client of a column of e. Holds b.mu.Lock.
func (col *column) view(e segment.Entity, p int) {
	cl := col.clients[p]
	col.views[p] = clientView{client: cl.Client(e), cur: cl.Current(), key: cl.Key}
}

// wonDeal is what a won deal of a client brought, and when: a client's
// revenue sums these in place, where looking each deal up in b.deals cost
// a preview a map access and a cache miss per deal.
type wonDeal struct {
	won float64
	at  time.Time
}

// wonOf lists what a client's deals brought, as b.deals has them now: the
// deals recordRevenue would count, in its order, less those that bring 0
// in any window (adding 0 changes no sum). Holds b.mu.
// derive works out what the base keeps of the p-th client's deals (won,
// briefs), after they or the rates changed. Holds b.mu.Lock.
func (b *base) derive(col *column, p int) {
	col.won[p], col.briefs[p] = b.wonOf(col.deals[p]), b.briefOf(col.deals[p])
}

// briefOf converts a client's deals once for every evaluation of the
// base (segment.DealBriefs): an evaluation reads a compact slice instead
// of converting every deal. Holds b.mu.Lock.
func (b *base) briefOf(deals []segment.Deal) segment.DealBriefs {
	if b.briefer == nil {
		b.briefer = segment.NewClientFacts(segment.Env{Rates: b.rates})
	}
	return b.briefer.Briefs(deals)
}

func (b *base) wonOf(deals []segment.Deal) []wonDeal {
	var out []wonDeal
	for k := range deals {
		if deals[k].Semantic != segment.Won {
			continue
		}
		if dr := b.deals[deals[k].ID]; dr != nil && dr.won != 0 {
			out = append(out, wonDeal{won: dr.won, at: dr.at})
		}
	}
	return out
}

type rfmEntry struct {
	gen   int64
	built time.Time
	rfm   map[segment.Entity]*segment.RFM
}

// base returns the portal's base caught up with the mirror, read-locked:
// the caller must call b.mu.RUnlock when done.
func (a *Analyst) base(ctx context.Context, memberID string) (*base, error) {
	now := a.now()
	a.mu.Lock()
	if a.bases == nil {
		a.bases = map[string]*base{}
	}
	b := a.bases[memberID]
	if b == nil {
		b = &base{memberID: memberID}
		a.bases[memberID] = b
	}
	b.used = now
	a.evict(now)
	a.mu.Unlock()

	b.refresh.Lock()
	err := a.catchUp(ctx, b)
	b.refresh.Unlock()
	if err != nil {
		return nil, err
	}
	b.mu.RLock()
	return b, nil
}

// evict drops idle bases, then the least recently used beyond MaxPortals.
// A base in use keeps working; it is only forgotten. Holds a.mu.
func (a *Analyst) evict(now time.Time) {
	idle := cmp.Or(a.Idle, 10*time.Minute)
	for id, b := range a.bases {
		if now.Sub(b.used) > idle {
			delete(a.bases, id)
		}
	}
	limit := cmp.Or(a.MaxPortals, 4)
	for len(a.bases) > limit {
		oldest := ""
		for id, b := range a.bases {
			if oldest == "" || b.used.Before(a.bases[oldest].used) {
				oldest = id
			}
		}
		delete(a.bases, oldest)
	}
}

// catchUp brings b to the mirror's generation: the changed rows only, or
// everything when the log does not reach back, the base was never loaded,
// or a large part of it changed. Holds b.refresh.
func (a *Analyst) catchUp(ctx context.Context, b *base) error {
	if b.loaded {
		ch, err := a.Mirror.ChangesSince(ctx, b.memberID, b.gen)
		if err != nil {
			return err
		}
		if ch.Complete && ch.Gen == b.gen {
			return nil
		}
		if ch.Complete && ch.Count() <= max(len(b.deals)+len(b.snap.clients[segment.EntityContact])+len(b.snap.clients[segment.EntityCompany]), 1000)/4 {
			return a.apply(ctx, b, ch)
		}
	}
	return a.reload(ctx, b)
}

// reload decodes the whole mirror. The generation is read first, so any
// write the scan may miss is in the log after it.
func (a *Analyst) reload(ctx context.Context, b *base) error {
	gen, err := a.Mirror.Generation(ctx, b.memberID)
	if err != nil {
		return err
	}
	rates, err := a.Mirror.Rates(ctx, b.memberID)
	if err != nil {
		return err
	}
	s, err := a.classifier().loadSnapshot(ctx, b.memberID)
	if err != nil {
		return err
	}
	perUnit := ratesPerUnit(rates)
	deals := make(map[int64]*dealRow, len(s.deals))
	for _, d := range s.deals {
		deals[d.ID] = newDealRow(d, perUnit)
	}
	// Rebuild each client's deals from the distinct rows, in id order (a
	// scan may return a row twice if the hash grows meanwhile).
	s.deals, s.dealsOf = nil, map[app.ClientRef][]segment.Deal{}
	for _, id := range slices.Sorted(maps.Keys(deals)) {
		dr := deals[id]
		for _, ref := range dr.row.Clients() {
			s.dealsOf[ref] = append(s.dealsOf[ref], dr.deal)
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.loaded, b.gen, b.rates, b.perUnit, b.snap, b.deals, b.briefer = true, gen, rates, perUnit, s, deals, nil
	b.cols = map[segment.Entity]*column{}
	for _, e := range []segment.Entity{segment.EntityContact, segment.EntityCompany, segment.EntityDeal} {
		b.cols[e] = b.column(e)
	}
	b.rfmMu.Lock()
	b.rfm = nil
	b.rfmMu.Unlock()
	return nil
}

// apply re-reads the rows the log names and swaps them in.
func (a *Analyst) apply(ctx context.Context, b *base, ch app.MirrorChanges) error {
	var rates segment.Rates
	var err error
	if ch.Rates {
		if rates, err = a.Mirror.Rates(ctx, b.memberID); err != nil {
			return err
		}
	}
	clients := map[segment.Entity]map[int64]*app.MirrorClient{}
	for _, e := range []segment.Entity{segment.EntityContact, segment.EntityCompany} {
		if ids := ch.IDs[e]; len(ids) > 0 {
			if clients[e], err = a.Mirror.Clients(ctx, b.memberID, e, ids); err != nil {
				return err
			}
		}
	}
	deals, err := a.Mirror.Deals(ctx, b.memberID, ch.IDs[segment.EntityDeal])
	if err != nil {
		return err
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	if ch.Rates {
		b.rates, b.perUnit, b.briefer = rates, ratesPerUnit(rates), nil
		for _, dr := range b.deals {
			dr.won = wonInBase(&dr.deal, b.perUnit)
		}
		for _, e := range []segment.Entity{segment.EntityContact, segment.EntityCompany} {
			if col := b.cols[e]; col != nil {
				for p := range col.deals {
					b.derive(col, p)
				}
			}
		}
	}
	// What changed, and whether a column gained or lost records.
	touched := map[app.ClientRef]bool{}
	l := relayout{rebuild: map[segment.Entity]bool{}, appended: map[segment.Entity][]int64{}}
	b.applyClients(ch, clients, touched, &l)
	b.applyDeals(ch.IDs[segment.EntityDeal], deals, touched, &l)
	b.refreshColumns(ch.IDs[segment.EntityDeal], touched, &l)
	b.gen = ch.Gen
	return nil
}

// relayout is what a catch-up changes in the columns' layout.
type relayout struct {
	rebuild  map[segment.Entity]bool    // a record went, or came among the others: the column is laid out again
	appended map[segment.Entity][]int64 // records that came after the column's last
}

// came notes a record new to the base. Bitrix24 numbers new records
// upwards, so one usually comes after its column's last and is appended;
// laying a column of a million deals out again took a preview hundreds of
// milliseconds.
func (l *relayout) came(col *column, e segment.Entity, id int64) {
	if n := len(col.ids); n == 0 || id > col.ids[n-1] {
		l.appended[e] = append(l.appended[e], id)
	} else {
		l.rebuild[e] = true
	}
}

// applyClients puts changed contacts and companies into the snapshot; it
// notes each one touched, and how its column changes when one came or
// went.
func (b *base) applyClients(ch app.MirrorChanges, clients map[segment.Entity]map[int64]*app.MirrorClient, touched map[app.ClientRef]bool, l *relayout) {
	for e, rows := range clients {
		for _, id := range ch.IDs[e] {
			cl, had := rows[id], b.snap.clients[e][id] != nil
			if cl == nil {
				delete(b.snap.clients[e], id)
			} else {
				b.snap.clients[e][id] = cl
			}
			switch {
			case had && cl == nil:
				l.rebuild[e] = true
			case !had && cl != nil:
				l.came(b.cols[e], e, id)
			}
			touched[app.ClientRef{Entity: e, ID: id}] = true
		}
	}
}

// applyDeals puts changed deals into the snapshot and into their clients'
// deal lists (kept sorted by id); it notes the clients touched, and how
// the deal column changes when a deal came or went.
func (b *base) applyDeals(ids []int64, deals map[int64]*app.MirrorDeal, touched map[app.ClientRef]bool, l *relayout) {
	for _, id := range ids {
		if old := b.deals[id]; old != nil {
			for _, ref := range old.row.Clients() {
				b.snap.dealsOf[ref] = slices.DeleteFunc(b.snap.dealsOf[ref], func(d segment.Deal) bool { return d.ID == id })
				if len(b.snap.dealsOf[ref]) == 0 {
					delete(b.snap.dealsOf, ref)
				}
				touched[ref] = true
			}
		}
		d, had := deals[id], b.deals[id] != nil
		switch {
		case had && d == nil:
			l.rebuild[segment.EntityDeal] = true
		case !had && d != nil:
			l.came(b.cols[segment.EntityDeal], segment.EntityDeal, id)
		}
		if d == nil {
			delete(b.deals, id)
			continue
		}
		dr := newDealRow(d, b.perUnit)
		b.deals[id] = dr
		for _, ref := range d.Clients() {
			list := b.snap.dealsOf[ref]
			i, _ := slices.BinarySearchFunc(list, id, func(x segment.Deal, id int64) int { return cmp.Compare(x.ID, id) })
			b.snap.dealsOf[ref] = slices.Insert(list, i, dr.deal)
			touched[ref] = true
		}
	}
}

// refreshColumns lays out again the columns l says, appends the records
// that came after the others' last, and updates their touched rows in
// place.
func (b *base) refreshColumns(dealIDs []int64, touched map[app.ClientRef]bool, l *relayout) {
	rebuild := l.rebuild
	for e := range rebuild {
		b.cols[e] = b.column(e)
	}
	for e, ids := range l.appended {
		if !rebuild[e] {
			b.cols[e].grow(e, ids) // their rows are set below, as touched ones
		}
	}
	for ref := range touched {
		if col := b.cols[ref.Entity]; !rebuild[ref.Entity] {
			if p, ok := col.pos.at(ref.ID); ok {
				col.clients[p], col.deals[p] = b.snap.clients[ref.Entity][ref.ID], b.snap.dealsOf[ref]
				col.view(ref.Entity, p)
				b.derive(col, p)
			}
		}
	}
	if col := b.cols[segment.EntityDeal]; !rebuild[segment.EntityDeal] {
		for _, id := range dealIDs {
			if p, ok := col.pos.at(id); ok {
				col.rows[p] = b.deals[id]
			}
		}
	}
}

func newDealRow(d *app.MirrorDeal, perUnit map[string]float64) *dealRow {
	dr := &dealRow{row: d, deal: d.Deal(), key: d.Key}
	dr.deal.Currency = currencyCode(dr.deal.Currency)
	dr.deal.Prepare() // the base's deals are evaluated over and over
	dr.won = wonInBase(&dr.deal, perUnit)
	dr.at = closedAt(&dr.deal)
	dr.cur = d.CurrentOf(&dr.deal)
	return dr
}

// currencyCodes holds one copy of each currency code the bases met.
var currencyCodes sync.Map // string → the same string

// currencyCode is the one copy of a currency code: the money facts
// compare every won deal's currency with the last few they converted,
// and equal strings at one address compare without reading the deals'
// own copies, a cache miss each in a base of decoded rows. Only ISO 4217
// shapes are kept (three capital letters), so the set stays small.
func currencyCode(s string) string {
	if len(s) != 3 || s[0] < 'A' || s[0] > 'Z' || s[1] < 'A' || s[1] > 'Z' || s[2] < 'A' || s[2] > 'Z' {
		return s
	}
	if c, ok := currencyCodes.Load(s); ok {
		return c.(string)
	}
	c, _ := currencyCodes.LoadOrStore(s, s)
	return c.(string)
}

// wonInBase is a won deal's amount in the base currency; 0 for any other
// deal, or one in a currency without a rate.
func wonInBase(d *segment.Deal, perUnit map[string]float64) float64 {
	rate, ok := perUnit[d.Currency]
	if d.Semantic != segment.Won || !ok {
		return 0
	}
	return d.Amount.InexactFloat64() * rate
}

// column lays out an entity's records in id order. Holds b.mu.
func (b *base) column(e segment.Entity) *column {
	col := &column{}
	if e == segment.EntityDeal {
		col.ids = slices.Sorted(maps.Keys(b.deals))
		col.rows = make([]*dealRow, len(col.ids))
		for i, id := range col.ids {
			col.rows[i] = b.deals[id]
		}
	} else {
		col.ids = slices.Sorted(maps.Keys(b.snap.clients[e]))
		col.clients = make([]*app.MirrorClient, len(col.ids))
		col.views = make([]clientView, len(col.ids))
		col.deals = make([][]segment.Deal, len(col.ids))
		col.won = make([][]wonDeal, len(col.ids))
		col.briefs = make([]segment.DealBriefs, len(col.ids))
		for i, id := range col.ids {
			col.clients[i], col.deals[i] = b.snap.clients[e][id], b.snap.dealsOf[app.ClientRef{Entity: e, ID: id}]
			col.view(e, i)
			b.derive(col, i)
		}
	}
	col.pos = newIDIndex(col.ids)
	return col
}

// idIndex finds a record's position in its column by id. Bitrix24 numbers
// a portal's records from 1 upwards, so their ids are dense: a slice
// indexed by id finds one without hashing (a map lookup for each deal's
// client cost a dry run a tenth of its time), in less memory than a map.
// Ids too sparse for that are kept in a map.
type idIndex struct {
	dense  []int32 // id → position+1; 0: no such record
	sparse map[int64]int32
}

// newIDIndex indexes ids, sorted ascending.
func newIDIndex(ids []int64) idIndex {
	if len(ids) == 0 {
		return idIndex{}
	}
	if first, last := ids[0], ids[len(ids)-1]; first >= 0 && last < 2*int64(len(ids))+1024 {
		dense := make([]int32, last+1)
		for i, id := range ids {
			dense[id] = int32(i + 1)
		}
		return idIndex{dense: dense}
	}
	sparse := make(map[int64]int32, len(ids))
	for i, id := range ids {
		sparse[id] = int32(i)
	}
	return idIndex{sparse: sparse}
}

// grow indexes ids[from:], which come after every id indexed.
func (x *idIndex) grow(ids []int64, from int) {
	if from >= len(ids) {
		return
	}
	switch last := ids[len(ids)-1]; {
	case from == 0 || x.sparse == nil && last >= 2*int64(len(ids))+1024:
		*x = newIDIndex(ids) // the first ids, or too sparse now for a slice
	case x.sparse != nil:
		for i := from; i < len(ids); i++ {
			x.sparse[ids[i]] = int32(i)
		}
	default:
		if n := int(last) + 1; n > len(x.dense) {
			x.dense = append(x.dense, make([]int32, n-len(x.dense))...)
		}
		for i := from; i < len(ids); i++ {
			x.dense[ids[i]] = int32(i + 1)
		}
	}
}

// at is the position of the record with id, if the column has it.
func (x *idIndex) at(id int64) (int, bool) {
	if x.sparse != nil {
		p, ok := x.sparse[id]
		return int(p), ok
	}
	if uint64(id) < uint64(len(x.dense)) {
		if p := x.dense[id]; p != 0 {
			return int(p - 1), true
		}
	}
	return 0, false
}

// grow appends records after the column's last, in id order, with empty
// rows for the caller to set. Holds b.mu.Lock.
func (col *column) grow(e segment.Entity, ids []int64) {
	slices.Sort(ids)
	ids = slices.Compact(ids)
	from := len(col.ids)
	col.ids = append(col.ids, ids...)
	if e == segment.EntityDeal {
		col.rows = append(col.rows, make([]*dealRow, len(ids))...)
	} else {
		col.clients = append(col.clients, make([]*app.MirrorClient, len(ids))...)
		col.views = append(col.views, make([]clientView, len(ids))...)
		col.deals = append(col.deals, make([][]segment.Deal, len(ids))...)
		col.won = append(col.won, make([][]wonDeal, len(ids))...)
		col.briefs = append(col.briefs, make([]segment.DealBriefs, len(ids))...)
	}
	col.pos.grow(col.ids, from)
}

// size is the number of records of an entity in the base.
func (b *base) size(e segment.Entity) int { return len(b.cols[e].ids) }

// rfmFor returns RFM quintiles for the windows r's rules use, built over
// the base (buildRFM, as a backfill does) or reused when the base has not
// changed since, or changed less than rfmReuse ago. Holds b.mu.RLock.
func (b *base) rfmFor(r *run, now time.Time) map[segment.Entity]*segment.RFM {
	windows := r.pr.rules.RFMWindows()
	if len(windows) == 0 {
		return nil
	}
	slices.Sort(windows)
	key := ""
	for _, w := range windows {
		key += strconv.Itoa(w) + ","
	}
	b.rfmMu.Lock()
	defer b.rfmMu.Unlock()
	if e := b.rfm[key]; e != nil && (e.gen == b.gen || now.Sub(e.built) < rfmReuse) && !now.Before(e.built) {
		return e.rfm
	}
	rfm := buildRFM(r, b.snap)
	if b.rfm == nil {
		b.rfm = map[string]*rfmEntry{}
	}
	b.rfm[key] = &rfmEntry{gen: b.gen, built: now, rfm: rfm}
	return rfm
}

// ratesPerUnit converts rates to floats for revenue sums.
func ratesPerUnit(r segment.Rates) map[string]float64 {
	out := make(map[string]float64, len(r.PerUnit)+2)
	for cur, v := range r.PerUnit {
		out[cur] = v.InexactFloat64()
	}
	out[""], out[r.Base] = 1, 1
	return out
}

// revenue is what a deal brought in the base currency within the window
// (0 = all time) ending at now.
func (dr *dealRow) revenue(window int, now time.Time) float64 {
	return wonWithin(dr.won, dr.at, window, now)
}

// wonWithin is won if the deal closed at at, within the window (0 = all
// time) ending at now, else 0.
func wonWithin(won float64, at time.Time, window int, now time.Time) float64 {
	if won == 0 {
		return 0
	}
	if window > 0 && (!at.After(now.Add(-time.Duration(window)*24*time.Hour)) || at.After(now)) {
		return 0
	}
	return won
}

// snapshot is the whole mirror of a portal in memory, for RFM and backfill.
type snapshot struct {
	clients map[segment.Entity]map[int64]*app.MirrorClient
	deals   []*app.MirrorDeal
	dealsOf map[app.ClientRef][]segment.Deal
}

func (c *Classifier) loadSnapshot(ctx context.Context, memberID string) (*snapshot, error) {
	s := &snapshot{clients: map[segment.Entity]map[int64]*app.MirrorClient{}, dealsOf: map[app.ClientRef][]segment.Deal{}}
	for _, e := range []segment.Entity{segment.EntityContact, segment.EntityCompany} {
		rows := map[int64]*app.MirrorClient{}
		if err := c.Mirror.EachClient(ctx, memberID, e, func(cl *app.MirrorClient) error {
			rows[cl.ID] = cl
			return nil
		}); err != nil {
			return nil, err
		}
		s.clients[e] = rows
	}
	err := c.Mirror.EachDeal(ctx, memberID, func(d *app.MirrorDeal) error {
		s.deals = append(s.deals, d)
		sd := d.Deal()
		for _, ref := range d.Clients() {
			s.dealsOf[ref] = append(s.dealsOf[ref], sd)
		}
		return nil
	})
	slices.SortFunc(s.deals, func(a, b *app.MirrorDeal) int { return cmp.Compare(a.ID, b.ID) })
	return s, err
}

// buildRFM ranks every client of each kind among its kind.
func buildRFM(r *run, s *snapshot) map[segment.Entity]*segment.RFM {
	windows := r.pr.rules.RFMWindows()
	out := map[segment.Entity]*segment.RFM{}
	for e, rows := range s.clients {
		b := segment.NewRFMBuilder(r.env, windows)
		for id, cl := range rows {
			b.Add(cl.Client(e), s.dealsOf[app.ClientRef{Entity: e, ID: id}])
		}
		out[e] = b.Build()
	}
	return out
}
