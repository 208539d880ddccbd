package b24sim

import (
	"strconv"
	"strings"
)

// Requisites are the legal details of contacts and companies — name, tax
// ids, registration numbers — served by crm.requisite.* as
// api-reference/crm/requisites/universal/ documents them, each change
// firing ONCRMREQUISITEADD, UPDATE or DELETE with the requisite's ID
// (api-reference/crm/requisites/events/on-crm-requisite-*.md). A
// requisite's addresses are crm.address.* (address.go).
//
// Where a country keeps its tax id: the field list
// (api-reference/crm/requisites/universal/index.md) has RQ_INN ("TIN", the
// Russian taxpayer number) and RQ_VAT_ID ("VAT ID"), and Polish-only
// fields for REGON, KRS and PESEL but none for NIP; the templates page
// (api-reference/crm/requisites/presets/index.md) says the Company
// template holds "VAT ID, Company Name". A Polish company's NIP, its VAT
// number, is therefore RQ_VAT_ID here (generated with or without the PL
// prefix and dashes, as people type it); Russian companies carry RQ_INN.
//
// Where the pages leave behaviour open, the simulator assumes:
//   - a filter or order key naming no requisite field is ignored, as the v2
//     lists do (the page documents no refusal);
//   - the templates are the four crm-requisite-preset-list.md shows (1
//     Organization, 2 Sole Proprietorship, 3 Individual, 4 Organization
//     (additional)); another PRESET_ID is "PRESET_ID is not defined or
//     invalid.";
//   - NAME is not required (crm-requisite-fields.md: isRequired false);
//   - on update, ENTITY_TYPE_ID, ENTITY_ID and PRESET_ID are checked when
//     given and otherwise ignored: the fields page marks them immutable;
//   - a sales rep (User.OwnOnly) reads and changes the requisites of the
//     contacts and companies they are responsible for; others are left out
//     of lists and "Access denied." elsewhere;
//   - deleting a contact or company deletes its requisites and their
//     addresses, without requisite events;
//   - user fields (UF_CRM_*) are not stored.

// requisiteState holds the requisites and addresses. Guarded by Portal.mu.
type requisiteState struct {
	rq   *table
	addr *table
	// nextLoc numbers the location-module addresses each CRM address gets
	// (LOC_ADDR_ID).
	nextLoc int64
	comms   commState // duplicate.go
}

// Requisite templates (crm-requisite-preset-list.md).
var requisitePresets = map[int64]string{1: "Organization", 2: "Sole Proprietorship", 3: "Individual", 4: "Organization (additional)"}

// Requisite owners: contacts and companies (crm.enum.ownertype).
const (
	OwnerContact   = 3
	OwnerCompany   = 4
	OwnerRequisite = 8
)

// requisiteRQ are the RQ_* text fields in the order of
// api-reference/crm/requisites/universal/index.md.
var requisiteRQ = []string{"RQ_NAME", "RQ_FIRST_NAME", "RQ_LAST_NAME", "RQ_SECOND_NAME", "RQ_COMPANY_ID",
	"RQ_COMPANY_NAME", "RQ_COMPANY_FULL_NAME", "RQ_COMPANY_REG_DATE", "RQ_DIRECTOR", "RQ_ACCOUNTANT", "RQ_CEO_NAME",
	"RQ_CEO_WORK_POS", "RQ_CONTACT", "RQ_EMAIL", "RQ_PHONE", "RQ_FAX", "RQ_IDENT_TYPE", "RQ_IDENT_DOC", "RQ_IDENT_DOC_SER",
	"RQ_IDENT_DOC_NUM", "RQ_IDENT_DOC_PERS_NUM", "RQ_IDENT_DOC_DATE", "RQ_IDENT_DOC_ISSUED_BY", "RQ_IDENT_DOC_DEP_CODE",
	"RQ_INN", "RQ_KPP", "RQ_USRLE", "RQ_IFNS", "RQ_OGRN", "RQ_OGRNIP", "RQ_OKPO", "RQ_OKTMO", "RQ_OKVED", "RQ_EDRPOU",
	"RQ_DRFO", "RQ_KBE", "RQ_IIN", "RQ_BIN", "RQ_ST_CERT_SER", "RQ_ST_CERT_NUM", "RQ_ST_CERT_DATE", "RQ_VAT_PAYER",
	"RQ_VAT_ID", "RQ_VAT_CERT_SER", "RQ_VAT_CERT_NUM", "RQ_VAT_CERT_DATE", "RQ_RESIDENCE_COUNTRY", "RQ_BASE_DOC",
	"RQ_REGON", "RQ_KRS", "RQ_PESEL", "RQ_LEGAL_FORM", "RQ_SIRET", "RQ_SIREN", "RQ_CAPITAL", "RQ_RCS", "RQ_CNPJ",
	"RQ_STATE_REG", "RQ_MNPL_REG", "RQ_CPF"}

