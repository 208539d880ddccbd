package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"segmentor/app/segment"
)

// The mirror keeps where each contact and company is, for the location
// facts: the addresses of its requisites (crm.address.list), each reduced
// to its type and the normalised parts the facts read — country code,
// region, city, postal area; never the street. Layout, under the portal's
// hash tag:
//
//	m:l:contact, m:l:company   hash client id → its requisites' addresses (encodeAddresses)
//	m:l:ix:<id/100>            hash requisite id → its client (ownerCode)
//
// Like the activities, the addresses are kept apart from the rows: a row
// is rewritten whenever its record changes, the addresses whenever its
// requisites do, and neither write carries the other. Every load of
// clients brings them along. The index names a requisite's client: a
// requisite's delete event carries only its id, and its addresses are gone
// with it. A client's own address fields, which older portals fill instead
// of requisites, come with its row (MirrorClient.Own).
//
// Which address a client is at (ChooseLocation): its first requisite's
// (the lowest id: a branch's requisite comes after the company's own),
// and of that requisite's addresses the legal one, else the registered,
// physical, mailing, shipping and beneficiary one, in that order — the
// address the company's registry entry and invoices name. Without any, its
// own address fields.

// Address is one address of a client's requisite as the mirror keeps it.
type Address struct {
	Requisite int64
	Type      int // crm.enum.addresstype: 6 legal, 4 registered, 1 physical, 8 mailing, 11 shipping, 9 beneficiary
	Owner     ClientRef
	segment.Location
}

// addressPreference orders a requisite's address types: the legal address
// first.
var addressPreference = []int{6, 4, 1, 8, 11, 9}

func addressRank(typeID int) int {
	if i := slices.Index(addressPreference, typeID); i >= 0 {
		return i
	}
	return len(addressPreference) + typeID // a type added later: after the known ones
}

// ChooseLocation is where a client is, from its requisites' addresses:
// the best address of its first requisite that has one with a location.
func ChooseLocation(list []Address) (segment.Location, bool) {
	best := -1
	for i, a := range list {
		if a.Location.IsZero() {
			continue
		}
		if best < 0 || a.Requisite < list[best].Requisite ||
			a.Requisite == list[best].Requisite && addressRank(a.Type) < addressRank(list[best].Type) {
			best = i
		}
	}
	if best < 0 {
		return segment.Location{}, false
	}
	return list[best].Location, true
}

// Location is where the client is: its requisites' chosen address, else
// its own address fields.
func (c *MirrorClient) Location() segment.Location {
	if l, ok := ChooseLocation(c.Addresses); ok {
		return l
	}
	if c.Own != nil {
		return *c.Own
	}
	return segment.Location{}
}

// encodeAddresses packs a client's addresses, by requisite and type: one
// line each, its fields separated by tabs (requisite, type, country,
// region, city, postal area). Normalised parts hold no tab or newline.
func encodeAddresses(list []Address) string {
	slices.SortFunc(list, compareAddresses)
	var b strings.Builder
	for i, a := range list {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(strconv.FormatInt(a.Requisite, 10))
		b.WriteByte('\t')
		b.WriteString(strconv.Itoa(a.Type))
		for _, s := range []string{a.Country, a.Region, a.City, a.Postal} {
			b.WriteByte('\t')
			b.WriteString(clean(s))
		}
	}
	return b.String()
}

func compareAddresses(a, b Address) int {
	return cmp.Or(cmp.Compare(a.Requisite, b.Requisite), cmp.Compare(a.Type, b.Type))
}

// clean keeps a part from breaking the packing.
func clean(s string) string {
	if !strings.ContainsAny(s, "\t\n") {
		return s
	}
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == '\t' || r == '\n' }), " ")
}

