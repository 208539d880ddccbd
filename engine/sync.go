package engine

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	"segmentor/app"
	"segmentor/app/segment"
	"segmentor/bitrix"
)

// SyncOptions say what a full sync mirrors beyond the fixed fields.
type SyncOptions struct {
	Fields map[segment.Entity][]string // fields the rules read (field:NAME), UPPER_CASE
	Rows   bool                        // product rows → catalog sections (product_groups)
	// Progress, if set, is told after each request how many rows were read
	// and how many are expected in all (an estimate until every list has
	// reported its size).
	Progress func(done, total int)
}

// SyncStats is what a full sync read.
type SyncStats struct {
	Contacts, Companies, Deals, ProductRows, Products int
	Activities                                        int // of the contacts, companies and deals
	Addresses                                         int // of the contacts' and companies' requisites
	Requests                                          int // HTTP requests (batches)
}

// Rows is every row read.
func (s SyncStats) Rows() int {
	return s.Contacts + s.Companies + s.Deals + s.ProductRows + s.Products + s.Activities + s.Addresses
}

// Sync fills the portal's mirror from the portal: contacts, companies and
// deals (with contact ids) and their activities by keyset scans, product
// rows and the catalog's sections when asked, the currency rates, and the
// addresses of the contacts' and companies' requisites (crm.address.list
// names each address's contact or company, so the requisites themselves
// are not read).
// Every scan is a chain of 50-row pages, and chains share batches (see
// packScan), so a request carries close to 50 full pages whatever the
// sizes of the lists.
// Records gone from the portal are removed from the mirror; the segment
// keys computed earlier are kept.
//
// The rows stream into the mirror as the scans read them, syncChunk rows
// of a kind at a time (a deal once its product rows are in), so a sync's
// memory does not grow with the portal: it keeps only the ids it has read,
// to tell at the end which of the mirror's records are gone.
func (c *Classifier) Sync(ctx context.Context, memberID string, opts SyncOptions) (SyncStats, error) {
	x := &syncRun{c: c, memberID: memberID, opts: opts, uf: c.fieldName(),
		buf: map[segment.Entity][]*app.MirrorClient{}, seen: map[segment.Entity][]int64{},
		dealRows: map[int64][]int64{}, sections: map[int64]int{}, rowsPerDeal: 2}
	gen, err := c.Mirror.Generation(ctx, memberID)
	if err != nil {
		return x.st, err
	}
	// What live changes write while the scans run is newer than what the
	// scans read: those rows are neither overwritten nor removed.
	x.fresh = &fresher{c: c, memberID: memberID, since: gen, touched: map[app.ClientRef]bool{}}
	p := c.Bitrix.Portal(memberID)
	// The currencies and the addresses ride with the first request; their
	// further pages, if a portal has more than 50, follow the scans, by
	// offset (an address has no id to scan by), 2,500 a request.
	currencyList, addressList := bitrix.Currencies.All("currencies"), bitrix.Addresses.All("addresses")
	var first *bitrix.BatchResult
	ps := &packScan{p: p, progress: opts.Progress, now: c.now, after: func() error { return x.flush(ctx, false) }}
	ps.extra = []bitrix.Command{currencyList.FirstPage(), addressList.FirstPage()}
	ps.extraOut = func(res *bitrix.BatchResult) { first = res }
	x.ps = ps
	ps.chains = append(ps.chains, x.clientChain(segment.EntityContact, "ct"), x.clientChain(segment.EntityCompany, "cp"))
	if opts.Rows {
		dir, err := c.Store.Directory(ctx, memberID)
		if err != nil {
			return x.st, err
		}
		for _, ch := range (productSource{catalogs: dir.ProductCatalogs()}).chains(x.sections) {
			x.catalogs++
			ch.end = func() { x.catalogs-- }
			ps.chains = append(ps.chains, ch)
		}
	}
	x.deals = x.dealChain()
	ps.chains = append(ps.chains, x.activityChain(), x.deals)
	if err := ps.run(ctx); err != nil {
		return x.st, fmt.Errorf("sync %s: %w", memberID, err)
	}
	if err := x.flush(ctx, true); err != nil {
		return x.st, err
	}
	for _, ids := range x.seen {
		slices.Sort(ids) // as read, by the scans' keyset
	}
	x.st.Requests = ps.requests
	x.st.Contacts, x.st.Companies = len(x.seen[segment.EntityContact]), len(x.seen[segment.EntityCompany])
	x.st.Deals, x.st.Products = len(x.seen[segment.EntityDeal]), len(x.sections)
	x.st.Activities = len(x.activities)
	if first == nil {
		return x.st, fmt.Errorf("sync %s: no answer for the currencies", memberID)
	}
	lists := []bitrix.ListCommand{currencyList, addressList}
	pages, err := p.MorePages(ctx, first, lists)
	if err != nil {
		return x.st, fmt.Errorf("sync %s: %w", memberID, err)
	}
	more := 0 // pages past the first, 50 to a request
	for _, l := range lists {
		if t := first.Totals[l.Name]; t > bitrix.PageSize {
			more += (t - 1) / bitrix.PageSize
		}
	}
	x.st.Requests += (more + bitrix.MaxBatch - 1) / bitrix.MaxBatch
	if err := x.storeAddresses(ctx, pages[addressList.Name]); err != nil {
		return x.st, err
	}
	return x.st, x.store(ctx, pages[currencyList.Name])
}

