package app_test

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
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
