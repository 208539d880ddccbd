package b24sim

import (
	"sort"
	"strconv"
	"strings"
)

func restWriter(c *Call, mode writeMode) writer {
	w := writer{mode: mode}
	if c.User != nil {
		w.userID = c.User.ID
	}
	return w
}

// crmAPI is one of the two ways the CRM's record methods speak: v2
// (crm.deal.*, crm.contact.*, …: UPPER_CASE fields, rows as the result, an
// empty-code "Not found") and the universal crm.item.* (camelCase fields,
// entityTypeId, answers under item and items). One set of handlers serves
// both.
type crmAPI struct {
	mode     writeMode
	dialect  filterDialect
	entity   func(p *Portal, c *Call) (*entity, error)
	id       func(c *Call) (int, error) // the record a get, update or delete names
	notFound func() *Error
	denied   func() *Error // a get of a record the user may not read
	resolve  func(p *Portal, e *entity, c *Call) resolver
	selected func(names []string, res resolver) selection
	render   func(p *Portal, e *entity, r *record, sel selection, c *Call) map[string]any
	one      func(rendered map[string]any) any // get's answer
	written  func(rendered map[string]any, created int) any
	rows     func(rows []any) any
	deleted  any
	fields   func(p *Portal, e *entity) any
}

// v2API is crm.{entity}.* of one entity.
func v2API(e *entity) crmAPI {
	return crmAPI{
		mode: modeV2, dialect: dialectV2,
		entity: func(*Portal, *Call) (*entity, error) { return e, nil },
		id: func(c *Call) (int, error) {
			if id, ok := c.Params.Int("id"); ok && id > 0 {
				return id, nil
			}
			return 0, &Error{Status: 400, Description: "ID is not defined or invalid."}
		},
		notFound: errNotFound,
		denied:   func() *Error { return &Error{Status: 400, Description: "Access denied"} },
		resolve:  func(p *Portal, e *entity, _ *Call) resolver { return p.crm.v2Resolver(e) },
		selected: func(names []string, res resolver) selection { return parseSelect(names, res, selectAll) },
		render: func(p *Portal, e *entity, r *record, sel selection, _ *Call) map[string]any {
			return p.crm.renderV2(e, r, sel)
		},
		one: func(m map[string]any) any { return m },
		written: func(_ map[string]any, created int) any {
			if created > 0 {
				return created
			}
			return true
		},
		rows:    func(rows []any) any { return rows },
		deleted: true,
		fields:  func(p *Portal, e *entity) any { return p.crm.fieldsInfo(e, false) },
	}
}

// itemAPI is crm.item.* (entityTypeId names the entity).
var itemAPI = crmAPI{
	mode: modeItem, dialect: dialectItem,
	entity: func(p *Portal, c *Call) (*entity, error) { return p.itemEntity(c) },
	id: func(c *Call) (int, error) {
		id, _ := c.Params.Int("id")
		return id, nil
	},
	notFound: errItemNotFound,
	denied: func() *Error {
		return &Error{Status: 400, Code: "ACCESS_DENIED", Description: "You do not have permission to view this item"}
	},
	resolve:  func(p *Portal, e *entity, c *Call) resolver { return p.crm.itemResolver(e, origUF(c)) },
	selected: func(names []string, res resolver) selection { return parseSelectFor(names, res, selectAll, true) },
	render: func(p *Portal, e *entity, r *record, sel selection, c *Call) map[string]any {
		return p.crm.renderItem(e, r, sel, origUF(c))
	},
	one:     func(m map[string]any) any { return map[string]any{"item": m} },
	written: func(m map[string]any, _ int) any { return map[string]any{"item": m} },
	rows:    func(rows []any) any { return map[string]any{"items": rows} },
	deleted: []any{},
	fields:  func(p *Portal, e *entity) any { return map[string]any{"fields": p.crm.fieldsInfo(e, true)} },
}