// requisiteTitles are the titles crm-requisite-fields.md shows where they
// are not the field's name.
var requisiteTitles = map[string]string{"ENTITY_TYPE_ID": "Entity type ID", "ENTITY_ID": "Entity ID",
	"PRESET_ID": "Preset ID", "DATE_CREATE": "Creation date", "DATE_MODIFY": "Modification date",
	"CREATED_BY_ID": "Created by", "MODIFY_BY_ID": "Modified by", "NAME": "Name", "CODE": "Code",
	"XML_ID": "External code", "ACTIVE": "Active", "SORT": "Sort order", "RQ_NAME": "Full Name",
	"RQ_FIRST_NAME": "First Name", "RQ_LAST_NAME": "Last Name", "RQ_SECOND_NAME": "Middle Name",
	"RQ_COMPANY_NAME": "Short organization name", "RQ_COMPANY_FULL_NAME": "Full organization name",
	"RQ_INN": "Tax ID", "RQ_KPP": "Tax Registration Code", "RQ_EMAIL": "E-Mail", "RQ_PHONE": "Phone"}

func requisiteSchema() *table {
	specs := []fieldSpec{
		{"ID", "", kInt, "integer", "", "r", ""},
		{"ENTITY_TYPE_ID", "", kInt, "integer", "", "iq", ""},
		{"ENTITY_ID", "", kInt, "integer", "", "iq", ""},
		{"PRESET_ID", "", kInt, "integer", "", "iq", ""},
		{"DATE_CREATE", "", kDateTime, "datetime", "", "r", ""},
		{"DATE_MODIFY", "", kDateTime, "datetime", "", "r", ""},
		{"CREATED_BY_ID", "", kRef, "user", "", "r", ""},
		{"MODIFY_BY_ID", "", kRef, "user", "", "r", ""},
		{"NAME", "", kStr, "string", "", "", ""},
		{"CODE", "", kStr, "string", "", "", ""},
		{"XML_ID", "", kStr, "string", "", "", ""},
		{"ORIGINATOR_ID", "", kStr, "string", "", "", ""},
		{"ACTIVE", "", kBool, "char", "", "", ""},
		{"ADDRESS_ONLY", "", kBool, "char", "", "", ""},
		{"SORT", "", kInt, "integer", "", "", ""},
	}
	for _, n := range requisiteRQ {
		switch n {
		case "RQ_VAT_PAYER":
			specs = append(specs, fieldSpec{n, "", kBool, "char", "", "", ""})
		case "RQ_IDENT_TYPE":
			specs = append(specs, fieldSpec{n, "", kStr, "crm_status", "IDENTIFICATION_TYPE", "", ""})
		default:
			specs = append(specs, fieldSpec{n, "", kStr, "string", "", "", ""})
		}
	}
	for i := range specs {
		specs[i].title = requisiteTitles[specs[i].name]
	}
	t := newTable(specs)
	t.blank["DATE_MODIFY"] = ""
	return t
}

