package app_test

import (
	"context"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"segmentor/app"
	"segmentor/app/segment"
	"segmentor/internal/redistest"
)

func company(id int64) app.ClientRef { return app.ClientRef{Entity: segment.EntityCompany, ID: id} }
func contact(id int64) app.ClientRef { return app.ClientRef{Entity: segment.EntityContact, ID: id} }

func address(rq int64, typ int, owner app.ClientRef, country, region, city, postal string) app.Address {
	return app.Address{Requisite: rq, Type: typ, Owner: owner, Location: segment.Location{Country: country, Region: region, City: city, Postal: postal}}
}

// A client is at its first requisite's address, the legal one before the
// registered, physical, mailing, shipping and beneficiary ones; an address
// with nothing known is passed over; without any, its own address fields.
func TestChooseLocation(t *testing.T) {
	warsaw := segment.Location{Country: "PL", Region: "Mazowieckie", City: "Warszawa", Postal: "00"}
	krakow := segment.Location{Country: "PL", Region: "Małopolskie", City: "Kraków", Postal: "30"}
	berlin := segment.Location{Country: "DE", Region: "Berlin", City: "Berlin", Postal: "10"}
	at := func(rq int64, typ int, l segment.Location) app.Address {
		return app.Address{Requisite: rq, Type: typ, Owner: company(1), Location: l}
	}
	tests := []struct {
		name  string
		addrs []app.Address
		own   *segment.Location
		want  segment.Location
	}{
		{"the legal address before the physical one", []app.Address{at(7, 1, krakow), at(7, 6, warsaw)}, nil, warsaw},
		{"the physical before shipping", []app.Address{at(7, 11, berlin), at(7, 1, krakow)}, nil, krakow},
		{"the first requisite before a branch's", []app.Address{at(9, 6, berlin), at(7, 1, krakow)}, nil, krakow},
		{"an empty address is passed over", []app.Address{at(7, 6, segment.Location{}), at(9, 1, berlin)}, nil, berlin},
		{"a type added later comes last", []app.Address{at(7, 42, berlin), at(7, 9, krakow)}, nil, krakow},
		{"requisites before its own fields", []app.Address{at(7, 8, krakow)}, &berlin, krakow},
		{"its own fields without requisites", nil, &berlin, berlin},
		{"nothing", nil, nil, segment.Location{}},
	}
	for _, tt := range tests {
		c := app.MirrorClient{ID: 1, Addresses: tt.addrs, Own: tt.own}
		if diff := cmp.Diff(tt.want, c.Location()); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
		if got := c.Client(segment.EntityCompany).Location; got != tt.want {
			t.Errorf("%s: the rules see %+v", tt.name, got)
		}
	}
}

