package b24sim

import "strings"

// fieldKind says how a field is stored, compared and rendered.
type fieldKind uint8

const (
	kStr      fieldKind = iota // text; null when empty
	kInt                       // integer; "12" in v2, 12 in crm.item.*
	kRef                       // id of another record or user; "0"/null semantics as kInt
	kMoney                     // cents; "12500.00" in v2, 12500 in crm.item.*
	kDate                      // unix seconds of a midnight in the portal's zone
	kDateTime                  // unix seconds
	kBool                      // "Y"/"N"
	kFloat                     // user fields of type double
)

// Special fields that are not stored in a slot.
const (
	slotID       = -1 // the record's id
	slotSemantic = -2 // STAGE_SEMANTIC_ID, derived from the stage
	slotContact  = -3 // CONTACT_ID: the first bound contact
	slotSparse   = -4 // text kept only when set, beside the user fields (fieldDef.sparse)
)

// fieldDef describes one standard field of an entity.
type fieldDef struct {
	name       string // UPPER_CASE, as v2 methods name it
	camel      string // as crm.item.* names it
	kind       fieldKind
	slot       int    // index into record.s (kStr) or record.n (others); or slot*
	typ        string // the type crm.*.fields reports
	statusType string // for crm_status fields: the crm.status ENTITY_ID
	readOnly   bool
	immutable  bool // settable on add only
	required   bool
	title      string
	// sparse, for slotSparse fields, is the negative id the value is kept
	// under in record.uf: rarely set fields cost a record nothing.
	sparse int32
}

// entity is one CRM entity type: its fields and its records.
type entity struct {
	name         string // DEAL, CONTACT, COMPANY, PRODUCT
	typeID       int    // crm.item entityTypeId; 0 when crm.item.* does not serve it
	ufEntityID   string // CRM_DEAL, ...; "" when it has no user fields
	fields       []*fieldDef
	byName       map[string]*fieldDef
	byCamel      map[string]*fieldDef
	nStr, nNum   int
	nSparse      int
	noSelect     map[string]bool // v2 list cannot select these
	records      []*record       // index id-1; nil when deleted or never used
	count        int
	lastID       int
	defaultTitle string
}

// record is one stored CRM record. Fixed arrays keep a record to one
// allocation; entity schemas use at most maxStr strings and maxNum numbers.
type record struct {
	id       int32
	s        [maxStr]string
	n        [maxNum]int64
	contacts []int32   // deals: bound contacts, the first is CONTACT_ID
	uf       []ufValue // set user fields only
	rowLo    int32     // deals: product rows are crm.rows[rowLo:rowLo+rowN]
	rowN     int32
}

const (
	maxStr = 6
	maxNum = 17
)

// ufValue is a user field value of a record: int64, float64, string, bool,
// or a []int64 / []string / []float64 for multiple fields.
type ufValue struct {
	field int32 // userField.id
	v     any
}

type fieldSpec struct {
	name, camel string
	kind        fieldKind
	typ         string
	statusType  string
	flags       string // r = read-only, i = immutable, q = required, s = sparse (kStr only)
	title       string
}

func newEntity(name string, typeID int, ufEntityID string, specs []fieldSpec) *entity {
	e := &entity{name: name, typeID: typeID, ufEntityID: ufEntityID,
		byName: map[string]*fieldDef{}, byCamel: map[string]*fieldDef{}, noSelect: map[string]bool{}}
	for _, sp := range specs {
		f := &fieldDef{name: sp.name, camel: sp.camel, kind: sp.kind, typ: sp.typ, statusType: sp.statusType,
			readOnly: strings.Contains(sp.flags, "r"), immutable: strings.Contains(sp.flags, "i"),
			required: strings.Contains(sp.flags, "q"), title: sp.title}
		switch {
		case sp.name == "ID":
			f.slot = slotID
		case sp.name == "STAGE_SEMANTIC_ID":
			f.slot = slotSemantic
		case sp.name == "CONTACT_ID":
			f.slot = slotContact
		case strings.Contains(sp.flags, "s"):
			e.nSparse++
			f.slot, f.sparse = slotSparse, -int32(e.nSparse)
		case sp.kind == kStr:
			f.slot = e.nStr
			e.nStr++
		default:
			f.slot = e.nNum
			e.nNum++
		}
		if f.title == "" {
			f.title = sp.name
		}
		e.fields = append(e.fields, f)
		e.byName[f.name] = f
		if f.camel != "" {
			e.byCamel[f.camel] = f
		}
	}
	if e.nStr > maxStr || e.nNum > maxNum {
		panic("b24sim: entity " + name + " has more fields than a record holds")
	}
	return e
}