// decodeAddresses unpacks a client's addresses; a line it cannot read is
// skipped.
func decodeAddresses(owner ClientRef, s string) []Address {
	if s == "" {
		return nil
	}
	var out []Address
	for line := range strings.SplitSeq(s, "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 6 {
			continue
		}
		rq, err1 := strconv.ParseInt(f[0], 10, 64)
		typ, err2 := strconv.Atoi(f[1])
		if err1 != nil || err2 != nil || rq <= 0 {
			continue
		}
		out = append(out, Address{Requisite: rq, Type: typ, Owner: owner,
			Location: segment.Location{Country: f[2], Region: f[3], City: f[4], Postal: f[5]}})
	}
	return out
}

func (c *MirrorClient) setAddresses(e segment.Entity, s string) {
	c.Addresses = decodeAddresses(ClientRef{Entity: e, ID: c.ID}, s)
}

func (m *Mirror) addressRows(memberID string, e segment.Entity) string {
	return portalKey(memberID, "m:l:"+string(e))
}

// requisiteBucket is how many requisite ids share an index hash, as for
// activities: few enough for Redis's compact listpack encoding.
const requisiteBucket = 100

func (m *Mirror) requisiteIndex(memberID string, id int64) string {
	return portalKey(memberID, "m:l:ix:"+strconv.FormatInt(id/requisiteBucket, 10))
}

func refCode(ref ClientRef) int64 { return ownerCode(ActivityOwner(ref)) }

func refOf(code int64) (ClientRef, bool) {
	o, ok := ownerOf(code)
	if !ok || o.Entity == segment.EntityDeal {
		return ClientRef{}, false
	}
	return ClientRef(o), true
}

// clientEntities are the records that have requisites.
var clientEntities = []segment.Entity{segment.EntityContact, segment.EntityCompany}

// ReplaceAddresses makes the mirror's addresses exactly addrs, as a full
// sync read them: the clients whose addresses differ are written and
// logged, those left without any removed, and the index follows.
func (m *Mirror) ReplaceAddresses(ctx context.Context, memberID string, addrs []Address) error {
	lists := map[ClientRef][]Address{}
	for _, a := range addrs {
		lists[a.Owner] = append(lists[a.Owner], a)
	}
	old := map[ClientRef]string{}
	oldOwner := map[int64]ClientRef{}
	for _, e := range clientEntities {
		err := m.eachAddressList(ctx, memberID, e, func(id int64, s string) {
			ref := ClientRef{Entity: e, ID: id}
			old[ref] = s
			for _, a := range decodeAddresses(ref, s) {
				oldOwner[a.Requisite] = ref
			}
		})
		if err != nil {
			return err
		}
	}
	writes := map[ClientRef]string{} // "" deletes
	for ref, list := range lists {
		if s := encodeAddresses(list); s != old[ref] {
			writes[ref] = s
		}
	}
	for ref := range old {
		if _, ok := lists[ref]; !ok {
			writes[ref] = ""
		}
	}
	index := map[int64]int64{} // requisite → owner code; 0 deletes
	nowOwner := map[int64]ClientRef{}
	for _, a := range addrs {
		nowOwner[a.Requisite] = a.Owner
	}
	for rq, ref := range nowOwner {
		if o, ok := oldOwner[rq]; !ok || o != ref {
			index[rq] = refCode(ref)
		}
	}
	for rq := range oldOwner {
		if _, ok := nowOwner[rq]; !ok {
			index[rq] = 0
		}
	}
	return m.writeAddresses(ctx, memberID, writes, index)
}

