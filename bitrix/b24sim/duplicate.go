package b24sim

import (
	"slices"
	"strings"
	"unicode"
)

// crm.duplicate.findbycomm (api-reference/crm/duplicates/crm-duplicate-find-by-comm.md)
// finds the contacts and companies (and leads, which the simulated CRM
// has none of) holding any of up to 20 phones or e-mails. As the page
// documents it:
//   - type is EMAIL or PHONE, in any case; missing: "Communication type is
//     not defined", another: "Communication type '{type}' is not supported
//     in current context"; values must be an array: a missing, empty or
//     scalar one is "Communication values is not defined". Errors are HTTP
//     400 with the text as the code, as the page's example shows
//     ({"error": "Communication type is not defined", "error_description":
//     "Parameter 'type' is required."});
//   - "Maximum number of values — 20": the page documents no refusal for
//     more, and Bitrix24 (CCrmDuplicateRestProxy) reads the first 20
//     distinct non-empty strings and ignores the rest, so values past the
//     20th find nothing here either; values that are not strings (JSON
//     numbers) are skipped without counting;
//   - entity_type LEAD, CONTACT or COMPANY (or its type id) narrows the
//     search; DEAL is "Deal is not supported in current context."; an
//     unknown one searches every type;
//   - phones match by their digits, the extension left out ("the search
//     does not consider the phone extension"); e-mails match ignoring case;
//   - per value at most 20 records are found, types in the order lead,
//     contact, company: once 20 are found the later types are left out
//     ("If 20 or more duplicates are found for one object, the other types
//     are not returned");
//   - the answer has a key only for the types found, ids as numbers
//     (tutorials/crm/how-to-get-lists/search-by-phone-and-email.md), and is
//     [] when nothing was found.
//
// The simulated CRM keeps phones and e-mails only for this search
// (AddCommunication, Seed's Communications): crm.contact.get and the lists
// do not render PHONE or EMAIL.

// findByCommValues is the documented most values one call reads.
const findByCommValues = 20

// commOwner is a record holding a phone or an e-mail.
type commOwner struct {
	typeID int // OwnerContact or OwnerCompany
	id     int
}

// commState indexes contacts' and companies' phones and e-mails by their
// normalised value ("PHONE\x00<digits>", "EMAIL\x00<lower-case>").
type commState struct {
	index map[string][]commOwner
	count int
}

func newCommState() commState { return commState{index: map[string][]commOwner{}} }

func commKey(typ, value string) string {
	typ = strings.ToUpper(typ)
	if typ == "PHONE" {
		return typ + "\x00" + normalizePhone(value)
	}
	return typ + "\x00" + strings.ToLower(strings.TrimSpace(value))
}

// normalizePhone is a phone's digits before any extension (a letter, #,
// ; or , after the number: "ext. 12", "доб. 12", "x12").
func normalizePhone(v string) string {
	var b strings.Builder
	for _, r := range v {
		if unicode.IsLetter(r) || r == '#' || r == ';' || r == ',' {
			if b.Len() > 0 {
				break
			}
			continue
		}
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func (cs *commState) add(typ, value string, o commOwner) {
	k := commKey(typ, value)
	if !slices.Contains(cs.index[k], o) {
		cs.index[k] = append(cs.index[k], o)
		cs.count++
	}
}

// drop forgets a deleted record's phones and e-mails.
func (cs *commState) drop(typeID, id int) {
	for k, owners := range cs.index {
		i := slices.Index(owners, commOwner{typeID, id})
		if i < 0 {
			continue
		}
		cs.index[k] = slices.Delete(owners, i, i+1)
		cs.count--
	}
}

// AddCommunication gives a contact or company ("contact", "company") a
// phone (typ "PHONE") or an e-mail ("EMAIL") that crm.duplicate.findbycomm
// finds.
func (p *Portal) AddCommunication(entity string, id int, typ, value string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	e := p.crm.entityByName(entity)
	if e == nil || (e != p.crm.contact && e != p.crm.company) {
		return &Error{Status: 400, Description: "unknown entity " + entity}
	}
	if e.get(id) == nil {
		return errNotFound()
	}
	typ = strings.ToUpper(typ)
	if typ != "PHONE" && typ != "EMAIL" {
		return &Error{Status: 400, Description: "unknown communication type " + typ}
	}
	p.reqs.comms.add(typ, value, commOwner{e.typeID, id})
	return nil
}

// commError is a findbycomm refusal: the text is the code.
func commError(code, desc string) *Error { return &Error{Status: 400, Code: code, Description: desc} }

func methodFindByComm(p *Portal, c *Call) (any, error) {
	typ := strings.ToUpper(strings.TrimSpace(c.Params.String("type")))
	switch typ {
	case "EMAIL", "PHONE":
	case "":
		return nil, commError("Communication type is not defined", "Parameter 'type' is required.")
	default:
		msg := "Communication type '" + typ + "' is not supported in current context"
		return nil, commError(msg, msg+".")
	}
	raw, _ := c.Params.lookup("values")
	var values []any
	switch raw.(type) {
	case []any, Params, map[string]any:
		values = asList(raw)
	}
	if len(values) == 0 {
		return nil, commError("Communication values is not defined", "Parameter 'values' is required.")
	}
	types := []int{OwnerContact, OwnerCompany} // leads come first; the simulated CRM has none
	et := strings.ToUpper(strings.TrimSpace(c.Params.String("entity_type")))
	if et == "" {
		et = strings.ToUpper(strings.TrimSpace(c.Params.String("entityType")))
	}
	switch et {
	case "DEAL", "2":
		return nil, restError("Deal is not supported in current context.")
	case "LEAD", "1":
		types = nil
	case "CONTACT", "3":
		types = []int{OwnerContact}
	case "COMPANY", "4":
		types = []int{OwnerCompany}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	found := map[int][]int{}
	seen := map[string]bool{}
	for _, v := range values {
		s, ok := v.(string)
		if !ok || s == "" {
			continue
		}
		k := commKey(typ, s)
		if seen[k] {
			continue
		}
		seen[k] = true
		p.findComm(k, types, found)
		if len(seen) >= findByCommValues {
			break
		}
	}
	if len(found) == 0 {
		return []any{}, nil
	}
	out := map[string]any{}
	for t, ids := range found {
		name := map[int]string{OwnerContact: "CONTACT", OwnerCompany: "COMPANY"}[t]
		out[name] = ids
	}
	return out, nil
}

// findComm adds to found, by type, the records holding the value: at most
// 20 for the value, types in order. Caller holds p.mu.
func (p *Portal) findComm(key string, types []int, found map[int][]int) {
	owners := slices.Clone(p.reqs.comms.index[key])
	slices.SortFunc(owners, func(a, b commOwner) int { return a.id - b.id })
	n := 0
	for _, t := range types {
		e := p.crm.entityByTypeID(t)
		for _, o := range owners {
			if o.typeID != t || e.get(o.id) == nil {
				continue
			}
			if n >= findByCommValues {
				return
			}
			n++
			if !slices.Contains(found[t], o.id) {
				found[t] = append(found[t], o.id)
			}
		}
	}
}

// CommunicationCount is how many phones and e-mails the search knows.
func (p *Portal) CommunicationCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.reqs.comms.count
}
