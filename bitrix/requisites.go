package bitrix

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
)

// Requisites are contacts' and companies' legal details, crm.requisite.list
// (api-reference/crm/requisites/universal/crm-requisite-list.md): UPPER_CASE
// fields, every value a string, 50 a page. A Polish company's NIP is its
// VAT ID, RQ_VAT_ID (the field list has RQ_INN, the Russian "TIN", and no
// NIP field of its own); people write it with dashes, spaces or the PL
// prefix.
var Requisites requisites

type requisites struct{}

// RequisiteFields are the fields the app reads of a requisite.
var RequisiteFields = []string{"ID", "ENTITY_TYPE_ID", "ENTITY_ID", "PRESET_ID", "NAME", "ACTIVE",
	"RQ_COMPANY_NAME", "RQ_INN", "RQ_VAT_ID"}

// Lister is the keyset scan of crm.requisite.list by ID with the
// RequisiteFields, for Scan; filter narrows it ({"ENTITY_TYPE_ID": 4} for
// companies').
func (requisites) Lister(filter map[string]any) Lister {
	return Lister{Method: "crm.requisite.list", Params: selectParams(RequisiteFields), Filter: filter, IDField: "ID"}
}

// ByID reads the requisites given with the RequisiteFields, every page of
// them (PortalClient.ListAll): a requisite's change event carries only its
// id.
func (requisites) ByID(name string, ids []int64) ListCommand {
	return requisiteList(name, map[string]any{"@ID": ids})
}

// OfCompanies reads every requisite of the companies given.
func (requisites) OfCompanies(name string, ids []int64) ListCommand {
	return requisiteList(name, map[string]any{"ENTITY_TYPE_ID": EntityCompany.TypeID(), "@ENTITY_ID": ids})
}

func requisiteList(name string, filter map[string]any) ListCommand {
	return ListCommand{Name: name, Method: "crm.requisite.list", Params: map[string]any{
		"filter": filter, "select": RequisiteFields, "order": map[string]string{"ID": "ASC"},
	}}
}

// Requisite is a crm.requisite.list row with the RequisiteFields.
type Requisite struct {
	ID          ID     `json:"ID"`
	OwnerType   ID     `json:"ENTITY_TYPE_ID"` // Entity.TypeID: 3 contact, 4 company
	OwnerID     ID     `json:"ENTITY_ID"`
	PresetID    ID     `json:"PRESET_ID"`
	Name        string `json:"NAME"`
	Active      Bool   `json:"ACTIVE"`
	CompanyName string `json:"RQ_COMPANY_NAME"`
	INN         string `json:"RQ_INN"`    // Russia's taxpayer number
	VATID       string `json:"RQ_VAT_ID"` // VAT number: Poland's NIP, Germany's USt-IdNr., ...
}

// Addresses are requisites' addresses, crm.address.list
// (api-reference/crm/requisites/addresses/crm-address-list.md). An address
// has no ID: its requisite and type name it, so the list is read by
// offset, in that order.
var Addresses addresses

type addresses struct{}

// AddressOfRequisite is the owner type of a requisite's address
// (crm.enum.ownertype: 8, "requisite").
const AddressOfRequisite = 8

// AddressFields are what the app reads of an address: where it is, whose
// it is, not the street.
var AddressFields = []string{"TYPE_ID", "ENTITY_TYPE_ID", "ENTITY_ID", "CITY", "POSTAL_CODE", "REGION", "PROVINCE",
	"COUNTRY", "COUNTRY_CODE", "ANCHOR_TYPE_ID", "ANCHOR_ID"}

// All reads every requisite's address with the AddressFields, every page
// of it (PortalClient.ListAll).
func (addresses) All(name string) ListCommand {
	return addressList(name, map[string]any{"ENTITY_TYPE_ID": AddressOfRequisite})
}

// OfRequisites reads the addresses of the requisites given with the
// AddressFields, every page of them (PortalClient.ListAll). A requisite
// has at most one address of each of the six types.
func (addresses) OfRequisites(name string, ids []int64) ListCommand {
	return addressList(name, map[string]any{"ENTITY_TYPE_ID": AddressOfRequisite, "@ENTITY_ID": ids})
}

func addressList(name string, filter map[string]any) ListCommand {
	return ListCommand{Name: name, Method: "crm.address.list", Params: map[string]any{
		"filter": filter, "select": AddressFields,
		"order": map[string]string{"ENTITY_ID": "ASC", "TYPE_ID": "ASC"},
	}}
}

// LegacyAddressFields are the deprecated address fields of a contact or
// company the app reads (crm-contact-fields.md, crm-company-fields.md:
// "only used for compatibility mode"): older portals keep addresses there
// rather than in requisites. A company's legal address (REG_ADDRESS_*)
// comes first.
func LegacyAddressFields(e Entity) []string {
	parts := []string{"COUNTRY", "COUNTRY_CODE", "PROVINCE", "REGION", "CITY", "POSTAL_CODE"}
	prefixes := []string{"ADDRESS_"}
	switch e {
	case EntityCompany:
		prefixes = []string{"REG_ADDRESS_", "ADDRESS_"}
	case EntityContact:
	default:
		return nil
	}
	var out []string
	for _, p := range prefixes {
		for _, f := range parts {
			out = append(out, p+f)
		}
	}
	return out
}

