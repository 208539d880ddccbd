package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/shopspring/decimal"

	"segmentor/app/segment"
)

// Mirror is a portal's read model of its CRM in Redis: exactly what the rules
// need of every deal, contact and company, so that facts, previews and
// backfills cost no REST request (design.md §2).
//
// Layout, all under the portal's hash tag:
//
//	m:deal, m:contact, m:company   hash id → compact JSON row
//	m:x:contact:<id>, m:x:company:<id>   set of the client's deal ids
//	m:rates                        JSON segment.Rates
//	m:products                     hash product id → catalog section id
//	m:meta                         hash: synced_at, fields_<entity>
//	m:a:<entity>, m:a:ix:<n>       the records' activities and their index (activity.go)
//	m:l:<entity>, m:l:ix:<n>       the clients' requisites' addresses and their index (location.go)
//	m:gen, m:changes, m:floor      the change log (see ChangesSince)
//
// One hash per entity keeps a row to one small field (Redis stores hash
// fields far more compactly than keys); the per-client sets make "all deals
// of a client" two round trips (SMEMBERS, HMGET) however many clients.
type Mirror struct {
	rdb redis.UniversalClient
}

// NewMirror returns the mirror over rdb.
func NewMirror(rdb redis.UniversalClient) *Mirror { return &Mirror{rdb: rdb} }

// MirrorDeal is a deal's mirror row. JSON names are short on purpose: a
// portal holds hundreds of thousands of them.
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
func (d *MirrorDeal) Current() segment.Current { return d.CurrentOf(d.Deal()) }

// CurrentOf is Current for a reader that already converted the row (dd is
// d.Deal()), sparing the amount's parsing.
func (d *MirrorDeal) CurrentOf(dd segment.Deal) segment.Current {
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
	return segment.Client{ID: c.ID, Entity: e, TypeID: c.TypeID, Fields: c.Fields, Activities: c.Activities, Location: c.Location()}
}

// Current is the client's state as the planner diffs it.
func (c *MirrorClient) Current() segment.Current {
	return segment.Current{TypeID: c.TypeID, SegmentItem: c.Segment}
}

func (m *Mirror) rows(memberID string, e segment.Entity) string {
	return portalKey(memberID, "m:"+string(e))
}

func (m *Mirror) index(memberID string, e segment.Entity, id int64) string {
	return portalKey(memberID, "m:x:"+string(e)+":"+strconv.FormatInt(id, 10))
}

func id64(id int64) string { return strconv.FormatInt(id, 10) }

// PutDeals stores deal rows and keeps the client → deals index in step with
// each deal's company and contacts (old links removed, new ones added).
func (m *Mirror) PutDeals(ctx context.Context, memberID string, deals []*MirrorDeal) error {
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
	for i, d := range deals {
		ids[i] = d.ID
	}
	old, err := m.Deals(ctx, memberID, ids)
	if err != nil {
		return err
	}
	key := m.rows(memberID, segment.EntityDeal)
	vals := make([]any, 0, 2*len(deals))
	_, err = m.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, d := range deals {
			b, err := json.Marshal(d)
			if err != nil {
				return err
			}
			vals = append(vals, id64(d.ID), b)
			now := d.Clients()
			if o := old[d.ID]; o != nil {
				for _, c := range o.Clients() {
					if !slices.Contains(now, c) {
						p.SRem(ctx, m.index(memberID, c.Entity, c.ID), d.ID)
					}
				}
			}
			for _, c := range now {
				p.SAdd(ctx, m.index(memberID, c.Entity, c.ID), d.ID)
			}
		}
		p.HSet(ctx, key, vals...)
		m.logChanges(ctx, p, memberID, segment.EntityDeal, ids)
		return nil
	})
	if err != nil {
		return fmt.Errorf("mirror %s: put deals: %w", memberID, err)
	}
	return nil
}

// DeleteDeals removes deals and their index links.
func (m *Mirror) DeleteDeals(ctx context.Context, memberID string, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	old, err := m.Deals(ctx, memberID, ids)
	if err != nil {
		return err
	}
	_, err = m.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		fields := make([]string, len(ids))
		for i, id := range ids {
			fields[i] = id64(id)
			if o := old[id]; o != nil {
				for _, c := range o.Clients() {
					p.SRem(ctx, m.index(memberID, c.Entity, c.ID), id)
				}
			}
		}
		p.HDel(ctx, m.rows(memberID, segment.EntityDeal), fields...)
		p.HDel(ctx, m.activityRows(memberID, segment.EntityDeal), fields...)
		m.logChanges(ctx, p, memberID, segment.EntityDeal, ids)
		return nil
	})
	if err != nil {
		return fmt.Errorf("mirror %s: delete deals: %w", memberID, err)
	}
	return nil
}

