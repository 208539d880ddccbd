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
		q := query{conds: p.crm.parseFilter(c.Params.Map("filter"), res), order: parseOrder(c.Params.Map("order"), res), start: parseStart(c.Params)}
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
		q := query{conds: p.crm.parseFilter(c.Params.Map("filter"), res), order: parseOrder(c.Params.Map("order"), res), start: parseStart(c.Params)}
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

// listRows serves crm.item.productrow.list: filter =ownerType (D), =ownerId
// or @ownerId, id comparisons (keyset >id), =productId; order by id.
func (c *crmState) listRows(ps Params) (any, error) {
	filter := ps.Map("filter")
	var owners map[int32]bool
	lo, hi := int32(1), int32(1<<31-1)
	var product int32
	for k, v := range filter {
		name := strings.TrimLeft(k, "=@<>!")
		op := k[:len(k)-len(name)]
		switch name {
		case "ownerType":
			if !strings.EqualFold(scalarString(v), "D") {
				return ListResult{Items: map[string]any{"productRows": []any{}}}, nil
			}
		case "ownerId":
			owners = map[int32]bool{}
			for _, x := range asList(v) {
				if n, ok := parseInt(x); ok {
					owners[int32(n)] = true
				}
			}
		case "productId":
			n, _ := parseInt(v)
			product = int32(n)
		case "id":
			n, ok := parseInt(v)
			if !ok {
				continue
			}
			switch op {
			case ">":
				lo = max(lo, int32(n)+1)
			case ">=":
				lo = max(lo, int32(n))
			case "<":
				hi = min(hi, int32(n)-1)
			case "<=":
				hi = min(hi, int32(n))
			case "=", "":
				lo, hi = max(lo, int32(n)), min(hi, int32(n))
			}
		}
	}
	if owners == nil {
		return nil, &Error{Status: 400, Code: "ERROR_ARGUMENT", Description: "ownerId and ownerType are required in the filter"}
	}
	desc := false
	for k, v := range ps.Map("order") {
		if k == "id" && strings.EqualFold(scalarString(v), "DESC") {
			desc = true
		}
	}
	start := parseStart(ps)
	var hits []*productRow
	collect := func(row *productRow) {
		if row.owner != 0 && owners[row.owner] && row.id >= lo && row.id <= hi && (product == 0 || row.product == product) {
			hits = append(hits, row)
		}
	}
	if len(owners) <= 50 {
		for id := range owners {
			if r := c.deal.get(int(id)); r != nil {
				for i := r.rowLo; i < r.rowLo+r.rowN; i++ {
					collect(&c.rows[i])
				}
			}
		}
	} else {
		i := sort.Search(len(c.rows), func(i int) bool { return c.rows[i].id >= lo })
		for ; i < len(c.rows) && c.rows[i].id <= hi; i++ {
			collect(&c.rows[i])
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
		q := query{conds: p.crm.parseFilter(c.Params.Map("filter"), res), order: parseOrder(c.Params.Map("order"), res), start: parseStart(c.Params)}
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
