package bitrix

import (
	"maps"
	"strconv"
)

// The CRM's methods, as commands: each constructor names a command for a
// batch (Portal.Batch, BatchAll) or a single call (Portal.Do). Callers
// never spell a method name; the services below do, as the documentation
// (bitrix24/b24restdocs, api-reference/crm/) gives them.

// Entity is a CRM entity with its own v2 methods (crm.contact.*, ...).
type Entity string

// The entities the app reads and writes.
const (
	EntityContact Entity = "contact"
	EntityCompany Entity = "company"
	EntityDeal    Entity = "deal"
	EntityLead    Entity = "lead"
)

// TypeID is the entity's entityTypeId in crm.item.* (api-reference/crm/data-types.md).
func (e Entity) TypeID() int {
	switch e {
	case EntityLead:
		return 1
	case EntityDeal:
		return 2
	case EntityContact:
		return 3
	case EntityCompany:
		return 4
	}
	return 0
}

// Records are an entity's v2 methods: crm.{entity}.list, .update, .fields.
type Records struct{ Entity Entity }

// RecordsOf returns the v2 methods of an entity.
func RecordsOf(e Entity) Records { return Records{Entity: e} }

func (r Records) method(verb string) string { return "crm." + string(r.Entity) + "." + verb }

// List is one page of crm.{entity}.list: UPPER_CASE fields, rows as the
// result; filter keys take the v2 prefixes (@ID for a list of ids).
func (r Records) List(name string, select_ []string, filter map[string]any, start int) Command {
	return Command{Name: name, Method: r.method("list"), Params: listParams(select_, filter, map[string]string{"ID": "ASC"}, start)}
}

// Lister is the keyset scan of crm.{entity}.list by ID.
func (r Records) Lister(select_ []string, filter map[string]any) Lister {
	return Lister{Method: r.method("list"), Params: selectParams(select_), Filter: filter, IDField: "ID"}
}

// Update is crm.{entity}.update of one record's fields, without a live
// feed entry for it (REGISTER_SONET_EVENT=N).
func (r Records) Update(name string, id int64, fields map[string]any) Command {
	return Command{Name: name, Method: r.method("update"), Params: map[string]any{
		"id": id, "fields": fields, "params": map[string]string{"REGISTER_SONET_EVENT": "N"}}}
}

// Fields is crm.{entity}.fields, the entity's field descriptions.
func (r Records) Fields(name string) Command { return Command{Name: name, Method: r.method("fields")} }

// UserFields are the entity's crm.{entity}.userfield.* methods.
func (r Records) UserFields() UserFields { return UserFields{Entity: r.Entity} }

// UserFields are crm.{entity}.userfield.list, .add, .update.
type UserFields struct{ Entity Entity }

func (u UserFields) method(verb string) string {
	return "crm." + string(u.Entity) + ".userfield." + verb
}

// Named lists the user fields called fieldName (UF_CRM_…); at most one.
func (u UserFields) Named(name, fieldName string) Command {
	return Command{Name: name, Method: u.method("list"), Params: map[string]any{"filter": map[string]any{"FIELD_NAME": fieldName}}}
}

// Add creates a user field.
func (u UserFields) Add(name string, fields map[string]any) Command {
	return Command{Name: name, Method: u.method("add"), Params: map[string]any{"fields": fields}}
}

// Update changes a user field (its list items, for an enumeration).
func (u UserFields) Update(name string, id int, fields map[string]any) Command {
	return Command{Name: name, Method: u.method("update"), Params: map[string]any{"id": id, "fields": fields}}
}

// Items are the universal crm.item.* methods of one entity type
// (api-reference/crm/universal/): camelCase fields, rows under "items";
// user fields keep their UF_CRM_ names with useOriginalUfNames=Y.
type Items struct{ TypeID int }

// ItemsOf returns the crm.item.* methods of an entity.
func ItemsOf(e Entity) Items { return Items{TypeID: e.TypeID()} }

// List is one page of crm.item.list (@id for a list of ids).
func (it Items) List(name string, select_ []string, filter map[string]any, start int) Command {
	p := listParams(select_, filter, map[string]string{"id": "ASC"}, start)
	p["entityTypeId"], p["useOriginalUfNames"] = it.TypeID, "Y"
	return Command{Name: name, Method: "crm.item.list", Params: p}
}

// Lister is the keyset scan of crm.item.list by id.
func (it Items) Lister(select_ []string, filter map[string]any) Lister {
	p := selectParams(select_)
	p["entityTypeId"], p["useOriginalUfNames"] = it.TypeID, "Y"
	return Lister{Method: "crm.item.list", Params: p, Filter: filter, IDField: "id", RowsKey: "items"}
}

// Update is crm.item.update of one item (a deal's pipeline moves here:
// categoryId with stageId).
func (it Items) Update(name string, id int64, fields map[string]any) Command {
	return Command{Name: name, Method: "crm.item.update", Params: map[string]any{
		"entityTypeId": it.TypeID, "id": id, "fields": fields, "useOriginalUfNames": "Y"}}
}

// ProductRows is crm.item.productrow.list of deals
// (api-reference/crm/universal/product-rows/crm-item-productrow-list.md):
// the filter must hold =ownerType and =ownerId; "=" with a list is IN.
var ProductRows productRows

