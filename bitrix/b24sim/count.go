package b24sim

// CountBy counts an entity's records ("deal", "contact", "company") by the
// value of one field, as a list view grouped by that field shows them: a
// list (enumeration) user field by its items' text, any other field by the
// value crm.*.get shows; "" counts the records where it is empty. A record
// with several values of a multiple list field counts once for each. It
// returns nil for an unknown entity or field.
func (p *Portal) CountBy(entity, field string) map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	e := p.crm.entityByName(entity)
	if e == nil {
		return nil
	}
	out := map[string]int{}
	if u := p.crm.ufByName(e, field); u != nil {
		text := func(id int64) string {
			if it := u.item(id); it != nil {
				return it.value
			}
			return ""
		}
		for _, r := range e.records {
			if r == nil {
				continue
			}
			v, _ := r.ufGet(u.id)
			switch t := v.(type) {
			case int64:
				if u.userType == "enumeration" {
					out[text(t)]++
					continue
				}
			case []int64:
				if u.userType == "enumeration" {
					for _, id := range t {
						out[text(id)]++
					}
					continue
				}
			}
			out[scalarString(p.crm.renderUF(u, v, false))]++
		}
		return out
	}
	f := e.f(field)
	if f == nil {
		return nil
	}
	for _, r := range e.records {
		if r != nil {
			out[scalarString(p.crm.fieldValue(e, r, f, false))]++
		}
	}
	return out
}
