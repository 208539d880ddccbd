package b24sim

import (
	"slices"
	"strconv"
)

// Addresses are crm.address.* (api-reference/crm/requisites/addresses/):
// a requisite (ENTITY_TYPE_ID 8) or a lead (1) has at most one address of
// each type (crm.enum.addresstype). An address has no ID: TYPE_ID,
// ENTITY_TYPE_ID and ENTITY_ID name it in update and delete. ANCHOR_TYPE_ID
// and ANCHOR_ID, read-only, are the contact or company the requisite
// belongs to.
//
// Which fields a list may filter by: crm-address-list.md says the filter's
// keys "correspond to address fields", the fields it lists (TYPE_ID,
// ENTITY_TYPE_ID, ENTITY_ID, ADDRESS_1, ADDRESS_2, CITY, POSTAL_CODE,
// REGION, PROVINCE, COUNTRY, COUNTRY_CODE, LOC_ADDR_ID, ANCHOR_TYPE_ID,
// ANCHOR_ID), with the same prefixes as crm.requisite.list; so all of
// them, and order by any of them. 50 a page, total and next. Where the
// pages leave behaviour open, the simulator assumes:
//   - binding an address to a contact (3) or company (4) directly is
//     refused ("ENTITY_TYPE_ID is not defined or invalid."): the pages keep
//     it only "on some older portals where the old address mode was
//     specifically enabled by support", and this portal is a new one;
//   - the simulated CRM has no leads, so an address of a lead (1) is
//     "ENTITY_ID is not defined or invalid.";
//   - every address gets its own location address (LOC_ADDR_ID, numbered
//     from 1); a LOC_ADDR_ID given is not looked up;
//   - unordered lists come in the order addresses were added;
//   - a sales rep (User.OwnOnly) sees and changes only the addresses of
//     the contacts and companies they are responsible for (ANCHOR_*).
//
// Events (api-reference/crm/requisites/events/): adding an address fires
// ONCRMADDRESSREGISTER, deleting it ONCRMADDRESSUNREGISTER, each with the
// address's key and anchor in data[FIELDS] (TYPE_ID, ENTITY_TYPE_ID,
// ENTITY_ID, ANCHOR_ID, ANCHOR_TYPE_ID; on-crm-address-register.md). The
// index page names only crm.address.add for "registered"; the simulator
// assumes an update registers the address too (the event carries the same
// key, which names no add or update, and a changed address is registered
// anew), and that deleting a requisite, which takes its addresses with it,
// fires only ONCRMREQUISITEDELETE.

// Address types (crm.enum.addresstype,
// api-reference/crm/auxiliary/enum/crm-enum-address-type.md), in the
// order the method lists them.
const (
	AddressShipping    = 11
	AddressPhysical    = 1
	AddressLegal       = 6
	AddressRegistered  = 4
	AddressMailing     = 8
	AddressBeneficiary = 9
)

type addressType struct {
	id   int
	name string
}

var addressTypes = []addressType{{AddressShipping, "Shipping address"}, {AddressPhysical, "Physical address"}, {AddressLegal, "Legal address"},
	{AddressRegistered, "Registered address"}, {AddressMailing, "Mailing address"}, {AddressBeneficiary, "Beneficiary address"}}

func validAddressType(id int64) bool {
	return slices.ContainsFunc(addressTypes, func(t addressType) bool { return int64(t.id) == id })
}

func addressSchema() *table {
	return newTable([]fieldSpec{
		{"TYPE_ID", "", kInt, "integer", "", "iq", "TYPE_ID"},
		{"ENTITY_TYPE_ID", "", kInt, "integer", "", "iq", "ENTITY_TYPE_ID"},
		{"ENTITY_ID", "", kInt, "integer", "", "iq", "ENTITY_ID"},
		{"ADDRESS_1", "", kStr, "string", "", "", "Street, house, building, structure"},
		{"ADDRESS_2", "", kStr, "string", "", "", "Apartment / office"},
		{"CITY", "", kStr, "string", "", "", "City"},
		{"POSTAL_CODE", "", kStr, "string", "", "", "Postal code"},
		{"REGION", "", kStr, "string", "", "", "Region"},
		{"PROVINCE", "", kStr, "string", "", "", "Province"},
		{"COUNTRY", "", kStr, "string", "", "", "Country"},
		{"COUNTRY_CODE", "", kStr, "string", "", "", "COUNTRY_CODE"},
		{"LOC_ADDR_ID", "", kInt, "integer", "", "", "Location address identifier"},
		{"ANCHOR_TYPE_ID", "", kInt, "integer", "", "r", "ANCHOR_TYPE_ID"},
		{"ANCHOR_ID", "", kInt, "integer", "", "r", "ANCHOR_ID"},
	})
}

