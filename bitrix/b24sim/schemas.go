package b24sim

import "sync"

// Entity and table schemas (field lists, lookups, titles) never change once
// built: user fields live in crmState.userFields and rows in the entity or
// table itself. So every portal shares one schema of each kind and holds
// only its own rows; a Host's thousand portals would otherwise keep a
// thousand copies of the same field lists (about 35 KB a portal).
var (
	protoDeal      = sync.OnceValue(dealSchema)
	protoContact   = sync.OnceValue(contactSchema)
	protoCompany   = sync.OnceValue(companySchema)
	protoProduct   = sync.OnceValue(productSchema)
	protoActivity  = sync.OnceValue(activitySchema)
	protoRequisite = sync.OnceValue(requisiteSchema)
	protoAddress   = sync.OnceValue(addressSchema)
)

// fresh returns an entity with e's schema, shared, and no records.
func (e *entity) fresh() *entity {
	cp := *e
	cp.records, cp.count, cp.lastID = nil, 0, 0
	return &cp
}

// fresh returns a table with t's schema, shared, and no rows.
func (t *table) fresh() *table {
	cp := *t
	cp.rows, cp.count = nil, 0
	return &cp
}
