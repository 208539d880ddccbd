package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/shopspring/decimal"

	"segmentor/app/segment"
)

// Mirror is a portal's read model of its CRM in Redis: exactly what the rules
// need of every deal, contact and company, so that facts, previews and
// backfills cost no REST request (design.md §2).
//
// Layout 2 (mirrorlayout.go), all under the portal's hash tag; <n> is a
// record's id / rowBucket (128):
//
//	m:<entity>:<n>, m:<entity>:big   hash id → packed row (mirrorrow.go); big: rows over 64 bytes
//	m:n:<entity>:<n>, m:n:<entity>:big   hash id → title, apart from the row
//	m:b:<entity>                   set of the bucket numbers written, for scans
//	m:ix:<client entity>:<n>       hash client id → its deal ids packed, or "": see m:xs (mirrorindex.go)
//	m:xs:<client entity>:<id>      set of the deal ids of a client with too many to pack
//	m:layout                       the layout version; m:layout-lock while it converts
//	m:rates                        JSON segment.Rates
//	m:products                     hash product id → catalog section id
//	m:meta                         JSON MirrorMeta
//	m:a:<entity>, m:a:ix:<n>       the records' activities and their index (activity.go)
//	m:l:<entity>, m:l:ix:<n>       the clients' requisites' addresses and their index (location.go)
//	m:g:company                    the companies' tax IDs and registry answers (registry.go)
//	m:gen, m:changes, m:floor      the change log (see ChangesSince)
//
// Redis keeps a hash of at most 512 fields whose values are at most 64
// bytes (hash-max-listpack-entries, hash-max-listpack-value) as one
// listpack, a few bytes of overhead a field; one value past either limit
// turns the hash into a table, about 70 bytes a field. So rows are packed
// into buckets of 128 and the titles kept apart, and what is still too
// long goes to the entity's one big hash instead of spoiling a bucket.
// 100,000 deals with their clients take 146 bytes a deal (was 376 with a
// JSON row per field of one hash and a set per client):
// BenchmarkMirrorMemory100k. Readers ask a bucket and the big hash in the
// same round trip; a scan reads sixteen buckets per round trip.
type Mirror struct {
	rdb redis.UniversalClient
	// current holds the portals whose mirror this process found in the
	// current layout (mirrorlayout.go).
	current sync.Map
}

// NewMirror returns the mirror over rdb.
func NewMirror(rdb redis.UniversalClient) *Mirror { return &Mirror{rdb: rdb} }

// MirrorDeal is a deal's mirror row. It is stored packed (mirrorrow.go);
// the short JSON names are layout 1's rows, read by its conversion.
type MirrorDeal struct {
	ID         int64             `json:"i"`
	CompanyID  int64             `json:"co,omitempty"`
	ContactIDs []int64           `json:"ct,omitempty"`
	CategoryID int               `json:"c,omitempty"`
	StageID    string            `json:"s,omitempty"`
	Semantic   string            `json:"x,omitempty"` // P, S or F
	Amount     string            `json:"a,omitempty"` // decimal text
	Currency   string            `json:"cu,omitempty"`
	Created    int64             `json:"t,omitempty"`  // unix seconds
	Closed     int64             `json:"cl,omitempty"` // unix seconds, CLOSEDATE
	TypeID     string            `json:"ty,omitempty"`
	Segment    int               `json:"sg,omitempty"` // Segment list field item id
	Key        string            `json:"k,omitempty"`  // segment key last computed
	Sections   []int             `json:"ps,omitempty"` // catalog sections of its product rows
	Fields     map[string]string `json:"f,omitempty"`  // fields the rules reference
	Title      string            `json:"n,omitempty"`  // shown in previews and samples
	// Activities are on its timeline, kept apart from the row (activity.go).
	Activities []segment.Activity `json:"-"`
}

// MirrorClient is a contact's or company's mirror row.
type MirrorClient struct {
	ID      int64             `json:"i"`
	TypeID  string            `json:"ty,omitempty"` // TYPE_ID or COMPANY_TYPE
	Segment int               `json:"sg,omitempty"`
	Key     string            `json:"k,omitempty"` // segment key last computed; client_segment of its deals
	Fields  map[string]string `json:"f,omitempty"`
	Title   string            `json:"n,omitempty"` // contact's full name or company title
	// Own is the location its own address fields give, which older
	// portals fill instead of requisites; its requisites' addresses come
	// first (location.go).
	Own *segment.Location `json:"lo,omitempty"`
	// Activities are on its own timeline, kept apart from the row (activity.go).
	Activities []segment.Activity `json:"-"`
	// Addresses are its requisites', kept apart from the row (location.go).
	Addresses []Address `json:"-"`
	// Registry is what the company registry says of a company, kept apart
	// from the row (registry.go); nil when unknown.
	Registry *segment.RegistryFacts `json:"-"`
}

