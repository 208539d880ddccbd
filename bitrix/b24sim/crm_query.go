package b24sim

import (
	"iter"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// PageSize is the fixed page size of list methods.
const PageSize = 50

// column is a standard field or a user field of an entity.
type column struct {
	f  *fieldDef
	uf *userField
}

func (col column) kind() fieldKind {
	if col.uf != nil {
		return col.uf.kind()
	}
	return col.f.kind
}

// cell is one comparable value: n for numeric kinds, s for text, x for floats.
type cell struct {
	null bool
	n    int64
	s    string
	x    float64
}

// cells returns a column's values on a record: one, or several for multiple
// fields (CONTACT_ID matches any bound contact).
func (c *crmState) cells(e *entity, r *record, col column, buf []cell) []cell {
	buf = buf[:0]
	if col.uf != nil {
		v, _ := r.ufGet(col.uf.id)
		switch t := v.(type) {
		case nil:
			if col.uf.kind() == kBool {
				return append(buf, cell{n: 0})
			}
			return append(buf, cell{null: true})
		case int64:
			return append(buf, cell{n: t})
		case float64:
			return append(buf, cell{x: t})
		case string:
			return append(buf, cell{s: t})
		case []int64:
			for _, x := range t {
				buf = append(buf, cell{n: x})
			}
		case []string:
			for _, x := range t {
				buf = append(buf, cell{s: x})
			}
		case []float64:
			for _, x := range t {
				buf = append(buf, cell{x: x})
			}
		}
		if len(buf) == 0 {
			buf = append(buf, cell{null: true})
		}
		return buf
	}
	f := col.f
	switch f.slot {
	case slotID:
		return append(buf, cell{n: int64(r.id)})
	case slotSemantic:
		return append(buf, cell{s: string(c.semantics(r))})
	case slotContact:
		if len(r.contacts) == 0 {
			return append(buf, cell{null: true})
		}
		for _, id := range r.contacts {
			buf = append(buf, cell{n: int64(id)})
		}
		return buf
	case slotSparse:
		v, _ := r.ufGet(f.sparse)
		s, _ := v.(string)
		return append(buf, cell{s: s, null: s == ""})
	}
	if f.kind == kStr {
		s := r.s[f.slot]
		return append(buf, cell{s: s, null: s == ""})
	}
	n := r.n[f.slot]
	null := n == nullInt || (n == 0 && (f.kind == kDate || f.kind == kDateTime))
	return append(buf, cell{n: n, null: null})
}

// semantics is P, S or F from the deal's stage.
func (c *crmState) semantics(r *record) byte {
	if st, ok := c.stages[r.s[c.deal.f("STAGE_ID").slot]]; ok {
		return st.semantics
	}
	return 'P'
}

// cond is one parsed filter condition.
type cond struct {
	col  column
	op   string // = != > >= < <= in notin like notlike
	vals []cell
	like []string // lower-cased patterns for like
	raw  bool     // the pattern carries its own % wildcards (=%, %=, !=%, !%=)
}

// resolver finds a column by the name a method uses.
type resolver func(name string) (column, bool)

func (c *crmState) v2Resolver(e *entity) resolver {
	return func(name string) (column, bool) {
		if f := e.byName[strings.ToUpper(name)]; f != nil {
			return column{f: f}, true
		}
		if u := c.ufByName(e, strings.ToUpper(name)); u != nil {
			return column{uf: u}, true
		}
		return column{}, false
	}
}

func (c *crmState) itemResolver(e *entity, origUF bool) resolver {
	return func(name string) (column, bool) {
		if f := e.byCamel[name]; f != nil {
			return column{f: f}, true
		}
		if name == "contactIds" && e.byName["CONTACT_ID"] != nil {
			return column{f: e.byName["CONTACT_ID"]}, true
		}
		if origUF {
			if u := c.ufByName(e, name); u != nil {
				return column{uf: u}, true
			}
		} else if u := c.ufByCamel(e, name); u != nil {
			return column{uf: u}, true
		}
		return column{}, false
	}
}

// parseFilter turns a filter object into conditions, reading each key's
// prefix as the method's documentation (the dialect) says. A key whose
// field the method does not know is ignored by the v2 lists and refused by
// the methods that document the refusal.
func (c *crmState) parseFilter(filter Params, resolve resolver, d filterDialect) ([]cond, error) {
	var out []cond
	for _, key := range sortedKeys(filter) {
		raw := filter[key]
		op, rawLike, name := d.split(strings.TrimSpace(key))
		col, ok := resolve(name)
		if !ok {
			if d.strict {
				return nil, errFilterField(name)
			}
			continue
		}
		cd := cond{col: col, op: op, raw: rawLike}
		vals := asList(raw)
		_, isList := raw.([]any)
		if asParams(raw) != nil {
			isList = true
		}
		if isList && (op == "=" || op == "!=") {
			cd.op = map[string]string{"=": "in", "!=": "notin"}[op]
		}
		if len(vals) == 0 {
			vals = []any{""}
		}
		// LIKE does not work on crm_status, crm_contact and crm_company
		// fields: the simulator compares them exactly instead.
		if col.f != nil && (col.f.typ == "crm_status" || col.f.typ == "crm_contact" || col.f.typ == "crm_company") {
			switch cd.op {
			case "like":
				cd.op = "in"
			case "notlike":
				cd.op = "notin"
			}
		}
		switch cd.op {
		case "like", "notlike":
			for _, v := range vals {
				cd.like = append(cd.like, strings.ToLower(scalarString(v)))
			}
		default:
			for _, v := range vals {
				cd.vals = append(cd.vals, c.filterCell(col, v))
			}
		}
		out = append(out, cd)
	}
	return out, nil
}

// filterCell converts a filter value for a column: numerically for numbers
// and money, temporally for dates. A value that does not parse matches nothing.
func (c *crmState) filterCell(col column, v any) cell {
	if isEmptyInput(v) && !(col.kind() == kBool) {
		return cell{null: true}
	}
	switch k := col.kind(); k {
	case kStr:
		return cell{s: scalarString(v)}
	case kFloat:
		x, err := strconv.ParseFloat(strings.TrimSpace(scalarString(v)), 64)
		if err != nil {
			return cell{x: math.NaN()}
		}
		return cell{x: x}
	default:
		if col.f != nil && col.f.slot == slotSemantic {
			return cell{s: scalarString(v)}
		}
		n, ok := c.parseNum(k, v)
		if !ok {
			return cell{n: nullInt + 1, s: "\x00unparsable"}
		}
		return cell{n: n}
	}
}

func compareCells(k fieldKind, a, b cell) int {
	switch {
	case a.null && b.null:
		return 0
	case a.null:
		return -1
	case b.null:
		return 1
	}
	switch k {
	case kStr:
		return strings.Compare(strings.ToLower(a.s), strings.ToLower(b.s))
	case kFloat:
		switch {
		case a.x < b.x:
			return -1
		case a.x > b.x:
			return 1
		}
		return 0
	}
	if a.s != "" || b.s != "" { // derived text fields (STAGE_SEMANTIC_ID)
		return strings.Compare(a.s, b.s)
	}
	switch {
	case a.n < b.n:
		return -1
	case a.n > b.n:
		return 1
	}
	return 0
}

func likeMatch(pattern, s string, raw bool) bool {
	s = strings.ToLower(s)
	if !raw {
		return strings.Contains(s, pattern)
	}
	parts := strings.Split(pattern, "%")
	if len(parts) == 1 {
		return s == pattern
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}

// match evaluates one condition against a record's values.
func (cd *cond) match(vals []cell) bool {
	k := cd.col.kind()
	anyOf := func(pred func(cell) bool) bool {
		for _, v := range vals {
			if pred(v) {
				return true
			}
		}
		return false
	}
	eq := func(v cell) bool {
		for _, w := range cd.vals {
			if w.null && v.null {
				return true
			}
			if !w.null && !v.null && compareCells(k, v, w) == 0 && w.s != "\x00unparsable" {
				return true
			}
		}
		return false
	}
	switch cd.op {
	case "=", "in":
		return anyOf(eq)
	case "!=", "notin":
		return !anyOf(eq)
	case ">", ">=", "<", "<=":
		w := cd.vals[0]
		if w.null || w.s == "\x00unparsable" {
			return false
		}
		return anyOf(func(v cell) bool {
			if v.null {
				return false
			}
			r := compareCells(k, v, w)
			switch cd.op {
			case ">":
				return r > 0
			case ">=":
				return r >= 0
			case "<":
				return r < 0
			}
			return r <= 0
		})
	case "like", "notlike":
		hit := anyOf(func(v cell) bool {
			s := v.s
			if k != kStr {
				s = strconv.FormatInt(v.n, 10)
			}
			for _, p := range cd.like {
				if likeMatch(p, s, cd.raw) {
					return true
				}
			}
			return false
		})
		return hit == (cd.op == "like")
	}
	return false
}

type orderKey struct {
	col  column
	desc bool
}

// parseOrder reads an order object. JSON objects lose their key order in
// transit here, so several keys are applied alphabetically, ID last.
func parseOrder(order Params, resolve resolver) []orderKey {
	var out []orderKey
	var idKey *orderKey
	for _, key := range sortedKeys(order) {
		col, ok := resolve(key)
		if !ok {
			continue
		}
		ok2 := orderKey{col: col, desc: strings.EqualFold(scalarString(order[key]), "DESC")}
		if col.f != nil && col.f.slot == slotID {
			idKey = &ok2
			continue
		}
		out = append(out, ok2)
	}
	if idKey != nil {
		out = append(out, *idKey)
	}
	return out
}

// query is a parsed list request.
type query struct {
	conds []cond
	order []orderKey
	start int // -1: no count
}

// run returns one page of matching records and the count (when start ≥ 0).
// Conditions on ID narrow the scanned range, so keyset paging (>ID,
// start=-1) costs one page, not a table scan.
func (c *crmState) run(e *entity, q query) (page []*record, total int, next int) {
	lo, hi := 1, len(e.records)
	for _, cd := range q.conds {
		if cd.col.f == nil || cd.col.f.slot != slotID || len(cd.vals) != 1 || cd.vals[0].null {
			continue
		}
		n := cd.vals[0].n
		if n < -1<<31 || n > 1<<31 {
			continue
		}
		v := int(n)
		switch cd.op {
		case ">":
			lo = max(lo, v+1)
		case ">=":
			lo = max(lo, v)
		case "<":
			hi = min(hi, v-1)
		case "<=":
			hi = min(hi, v)
		case "=":
			lo, hi = max(lo, v), min(hi, v)
		}
	}
	byID := len(q.order) == 0 || (len(q.order) == 1 && q.order[0].col.f != nil && q.order[0].col.f.slot == slotID)
	desc := byID && len(q.order) == 1 && q.order[0].desc
	ids := scanIDs(q.conds, lo, hi, desc)
	start := max(q.start, 0)
	var buf []cell
	matches := func(r *record) bool {
		for i := range q.conds {
			buf = c.cells(e, r, q.conds[i].col, buf)
			if !q.conds[i].match(buf) {
				return false
			}
		}
		return true
	}
	if byID {
		count := 0
		for id := range ids {
			r := e.records[id-1]
			if r == nil || !matches(r) {
				continue
			}
			if count >= start && len(page) < PageSize {
				page = append(page, r)
			}
			count++
			if q.start < 0 && len(page) == PageSize {
				return page, 0, 0
			}
		}
		if q.start < 0 {
			return page, 0, 0
		}
		if start+PageSize < count {
			next = start + PageSize
		}
		return page, count, next
	}
	var all []*record
	for id := range ids {
		if r := e.records[id-1]; r != nil && matches(r) {
			all = append(all, r)
		}
	}
	var ba, bb []cell
	sort.SliceStable(all, func(i, j int) bool {
		for _, ok := range q.order {
			ba = c.cells(e, all[i], ok.col, ba)
			bb = c.cells(e, all[j], ok.col, bb)
			r := compareCells(ok.col.kind(), ba[0], bb[0])
			if r != 0 {
				return (r < 0) != ok.desc
			}
		}
		return all[i].id < all[j].id
	})
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

// scanIDs are the ids run looks at, ascending or descending: those from lo
// to hi, or, when conditions on ID list them (@ID: the re-read of records
// known by id), only those listed, in every such list, within lo to hi.
// Either way each row is still matched against every condition; the list
// only spares a scan of the table for a page of named rows.
func scanIDs(conds []cond, lo, hi int, desc bool) iter.Seq[int] {
	var only []int
	listed := false
	for _, cd := range conds {
		if cd.col.f == nil || cd.col.f.slot != slotID || cd.op != "in" {
			continue
		}
		var ids []int
		for _, v := range cd.vals {
			if !v.null && v.n >= int64(lo) && v.n <= int64(hi) {
				ids = append(ids, int(v.n))
			}
		}
		slices.Sort(ids)
		ids = slices.Compact(ids)
		if listed {
			ids = slices.DeleteFunc(ids, func(id int) bool { _, found := slices.BinarySearch(only, id); return !found })
		}
		only, listed = ids, true
	}
	return func(yield func(int) bool) {
		switch {
		case listed && desc:
			for _, id := range slices.Backward(only) {
				if !yield(id) {
					return
				}
			}
		case listed:
			for _, id := range only {
				if !yield(id) {
					return
				}
			}
		default:
			for i := 0; i <= hi-lo && lo >= 1; i++ {
				id := lo + i
				if desc {
					id = hi - i
				}
				if !yield(id) {
					return
				}
			}
		}
	}
}

// parseStart reads start: negative means "no count" (-1), absent 0.
func parseStart(ps Params) int {
	n, ok := ps.Int("start")
	if !ok {
		return 0
	}
	if n < 0 {
		return -1
	}
	return n
}

// pageOf cuts one page out of a whole list as every list method does
// (settings/how-to-call-rest-api/list-methods-pecularities.md): at most 50
// rows from start, with total and the next page's start; start=-1 gives
// the first page and no count.
func pageOf(rows []any, ps Params) ListResult {
	start := parseStart(ps)
	from := min(max(start, 0), len(rows))
	page := rows[from:min(len(rows), from+PageSize)]
	if page == nil {
		page = []any{}
	}
	res := ListResult{Items: page}
	if start < 0 {
		return res
	}
	res.Total = len(rows)
	if from+PageSize < len(rows) {
		res.Next = from + PageSize
	}
	return res
}
