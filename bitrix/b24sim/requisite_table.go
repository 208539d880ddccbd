package b24sim

import (
	"sort"
	"strconv"
	"strings"
)

// A table holds the rows of an ORM-backed CRM list that is not a CRM
// entity: requisites and their addresses. Their schemas are wider than a
// record holds, so rows keep their values in slices; filters, order and
// paging reuse the CRM lists' conditions (parseFilter, parseOrder, cond).
// Guarded by Portal.mu.
type table struct {
	fields     []*fieldDef
	byName     map[string]*fieldDef
	nStr, nNum int
	rows       []*tableRow // index id-1; nil when deleted
	count      int
	// blank is how an unset field renders when it is not null (the
	// requisite's DATE_MODIFY is "" until the first change).
	blank map[string]any
}

// tableRow is one stored row. id is the row's ID, or for addresses, which
// have none, the order they were added in.
type tableRow struct {
	id int
	s  []string
	n  []int64
}

func newTable(specs []fieldSpec) *table {
	t := &table{byName: map[string]*fieldDef{}, blank: map[string]any{}}
	for _, sp := range specs {
		f := &fieldDef{name: sp.name, kind: sp.kind, typ: sp.typ, statusType: sp.statusType,
			readOnly: strings.Contains(sp.flags, "r"), immutable: strings.Contains(sp.flags, "i"),
			required: strings.Contains(sp.flags, "q"), title: sp.title}
		switch {
		case sp.name == "ID":
			f.slot = slotID
		case sp.kind == kStr:
			f.slot = t.nStr
			t.nStr++
		default:
			f.slot = t.nNum
			t.nNum++
		}
		if f.title == "" {
			f.title = sp.name
		}
		t.fields = append(t.fields, f)
		t.byName[f.name] = f
	}
	return t
}

func (t *table) f(name string) *fieldDef { return t.byName[name] }

// newRow is an empty row: numbers null, flags N.
func (t *table) newRow(id int) *tableRow {
	r := &tableRow{id: id, s: make([]string, t.nStr), n: make([]int64, t.nNum)}
	for _, f := range t.fields {
		if f.slot >= 0 && f.kind != kStr && f.kind != kBool && f.kind != kDateTime {
			r.n[f.slot] = nullInt
		}
	}
	return r
}

func (t *table) get(id int) *tableRow {
	if id <= 0 || id > len(t.rows) {
		return nil
	}
	return t.rows[id-1]
}

func (t *table) put(r *tableRow) {
	for len(t.rows) < r.id {
		t.rows = append(t.rows, nil)
	}
	if t.rows[r.id-1] == nil {
		t.count++
	}
	t.rows[r.id-1] = r
}

func (t *table) remove(id int) {
	if t.get(id) != nil {
		t.rows[id-1] = nil
		t.count--
	}
}

func (t *table) nextID() int { return len(t.rows) + 1 }

func (t *table) str(r *tableRow, name string) string { return r.s[t.f(name).slot] }
func (t *table) num(r *tableRow, name string) int64  { return r.n[t.f(name).slot] }

func (t *table) setStr(r *tableRow, name, v string) { r.s[t.f(name).slot] = v }
func (t *table) setNum(r *tableRow, name string, v int64) {
	r.n[t.f(name).slot] = v
}

// resolver finds a column by its UPPER_CASE name, as the ORM does.
func (t *table) resolver() resolver {
	return func(name string) (column, bool) {
		f := t.byName[strings.ToUpper(strings.TrimSpace(name))]
		return column{f: f}, f != nil
	}
}

// cell is a row's value of one field, as the list conditions compare it.
func (t *table) cell(r *tableRow, f *fieldDef) cell {
	switch {
	case f.slot == slotID:
		return cell{n: int64(r.id)}
	case f.kind == kStr:
		s := r.s[f.slot]
		return cell{s: s, null: s == ""}
	}
	n := r.n[f.slot]
	return cell{n: n, null: n == nullInt || (n == 0 && f.kind == kDateTime)}
}

// tableQuery is a parsed list call on a table.
type tableQuery struct {
	conds []cond
	order []orderKey
	start int // -1: no count
	keep  func(*tableRow) bool
}