// Deal converts the row for the rule engine.
func (d *MirrorDeal) Deal() segment.Deal {
	amt, _ := decimal.NewFromString(d.Amount)
	out := segment.Deal{
		ID: d.ID, CompanyID: d.CompanyID, ContactIDs: d.ContactIDs, CategoryID: d.CategoryID,
		StageID: d.StageID, Semantic: segment.InProgress, Amount: amt, Currency: d.Currency,
		TypeID: d.TypeID, ProductSections: d.Sections, Fields: d.Fields, Activities: d.Activities,
	}
	if d.Semantic != "" {
		out.Semantic = segment.Semantic(d.Semantic[0])
	}
	if d.Created != 0 {
		out.Created = time.Unix(d.Created, 0).UTC()
	}
	if d.Closed != 0 {
		out.Closed = time.Unix(d.Closed, 0).UTC()
	}
	return out
}

// Current is the deal's state as the planner diffs it.
func (d *MirrorDeal) Current() segment.Current {
	dd := d.Deal()
	return d.CurrentOf(&dd)
}

// CurrentOf is Current for a reader that already converted the row (dd is
// d.Deal()), sparing the amount's parsing and the copy of the deal.
func (d *MirrorDeal) CurrentOf(dd *segment.Deal) segment.Current {
	return segment.Current{TypeID: d.TypeID, SegmentItem: d.Segment, CategoryID: d.CategoryID,
		StageID: d.StageID, Semantic: dd.Semantic, Created: dd.Created}
}

// Open reports whether the deal is still in progress.
func (d *MirrorDeal) Open() bool { return d.Semantic != "S" && d.Semantic != "F" }

// Clients lists the deal's clients: its company, then its contacts.
func (d *MirrorDeal) Clients() []ClientRef {
	var out []ClientRef
	if d.CompanyID != 0 {
		out = append(out, ClientRef{segment.EntityCompany, d.CompanyID})
	}
	for _, id := range d.ContactIDs {
		out = append(out, ClientRef{segment.EntityContact, id})
	}
	return out
}

// ClientRef names a contact or company.
type ClientRef struct {
	Entity segment.Entity
	ID     int64
}

// Client converts the row for the rule engine.
func (c *MirrorClient) Client(e segment.Entity) segment.Client {
	return segment.Client{ID: c.ID, Entity: e, TypeID: c.TypeID, Fields: c.Fields, Activities: c.Activities, Location: c.Location(),
		Registry: c.Registry}
}

// Current is the client's state as the planner diffs it.
func (c *MirrorClient) Current() segment.Current {
	return segment.Current{TypeID: c.TypeID, SegmentItem: c.Segment}
}

// rowBucket is how many record ids share a row hash: well under
// hash-max-listpack-entries (512 by default), so a bucket stays a listpack
// and one HGETALL brings a useful slice of a scan.
const rowBucket = 128

// listpackValue is the longest value a hash keeps in its listpack encoding
// (hash-max-listpack-value, 64 by default): one longer value turns its
// whole hash into a hash table, several times the size.
const listpackValue = 64

// packed is a family of hashes holding one short value per record id:
// buckets of rowBucket ids (<name>:<id/rowBucket>) for values that fit a
// listpack, and one hash (<name>:big) for the few that do not. A value is
// in exactly one of them; readers ask both in the same round trip.
type packed struct {
	memberID, name string
}

func (h packed) bucket(n int64) string {
	return portalKey(h.memberID, h.name+":"+strconv.FormatInt(n, 10))
}

func (h packed) big() string { return portalKey(h.memberID, h.name+":big") }

