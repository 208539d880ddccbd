package b24sim

import (
	"slices"
	"strconv"
	"strings"
)

// writeMode is who writes: the v2 methods, crm.item.*, or a person in the UI
// (or a robot) through the Go API.
type writeMode int

const (
	modeV2 writeMode = iota
	modeItem
	modeUI
)

// writer carries who makes a change and how; events carry it on.
type writer struct {
	mode       writeMode
	userID     int
	automation bool
	origUF     bool // crm.item.*: fields use UF_CRM_* names
}

func (w writer) event(name string, fields map[string]string) Event {
	return Event{Name: name, Fields: fields, UserID: w.userID, Automation: w.automation}
}

func idFields(id int32) map[string]string { return map[string]string{"ID": strconv.Itoa(int(id))} }

// newRecord returns a record with the entity's empty values.
func newRecord(e *entity, id int) *record {
	r := &record{id: int32(id)}
	for _, f := range e.fields {
		if f.slot >= 0 && f.kind == kInt {
			r.n[f.slot] = nullInt
		}
	}
	return r
}

func (r *record) clone() *record {
	cp := *r
	cp.contacts = slices.Clone(r.contacts)
	cp.uf = slices.Clone(r.uf)
	return &cp
}

func (r *record) sameAs(o *record) bool {
	if r.s != o.s || r.n != o.n || !slices.Equal(r.contacts, o.contacts) || len(r.uf) != len(o.uf) {
		return false
	}
	for _, v := range r.uf {
		w, ok := o.ufGet(v.field)
		if !ok || !sameUF(v.v, w) {
			return false
		}
	}
	return true
}

func sameUF(a, b any) bool {
	switch x := a.(type) {
	case []int64:
		y, ok := b.([]int64)
		return ok && slices.Equal(x, y)
	case []string:
		y, ok := b.([]string)
		return ok && slices.Equal(x, y)
	case []float64:
		y, ok := b.([]float64)
		return ok && slices.Equal(x, y)
	}
	return a == b
}

// pending is a parsed write: the fields to set and the deal's stage intent.
type pending struct {
	stage       string
	hasStage    bool
	category    int
	hasCategory bool
}

// apply writes input fields onto r. Unknown keys, read-only fields and
// values that do not parse are ignored, as Bitrix24 does.
func (c *crmState) apply(e *entity, r *record, fields Params, w writer, adding bool) pending {
	var pd pending
	for _, key := range sortedKeys(fields) {
		val := fields[key]
		var f *fieldDef
		var u *userField
		switch w.mode {
		case modeItem:
			f = e.byCamel[key]
			if key == "contactIds" && e == c.deal {
				r.contacts = parseIDs(val)
				continue
			}
			if w.origUF {
				u = c.ufByName(e, key)
			} else {
				u = c.ufByCamel(e, key)
			}
		default:
			f = e.byName[key]
			if key == "CONTACT_IDS" && e == c.deal {
				r.contacts = parseIDs(val)
				continue
			}
			u = c.ufByName(e, key)
		}
		if u != nil {
			if v, ok := c.parseUF(u, val, w.mode == modeItem); ok {
				r.ufSet(u.id, v)
			}
			continue
		}
		if f == nil || f.readOnly || (f.immutable && !adding && f.name != "CATEGORY_ID") {
			continue
		}
		switch {
		case f.name == "STAGE_ID":
			pd.stage, pd.hasStage = strings.TrimSpace(scalarString(val)), true
			continue
		case f.name == "CATEGORY_ID" && e == c.deal:
			if n, ok := parseInt(val); ok {
				pd.category, pd.hasCategory = int(n), true
			}
			continue
		case f.slot == slotContact:
			n, ok := parseInt(val)
			switch {
			case isEmptyInput(val) || (ok && n == 0):
				r.contacts = nil
			case ok:
				rest := slices.DeleteFunc(slices.Clone(r.contacts), func(x int32) bool { return int64(x) == n })
				r.contacts = append([]int32{int32(n)}, rest...)
			}
			continue
		case f.slot == slotSparse:
			if v := strings.TrimSpace(scalarString(val)); v != "" {
				r.ufSet(f.sparse, v)
			} else {
				r.ufSet(f.sparse, nil)
			}
			continue
		case f.kind == kStr:
			r.s[f.slot] = strings.TrimSpace(scalarString(val))
			continue
		}
		if isEmptyInput(val) {
			switch f.kind {
			case kInt:
				r.n[f.slot] = nullInt
			case kBool:
				r.n[f.slot] = 0
			default:
				r.n[f.slot] = 0
			}
			continue
		}
		if n, ok := c.parseNum(f.kind, val); ok {
			r.n[f.slot] = n
		}
	}
	return pd
}

