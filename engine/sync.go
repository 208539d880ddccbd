package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
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
func (c *Classifier) Sync(ctx context.Context, memberID string, opts SyncOptions) (SyncStats, error) {
	x := &syncRun{c: c, memberID: memberID, opts: opts, uf: c.fieldName(),
		contacts: map[int64]*app.MirrorClient{}, companies: map[int64]*app.MirrorClient{}, deals: map[int64]*app.MirrorDeal{},
		dealRows: map[int64][]int64{}, sections: map[int64]int{}, rowsPerDeal: 2}
	gen, err := c.Mirror.Generation(ctx, memberID)
	if err != nil {
		return x.st, err
	}
	x.gen = gen
	p := c.Bitrix.Portal(memberID)
	// The currencies and the addresses ride with the first request; their
	// further pages, if a portal has more than 50, follow the scans, by
	// offset (an address has no id to scan by), 2,500 a request.
	currencyList, addressList := bitrix.Currencies.All("currencies"), bitrix.Addresses.All("addresses")
	var first *bitrix.BatchResult
	ps := &packScan{p: p, progress: opts.Progress, now: c.now}
	ps.extra = []bitrix.Command{currencyList.FirstPage(), addressList.FirstPage()}
	ps.extraOut = func(res *bitrix.BatchResult) { first = res }
	x.ps = ps
	ps.chains = append(ps.chains,
		x.clientChain(segment.EntityContact, "ct", x.contacts), x.clientChain(segment.EntityCompany, "cp", x.companies))
	if opts.Rows {
		dir, err := c.Store.Directory(ctx, memberID)
		if err != nil {
			return x.st, err
		}
		ps.chains = append(ps.chains, productSource{catalogs: dir.ProductCatalogs()}.chains(x.sections)...)
	}
	ps.chains = append(ps.chains, x.activityChain(), x.dealChain())
	if err := ps.run(ctx); err != nil {
		return x.st, fmt.Errorf("sync %s: %w", memberID, err)
	}
	x.st.Requests = ps.requests
	x.st.Contacts, x.st.Companies, x.st.Deals, x.st.Products = len(x.contacts), len(x.companies), len(x.deals), len(x.sections)
	x.st.Activities = len(x.activities)
	if opts.Rows {
		for id, d := range x.deals {
			d.Sections = sectionsOf(x.dealRows[id], x.sections)
		}
	}
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

// syncRun is one Sync under way: what it has read so far.
type syncRun struct {
	c        *Classifier
	memberID string
	gen      int64 // the mirror's generation before the scans (store)
	opts     SyncOptions
	uf       string // the Segment field
	ps       *packScan
	st       SyncStats

	contacts, companies map[int64]*app.MirrorClient
	deals               map[int64]*app.MirrorDeal
	dealRows            map[int64][]int64 // deal → products
	sections            map[int64]int     // product → section
	activities          []app.Activity    // activities.go

	// Product rows follow the deals as they arrive, a chain per run of
	// rowChunk deal ids, each chain's size guessed from the rows a deal
	// has had so far.
	pendingRows            []int64
	rowChains              int
	rowsPerDeal            float64
	seenRowDeals, seenRows int
}

func (x *syncRun) clientChain(e segment.Entity, name string, into map[int64]*app.MirrorClient) *chain {
	typeField := typeFieldOf(e)
	sel := clientSelect(typeField, x.uf, x.opts.Fields[e])
	return &chain{name: name, list: bitrix.RecordsOf(bitrix.Entity(e)).Lister(sel, nil), est: -1,
		page: func(rows []json.RawMessage) error {
			for _, r := range rows {
				cl, err := decodeClient(r, typeField, x.uf, x.opts.Fields[e])
				if err != nil {
					return err
				}
				into[cl.ID] = cl
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
				x.deals[d.ID] = d
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
		x.rowChains++
		ch := &chain{name: "r" + strconv.Itoa(x.rowChains), list: bitrix.ProductRows.OfDeals(ids),
			est: int(float64(n) * x.rowsPerDeal * 0.9)}
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
			x.seenRowDeals += n
			x.rowsPerDeal = max(float64(x.seenRows)/float64(x.seenRowDeals), 0.1)
		}
		x.ps.chains = append(x.ps.chains, ch)
	}
}

// store puts what the sync read into the mirror: rows, rates, product
// sections, and when it was read.
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
	// What live changes wrote while the scans ran is newer than what the
	// scans read: those rows are neither overwritten nor removed (fresher).
	f := &fresher{c: c, memberID: x.memberID, since: x.gen, touched: map[app.ClientRef]bool{}}
	if err := f.hold(ctx, func(stale func(segment.Entity, int64) bool) error {
		return c.reader().storeSync(ctx, x.memberID, x.contacts, x.companies, x.deals, stale)
	}); err != nil {
		return err
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

// rowChunk is how many deals one product-row chain covers: their ids travel
// in every page's filter, so it stays well under PHP's max_input_vars.
const rowChunk = 250

// storeSync writes the synced rows, keeps the segment keys computed before,
// and removes what the portal no longer has. A row stale names was written
// by a live change after the scans began: the mirror's is kept, and it is
// not removed; a scanned row the mirror lacks is stored even so (a change
// may name a record it only read the addresses of).
func (rd *reader) storeSync(ctx context.Context, memberID string, contacts, companies map[int64]*app.MirrorClient, deals map[int64]*app.MirrorDeal, stale func(segment.Entity, int64) bool) error {
	m := rd.mirror
	for e, rows := range map[segment.Entity]map[int64]*app.MirrorClient{segment.EntityContact: contacts, segment.EntityCompany: companies} {
		var gone []int64
		err := m.EachClient(ctx, memberID, e, func(o *app.MirrorClient) error {
			switch n := rows[o.ID]; {
			case n != nil && stale(e, o.ID):
				delete(rows, o.ID) // the mirror's row is newer
			case n != nil:
				n.Key = o.Key
			case !stale(e, o.ID):
				gone = append(gone, o.ID)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if err := m.DeleteClients(ctx, memberID, e, gone); err != nil {
			return err
		}
		if err := m.PutClients(ctx, memberID, e, sortedValues(rows)); err != nil {
			return err
		}
	}
	var gone []int64
	err := m.EachDeal(ctx, memberID, func(o *app.MirrorDeal) error {
		switch n := deals[o.ID]; {
		case n != nil && stale(segment.EntityDeal, o.ID):
			delete(deals, o.ID) // the mirror's row is newer
		case n != nil:
			n.Key = o.Key
		case !stale(segment.EntityDeal, o.ID):
			gone = append(gone, o.ID)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := m.DeleteDeals(ctx, memberID, gone); err != nil {
		return err
	}
	return m.PutDeals(ctx, memberID, sortedValues(deals))
}

func sortedValues[T any](m map[int64]*T) []*T {
	keys := slices.Sorted(maps.Keys(m))
	out := make([]*T, len(keys))
	for i, k := range keys {
		out[i] = m[k]
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