// write queues the values of ids on p, one HSET per bucket; an empty value
// deletes the id's.
func (h packed) write(ctx context.Context, p redis.Pipeliner, ids []int64, vals []string) {
	sets, dels := map[int64][]any{}, map[int64][]string{}
	var bigSet []any
	var bigDel []string
	for i, id := range ids {
		f, n := id64(id), id/rowBucket
		switch v := vals[i]; {
		case v == "":
			dels[n] = append(dels[n], f)
			bigDel = append(bigDel, f)
		case len(v) <= listpackValue:
			sets[n] = append(sets[n], f, v)
			bigDel = append(bigDel, f)
		default:
			bigSet = append(bigSet, f, v)
			dels[n] = append(dels[n], f)
		}
	}
	for _, n := range slices.Sorted(maps.Keys(dels)) {
		p.HDel(ctx, h.bucket(n), dels[n]...)
	}
	for _, n := range slices.Sorted(maps.Keys(sets)) {
		p.HSet(ctx, h.bucket(n), sets[n]...)
	}
	if len(bigDel) > 0 {
		p.HDel(ctx, h.big(), bigDel...)
	}
	if len(bigSet) > 0 {
		p.HSet(ctx, h.big(), bigSet...)
	}
}

// read queues on p the reads of ids' values; the function it returns,
// called after p ran, gives them in the order of ids ("" for none).
func (h packed) read(ctx context.Context, p redis.Pipeliner, ids []int64) func() []string {
	type group struct {
		at     []int
		fields []string
		cmd    *redis.SliceCmd
	}
	groups := map[int64]*group{}
	all := make([]string, len(ids))
	for i, id := range ids {
		all[i] = id64(id)
		n := id / rowBucket
		g := groups[n]
		if g == nil {
			g = &group{}
			groups[n] = g
		}
		g.at, g.fields = append(g.at, i), append(g.fields, all[i])
	}
	for n, g := range groups {
		g.cmd = p.HMGet(ctx, h.bucket(n), g.fields...)
	}
	var big *redis.SliceCmd
	if len(ids) > 0 {
		big = p.HMGet(ctx, h.big(), all...)
	}
	return func() []string {
		out := make([]string, len(ids))
		for _, g := range groups {
			for j, v := range g.cmd.Val() {
				out[g.at[j]], _ = v.(string)
			}
		}
		if big != nil {
			for i, v := range big.Val() {
				if s, ok := v.(string); ok {
					out[i] = s
				}
			}
		}
		return out
	}
}

// The kinds of packed hash a record's data is kept in.
func (m *Mirror) rows(memberID string, e segment.Entity) packed {
	return packed{memberID, "m:" + string(e)}
}

func (m *Mirror) titles(memberID string, e segment.Entity) packed {
	return packed{memberID, "m:n:" + string(e)}
}

// buckets is the set of an entity's bucket numbers ever written, for scans.
func (m *Mirror) buckets(memberID string, e segment.Entity) string {
	return portalKey(memberID, "m:b:"+string(e))
}

func id64(id int64) string { return strconv.FormatInt(id, 10) }

// writeRows queues the rows, titles and bucket numbers of records.
func (m *Mirror) writeRows(ctx context.Context, p redis.Pipeliner, memberID string, e segment.Entity, ids []int64, rows, titles []string) {
	m.rows(memberID, e).write(ctx, p, ids, rows)
	m.titles(memberID, e).write(ctx, p, ids, titles)
	seen := map[int64]bool{}
	var ns []any
	for _, id := range ids {
		if n := id / rowBucket; !seen[n] {
			seen[n] = true
			ns = append(ns, n)
		}
	}
	if len(ns) > 0 {
		p.SAdd(ctx, m.buckets(memberID, e), ns...)
	}
}

// PutDeals stores deal rows and keeps the client → deals index in step with
// each deal's company and contacts (old links removed, new ones added).
func (m *Mirror) PutDeals(ctx context.Context, memberID string, deals []*MirrorDeal) error {
	if err := m.ready(ctx, memberID); err != nil {
		return err
	}
	for len(deals) > 0 {
		n := min(len(deals), 1000)
		if err := m.putDeals(ctx, memberID, deals[:n]); err != nil {
			return err
		}
		deals = deals[n:]
	}
	return nil
}

func (m *Mirror) putDeals(ctx context.Context, memberID string, deals []*MirrorDeal) error {
	ids := make([]int64, len(deals))
	rows, titles := make([]string, len(deals)), make([]string, len(deals))
	for i, d := range deals {
		ids[i], rows[i], titles[i] = d.ID, encodeDeal(d), d.Title
	}
	links := func(old map[int64]*MirrorDeal) []indexLink {
		var out []indexLink
		for _, d := range deals {
			now, o := d.Clients(), old[d.ID]
			var was []ClientRef
			if o != nil {
				was = o.Clients()
			}
			for _, c := range was {
				if !slices.Contains(now, c) {
					out = append(out, indexLink{c, d.ID, false})
				}
			}
			for _, c := range now {
				if !slices.Contains(was, c) {
					out = append(out, indexLink{c, d.ID, true})
				}
			}
		}
		return out
	}
	err := m.changeDeals(ctx, memberID, ids, links, func(p redis.Pipeliner) {
		m.writeRows(ctx, p, memberID, segment.EntityDeal, ids, rows, titles)
	})
	if err != nil {
		return fmt.Errorf("mirror %s: put deals: %w", memberID, err)
	}
	return nil
}