// The addresses live beside the rows: every load of a client brings them,
// a rewrite of the row keeps them, and a requisite's change is logged as
// its client's; a deleted requisite leaves its client through the index,
// and the same addresses again change nothing.
func TestMirrorAddresses(t *testing.T) {
	ctx := context.Background()
	rdb, _ := redistest.New(t)
	m := app.NewMirror(rdb)
	const mid = "p1"
	own := segment.Location{Country: "PL", Region: "Pomorskie", City: "Gdańsk", Postal: "80"}
	if err := m.PutClients(ctx, mid, segment.EntityCompany, []*app.MirrorClient{{ID: 1, Title: "Alfa"}, {ID: 2, Own: &own}}); err != nil {
		t.Fatal(err)
	}
	if err := m.PutClients(ctx, mid, segment.EntityContact, []*app.MirrorClient{{ID: 1}}); err != nil {
		t.Fatal(err)
	}
	legal := address(10, 6, company(1), "PL", "Mazowieckie", "Warszawa", "00")
	physical := address(10, 1, company(1), "PL", "Małopolskie", "Kraków", "30")
	branch := address(11, 6, company(1), "DE", "Bayern", "München", "80")
	home := address(12, 1, contact(1), "CZ", "Hlavní město Praha", "Praha", "11")
	if err := m.ReplaceAddresses(ctx, mid, []app.Address{physical, branch, legal, home}); err != nil {
		t.Fatal(err)
	}
	load := func(e segment.Entity, id int64) *app.MirrorClient {
		t.Helper()
		rows, err := m.Clients(ctx, mid, e, []int64{id})
		if err != nil || rows[id] == nil {
			t.Fatalf("load %s %d: %v", e, id, err)
		}
		return rows[id]
	}
	c1 := load(segment.EntityCompany, 1)
	if diff := cmp.Diff([]app.Address{physical, legal, branch}, c1.Addresses); diff != "" {
		t.Errorf("company 1's addresses (-want +got):\n%s", diff)
	}
	if got := c1.Location(); got.City != "Warszawa" {
		t.Errorf("company 1 is at %+v, want its legal address", got)
	}
	if got := load(segment.EntityCompany, 2).Location(); got != own {
		t.Errorf("company 2 is at %+v, want its own fields' %+v", got, own)
	}
	if got := load(segment.EntityContact, 1).Location().Country; got != "CZ" {
		t.Errorf("contact 1 in %q", got)
	}
	// A rewrite of the row keeps the addresses; a scan brings them too.
	c1.Title = "Alfa SA"
	if err := m.PutClients(ctx, mid, segment.EntityCompany, []*app.MirrorClient{c1}); err != nil {
		t.Fatal(err)
	}
	n := 0
	err := m.EachClient(ctx, mid, segment.EntityCompany, func(c *app.MirrorClient) error {
		if c.ID == 1 {
			n = len(c.Addresses)
		}
		return nil
	})
	if err != nil || n != 3 {
		t.Errorf("a scan brought %d addresses of company 1 (%v), want 3", n, err)
	}

	// The requisite 10 loses its legal address: the physical one counts.
	gen, _ := m.Generation(ctx, mid)
	touched, err := m.PutRequisites(ctx, mid, []int64{10}, []app.Address{physical})
	if err != nil || !slices.Equal(touched, []app.ClientRef{company(1)}) {
		t.Fatalf("touched %v, %v; want company 1", touched, err)
	}
	ch, _ := m.ChangesSince(ctx, mid, gen)
	if !slices.Equal(ch.IDs[segment.EntityCompany], []int64{1}) || len(ch.IDs[segment.EntityContact]) != 0 {
		t.Errorf("logged %+v, want company 1", ch.IDs)
	}
	if got := load(segment.EntityCompany, 1).Location(); got.City != "Kraków" {
		t.Errorf("after the legal address went: %+v", got)
	}
	// The same again: nothing changes, nothing is logged.
	gen, _ = m.Generation(ctx, mid)
	if touched, err := m.PutRequisites(ctx, mid, []int64{10}, []app.Address{physical}); err != nil || len(touched) != 0 {
		t.Errorf("an echo touched %v (%v)", touched, err)
	}
	if ch, _ := m.ChangesSince(ctx, mid, gen); ch.Count() != 0 {
		t.Errorf("an echo logged %+v", ch.IDs)
	}
	// Requisite 10 deleted: its event names only it, the index its client;
	// the branch's address is what is left.
	if touched, err := m.PutRequisites(ctx, mid, []int64{10}, nil); err != nil || !slices.Equal(touched, []app.ClientRef{company(1)}) {
		t.Errorf("deleted requisite: touched %v (%v)", touched, err)
	}
	if got := load(segment.EntityCompany, 1).Location(); got.Country != "DE" {
		t.Errorf("after the requisite went: %+v", got)
	}
	// A new requisite of company 2, and an address of a requisite not asked
	// for, which is not taken.
	extra := address(13, 6, company(2), "PL", "Śląskie", "Katowice", "40")
	stray := address(99, 6, company(2), "FR", "", "Paris", "75")
	if touched, err := m.PutRequisites(ctx, mid, []int64{13}, []app.Address{extra, stray}); err != nil || !slices.Equal(touched, []app.ClientRef{company(2)}) {
		t.Errorf("new requisite: touched %v (%v)", touched, err)
	}
	if got := load(segment.EntityCompany, 2); got.Location().City != "Katowice" || len(got.Addresses) != 1 {
		t.Errorf("company 2: %+v", got.Addresses)
	}
	// A deleted client takes its addresses along.
	if err := m.DeleteClients(ctx, mid, segment.EntityContact, []int64{1}); err != nil {
		t.Fatal(err)
	}
	if err := m.PutClients(ctx, mid, segment.EntityContact, []*app.MirrorClient{{ID: 1}}); err != nil {
		t.Fatal(err)
	}
	if got := load(segment.EntityContact, 1); len(got.Addresses) != 0 {
		t.Errorf("a contact deleted and back has %v", got.Addresses)
	}
	// A full sync that finds fewer: the rest go, and the index with them.
	if err := m.ReplaceAddresses(ctx, mid, []app.Address{extra}); err != nil {
		t.Fatal(err)
	}
	if got := load(segment.EntityCompany, 1); len(got.Addresses) != 0 {
		t.Errorf("company 1 keeps %v after a sync found none", got.Addresses)
	}
	if touched, err := m.PutRequisites(ctx, mid, []int64{11}, nil); err != nil || len(touched) != 0 {
		t.Errorf("requisite 11, gone with the sync, still touched %v (%v)", touched, err)
	}
}