// Address is a crm.address.list row. Unfilled parts are empty; Province is
// the region (a Polish voivodeship), Region the district. AnchorType and
// AnchorID are the contact or company the requisite belongs to.
type Address struct {
	TypeID      ID     `json:"TYPE_ID"` // crm.enum.addresstype: 1 physical, 6 legal, ...
	EntityType  ID     `json:"ENTITY_TYPE_ID"`
	EntityID    ID     `json:"ENTITY_ID"` // the requisite
	Address1    string `json:"ADDRESS_1"`
	Address2    string `json:"ADDRESS_2"`
	City        string `json:"CITY"`
	PostalCode  string `json:"POSTAL_CODE"`
	Region      string `json:"REGION"`
	Province    string `json:"PROVINCE"`
	Country     string `json:"COUNTRY"`
	CountryCode string `json:"COUNTRY_CODE"`
	AnchorType  ID     `json:"ANCHOR_TYPE_ID"`
	AnchorID    ID     `json:"ANCHOR_ID"`
}

// Duplicates is crm.duplicate.findbycomm
// (api-reference/crm/duplicates/crm-duplicate-find-by-comm.md): the leads,
// contacts and companies holding any of up to 20 phones or e-mails.
var Duplicates duplicates

type duplicates struct{}

// CommType is what findbycomm searches: phones or e-mails.
type CommType string

const (
	CommPhone CommType = "PHONE"
	CommEmail CommType = "EMAIL"
)

// FindByCommLimit is the most values one call reads ("Maximum number of
// values — 20"). Bitrix24 does not refuse more: it ignores the rest.
const FindByCommLimit = 20

// FindByComm is one crm.duplicate.findbycomm call for at most
// FindByCommLimit values, among contacts and companies.
func (duplicates) FindByComm(name string, typ CommType, values []string) Command {
	return Command{Name: name, Method: "crm.duplicate.findbycomm", Params: map[string]any{"type": string(typ), "values": values}}
}

// CommMatch is what one phone or e-mail matched.
type CommMatch struct {
	Contacts  []ID
	Companies []ID
}

// Ambiguous reports whether the value matched more than one record.
func (m CommMatch) Ambiguous() bool { return len(m.Contacts)+len(m.Companies) > 1 }

// Found reports whether the value matched any record.
func (m CommMatch) Found() bool { return len(m.Contacts)+len(m.Companies) > 0 }

// commFound is findbycomm's answer: an object with the types found, or []
// when nothing was (tutorials/crm/how-to-get-lists/search-by-phone-and-email.md).
type commFound struct {
	Contact []ID `json:"CONTACT"`
	Company []ID `json:"COMPANY"`
}

func decodeCommFound(raw json.RawMessage) (CommMatch, error) {
	if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] == '[' || bytes.Equal(t, null) {
		return CommMatch{}, nil
	}
	var f commFound
	if err := json.Unmarshal(raw, &f); err != nil {
		return CommMatch{}, fmt.Errorf("bitrix: crm.duplicate.findbycomm: %w", err)
	}
	return CommMatch{Contacts: f.Contact, Companies: f.Company}, nil
}

// FindByComm matches each value with the contacts and companies holding
// it. The answer to several values is their union, so it asks in two
// rounds: the values FindByCommLimit to a call, 50 calls to a batch
// (⌈values/20/50⌉ requests); then, one value to a call, only the values
// of the calls that found something, to tell which value matched what.
// Values that found nothing are absent from the result; repeated values
// are asked once.
func (p *PortalClient) FindByComm(ctx context.Context, typ CommType, values []string) (map[string]CommMatch, error) {
	var uniq []string
	seen := map[string]bool{}
	for _, v := range values {
		if v != "" && !seen[v] {
			seen[v] = true
			uniq = append(uniq, v)
		}
	}
	var chunks [][]string
	var cmds []Command
	for start := 0; start < len(uniq); start += FindByCommLimit {
		chunk := uniq[start:min(start+FindByCommLimit, len(uniq))]
		chunks = append(chunks, chunk)
		cmds = append(cmds, Duplicates.FindByComm("c"+strconv.Itoa(len(cmds)), typ, chunk))
	}
	out := map[string]CommMatch{}
	res, err := p.BatchAll(ctx, cmds)
	if err != nil {
		return nil, err
	}
	var again []string
	for i, c := range cmds {
		m, err := commResult(res, c.Name)
		if err != nil {
			return nil, err
		}
		switch {
		case !m.Found():
		case len(chunks[i]) == 1:
			out[chunks[i][0]] = m
		default:
			again = append(again, chunks[i]...)
		}
	}
	cmds = cmds[:0]
	for i, v := range again {
		cmds = append(cmds, Duplicates.FindByComm("v"+strconv.Itoa(i), typ, []string{v}))
	}
	if len(cmds) == 0 {
		return out, nil
	}
	if res, err = p.BatchAll(ctx, cmds); err != nil {
		return nil, err
	}
	for i, c := range cmds {
		m, err := commResult(res, c.Name)
		if err != nil {
			return nil, err
		}
		if m.Found() {
			out[again[i]] = m
		}
	}
	return out, nil
}

func commResult(res *BatchResult, name string) (CommMatch, error) {
	if err := res.Err(name); err != nil {
		return CommMatch{}, fmt.Errorf("bitrix: crm.duplicate.findbycomm: %w", err)
	}
	return decodeCommFound(res.Results[name])
}