// PutClients stores contact or company rows.
func (m *Mirror) PutClients(ctx context.Context, memberID string, e segment.Entity, clients []*MirrorClient) error {
	key := m.rows(memberID, e)
	for len(clients) > 0 {
		n := min(len(clients), 1000)
		vals := make([]any, 0, 2*n)
		ids := make([]int64, n)
		for i, c := range clients[:n] {
			b, err := json.Marshal(c)
			if err != nil {
				return err
			}
			vals = append(vals, id64(c.ID), b)
			ids[i] = c.ID
		}
		_, err := m.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.HSet(ctx, key, vals...)
			m.logChanges(ctx, p, memberID, e, ids)
			return nil
		})
		if err != nil {
			return fmt.Errorf("mirror %s: put %s: %w", memberID, e, err)
		}
		clients = clients[n:]
	}
	return nil
}

// DeleteClients removes contacts or companies. Their deals keep pointing at
// them until those deals change, as in the portal.
func (m *Mirror) DeleteClients(ctx context.Context, memberID string, e segment.Entity, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	fields := make([]string, len(ids))
	keys := make([]string, len(ids))
	for i, id := range ids {
		fields[i] = id64(id)
		keys[i] = m.index(memberID, e, id)
	}
	_, err := m.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.HDel(ctx, m.rows(memberID, e), fields...)
		p.HDel(ctx, m.activityRows(memberID, e), fields...)
		p.HDel(ctx, m.addressRows(memberID, e), fields...)
		p.Del(ctx, keys...)
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
	err := m.load(ctx, memberID, segment.EntityDeal, ids, func(b []byte, acts, _ string) error {
		d := new(MirrorDeal)
		if err := json.Unmarshal(b, d); err != nil {
			return err
		}
		out[d.ID] = d
		return d.setActivities(acts)
	})
	return out, err
}

// Clients loads contact or company rows by id.
func (m *Mirror) Clients(ctx context.Context, memberID string, e segment.Entity, ids []int64) (map[int64]*MirrorClient, error) {
	out := make(map[int64]*MirrorClient, len(ids))
	err := m.load(ctx, memberID, e, ids, func(b []byte, acts, addrs string) error {
		c := new(MirrorClient)
		if err := json.Unmarshal(b, c); err != nil {
			return err
		}
		out[c.ID] = c
		c.setAddresses(e, addrs)
		return c.setActivities(acts)
	})
	return out, err
}

// load reads rows by id with their activities and, for clients, their
// addresses (in the same round trip).
func (m *Mirror) load(ctx context.Context, memberID string, e segment.Entity, ids []int64, fn func(row []byte, acts, addrs string) error) error {
	for len(ids) > 0 {
		n := min(len(ids), 1000)
		fields := make([]string, n)
		for i, id := range ids[:n] {
			fields[i] = id64(id)
		}
		var rows, acts, addrs *redis.SliceCmd
		_, err := m.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			rows = p.HMGet(ctx, m.rows(memberID, e), fields...)
			acts = p.HMGet(ctx, m.activityRows(memberID, e), fields...)
			if e != segment.EntityDeal {
				addrs = p.HMGet(ctx, m.addressRows(memberID, e), fields...)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("mirror %s: load %s: %w", memberID, e, err)
		}
		for i, v := range rows.Val() {
			s, ok := v.(string)
			if !ok {
				continue
			}
			a, _ := acts.Val()[i].(string)
			var ad string
			if addrs != nil {
				ad, _ = addrs.Val()[i].(string)
			}
			if err := fn([]byte(s), a, ad); err != nil {
				return fmt.Errorf("mirror %s: decode %s: %w", memberID, e, err)
			}
		}
		ids = ids[n:]
	}
	return nil
}