// run returns one page of the matching rows, 50 at most, with the count
// and the next page's start (list-methods-pecularities.md); start=-1 gives
// the first page without a count. Rows tie-break by id.
func (t *table) run(q tableQuery) (page []*tableRow, total, next int) {
	var all []*tableRow
	buf := make([]cell, 1)
	for _, r := range t.rows {
		if r == nil || (q.keep != nil && !q.keep(r)) {
			continue
		}
		ok := true
		for i := range q.conds {
			buf[0] = t.cell(r, q.conds[i].col.f)
			if !q.conds[i].match(buf) {
				ok = false
				break
			}
		}
		if ok {
			all = append(all, r)
		}
	}
	sort.SliceStable(all, func(i, j int) bool {
		for _, k := range q.order {
			if c := compareCells(k.col.kind(), t.cell(all[i], k.col.f), t.cell(all[j], k.col.f)); c != 0 {
				return (c < 0) != k.desc
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

// parseSelect reads select: no names (or none known) but "*" or an empty
// list select every field; otherwise only the fields named, ID included
// only when named (crm-requisite-list.md's second example selects one user
// field and gets one key). Unknown names are ignored.
func (t *table) parseSelect(names []string) map[*fieldDef]bool {
	if len(names) == 0 {
		return nil
	}
	sel := map[*fieldDef]bool{}
	for _, n := range names {
		n = strings.ToUpper(strings.TrimSpace(n))
		if n == "*" {
			return nil
		}
		if f := t.byName[n]; f != nil {
			sel[f] = true
		}
	}
	return sel
}

// render is a row as the v2 lists send it: UPPER_CASE keys, numbers and
// ids as strings, Y/N, ISO dates with the portal's offset, null for what
// is not set. sel nil renders every field.
func (t *table) render(c *crmState, r *tableRow, sel map[*fieldDef]bool) map[string]any {
	m := make(map[string]any, len(t.fields))
	for _, f := range t.fields {
		if sel != nil && !sel[f] {
			continue
		}
		m[f.name] = t.value(c, r, f)
	}
	return m
}

func (t *table) value(c *crmState, r *tableRow, f *fieldDef) any {
	if f.slot == slotID {
		return strconv.Itoa(r.id)
	}
	if f.kind == kStr {
		if s := r.s[f.slot]; s != "" {
			return s
		}
		return nil
	}
	n := r.n[f.slot]
	switch {
	case f.kind == kBool:
		return yn(n != 0)
	case f.kind == kDateTime && n != 0:
		return c.formatTime(n)
	case n == nullInt || f.kind == kDateTime:
		if v, ok := t.blank[f.name]; ok {
			return v
		}
		return nil
	}
	return strconv.FormatInt(n, 10)
}

// fieldsInfo is the table's crm.*.fields answer.
func (t *table) fieldsInfo() map[string]any {
	out := make(map[string]any, len(t.fields))
	for _, f := range t.fields {
		info := map[string]any{"type": f.typ, "isRequired": f.required, "isReadOnly": f.readOnly,
			"isImmutable": f.immutable, "isMultiple": false, "isDynamic": false, "title": f.title}
		if f.statusType != "" {
			info["statusType"] = f.statusType
		}
		out[f.name] = info
	}
	return out
}

// assign writes the writable fields given into r: text as given, numbers
// and flags as they parse (a value that does not parse is ignored); names
// are matched in upper case. Read-only fields are ignored, and so are
// immutable ones unless adding.
func (t *table) assign(r *tableRow, fields Params, adding bool) {
	for k, v := range fields {
		f := t.byName[strings.ToUpper(strings.TrimSpace(k))]
		if f == nil || f.slot < 0 || f.readOnly || (f.immutable && !adding) {
			continue
		}
		switch f.kind {
		case kStr:
			r.s[f.slot] = strings.TrimSpace(scalarString(v))
		case kBool:
			if n, ok := parseBool(v); ok {
				r.n[f.slot] = n
			}
		default:
			if isEmptyInput(v) {
				r.n[f.slot] = nullInt
			} else if n, ok := parseInt(v); ok {
				r.n[f.slot] = n
			}
		}
	}
}
