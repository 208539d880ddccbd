package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

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
	Requests                                          int // HTTP requests (batches)
}

// Rows is every row read.
func (s SyncStats) Rows() int {
	return s.Contacts + s.Companies + s.Deals + s.ProductRows + s.Products
}

// Sync fills the portal's mirror from the portal: contacts, companies and
// deals (with contact ids) by keyset scans, product rows and the catalog's
// sections when asked, and the currency rates. Every scan is a chain of
// 50-row pages, and chains share batches (see packScan), so a request
// carries close to 50 full pages whatever the sizes of the lists.
// Records gone from the portal are removed from the mirror; the segment
// keys computed earlier are kept.
func (c *Classifier) Sync(ctx context.Context, memberID string, opts SyncOptions) (SyncStats, error) {
	var st SyncStats
	p := c.Bitrix.Portal(memberID)
	uf := c.fieldName()
	contacts := map[int64]*app.MirrorClient{}
	companies := map[int64]*app.MirrorClient{}
	deals := map[int64]*app.MirrorDeal{}
	dealRows := map[int64][]int64{} // deal → products
	sections := map[int64]int{}
	// The currencies ride with the first request; their further pages, if
	// a portal has more than 50, follow the scans.
	currencyList := bitrix.Currencies.All("currencies")
	var first *bitrix.BatchResult

	ps := &packScan{p: p, progress: opts.Progress, now: c.now}
	ps.extra = []bitrix.Command{currencyList.FirstPage()}
	ps.extraOut = func(res *bitrix.BatchResult) { first = res }

	clientChain := func(e segment.Entity, name, typeField string, into map[int64]*app.MirrorClient) *chain {
		sel := clientSelect(typeField, uf, opts.Fields[e])
		return &chain{name: name, list: bitrix.RecordsOf(bitrix.Entity(e)).Lister(sel, nil), est: -1,
			page: func(rows []json.RawMessage) error {
				for _, r := range rows {
					cl, err := decodeClient(r, typeField, uf, opts.Fields[e])
					if err != nil {
						return err
					}
					into[cl.ID] = cl
				}
				return nil
			}}
	}
	ps.chains = append(ps.chains,
		clientChain(segment.EntityContact, "ct", "TYPE_ID", contacts),
		clientChain(segment.EntityCompany, "cp", "COMPANY_TYPE", companies))
	if opts.Rows {
		dir, err := c.Store.Directory(ctx, memberID)
		if err != nil {
			return st, err
		}
		ps.chains = append(ps.chains, productSource{catalogs: dir.ProductCatalogs()}.chains(sections)...)
	}
	// Deals take every slot the first request has left; product rows
	// follow the deals as they arrive, a chain per run of deal ids.
	var pending []int64
	rowChains := 0
	rowsPerDeal := 2.0
	seenRowDeals, seenRows := 0, 0
	flushRows := func(force bool) {
		for len(pending) >= rowChunk || force && len(pending) > 0 {
			n := min(len(pending), rowChunk)
			ids := slices.Clone(pending[:n])
			pending = pending[n:]
			rowChains++
			ch := &chain{name: "r" + strconv.Itoa(rowChains), list: bitrix.ProductRows.OfDeals(ids),
				est: int(float64(n) * rowsPerDeal * 0.9)}
			ch.page = func(rows []json.RawMessage) error {
				for _, r := range rows {
					var pr struct {
						Owner   bitrix.ID `json:"ownerId"`
						Product bitrix.ID `json:"productId"`
					}
					if err := json.Unmarshal(r, &pr); err != nil {
						return err
					}
					dealRows[int64(pr.Owner)] = append(dealRows[int64(pr.Owner)], int64(pr.Product))
				}
				st.ProductRows += len(rows)
				seenRows += len(rows)
				return nil
			}
			ch.end = func() {
				seenRowDeals += n
				rowsPerDeal = max(float64(seenRows)/float64(seenRowDeals), 0.1)
			}
			ps.chains = append(ps.chains, ch)
		}
	}
	dealSel := dealSelect(uf, opts.Fields[segment.EntityDeal])
	dealChain := &chain{name: "de", list: bitrix.ItemsOf(bitrix.EntityDeal).Lister(dealSel, nil), est: -1, greedy: true,
		page: func(rows []json.RawMessage) error {
			for _, r := range rows {
				d, err := decodeDeal(r, uf, opts.Fields[segment.EntityDeal])
				if err != nil {
					return err
				}
				deals[d.ID] = d
				if opts.Rows {
					pending = append(pending, d.ID)
				}
			}
			if opts.Rows {
				flushRows(false)
			}
			return nil
		}}
	dealChain.end = func() { flushRows(true) }
	ps.chains = append(ps.chains, dealChain)

	if err := ps.run(ctx); err != nil {
		return st, fmt.Errorf("sync %s: %w", memberID, err)
	}
	st.Requests = ps.requests
	st.Contacts, st.Companies, st.Deals, st.Products = len(contacts), len(companies), len(deals), len(sections)

	if opts.Rows {
		for id, d := range deals {
			d.Sections = sectionsOf(dealRows[id], sections)
		}
	}
	if first == nil {
		return st, fmt.Errorf("sync %s: no answer for the currencies", memberID)
	}
	pages, err := p.MorePages(ctx, first, []bitrix.ListCommand{currencyList})
	if err != nil {
		return st, fmt.Errorf("sync %s: %w", memberID, err)
	}
	currencies, err := json.Marshal(pages[currencyList.Name])
	if err != nil {
		return st, err
	}
	rates, err := parseRates(currencies)
	if err != nil {
		return st, fmt.Errorf("sync %s: currencies: %w", memberID, err)
	}
	if err := c.storeSync(ctx, memberID, contacts, companies, deals); err != nil {
		return st, err
	}
	m := c.Mirror
	if err := m.SetRates(ctx, memberID, rates); err != nil {
		return st, err
	}
	if err := m.SetProductSections(ctx, memberID, sections); err != nil {
		return st, err
	}
	err = m.SetMeta(ctx, memberID, app.MirrorMeta{SyncedAt: c.now().UTC(), Fields: opts.Fields, Rows: opts.Rows})
	return st, err
}

