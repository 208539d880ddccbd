package engine_test

import (
	"context"
	"slices"
	"testing"

	"segmentor/app"
	"segmentor/bitrix"
	"segmentor/bitrix/b24sim"
	"segmentor/engine"
	"segmentor/internal/testkit"
)

// A portal with 500 products, whose deals bought far more than a 50-row
// page of them: every bought product gets its catalog section, from the
// trade catalog (api-reference/catalog/product/catalog-product-list.md)
// or, on a portal without it, from crm.product.list
// (api-reference/crm/outdated/products/crm-product-list.md). A change of
// 250 deals whose products the mirror does not know reads them all in one
// request, 50 to a command; a full sync reads the whole catalog.
func TestProductSectionsOfALargeCatalog(t *testing.T) {
	for _, tc := range []struct {
		name      string
		noCatalog bool
		method    string
	}{
		{"trade catalog", false, "catalog.product.list"},
		{"no catalog module", true, "crm.product.list"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			e := newSimEngineEnv(t, b24sim.Options{RatePerSecond: -1, NoCatalog: tc.noCatalog},
				b24sim.GenOptions{Contacts: 100, Companies: 20, Deals: 600, Products: 500, MaxRows: 3}, bitrix.UnlimitedProfile())
			want := map[int64]int{}
			for r := range e.sim.Records("product") {
				want[testkit.Num(r["ID"])] = int(testkit.Num(r["SECTION_ID"]))
			}
			bought := func(deals []int64) []int64 {
				var out []int64
				for _, d := range deals {
					for _, row := range e.sim.ProductRows(int(d)) {
						if p := testkit.Num(row["PRODUCT_ID"]); !slices.Contains(out, p) {
							out = append(out, p)
						}
					}
				}
				return out
			}
			check := func(what string, products []int64) {
				t.Helper()
				got, err := app.NewMirror(e.rdb).ProductSections(ctx, e.memberID, products)
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range products {
					if s, ok := got[p]; !ok || s != want[p] || s == 0 {
						t.Errorf("%s: product %d has section %d (known %v), want %d", what, p, s, ok, want[p])
					}
				}
			}

			var first []int64
			for id := int64(1); id <= 250; id++ {
				first = append(first, id)
			}
			products := bought(first)
			if len(products) <= bitrix.PageSize {
				t.Fatalf("250 deals bought %d products: not more than a page", len(products))
			}
			e.sim.ResetLog()
			if err := e.cls.Apply(ctx, engine.Change{MemberID: e.memberID, Entity: "deal", IDs: first}); err != nil {
				t.Fatal(err)
			}
			check("after a change of 250 deals", products)
			lookups, commands := 0, 0
			for _, r := range e.sim.Requests() {
				n := 0
				for _, m := range r.Commands {
					if m == tc.method {
						n++
					}
				}
				if n > 0 {
					lookups++
					commands += n
				}
			}
			if want := (len(products) + bitrix.PageSize - 1) / bitrix.PageSize; lookups != 1 || commands != want {
				t.Errorf("%d unknown products looked up in %d requests of %d %s commands, want 1 of %d", len(products), lookups, commands, tc.method, want)
			}

			st, err := e.cls.Sync(ctx, e.memberID, engine.SyncOptions{Rows: true})
			if err != nil {
				t.Fatal(err)
			}
			if st.Products != 500 {
				t.Errorf("the sync read %d products of 500", st.Products)
			}
			var all []int64
			for r := range e.sim.Records("deal") {
				all = append(all, testkit.Num(r["ID"]))
			}
			check("after a full sync", bought(all))
			if other := map[bool]string{false: "crm.product.list", true: "catalog.product.list"}[tc.noCatalog]; e.sim.Stats().Methods[other] != 0 {
				t.Errorf("%s called on a portal that reads %s", other, tc.method)
			}
		})
	}
}
