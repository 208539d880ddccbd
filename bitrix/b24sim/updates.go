package b24sim

import (
	"slices"
	"strconv"
	"strings"
)

// Update is one record update the portal applied: crm.{contact,company,
// deal,lead}.update or crm.item.update, on its own or inside a batch.
type Update struct {
	Entity string            // contact, company, deal, lead
	ID     int               // the record
	Fields map[string]string // the fields written, flattened: "LIST[0][VALUE]" style keys for nested values
}

// Record names the record as "deal:12".
func (u Update) Record() string { return u.Entity + ":" + strconv.Itoa(u.ID) }

// Canonical is the fields written, "K=V" sorted and joined by "&", for
// comparing two updates.
func (u Update) Canonical() string {
	parts := make([]string, 0, len(u.Fields))
	for k, v := range u.Fields {
		parts = append(parts, k+"="+v)
	}
	slices.Sort(parts)
	return strings.Join(parts, "&")
}

// Updates lists the record updates a logged request applied (answered
// without error), in the order they ran.
func (r Request) Updates() []Update {
	if r.Status != 200 {
		return nil
	}
	if r.Method != "batch" {
		if u, ok := updateOf(r.Method, r.Params); ok && r.ErrorCode == "" {
			return []Update{u}
		}
		return nil
	}
	var out []Update
	for i, m := range r.Commands {
		if i >= len(r.CommandStatus) || r.CommandStatus[i] != 200 || i >= len(r.CommandParams) {
			continue
		}
		if u, ok := updateOf(m, r.CommandParams[i]); ok {
			out = append(out, u)
		}
	}
	return out
}

// UpdatesByRecord groups the updates of a request log by record, each
// record's in order, as canonical field lists.
func UpdatesByRecord(reqs []Request) map[string][]string {
	out := map[string][]string{}
	for _, rq := range reqs {
		for _, u := range rq.Updates() {
			out[u.Record()] = append(out[u.Record()], u.Canonical())
		}
	}
	return out
}

var itemEntities = map[string]string{"1": "lead", "2": "deal", "3": "contact", "4": "company"}

func updateOf(method string, ps Params) (Update, bool) {
	entity, ok := strings.CutSuffix(strings.TrimPrefix(method, "crm."), ".update")
	if !ok || strings.Contains(entity, ".") {
		return Update{}, false
	}
	if entity == "item" {
		if entity = itemEntities[ps.String("entityTypeId")]; entity == "" {
			return Update{}, false
		}
	}
	id, ok := ps.Int("id")
	if !ok {
		return Update{}, false
	}
	fields := map[string]string{}
	flattenParams(fields, "", ps.Map("fields"))
	return Update{Entity: entity, ID: id, Fields: fields}, true
}

// flattenParams writes nested values under bracketed keys.
func flattenParams(out map[string]string, prefix string, v any) {
	if m := asParams(v); m != nil {
		for k, sub := range m {
			key := k
			if prefix != "" {
				key = prefix + "[" + k + "]"
			}
			flattenParams(out, key, sub)
		}
		return
	}
	out[prefix] = scalarString(v)
}