// rowChunk is how many deals one product-row chain covers: their ids travel
// in every page's filter, so it stays well under PHP's max_input_vars.
const rowChunk = 250

// storeSync writes the synced rows, keeps the segment keys computed before,
// and removes what the portal no longer has.
func (c *Classifier) storeSync(ctx context.Context, memberID string, contacts, companies map[int64]*app.MirrorClient, deals map[int64]*app.MirrorDeal) error {
	m := c.Mirror
	for e, rows := range map[segment.Entity]map[int64]*app.MirrorClient{segment.EntityContact: contacts, segment.EntityCompany: companies} {
		var gone []int64
		err := m.EachClient(ctx, memberID, e, func(o *app.MirrorClient) error {
			if n := rows[o.ID]; n != nil {
				n.Key = o.Key
			} else {
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
		if n := deals[o.ID]; n != nil {
			n.Key = o.Key
		} else {
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

// chain is one keyset scan inside packScan: pages of 50 rows in ID order,
// each page's filter referring to the previous page's last id.
type chain struct {
	name          string
	list          bitrix.Lister
	cursor        int64
	est           int  // rows still expected; <0 unknown until the first page reports its total
	greedy        bool // takes the slots the others leave in a request
	started, done bool
	retries       int
	page          func(rows []json.RawMessage) error
	end           func()
}

func (c *chain) pages() int {
	switch {
	case c.est < 0:
		return 1
	case c.est == 0:
		return 1 // confirm the end
	}
	return (c.est + bitrix.PageSize - 1) / bitrix.PageSize
}

// packScan runs several keyset scans at once, filling every batch with up
// to 50 pages from whichever chains still have rows: a chain gets as many
// pages as its expected rows need (its first page asks for the total), a
// greedy chain takes what is left. bitrix.Portal.Scan chains one list per
// request; packing lets a sync of many short lists cost what their rows
// need rather than one request per list.
type packScan struct {
	p        *bitrix.PortalClient
	chains   []*chain
	extra    []bitrix.Command          // single commands sent with the first request
	extraOut func(*bitrix.BatchResult) // is given the first request's answers, extra commands included
	requests int
	rows     int                   // rows read so far
	progress func(done, total int) // called after each request
	now      func() time.Time
}

// maxPageRefusals is how many times in a row a chain's page may be refused
// for a limit inside a batch before the scan gives its worker back.
const maxPageRefusals = 5

// Waits before a job runs again after a page kept being refused: a
// QUERY_LIMIT_EXCEEDED outlasting the client's own backoff, or an
// OPERATION_TIME_LIMIT whose pause the portal did not say.
const (
	queryLimitRetry = 15 * time.Second
	operatingRetry  = time.Minute
)

// refusedPage turns a page the portal kept refusing for a limit into a
// *bitrix.RateLimitedError, so the job is run again once the limit has
// passed (not failed and retried on the generic backoff); the refusal
// stays reachable through it.
func refusedPage(ctx context.Context, p *bitrix.PortalClient, method string, err error, now time.Time) error {
	rl := &bitrix.RateLimitedError{MemberID: p.MemberID(), Method: method, Reason: "query_limit", RetryIn: queryLimitRetry, Err: err}
	if bitrix.IsOperationLimit(err) {
		rl.Reason, rl.RetryIn = "operating", operatingRetry
		if b, berr := p.MethodBudget(ctx, method); berr == nil {
			if d := b.PausedUntil.Sub(now); d > 0 {
				rl.RetryIn = d
			}
		}
	}
	return rl
}

type slot struct {
	c     *chain
	name  string
	first bool
}

func (ps *packScan) run(ctx context.Context) error {
	for {
		var cmds []bitrix.Command
		var slots []slot
		cmds = append(cmds, ps.extra...)
		free := bitrix.MaxBatch - len(cmds)
		active := 0
		plan := func(c *chain, n int) {
			prev := ""
			for k := 0; k < n && free > 0; k++ {
				name := fmt.Sprintf("%s_%d", c.name, k)
				var after any = c.cursor
				if prev != "" {
					after = c.list.LastID(prev)
				}
				first := !c.started && k == 0 && c.est < 0 // the first page counts the rows
				cmds = append(cmds, c.list.Page(name, after, first))
				slots = append(slots, slot{c, name, first})
				prev = name
				free--
			}
		}
		var greedy []*chain
		for _, c := range ps.chains {
			if c.done {
				continue
			}
			active++
			if c.greedy && c.est < 0 {
				greedy = append(greedy, c)
				continue
			}
			plan(c, c.pages())
		}
		for _, c := range greedy {
			plan(c, free)
		}
		if active == 0 {
			return nil
		}
		if len(slots) == 0 {
			return fmt.Errorf("scan: no slot for %d chains", active)
		}
		ps.extra = nil
		res, _, err := ps.p.Batch(ctx, cmds, false)
		ps.requests++
		if err != nil {
			return err
		}
		for _, c := range cmds[:len(cmds)-len(slots)] {
			if err := res.Err(c.Name); err != nil {
				return fmt.Errorf("%s: %w", c.Name, err)
			}
		}
		if len(slots) < len(cmds) && ps.extraOut != nil {
			ps.extraOut(res)
		}
		stopped := map[*chain]bool{}
		for _, s := range slots {
			c := s.c
			if c.done || stopped[c] {
				continue // past the end of its chain, or after a refused page
			}
			if err := res.Err(s.name); err != nil {
				if bitrix.IsQueryLimit(err) || bitrix.IsOperationLimit(err) {
					if c.retries < maxPageRefusals {
						c.retries++
						stopped[c] = true
						continue
					}
					return fmt.Errorf("scan %s after %d: %w", c.list.Method, c.cursor, refusedPage(ctx, ps.p, c.list.Method, err, ps.now()))
				}
				return fmt.Errorf("scan %s after %d: %w", c.list.Method, c.cursor, err)
			}
			rows, err := bitrix.PageRows(res.Results[s.name], c.list.RowsKey)
			if err != nil {
				return fmt.Errorf("scan %s: %w", c.list.Method, err)
			}
			c.started, c.retries = true, 0
			if s.first {
				c.est = res.Totals[s.name]
			}
			if len(rows) > 0 {
				lastID, err := bitrix.RowID(rows[len(rows)-1], c.list.IDField)
				last := int64(lastID)
				if err != nil {
					return fmt.Errorf("scan %s: %w", c.list.Method, err)
				}
				if last <= c.cursor {
					return fmt.Errorf("scan %s: %w", c.list.Method, bitrix.ErrStalledCursor)
				}
				if err := c.page(rows); err != nil {
					return err
				}
				c.cursor = last
				c.est = max(c.est-len(rows), 0)
			}
			ps.rows += len(rows)
			if len(rows) < bitrix.PageSize {
				c.done = true
				if c.end != nil {
					c.end()
				}
			}
		}
		if ps.progress != nil {
			total := ps.rows
			for _, c := range ps.chains {
				if !c.done && c.est > 0 {
					total += c.est
				}
			}
			ps.progress(ps.rows, total)
		}
	}
}

// itemNames are the crm.item.* names of deal fields whose camelCase form is
// not the plain conversion of the UPPER_CASE one.
var itemNames = map[string]string{
	"CREATED_BY_ID": "createdBy", "MODIFY_BY_ID": "updatedBy", "DATE_CREATE": "createdTime",
	"DATE_MODIFY": "updatedTime", "BEGINDATE": "begindate", "CLOSEDATE": "closedate", "CONTACT_IDS": "contactIds",
}

// itemName converts a v2 field name to crm.item.*'s (user fields keep their
// names with useOriginalUfNames=Y).
func itemName(upper string) string {
	if n, ok := itemNames[upper]; ok {
		return n
	}
	if strings.HasPrefix(upper, "UF_") {
		return upper
	}
	parts := strings.Split(strings.ToLower(upper), "_")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return strings.Join(parts, "")
}

func dealSelect(uf string, fields []string) []string {
	sel := []string{"id", "title", "companyId", "contactIds", "categoryId", "stageId", "stageSemanticId", "opportunity",
		"currencyId", "createdTime", "closedate", "typeId", uf}
	for _, f := range fields {
		if n := itemName(f); !slices.Contains(sel, n) {
			sel = append(sel, n)
		}
	}
	return sel
}

// decodeDeal reads a crm.item.list deal row (useOriginalUfNames=Y).
func decodeDeal(raw json.RawMessage, uf string, fields []string) (*app.MirrorDeal, error) {
	var r struct {
		ID         bitrix.ID    `json:"id"`
		Title      string       `json:"title"`
		CompanyID  bitrix.ID    `json:"companyId"`
		ContactIDs []bitrix.ID  `json:"contactIds"`
		CategoryID bitrix.ID    `json:"categoryId"`
		StageID    string       `json:"stageId"`
		Semantic   string       `json:"stageSemanticId"`
		Amount     bitrix.Money `json:"opportunity"`
		Currency   string       `json:"currencyId"`
		Created    string       `json:"createdTime"`
		Closed     string       `json:"closedate"`
		TypeID     string       `json:"typeId"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("deal row: %w", err)
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(raw, &all); err != nil {
		return nil, err
	}
	d := &app.MirrorDeal{ID: int64(r.ID), CompanyID: int64(r.CompanyID), CategoryID: int(r.CategoryID),
		StageID: r.StageID, Semantic: r.Semantic, Amount: r.Amount.Decimal.String(), Currency: r.Currency,
		Created: unixOf(r.Created), Closed: unixOf(r.Closed), TypeID: r.TypeID, Segment: enumID(all[uf]), Title: r.Title}
	if d.Semantic == "" {
		d.Semantic = "P"
	}
	for _, id := range r.ContactIDs {
		if id != 0 {
			d.ContactIDs = append(d.ContactIDs, int64(id))
		}
	}
	for _, f := range fields {
		if v, ok := rawText(all[itemName(f)]); ok {
			if d.Fields == nil {
				d.Fields = map[string]string{}
			}
			d.Fields[f] = v
		}
	}
	return d, nil
}

// decodeClient reads a crm.contact.list / crm.company.list row.
func decodeClient(raw json.RawMessage, typeField, uf string, fields []string) (*app.MirrorClient, error) {
	var all map[string]json.RawMessage
	if err := json.Unmarshal(raw, &all); err != nil {
		return nil, fmt.Errorf("client row: %w", err)
	}
	var id bitrix.ID
	if err := id.UnmarshalJSON(all["ID"]); err != nil {
		return nil, fmt.Errorf("client row ID: %w", err)
	}
	c := &app.MirrorClient{ID: int64(id), Segment: enumID(all[uf]), Title: clientTitle(all)}
	c.TypeID, _ = rawText(all[typeField])
	for _, f := range fields {
		if v, ok := rawText(all[f]); ok {
			if c.Fields == nil {
				c.Fields = map[string]string{}
			}
			c.Fields[f] = v
		}
	}
	return c, nil
}

// clientSelect is what a contact or company list reads: its id, type,
// Segment value, the name shown in samples, and the fields the rules read.
func clientSelect(typeField, uf string, fields []string) []string {
	sel := []string{"ID", typeField, uf}
	if typeField == "COMPANY_TYPE" {
		sel = append(sel, "TITLE")
	} else {
		sel = append(sel, "NAME", "LAST_NAME")
	}
	for _, f := range fields {
		if !slices.Contains(sel, f) {
			sel = append(sel, f)
		}
	}
	return sel
}

// clientTitle is a company's TITLE or a contact's full name.
func clientTitle(row map[string]json.RawMessage) string {
	if t, ok := rawText(row["TITLE"]); ok && t != "" {
		return t
	}
	var parts []string
	for _, f := range []string{"NAME", "LAST_NAME"} {
		if v, ok := rawText(row[f]); ok && v != "" {
			parts = append(parts, v)
		}
	}
	return strings.Join(parts, " ")
}

func enumID(raw json.RawMessage) int {
	var id bitrix.ID
	if len(raw) == 0 || id.UnmarshalJSON(raw) != nil {
		return 0
	}
	return int(id)
}

func unixOf(s string) int64 {
	if s == "" {
		return 0
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return 0
	}
	return t.Unix()
}

// rawText renders a JSON value as the text a field: condition compares;
// false when it is null or absent.
func rawText(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", false
	}
	switch raw[0] {
	case '"':
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return "", false
		}
		return s, true
	case '[':
		var l []json.RawMessage
		if json.Unmarshal(raw, &l) != nil {
			return "", false
		}
		parts := make([]string, 0, len(l))
		for _, x := range l {
			if s, ok := rawText(x); ok {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, ","), len(parts) > 0
	}
	return string(raw), true
}

// parseRates reads crm.currency.list: PerUnit = AMOUNT / AMOUNT_CNT.
func parseRates(raw json.RawMessage) (segment.Rates, error) {
	r := segment.Rates{PerUnit: map[string]decimal.Decimal{}}
	if len(bytes.TrimSpace(raw)) == 0 {
		return r, nil
	}
	var list []struct {
		Currency string       `json:"CURRENCY"`
		Count    bitrix.ID    `json:"AMOUNT_CNT"`
		Amount   bitrix.Money `json:"AMOUNT"`
		Base     string       `json:"BASE"`
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		return r, err
	}
	for _, c := range list {
		n := int64(c.Count)
		if n <= 0 {
			n = 1
		}
		r.PerUnit[c.Currency] = c.Amount.Decimal.Div(decimal.NewFromInt(n))
		if c.Base == "Y" {
			r.Base = c.Currency
		}
	}
	return r, nil
}
