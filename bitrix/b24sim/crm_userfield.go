package b24sim

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// userField is a custom field (UF_CRM_*) of one entity.
type userField struct {
	id         int32
	ent        *entity
	name       string // UF_CRM_...
	camel      string // its crm.item.* name
	userType   string
	xmlID      string
	sort       int
	multiple   bool
	mandatory  bool
	showFilter bool
	showInList bool
	editInList bool
	searchable bool
	settings   any
	labels     map[string]any // EDIT_FORM_LABEL, LIST_COLUMN_LABEL, ... → lang map
	list       []*enumItem
}

type enumItem struct {
	id    int
	value string
	def   bool
	sort  int
	xmlID string
}

// ufKinds maps the user types the simulator supports to storage kinds.
var ufKinds = map[string]fieldKind{
	"string": kStr, "url": kStr, "money": kStr, "address": kStr,
	"integer": kInt, "enumeration": kInt, "employee": kInt, "crm": kStr, "crm_status": kStr,
	"double": kFloat, "boolean": kBool, "date": kDate, "datetime": kDateTime,
}

var ufLabelKeys = []string{"EDIT_FORM_LABEL", "LIST_COLUMN_LABEL", "LIST_FILTER_LABEL", "ERROR_MESSAGE", "HELP_MESSAGE"}

var ufNameRE = regexp.MustCompile(`^UF_CRM_[A-Z0-9_]+$`)

func (u *userField) kind() fieldKind { return ufKinds[u.userType] }

func (u *userField) item(id int64) *enumItem {
	for _, it := range u.list {
		if int64(it.id) == id {
			return it
		}
	}
	return nil
}

// ufCamel converts UF_CRM_3_DIGIT → ufCrm3Digit. When the camel form does not
// convert back to the original (UF_CRM_1747309879 → ufCrm1747309879 →
// UF_CRM_1747309879_?), crm.item.* uses the ufCrm_ form instead:
// ufCrm_1747309879, and ufCrm44_1721812814433 for smart-process style names.
func ufCamel(name string) string {
	parts := strings.Split(strings.ToLower(name), "_")
	var b strings.Builder
	for i, p := range parts {
		if p == "" {
			continue
		}
		if i == 0 {
			b.WriteString(p)
			continue
		}
		b.WriteString(strings.ToUpper(p[:1]) + p[1:])
	}
	camel := b.String()
	if ufSnake(camel) == name {
		return camel
	}
	rest := strings.TrimPrefix(name, "UF_CRM_")
	if first, tail, ok := strings.Cut(rest, "_"); ok && isDigits(first) && isDigits(strings.ReplaceAll(tail, "_", "")) {
		return "ufCrm" + first + "_" + tail
	}
	return "ufCrm_" + rest
}