func (e *entity) get(id int) *record {
	if id <= 0 || id > len(e.records) {
		return nil
	}
	return e.records[id-1]
}

func (e *entity) put(r *record) {
	id := int(r.id)
	for len(e.records) < id {
		e.records = append(e.records, nil)
	}
	if e.records[id-1] == nil {
		e.count++
	}
	e.records[id-1] = r
	if id > e.lastID {
		e.lastID = id
	}
}

func (e *entity) remove(id int) {
	if e.get(id) != nil {
		e.records[id-1] = nil
		e.count--
	}
}

func (e *entity) f(name string) *fieldDef { return e.byName[name] }

func dealSchema() *entity {
	e := newEntity("DEAL", 2, "CRM_DEAL", []fieldSpec{
		{"ID", "id", kInt, "integer", "", "r", "ID"},
		{"TITLE", "title", kStr, "string", "", "", "Name"},
		{"TYPE_ID", "typeId", kStr, "crm_status", "DEAL_TYPE", "", "Type"},
		{"CATEGORY_ID", "categoryId", kRef, "crm_category", "", "i", "Pipeline"},
		{"STAGE_ID", "stageId", kStr, "crm_status", "DEAL_STAGE", "", "Stage"},
		{"STAGE_SEMANTIC_ID", "stageSemanticId", kStr, "string", "", "r", "Stage group"},
		{"IS_NEW", "isNew", kBool, "char", "", "r", "New deal"},
		{"IS_RETURN_CUSTOMER", "isReturnCustomer", kBool, "char", "", "r", "Repeat deal"},
		{"PROBABILITY", "probability", kInt, "integer", "", "", "Probability"},
		{"CURRENCY_ID", "currencyId", kStr, "crm_currency", "", "", "Currency"},
		{"OPPORTUNITY", "opportunity", kMoney, "double", "", "", "Amount"},
		{"IS_MANUAL_OPPORTUNITY", "isManualOpportunity", kBool, "char", "", "", "IS_MANUAL_OPPORTUNITY"},
		{"COMPANY_ID", "companyId", kRef, "crm_company", "", "", "Company"},
		{"CONTACT_ID", "contactId", kRef, "crm_contact", "", "", "Contact"},
		{"BEGINDATE", "begindate", kDate, "date", "", "", "Start date"},
		{"CLOSEDATE", "closedate", kDate, "date", "", "", "End date"},
		{"OPENED", "opened", kBool, "char", "", "", "Available to everyone"},
		{"CLOSED", "closed", kBool, "char", "", "", "Closed"},
		{"ASSIGNED_BY_ID", "assignedById", kRef, "user", "", "", "Responsible"},
		{"CREATED_BY_ID", "createdBy", kRef, "user", "", "r", "Created by"},
		{"MODIFY_BY_ID", "updatedBy", kRef, "user", "", "r", "Modified by"},
		{"DATE_CREATE", "createdTime", kDateTime, "datetime", "", "r", "Created on"},
		{"DATE_MODIFY", "updatedTime", kDateTime, "datetime", "", "r", "Modified on"},
		{"SOURCE_ID", "sourceId", kStr, "crm_status", "SOURCE", "", "Source"},
	})
	e.defaultTitle = "Deal #%d"
	return e
}

func contactSchema() *entity {
	return newEntity("CONTACT", 3, "CRM_CONTACT", append([]fieldSpec{
		{"ID", "id", kInt, "integer", "", "r", "ID"},
		{"NAME", "name", kStr, "string", "", "", "Name"},
		{"LAST_NAME", "lastName", kStr, "string", "", "", "Last name"},
		{"TYPE_ID", "typeId", kStr, "crm_status", "CONTACT_TYPE", "", "Contact type"},
		{"SOURCE_ID", "sourceId", kStr, "crm_status", "SOURCE", "", "Source"},
		{"COMPANY_ID", "companyId", kRef, "crm_company", "", "", "Company"},
		{"OPENED", "opened", kBool, "char", "", "", "Available to everyone"},
		{"ASSIGNED_BY_ID", "assignedById", kRef, "user", "", "", "Responsible"},
		{"CREATED_BY_ID", "createdBy", kRef, "user", "", "r", "Created by"},
		{"MODIFY_BY_ID", "updatedBy", kRef, "user", "", "r", "Modified by"},
		{"DATE_CREATE", "createdTime", kDateTime, "datetime", "", "r", "Created on"},
		{"DATE_MODIFY", "updatedTime", kDateTime, "datetime", "", "r", "Modified on"},
	}, legacyAddress("ADDRESS_", "")...))
}

