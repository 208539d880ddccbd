package segment

import (
	"cmp"
	"slices"
	"strings"
)

// Vocabulary is what a portal has that a config may name: types, deal
// pipelines with their stages, sources and fields. The app reads it from
// crm.status.list, crm.category.list and crm.*.fields.
type Vocabulary struct {
	Types     map[Entity][]Status // CONTACT_TYPE, COMPANY_TYPE, DEAL_TYPE
	Pipelines []Pipeline          // deal pipelines
	Sources   []Status            // SOURCE; nil skips the check
	Fields    map[Entity][]string // field names, standard and UF_CRM_*; none → the standard ones
	Lists     map[string]Entity   // static lists: key → the kind of records they hold; nil skips the check
}

// Status is one reference value: a type, source or stage.
type Status struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Pipeline is a deal pipeline (category) with its stages in their order; the
// first stage is where new deals start.
type Pipeline struct {
	ID     int      `json:"id"`
	Name   string   `json:"name"`
	Stages []Status `json:"stages"`
}

// FirstStage is the id of the pipeline's first stage, "" if it has none.
func (p Pipeline) FirstStage() string {
	if len(p.Stages) == 0 {
		return ""
	}
	return p.Stages[0].ID
}

func (p Pipeline) hasStage(id string) bool {
	return slices.ContainsFunc(p.Stages, func(s Status) bool { return s.ID == id })
}

func (r *Vocabulary) pipeline(id int) (Pipeline, bool) {
	for _, p := range r.Pipelines {
		if p.ID == id {
			return p, true
		}
	}
	return Pipeline{}, false
}

// stagePipeline finds the pipeline a stage belongs to.
func (r *Vocabulary) stagePipeline(stage string) (Pipeline, bool) {
	for _, p := range r.Pipelines {
		if p.hasStage(stage) {
			return p, true
		}
	}
	return Pipeline{}, false
}

func (r *Vocabulary) hasField(e Entity, name string) bool {
	fields := r.Fields[e]
	if len(fields) == 0 {
		fields = standardFields(e)
	}
	return slices.Contains(fields, name)
}

func hasStatus(list []Status, id string) bool {
	return slices.ContainsFunc(list, func(s Status) bool { return s.ID == id })
}

func statusIDs(list []Status) string {
	if len(list) == 0 {
		return "—"
	}
	names := make([]string, len(list))
	for i, s := range list {
		names[i] = cmp.Or(s.Name, s.ID) // the editor names types by name
	}
	return strings.Join(names, ", ")
}
