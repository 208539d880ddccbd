package b24sim

import (
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Activities are the CRM's timeline activities (calls, e-mails, meetings,
// tasks), read by crm.activity.list and crm.activity.get
// (api-reference/crm/timeline/activities/activity-base/) and changed by
// people (activity_user.go), each change firing ONCRMACTIVITYADD, UPDATE or
// DELETE with only the activity's ID
// (api-reference/crm/timeline/activities/events/on-crm-activity-*.md).
//
// They are stored as CRM records of an entity of their own, so filters,
// order and paging are those of the other lists. Where the documentation
// leaves behaviour open, the simulator assumes:
//   - a filter key whose field the method does not know is ignored (the
//     page documents no refusal, as crm.deal.list's does not);
//   - OWNER_TYPE_ID and OWNER_ID filter by the activity's owner; only
//     BINDINGS looks at every record it is bound to;
//   - an order naming no known field sorts by START_TIME, the default;
//   - a sales rep's role (User.OwnOnly) reads the activities they are
//     responsible for (RESPONSIBLE_ID);
//   - activities outlive the records they are bound to.

// Activity types (crm.enum.activitytype,
// api-reference/crm/auxiliary/enum/outdated/crm-enum-activity-type.md).
const (
	ActivityMeeting = 1
	ActivityCall    = 2
	ActivityTask    = 3
	ActivityEmail   = 4
)

// Activity directions (crm.enum.activitydirection,
// api-reference/crm/auxiliary/enum/outdated/crm-enum-activity-direction.md):
// meetings and tasks have none (0).
const (
	DirectionIncoming = 1
	DirectionOutgoing = 2
)

// Owner types of an activity (crm.enum.ownertype).
var activityOwnerTypes = map[string]int{"lead": 1, "deal": 2, "contact": 3, "company": 4}

// activityState holds the activities. Guarded by Portal.mu.
type activityState struct {
	e *entity
	// bindings are the records each activity is bound to besides its
	// owner, by activity id.
	bindings map[int32][]ActivityBinding
}

// activitySchema is the activity's fields as crm.activity.fields names
// them that the simulator stores; the others render as constants
// (activityConstants).
func activitySchema() *entity {
	return newEntity("ACTIVITY", 0, "", []fieldSpec{
		{"ID", "", kInt, "integer", "", "r", "ID"},
		{"OWNER_ID", "", kInt, "integer", "", "i", "Owner ID"},
		{"OWNER_TYPE_ID", "", kInt, "crm_enum_ownertype", "", "i", "Owner Type"},
		{"TYPE_ID", "", kInt, "crm_enum_activitytype", "", "iq", "Type"},
		{"PROVIDER_ID", "", kStr, "string", "", "", "Provider ID"},
		{"PROVIDER_TYPE_ID", "", kStr, "string", "", "", "Provider Type"},
		{"SUBJECT", "", kStr, "string", "", "q", "Subject"},
		{"START_TIME", "", kDateTime, "datetime", "", "", "Start"},
		{"END_TIME", "", kDateTime, "datetime", "", "", "Deadline"},
		{"DEADLINE", "", kDateTime, "datetime", "", "", "Execution Deadline"},
		{"COMPLETED", "", kBool, "char", "", "", "Completed"},
		{"STATUS", "", kInt, "crm_enum_activitystatus", "", "", "Status"},
		{"RESPONSIBLE_ID", "", kRef, "user", "", "q", "Responsible"},
		{"PRIORITY", "", kInt, "crm_enum_activitypriority", "", "", "Priority"},
		{"DESCRIPTION", "", kStr, "string", "", "", "Description"},
		{"DIRECTION", "", kInt, "crm_enum_activitydirection", "", "", "Direction"},
		{"LOCATION", "", kStr, "string", "", "", "Location"},
		{"CREATED", "", kDateTime, "datetime", "", "r", "Creation Date"},
		{"AUTHOR_ID", "", kRef, "user", "", "r", "Created By"},
		{"LAST_UPDATED", "", kDateTime, "datetime", "", "r", "Last Updated Date"},
		{"EDITOR_ID", "", kRef, "user", "", "r", "Edited By"},
	})
}

// activityConstants are the fields of an activity the simulator does not
// model, with the values the documentation's examples show.
var activityConstants = map[string]any{
	"PROVIDER_GROUP_ID": nil, "ASSOCIATED_ENTITY_ID": "0", "NOTIFY_TYPE": "0", "NOTIFY_VALUE": "0",
	"DESCRIPTION_TYPE": "1", "SETTINGS": []any{}, "ORIGINATOR_ID": nil, "ORIGIN_ID": nil,
	"PROVIDER_PARAMS": []any{}, "PROVIDER_DATA": nil, "RESULT_MARK": "0", "RESULT_VALUE": nil,
	"RESULT_SUM": nil, "RESULT_CURRENCY_ID": nil, "RESULT_STATUS": "0", "RESULT_STREAM": "0",
	"RESULT_SOURCE_ID": nil, "AUTOCOMPLETE_RULE": "0",
}

// providers are the PROVIDER_ID and PROVIDER_TYPE_ID of each activity type.
var providers = map[int64][2]string{
	ActivityMeeting: {"CRM_MEETING", "MEETING"},
	ActivityCall:    {"VOXIMPLANT_CALL", "CALL"},
	ActivityTask:    {"CRM_TASKS_TASK", "TASK"},
	ActivityEmail:   {"CRM_EMAIL", "EMAIL"},
}

// dialectActivity is crm.activity.list's filter: the prefixes its page
// lists (its second "=%" is the negated "!=%", as the description says).
var dialectActivity = filterDialect{page: "api-reference/crm/timeline/activities/activity-base/crm-activity-list.md",
	prefixes: []string{">=", ">", "<=", "<", "@", "!@", "%", "=%", "%=", "!%", "!=%", "!%=", "=", "!=", "!"}}

func (p *Portal) registerActivityMethods() {
	p.acts = activityState{e: protoActivity().fresh(), bindings: map[int32][]ActivityBinding{}}
	p.methods["crm.activity.list"] = methodActivityList
	p.methods["crm.activity.get"] = methodActivityGet
}

func errActivityNotFound() *Error { return &Error{Status: 400, Description: "Activity is not found"} }

// methodActivityGet is crm.activity.get: every field of one activity.
func methodActivityGet(p *Portal, c *Call) (any, error) {
	id, ok := c.Params.Int("id")
	if !ok || id <= 0 {
		return nil, &Error{Status: 400, Description: "ID is not defined or invalid."}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.acts.e.get(id)
	if r == nil {
		return nil, errActivityNotFound()
	}
	if !p.acts.readable(c, r) {
		return nil, &Error{Status: 400, Description: "Access denied."}
	}
	return p.renderActivity(r, activitySelection{all: true}), nil
}

// methodActivityList is crm.activity.list as its page documents it: select
// (COMMUNICATIONS and FILES only when named), filter with the page's
// prefixes and the special BINDINGS key, order (START_TIME ascending by
// default), 50 a page with next and total; start=-1 skips the count.
func methodActivityList(p *Portal, c *Call) (any, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e := p.acts.e
	res := p.crm.v2Resolver(e)
	filter := Params{}
	var bindings []ActivityBinding
	hasBindings := false
	for k, v := range c.Params.Map("filter") {
		if strings.EqualFold(strings.TrimSpace(k), "BINDINGS") {
			hasBindings = true
			bindings = parseBindings(v)
			continue
		}
		filter[k] = v
	}
	conds, err := p.crm.parseFilter(filter, res, dialectActivity)
	if err != nil {
		return nil, err
	}
	if u := c.User; u != nil && u.OwnOnly && !u.Admin {
		conds = append(conds, cond{col: column{f: e.f("RESPONSIBLE_ID")}, op: "=", vals: []cell{{n: int64(u.ID)}}})
	}
	order := parseOrder(c.Params.Map("order"), res)
	if len(order) == 0 {
		order = []orderKey{{col: column{f: e.f("START_TIME")}}}
	}
	sel := parseActivitySelect(c.Params.Strings("select"), res)
	q := query{conds: conds, order: order, start: parseStart(c.Params)}
	var page []*record
	var total, next int
	if hasBindings {
		page, total, next = p.acts.runBound(&p.crm, q, bindings)
	} else {
		page, total, next = p.crm.run(e, q)
	}
	rows := make([]any, len(page))
	for i, r := range page {
		rows[i] = p.renderActivity(r, sel)
	}
	return ListResult{Items: rows, Total: total, Next: next}, nil
}

// ActivityBinding is a record an activity is bound to: its owner, or one
// more (crm.activity.binding.*). OwnerType is "deal", "contact", "company"
// or "lead".
type ActivityBinding struct {
	OwnerType string
	OwnerID   int
}

// parseBindings reads filter[BINDINGS]: a list of objects with
// OWNER_TYPE_ID, OWNER_ID or both. Elements that are not objects match
// nothing.
func parseBindings(v any) []ActivityBinding {
	var out []ActivityBinding
	for _, x := range asList(v) {
		m := asParams(x)
		if m == nil {
			out = append(out, ActivityBinding{OwnerType: "\x00none"})
			continue
		}
		var b ActivityBinding
		if t, ok := m.Int("OWNER_TYPE_ID"); ok {
			b.OwnerType = ownerTypeName(t)
			if b.OwnerType == "" {
				b.OwnerType = "\x00none"
			}
		}
		if id, ok := m.Int("OWNER_ID"); ok {
			b.OwnerID = id
			if id <= 0 {
				b.OwnerType = "\x00none"
			}
		}
		out = append(out, b)
	}
	return out
}

func ownerTypeName(t int) string {
	for name, id := range activityOwnerTypes {
		if id == t {
			return name
		}
	}
	return ""
}

// boundTo lists every record r is bound to: its owner first.
func (as *activityState) boundTo(r *record) []ActivityBinding {
	e := as.e
	own := ActivityBinding{OwnerType: ownerTypeName(int(r.n[e.f("OWNER_TYPE_ID").slot])), OwnerID: int(r.n[e.f("OWNER_ID").slot])}
	return append([]ActivityBinding{own}, as.bindings[r.id]...)
}

// runBound is run with filter[BINDINGS]: an activity matching several of
// the pairs is listed once for each, as the page warns ("duplication may
// occur in the results"). The conditions and order apply as in run.
func (as *activityState) runBound(c *crmState, q query, pairs []ActivityBinding) (page []*record, total, next int) {
	e := as.e
	var all []*record
	var buf []cell
	for _, r := range e.records {
		if r == nil {
			continue
		}
		ok := true
		for i := range q.conds {
			buf = c.cells(e, r, q.conds[i].col, buf)
			if !q.conds[i].match(buf) {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		bound := as.boundTo(r)
		for _, want := range pairs {
			if slices.ContainsFunc(bound, func(b ActivityBinding) bool {
				return (want.OwnerType == "" || want.OwnerType == b.OwnerType) && (want.OwnerID == 0 || want.OwnerID == b.OwnerID)
			}) {
				all = append(all, r)
			}
		}
	}
	var ba, bb []cell
	sort.SliceStable(all, func(i, j int) bool {
		for _, ok := range q.order {
			ba = c.cells(e, all[i], ok.col, ba)
			bb = c.cells(e, all[j], ok.col, bb)
			if r := compareCells(ok.col.kind(), ba[0], bb[0]); r != 0 {
				return (r < 0) != ok.desc
			}
		}
		return all[i].id < all[j].id
	})
	start := max(q.start, 0)
	if start < len(all) {
		page = all[start:min(len(all), start+PageSize)]
	}
	if q.start < 0 {
		return page, 0, 0
	}
	if start+PageSize < len(all) {
		next = start + PageSize
	}
	return page, len(all), next
}

// readable reports whether the call's user may read the activity.
func (as *activityState) readable(c *Call, r *record) bool {
	u := c.User
	return u == nil || u.Admin || !u.OwnOnly || r.n[as.e.f("RESPONSIBLE_ID").slot] == int64(u.ID)
}

// activitySelection is what crm.activity.list returns of each activity.
type activitySelection struct {
	all            bool // "*" (or no select): every field but COMMUNICATIONS and FILES
	stored         map[*fieldDef]bool
	constants      map[string]bool
	communications bool
	files          bool
}

func parseActivitySelect(names []string, res resolver) activitySelection {
	if len(names) == 0 {
		return activitySelection{all: true}
	}
	s := activitySelection{stored: map[*fieldDef]bool{}, constants: map[string]bool{}}
	for _, n := range names {
		n = strings.ToUpper(strings.TrimSpace(n))
		switch {
		case n == "*":
			s.all = true
		case n == "COMMUNICATIONS":
			s.communications = true
		case n == "FILES":
			s.files = true
		default:
			if _, ok := activityConstants[n]; ok {
				s.constants[n] = true
			} else if col, ok := res(n); ok && col.f != nil {
				s.stored[col.f] = true
			}
		}
	}
	return s
}

// renderActivity renders an activity as crm.activity.list and .get send
// it: UPPER_CASE keys, every number and id as a string, COMPLETED as Y/N,
// ISO dates with the portal's offset, null for what is not set, "" for an
// empty DESCRIPTION or LOCATION. ID is always there. Caller holds p.mu.
func (p *Portal) renderActivity(r *record, sel activitySelection) map[string]any {
	e := p.acts.e
	m := map[string]any{}
	for _, f := range e.fields {
		if !sel.all && !sel.stored[f] && f.slot != slotID {
			continue
		}
		v := p.crm.fieldValue(e, r, f, false)
		if v == nil && (f.name == "DESCRIPTION" || f.name == "LOCATION") {
			v = ""
		}
		m[f.name] = v
	}
	for k, v := range activityConstants {
		if sel.all || sel.constants[k] {
			m[k] = v
		}
	}
	if sel.communications {
		m["COMMUNICATIONS"] = p.activityCommunications(r)
	}
	if sel.files {
		m["FILES"] = []any{}
	}
	return m
}

// activityCommunications is the activity's communication with its client
// (crm.activity.communication.fields): a call's phone or an e-mail's
// address of the contact or company that owns it. The simulator keeps no
// phones or addresses: VALUE is empty.
func (p *Portal) activityCommunications(r *record) []any {
	e := p.acts.e
	ownerType := r.n[e.f("OWNER_TYPE_ID").slot]
	if ownerType != 3 && ownerType != 4 {
		return []any{}
	}
	kind := ""
	switch r.n[e.f("TYPE_ID").slot] {
	case ActivityCall:
		kind = "PHONE"
	case ActivityEmail:
		kind = "EMAIL"
	}
	return []any{map[string]any{"ID": strconv.Itoa(int(r.id)), "TYPE": kind, "VALUE": "",
		"ENTITY_ID": strconv.FormatInt(r.n[e.f("OWNER_ID").slot], 10), "ENTITY_TYPE_ID": strconv.FormatInt(ownerType, 10)}}
}