func parseIDs(v any) []int32 {
	var out []int32
	for _, x := range asList(v) {
		if n, ok := parseInt(x); ok && n > 0 && !slices.Contains(out, int32(n)) {
			out = append(out, int32(n))
		}
	}
	return out
}

func (c *crmState) firstStage(category int) string {
	best, bestSort := "", 0
	for id, st := range c.stages {
		if st.category == category && (best == "" || st.sort < bestSort || st.sort == bestSort && id < best) {
			best, bestSort = id, st.sort
		}
	}
	return best
}

func (c *crmState) categoryExists(id int) bool {
	for _, cat := range c.categories {
		if cat.id == id {
			return true
		}
	}
	return false
}

func (c *crmState) setStage(r *record, stage string) {
	d := c.deal
	r.s[d.f("STAGE_ID").slot] = stage
	r.n[d.f("CLOSED").slot] = 0
	if c.semantics(r) != 'P' {
		r.n[d.f("CLOSED").slot] = 1
	}
	// IS_NEW follows the stage: Y while the deal is in its pipeline's first stage.
	r.n[d.f("IS_NEW").slot] = 0
	if stage == c.firstStage(int(r.n[d.f("CATEGORY_ID").slot])) {
		r.n[d.f("IS_NEW").slot] = 1
	}
}

// add creates a record, as crm.*.add, crm.item.add or a person would.
// Callers hold p.mu.
func (p *Portal) crmAdd(e *entity, fields Params, w writer) (*record, error) {
	c := &p.crm
	id := e.lastID + 1
	r := newRecord(e, id)
	pd := c.apply(e, r, fields, w, true)
	now := p.now().Unix()
	set := func(name string, v int64) {
		if f := e.f(name); f != nil {
			r.n[f.slot] = v
		}
	}
	setIfNull := func(name string, v int64) {
		if f := e.f(name); f != nil && (r.n[f.slot] == 0 || r.n[f.slot] == nullInt) {
			r.n[f.slot] = v
		}
	}
	set("DATE_CREATE", now)
	set("DATE_MODIFY", now)
	set("CREATED_BY_ID", int64(w.userID))
	set("MODIFY_BY_ID", int64(w.userID))
	setIfNull("ASSIGNED_BY_ID", int64(w.userID))
	if _, ok := fields.lookup(e.fieldKey("OPENED", w)); !ok && e.f("OPENED") != nil {
		set("OPENED", 1)
	}
	if f := e.f("CURRENCY_ID"); f != nil && r.s[f.slot] == "" {
		r.s[f.slot] = c.baseCurrency()
	}
	if f := e.f("TITLE"); f != nil && r.s[f.slot] == "" && e.defaultTitle != "" {
		r.s[f.slot] = e.titleFor(id)
	}
	if e == c.deal {
		cat := 0
		if pd.hasCategory && c.categoryExists(pd.category) {
			cat = pd.category
		} else if st, ok := c.stages[pd.stage]; ok && pd.hasStage && !pd.hasCategory {
			cat = st.category
		}
		set("CATEGORY_ID", int64(cat))
		stage := pd.stage
		if st, ok := c.stages[stage]; !ok || st.category != cat {
			stage = c.firstStage(cat)
		}
		c.setStage(r, stage)
		today, _ := c.parseDate(p.now())
		setIfNull("BEGINDATE", today)
		setIfNull("CLOSEDATE", today+7*86400)
	}
	e.put(r)
	if e.ufEntityID != "" {
		p.emit(w.event("ONCRM"+e.name+"ADD", idFields(r.id)))
	}
	return r, nil
}

// fieldKey is how a writer names a standard field.
func (e *entity) fieldKey(name string, w writer) string {
	if w.mode == modeItem {
		if f := e.f(name); f != nil {
			return f.camel
		}
	}
	return name
}

