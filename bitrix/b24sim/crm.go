package b24sim

import (
	"math"
	"strings"
	"time"
)

// Where the protocol reference leaves Bitrix24's behaviour open, the
// simulator assumes:
//   - crm.item.update (and a UI edit) that changes nothing saves nothing and
//     fires no event; crm.*.update (v2) saves nothing but fires ON…UPDATE.
//   - crm.item.update with categoryId but no stageId moves the deal to the
//     target pipeline's first stage; a stageId outside the (target) pipeline
//     is a 400 CRM_FIELD_ERROR_VALUE_NOT_VALID.
//   - Writing an enumeration user field with a value that is not an item ID
//     of that field (text, a foreign id) is ignored: the old value stays.
//     crm.item.update with [] on a multiple field does not clear it; v2 does.
//   - crm.item.* answers a missing id with 400 NOT_FOUND "Element not found";
//     the v2 methods with the empty-code 400 "Not found".
//   - Empty single user fields render null; empty multiple ones false in v2
//     and [] in crm.item.*. v2 renders user field values as strings.
//   - crm.status.add with a STATUS_ID already in the list: 400, empty code.
//   - LIKE (%) on crm_status/crm_contact/crm_company fields compares exactly.
//   - Several order keys apply alphabetically with ID last (JSON object order
//     is not kept); crm.item.list's logic: "OR" is not supported.
//   - Product rows carry no discounts or taxes; v2 rows send PRICE/QUANTITY
//     as numbers and ID/OWNER_ID as strings.
//
// crmState is the portal's CRM: records, user fields, reference lists
// (statuses, pipelines, currencies), the product catalog and product rows.
// Everything is guarded by Portal.mu.
//
// Records are typed and compact (see record); they are rendered into the
// maps Bitrix24 sends only on the way out, so a portal can hold a million
// deals.
type crmState struct {
	zone *time.Location // the portal's time zone: dates render with its offset

	deal, contact, company, product *entity

	userFields  []*userField // in creation order
	nextUFID    int
	nextEnumID  int
	statuses    []*status
	nextStatus  int
	stages      map[string]stageRef // STATUS_ID of a deal stage → its pipeline and semantics
	categories  []*category
	nextCatID   int
	currencies  []*currency
	sections    []*section
	nextSection int
	rows        []productRow // product rows in ID order; rows of deleted owners have owner 0
	nextRowID   int32
}

type stageRef struct {
	category  int
	semantics byte // 'P', 'S' or 'F'
	sort      int
}

// nullInt marks an integer field without a value (rendered null).
const nullInt = math.MinInt64

// portalZone is the simulated portal's time zone: a fixed +02:00 (the offset
// of the protocol reference's examples), so output does not depend on the host.
func portalZone() *time.Location { return time.FixedZone("+0200", 2*3600) }

func (p *Portal) initCRM() {
	c := &p.crm
	c.zone = portalZone()
	c.deal, c.contact, c.company, c.product = protoDeal().fresh(), protoContact().fresh(), protoCompany().fresh(), protoProduct().fresh()
	c.nextUFID, c.nextEnumID, c.nextStatus, c.nextSection, c.nextRowID = 101, 1, 1, 1, 1
	c.stages = map[string]stageRef{}
	c.initStatuses()
	c.initCurrencies()
}

// entityByName resolves "deal", "CONTACT", "crm_company", ... to an entity.
func (c *crmState) entityByName(name string) *entity {
	n := strings.ToUpper(strings.TrimPrefix(strings.ToUpper(name), "CRM_"))
	switch n {
	case "DEAL":
		return c.deal
	case "CONTACT":
		return c.contact
	case "COMPANY":
		return c.company
	case "PRODUCT":
		return c.product
	}
	return nil
}

func (c *crmState) entityByTypeID(id int) *entity {
	switch id {
	case 2:
		return c.deal
	case 3:
		return c.contact
	case 4:
		return c.company
	}
	return nil
}

func (p *Portal) registerCRMMethods() {
	for _, e := range []*entity{p.crm.deal, p.crm.contact, p.crm.company} {
		p.registerRecordMethods("crm."+strings.ToLower(e.name)+".", v2API(e))
		p.registerUserFieldMethods(e)
	}
	p.registerItemMethods()
	p.registerReferenceMethods()
}
