package app_test

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"segmentor/app"
	"segmentor/app/segment"
	"segmentor/internal/redistest"
)

func dealIDs(ds []*app.MirrorDeal) []int64 {
	out := []int64{}
	for _, d := range ds {
		out = append(out, d.ID)
	}
	return out
}

func TestMirrorClientIndex(t *testing.T) {
	ctx := context.Background()
	rdb, _ := redistest.New(t)
	m := app.NewMirror(rdb)
	const mid = "p1"
	co := func(id int64) app.ClientRef { return app.ClientRef{Entity: segment.EntityCompany, ID: id} }
	ct := func(id int64) app.ClientRef { return app.ClientRef{Entity: segment.EntityContact, ID: id} }

	err := m.PutDeals(ctx, mid, []*app.MirrorDeal{
		{ID: 1, CompanyID: 10, ContactIDs: []int64{100}, Semantic: "S", Amount: "12.50", Currency: "EUR", Created: 1700000000},
		{ID: 2, CompanyID: 10, Semantic: "P"},
		{ID: 3, ContactIDs: []int64{100, 101}, Semantic: "F"},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.ClientDeals(ctx, mid, []app.ClientRef{co(10), ct(100), ct(101), co(11)})
	if err != nil {
		t.Fatal(err)
	}
	want := map[app.ClientRef][]int64{co(10): {1, 2}, ct(100): {1, 3}, ct(101): {3}, co(11): {}}
	for ref, ids := range want {
		if d := cmp.Diff(ids, dealIDs(got[ref])); d != "" {
			t.Errorf("%v: %s", ref, d)
		}
	}

	// Deal 1 moves to company 11 and loses its contact; deal 3 is deleted.
	if err := m.PutDeals(ctx, mid, []*app.MirrorDeal{{ID: 1, CompanyID: 11, Semantic: "S"}}); err != nil {
		t.Fatal(err)
	}
	if err := m.DeleteDeals(ctx, mid, []int64{3}); err != nil {
		t.Fatal(err)
	}
	got, err = m.ClientDeals(ctx, mid, []app.ClientRef{co(10), co(11), ct(100), ct(101)})
	if err != nil {
		t.Fatal(err)
	}
	want = map[app.ClientRef][]int64{co(10): {2}, co(11): {1}, ct(100): {}, ct(101): {}}
	for ref, ids := range want {
		if d := cmp.Diff(ids, dealIDs(got[ref])); d != "" {
			t.Errorf("after move: %v: %s", ref, d)
		}
	}
	n := 0
	if err := m.EachDeal(ctx, mid, func(*app.MirrorDeal) error { n++; return nil }); err != nil || n != 2 {
		t.Errorf("EachDeal saw %d deals, %v", n, err)
	}
	// Another portal sees nothing.
	if c, _ := m.Count(ctx, "p2", segment.EntityDeal); c != 0 {
		t.Errorf("p2 has %d deals", c)
	}
}

func TestMirrorRowsConvert(t *testing.T) {
	ctx := context.Background()
	rdb, _ := redistest.New(t)
	m := app.NewMirror(rdb)
	in := &app.MirrorDeal{ID: 7, CompanyID: 3, ContactIDs: []int64{4}, CategoryID: 2, StageID: "C2:WON", Semantic: "S",
		Amount: "1500.25", Currency: "EUR", Created: 1700000000, Closed: 1700500000, TypeID: "SALE", Segment: 41,
		Key: "vip", Sections: []int{1, 3}, Fields: map[string]string{"SOURCE_ID": "WEB"}}
	if err := m.PutDeals(ctx, "p", []*app.MirrorDeal{in}); err != nil {
		t.Fatal(err)
	}
	got, err := m.Deals(ctx, "p", []int64{7, 8})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(in, got[7]); d != "" || len(got) != 1 {
		t.Fatalf("round trip: %s (%d rows)", d, len(got))
	}
	sd := got[7].Deal()
	if sd.Semantic != segment.Won || sd.Amount.String() != "1500.25" || sd.Closed.Unix() != 1700500000 || sd.CategoryID != 2 {
		t.Errorf("segment.Deal = %+v", sd)
	}
	cur := got[7].Current()
	if cur.SegmentItem != 41 || cur.TypeID != "SALE" || cur.StageID != "C2:WON" {
		t.Errorf("Current = %+v", cur)
	}

	cl := &app.MirrorClient{ID: 4, TypeID: "CLIENT", Segment: 9, Key: "regular", Fields: map[string]string{"SOURCE_ID": "CALL"}}
	if err := m.PutClients(ctx, "p", segment.EntityContact, []*app.MirrorClient{cl}); err != nil {
		t.Fatal(err)
	}
	cs, err := m.Clients(ctx, "p", segment.EntityContact, []int64{4})
	if err != nil || cmp.Diff(cl, cs[4]) != "" {
		t.Fatalf("client round trip: %v %v", cs[4], err)
	}
	if c := cs[4].Client(segment.EntityContact); c.TypeID != "CLIENT" || c.Entity != segment.EntityContact {
		t.Errorf("segment.Client = %+v", c)
	}
}

// TestMirrorMemory fills a mirror with 100,000 deals shaped like the
// simulator's (and 25,000 clients) and reports the Redis memory they take.
// It needs a real Redis (REDIS_URL); miniredis has no memory accounting.
func TestMirrorMemory(t *testing.T) {
	if !redistest.Real() || testing.Short() {
		t.Skip("needs REDIS_URL")
	}
	ctx := context.Background()
	rdb, _ := redistest.New(t)
	used := func() int64 {
		info, err := rdb.Info(ctx, "memory").Result()
		if err != nil {
			t.Fatal(err)
		}
		n, _ := strconv.ParseInt(regexp.MustCompile(`used_memory:(\d+)`).FindStringSubmatch(info)[1], 10, 64)
		return n
	}
	m := app.NewMirror(rdb)
	before := used()
	const n = 100000
	deals := make([]*app.MirrorDeal, 0, 5000)
	for i := int64(1); i <= n; i++ {
		deals = append(deals, &app.MirrorDeal{ID: i, CompanyID: 1 + i%5000, ContactIDs: []int64{1 + i%20000},
			CategoryID: int(i % 3), StageID: "C1:EXECUTING", Semantic: "P", Amount: fmt.Sprintf("%d.50", 1000+i%90000),
			Currency: "USD", Created: 1700000000 + i*300, Closed: 1700000000 + i*300 + 86400*30, TypeID: "SALE",
			Segment: 101, Key: "premium", Sections: []int{1, 4}, Fields: map[string]string{"SOURCE_ID": "WEB"}})
		if len(deals) == cap(deals) {
			if err := m.PutDeals(ctx, "mem", deals); err != nil {
				t.Fatal(err)
			}
			deals = deals[:0]
		}
	}
	afterDeals := used()
	var clients []*app.MirrorClient
	for i := int64(1); i <= 20000; i++ {
		clients = append(clients, &app.MirrorClient{ID: i, TypeID: "CLIENT", Segment: 12, Key: "regular"})
	}
	if err := m.PutClients(ctx, "mem", segment.EntityContact, clients); err != nil {
		t.Fatal(err)
	}
	after := used()
	t.Logf("100,000 deals with their client index: %.1f MB (%d bytes a deal); 20,000 contacts: %.1f MB",
		float64(afterDeals-before)/1e6, (afterDeals-before)/n, float64(after-afterDeals)/1e6)
}

// A client with more deals than a listpack value holds keeps them in a set
// of its own; its deals read the same through every change, and it keeps
// the set until its last deal leaves.
func TestMirrorIndexOfABigClient(t *testing.T) {
	ctx := context.Background()
	rdb, _ := redistest.New(t)
	m := app.NewMirror(rdb)
	const mid = "p1"
	big := app.ClientRef{Entity: segment.EntityCompany, ID: 5}
	other := app.ClientRef{Entity: segment.EntityCompany, ID: 6}
	want := []int64{}
	var deals []*app.MirrorDeal
	for id := int64(1000); id < 1000+300*97; id += 97 {
		deals = append(deals, &app.MirrorDeal{ID: id, CompanyID: 5, Semantic: "P"})
		want = append(want, id)
	}
	check := func(when string, want map[app.ClientRef][]int64) {
		t.Helper()
		got, err := m.ClientDeals(ctx, mid, []app.ClientRef{big, other})
		if err != nil {
			t.Fatal(err)
		}
		for ref, ids := range want {
			if d := cmp.Diff(ids, dealIDs(got[ref])); d != "" {
				t.Errorf("%s: %v: %s", when, ref, d)
			}
		}
	}
	// One at a time, as live changes come: the list grows past a listpack
	// value on the way.
	for _, d := range deals[:40] {
		if err := m.PutDeals(ctx, mid, []*app.MirrorDeal{d}); err != nil {
			t.Fatal(err)
		}
	}
	check("after 40 deals", map[app.ClientRef][]int64{big: want[:40], other: {}})
	if err := m.PutDeals(ctx, mid, deals[40:]); err != nil {
		t.Fatal(err)
	}
	check("after 300 deals", map[app.ClientRef][]int64{big: want, other: {}})
	// Half move to the other company, a few are deleted.
	for _, d := range deals[:150] {
		d.CompanyID = 6
	}
	if err := m.PutDeals(ctx, mid, deals[:150]); err != nil {
		t.Fatal(err)
	}
	if err := m.DeleteDeals(ctx, mid, []int64{want[0], want[299]}); err != nil {
		t.Fatal(err)
	}
	check("after the move", map[app.ClientRef][]int64{big: want[150:299], other: want[1:150]})
	if err := m.DeleteDeals(ctx, mid, want); err != nil {
		t.Fatal(err)
	}
	check("after every deal left", map[app.ClientRef][]int64{big: {}, other: {}})
}

// Writers of the same clients' deals at once never undo each other's
// index links (the deals are in separate row buckets, so only the index
// is shared).
func TestMirrorIndexConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	rdb, _ := redistest.New(t)
	m := app.NewMirror(rdb)
	const mid = "p1"
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for w := range 4 {
		wg.Go(func() {
			for i := range 25 {
				id := int64(1+w+4*i) * 128
				d := &app.MirrorDeal{ID: id, CompanyID: 1 + id/128%2, ContactIDs: []int64{7}, Semantic: "P"}
				if errs[w] = m.PutDeals(ctx, mid, []*app.MirrorDeal{d}); errs[w] != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got, err := m.ClientDeals(ctx, mid, []app.ClientRef{{Entity: segment.EntityCompany, ID: 1}, {Entity: segment.EntityCompany, ID: 2}, {Entity: segment.EntityContact, ID: 7}})
	if err != nil {
		t.Fatal(err)
	}
	var evens, odds, all []int64 // company 1 has the even ids/128, company 2 the odd
	for n := int64(1); n <= 100; n++ {
		id := n * 128
		all = append(all, id)
		if n%2 == 0 {
			evens = append(evens, id)
		} else {
			odds = append(odds, id)
		}
	}
	for ref, want := range map[app.ClientRef][]int64{{Entity: segment.EntityCompany, ID: 1}: evens, {Entity: segment.EntityCompany, ID: 2}: odds, {Entity: segment.EntityContact, ID: 7}: all} {
		if d := cmp.Diff(want, dealIDs(got[ref])); d != "" {
			t.Errorf("%v: %s", ref, d)
		}
	}
}