// registerRecordMethods serves prefix+get/list/add/update/delete/fields in
// the api's way.
func (p *Portal) registerRecordMethods(prefix string, api crmAPI) {
	p.methods[prefix+"fields"] = func(p *Portal, c *Call) (any, error) {
		e, err := api.entity(p, c)
		if err != nil {
			return nil, err
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		return api.fields(p, e), nil
	}
	p.methods[prefix+"get"] = func(p *Portal, c *Call) (any, error) {
		return api.onRecord(p, c, func(e *entity, r *record) (any, error) {
			if !readable(c, e, r) {
				return nil, api.denied()
			}
			return api.one(api.render(p, e, r, selectAll, c)), nil
		})
	}
	p.methods[prefix+"list"] = func(p *Portal, c *Call) (any, error) {
		e, err := api.entity(p, c)
		if err != nil {
			return nil, err
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		res := api.resolve(p, e, c)
		conds, err := p.crm.parseFilter(c.Params.Map("filter"), res, api.dialect)
		if err != nil {
			return nil, err
		}
		if u := c.User; u != nil && u.OwnOnly && !u.Admin {
			conds = append(conds, ownedBy(e, u.ID))
		}
		q := query{conds: conds, order: parseOrder(c.Params.Map("order"), res), start: parseStart(c.Params)}
		sel := api.selected(c.Params.Strings("select"), res)
		page, total, next := p.crm.run(e, q)
		rows := make([]any, len(page))
		for i, r := range page {
			rows[i] = api.render(p, e, r, sel, c)
		}
		return ListResult{Items: api.rows(rows), Total: total, Next: next}, nil
	}
	p.methods[prefix+"add"] = func(p *Portal, c *Call) (any, error) {
		e, err := api.entity(p, c)
		if err != nil {
			return nil, err
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		r, err := p.crmAdd(e, c.Params.Map("fields"), api.writer(c))
		if err != nil {
			return nil, err
		}
		return api.written(api.render(p, e, r, selectAll, c), int(r.id)), nil
	}
	p.methods[prefix+"update"] = func(p *Portal, c *Call) (any, error) {
		e, id, err := api.target(p, c)
		if err != nil {
			return nil, err
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		// v2's params (REGISTER_SONET_EVENT, REGISTER_HISTORY_EVENT) are
		// accepted and change nothing here: events fire regardless.
		r, err := p.crmUpdate(e, id, c.Params.Map("fields"), api.writer(c))
		if err != nil {
			return nil, err
		}
		return api.written(api.render(p, e, r, selectAll, c), 0), nil
	}
	p.methods[prefix+"delete"] = func(p *Portal, c *Call) (any, error) {
		e, id, err := api.target(p, c)
		if err != nil {
			return nil, err
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		if err := p.crmDelete(e, id, api.writer(c)); err != nil {
			return nil, err
		}
		return api.deleted, nil
	}
}

// onRecord runs fn on the record the call names, or answers not found.
func (api crmAPI) onRecord(p *Portal, c *Call, fn func(e *entity, r *record) (any, error)) (any, error) {
	e, id, err := api.target(p, c)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	r := e.get(id)
	if r == nil {
		return nil, api.notFound()
	}
	return fn(e, r)
}

// readable reports whether the call's user may read r (User.OwnOnly).
func readable(c *Call, e *entity, r *record) bool {
	u := c.User
	if u == nil || u.Admin || !u.OwnOnly {
		return true
	}
	f := e.f("ASSIGNED_BY_ID")
	return f == nil || r.n[f.slot] == int64(u.ID)
}

// ownedBy is the list condition of a user who reads only their own records.
func ownedBy(e *entity, userID int) cond {
	return cond{col: column{f: e.f("ASSIGNED_BY_ID")}, op: "=", vals: []cell{{n: int64(userID)}}}
}

// target is the entity and the record id a get, update or delete names.
func (api crmAPI) target(p *Portal, c *Call) (*entity, int, error) {
	e, err := api.entity(p, c)
	if err != nil {
		return nil, 0, err
	}
	id, err := api.id(c)
	return e, id, err
}

func (api crmAPI) writer(c *Call) writer {
	w := restWriter(c, api.mode)
	w.origUF = api.mode == modeItem && origUF(c)
	return w
}

// itemEntity reads entityTypeId; only deals, contacts and companies exist here.
func (p *Portal) itemEntity(c *Call) (*entity, error) {
	et, _ := c.Params.Int("entityTypeId")
	e := p.crm.entityByTypeID(et)
	if e == nil {
		return nil, &Error{Status: 400, Code: "NOT_FOUND", Description: "Smart process not found"}
	}
	return e, nil
}

func origUF(c *Call) bool {
	v := strings.ToUpper(c.Params.String("useOriginalUfNames"))
	return v == "Y" || v == "1" || v == "TRUE"
}

// registerItemMethods serves crm.item.* and the product rows' methods.
func (p *Portal) registerItemMethods() {
	p.registerRecordMethods("crm.item.", itemAPI)
	p.methods["crm.deal.productrows.get"] = func(p *Portal, c *Call) (any, error) {
		id, ok := c.Params.Int("id")
		if !ok || id <= 0 {
			return nil, &Error{Status: 400, Description: "The parameter 'ownerID' is invalid or not defined."}
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		r := p.crm.deal.get(id)
		if r == nil {
			return nil, errNotFound()
		}
		out := []any{}
		for i := r.rowLo; i < r.rowLo+r.rowN; i++ {
			out = append(out, p.crm.renderRow(&p.crm.rows[i], false))
		}
		return out, nil
	}
	p.methods["crm.item.productrow.list"] = func(p *Portal, c *Call) (any, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.crm.listRows(c.Params)
	}
}

func (c *crmState) productName(id int32) string {
	if r := c.product.get(int(id)); r != nil {
		return r.s[c.product.f("NAME").slot]
	}
	return ""
}

// renderRow renders a product row: v2 (crm.deal.productrows.get) sends the
// ids as strings and amounts as numbers; crm.item.productrow.* camelCase.
func (c *crmState) renderRow(row *productRow, item bool) map[string]any {
	price := centsNumber(row.price)
	name := c.productName(row.product)
	if item {
		return map[string]any{"id": row.id, "ownerId": row.owner, "ownerType": "D", "productId": row.product,
			"productName": name, "price": price, "priceAccount": price, "priceExclusive": price, "priceNetto": price,
			"priceBrutto": price, "quantity": row.qty, "discountTypeId": 2, "discountRate": 0, "discountSum": 0,
			"taxRate": nil, "taxIncluded": "N", "customized": "Y", "measureCode": 796, "measureName": "pcs",
			"sort": row.sort, "type": 1, "storeId": nil}
	}
	return map[string]any{"ID": strconv.Itoa(int(row.id)), "OWNER_ID": strconv.Itoa(int(row.owner)), "OWNER_TYPE": "D",
		"PRODUCT_ID": row.product, "PRODUCT_NAME": name, "ORIGINAL_PRODUCT_NAME": name, "PRODUCT_DESCRIPTION": nil,
		"PRICE": price, "PRICE_EXCLUSIVE": price, "PRICE_NETTO": price, "PRICE_BRUTTO": price,
		"PRICE_ACCOUNT": formatCents(row.price), "QUANTITY": row.qty, "DISCOUNT_TYPE_ID": 2, "DISCOUNT_RATE": 0,
		"DISCOUNT_SUM": 0, "TAX_RATE": nil, "TAX_INCLUDED": "N", "CUSTOMIZED": "Y", "MEASURE_CODE": 796,
		"MEASURE_NAME": "pcs", "SORT": row.sort, "XML_ID": nil, "TYPE": 1, "STORE_ID": nil}
}

// rowFields are the filterable fields of a product row (crm_item_product_row
// in api-reference/crm/data-types.md) that the simulator stores.
var rowFields = map[string]*fieldDef{
	"id": {name: "id", kind: kInt}, "ownerId": {name: "ownerId", kind: kInt}, "ownerType": {name: "ownerType", kind: kStr},
	"productId": {name: "productId", kind: kInt}, "productName": {name: "productName", kind: kStr},
	"price": {name: "price", kind: kFloat}, "quantity": {name: "quantity", kind: kFloat}, "sort": {name: "sort", kind: kInt},
}

// rowCell is a product row's value of one of rowFields.
func (c *crmState) rowCell(row *productRow, name string) cell {
	switch name {
	case "id":
		return cell{n: int64(row.id)}
	case "ownerId":
		return cell{n: int64(row.owner)}
	case "ownerType":
		return cell{s: "D"}
	case "productId":
		return cell{n: int64(row.product)}
	case "productName":
		return cell{s: c.productName(row.product)}
	case "price":
		return cell{x: float64(row.price) / 100}
	case "quantity":
		return cell{x: float64(row.qty)}
	}
	return cell{n: int64(row.sort)}
}

// listRows serves crm.item.productrow.list as its page documents it: the
// filter must hold =ownerType and =ownerId (code 100 otherwise), "=" with an
// array is IN, keys take the page's prefixes only, and a field the row does
// not have is refused. Rows come in id order, 50 a page.
func (c *crmState) listRows(ps Params) (any, error) {
	filter := ps.Map("filter")
	if _, ok := filter["=ownerType"]; !ok {
		return nil, errRequired()
	}
	if _, ok := filter["=ownerId"]; !ok {
		return nil, errRequired()
	}
	conds, err := c.parseFilter(filter, func(name string) (column, bool) {
		f := rowFields[name]
		return column{f: f}, f != nil
	}, dialectRows)
	if err != nil {
		return nil, err
	}
	desc := false
	for k, v := range ps.Map("order") {
		if k == "id" && strings.EqualFold(scalarString(v), "DESC") {
			desc = true
		}
	}
	// The owners narrow the rows looked at, as an index would.
	owners := map[int32]bool{}
	for _, x := range asList(filter["=ownerId"]) {
		if n, ok := parseInt(x); ok {
			owners[int32(n)] = true
		}
	}
	start := parseStart(ps)
	var hits []*productRow
	var buf [1]cell
	collect := func(row *productRow) {
		if row.owner == 0 || !owners[row.owner] {
			return
		}
		for i := range conds {
			buf[0] = c.rowCell(row, conds[i].col.f.name)
			if !conds[i].match(buf[:]) {
				return
			}
		}
		hits = append(hits, row)
	}
	for id := range owners {
		if r := c.deal.get(int(id)); r != nil {
			for i := r.rowLo; i < r.rowLo+r.rowN; i++ {
				collect(&c.rows[i])
			}
		}
	}
	sort.Slice(hits, func(i, j int) bool { return (hits[i].id < hits[j].id) != desc })
	from := max(start, 0)
	out := []any{}
	for i := from; i < len(hits) && i < from+PageSize; i++ {
		out = append(out, c.renderRow(hits[i], true))
	}
	res := ListResult{Items: map[string]any{"productRows": out}}
	if start >= 0 {
		res.Total = len(hits)
		if from+PageSize < len(hits) {
			res.Next = from + PageSize
		}
	}
	return res, nil
}

// registerProductMethods serves crm.product.get, .list and .fields over the
// catalog, the v2 way.
func (p *Portal) registerProductMethods() {
	api := v2API(p.crm.product)
	p.registerRecordMethods("crm.product.", api)
	for _, verb := range []string{"add", "update", "delete"} {
		delete(p.methods, "crm.product."+verb) // the simulator's catalog is read-only
	}
}
