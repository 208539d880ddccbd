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

// registerEntityMethods serves crm.{deal,contact,company}.get/list/add/update/delete/fields.
func (p *Portal) registerEntityMethods(e *entity) {
	prefix := "crm." + strings.ToLower(e.name) + "."
	p.methods[prefix+"fields"] = func(p *Portal, c *Call) (any, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.crm.fieldsInfo(e, false), nil
	}
	p.methods[prefix+"get"] = func(p *Portal, c *Call) (any, error) {
		id, ok := c.Params.Int("id")
		if !ok || id <= 0 {
			return nil, &Error{Status: 400, Description: "ID is not defined or invalid."}
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		r := e.get(id)
		if r == nil {
			return nil, errNotFound()
		}
		return p.crm.renderV2(e, r, selectAll), nil
	}
	p.methods[prefix+"list"] = func(p *Portal, c *Call) (any, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		res := p.crm.resolveV2(e)
		conds, err := p.crm.parseFilter(c.Params.Map("filter"), res, dialectV2)
		if err != nil {
			return nil, err
		}
		q := query{conds: conds, order: parseOrder(c.Params.Map("order"), res), start: parseStart(c.Params)}
		sel := parseSelect(c.Params.Strings("select"), res, selectAll)
		page, total, next := p.crm.run(e, q)
		rows := make([]any, len(page))
		for i, r := range page {
			rows[i] = p.crm.renderV2(e, r, sel)
		}
		return ListResult{Items: rows, Total: total, Next: next}, nil
	}
	p.methods[prefix+"add"] = func(p *Portal, c *Call) (any, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		r, err := p.crmAdd(e, c.Params.Map("fields"), restWriter(c, modeV2))
		if err != nil {
			return nil, err
		}
		return int(r.id), nil
	}
	p.methods[prefix+"update"] = func(p *Portal, c *Call) (any, error) {
		id, ok := c.Params.Int("id")
		if !ok || id <= 0 {
			return nil, &Error{Status: 400, Description: "ID is not defined or invalid."}
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		// params (REGISTER_SONET_EVENT, REGISTER_HISTORY_EVENT) are accepted
		// and change nothing here: events fire regardless.
		if _, err := p.crmUpdate(e, id, c.Params.Map("fields"), restWriter(c, modeV2)); err != nil {
			return nil, err
		}
		return true, nil
	}
	p.methods[prefix+"delete"] = func(p *Portal, c *Call) (any, error) {
		id, ok := c.Params.Int("id")
		if !ok || id <= 0 {
			return nil, &Error{Status: 400, Description: "ID is not defined or invalid."}
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		if err := p.crmDelete(e, id, restWriter(c, modeV2)); err != nil {
			return nil, err
		}
		return true, nil
	}
}

func (c *crmState) resolveV2(e *entity) resolver { return c.v2Resolver(e) }

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

// registerItemMethods serves crm.item.get/list/add/update/delete/fields and
// crm.item.productrow.list.
func (p *Portal) registerItemMethods() {
	p.methods["crm.item.fields"] = func(p *Portal, c *Call) (any, error) {
		e, err := p.itemEntity(c)
		if err != nil {
			return nil, err
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		return map[string]any{"fields": p.crm.fieldsInfo(e, true)}, nil
	}
	p.methods["crm.item.get"] = func(p *Portal, c *Call) (any, error) {
		e, err := p.itemEntity(c)
		if err != nil {
			return nil, err
		}
		id, _ := c.Params.Int("id")
		p.mu.Lock()
		defer p.mu.Unlock()
		r := e.get(id)
		if r == nil {
			return nil, errItemNotFound()
		}
		return map[string]any{"item": p.crm.renderItem(e, r, selectAll, origUF(c))}, nil
	}
	p.methods["crm.item.list"] = func(p *Portal, c *Call) (any, error) {
		e, err := p.itemEntity(c)
		if err != nil {
			return nil, err
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		orig := origUF(c)
		res := p.crm.itemResolver(e, orig)
		conds, err := p.crm.parseFilter(c.Params.Map("filter"), res, dialectItem)
		if err != nil {
			return nil, err
		}
		q := query{conds: conds, order: parseOrder(c.Params.Map("order"), res), start: parseStart(c.Params)}
		sel := parseSelectFor(c.Params.Strings("select"), res, selectAll, true)
		page, total, next := p.crm.run(e, q)
		items := make([]any, len(page))
		for i, r := range page {
			items[i] = p.crm.renderItem(e, r, sel, orig)
		}
		return ListResult{Items: map[string]any{"items": items}, Total: total, Next: next}, nil
	}
	p.methods["crm.item.add"] = func(p *Portal, c *Call) (any, error) {
		e, err := p.itemEntity(c)
		if err != nil {
			return nil, err
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		w := restWriter(c, modeItem)
		w.origUF = origUF(c)
		r, err := p.crmAdd(e, c.Params.Map("fields"), w)
		if err != nil {
			return nil, err
		}
		return map[string]any{"item": p.crm.renderItem(e, r, selectAll, w.origUF)}, nil
	}
	p.methods["crm.item.update"] = func(p *Portal, c *Call) (any, error) {
		e, err := p.itemEntity(c)
		if err != nil {
			return nil, err
		}
		id, _ := c.Params.Int("id")
		p.mu.Lock()
		defer p.mu.Unlock()
		w := restWriter(c, modeItem)
		w.origUF = origUF(c)
		r, err := p.crmUpdate(e, id, c.Params.Map("fields"), w)
		if err != nil {
			return nil, err
		}
		return map[string]any{"item": p.crm.renderItem(e, r, selectAll, w.origUF)}, nil
	}
	p.methods["crm.item.delete"] = func(p *Portal, c *Call) (any, error) {
		e, err := p.itemEntity(c)
		if err != nil {
			return nil, err
		}
		id, _ := c.Params.Int("id")
		p.mu.Lock()
		defer p.mu.Unlock()
		if err := p.crmDelete(e, id, restWriter(c, modeItem)); err != nil {
			return nil, err
		}
		return []any{}, nil
	}
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

// registerProductMethods serves crm.product.list/get over the catalog.
func (p *Portal) registerProductMethods() {
	e := p.crm.product
	p.methods["crm.product.get"] = func(p *Portal, c *Call) (any, error) {
		id, _ := c.Params.Int("id")
		p.mu.Lock()
		defer p.mu.Unlock()
		r := e.get(id)
		if r == nil {
			return nil, errNotFound()
		}
		return p.crm.renderV2(e, r, selectAll), nil
	}
	p.methods["crm.product.list"] = func(p *Portal, c *Call) (any, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		res := p.crm.resolveV2(e)
		conds, err := p.crm.parseFilter(c.Params.Map("filter"), res, dialectV2)
		if err != nil {
			return nil, err
		}
		q := query{conds: conds, order: parseOrder(c.Params.Map("order"), res), start: parseStart(c.Params)}
		sel := parseSelect(c.Params.Strings("select"), res, selectAll)
		page, total, next := p.crm.run(e, q)
		rows := make([]any, len(page))
		for i, r := range page {
			rows[i] = p.crm.renderV2(e, r, sel)
		}
		return ListResult{Items: rows, Total: total, Next: next}, nil
	}
	p.methods["crm.product.fields"] = func(p *Portal, c *Call) (any, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.crm.fieldsInfo(e, false), nil
	}
}