type productRows struct{}

// OfDeals scans the product rows of the deals given, by row id.
func (productRows) OfDeals(deals []int64) Lister {
	return Lister{Method: "crm.item.productrow.list", Filter: map[string]any{"=ownerType": "D", "=ownerId": deals},
		IDField: "id", RowsKey: "productRows"}
}

// Products is the outdated crm.product.list, which the docs keep serving
// (api-reference/crm/outdated/products/crm-product-list.md): products with
// their SECTION_ID.
var Products products

type products struct{}

// Lister scans every product's ID and SECTION_ID.
func (products) Lister() Lister {
	return Lister{Method: "crm.product.list", Params: selectParams([]string{"ID", "SECTION_ID"}), IDField: "ID"}
}

// ByID reads up to 50 products by ID.
func (products) ByID(name string, ids []int64) Command {
	return Command{Name: name, Method: "crm.product.list", Params: map[string]any{
		"filter": map[string]any{"@ID": ids}, "select": []string{"ID", "SECTION_ID"}, "start": -1}}
}

// Catalog is the trade catalog (scope catalog, api-reference/catalog/).
var Catalog catalog

type catalog struct{}

// Catalogs is catalog.catalog.list (administrators), the portal's trade
// catalogs with their information blocks.
func (catalog) Catalogs(name string) ListCommand {
	return ListCommand{Name: name, Method: "catalog.catalog.list", RowsKey: "catalogs"}
}

// Products scans the products of one catalog's information block with
// their section (iblockSectionId).
func (catalog) Products(iblock int) Lister {
	return Lister{Method: "catalog.product.list", Params: selectParams([]string{"id", "iblockId", "iblockSectionId"}),
		Filter: map[string]any{"iblockId": iblock}, IDField: "id", RowsKey: "products"}
}

// ProductsByID reads up to 50 products of one information block by id.
func (catalog) ProductsByID(name string, iblock int, ids []int64) Command {
	return Command{Name: name, Method: "catalog.product.list", Params: map[string]any{
		"filter": map[string]any{"iblockId": iblock, "=id": ids}, "select": []string{"id", "iblockId", "iblockSectionId"}, "start": -1}}
}

// Statuses are the CRM's reference lists, crm.status.* (types, sources,
// stages: api-reference/crm/status/).
var Statuses statuses

type statuses struct{}

// All reads every list's values, every page of them.
func (statuses) All(name string) ListCommand {
	return ListCommand{Name: name, Method: "crm.status.list", Params: map[string]any{"order": map[string]string{"SORT": "ASC"}}}
}

// Add is crm.status.add: a value of one list (ENTITY_ID).
func (statuses) Add(name string, fields map[string]any) Command {
	return Command{Name: name, Method: "crm.status.add", Params: map[string]any{"fields": fields}}
}

// Categories is crm.category.list: an entity type's pipelines.
var Categories categories

type categories struct{}

// Of reads every pipeline of an entity type.
func (categories) Of(name string, e Entity) ListCommand {
	return ListCommand{Name: name, Method: "crm.category.list", Params: map[string]any{"entityTypeId": e.TypeID()}, RowsKey: "categories"}
}

// Currencies is crm.currency.list.
var Currencies currencies

type currencies struct{}

// All reads every currency with its rate.
func (currencies) All(name string) ListCommand {
	return ListCommand{Name: name, Method: "crm.currency.list"}
}

func selectParams(select_ []string) map[string]any {
	p := map[string]any{}
	if len(select_) > 0 {
		p["select"] = select_
	}
	return p
}

func listParams(select_ []string, filter map[string]any, order map[string]string, start int) map[string]any {
	p := selectParams(select_)
	if filter != nil {
		p["filter"] = filter
	}
	p["order"] = order
	p["start"] = start
	return p
}

// Lister is a list method read by keyset: the method with its base params
// (select, entityTypeId, ...), the filter every page carries, the id field
// pages are ordered and continued by, and where a page's rows are (""
// when the result is the list).
type Lister struct {
	Method  string
	Params  map[string]any
	Filter  map[string]any
	IDField string
	RowsKey string
}

// Page is the command reading the page after the id given: a number, or a
// "$result[...]" reference to the previous page's last id inside a batch.
// start=-1 skips the count; 0 asks for it (total).
func (l Lister) Page(name string, after any, count bool) Command {
	filter := maps.Clone(l.Filter)
	if filter == nil {
		filter = map[string]any{}
	}
	filter[">"+l.IDField] = after
	params := maps.Clone(l.Params)
	if params == nil {
		params = map[string]any{}
	}
	params["filter"] = filter
	params["order"] = map[string]string{l.IDField: "ASC"}
	params["start"] = -1
	if count {
		params["start"] = 0
	}
	return Command{Name: name, Method: l.Method, Params: params}
}

// LastID is the reference to a page's last id, for the next page's filter
// in the same batch.
func (l Lister) LastID(page string) string {
	ref := "$result[" + page + "]"
	if l.RowsKey != "" {
		ref += "[" + l.RowsKey + "]"
	}
	return ref + "[" + strconv.Itoa(PageSize-1) + "][" + l.IDField + "]"
}