// dialectRequisite is crm.requisite.list's and crm.address.list's filter:
// both pages list the same prefixes, the negated LIKEs included.
var dialectRequisite = filterDialect{page: "api-reference/crm/requisites/universal/crm-requisite-list.md",
	prefixes: []string{">=", ">", "<=", "<", "@", "!@", "%", "=%", "%=", "!%", "!=%", "!%=", "=", "!=", "!"}}

func (p *Portal) registerRequisiteMethods() {
	p.reqs = requisiteState{rq: protoRequisite().fresh(), addr: protoAddress().fresh(), nextLoc: 1, comms: newCommState()}
	m := p.methods
	m["crm.requisite.fields"] = methodRequisiteFields
	m["crm.requisite.list"] = methodRequisiteList
	m["crm.requisite.get"] = methodRequisiteGet
	m["crm.requisite.add"] = methodRequisiteAdd
	m["crm.requisite.update"] = methodRequisiteUpdate
	m["crm.requisite.delete"] = methodRequisiteDelete
	m["crm.address.fields"] = methodAddressFields
	m["crm.address.list"] = methodAddressList
	m["crm.address.add"] = methodAddressAdd
	m["crm.address.update"] = methodAddressUpdate
	m["crm.address.delete"] = methodAddressDelete
	m["crm.enum.addresstype"] = methodAddressTypes
	m["crm.duplicate.findbycomm"] = methodFindByComm
}

// requisite errors, all RestExceptions: HTTP 400, empty code.
func errRequisiteNotFound(id int) *Error {
	return restError("The Requisite with ID '" + strconv.Itoa(id) + "' is not found")
}

func errRqAccess() *Error { return restError("Access denied.") }

// ownerReadable reports whether the call's user may read the record a
// requisite or address belongs to. Caller holds p.mu.
func (p *Portal) ownerReadable(c *Call, typeID, id int64) bool {
	if c == nil || c.User == nil || c.User.Admin || !c.User.OwnOnly {
		return true
	}
	e := p.crm.entityByTypeID(int(typeID))
	if e == nil {
		return false
	}
	r := e.get(int(id))
	return r != nil && readable(c, e, r)
}

func methodRequisiteFields(p *Portal, c *Call) (any, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.reqs.rq.fieldsInfo(), nil
}

// methodRequisiteList is crm.requisite.list as its page documents it:
// select (every field when absent or empty), filter with the page's
// prefixes, order by any field (ID ascending by default), 50 a page with
// total and next.
func methodRequisiteList(p *Portal, c *Call) (any, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.listTable(c, p.reqs.rq, "ENTITY_TYPE_ID", "ENTITY_ID")
}

// listTable answers a list call over t as crm.requisite.list and
// crm.address.list do: the filter in the requisite dialect, order, start,
// 50 a page with total and next, only the rows whose owner (the row's
// ownerType and ownerID fields) the caller may read. Holds p.mu.
func (p *Portal) listTable(c *Call, t *table, ownerType, ownerID string) (any, error) {
	res := t.resolver()
	conds, err := p.crm.parseFilter(c.Params.Map("filter"), res, dialectRequisite)
	if err != nil {
		return nil, err
	}
	q := tableQuery{conds: conds, order: parseOrder(c.Params.Map("order"), res), start: parseStart(c.Params),
		keep: func(r *tableRow) bool {
			return p.ownerReadable(c, t.num(r, ownerType), t.num(r, ownerID))
		}}
	sel := t.parseSelect(c.Params.Strings("select"))
	page, total, next := t.run(q)
	rows := make([]any, len(page))
	for i, r := range page {
		rows[i] = t.render(&p.crm, r, sel)
	}
	return ListResult{Items: rows, Total: total, Next: next}, nil
}

// requisiteID reads the id parameter of get, update and delete.
func requisiteID(c *Call) (int, error) {
	id, ok := c.Params.Int("id")
	if !ok || id <= 0 {
		return 0, restError("ID is not defined or invalid.")
	}
	return id, nil
}

