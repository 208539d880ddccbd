package segment

import "strings"

// factID identifies a fact in compiled rules.
type factID uint8

const (
	factField factID = iota + 1
	factWonAmount
	factWonCount
	factAvgWonAmount
	factLostCount
	factOpenDeals
	factDaysSinceLastWon
	factDaysSinceFirstWon
	factProductGroups
	factGrowth
	factRFMR
	factRFMF
	factRFMM
	factRFM
	factClientSegment
	// Engagement facts (engagement.go), of every record type; keep them
	// together: isActivityFact reads the range.
	factActivities
	factCalls
	factEmails
	factMeetings
	factTasks
	factInboundActivities
	factOutboundActivities
	factDaysSinceLastActivity
	factDaysSinceLastInbound
	factOpenActivities
	// Location facts (location.go), of contacts and companies; keep them
	// together: isLocationFact reads the range.
	factCountry
	factRegion
	factCity
	factPostalPrefix
	// factList is membership of a static list (lists.go).
	factList
	// Registry facts (registry.go), of companies; keep them together:
	// isRegistryFact reads the range.
	factRegistryPKDSection
	factRegistryPKD
	factRegistryRegion
	factRegistryLegalForm
	factRegistryStatus
	factRegistryAgeYears
)

// Window says whether a fact takes window_days.
type Window string

// Window rules.
const (
	WindowNone     Window = "none"
	WindowOptional Window = "optional"
	WindowRequired Window = "required"
)

// valueType is what a fact compares against.
type valueType uint8

const (
	typeNumber   valueType = iota // numbers: all operators but contains
	typeText                      // text: =, !=, in, not_in, contains, empty, not_empty
	typeGroups                    // a set of section ids: contains/in/not_in on members, numbers on its size
	typeField                     // a record field: text, or a number when it parses as one
	typeLocation                  // a part of the client's location: text matched normalised (location.go)
	typeList                      // static list keys: in, not_in (lists.go)
)

// FactInfo describes a fact for the settings page's form builder.
type FactInfo struct {
	Name     string   `json:"name"`
	Kind     Kind     `json:"kind"`
	Window   Window   `json:"window"`
	Entities []Entity `json:"entities"`
	Ops      []Op     `json:"ops"`
}

type factSpec struct {
	id     factID
	name   string
	typ    valueType
	window Window
	deal   bool // a deal fact; otherwise a contact/company fact (field: and engagement facts are both)
}

// FieldPrefix starts a fact that reads a record's field: "field:SOURCE_ID".
const FieldPrefix = "field:"

// maxWindowDays bounds window_days: ten years.
const maxWindowDays = 3650

// maxDepth bounds how deeply conditions nest. Compile checks it, for
// configs built in code too; MaxJSONDepth bounds JSON input by it before
// anything is decoded.
const maxDepth = 8

var factSpecs = []factSpec{
	{factWonAmount, "won_amount", typeNumber, WindowOptional, false},
	{factWonCount, "won_count", typeNumber, WindowOptional, false},
	{factAvgWonAmount, "avg_won_amount", typeNumber, WindowOptional, false},
	{factLostCount, "lost_count", typeNumber, WindowOptional, false},
	{factOpenDeals, "open_deals", typeNumber, WindowNone, false},
	{factDaysSinceLastWon, "days_since_last_won", typeNumber, WindowNone, false},
	{factDaysSinceFirstWon, "days_since_first_won", typeNumber, WindowNone, false},
	{factProductGroups, "product_groups", typeGroups, WindowOptional, false},
	{factGrowth, "growth", typeNumber, WindowRequired, false},
	{factRFMR, "rfm_r", typeNumber, WindowOptional, false},
	{factRFMF, "rfm_f", typeNumber, WindowOptional, false},
	{factRFMM, "rfm_m", typeNumber, WindowOptional, false},
	{factRFM, "rfm", typeText, WindowOptional, false},
	{factClientSegment, "client_segment", typeText, WindowNone, true},
	{factActivities, "activities", typeNumber, WindowOptional, false},
	{factCalls, "calls", typeNumber, WindowOptional, false},
	{factEmails, "emails", typeNumber, WindowOptional, false},
	{factMeetings, "meetings", typeNumber, WindowOptional, false},
	{factTasks, "tasks", typeNumber, WindowOptional, false},
	{factInboundActivities, "inbound_activities", typeNumber, WindowOptional, false},
	{factOutboundActivities, "outbound_activities", typeNumber, WindowOptional, false},
	{factDaysSinceLastActivity, "days_since_last_activity", typeNumber, WindowNone, false},
	{factDaysSinceLastInbound, "days_since_last_inbound", typeNumber, WindowNone, false},
	{factOpenActivities, "open_activities", typeNumber, WindowNone, false},
	{factCountry, FactCountry, typeLocation, WindowNone, false},
	{factRegion, FactRegion, typeLocation, WindowNone, false},
	{factCity, FactCity, typeLocation, WindowNone, false},
	{factPostalPrefix, FactPostalPrefix, typeLocation, WindowNone, false},
	{factList, FactList, typeList, WindowNone, false},
	{factRegistryPKDSection, FactRegistryPKDSection, typeText, WindowNone, false},
	{factRegistryPKD, FactRegistryPKD, typeText, WindowNone, false},
	{factRegistryRegion, FactRegistryRegion, typeLocation, WindowNone, false},
	{factRegistryLegalForm, FactRegistryLegalForm, typeText, WindowNone, false},
	{factRegistryStatus, FactRegistryStatus, typeText, WindowNone, false},
	{factRegistryAgeYears, FactRegistryAgeYears, typeNumber, WindowNone, false},
}

