package jobs

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
// written since; bases of portals nobody is looking at are dropped.
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
	perUnit  map[string]float64 // rates as floats: "" and the base currency are 1
	snap     *snapshot          // clients and their deals (snap.deals is unused: see deals)
	deals    map[int64]*dealRow
	order    map[segment.Entity][]int64         // sorted ids
	pos      map[segment.Entity]map[int64]int32 // id → index in order
	dirty    map[segment.Entity]bool            // order must be rebuilt
	used     time.Time

	rfmMu sync.Mutex
	rfm   map[string]*rfmEntry
}

// dealRow is a deal of the base: its row, converted once for the rules.
type dealRow struct {
	row  *app.MirrorDeal
	deal segment.Deal
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
		deals[d.ID] = newDealRow(d)
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
	b.loaded, b.gen, b.rates, b.perUnit, b.snap, b.deals = true, gen, rates, perUnit, s, deals
	b.dirty = map[segment.Entity]bool{segment.EntityContact: true, segment.EntityCompany: true, segment.EntityDeal: true}
	b.reorder()
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
		b.rates, b.perUnit = rates, ratesPerUnit(rates)
	}
	for e, rows := range clients {
		for _, id := range ch.IDs[e] {
			cl, had := rows[id], b.snap.clients[e][id] != nil
			if cl == nil {
				delete(b.snap.clients[e], id)
			} else {
				b.snap.clients[e][id] = cl
			}
			if had != (cl != nil) {
				b.dirty[e] = true
			}
		}
	}
	for _, id := range ch.IDs[segment.EntityDeal] {
		if old := b.deals[id]; old != nil {
			for _, ref := range old.row.Clients() {
				b.snap.dealsOf[ref] = slices.DeleteFunc(b.snap.dealsOf[ref], func(d segment.Deal) bool { return d.ID == id })
				if len(b.snap.dealsOf[ref]) == 0 {
					delete(b.snap.dealsOf, ref)
				}
			}
		}
		d := deals[id]
		if (d == nil) != (b.deals[id] == nil) {
			b.dirty[segment.EntityDeal] = true
		}
		if d == nil {
			delete(b.deals, id)
			continue
		}
		dr := newDealRow(d)
		b.deals[id] = dr
		for _, ref := range d.Clients() {
			list := b.snap.dealsOf[ref]
			i, _ := slices.BinarySearchFunc(list, id, func(x segment.Deal, id int64) int { return cmp.Compare(x.ID, id) })
			b.snap.dealsOf[ref] = slices.Insert(list, i, dr.deal)
		}
	}
	b.gen = ch.Gen
	b.reorder()
	return nil
}

func newDealRow(d *app.MirrorDeal) *dealRow { return &dealRow{row: d, deal: d.Deal()} }

// reorder rebuilds the sorted ids of the entities whose membership changed.
// Holds b.mu.
func (b *base) reorder() {
	if b.order == nil {
		b.order, b.pos = map[segment.Entity][]int64{}, map[segment.Entity]map[int64]int32{}
	}
	for e, dirty := range b.dirty {
		if !dirty {
			continue
		}
		var ids []int64
		if e == segment.EntityDeal {
			ids = slices.Sorted(maps.Keys(b.deals))
		} else {
			ids = slices.Sorted(maps.Keys(b.snap.clients[e]))
		}
		pos := make(map[int64]int32, len(ids))
		for i, id := range ids {
			pos[id] = int32(i)
		}
		b.order[e], b.pos[e] = ids, pos
	}
	b.dirty = map[segment.Entity]bool{}
}

// size is the number of records of an entity in the base.
func (b *base) size(e segment.Entity) int { return len(b.order[e]) }

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
// (0 = all time) ending at now: its amount if won, else nothing. A
// currency without a rate counts nothing.
func (b *base) revenue(d *segment.Deal, window int, now time.Time) float64 {
	if d.Semantic != segment.Won {
		return 0
	}
	if window > 0 {
		at := d.Closed
		if at.IsZero() {
			at = d.Created
		}
		if !at.After(now.Add(-time.Duration(window)*24*time.Hour)) || at.After(now) {
			return 0
		}
	}
	rate, ok := b.perUnit[d.Currency]
	if !ok {
		return 0
	}
	return d.Amount.InexactFloat64() * rate
}