// syncRun is one Sync under way.
type syncRun struct {
	c        *Classifier
	memberID string
	opts     SyncOptions
	uf       string // the Segment field
	ps       *packScan
	st       SyncStats
	fresh    *fresher // what live changes wrote since the scans began

	buf      map[segment.Entity][]*app.MirrorClient // clients read and not yet stored
	dealBuf  []*app.MirrorDeal                      // deals read and not yet stored, in id order
	seen     map[segment.Entity][]int64             // every id read, in id order
	deals    *chain
	dealRows map[int64][]int64 // deal → products, of the deals not yet stored
	sections map[int64]int     // product → section
	catalogs int               // product chains still scanning

	activities []app.Activity // activities.go

	// Product rows follow the deals as they arrive, a chain per run of
	// rowChunk deal ids, each chain's size guessed from the rows a deal
	// has had so far. A deal is stored once its chain has ended (rowsUpTo)
	// and every catalog's sections are read.
	pendingRows            []int64
	rowChains              []*rowChain // in deal order, the ended ones dropped from the front
	rowsUpTo               int64       // every deal up to this id has its product rows
	rowsPerDeal            float64
	seenRowDeals, seenRows int
}

// rowChain is the product-row chain of a run of deals.
type rowChain struct {
	last  int64 // the run's last deal id
	ended bool
}

// syncChunk is how many rows of a kind a sync gathers before it stores
// them.
const syncChunk = 2000

func (x *syncRun) clientChain(e segment.Entity, name string) *chain {
	typeField := typeFieldOf(e)
	sel := clientSelect(typeField, x.uf, x.opts.Fields[e])
	return &chain{name: name, list: bitrix.RecordsOf(bitrix.Entity(e)).Lister(sel, nil), est: -1,
		page: func(rows []json.RawMessage) error {
			for _, r := range rows {
				cl, err := decodeClient(r, typeField, x.uf, x.opts.Fields[e])
				if err != nil {
					return err
				}
				x.buf[e] = append(x.buf[e], cl)
				x.seen[e] = append(x.seen[e], cl.ID)
			}
			return nil
		}}
}

// dealChain takes every slot the first request has left (greedy).
func (x *syncRun) dealChain() *chain {
	fields := x.opts.Fields[segment.EntityDeal]
	ch := &chain{name: "de", list: bitrix.ItemsOf(bitrix.EntityDeal).Lister(dealSelect(x.uf, fields), nil), est: -1, greedy: true,
		page: func(rows []json.RawMessage) error {
			for _, r := range rows {
				d, err := decodeDeal(r, x.uf, fields)
				if err != nil {
					return err
				}
				x.dealBuf = append(x.dealBuf, d)
				x.seen[segment.EntityDeal] = append(x.seen[segment.EntityDeal], d.ID)
				if x.opts.Rows {
					x.pendingRows = append(x.pendingRows, d.ID)
				}
			}
			if x.opts.Rows {
				x.flushRows(false)
			}
			return nil
		}}
	ch.end = func() { x.flushRows(true) }
	return ch
}