// maxWriteTries bounds how often a deals' write runs again when another
// writer changed what it read.
const maxWriteTries = 20

// changeDeals writes deals in one transaction with the index links their
// old rows and the new give, watching the rows so a concurrent writer of
// the same deals makes it read and write again. The write is logged.
func (m *Mirror) changeDeals(ctx context.Context, memberID string, ids []int64, links func(old map[int64]*MirrorDeal) []indexLink, write func(redis.Pipeliner)) error {
	rows := m.rows(memberID, segment.EntityDeal)
	keys := []string{rows.big()}
	seen := map[int64]bool{}
	for _, id := range ids {
		if n := id / rowBucket; !seen[n] {
			seen[n] = true
			keys = append(keys, rows.bucket(n))
		}
	}
	for try := 1; ; try++ {
		err := m.rdb.Watch(ctx, func(tx *redis.Tx) error {
			old := make(map[int64]*MirrorDeal, len(ids))
			err := m.load(ctx, tx, memberID, segment.EntityDeal, ids, false, func(r record) error {
				d := &MirrorDeal{ID: r.id}
				old[d.ID] = d
				return decodeDeal(r.row, d)
			})
			if err != nil {
				return err
			}
			relink, err := m.relink(ctx, tx, memberID, links(old))
			if err != nil {
				return err
			}
			_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				write(p)
				relink(p)
				m.logChanges(ctx, p, memberID, segment.EntityDeal, ids)
				return nil
			})
			return err
		}, keys...)
		if !errors.Is(err, redis.TxFailedErr) || try == maxWriteTries {
			return err
		}
		// Writers that keep colliding on the same index keys spread out:
		// without a pause, four at once could each lose twenty times.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(1+rand.IntN(2*try)) * time.Millisecond):
		}
	}
}

// DeleteDeals removes deals and their index links.
func (m *Mirror) DeleteDeals(ctx context.Context, memberID string, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	if err := m.ready(ctx, memberID); err != nil {
		return err
	}
	links := func(old map[int64]*MirrorDeal) []indexLink {
		var out []indexLink
		for _, id := range ids {
			if o := old[id]; o != nil {
				for _, c := range o.Clients() {
					out = append(out, indexLink{c, id, false})
				}
			}
		}
		return out
	}
	fields := make([]string, len(ids))
	for i, id := range ids {
		fields[i] = id64(id)
	}
	none := make([]string, len(ids))
	err := m.changeDeals(ctx, memberID, ids, links, func(p redis.Pipeliner) {
		m.rows(memberID, segment.EntityDeal).write(ctx, p, ids, none)
		m.titles(memberID, segment.EntityDeal).write(ctx, p, ids, none)
		p.HDel(ctx, m.activityRows(memberID, segment.EntityDeal), fields...)
	})
	if err != nil {
		return fmt.Errorf("mirror %s: delete deals: %w", memberID, err)
	}
	return nil
}

// PutClients stores contact or company rows.
func (m *Mirror) PutClients(ctx context.Context, memberID string, e segment.Entity, clients []*MirrorClient) error {
	if err := m.ready(ctx, memberID); err != nil {
		return err
	}
	for chunk := range slices.Chunk(clients, 1000) {
		ids := make([]int64, len(chunk))
		rows, titles := make([]string, len(chunk)), make([]string, len(chunk))
		for i, c := range chunk {
			ids[i], rows[i], titles[i] = c.ID, encodeClient(c), c.Title
		}
		_, err := m.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			m.writeRows(ctx, p, memberID, e, ids, rows, titles)
			m.logChanges(ctx, p, memberID, e, ids)
			return nil
		})
		if err != nil {
			return fmt.Errorf("mirror %s: put %s: %w", memberID, e, err)
		}
	}
	return nil
}