func methodRequisiteGet(p *Portal, c *Call) (any, error) {
	id, err := requisiteID(c)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.reqs.rq
	r := t.get(id)
	if r == nil {
		return nil, errRequisiteNotFound(id)
	}
	if !p.ownerReadable(c, t.num(r, "ENTITY_TYPE_ID"), t.num(r, "ENTITY_ID")) {
		return nil, errRqAccess()
	}
	return t.render(&p.crm, r, nil), nil
}

// checkRequisiteOwner checks, in crm-requisite-add.md's order, the owner
// type (a contact or a company), the owner id, the template, and that the
// owner exists.
func (p *Portal) checkRequisiteOwner(typeID, id, preset int64) *Error {
	if typeID != OwnerContact && typeID != OwnerCompany {
		return restError("ENTITY_TYPE_ID is not defined or invalid.")
	}
	if id <= 0 || id == nullInt {
		return restError("ENTITY_ID is not defined or invalid.")
	}
	if _, ok := requisitePresets[preset]; !ok {
		return restError("PRESET_ID is not defined or invalid.")
	}
	if p.crm.entityByTypeID(int(typeID)).get(int(id)) == nil {
		return restError("Entity not found.")
	}
	return nil
}

// addRequisite stores a requisite for userID and fires ONCRMREQUISITEADD.
// Caller holds p.mu.
func (p *Portal) addRequisite(c *Call, fields Params, userID int) (int, error) {
	t := p.reqs.rq
	r := t.newRow(t.nextID())
	t.setNum(r, "ACTIVE", 1)
	t.setNum(r, "SORT", 500)
	t.assign(r, fields, true)
	if err := p.checkRequisiteOwner(t.num(r, "ENTITY_TYPE_ID"), t.num(r, "ENTITY_ID"), t.num(r, "PRESET_ID")); err != nil {
		return 0, err
	}
	if !p.ownerReadable(c, t.num(r, "ENTITY_TYPE_ID"), t.num(r, "ENTITY_ID")) {
		return 0, errRqAccess()
	}
	t.setNum(r, "DATE_CREATE", p.now().Unix())
	t.setNum(r, "CREATED_BY_ID", int64(userID))
	t.put(r)
	p.emit(Event{Name: "ONCRMREQUISITEADD", Fields: idFields(int32(r.id)), UserID: userID})
	return r.id, nil
}

func methodRequisiteAdd(p *Portal, c *Call) (any, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.addRequisite(c, c.Params.Map("fields"), callUser(c))
}

func callUser(c *Call) int {
	if c != nil && c.User != nil {
		return c.User.ID
	}
	return 0
}

// updateRequisite changes a requisite's writable fields and fires
// ONCRMREQUISITEUPDATE. Caller holds p.mu.
func (p *Portal) updateRequisite(c *Call, id int, fields Params, userID int) error {
	t := p.reqs.rq
	r := t.get(id)
	if r == nil {
		return errRequisiteNotFound(id)
	}
	// The immutable fields are checked when given, as the page's errors
	// list them for update too.
	probe := t.newRow(id)
	copy(probe.n, r.n)
	t.assign(probe, fields, true)
	for _, k := range []string{"ENTITY_TYPE_ID", "ENTITY_ID", "PRESET_ID"} {
		if fields.Has(k) && t.num(probe, k) != t.num(r, k) {
			if err := p.checkRequisiteOwner(t.num(probe, "ENTITY_TYPE_ID"), t.num(probe, "ENTITY_ID"), t.num(probe, "PRESET_ID")); err != nil {
				return err
			}
		}
	}
	if !p.ownerReadable(c, t.num(r, "ENTITY_TYPE_ID"), t.num(r, "ENTITY_ID")) {
		return errRqAccess()
	}
	t.assign(r, fields, false)
	t.setNum(r, "DATE_MODIFY", p.now().Unix())
	t.setNum(r, "MODIFY_BY_ID", int64(userID))
	p.emit(Event{Name: "ONCRMREQUISITEUPDATE", Fields: idFields(int32(id)), UserID: userID})
	return nil
}

func methodRequisiteUpdate(p *Portal, c *Call) (any, error) {
	id, err := requisiteID(c)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.updateRequisite(c, id, c.Params.Map("fields"), callUser(c)); err != nil {
		return nil, err
	}
	return true, nil
}