// ClientDeals loads the deals of each client given, in two round trips
// whatever the number of clients: the index sets, then the rows.
func (m *Mirror) ClientDeals(ctx context.Context, memberID string, clients []ClientRef) (map[ClientRef][]*MirrorDeal, error) {
	out := make(map[ClientRef][]*MirrorDeal, len(clients))
	if len(clients) == 0 {
		return out, nil
	}
	cmds := make([]*redis.StringSliceCmd, len(clients))
	_, err := m.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, c := range clients {
			cmds[i] = p.SMembers(ctx, m.index(memberID, c.Entity, c.ID))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("mirror %s: client deals: %w", memberID, err)
	}
	var all []int64
	seen := map[int64]bool{}
	for _, cmd := range cmds {
		for _, s := range cmd.Val() {
			id, _ := strconv.ParseInt(s, 10, 64)
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
	for i, c := range clients {
		list := []*MirrorDeal{}
		for _, s := range cmds[i].Val() {
			id, _ := strconv.ParseInt(s, 10, 64)
			if d := deals[id]; d != nil {
				list = append(list, d)
			}
		}
		slices.SortFunc(list, func(a, b *MirrorDeal) int { return int(a.ID - b.ID) })
		out[c] = list
	}
	return out, nil
}

// EachDeal streams every deal row (HSCAN, a thousand at a time). Order is
// unspecified.
func (m *Mirror) EachDeal(ctx context.Context, memberID string, fn func(*MirrorDeal) error) error {
	return m.each(ctx, memberID, segment.EntityDeal, func(b []byte, acts, _ string) error {
		d := new(MirrorDeal)
		if err := json.Unmarshal(b, d); err != nil {
			return err
		}
		if err := d.setActivities(acts); err != nil {
			return err
		}
		return fn(d)
	})
}

// EachClient streams every contact or company row.
func (m *Mirror) EachClient(ctx context.Context, memberID string, e segment.Entity, fn func(*MirrorClient) error) error {
	return m.each(ctx, memberID, e, func(b []byte, acts, addrs string) error {
		c := new(MirrorClient)
		if err := json.Unmarshal(b, c); err != nil {
			return err
		}
		c.setAddresses(e, addrs)
		if err := c.setActivities(acts); err != nil {
			return err
		}
		return fn(c)
	})
}

// each scans every row with its activities and addresses (a second round
// trip per thousand rows, when the portal has either).
func (m *Mirror) each(ctx context.Context, memberID string, e segment.Entity, fn func(row []byte, acts, addrs string) error) error {
	key := m.rows(memberID, e)
	hasActs, err := m.rdb.Exists(ctx, m.activityRows(memberID, e)).Result()
	if err != nil {
		return fmt.Errorf("mirror %s: scan %s: %w", memberID, e, err)
	}
	var hasAddrs int64
	if e != segment.EntityDeal {
		if hasAddrs, err = m.rdb.Exists(ctx, m.addressRows(memberID, e)).Result(); err != nil {
			return fmt.Errorf("mirror %s: scan %s: %w", memberID, e, err)
		}
	}
	var cursor uint64
	for {
		kv, next, err := m.rdb.HScan(ctx, key, cursor, "*", 1000).Result()
		if err != nil {
			return fmt.Errorf("mirror %s: scan %s: %w", memberID, e, err)
		}
		acts, addrs := make([]any, len(kv)/2), make([]any, len(kv)/2)
		if (hasActs > 0 || hasAddrs > 0) && len(kv) > 0 {
			fields := make([]string, len(kv)/2)
			for i := range fields {
				fields[i] = kv[2*i]
			}
			var ac, ad *redis.SliceCmd
			_, err := m.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
				if hasActs > 0 {
					ac = p.HMGet(ctx, m.activityRows(memberID, e), fields...)
				}
				if hasAddrs > 0 {
					ad = p.HMGet(ctx, m.addressRows(memberID, e), fields...)
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("mirror %s: scan %s: %w", memberID, e, err)
			}
			if ac != nil {
				acts = ac.Val()
			}
			if ad != nil {
				addrs = ad.Val()
			}
		}
		for i := 1; i < len(kv); i += 2 {
			a, _ := acts[i/2].(string)
			ad, _ := addrs[i/2].(string)
			if err := fn([]byte(kv[i]), a, ad); err != nil {
				return err
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// IDs lists the ids of every mirrored record of an entity.
func (m *Mirror) IDs(ctx context.Context, memberID string, e segment.Entity) ([]int64, error) {
	keys, err := m.rdb.HKeys(ctx, m.rows(memberID, e)).Result()
	if err != nil {
		return nil, fmt.Errorf("mirror %s: ids of %s: %w", memberID, e, err)
	}
	out := make([]int64, 0, len(keys))
	for _, k := range keys {
		if id, err := strconv.ParseInt(k, 10, 64); err == nil {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out, nil
}

// Count is the number of mirrored records of an entity.
func (m *Mirror) Count(ctx context.Context, memberID string, e segment.Entity) (int, error) {
	n, err := m.rdb.HLen(ctx, m.rows(memberID, e)).Result()
	return int(n), err
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