// writeAddresses writes clients' address lists and index entries, the
// lists' clients logged as changed.
func (m *Mirror) writeAddresses(ctx context.Context, memberID string, writes map[ClientRef]string, index map[int64]int64) error {
	refs := slices.SortedFunc(maps.Keys(writes), compareRefs)
	for chunk := range slices.Chunk(refs, 1000) {
		_, err := m.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			logged := map[segment.Entity][]int64{}
			for _, ref := range chunk {
				key := m.addressRows(memberID, ref.Entity)
				if s := writes[ref]; s == "" {
					p.HDel(ctx, key, id64(ref.ID))
				} else {
					p.HSet(ctx, key, id64(ref.ID), s)
				}
				logged[ref.Entity] = append(logged[ref.Entity], ref.ID)
			}
			for _, e := range clientEntities {
				m.logChanges(ctx, p, memberID, e, logged[e])
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("mirror %s: write addresses: %w", memberID, err)
		}
	}
	ids := slices.Sorted(maps.Keys(index))
	for chunk := range slices.Chunk(ids, 5000) {
		_, err := m.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, rq := range chunk {
				if code := index[rq]; code == 0 {
					p.HDel(ctx, m.requisiteIndex(memberID, rq), id64(rq))
				} else {
					p.HSet(ctx, m.requisiteIndex(memberID, rq), id64(rq), code)
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("mirror %s: requisite index: %w", memberID, err)
		}
	}
	return nil
}

func compareRefs(a, b ClientRef) int { return compareOwners(ActivityOwner(a), ActivityOwner(b)) }

// PutRequisites stores what a re-read found of the requisites given: their
// addresses now (fresh, those of requisites with none left out), replacing
// what the mirror held of them; a requisite deleted, or left without
// addresses, drops out. It returns the clients whose addresses changed.
func (m *Mirror) PutRequisites(ctx context.Context, memberID string, requisites []int64, fresh []Address) ([]ClientRef, error) {
	was, err := m.requisiteOwners(ctx, memberID, requisites)
	if err != nil {
		return nil, err
	}
	var owners []ClientRef
	for _, ref := range was {
		owners = append(owners, ref)
	}
	for _, a := range fresh {
		owners = append(owners, a.Owner)
	}
	lists, err := m.addressLists(ctx, memberID, owners)
	if err != nil {
		return nil, err
	}
	before := make(map[ClientRef]string, len(lists))
	for ref, list := range lists {
		before[ref] = encodeAddresses(list)
	}
	for ref := range lists {
		lists[ref] = slices.DeleteFunc(lists[ref], func(a Address) bool { return slices.Contains(requisites, a.Requisite) })
	}
	index := map[int64]int64{}
	for rq := range was {
		index[rq] = 0
	}
	for _, a := range fresh {
		if !slices.Contains(requisites, a.Requisite) {
			continue // not asked for
		}
		lists[a.Owner] = append(lists[a.Owner], a)
		index[a.Requisite] = refCode(a.Owner)
	}
	for rq, code := range index {
		if ref, ok := was[rq]; ok && code != 0 && refCode(ref) == code {
			delete(index, rq) // unchanged
		}
	}
	writes := map[ClientRef]string{}
	var touched []ClientRef
	for _, ref := range slices.SortedFunc(maps.Keys(lists), compareRefs) {
		if s := encodeAddresses(lists[ref]); s != before[ref] {
			writes[ref] = s
			touched = append(touched, ref)
		}
	}
	return touched, m.writeAddresses(ctx, memberID, writes, index)
}

// requisiteOwners reads the index: the client of each requisite the mirror
// knows.
func (m *Mirror) requisiteOwners(ctx context.Context, memberID string, ids []int64) (map[int64]ClientRef, error) {
	cmds := make([]*redis.StringCmd, len(ids))
	_, err := m.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.HGet(ctx, m.requisiteIndex(memberID, id), id64(id))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("mirror %s: requisite index: %w", memberID, err)
	}
	out := make(map[int64]ClientRef, len(ids))
	for i, cmd := range cmds {
		code, err := cmd.Int64()
		if err != nil {
			continue
		}
		if ref, ok := refOf(code); ok {
			out[ids[i]] = ref
		}
	}
	return out, nil
}

// addressLists reads the address lists of the clients given, in one round
// trip.
func (m *Mirror) addressLists(ctx context.Context, memberID string, refs []ClientRef) (map[ClientRef][]Address, error) {
	out := map[ClientRef][]Address{}
	byEntity := map[segment.Entity][]ClientRef{}
	for _, ref := range refs {
		if _, seen := out[ref]; !seen {
			out[ref] = nil
			byEntity[ref.Entity] = append(byEntity[ref.Entity], ref)
		}
	}
	cmds := map[segment.Entity]*redis.SliceCmd{}
	_, err := m.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for e, list := range byEntity {
			fields := make([]string, len(list))
			for i, ref := range list {
				fields[i] = id64(ref.ID)
			}
			cmds[e] = p.HMGet(ctx, m.addressRows(memberID, e), fields...)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("mirror %s: load addresses: %w", memberID, err)
	}
	for e, list := range byEntity {
		for i, v := range cmds[e].Val() {
			s, _ := v.(string)
			out[list[i]] = decodeAddresses(list[i], s)
		}
	}
	return out, nil
}