// flushRows adds a product-row chain per rowChunk deals read (every deal
// left, when force).
func (x *syncRun) flushRows(force bool) {
	for len(x.pendingRows) >= rowChunk || force && len(x.pendingRows) > 0 {
		n := min(len(x.pendingRows), rowChunk)
		ids := slices.Clone(x.pendingRows[:n])
		x.pendingRows = x.pendingRows[n:]
		rc := &rowChain{last: ids[n-1]}
		x.rowChains = append(x.rowChains, rc)
		ch := &chain{name: "r" + strconv.FormatInt(rc.last, 10), list: bitrix.ProductRows.OfDeals(ids),
			est: int(float64(n) * x.rowsPerDeal * 0.9), rows: true}
		ch.page = func(rows []json.RawMessage) error {
			for _, r := range rows {
				var pr struct {
					Owner   bitrix.ID `json:"ownerId"`
					Product bitrix.ID `json:"productId"`
				}
				if err := json.Unmarshal(r, &pr); err != nil {
					return err
				}
				x.dealRows[int64(pr.Owner)] = append(x.dealRows[int64(pr.Owner)], int64(pr.Product))
			}
			x.st.ProductRows += len(rows)
			x.seenRows += len(rows)
			return nil
		}
		ch.end = func() {
			rc.ended = true
			x.seenRowDeals += n
			x.rowsPerDeal = max(float64(x.seenRows)/float64(x.seenRowDeals), 0.1)
			for len(x.rowChains) > 0 && x.rowChains[0].ended {
				x.rowsUpTo = x.rowChains[0].last
				x.rowChains = x.rowChains[1:]
			}
		}
		x.ps.chains = append(x.ps.chains, ch)
	}
}

// Deals wait in memory for their product rows. The scan reads deals first
// while fewer than rowsFirst wait, and their product rows first while more
// than dealsFirst do, so that requests stay full (a row chain is made only
// once its deals are read) and memory stays bounded whatever the portal's
// size.
const (
	rowsFirst  = 20000
	dealsFirst = 10000
)

// order puts the deal chain before the product-row chains or after them,
// as the deals waiting for their rows say.
func (x *syncRun) order() {
	chains := x.ps.chains
	at := slices.Index(chains, x.deals)
	switch waiting := len(x.dealBuf); {
	case waiting > rowsFirst && at != len(chains)-1:
		chains = append(slices.Delete(chains, at, at+1), x.deals)
	case waiting < dealsFirst && at == len(chains)-1:
		first := slices.IndexFunc(chains, func(c *chain) bool { return c.rows })
		if first >= 0 && first < at {
			chains = slices.Insert(slices.Delete(chains, at, at+1), first, x.deals)
		}
	}
	x.ps.chains = chains
}

// flush stores the rows read so far, syncChunk or more of a kind at a time
// (every row read, when all), the deals up to the last whose product rows
// are in.
func (x *syncRun) flush(ctx context.Context, all bool) error {
	for _, e := range []segment.Entity{segment.EntityContact, segment.EntityCompany} {
		if rows := x.buf[e]; len(rows) >= syncChunk || all && len(rows) > 0 {
			if err := x.storeClients(ctx, e, rows); err != nil {
				return err
			}
			x.buf[e] = nil
		}
	}
	ready := len(x.dealBuf)
	if x.opts.Rows {
		x.order()
		ready = 0
		if x.catalogs == 0 {
			ready, _ = slices.BinarySearchFunc(x.dealBuf, x.rowsUpTo+1, func(d *app.MirrorDeal, id int64) int { return cmp.Compare(d.ID, id) })
		}
	}
	if ready < syncChunk && !(all && ready > 0) {
		return nil
	}
	deals := x.dealBuf[:ready]
	for _, d := range deals {
		d.Sections = sectionsOf(x.dealRows[d.ID], x.sections)
		delete(x.dealRows, d.ID)
	}
	if err := x.storeDeals(ctx, deals); err != nil {
		return err
	}
	x.dealBuf = slices.Delete(x.dealBuf, 0, ready)
	return nil
}