// DeleteClients removes contacts or companies. Their deals keep pointing at
// them until those deals change, as in the portal.
func (m *Mirror) DeleteClients(ctx context.Context, memberID string, e segment.Entity, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	if err := m.ready(ctx, memberID); err != nil {
		return err
	}
	fields := make([]string, len(ids))
	for i, id := range ids {
		fields[i] = id64(id)
	}
	none := make([]string, len(ids))
	_, err := m.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		m.rows(memberID, e).write(ctx, p, ids, none)
		m.titles(memberID, e).write(ctx, p, ids, none)
		p.HDel(ctx, m.activityRows(memberID, e), fields...)
		p.HDel(ctx, m.addressRows(memberID, e), fields...)
		if e == segment.EntityCompany {
			p.HDel(ctx, m.registryRows(memberID), fields...)
		}
		m.unindex(ctx, p, memberID, e, ids)
		m.logChanges(ctx, p, memberID, e, ids)
		return nil
	})
	if err != nil {
		return fmt.Errorf("mirror %s: delete %s: %w", memberID, e, err)
	}
	return nil
}

// Deals loads deal rows by id; missing ones are absent from the map.
func (m *Mirror) Deals(ctx context.Context, memberID string, ids []int64) (map[int64]*MirrorDeal, error) {
	out := make(map[int64]*MirrorDeal, len(ids))
	if err := m.ready(ctx, memberID); err != nil {
		return nil, err
	}
	err := m.load(ctx, m.rdb, memberID, segment.EntityDeal, ids, true, func(r record) error {
		d, err := r.deal()
		if d != nil {
			out[d.ID] = d
		}
		return err
	})
	return out, err
}

// Clients loads contact or company rows by id.
func (m *Mirror) Clients(ctx context.Context, memberID string, e segment.Entity, ids []int64) (map[int64]*MirrorClient, error) {
	out := make(map[int64]*MirrorClient, len(ids))
	if err := m.ready(ctx, memberID); err != nil {
		return nil, err
	}
	err := m.load(ctx, m.rdb, memberID, e, ids, true, func(r record) error {
		c, err := r.client(e)
		if c != nil {
			out[c.ID] = c
		}
		return err
	})
	return out, err
}

// Keys reads the segment keys last computed of the records given, from
// their rows alone; a record the mirror lacks is absent from the map.
func (m *Mirror) Keys(ctx context.Context, memberID string, e segment.Entity, ids []int64) (map[int64]string, error) {
	out := make(map[int64]string, len(ids))
	if err := m.ready(ctx, memberID); err != nil {
		return nil, err
	}
	err := m.load(ctx, m.rdb, memberID, e, ids, false, func(r record) error {
		if e == segment.EntityDeal {
			var d MirrorDeal
			if err := decodeDeal(r.row, &d); err != nil {
				return err
			}
			out[r.id] = d.Key
			return nil
		}
		var c MirrorClient
		if err := decodeClient(r.row, &c); err != nil {
			return err
		}
		out[r.id] = c.Key
		return nil
	})
	return out, err
}

// record is a stored record as read: its packed row and, when asked for,
// its title, activities, addresses and registry entry.
type record struct {
	id                           int64
	row, title, acts, addrs, reg string
}

func (r record) deal() (*MirrorDeal, error) {
	d := &MirrorDeal{ID: r.id, Title: r.title}
	if err := decodeDeal(r.row, d); err != nil {
		return d, err
	}
	return d, d.setActivities(r.acts)
}

func (r record) client(e segment.Entity) (*MirrorClient, error) {
	c := &MirrorClient{ID: r.id, Title: r.title}
	if err := decodeClient(r.row, c); err != nil {
		return c, err
	}
	c.setAddresses(e, r.addrs)
	c.setRegistry(r.reg)
	return c, c.setActivities(r.acts)
}

// pipelining is a client or transaction that pipelines commands.
type pipelining interface {
	Pipelined(ctx context.Context, fn func(redis.Pipeliner) error) ([]redis.Cmder, error)
}

// load reads records by id through c, a thousand per round trip; full adds
// their titles, activities and, for clients, addresses.
func (m *Mirror) load(ctx context.Context, c pipelining, memberID string, e segment.Entity, ids []int64, full bool, fn func(record) error) error {
	for chunk := range slices.Chunk(ids, 1000) {
		var rows, titles func() []string
		var acts, addrs, regs *redis.SliceCmd
		_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
			rows = m.rows(memberID, e).read(ctx, p, chunk)
			if full {
				titles = m.titles(memberID, e).read(ctx, p, chunk)
				acts, addrs, regs = m.extras(ctx, p, memberID, e, chunk, true, e != segment.EntityDeal, e == segment.EntityCompany)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("mirror %s: load %s: %w", memberID, e, err)
		}
		var ts []string
		if titles != nil {
			ts = titles()
		}
		for i, row := range rows() {
			if row == "" {
				continue
			}
			r := record{id: chunk[i], row: row}
			if full {
				r.title, r.acts, r.addrs, r.reg = ts[i], at(acts, i), at(addrs, i), at(regs, i)
			}
			if err := fn(r); err != nil {
				return fmt.Errorf("mirror %s: decode %s %d: %w", memberID, e, r.id, err)
			}
		}
	}
	return nil
}

