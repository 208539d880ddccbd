package b24sim

import (
	"strings"
	"time"
)

// The trade catalog (scope catalog) over the same products crm.product.*
// serves: one product catalog (information block 25, the CRM catalog the
// product sections belong to) and its offers catalog (26), which holds no
// products here.
const (
	catalogIblock = 25
	offersIblock  = 26
)

// catalogFields maps catalog_product fields (api-reference/catalog/data-types.md)
// to the product's stored fields; iblockId is the catalog itself.
var catalogFields = map[string]string{
	"id": "ID", "name": "NAME", "iblockSectionId": "SECTION_ID", "active": "ACTIVE", "sort": "SORT",
	"measure": "MEASURE", "dateCreate": "DATE_CREATE", "timestampX": "TIMESTAMP_X",
}

// registerCatalogMethods serves catalog.catalog.list and
// catalog.product.list, unless the portal has no catalog module (then they
// do not exist, as on a portal without it).
func (p *Portal) registerCatalogMethods() {
	if p.opts.NoCatalog {
		return
	}
	p.methods["catalog.catalog.list"] = func(p *Portal, c *Call) (any, error) {
		// api-reference/catalog/catalog/catalog-catalog-list.md: administrators only.
		if c.User != nil && !c.User.Admin {
			return nil, &Error{Status: 403, Code: "ACCESS_DENIED", Description: "Access denied"}
		}
		rows := []any{
			map[string]any{"id": catalogIblock, "iblockId": catalogIblock, "iblockTypeId": "CRM_PRODUCT_CATALOG", "lid": "s1",
				"name": "CRM product catalog", "productIblockId": nil, "skuPropertyId": nil, "subscription": "N", "vatId": nil},
			map[string]any{"id": offersIblock, "iblockId": offersIblock, "iblockTypeId": "CRM_PRODUCT_CATALOG", "lid": "s1",
				"name": "CRM product catalog (offers)", "productIblockId": catalogIblock, "skuPropertyId": 97, "subscription": "N", "vatId": nil},
		}
		res := pageOf(rows, c.Params)
		res.Items = map[string]any{"catalogs": res.Items}
		return res, nil
	}
	p.methods["catalog.product.list"] = func(p *Portal, c *Call) (any, error) {
		return p.catalogProductList(c.Params)
	}
}

// catalogProductList follows api-reference/catalog/product/catalog-product-list.md:
// select must name id and iblockId, the filter must name iblockId, keys take
// that page's prefixes ("=" with an array is IN), and the answer is
// {"products": [...]} in camelCase, 50 a page.
func (p *Portal) catalogProductList(ps Params) (any, error) {
	sel := ps.Strings("select")
	if !containsFold(sel, "id") || !containsFold(sel, "iblockId") {
		return nil, &Error{Status: 400, Code: "0", Description: "Required select fields: id, iblockId"}
	}
	filter := ps.Map("filter")
	var iblock any
	rest := Params{}
	for k, v := range filter {
		switch strings.TrimSpace(k) {
		case "iblockId", "=iblockId":
			iblock = v
		default:
			rest[k] = v
		}
	}
	if iblock == nil {
		return nil, &Error{Status: 400, Code: "0", Description: "Required filter field: iblockId"}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	e := p.crm.product
	resolve := func(name string) (column, bool) {
		if f := e.byName[catalogFields[name]]; f != nil {
			return column{f: f}, true
		}
		return column{}, false
	}
	conds, err := p.crm.parseFilter(rest, resolve, dialectCatalog)
	if err != nil {
		return nil, err
	}
	var order []orderKey
	for k, v := range ps.Map("order") {
		col, ok := resolve(k)
		if !ok {
			return nil, &Error{Status: 400, Code: "0", Description: "Unknown order field " + k}
		}
		order = append(order, orderKey{col: col, desc: strings.EqualFold(scalarString(v), "DESC")})
	}
	if len(order) > 1 {
		order = order[:1] // JSON objects lose their key order here; one key is what callers send
	}
	inCatalog := false
	for _, v := range asList(iblock) {
		if n, ok := parseInt(v); ok && n == catalogIblock {
			inCatalog = true
		}
	}
	if !inCatalog {
		res := pageOf(nil, ps)
		res.Items = map[string]any{"products": res.Items}
		return res, nil
	}
	page, total, next := p.crm.run(e, query{conds: conds, order: order, start: parseStart(ps)})
	rows := make([]any, len(page))
	for i, r := range page {
		row := map[string]any{}
		for _, name := range sel {
			switch {
			case name == "iblockId":
				row[name] = catalogIblock
			case name == "iblockSectionId":
				sec := r.n[e.f("SECTION_ID").slot]
				if sec <= 0 {
					row[name] = nil
				} else {
					row[name] = sec
				}
			case catalogFields[name] != "":
				f := e.f(catalogFields[name])
				switch f.kind {
				case kStr:
					row[name] = r.s[f.slot]
				case kBool:
					row[name] = yn(r.n[f.slot] != 0)
				case kDate, kDateTime:
					row[name] = time.Unix(r.n[f.slot], 0).In(p.crm.zone).Format(time.RFC3339)
				default:
					if f.slot == slotID {
						row[name] = int(r.id)
					} else {
						row[name] = r.n[f.slot]
					}
				}
			}
		}
		rows[i] = row
	}
	return ListResult{Items: map[string]any{"products": rows}, Total: total, Next: next}, nil
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(strings.TrimSpace(x), s) {
			return true
		}
	}
	return false
}