// storeClients writes scanned clients, each with the segment key the
// mirror had for it; a row a live change wrote since the scans began is
// newer, and stays.
func (x *syncRun) storeClients(ctx context.Context, e segment.Entity, rows []*app.MirrorClient) error {
	m := x.c.Mirror
	return x.hold(ctx, func(stale func(segment.Entity, int64) bool) error {
		rows = slices.DeleteFunc(rows, func(cl *app.MirrorClient) bool { return stale(e, cl.ID) })
		keys, err := m.Keys(ctx, x.memberID, e, ids(rows, func(cl *app.MirrorClient) int64 { return cl.ID }))
		if err != nil {
			return err
		}
		for _, cl := range rows {
			cl.Key = keys[cl.ID]
		}
		return m.PutClients(ctx, x.memberID, e, rows)
	})
}

// storeDeals is storeClients for deals.
func (x *syncRun) storeDeals(ctx context.Context, rows []*app.MirrorDeal) error {
	m := x.c.Mirror
	return x.hold(ctx, func(stale func(segment.Entity, int64) bool) error {
		rows = slices.DeleteFunc(rows, func(d *app.MirrorDeal) bool { return stale(segment.EntityDeal, d.ID) })
		keys, err := m.Keys(ctx, x.memberID, segment.EntityDeal, ids(rows, func(d *app.MirrorDeal) int64 { return d.ID }))
		if err != nil {
			return err
		}
		for _, d := range rows {
			d.Key = keys[d.ID]
		}
		return m.PutDeals(ctx, x.memberID, rows)
	})
}

// hold runs fn under the fresher, then moves the fresher past what fn
// wrote: the sync's own rows are no live change.
func (x *syncRun) hold(ctx context.Context, fn func(stale func(segment.Entity, int64) bool) error) error {
	return x.fresh.hold(ctx, func(stale func(segment.Entity, int64) bool) error {
		if err := fn(stale); err != nil {
			return err
		}
		gen, err := x.c.Mirror.Generation(ctx, x.memberID)
		x.fresh.since = gen
		return err
	})
}

// read tells whether the sync read record id of kind e.
func (x *syncRun) read(e segment.Entity, id int64) bool {
	_, ok := slices.BinarySearch(x.seen[e], id)
	return ok
}

// store removes what the portal no longer has and puts the rest of what
// the sync read into the mirror: activities, rates, product sections, and
// when it was read.
func (x *syncRun) store(ctx context.Context, currencyRows []json.RawMessage) error {
	currencies, err := json.Marshal(currencyRows)
	if err != nil {
		return err
	}
	rates, err := parseRates(currencies)
	if err != nil {
		return fmt.Errorf("sync %s: currencies: %w", x.memberID, err)
	}
	c, m := x.c, x.c.Mirror
	for _, e := range []segment.Entity{segment.EntityContact, segment.EntityCompany, segment.EntityDeal} {
		if err := x.removeGone(ctx, e); err != nil {
			return err
		}
	}
	if err := x.storeActivities(ctx); err != nil {
		return err
	}
	if err := m.SetRates(ctx, x.memberID, rates); err != nil {
		return err
	}
	if err := m.SetProductSections(ctx, x.memberID, x.sections); err != nil {
		return err
	}
	return m.SetMeta(ctx, x.memberID, app.MirrorMeta{SyncedAt: c.now().UTC(), Fields: x.opts.Fields, Rows: x.opts.Rows})
}

// removeGone removes the mirror's records of kind e the scans did not
// read, but those a live change wrote since the scans began (it may name
// a record the scan had passed).
func (x *syncRun) removeGone(ctx context.Context, e segment.Entity) error {
	m := x.c.Mirror
	return x.hold(ctx, func(stale func(segment.Entity, int64) bool) error {
		all, err := m.IDs(ctx, x.memberID, e)
		if err != nil {
			return err
		}
		gone := slices.DeleteFunc(all, func(id int64) bool { return x.read(e, id) || stale(e, id) })
		if e == segment.EntityDeal {
			return m.DeleteDeals(ctx, x.memberID, gone)
		}
		return m.DeleteClients(ctx, x.memberID, e, gone)
	})
}

// rowChunk is how many deals one product-row chain covers: their ids travel
// in every page's filter, so it stays well under PHP's max_input_vars.
const rowChunk = 250

func ids[T any](rows []T, id func(T) int64) []int64 {
	out := make([]int64, len(rows))
	for i, r := range rows {
		out[i] = id(r)
	}
	return out
}

func sectionsOf(products []int64, sections map[int64]int) []int {
	var out []int
	for _, p := range products {
		if s, ok := sections[p]; ok && s != 0 && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}