// extras queues the reads of records' activities, addresses and registry
// entries (kept apart from the rows: activity.go, location.go,
// registry.go).
func (m *Mirror) extras(ctx context.Context, p redis.Pipeliner, memberID string, e segment.Entity, ids []int64, acts, addrs, regs bool) (ac, ad, rg *redis.SliceCmd) {
	fields := make([]string, len(ids))
	for i, id := range ids {
		fields[i] = id64(id)
	}
	if acts && len(fields) > 0 {
		ac = p.HMGet(ctx, m.activityRows(memberID, e), fields...)
	}
	if addrs && len(fields) > 0 {
		ad = p.HMGet(ctx, m.addressRows(memberID, e), fields...)
	}
	if regs && len(fields) > 0 {
		rg = p.HMGet(ctx, m.registryRows(memberID), fields...)
	}
	return ac, ad, rg
}

// at is the i-th value of an HMGET, "" when it was not asked or is absent.
func at(cmd *redis.SliceCmd, i int) string {
	if cmd == nil {
		return ""
	}
	s, _ := cmd.Val()[i].(string)
	return s
}

// ClientDeals loads the deals of each client given, in two round trips
// whatever the number of clients (three when one of them has more deals
// than its index entry holds): the index, then the rows.
func (m *Mirror) ClientDeals(ctx context.Context, memberID string, clients []ClientRef) (map[ClientRef][]*MirrorDeal, error) {
	out := make(map[ClientRef][]*MirrorDeal, len(clients))
	if len(clients) == 0 {
		return out, nil
	}
	if err := m.ready(ctx, memberID); err != nil {
		return nil, err
	}
	of, err := m.dealsOf(ctx, memberID, clients)
	if err != nil {
		return nil, err
	}
	var all []int64
	seen := map[int64]bool{}
	for _, c := range clients {
		for _, id := range of[c] {
			if id > 0 && !seen[id] {
				seen[id] = true
				all = append(all, id)
			}
		}
	}
	deals, err := m.Deals(ctx, memberID, all)
	if err != nil {
		return nil, err
	}
	for _, c := range clients {
		list := []*MirrorDeal{}
		for _, id := range of[c] {
			if d := deals[id]; d != nil {
				list = append(list, d)
			}
		}
		slices.SortFunc(list, func(a, b *MirrorDeal) int { return compareID(a.ID, b.ID) })
		out[c] = list
	}
	return out, nil
}

// EachDeal streams every deal row, a bucket of rows at a time. Order is
// unspecified.
func (m *Mirror) EachDeal(ctx context.Context, memberID string, fn func(*MirrorDeal) error) error {
	if err := m.ready(ctx, memberID); err != nil {
		return err
	}
	return m.each(ctx, memberID, segment.EntityDeal, scanAll, func(r record) error {
		d, err := r.deal()
		if err != nil {
			return err
		}
		return fn(d)
	})
}

// EachClient streams every contact or company row.
func (m *Mirror) EachClient(ctx context.Context, memberID string, e segment.Entity, fn func(*MirrorClient) error) error {
	if err := m.ready(ctx, memberID); err != nil {
		return err
	}
	return m.each(ctx, memberID, e, scanAll, func(r record) error {
		c, err := r.client(e)
		if err != nil {
			return err
		}
		return fn(c)
	})
}

// scanParts says what a scan reads besides the rows.
type scanParts struct{ titles, acts, addrs, regs bool }

var scanAll = scanParts{true, true, true, true}

// scanGroup is how many buckets a scan reads per round trip: about two
// thousand rows.
const scanGroup = 16