// deleteRequisite deletes a requisite with its addresses and fires
// ONCRMREQUISITEDELETE. Caller holds p.mu.
func (p *Portal) deleteRequisite(c *Call, id, userID int) error {
	t := p.reqs.rq
	r := t.get(id)
	if r == nil {
		return errRequisiteNotFound(id)
	}
	if !p.ownerReadable(c, t.num(r, "ENTITY_TYPE_ID"), t.num(r, "ENTITY_ID")) {
		return errRqAccess()
	}
	p.dropRequisite(id)
	p.emit(Event{Name: "ONCRMREQUISITEDELETE", Fields: idFields(int32(id)), UserID: userID})
	return nil
}

// dropRequisite removes a requisite and every address bound to it.
func (p *Portal) dropRequisite(id int) {
	p.reqs.rq.remove(id)
	a := p.reqs.addr
	for _, r := range a.rows {
		if r != nil && a.num(r, "ENTITY_TYPE_ID") == OwnerRequisite && a.num(r, "ENTITY_ID") == int64(id) {
			a.remove(r.id)
		}
	}
}

// dropRequisitesOf removes the requisites of a deleted contact or company.
// Caller holds p.mu.
func (p *Portal) dropRequisitesOf(typeID, id int) {
	t := p.reqs.rq
	for _, r := range t.rows {
		if r != nil && t.num(r, "ENTITY_TYPE_ID") == int64(typeID) && t.num(r, "ENTITY_ID") == int64(id) {
			p.dropRequisite(r.id)
		}
	}
	p.reqs.comms.drop(typeID, id)
}

func methodRequisiteDelete(p *Portal, c *Call) (any, error) {
	id, err := requisiteID(c)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.deleteRequisite(c, id, callUser(c)); err != nil {
		return nil, err
	}
	return true, nil
}

// Requisite is a requisite as people enter it in a contact's or company's
// card. Fields holds the other fields by name (NAME, RQ_COMPANY_NAME,
// RQ_VAT_ID, RQ_INN, ...).
type Requisite struct {
	OwnerType int // OwnerContact or OwnerCompany
	OwnerID   int
	PresetID  int // 1 Organization, 2 Sole Proprietorship, 3 Individual, 4 Organization (additional)
	Fields    map[string]string
}

func (rq Requisite) params() Params {
	ps := Params{"ENTITY_TYPE_ID": strconv.Itoa(rq.OwnerType), "ENTITY_ID": strconv.Itoa(rq.OwnerID),
		"PRESET_ID": strconv.Itoa(rq.PresetID)}
	for k, v := range rq.Fields {
		ps[strings.ToUpper(k)] = v
	}
	return ps
}

// AddRequisite adds a requisite as userID does in a card and fires
// ONCRMREQUISITEADD; it returns the requisite's ID.
func (p *Portal) AddRequisite(rq Requisite, userID int) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.addRequisite(nil, rq.params(), userID)
}

// UpdateRequisite changes a requisite's fields as userID does in a card
// and fires ONCRMREQUISITEUPDATE.
func (p *Portal) UpdateRequisite(id int, fields map[string]string, userID int) error {
	ps := Params{}
	for k, v := range fields {
		ps[k] = v
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.updateRequisite(nil, id, ps, userID)
}

// DeleteRequisite deletes a requisite with its addresses and fires
// ONCRMREQUISITEDELETE.
func (p *Portal) DeleteRequisite(id, userID int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.deleteRequisite(nil, id, userID)
}

// RequisiteRecord is a requisite rendered as crm.requisite.get sends it.
func (p *Portal) RequisiteRecord(id int) (map[string]any, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.reqs.rq.get(id)
	if r == nil {
		return nil, false
	}
	return p.reqs.rq.render(&p.crm, r, nil), true
}

// RequisiteCount is how many requisites the portal holds.
func (p *Portal) RequisiteCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.reqs.rq.count
}
