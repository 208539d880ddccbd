package app

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"segmentor/app/segment"
	"segmentor/internal/keyspace"
	"segmentor/internal/redistest"
)

// oldPortal is a mirror's content as layout 1 held it, with what its
// records' activities and addresses are (kept in keys no layout changed).
type oldPortal struct {
	deals     []*MirrorDeal
	clients   map[segment.Entity][]*MirrorClient
	acts      []Activity
	addresses []Address
}

// newOldPortal makes a portal with the cases a conversion must carry: big
// companies (their deal lists outgrow a listpack value), rows and titles
// too long for a bucket, deals without clients or pointing at a deleted
// client, sparse and large ids, locations, activities and addresses.
func newOldPortal() oldPortal {
	p := oldPortal{clients: map[segment.Entity][]*MirrorClient{}}
	for i := int64(1); i <= 300; i++ {
		c := &MirrorClient{ID: i * 7, TypeID: "CLIENT", Segment: 101, Key: "regular", Title: fmt.Sprintf("Contact %d", i),
			Fields: map[string]string{"SOURCE_ID": []string{"WEB", "CALL", "UF_VALUE"}[i%3]}}
		if i%10 == 0 {
			c.Own = &segment.Location{Country: "PL", Region: "Mazowieckie", City: "Warszawa", Postal: "00"}
		}
		if i%50 == 0 {
			c.Title = strings.Repeat("Долгое имя ", 10) // 210 bytes: the long titles' hash
		}
		p.clients[segment.EntityContact] = append(p.clients[segment.EntityContact], c)
	}
	for i := int64(1); i <= 40; i++ {
		c := &MirrorClient{ID: i, TypeID: "CUSTOMER", Title: fmt.Sprintf("Company %d LLC", i)}
		if i == 3 {
			c.Fields = map[string]string{"UF_CRM_NOTES": strings.Repeat("x", 80)} // a row for the long rows' hash
		}
		p.clients[segment.EntityCompany] = append(p.clients[segment.EntityCompany], c)
	}
	for i := int64(1); i <= 1500; i++ {
		id := i * 3
		if i > 1400 {
			id = 1<<33 + i // a portal's ids need not be dense
		}
		d := &MirrorDeal{ID: id, Title: fmt.Sprintf("Order #%d", id), CategoryID: int(i % 3), Semantic: []string{"P", "S", "F"}[i%3],
			Amount: fmt.Sprintf("%d.%02d", 100+i*7, i%100), Currency: "EUR", Created: 1_700_000_000 + i*3600, TypeID: "SALE",
			Segment: 201, Key: "standard"}
		d.StageID = map[int]string{0: "NEW", 1: "C1:WON", 2: "C2:LOSE"}[d.CategoryID]
		if d.Semantic != "P" {
			d.Closed = d.Created + 86400*i%30
		}
		switch {
		case i%25 == 0: // no client
		case i%7 == 0:
			d.CompanyID = 1 + i%4 // four big companies, ~50 deals each
			d.ContactIDs = []int64{7 * (1 + i%300)}
		default:
			d.CompanyID = 1 + i%40
			d.ContactIDs = []int64{7 * (1 + i%300), 7 * (1 + (i+1)%300)}
		}
		if i%97 == 0 {
			d.ContactIDs = append(d.ContactIDs, 999_999) // a contact deleted from the mirror
		}
		if i%200 == 0 {
			d.Sections = []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
			d.Fields = map[string]string{"UF_CRM_1712345678": strings.Repeat("long ", 12)}
			d.Title = strings.Repeat("Поставка оборудования ", 4)
		}
		p.deals = append(p.deals, d)
	}
	p.acts = []Activity{
		{ID: 1, Owner: ActivityOwner{segment.EntityDeal, 3}, Activity: segment.Activity{At: 1_700_100_000, Type: segment.ActivityCall}},
		{ID: 2, Owner: ActivityOwner{segment.EntityContact, 14}, Activity: segment.Activity{At: 1_700_200_000, Type: segment.ActivityEmail, Open: true}},
	}
	p.addresses = []Address{{Requisite: 5, Type: 6, Owner: ClientRef{segment.EntityCompany, 2},
		Location: segment.Location{Country: "PL", Region: "Małopolskie", City: "Kraków", Postal: "30"}}}
	return p
}