// The editor's values: every location fact's values among the clients,
// the requisites' and the own fields' alike, spellings that match alike
// counted as one and written as most write them, the most common first.
func TestLocationValues(t *testing.T) {
	ctx := context.Background()
	rdb, _ := redistest.New(t)
	m := app.NewMirror(rdb)
	const mid = "p1"
	own := segment.Location{Country: "PL", Region: "Mazowieckie", City: "WARSZAWA", Postal: "00"}
	var rows []*app.MirrorClient
	for id := int64(1); id <= 6; id++ {
		rows = append(rows, &app.MirrorClient{ID: id})
	}
	rows[5].Own = &own
	if err := m.PutClients(ctx, mid, segment.EntityCompany, rows); err != nil {
		t.Fatal(err)
	}
	if err := m.ReplaceAddresses(ctx, mid, []app.Address{
		address(1, 6, company(1), "PL", "Mazowieckie", "Warszawa", "00"),
		address(2, 6, company(2), "PL", "Mazowieckie", "Warszawa", "02"),
		address(3, 6, company(3), "PL", "Małopolskie", "Kraków", "30"),
		address(4, 6, company(4), "DE", "bayern", "München", "80"),
		address(5, 6, company(5), "DE", "Bayern", "München", "81"),
	}); err != nil {
		t.Fatal(err)
	}
	got, err := m.LocationValues(ctx, mid, segment.EntityCompany, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]app.LocationValue{
		"country": {{Value: "PL", Count: 4}, {Value: "DE", Count: 2}},
		"region": {{Value: "Mazowieckie", Country: "PL", Count: 3}, {Value: "Bayern", Country: "DE", Count: 2},
			{Value: "Małopolskie", Country: "PL", Count: 1}},
		"city": {{Value: "Warszawa", Country: "PL", Count: 3}, {Value: "München", Country: "DE", Count: 2},
			{Value: "Kraków", Country: "PL", Count: 1}},
		"postal_prefix": {{Value: "00", Country: "PL", Count: 2}, {Value: "02", Country: "PL", Count: 1},
			{Value: "30", Country: "PL", Count: 1}, {Value: "80", Country: "DE", Count: 1}, {Value: "81", Country: "DE", Count: 1}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("values (-want +got):\n%s", diff)
	}
	if got, _ := m.LocationValues(ctx, mid, segment.EntityCompany, 1); len(got["region"]) != 1 || len(got["country"]) != 1 {
		t.Errorf("limit 1: %v", got)
	}
	if got, err := m.LocationValues(ctx, mid, segment.EntityContact, 0); err != nil || len(got["country"]) != 0 {
		t.Errorf("no contacts: %v, %v", got, err)
	}
}
