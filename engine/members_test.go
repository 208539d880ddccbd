package engine

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"segmentor/app"
	"segmentor/app/segment"
)

// Members lists exactly the records carrying a key in the mirror (the
// records in no segment for ""), in id order with their titles, and the
// reason it hands to why is the one the card tab's Explain gives each
// record under the saved rules: contacts over RFM quintiles, deals seeing
// the segments their clients carry.
func TestMembersListCarriersWithTheCardTabsReason(t *testing.T) {
	ctx := context.Background()
	p := newAnalystPortal(t)
	const contacts, companies, deals = 300, 40, 900
	var cl, co []*app.MirrorClient
	for i := int64(1); i <= contacts; i++ {
		cl = append(cl, p.client(i))
	}
	for i := int64(1); i <= companies; i++ {
		co = append(co, p.client(i))
	}
	var ds []*app.MirrorDeal
	for i := int64(1); i <= deals; i++ {
		d := p.deal(i, contacts, companies)
		// A deal names a contact once in Bitrix24; the generator may
		// repeat one, which the base would count twice and the card
		// tab's index once.
		slices.Sort(d.ContactIDs)
		d.ContactIDs = slices.Compact(d.ContactIDs)
		d.Key = []string{"", "premium"}[p.rng.IntN(2)]
		ds = append(ds, d)
	}
	if err := p.mirror.PutClients(ctx, analystMember, segment.EntityContact, cl); err != nil {
		t.Fatal(err)
	}
	if err := p.mirror.PutClients(ctx, analystMember, segment.EntityCompany, co); err != nil {
		t.Fatal(err)
	}
	if err := p.mirror.PutDeals(ctx, analystMember, ds); err != nil {
		t.Fatal(err)
	}
	if _, err := p.store.PutConfig(ctx, analystMember, 0, json.RawMessage(analystConfig), 1); err != nil {
		t.Fatal(err)
	}
	cfg, err := segment.ParseConfig([]byte(analystConfig))
	if err != nil {
		t.Fatal(err)
	}
	a := &Analyst{Store: p.store, Mirror: p.mirror, Clock: p.clk.Now, Workers: 3}
	asJSON := func(r segment.Reason) string {
		b, err := json.Marshal(r)
		if err != nil {
			t.Error(err)
		}
		return string(b)
	}

	carriers := func(rows []*app.MirrorClient, deals []*app.MirrorDeal, key string) (ids []int64, titles map[int64]string) {
		titles = map[int64]string{}
		for _, c := range rows {
			if c.Key == key {
				ids, titles[c.ID] = append(ids, c.ID), c.Title
			}
		}
		for _, d := range deals {
			if d.Key == key {
				ids, titles[d.ID] = append(ids, d.ID), d.Title
			}
		}
		slices.Sort(ids)
		return ids, titles
	}
	pending := 0
	for _, tc := range []struct {
		e     segment.Entity
		key   string
		every int // explain every n-th member
	}{
		{segment.EntityContact, "vip", 1}, {segment.EntityContact, "rest", 1}, {segment.EntityContact, "", 1},
		{segment.EntityContact, "busy", 3}, {segment.EntityDeal, "premium", 7}, {segment.EntityDeal, "", 7},
	} {
		var want []int64
		var titles map[int64]string
		if tc.e == segment.EntityDeal {
			want, titles = carriers(nil, ds, tc.key)
		} else {
			want, titles = carriers(cl, nil, tc.key)
		}
		got, err := a.Members(ctx, analystMember, tc.e, tc.key, &cfg, asJSON)
		if err != nil {
			t.Fatal(err)
		}
		ids := make([]int64, len(got))
		for i, m := range got {
			ids[i] = m.ID
			if m.Title != titles[m.ID] {
				t.Errorf("%s %d: title %q, want %q", tc.e, m.ID, m.Title, titles[m.ID])
			}
		}
		if len(want) == 0 || !slices.Equal(ids, want) {
			t.Fatalf("%s %q: members %v, want %v", tc.e, tc.key, ids, want)
		}
		for i := 0; i < len(got); i += tc.every {
			rs, err := a.Explain(ctx, analystMember, tc.e, got[i].ID)
			if err != nil {
				t.Fatal(err)
			}
			if rs.Result == nil {
				t.Fatalf("%s %d: no verdict", tc.e, got[i].ID)
			}
			if w := asJSON(rs.Result.Reason()); got[i].Why != w {
				t.Errorf("%s %d in %q: why %s, the card tab's %s", tc.e, got[i].ID, tc.key, got[i].Why, w)
			}
			if rs.Result.Key != tc.key {
				pending++
			}
		}
	}
	if pending == 0 {
		t.Error("every record carries its verdict: the test does not cover a pending one")
	}

	// Without why (or rules for the type) nothing is evaluated.
	got, err := a.Members(ctx, analystMember, segment.EntityCompany, "vip", &cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := carriers(co, nil, "vip"); len(got) != len(want) || len(got) == 0 || got[0].Why != "" || got[0].ID != want[0] {
		t.Errorf("companies without why: %+v, want %v", got, want)
	}
	// A key no record carries lists none.
	if got, err := a.Members(ctx, analystMember, segment.EntityContact, "nosuch", &cfg, asJSON); err != nil || len(got) != 0 {
		t.Errorf("nosuch: %v, %v", got, err)
	}
}