func methodAddressFields(p *Portal, c *Call) (any, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.reqs.addr.fieldsInfo(), nil
}

// methodAddressTypes is crm.enum.addresstype: numbers, not strings.
func methodAddressTypes(p *Portal, c *Call) (any, error) {
	out := make([]any, len(addressTypes))
	for i, t := range addressTypes {
		out[i] = map[string]any{"ID": t.id, "NAME": t.name, "SYMBOL_CODE": nil, "SYMBOL_CODE_SHORT": nil}
	}
	return out, nil
}

// methodAddressList is crm.address.list as its page documents it.
func methodAddressList(p *Portal, c *Call) (any, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.listTable(c, p.reqs.addr, "ANCHOR_TYPE_ID", "ANCHOR_ID")
}

// addressKey is the three fields that name an address.
type addressKey struct{ typeID, entityType, entityID int64 }

// checkAddressKey reads and checks the key in the pages' order (TYPE_ID,
// ENTITY_TYPE_ID, ENTITY_ID) and returns the requisite's owner.
func (p *Portal) checkAddressKey(fields Params) (k addressKey, anchorType, anchorID int64, err *Error) {
	t := p.reqs.addr
	probe := t.newRow(1)
	t.assign(probe, fields, true)
	k = addressKey{t.num(probe, "TYPE_ID"), t.num(probe, "ENTITY_TYPE_ID"), t.num(probe, "ENTITY_ID")}
	if !validAddressType(k.typeID) {
		return k, 0, 0, restError("TYPE_ID is not defined or invalid.")
	}
	if k.entityType != OwnerRequisite && k.entityType != 1 {
		return k, 0, 0, restError("ENTITY_TYPE_ID is not defined or invalid.")
	}
	var rq *tableRow
	if k.entityType == OwnerRequisite && k.entityID > 0 {
		rq = p.reqs.rq.get(int(k.entityID))
	}
	if rq == nil {
		return k, 0, 0, restError("ENTITY_ID is not defined or invalid.")
	}
	return k, p.reqs.rq.num(rq, "ENTITY_TYPE_ID"), p.reqs.rq.num(rq, "ENTITY_ID"), nil
}

// findAddress is the row with the key, or nil.
func (p *Portal) findAddress(k addressKey) *tableRow {
	t := p.reqs.addr
	for _, r := range t.rows {
		if r != nil && t.num(r, "TYPE_ID") == k.typeID && t.num(r, "ENTITY_TYPE_ID") == k.entityType &&
			t.num(r, "ENTITY_ID") == k.entityID {
			return r
		}
	}
	return nil
}

// addAddress stores an address. Caller holds p.mu.
func (p *Portal) addAddress(c *Call, fields Params) error {
	k, anchorType, anchorID, err := p.checkAddressKey(fields)
	if err != nil {
		return err
	}
	if !p.ownerReadable(c, anchorType, anchorID) {
		return errRqAccess()
	}
	if p.findAddress(k) != nil {
		return restError("TypeAddress exists.")
	}
	t := p.reqs.addr
	r := t.newRow(t.nextID())
	t.assign(r, fields, true)
	t.setNum(r, "LOC_ADDR_ID", p.reqs.nextLoc)
	p.reqs.nextLoc++
	t.setNum(r, "ANCHOR_TYPE_ID", anchorType)
	t.setNum(r, "ANCHOR_ID", anchorID)
	t.put(r)
	p.addressEvent("ONCRMADDRESSREGISTER", k, anchorType, anchorID, callUser(c))
	return nil
}

// addressEvent fires an address event with the address's key and anchor,
// as on-crm-address-register.md shows them. Caller holds p.mu.
func (p *Portal) addressEvent(name string, k addressKey, anchorType, anchorID int64, userID int) {
	p.emit(Event{Name: name, UserID: userID, Fields: map[string]string{
		"TYPE_ID": strconv.FormatInt(k.typeID, 10), "ENTITY_TYPE_ID": strconv.FormatInt(k.entityType, 10),
		"ENTITY_ID": strconv.FormatInt(k.entityID, 10), "ANCHOR_ID": strconv.FormatInt(anchorID, 10),
		"ANCHOR_TYPE_ID": strconv.FormatInt(anchorType, 10)}})
}

func methodAddressAdd(p *Portal, c *Call) (any, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.addAddress(c, c.Params.Map("fields")); err != nil {
		return nil, err
	}
	return true, nil
}