// eachAddressList streams every client's packed addresses of an entity.
func (m *Mirror) eachAddressList(ctx context.Context, memberID string, e segment.Entity, fn func(id int64, list string)) error {
	key := m.addressRows(memberID, e)
	var cursor uint64
	for {
		kv, next, err := m.rdb.HScan(ctx, key, cursor, "*", 1000).Result()
		if err != nil {
			return fmt.Errorf("mirror %s: scan addresses of %s: %w", memberID, e, err)
		}
		for i := 1; i < len(kv); i += 2 {
			if id, err := strconv.ParseInt(kv[i-1], 10, 64); err == nil {
				fn(id, kv[i])
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// LocationValue is a value a location fact has in the portal, with how
// many clients have it.
type LocationValue struct {
	Value   string `json:"value"`
	Country string `json:"country,omitempty"` // the region's or city's most common country
	Count   int    `json:"count"`
}

// LocationValues are the values each location fact has among an entity's
// clients, the most common first, at most limit each (0: all): what the
// editor offers. Spellings that match alike are one value, written as
// most clients have it.
func (m *Mirror) LocationValues(ctx context.Context, memberID string, e segment.Entity, limit int) (map[string][]LocationValue, error) {
	type tally struct {
		spellings map[string]int
		countries map[string]int
		n         int
	}
	facts := []string{segment.FactCountry, segment.FactRegion, segment.FactCity, segment.FactPostalPrefix}
	tallies := map[string]map[string]*tally{}
	for _, f := range facts {
		tallies[f] = map[string]*tally{}
	}
	add := func(fact, v, country string) {
		if v == "" {
			return
		}
		k := segment.MatchKey(fact, v)
		t := tallies[fact][k]
		if t == nil {
			t = &tally{spellings: map[string]int{}, countries: map[string]int{}}
			tallies[fact][k] = t
		}
		t.n++
		t.spellings[v]++
		if country != "" {
			t.countries[country]++
		}
	}
	err := m.eachLocation(ctx, memberID, e, func(l segment.Location) {
		add(segment.FactCountry, l.Country, "")
		add(segment.FactRegion, l.Region, l.Country)
		add(segment.FactCity, l.City, l.Country)
		add(segment.FactPostalPrefix, l.Postal, l.Country)
	})
	if err != nil {
		return nil, err
	}
	most := func(counts map[string]int) string {
		best, n := "", 0
		for s, c := range counts {
			if c > n || c == n && s < best {
				best, n = s, c
			}
		}
		return best
	}
	out := map[string][]LocationValue{}
	for _, f := range facts {
		list := []LocationValue{}
		for _, t := range tallies[f] {
			list = append(list, LocationValue{Value: most(t.spellings), Country: most(t.countries), Count: t.n})
		}
		slices.SortFunc(list, func(a, b LocationValue) int {
			return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Value, b.Value))
		})
		if limit > 0 && len(list) > limit {
			list = list[:limit]
		}
		out[f] = list
	}
	return out, nil
}

// eachLocation streams the location of every client of an entity that has
// one, reading its row and addresses but not its title or activities.
func (m *Mirror) eachLocation(ctx context.Context, memberID string, e segment.Entity, fn func(segment.Location)) error {
	if err := m.ready(ctx, memberID); err != nil {
		return err
	}
	return m.each(ctx, memberID, e, scanParts{addrs: true}, func(r record) error {
		c, err := r.client(e)
		if err != nil {
			return err
		}
		if l := c.Location(); !l.IsZero() {
			fn(l)
		}
		return nil
	})
}