// update changes a record. v2 updates fire ON…UPDATE even when nothing
// changed (nothing is saved then); crm.item.update and the UI save and fire
// nothing when nothing changed (the simulator's assumption; the protocol
// reference leaves the event unconfirmed). A pipeline move (crm.item.update
// or the UI with a new category) fires only ONCRMDEALMOVETOCATEGORY.
// Callers hold p.mu.
func (p *Portal) crmUpdate(e *entity, id int, fields Params, w writer) (*record, error) {
	c := &p.crm
	old := e.get(id)
	if old == nil {
		if w.mode == modeItem {
			return nil, errItemNotFound()
		}
		return nil, errNotFound()
	}
	if w.mode != modeUI && p.fault.denied[e.name+":"+strconv.Itoa(id)] {
		return nil, &Error{Status: 400, Description: "Access denied"}
	}
	r := old.clone()
	pd := c.apply(e, r, fields, w, false)
	moved := false
	if e == c.deal {
		catF := e.f("CATEGORY_ID")
		cur := int(r.n[catF.slot])
		switch {
		case w.mode != modeV2 && pd.hasCategory && pd.category != cur:
			if !c.categoryExists(pd.category) {
				return nil, &Error{Status: 400, Code: "CRM_FIELD_ERROR_VALUE_NOT_VALID", Description: "Invalid value of the Pipeline field"}
			}
			stage := pd.stage
			if !pd.hasStage || stage == "" {
				stage = c.firstStage(pd.category)
			}
			if st, ok := c.stages[stage]; !ok || st.category != pd.category {
				return nil, &Error{Status: 400, Code: "CRM_FIELD_ERROR_VALUE_NOT_VALID", Description: "Stage " + stage + " does not belong to pipeline " + strconv.Itoa(pd.category)}
			}
			r.n[catF.slot] = int64(pd.category)
			c.setStage(r, stage)
			moved = true
		case pd.hasStage:
			st, ok := c.stages[pd.stage]
			if ok && st.category == cur {
				c.setStage(r, pd.stage)
			} else if w.mode == modeItem {
				return nil, &Error{Status: 400, Code: "CRM_FIELD_ERROR_VALUE_NOT_VALID", Description: "Stage " + pd.stage + " does not belong to pipeline " + strconv.Itoa(cur)}
			}
			// v2 and UI: a stage of another pipeline is silently ignored.
		}
	}
	changed := !r.sameAs(old)
	if changed {
		if f := e.f("DATE_MODIFY"); f != nil {
			r.n[f.slot] = p.now().Unix()
		}
		if f := e.f("MODIFY_BY_ID"); f != nil {
			r.n[f.slot] = int64(w.userID)
		}
		e.records[id-1] = r
	} else {
		r = old
	}
	if e.ufEntityID == "" {
		return r, nil
	}
	switch {
	case moved:
		p.emit(w.event("ONCRMDEALMOVETOCATEGORY", map[string]string{
			"ID": strconv.Itoa(id), "CATEGORY_ID": strconv.Itoa(pd.category), "STAGE_ID": r.s[e.f("STAGE_ID").slot]}))
	case changed || w.mode == modeV2:
		p.emit(w.event("ONCRM"+e.name+"UPDATE", idFields(r.id)))
	}
	return r, nil
}

// delete removes a record and its product rows. Callers hold p.mu.
func (p *Portal) crmDelete(e *entity, id int, w writer) error {
	r := e.get(id)
	if r == nil {
		if w.mode == modeItem {
			return errItemNotFound()
		}
		return errNotFound()
	}
	c := &p.crm
	for i := r.rowLo; i < r.rowLo+r.rowN; i++ {
		c.rows[i].owner = 0
	}
	e.remove(id)
	p.dropRequisitesOf(e.typeID, id)
	if e.ufEntityID != "" {
		p.emit(w.event("ONCRM"+e.name+"DELETE", idFields(r.id)))
	}
	return nil
}

// errItemNotFound is what crm.item.* answers for a missing id.
func errItemNotFound() *Error {
	return &Error{Status: 400, Code: "NOT_FOUND", Description: "Element not found"}
}