// methodAddressUpdate changes the fields given of the address the key
// names ("TypeAddress not found." when there is none).
func methodAddressUpdate(p *Portal, c *Call) (any, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.updateAddress(c, c.Params.Map("fields")); err != nil {
		return nil, err
	}
	return true, nil
}

// updateAddress changes an address and fires ONCRMADDRESSREGISTER. Caller
// holds p.mu.
func (p *Portal) updateAddress(c *Call, fields Params) error {
	k, anchorType, anchorID, err := p.checkAddressKey(fields)
	if err != nil {
		return err
	}
	r := p.findAddress(k)
	if r == nil {
		return restError("TypeAddress not found.")
	}
	if !p.ownerReadable(c, anchorType, anchorID) {
		return errRqAccess()
	}
	p.reqs.addr.assign(r, fields, false)
	p.addressEvent("ONCRMADDRESSREGISTER", k, anchorType, anchorID, callUser(c))
	return nil
}

func methodAddressDelete(p *Portal, c *Call) (any, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.deleteAddress(c, c.Params.Map("fields")); err != nil {
		return nil, err
	}
	return true, nil
}

// deleteAddress deletes an address and fires ONCRMADDRESSUNREGISTER.
// Caller holds p.mu.
func (p *Portal) deleteAddress(c *Call, fields Params) error {
	k, anchorType, anchorID, err := p.checkAddressKey(fields)
	if err != nil {
		return err
	}
	r := p.findAddress(k)
	if r == nil {
		return restError("TypeAddress not found.")
	}
	if !p.ownerReadable(c, anchorType, anchorID) {
		return errRqAccess()
	}
	p.reqs.addr.remove(r.id)
	p.addressEvent("ONCRMADDRESSUNREGISTER", k, anchorType, anchorID, callUser(c))
	return nil
}

// Address is a requisite's address as people enter it.
type Address struct {
	TypeID      int // AddressLegal, AddressPhysical, ...
	RequisiteID int
	Address1    string // street, house
	Address2    string // apartment, office
	City        string
	PostalCode  string
	Region      string // district
	Province    string // region, state, voivodeship
	Country     string
	CountryCode string
}

func (a Address) params() Params {
	return Params{"TYPE_ID": strconv.Itoa(a.TypeID), "ENTITY_TYPE_ID": strconv.Itoa(OwnerRequisite),
		"ENTITY_ID": strconv.Itoa(a.RequisiteID), "ADDRESS_1": a.Address1, "ADDRESS_2": a.Address2, "CITY": a.City,
		"POSTAL_CODE": a.PostalCode, "REGION": a.Region, "PROVINCE": a.Province, "COUNTRY": a.Country,
		"COUNTRY_CODE": a.CountryCode}
}

// AddAddress adds an address to a requisite, as people do in a card, and
// fires ONCRMADDRESSREGISTER. Addresses have no id: the requisite and the
// type name it.
func (p *Portal) AddAddress(a Address) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.addAddress(nil, a.params())
}

// UpdateAddress changes the parts of an address that a sets (the key,
// TypeID and RequisiteID, names it; empty parts are left as they are), as
// people do in a card, and fires ONCRMADDRESSREGISTER.
func (p *Portal) UpdateAddress(a Address) error {
	ps := Params{}
	for k, v := range a.params() {
		if s, _ := v.(string); s != "" {
			ps[k] = v
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.updateAddress(nil, ps)
}

// DeleteAddress deletes a requisite's address of a type, as people do in a
// card, and fires ONCRMADDRESSUNREGISTER.
func (p *Portal) DeleteAddress(typeID, requisiteID int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.deleteAddress(nil, Address{TypeID: typeID, RequisiteID: requisiteID}.params())
}

// AddressesOf are a requisite's addresses, in the order they were added.
func (p *Portal) AddressesOf(requisiteID int) []Address {
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.reqs.addr
	var out []Address
	for _, r := range t.rows {
		if r == nil || t.num(r, "ENTITY_TYPE_ID") != OwnerRequisite || t.num(r, "ENTITY_ID") != int64(requisiteID) {
			continue
		}
		out = append(out, Address{TypeID: int(t.num(r, "TYPE_ID")), RequisiteID: requisiteID,
			Address1: t.str(r, "ADDRESS_1"), Address2: t.str(r, "ADDRESS_2"), City: t.str(r, "CITY"),
			PostalCode: t.str(r, "POSTAL_CODE"), Region: t.str(r, "REGION"), Province: t.str(r, "PROVINCE"),
			Country: t.str(r, "COUNTRY"), CountryCode: t.str(r, "COUNTRY_CODE")})
	}
	return out
}

// AddressCount is how many addresses the portal holds.
func (p *Portal) AddressCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.reqs.addr.count
}