// each scans every row of an entity: the buckets scanGroup at a time (rows
// and titles in one round trip, activities and addresses in a second when
// the portal has any), then the rows too long for a bucket. A row written
// during the scan that crosses between its bucket and the big hash may be
// seen twice or not at all; its write is in the change log, which readers
// that keep the mirror in memory catch up through.
func (m *Mirror) each(ctx context.Context, memberID string, e segment.Entity, parts scanParts, fn func(record) error) error {
	fail := func(err error) error { return fmt.Errorf("mirror %s: scan %s: %w", memberID, e, err) }
	rows, titles := m.rows(memberID, e), m.titles(memberID, e)
	var ns *redis.StringSliceCmd
	var hasActs, hasAddrs, hasRegs, hasLong *redis.IntCmd
	_, err := m.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		ns = p.SMembers(ctx, m.buckets(memberID, e))
		hasActs = p.Exists(ctx, m.activityRows(memberID, e))
		hasAddrs = p.Exists(ctx, m.addressRows(memberID, e))
		hasRegs = p.Exists(ctx, m.registryRows(memberID))
		hasLong = p.Exists(ctx, titles.big())
		return nil
	})
	if err != nil {
		return fail(err)
	}
	parts.acts = parts.acts && hasActs.Val() > 0
	parts.addrs = parts.addrs && e != segment.EntityDeal && hasAddrs.Val() > 0
	parts.regs = parts.regs && e == segment.EntityCompany && hasRegs.Val() > 0
	longTitles := parts.titles && hasLong.Val() > 0
	buckets := make([]int64, 0, len(ns.Val()))
	for _, s := range ns.Val() {
		buckets = append(buckets, parseID(s))
	}
	slices.Sort(buckets)
	// emit hands a group's records to fn, after reading what the rows
	// alone did not bring.
	emit := func(recs []record, needTitles bool) error {
		if len(recs) == 0 {
			return nil
		}
		ids := make([]int64, len(recs))
		for i, r := range recs {
			ids[i] = r.id
		}
		if parts.acts || parts.addrs || parts.regs || needTitles {
			var ts func() []string
			var ac, ad, rg *redis.SliceCmd
			_, err := m.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
				if needTitles {
					ts = titles.read(ctx, p, ids)
				}
				ac, ad, rg = m.extras(ctx, p, memberID, e, ids, parts.acts, parts.addrs, parts.regs)
				return nil
			})
			if err != nil {
				return fail(err)
			}
			for i := range recs {
				recs[i].acts, recs[i].addrs, recs[i].reg = at(ac, i), at(ad, i), at(rg, i)
			}
			if ts != nil {
				t := ts()
				for i := range recs {
					recs[i].title = t[i]
				}
			}
		}
		for _, r := range recs {
			if err := fn(r); err != nil {
				return fmt.Errorf("mirror %s: %s %d: %w", memberID, e, r.id, err)
			}
		}
		return nil
	}
	for group := range slices.Chunk(buckets, scanGroup) {
		rc, tc := make([]*redis.MapStringStringCmd, len(group)), make([]*redis.MapStringStringCmd, len(group))
		_, err := m.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, n := range group {
				rc[i] = p.HGetAll(ctx, rows.bucket(n))
				if parts.titles && !longTitles {
					tc[i] = p.HGetAll(ctx, titles.bucket(n))
				}
			}
			return nil
		})
		if err != nil {
			return fail(err)
		}
		var recs []record
		for i := range group {
			var ts map[string]string
			if tc[i] != nil {
				ts = tc[i].Val()
			}
			for f, row := range rc[i].Val() {
				recs = append(recs, record{id: parseID(f), row: row, title: ts[f]})
			}
		}
		if err := emit(recs, longTitles); err != nil {
			return err
		}
	}
	var cursor uint64
	for {
		kv, next, err := m.rdb.HScan(ctx, rows.big(), cursor, "*", 1000).Result()
		if err != nil {
			return fail(err)
		}
		recs := make([]record, 0, len(kv)/2)
		for i := 1; i < len(kv); i += 2 {
			recs = append(recs, record{id: parseID(kv[i-1]), row: kv[i]})
		}
		if err := emit(recs, parts.titles); err != nil {
			return err
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// IDs lists the ids of every mirrored record of an entity.
func (m *Mirror) IDs(ctx context.Context, memberID string, e segment.Entity) ([]int64, error) {
	var out []int64
	err := m.eachBucket(ctx, memberID, e, func(p redis.Pipeliner, key string) func() {
		cmd := p.HKeys(ctx, key)
		return func() {
			for _, k := range cmd.Val() {
				if id, err := strconv.ParseInt(k, 10, 64); err == nil {
					out = append(out, id)
				}
			}
		}
	})
	if err != nil {
		return nil, fmt.Errorf("mirror %s: ids of %s: %w", memberID, e, err)
	}
	slices.Sort(out)
	return out, nil
}

// Count is the number of mirrored records of an entity.
func (m *Mirror) Count(ctx context.Context, memberID string, e segment.Entity) (int, error) {
	n := 0
	err := m.eachBucket(ctx, memberID, e, func(p redis.Pipeliner, key string) func() {
		cmd := p.HLen(ctx, key)
		return func() { n += int(cmd.Val()) }
	})
	if err != nil {
		return 0, fmt.Errorf("mirror %s: count %s: %w", memberID, e, err)
	}
	return n, nil
}

// eachBucket runs a command on every row hash of an entity, the long rows'
// included, in pipelines of a thousand; each queued command's result is
// taken once its pipeline ran.
func (m *Mirror) eachBucket(ctx context.Context, memberID string, e segment.Entity, queue func(p redis.Pipeliner, key string) (take func())) error {
	if err := m.ready(ctx, memberID); err != nil {
		return err
	}
	ns, err := m.rdb.SMembers(ctx, m.buckets(memberID, e)).Result()
	if err != nil {
		return err
	}
	rows := m.rows(memberID, e)
	keys := []string{rows.big()}
	for _, s := range ns {
		keys = append(keys, rows.bucket(parseID(s)))
	}
	for chunk := range slices.Chunk(keys, 1000) {
		takes := make([]func(), len(chunk))
		if _, err := m.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, k := range chunk {
				takes[i] = queue(p, k)
			}
			return nil
		}); err != nil {
			return err
		}
		for _, take := range takes {
			take()
		}
	}
	return nil
}

