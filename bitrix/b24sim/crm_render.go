package b24sim

import (
	"fmt"
	"strconv"
	"strings"
)

// selection is the set of columns a list returns.
type selection struct {
	all        bool // every standard field
	allUF      bool // every user field
	contactIDs bool // crm.item.*: contactIds
	fields     map[*fieldDef]bool
	ufs        map[*userField]bool
}

func (s selection) hasField(f *fieldDef) bool { return s.all || s.fields[f] || f.slot == slotID }
func (s selection) hasUF(u *userField) bool   { return s.allUF || s.ufs[u] }

// parseSelect reads select: "*" = standard fields, "UF_*" (or "uf*" in
// crm.item.*) = user fields, explicit names; unknown names are ignored.
// With no select, def applies.
func parseSelect(names []string, resolve resolver, def selection) selection {
	return parseSelectFor(names, resolve, def, false)
}

// parseSelectFor is parseSelect; in crm.item.* "*" includes user fields.
func parseSelectFor(names []string, resolve resolver, def selection, item bool) selection {
	if len(names) == 0 {
		return def
	}
	s := selection{fields: map[*fieldDef]bool{}, ufs: map[*userField]bool{}}
	for _, n := range names {
		n = strings.TrimSpace(n)
		switch {
		case n == "contactIds":
			s.contactIDs = true
		case n == "*":
			s.all = true
			s.allUF = s.allUF || item
		case strings.EqualFold(n, "UF_*") || n == "uf*" || n == "ufCrm*":
			s.allUF = true
		default:
			if col, ok := resolve(n); ok {
				if col.uf != nil {
					s.ufs[col.uf] = true
				} else {
					s.fields[col.f] = true
				}
			}
		}
	}
	return s
}

var selectAll = selection{all: true, allUF: true}

// renderV2 renders a record as crm.*.get / crm.*.list send it: UPPER_CASE
// keys, strings for ids, numbers and money, Y/N, ISO dates, null for empty.
func (c *crmState) renderV2(e *entity, r *record, sel selection) map[string]any {
	m := make(map[string]any, len(e.fields)+len(r.uf))
	for _, f := range e.fields {
		if !sel.hasField(f) {
			continue
		}
		m[f.name] = c.fieldValue(e, r, f, false)
	}
	for _, u := range c.userFields {
		if u.ent == e && sel.hasUF(u) {
			v, _ := r.ufGet(u.id)
			m[u.name] = c.renderUF(u, v, false)
		}
	}
	return m
}

// renderItem renders a record as crm.item.* sends it: camelCase keys,
// numbers as JSON numbers, contactIds for deals.
func (c *crmState) renderItem(e *entity, r *record, sel selection, origUF bool) map[string]any {
	m := make(map[string]any, len(e.fields)+len(r.uf)+1)
	for _, f := range e.fields {
		if f.camel == "" || !sel.hasField(f) {
			continue
		}
		m[f.camel] = c.fieldValue(e, r, f, true)
	}
	if e == c.deal && (sel.all || sel.contactIDs) {
		ids := make([]any, 0, len(r.contacts))
		for _, id := range r.contacts {
			ids = append(ids, int64(id))
		}
		m["contactIds"] = ids
	}
	for _, u := range c.userFields {
		if u.ent == e && sel.hasUF(u) {
			v, _ := r.ufGet(u.id)
			key := u.camel
			if origUF {
				key = u.name
			}
			m[key] = c.renderUF(u, v, true)
		}
	}
	return m
}

func (c *crmState) fieldValue(e *entity, r *record, f *fieldDef, item bool) any {
	str := func(n int64) any {
		if item {
			return n
		}
		return strconv.FormatInt(n, 10)
	}
	switch f.slot {
	case slotID:
		return str(int64(r.id))
	case slotSemantic:
		return string(c.semantics(r))
	case slotContact:
		if len(r.contacts) == 0 {
			return nil
		}
		return str(int64(r.contacts[0]))
	case slotSparse:
		if v, _ := r.ufGet(f.sparse); v != nil {
			return v
		}
		return nil
	}
	if f.kind == kStr {
		if s := r.s[f.slot]; s != "" {
			return s
		}
		return nil
	}
	n := r.n[f.slot]
	switch f.kind {
	case kBool:
		return yn(n == 1)
	case kDate, kDateTime:
		if n == 0 || n == nullInt {
			return nil
		}
		return c.formatTime(n)
	case kMoney:
		if n == nullInt {
			return nil
		}
		if item {
			return centsNumber(n)
		}
		return formatCents(n)
	}
	if n == nullInt {
		return nil
	}
	return str(n)
}

// fieldsInfo describes an entity's fields as crm.*.fields (UPPER names) or
// crm.item.fields (camel names) do.
func (c *crmState) fieldsInfo(e *entity, item bool) map[string]any {
	out := map[string]any{}
	for _, f := range e.fields {
		if item && f.camel == "" {
			continue
		}
		m := map[string]any{"type": f.typ, "isRequired": f.required, "isReadOnly": f.readOnly,
			"isImmutable": f.immutable, "isMultiple": false, "isDynamic": false, "title": f.title}
		if f.statusType != "" {
			st := f.statusType
			if f.name == "STAGE_ID" {
				st = "DEAL_STAGE"
			}
			m["statusType"] = st
		}
		key := f.name
		if item {
			key = f.camel
			m["upperName"] = f.name
		}
		out[key] = m
	}
	if e == c.deal {
		m := map[string]any{"type": "crm_contact", "isRequired": false, "isReadOnly": false,
			"isImmutable": false, "isMultiple": true, "isDynamic": false, "title": "Contacts"}
		if item {
			m["upperName"] = "CONTACT_IDS"
			out["contactIds"] = m
		} else {
			out["CONTACT_IDS"] = m
		}
	}
	for _, u := range c.entityUFs(e) {
		key := u.name
		if item {
			key = u.camel
		}
		out[key] = c.ufFieldInfo(u)
	}
	return out
}

func (e *entity) titleFor(id int) string {
	if e.defaultTitle == "" {
		return ""
	}
	return fmt.Sprintf(e.defaultTitle, id)
}