// ufSnake is the reverse conversion: an underscore before every capital and
// around every run of digits.
func ufSnake(camel string) string {
	var b strings.Builder
	rs := []rune(camel)
	for i, r := range rs {
		switch {
		case unicode.IsUpper(r):
			b.WriteByte('_')
			b.WriteRune(r)
		case unicode.IsDigit(r):
			if i > 0 && !unicode.IsDigit(rs[i-1]) {
				b.WriteByte('_')
			}
			b.WriteRune(r)
			if i == len(rs)-1 || !unicode.IsDigit(rs[i+1]) {
				b.WriteByte('_')
			}
		default:
			b.WriteRune(unicode.ToUpper(r))
		}
	}
	return strings.ReplaceAll(b.String(), "__", "_")
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func (c *crmState) ufByName(e *entity, name string) *userField {
	for _, u := range c.userFields {
		if u.ent == e && u.name == name {
			return u
		}
	}
	return nil
}

func (c *crmState) ufByCamel(e *entity, camel string) *userField {
	for _, u := range c.userFields {
		if u.ent == e && u.camel == camel {
			return u
		}
	}
	return nil
}

func (c *crmState) ufByID(e *entity, id int) *userField {
	for _, u := range c.userFields {
		if u.ent == e && int(u.id) == id {
			return u
		}
	}
	return nil
}

func (c *crmState) entityUFs(e *entity) []*userField {
	var out []*userField
	for _, u := range c.userFields {
		if u.ent == e {
			out = append(out, u)
		}
	}
	return out
}

// ---- values on records ----

func (r *record) ufGet(id int32) (any, bool) {
	for _, v := range r.uf {
		if v.field == id {
			return v.v, true
		}
	}
	return nil, false
}

func (r *record) ufSet(id int32, v any) {
	for i := range r.uf {
		if r.uf[i].field == id {
			if v == nil {
				r.uf = append(r.uf[:i], r.uf[i+1:]...)
			} else {
				r.uf[i].v = v
			}
			return
		}
	}
	if v != nil {
		r.uf = append(r.uf, ufValue{field: id, v: v})
	}
}

// parseUF converts an input value into the stored form. ok=false means the
// write is ignored (the value stays as it was): Bitrix24 drops enumeration
// values that are not item IDs of the field, and text for numbers. item is
// true for crm.item.*, where an empty array does not clear a multiple field.
func (c *crmState) parseUF(u *userField, in any, item bool) (v any, ok bool) {
	if u.multiple {
		list := asList(in)
		if isEmptyInput(in) || len(list) == 0 {
			if item {
				return nil, false
			}
			return nil, true
		}
		var ints []int64
		var strs []string
		var floats []float64
		for _, x := range list {
			one, ok := c.parseUFScalar(u, x)
			if !ok || one == nil {
				continue
			}
			switch t := one.(type) {
			case int64:
				ints = append(ints, t)
			case string:
				strs = append(strs, t)
			case float64:
				floats = append(floats, t)
			}
		}
		switch {
		case ints != nil:
			return ints, true
		case strs != nil:
			return strs, true
		case floats != nil:
			return floats, true
		}
		return nil, false
	}
	if l, isList := in.([]any); isList && len(l) > 0 {
		in = l[0]
	}
	return c.parseUFScalar(u, in)
}

func (c *crmState) parseUFScalar(u *userField, in any) (any, bool) {
	if isEmptyInput(in) {
		return nil, true
	}
	switch u.kind() {
	case kStr:
		return scalarString(in), true
	case kFloat:
		f, err := strconv.ParseFloat(strings.TrimSpace(scalarString(in)), 64)
		return f, err == nil
	case kBool:
		n, ok := parseBool(in)
		return n, ok
	default:
		n, ok := c.parseNum(u.kind(), in)
		if !ok {
			return nil, false
		}
		if u.userType == "enumeration" {
			if n == 0 {
				return nil, true
			}
			if u.item(n) == nil {
				return nil, false
			}
		}
		return n, true
	}
}

// renderUF renders a stored value: v2 sends strings (as they come from the
// database), crm.item.* numbers; empty single values are null, empty
// multiple values false in v2 and [] in crm.item.*.
func (c *crmState) renderUF(u *userField, v any, item bool) any {
	one := func(x any) any {
		switch t := x.(type) {
		case int64:
			switch u.kind() {
			case kDate, kDateTime:
				return c.formatTime(t)
			case kBool:
				if item {
					return yn(t == 1)
				}
				return strconv.FormatInt(t, 10)
			}
			if item {
				return t
			}
			return strconv.FormatInt(t, 10)
		case float64:
			if item {
				return t
			}
			return strconv.FormatFloat(t, 'f', -1, 64)
		case string:
			return t
		}
		return nil
	}
	if u.multiple {
		out := []any{}
		switch t := v.(type) {
		case []int64:
			for _, x := range t {
				out = append(out, one(x))
			}
		case []string:
			for _, x := range t {
				out = append(out, x)
			}
		case []float64:
			for _, x := range t {
				out = append(out, one(x))
			}
		}
		if len(out) == 0 && !item {
			return false
		}
		return out
	}
	if v == nil {
		if u.kind() == kBool {
			if item {
				return "N"
			}
			return "0"
		}
		return nil
	}
	return one(v)
}

// ---- userfield methods ----

func (p *Portal) registerUserFieldMethods(e *entity) {
	prefix := "crm." + strings.ToLower(e.name) + ".userfield."
	p.methods[prefix+"add"] = func(p *Portal, c *Call) (any, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.crm.addUserField(e, c.Params.Map("fields"))
	}
	p.methods[prefix+"get"] = func(p *Portal, c *Call) (any, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		id, _ := c.Params.Int("id")
		u := p.crm.ufByID(e, id)
		if u == nil {
			return nil, errNotFound()
		}
		return p.crm.renderUserField(u), nil
	}
	p.methods[prefix+"list"] = func(p *Portal, c *Call) (any, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.crm.listUserFields(e, c.Params), nil
	}
	p.methods[prefix+"update"] = func(p *Portal, c *Call) (any, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		id, _ := c.Params.Int("id")
		u := p.crm.ufByID(e, id)
		if u == nil {
			return nil, errNotFound()
		}
		if err := p.crm.updateUserField(u, c.Params.Map("fields")); err != nil {
			return nil, err
		}
		return true, nil
	}
	p.methods[prefix+"delete"] = func(p *Portal, c *Call) (any, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		id, _ := c.Params.Int("id")
		u := p.crm.ufByID(e, id)
		if u == nil {
			return nil, errNotFound()
		}
		p.crm.deleteUserField(u)
		return true, nil
	}
}

func errCore(format string, args ...any) *Error {
	return &Error{Status: 400, Code: "ERROR_CORE", Description: fmt.Sprintf(format, args...)}
}

// normalizeUFName applies Bitrix24's rule: UF_CRM_ is prepended (an UF_
// prefix is replaced), the name is upper-cased, A-Z 0-9 _ only, 50 chars max.
func normalizeUFName(raw string) (string, *Error) {
	n := strings.ToUpper(strings.TrimSpace(raw))
	switch {
	case strings.HasPrefix(n, "UF_CRM_"):
	case strings.HasPrefix(n, "UF_"):
		n = "UF_CRM_" + strings.TrimPrefix(n, "UF_")
	default:
		n = "UF_CRM_" + n
	}
	if !ufNameRE.MatchString(n) || len(n) > 50 {
		return "", errCore("Invalid field name %q: use A-Z, 0-9 and _, at most 50 characters including UF_CRM_.", n)
	}
	return n, nil
}

func (c *crmState) addUserField(e *entity, f Params) (any, error) {
	if f.String("FIELD_NAME") == "" || f.String("USER_TYPE_ID") == "" {
		return nil, &Error{Status: 400, Description: "FIELD_NAME and USER_TYPE_ID are required."}
	}
	name, err := normalizeUFName(f.String("FIELD_NAME"))
	if err != nil {
		return nil, err
	}
	typ := strings.ToLower(f.String("USER_TYPE_ID"))
	if _, ok := ufKinds[typ]; !ok {
		return nil, errCore("Type of user field %q is not supported.", f.String("USER_TYPE_ID"))
	}
	if c.ufByName(e, name) != nil {
		return nil, errCore("Field with name %s already exists for entity %s.", name, e.ufEntityID)
	}
	xml := f.String("XML_ID")
	if xml != "" {
		for _, o := range c.entityUFs(e) {
			if o.xmlID == xml {
				return nil, errCore("A user field with XML_ID=%s already exists.", xml)
			}
		}
	}
	u := &userField{ent: e, name: name, camel: ufCamel(name), userType: typ, xmlID: xml, sort: 100,
		showInList: true, editInList: true, labels: map[string]any{}}
	if n, ok := f.Int("SORT"); ok {
		u.sort = n
	}
	u.multiple = f.String("MULTIPLE") == "Y"
	u.mandatory = f.String("MANDATORY") == "Y"
	u.showFilter = f.String("SHOW_FILTER") == "Y"
	if f.Has("SHOW_IN_LIST") {
		u.showInList = f.String("SHOW_IN_LIST") != "N"
	}
	if f.Has("EDIT_IN_LIST") {
		u.editInList = f.String("EDIT_IN_LIST") != "N"
	}
	u.searchable = f.String("IS_SEARCHABLE") == "Y"
	if s := f.Map("SETTINGS"); s != nil {
		u.settings = map[string]any(s)
	}
	c.applyLabels(u, f)
	if typ == "enumeration" && f.Has("LIST") {
		if err := c.applyList(u, f.List("LIST")); err != nil {
			return nil, err
		}
	}
	u.id = int32(c.nextUFID)
	c.nextUFID++
	c.userFields = append(c.userFields, u)
	return int(u.id), nil
}

func (c *crmState) applyLabels(u *userField, f Params) {
	label := f.String("LABEL")
	for _, k := range ufLabelKeys {
		v, ok := f.lookup(k)
		switch {
		case ok && asParams(v) != nil:
			m := map[string]any{}
			for lang, t := range asParams(v) {
				m[lang] = scalarString(t)
			}
			u.labels[k] = m
		case ok && scalarString(v) != "":
			u.labels[k] = map[string]any{"en": scalarString(v), "ru": scalarString(v), "de": scalarString(v)}
		case label != "" && (k == "EDIT_FORM_LABEL" || k == "LIST_COLUMN_LABEL" || k == "LIST_FILTER_LABEL"):
			if _, had := u.labels[k]; !had {
				u.labels[k] = map[string]any{"en": label, "ru": label, "de": label}
			}
		}
	}
}

// applyList edits the option list as crm.*.userfield.update documents it:
// an item with ID changes it, ID with DEL=Y deletes it, no ID adds one.
// The whole edit is validated before anything changes.
func (c *crmState) applyList(u *userField, items []any) error {
	list := make([]*enumItem, 0, len(u.list)+len(items))
	for _, it := range u.list {
		cp := *it
		list = append(list, &cp)
	}
	next := c.nextEnumID
	for _, raw := range items {
		it := asParams(raw)
		if it == nil {
			continue
		}
		if id, ok := it.Int("ID"); ok && id > 0 {
			idx := -1
			for i, x := range list {
				if x.id == id {
					idx = i
				}
			}
			if idx < 0 {
				continue
			}
			if it.String("DEL") == "Y" {
				list = append(list[:idx], list[idx+1:]...)
				continue
			}
			x := list[idx]
			if it.Has("VALUE") && it.String("VALUE") != "" {
				x.value = it.String("VALUE")
			}
			if n, ok := it.Int("SORT"); ok {
				x.sort = n
			}
			if it.Has("DEF") {
				x.def = it.String("DEF") == "Y"
			}
			if it.Has("XML_ID") && it.String("XML_ID") != "" {
				x.xmlID = it.String("XML_ID")
			}
			continue
		}
		if it.String("VALUE") == "" {
			continue
		}
		x := &enumItem{id: next, value: it.String("VALUE"), def: it.String("DEF") == "Y", sort: 500, xmlID: it.String("XML_ID")}
		next++
		if n, ok := it.Int("SORT"); ok {
			x.sort = n
		}
		if x.xmlID == "" {
			x.xmlID = fmt.Sprintf("%032x", uint64(x.id)*0x9E3779B97F4A7C15)
		}
		list = append(list, x)
	}
	seen := map[string]bool{}
	for _, x := range list {
		if seen[x.xmlID] {
			return errCore("List item with value XML_ID=%s already exists.", x.xmlID)
		}
		seen[x.xmlID] = true
	}
	sort.SliceStable(list, func(i, j int) bool { return list[i].sort < list[j].sort })
	u.list = list
	c.nextEnumID = next
	return nil
}

func (c *crmState) updateUserField(u *userField, f Params) error {
	if f.Has("XML_ID") {
		xml := f.String("XML_ID")
		for _, o := range c.entityUFs(u.ent) {
			if o != u && xml != "" && o.xmlID == xml {
				return errCore("A user field with XML_ID=%s already exists.", xml)
			}
		}
	}
	if u.userType == "enumeration" && f.Has("LIST") {
		if err := c.applyList(u, f.List("LIST")); err != nil {
			return err
		}
	}
	if f.Has("XML_ID") {
		u.xmlID = f.String("XML_ID")
	}
	if n, ok := f.Int("SORT"); ok {
		u.sort = n
	}
	for key, dst := range map[string]*bool{"MANDATORY": &u.mandatory, "SHOW_FILTER": &u.showFilter,
		"SHOW_IN_LIST": &u.showInList, "EDIT_IN_LIST": &u.editInList, "IS_SEARCHABLE": &u.searchable} {
		if f.Has(key) {
			*dst = f.String(key) == "Y"
		}
	}
	if s := f.Map("SETTINGS"); s != nil {
		u.settings = map[string]any(s)
	}
	c.applyLabels(u, f)
	return nil
}

func (c *crmState) deleteUserField(u *userField) {
	for i, x := range c.userFields {
		if x == u {
			c.userFields = append(c.userFields[:i], c.userFields[i+1:]...)
			break
		}
	}
	for _, r := range u.ent.records {
		if r != nil {
			r.ufSet(u.id, nil)
		}
	}
}

func (c *crmState) renderUserField(u *userField) map[string]any {
	m := map[string]any{
		"ID": strconv.Itoa(int(u.id)), "ENTITY_ID": u.ent.ufEntityID, "FIELD_NAME": u.name,
		"USER_TYPE_ID": u.userType, "XML_ID": nullable(u.xmlID), "SORT": strconv.Itoa(u.sort),
		"MULTIPLE": yn(u.multiple), "MANDATORY": yn(u.mandatory), "SHOW_FILTER": yn(u.showFilter),
		"SHOW_IN_LIST": yn(u.showInList), "EDIT_IN_LIST": yn(u.editInList), "IS_SEARCHABLE": yn(u.searchable),
		"SETTINGS": u.settings,
	}
	if u.settings == nil {
		m["SETTINGS"] = []any{}
	}
	for _, k := range ufLabelKeys {
		if v, ok := u.labels[k]; ok {
			m[k] = v
		}
	}
	if u.userType == "enumeration" {
		list := []any{}
		for _, it := range u.list {
			list = append(list, map[string]any{"ID": strconv.Itoa(it.id), "SORT": strconv.Itoa(it.sort),
				"VALUE": it.value, "DEF": yn(it.def), "XML_ID": it.xmlID})
		}
		m["LIST"] = list
	}
	return m
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (c *crmState) listUserFields(e *entity, ps Params) ListResult {
	filter := ps.Map("filter")
	var out []any
	ufs := c.entityUFs(e)
	sort.SliceStable(ufs, func(i, j int) bool {
		return ufs[i].sort < ufs[j].sort || ufs[i].sort == ufs[j].sort && ufs[i].id < ufs[j].id
	})
	for _, u := range ufs {
		row := c.renderUserField(u)
		ok := true
		for k, v := range filter {
			key := strings.ToUpper(strings.TrimLeft(k, "=!"))
			if key == "LANG" {
				continue
			}
			got, has := row[key]
			if has && !strings.EqualFold(scalarString(got), scalarString(v)) {
				ok = false
			}
			if !has {
				ok = false
			}
		}
		if ok {
			out = append(out, row)
		}
	}
	return pageOf(out, ps)
}

// ufFieldInfo describes a user field as crm.*.fields and crm.item.fields do.
func (c *crmState) ufFieldInfo(u *userField) map[string]any {
	m := map[string]any{
		"type": u.userType, "isRequired": u.mandatory, "isReadOnly": false, "isImmutable": false,
		"isMultiple": u.multiple, "isDynamic": true, "title": u.name,
		"upperName": u.name,
	}
	for k, key := range map[string]string{"EDIT_FORM_LABEL": "formLabel", "LIST_COLUMN_LABEL": "listLabel", "LIST_FILTER_LABEL": "filterLabel"} {
		if l, ok := u.labels[k].(map[string]any); ok {
			m[key] = l["en"]
		}
	}
	if u.userType == "enumeration" {
		items := []any{}
		for _, it := range u.list {
			items = append(items, map[string]any{"ID": strconv.Itoa(it.id), "VALUE": it.value})
		}
		m["items"] = items
	}
	if u.settings != nil {
		m["settings"] = u.settings
	}
	return m
}