// SetRates stores the portal's currency rates.
func (m *Mirror) SetRates(ctx context.Context, memberID string, r segment.Rates) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = m.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, portalKey(memberID, "m:rates"), b, 0)
		p.Eval(ctx, logScript, m.logKeys(memberID), maxLoggedChanges, ratesChange)
		return nil
	})
	return err
}

// Rates returns the stored currency rates (zero before the first sync).
func (m *Mirror) Rates(ctx context.Context, memberID string) (segment.Rates, error) {
	var r segment.Rates
	b, err := m.rdb.Get(ctx, portalKey(memberID, "m:rates")).Bytes()
	if errors.Is(err, redis.Nil) {
		return r, nil
	}
	if err != nil {
		return r, fmt.Errorf("mirror %s: rates: %w", memberID, err)
	}
	return r, json.Unmarshal(b, &r)
}

// SetProductSections caches product → catalog section.
func (m *Mirror) SetProductSections(ctx context.Context, memberID string, sections map[int64]int) error {
	if len(sections) == 0 {
		return nil
	}
	vals := make([]any, 0, 2*len(sections))
	for p, s := range sections {
		vals = append(vals, id64(p), s)
	}
	return m.rdb.HSet(ctx, portalKey(memberID, "m:products"), vals...).Err()
}

// ProductSections returns the cached sections of the products given; unknown
// products are absent.
func (m *Mirror) ProductSections(ctx context.Context, memberID string, products []int64) (map[int64]int, error) {
	out := map[int64]int{}
	if len(products) == 0 {
		return out, nil
	}
	fields := make([]string, len(products))
	for i, p := range products {
		fields[i] = id64(p)
	}
	vals, err := m.rdb.HMGet(ctx, portalKey(memberID, "m:products"), fields...).Result()
	if err != nil {
		return nil, fmt.Errorf("mirror %s: product sections: %w", memberID, err)
	}
	for i, v := range vals {
		if s, ok := v.(string); ok {
			n, _ := strconv.Atoi(s)
			out[products[i]] = n
		}
	}
	return out, nil
}

// MirrorMeta says what the last full sync stored.
type MirrorMeta struct {
	SyncedAt time.Time                   `json:"synced_at"`
	Fields   map[segment.Entity][]string `json:"fields"` // rule fields mirrored per entity
	Rows     bool                        `json:"rows"`   // product sections were mirrored
}

// SetMeta records what a full sync stored.
func (m *Mirror) SetMeta(ctx context.Context, memberID string, meta MirrorMeta) error {
	b, err := json.Marshal(meta)
	if err != nil {
		return err
	}
	return m.rdb.Set(ctx, portalKey(memberID, "m:meta"), b, 0).Err()
}

// Meta returns what the last full sync stored; zero before any.
func (m *Mirror) Meta(ctx context.Context, memberID string) (MirrorMeta, error) {
	var meta MirrorMeta
	b, err := m.rdb.Get(ctx, portalKey(memberID, "m:meta")).Bytes()
	if errors.Is(err, redis.Nil) {
		return meta, nil
	}
	if err != nil {
		return meta, fmt.Errorf("mirror %s: meta: %w", memberID, err)
	}
	return meta, json.Unmarshal(b, &meta)
}