// seedOld writes the portal in layout 1 directly, as the code before
// layout versions did: JSON rows in one hash per entity, a set of deal ids
// per client. Activities and addresses go through the mirror (their keys
// are the same in both layouts), and so does a change log entry.
func (p oldPortal) seedOld(t *testing.T, rdb *redis.Client, member string) {
	t.Helper()
	ctx := context.Background()
	_, err := rdb.Pipelined(ctx, func(pl redis.Pipeliner) error {
		for e, list := range p.clients {
			for _, c := range list {
				js, _ := json.Marshal(c)
				pl.HSet(ctx, keyspace.Portal(member, "m:"+string(e)), id64(c.ID), js)
			}
		}
		for _, d := range p.deals {
			js, _ := json.Marshal(d)
			pl.HSet(ctx, keyspace.Portal(member, "m:deal"), id64(d.ID), js)
			for _, c := range d.Clients() {
				pl.SAdd(ctx, keyspace.Portal(member, "m:x:"+string(c.Entity)+":"+id64(c.ID)), d.ID)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	p.seedBeside(t, NewMirror(rdb), member)
}

// seedBeside writes what both layouts keep alike.
func (p oldPortal) seedBeside(t *testing.T, m *Mirror, member string) {
	t.Helper()
	ctx := context.Background()
	if _, err := m.PutActivities(ctx, member, p.acts); err != nil {
		t.Fatal(err)
	}
	if err := m.ReplaceAddresses(ctx, member, p.addresses); err != nil {
		t.Fatal(err)
	}
	if err := m.SetRates(ctx, member, segment.Rates{Base: "EUR"}); err != nil {
		t.Fatal(err)
	}
}

// reads is everything the mirror answers about a portal's records.
type reads struct {
	Deals, Scanned          map[int64]*MirrorDeal
	Clients, ScannedClients map[segment.Entity]map[int64]*MirrorClient
	Index                   map[ClientRef][]int64
	IDs                     map[segment.Entity][]int64
	Counts                  map[segment.Entity]int
	Locations               map[segment.Entity]map[string][]LocationValue
}

func (p oldPortal) read(t *testing.T, m *Mirror, member string) reads {
	t.Helper()
	ctx := context.Background()
	r := reads{Scanned: map[int64]*MirrorDeal{}, Clients: map[segment.Entity]map[int64]*MirrorClient{},
		ScannedClients: map[segment.Entity]map[int64]*MirrorClient{}, IDs: map[segment.Entity][]int64{},
		Counts: map[segment.Entity]int{}, Locations: map[segment.Entity]map[string][]LocationValue{}}
	var ids []int64
	var refs []ClientRef
	for _, d := range p.deals {
		ids = append(ids, d.ID)
		refs = append(refs, d.Clients()...)
	}
	var err error
	if r.Deals, err = m.Deals(ctx, member, append(ids, 4, 1<<40)); err != nil {
		t.Fatal(err)
	}
	if err := m.EachDeal(ctx, member, func(d *MirrorDeal) error { r.Scanned[d.ID] = d; return nil }); err != nil {
		t.Fatal(err)
	}
	for e, list := range p.clients {
		var cids []int64
		for _, c := range list {
			cids = append(cids, c.ID)
			refs = append(refs, ClientRef{e, c.ID})
		}
		if r.Clients[e], err = m.Clients(ctx, member, e, cids); err != nil {
			t.Fatal(err)
		}
		r.ScannedClients[e] = map[int64]*MirrorClient{}
		if err := m.EachClient(ctx, member, e, func(c *MirrorClient) error { r.ScannedClients[e][c.ID] = c; return nil }); err != nil {
			t.Fatal(err)
		}
		if r.Locations[e], err = m.LocationValues(ctx, member, e, 0); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range []segment.Entity{segment.EntityDeal, segment.EntityContact, segment.EntityCompany} {
		if r.IDs[e], err = m.IDs(ctx, member, e); err != nil {
			t.Fatal(err)
		}
		if r.Counts[e], err = m.Count(ctx, member, e); err != nil {
			t.Fatal(err)
		}
	}
	of, err := m.ClientDeals(ctx, member, append(refs, ClientRef{segment.EntityCompany, 12345}))
	if err != nil {
		t.Fatal(err)
	}
	r.Index = map[ClientRef][]int64{}
	for c, list := range of {
		r.Index[c] = []int64{}
		for _, d := range list {
			r.Index[c] = append(r.Index[c], d.ID)
		}
	}
	return r
}

// want is what layout 1 read: each row as its JSON gave it back, with its
// activities and addresses, and the index its sets held.
func (p oldPortal) want(t *testing.T, fresh reads) reads {
	t.Helper()
	w := reads{Deals: map[int64]*MirrorDeal{}, Clients: map[segment.Entity]map[int64]*MirrorClient{}, Index: map[ClientRef][]int64{},
		IDs: map[segment.Entity][]int64{}, Counts: map[segment.Entity]int{}}
	acts := map[ActivityOwner][]segment.Activity{}
	for _, a := range p.acts {
		acts[a.Owner] = append(acts[a.Owner], a.Activity)
	}
	for _, d := range p.deals {
		js, _ := json.Marshal(d)
		var back MirrorDeal
		if err := json.Unmarshal(js, &back); err != nil {
			t.Fatal(err)
		}
		back.Activities = acts[ActivityOwner{segment.EntityDeal, d.ID}]
		w.Deals[d.ID] = &back
		w.IDs[segment.EntityDeal] = append(w.IDs[segment.EntityDeal], d.ID)
		for _, c := range d.Clients() {
			w.Index[c] = append(w.Index[c], d.ID)
		}
	}
	for e, list := range p.clients {
		w.Clients[e] = map[int64]*MirrorClient{}
		for _, c := range list {
			js, _ := json.Marshal(c)
			var back MirrorClient
			if err := json.Unmarshal(js, &back); err != nil {
				t.Fatal(err)
			}
			back.Activities = acts[ActivityOwner{e, c.ID}]
			for _, a := range p.addresses {
				if a.Owner == (ClientRef{e, c.ID}) {
					back.Addresses = append(back.Addresses, a)
				}
			}
			w.Clients[e][c.ID] = &back
			w.IDs[e] = append(w.IDs[e], c.ID)
			if _, ok := w.Index[ClientRef{e, c.ID}]; !ok {
				w.Index[ClientRef{e, c.ID}] = []int64{}
			}
		}
	}
	w.Index[ClientRef{segment.EntityCompany, 12345}] = []int64{}
	for e, ids := range w.IDs {
		slices.Sort(ids)
		w.Counts[e] = len(ids)
	}
	w.Scanned, w.ScannedClients = w.Deals, w.Clients
	w.Locations = fresh.Locations // LocationValues has no simpler oracle: a mirror written afresh
	return w
}

// dump is every key of a portal with its value, but those a mirror layout
// owns (rows, titles, buckets, index, version).
func dump(t *testing.T, rdb *redis.Client, member string) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	prefix := keyspace.PortalPrefix(member)
	keys, err := rdb.Keys(ctx, strings.ReplaceAll(prefix, "{", "\\{")+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	layout := []string{"m:deal", "m:contact", "m:company", "m:n:", "m:b:", "m:x:", "m:ix:", "m:xs:", "m:layout"}
	for _, k := range keys {
		part := strings.TrimPrefix(k, prefix)
		if slices.ContainsFunc(layout, func(l string) bool { return strings.HasPrefix(part, l) }) {
			continue
		}
		out[part] = valueOf(t, rdb, k)
	}
	return out
}

// valueOf reads a key whatever its type (miniredis has DUMP for strings
// only).
func valueOf(t *testing.T, rdb *redis.Client, key string) string {
	t.Helper()
	ctx := context.Background()
	var v any
	var err error
	switch typ := rdb.Type(ctx, key).Val(); typ {
	case "string":
		v, err = rdb.Get(ctx, key).Result()
	case "hash":
		v, err = rdb.HGetAll(ctx, key).Result()
	case "set":
		var m []string
		m, err = rdb.SMembers(ctx, key).Result()
		slices.Sort(m)
		v = m
	case "zset":
		v, err = rdb.ZRangeWithScores(ctx, key, 0, -1).Result()
	case "list":
		v, err = rdb.LRange(ctx, key, 0, -1).Result()
	default:
		t.Fatalf("%s is a %s", key, typ)
	}
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprint(v)
}

// layoutKeys lists a portal's keys that match one of the key patterns.
func layoutKeys(t *testing.T, rdb *redis.Client, member string, patterns ...string) []string {
	t.Helper()
	var out []string
	for _, p := range patterns {
		keys, err := rdb.Keys(context.Background(), strings.ReplaceAll(keyspace.PortalPrefix(member), "{", "\\{")+p).Result()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, keys...)
	}
	slices.Sort(out)
	return out
}

// TestMirrorUpgradeFromLayout1 seeds a mirror in layout 1 and checks that
// the first access converts it: every read answers as layout 1 did (and
// as a mirror written afresh does), the old keys are gone, nothing else of
// the portal changed (change log, activities, addresses, rates), and the
// conversion runs once.
func TestMirrorUpgradeFromLayout1(t *testing.T) {
	ctx := context.Background()
	rdb, _ := redistest.New(t)
	p := newOldPortal()

	fresh := NewMirror(rdb)
	for e, list := range p.clients {
		if err := fresh.PutClients(ctx, "fresh", e, list); err != nil {
			t.Fatal(err)
		}
	}
	if err := fresh.PutDeals(ctx, "fresh", p.deals); err != nil {
		t.Fatal(err)
	}
	p.seedBeside(t, fresh, "fresh")
	freshReads := p.read(t, fresh, "fresh")
	want := p.want(t, freshReads)
	if d := cmp.Diff(want, freshReads); d != "" {
		t.Fatalf("a mirror written afresh reads otherwise than layout 1 did:\n%s", d)
	}

	const member = "old"
	p.seedOld(t, rdb, member)
	before := dump(t, rdb, member)
	m := NewMirror(rdb)
	if v, _ := m.layoutOf(ctx, member); v != 0 {
		t.Fatalf("layout before the first access = %d, want 0", v)
	}
	got := p.read(t, m, member)
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("reads after the upgrade differ from layout 1's:\n%s", d)
	}
	if v, _ := m.layoutOf(ctx, member); v != mirrorLayout {
		t.Errorf("layout after the upgrade = %d, want %d", v, mirrorLayout)
	}
	if old := layoutKeys(t, rdb, member, "m:deal", "m:contact", "m:company", "m:x:*"); len(old) > 0 {
		t.Errorf("layout 1's keys are left: %q", old)
	}
	for _, k := range []string{"m:deal:big", "m:n:deal:big", "m:n:contact:big", "m:company:big"} {
		if len(layoutKeys(t, rdb, member, k)) != 1 {
			t.Errorf("no %s: the long rows and titles should be outside the buckets", k)
		}
	}
	if sets := layoutKeys(t, rdb, member, "m:xs:company:*"); len(sets) < 4 {
		t.Errorf("the four big companies should have their deals in sets; found %q", sets)
	}
	if d := cmp.Diff(before, dump(t, rdb, member)); d != "" {
		t.Errorf("the upgrade changed keys it does not own:\n%s", d)
	}

	// Once converted, it is not converted again: a second run, by this
	// process or another, changes nothing.
	all := func() map[string]string {
		out := map[string]string{}
		for _, k := range layoutKeys(t, rdb, member, "*") {
			out[k] = valueOf(t, rdb, k)
		}
		return out
	}
	was := all()
	if err := NewMirror(rdb).upgrade(ctx, member); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(was, all()); d != "" {
		t.Errorf("a second upgrade changed the mirror:\n%s", d)
	}
}

// TestMirrorUpgradeResumes interrupts a conversion at its two points of
// no return, after some rows moved and after all did, and checks that the
// next access finishes it with every read as layout 1 answered.
func TestMirrorUpgradeResumes(t *testing.T) {
	ctx := context.Background()
	p := newOldPortal()
	for _, tt := range []struct {
		name  string
		moved []segment.Entity
	}{
		{"contacts moved", []segment.Entity{segment.EntityContact}},
		{"every row moved, no index yet", []segment.Entity{segment.EntityContact, segment.EntityCompany, segment.EntityDeal}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rdb, _ := redistest.New(t)
			fresh := NewMirror(rdb)
			for e, list := range p.clients {
				if err := fresh.PutClients(ctx, "fresh", e, list); err != nil {
					t.Fatal(err)
				}
			}
			if err := fresh.PutDeals(ctx, "fresh", p.deals); err != nil {
				t.Fatal(err)
			}
			p.seedBeside(t, fresh, "fresh")
			want := p.want(t, p.read(t, fresh, "fresh"))

			const member = "old"
			p.seedOld(t, rdb, member)
			crashed := NewMirror(rdb)
			if err := rdb.Set(ctx, crashed.layoutKey(member), 1, 0).Err(); err != nil {
				t.Fatal(err)
			}
			for _, e := range tt.moved {
				err := crashed.moveRows(ctx, member, e, func(id int64, js []byte) (string, string, error) {
					if e == segment.EntityDeal {
						var d MirrorDeal
						err := json.Unmarshal(js, &d)
						return encodeDeal(&d), d.Title, err
					}
					var c MirrorClient
					err := json.Unmarshal(js, &c)
					return encodeClient(&c), c.Title, err
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			if d := cmp.Diff(want, p.read(t, NewMirror(rdb), member)); d != "" {
				t.Errorf("reads after the resumed upgrade differ from layout 1's:\n%s", d)
			}
			if old := layoutKeys(t, rdb, member, "m:deal", "m:contact", "m:company", "m:x:*"); len(old) > 0 {
				t.Errorf("layout 1's keys are left: %q", old)
			}
		})
	}
}

// TestMirrorUpgradeOnce has several processes reach an old mirror at once:
// one converts, the others wait for it, and all read the same.
func TestMirrorUpgradeOnce(t *testing.T) {
	ctx := context.Background()
	rdb, _ := redistest.New(t)
	p := newOldPortal()
	p.seedOld(t, rdb, "old")
	var wg sync.WaitGroup
	counts := make([]int, 4)
	errs := make([]error, 4)
	for i := range counts {
		wg.Go(func() {
			m := NewMirror(rdb)
			errs[i] = m.EachDeal(ctx, "old", func(*MirrorDeal) error { counts[i]++; return nil })
		})
	}
	wg.Wait()
	for i := range counts {
		if errs[i] != nil || counts[i] != len(p.deals) {
			t.Errorf("process %d read %d deals, %v; want %d", i, counts[i], errs[i], len(p.deals))
		}
	}
	if keys := layoutKeys(t, rdb, "old", "m:layout-lock"); len(keys) > 0 {
		t.Errorf("the layout lock is left: %q", keys)
	}
}

// TestMirrorLayoutOfNewPortal: a portal first written by this code is in
// the current layout without a conversion.
func TestMirrorLayoutOfNewPortal(t *testing.T) {
	ctx := context.Background()
	rdb, _ := redistest.New(t)
	m := NewMirror(rdb)
	if err := m.PutDeals(ctx, "new", []*MirrorDeal{{ID: 1, CompanyID: 2}}); err != nil {
		t.Fatal(err)
	}
	if v, err := m.layoutOf(ctx, "new"); v != mirrorLayout || err != nil {
		t.Errorf("layout = %d, %v; want %d", v, err, mirrorLayout)
	}
	if old := layoutKeys(t, rdb, "new", "m:deal", "m:x:*"); len(old) > 0 {
		t.Errorf("layout 1's keys written: %q", old)
	}
	if got, err := m.ClientDeals(ctx, "new", []ClientRef{{segment.EntityCompany, 2}}); err != nil || len(got[ClientRef{segment.EntityCompany, 2}]) != 1 {
		t.Errorf("company 2's deals = %v, %v; want deal 1", got, err)
	}
}

// A mirror a newer build converted is not touched by an older one.
func TestMirrorLayoutFromTheFuture(t *testing.T) {
	ctx := context.Background()
	rdb, _ := redistest.New(t)
	m := NewMirror(rdb)
	if err := rdb.Set(ctx, m.layoutKey("p"), mirrorLayout+1, 0).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Deals(ctx, "p", []int64{1}); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("reading a newer layout: %v, want an error saying so", err)
	}
	if v, _ := m.layoutOf(ctx, "p"); v != mirrorLayout+1 {
		t.Errorf("layout = %d, want it left at %d", v, mirrorLayout+1)
	}
}