var fieldSpec = factSpec{factField, FieldPrefix + "NAME", typeField, WindowNone, false}

// lookupFact finds a fact by its config name; for field:NAME it returns the
// field name too.
func lookupFact(name string) (spec factSpec, field string, ok bool) {
	if f, isField := strings.CutPrefix(name, FieldPrefix); isField {
		return fieldSpec, f, true
	}
	for _, s := range factSpecs {
		if s.name == name {
			return s, "", true
		}
	}
	return factSpec{}, "", false
}

func (s factSpec) forEntity(e Entity) bool {
	if s.id.isRegistryFact() { // a registry has companies, not people
		return e == EntityCompany
	}
	return s.id == factField || s.id.isActivityFact() || s.deal == (e == EntityDeal)
}

func (s factSpec) ops() []Op {
	switch s.typ {
	case typeNumber:
		return []Op{OpEq, OpNe, OpLt, OpLe, OpGt, OpGe, OpIn, OpNotIn, OpBetween, OpEmpty, OpNotEmpty}
	case typeText, typeLocation:
		return []Op{OpEq, OpNe, OpIn, OpNotIn, OpContains, OpEmpty, OpNotEmpty}
	case typeList:
		return []Op{OpIn, OpNotIn}
	}
	return allOps()
}

func allOps() []Op {
	return []Op{OpEq, OpNe, OpLt, OpLe, OpGt, OpGe, OpIn, OpNotIn, OpContains, OpBetween, OpEmpty, OpNotEmpty}
}

func (s factSpec) kind() Kind {
	switch s.typ {
	case typeNumber:
		return KindNumber
	case typeGroups:
		return KindGroups
	}
	return KindText
}

// Catalog lists every fact with its kind, window rule, record types and
// operators, field:NAME last.
func Catalog() []FactInfo {
	out := make([]FactInfo, 0, len(factSpecs)+1)
	for _, s := range append(factSpecs[:len(factSpecs):len(factSpecs)], fieldSpec) {
		info := FactInfo{Name: s.name, Kind: s.kind(), Window: s.window, Ops: s.ops()}
		for _, e := range []Entity{EntityContact, EntityCompany, EntityDeal} {
			if s.forEntity(e) {
				info.Entities = append(info.Entities, e)
			}
		}
		out = append(out, info)
	}
	return out
}

// standardFields are the fields every portal has, used when a Vocabulary
// lists no fields for a record type (protocol §8.3).
func standardFields(e Entity) []string {
	common := []string{"ID", "ASSIGNED_BY_ID", "CREATED_BY_ID", "MODIFY_BY_ID", "DATE_CREATE", "DATE_MODIFY",
		"OPENED", "COMMENTS", "UTM_SOURCE", "UTM_MEDIUM", "UTM_CAMPAIGN", "UTM_CONTENT", "UTM_TERM"}
	switch e {
	case EntityDeal:
		return append(common, "TITLE", "TYPE_ID", "STAGE_ID", "CATEGORY_ID", "STAGE_SEMANTIC_ID", "PROBABILITY",
			"CURRENCY_ID", "OPPORTUNITY", "IS_MANUAL_OPPORTUNITY", "COMPANY_ID", "CONTACT_ID", "BEGINDATE",
			"CLOSEDATE", "CLOSED", "SOURCE_ID", "SOURCE_DESCRIPTION", "IS_NEW", "IS_RETURN_CUSTOMER", "MOVED_TIME")
	case EntityContact:
		return append(common, "NAME", "LAST_NAME", "SECOND_NAME", "HONORIFIC", "TYPE_ID", "SOURCE_ID",
			"SOURCE_DESCRIPTION", "POST", "COMPANY_ID", "BIRTHDATE", "EXPORT", "HAS_PHONE", "HAS_EMAIL")
	case EntityCompany:
		return append(common, "TITLE", "COMPANY_TYPE", "INDUSTRY", "EMPLOYEES", "REVENUE", "CURRENCY_ID",
			"HAS_PHONE", "HAS_EMAIL")
	}
	return nil
}
