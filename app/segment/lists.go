package segment

import (
	"slices"
	"strings"

	"segmentor/app/i18n"
)

// Static lists. A list is a fixed set of contacts or companies the admin
// uploaded or froze from a segment; a rule reads membership with the list
// fact: {"fact": "list", "op": "in", "value": ["tradefair2026"]} holds for
// a member of any of the lists named, not_in for a record in none of them.

// FactList is the fact of static list membership.
const FactList = "static_list"

// ListMembers is the members of the lists a run's rules name: list key →
// the list's record kind and its members' ids, sorted. It is read-only once
// built, so goroutines share it.
type ListMembers map[string]ListSet

// ListSet is one list's members.
type ListSet struct {
	Entity Entity
	IDs    []int64 // sorted ascending, distinct
}

// Has reports whether the list key holds the record.
func (m ListMembers) Has(key string, e Entity, id int64) bool {
	s, ok := m[key]
	if !ok || s.Entity != e {
		return false
	}
	_, found := slices.BinarySearch(s.IDs, id)
	return found
}

// value is the first of the leaf's lists the record is in, no value when
// it is in none: "in" then holds exactly for members, "not_in" for the rest.
func (m ListMembers) value(l *leaf, e Entity, id int64) Value {
	for _, it := range l.items {
		if m.Has(it.text, e, id) {
			return text(it.text)
		}
	}
	return Value{}
}

// ListKeys lists the static lists the rules read, so a run loads only those.
func (r *Rules) ListKeys() []string {
	var keys []string
	var walk func(n *node)
	walk = func(n *node) {
		if n.leaf != nil && n.leaf.fact == factList {
			for _, it := range n.leaf.items {
				if !slices.Contains(keys, it.text) {
					keys = append(keys, it.text)
				}
			}
		}
		for i := range n.kids {
			walk(&n.kids[i])
		}
	}
	for _, s := range r.schemes {
		for i := range s.segments {
			walk(&s.segments[i].when)
		}
	}
	slices.Sort(keys)
	return keys
}

// checkLists checks that a list condition names the portal's lists, of the
// scheme's kind of record.
func (c *compiler) checkLists(path string, l *leaf) {
	if c.ref == nil || c.ref.Lists == nil {
		return
	}
	for _, it := range l.items {
		e, ok := c.ref.Lists[it.text]
		switch {
		case !ok:
			c.add(path, CodeUnknownList, it.text)
		case c.entity != "" && e != c.entity:
			c.add(path, CodeListEntity, it.text)
		}
	}
}

// listWords are how an explanation says list membership.
var listWords = i18n.Catalog[string]{
	EN: {"in": "In list %s", "not_in": "In none of the lists %s", "needs_in": "not in list %s", "needs_not_in": "in list %s"},
	RU: {"in": "В списке «%s»", "not_in": "Ни в одном из списков: %s", "needs_in": "не в списке «%s»", "needs_not_in": "в списке «%s»"},
	PL: {"in": "Na liście „%s”", "not_in": "Na żadnej z list: %s", "needs_in": "nie na liście „%s”", "needs_not_in": "na liście „%s”"},
	IT: {"in": "Nella lista “%s”", "not_in": "In nessuna delle liste: %s", "needs_in": "non nella lista “%s”", "needs_not_in": "nella lista “%s”"},
}

// listCheck tells a list condition: held, "In list Trade fair 2026" (or
// "In none of the lists A, B"); missed, "Not in list Trade fair 2026" (or
// "In list A").
func (t *Teller) listCheck(c Check, held bool) string {
	in := c.Op == OpIn
	if c.Not {
		in = !in
	}
	var names []string
	if list, ok := asList(c.Want); ok {
		for _, x := range list {
			if s, ok := x.(string); ok {
				names = append(names, t.listName(s))
			}
		}
	}
	all := strings.Join(names, ", ")
	seen := ""
	if c.Seen.Kind == KindText {
		seen = t.listName(c.Seen.Text)
	}
	switch {
	case held && in:
		return listWords.Format(t.lang, "in", seen)
	case held:
		return listWords.Format(t.lang, "not_in", all)
	case in:
		return capitalize(listWords.Format(t.lang, "needs_in", all))
	}
	return capitalize(listWords.Format(t.lang, "needs_not_in", seen))
}

// listName is a list's name, else its key.
func (t *Teller) listName(key string) string {
	if n := t.names.Lists[key]; n != "" {
		return n
	}
	return key
}