// legacyAddress are the deprecated address fields of contacts and companies
// (crm-contact-fields.md and crm-company-fields.md, "Deprecated Fields":
// "only used for compatibility mode. For working with addresses, use
// requisites"), with prefix ADDRESS_ (the company's physical address, a
// contact's address) or REG_ADDRESS_ (the company's legal one). Older
// portals still fill them; crm.item.* does not serve them, so they have no
// camelCase name. ADDRESS itself is the street line.
func legacyAddress(prefix, title string) []fieldSpec {
	street := strings.TrimSuffix(prefix, "_")
	out := []fieldSpec{{street, "", kStr, "string", "", "s", title + "Address"}, {prefix + "2", "", kStr, "string", "", "s", title + "Address (Line 2)"}}
	for _, f := range [][2]string{{"CITY", "City"}, {"POSTAL_CODE", "Postal Code"}, {"REGION", "Region"}, {"PROVINCE", "Province"},
		{"COUNTRY", "Country"}, {"COUNTRY_CODE", "Country Code"}} {
		out = append(out, fieldSpec{prefix + f[0], "", kStr, "string", "", "s", title + f[1]})
	}
	return out
}

func companySchema() *entity {
	e := newEntity("COMPANY", 4, "CRM_COMPANY", append([]fieldSpec{
		{"ID", "id", kInt, "integer", "", "r", "ID"},
		{"TITLE", "title", kStr, "string", "", "q", "Company name"},
		{"COMPANY_TYPE", "typeId", kStr, "crm_status", "COMPANY_TYPE", "", "Company type"},
		{"INDUSTRY", "industry", kStr, "crm_status", "INDUSTRY", "", "Industry"},
		{"EMPLOYEES", "employees", kStr, "crm_status", "EMPLOYEES", "", "Employees"},
		{"REVENUE", "revenue", kMoney, "double", "", "", "Annual revenue"},
		{"CURRENCY_ID", "currencyId", kStr, "crm_currency", "", "", "Currency"},
		{"OPENED", "opened", kBool, "char", "", "", "Available to everyone"},
		{"ASSIGNED_BY_ID", "assignedById", kRef, "user", "", "", "Responsible"},
		{"CREATED_BY_ID", "createdBy", kRef, "user", "", "r", "Created by"},
		{"MODIFY_BY_ID", "updatedBy", kRef, "user", "", "r", "Modified by"},
		{"DATE_CREATE", "createdTime", kDateTime, "datetime", "", "r", "Created on"},
		{"DATE_MODIFY", "updatedTime", kDateTime, "datetime", "", "r", "Modified on"},
	}, append(legacyAddress("ADDRESS_", ""), legacyAddress("REG_ADDRESS_", "Legal ")...)...))
	e.defaultTitle = "Company #%d"
	return e
}

// productSchema is the catalog (crm.product.*); not an item type, no user fields.
func productSchema() *entity {
	return newEntity("PRODUCT", 0, "", []fieldSpec{
		{"ID", "", kInt, "integer", "", "r", "ID"},
		{"NAME", "", kStr, "string", "", "q", "Name"},
		{"SECTION_ID", "", kRef, "product_section", "", "", "Section"},
		{"PRICE", "", kMoney, "double", "", "", "Price"},
		{"CURRENCY_ID", "", kStr, "crm_currency", "", "", "Currency"},
		{"ACTIVE", "", kBool, "char", "", "", "Active"},
		{"SORT", "", kInt, "integer", "", "", "Sort"},
		{"MEASURE", "", kInt, "integer", "", "", "Unit of measurement"},
		{"DATE_CREATE", "", kDateTime, "datetime", "", "r", "Created on"},
		{"TIMESTAMP_X", "", kDateTime, "datetime", "", "r", "Modified on"},
	})
}
