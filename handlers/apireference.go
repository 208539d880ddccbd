package handlers

import (
	"cmp"
	"encoding/json"
	"slices"
	"strings"

	"segmentor/app"
	"segmentor/app/segment"
	"segmentor/bitrix"
)

// statusRow is one row of crm.status.list.
type statusRow struct {
	EntityID   string    `json:"ENTITY_ID"`
	StatusID   string    `json:"STATUS_ID"`
	Name       string    `json:"NAME"`
	Sort       bitrix.ID `json:"SORT"`
	Semantics  string    `json:"SEMANTICS"`
	CategoryID bitrix.ID `json:"CATEGORY_ID"`
}

// fieldInfo is one field of crm.*.fields.
type fieldInfo struct {
	Type       string `json:"type"`
	Title      string `json:"title"`
	ListLabel  string `json:"listLabel"`
	FormLabel  string `json:"formLabel"`
	StatusType string `json:"statusType"`
	IsMultiple bool   `json:"isMultiple"`
	IsDynamic  bool   `json:"isDynamic"`
	Items      []struct {
		ID    bitrix.ID `json:"ID"`
		Value string    `json:"VALUE"`
	} `json:"items"`
}

// Reference is what GET /api/v1/reference answers.
type Reference struct {
	Entities   []string              `json:"entities"`
	Types      map[string][]RefValue `json:"types"`
	Pipelines  []RefPipeline         `json:"pipelines"`
	Sources    []RefValue            `json:"sources"`
	Currencies []RefCurrency         `json:"currencies"`
	Fields     map[string][]RefField `json:"fields"`
	Facts      []RefFact             `json:"facts"`
	Statuses   map[string][]RefValue `json:"statuses"` // any other status list, by ENTITY_ID
	Operators  []segment.Op          `json:"operators"`
	Applies    []segment.Apply       `json:"applies"`
}

// RefFact is a fact the condition builder offers: Kind is number, text or
// groups (a set of catalog sections).
type RefFact struct {
	Name     string           `json:"name"`
	Kind     string           `json:"kind"`
	Window   segment.Window   `json:"window"`
	Entities []segment.Entity `json:"entities"`
	Ops      []segment.Op     `json:"ops"`
}

func refFacts() []RefFact {
	var out []RefFact
	for _, f := range segment.Catalog() {
		kind := "text"
		switch f.Kind {
		case segment.KindNumber:
			kind = "number"
		case segment.KindGroups:
			kind = "groups"
		}
		out = append(out, RefFact{Name: f.Name, Kind: kind, Window: f.Window, Entities: f.Entities, Ops: f.Ops})
	}
	return out
}

// RefValue is a value a picker offers.
type RefValue struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// RefPipeline is a deal pipeline with its stages in order.
type RefPipeline struct {
	ID     int        `json:"id"`
	Name   string     `json:"name"`
	Stages []RefValue `json:"stages"`
}

// RefCurrency is a currency of the portal.
type RefCurrency struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Base bool   `json:"base"`
}

// RefField is a record field a condition can read (field:ID). Values, when
// set, are the field's possible values.
type RefField struct {
	ID       string     `json:"id"`
	Title    string     `json:"title"`
	Type     string     `json:"type"`
	Custom   bool       `json:"custom"`
	Multiple bool       `json:"multiple,omitempty"`
	Values   []RefValue `json:"values,omitempty"`
}

func statusRows(ref app.Reference) []statusRow {
	var rows []statusRow
	_ = json.Unmarshal(ref["statuses"], &rows)
	slices.SortStableFunc(rows, func(a, b statusRow) int { return cmp.Compare(a.Sort, b.Sort) })
	return rows
}

func statusesOf(rows []statusRow, entityID string) []RefValue {
	out := []RefValue{}
	for _, r := range rows {
		if r.EntityID == entityID {
			out = append(out, RefValue{ID: r.StatusID, Name: r.Name})
		}
	}
	return out
}

func pipelinesOf(ref app.Reference) []RefPipeline {
	out := []RefPipeline{}
	for _, p := range ref.Pipelines() {
		rp := RefPipeline{ID: p.ID, Name: p.Name, Stages: []RefValue{}}
		for _, st := range p.Stages {
			rp.Stages = append(rp.Stages, RefValue{ID: st.ID, Name: st.Name})
		}
		out = append(out, rp)
	}
	return out
}

// referenceView builds the pickers' data from the cached REST results.
func referenceView(ref app.Reference) Reference {
	rows := statusRows(ref)
	v := Reference{
		Entities:  []string{"contact", "company", "deal"},
		Types:     map[string][]RefValue{},
		Pipelines: pipelinesOf(ref),
		Sources:   statusesOf(rows, "SOURCE"),
		Fields:    map[string][]RefField{},
		Facts:     refFacts(),
		Statuses:  map[string][]RefValue{},
		Operators: []segment.Op{segment.OpEq, segment.OpNe, segment.OpLt, segment.OpLe, segment.OpGt, segment.OpGe,
			segment.OpIn, segment.OpNotIn, segment.OpContains, segment.OpBetween, segment.OpEmpty, segment.OpNotEmpty},
		Applies: []segment.Apply{segment.ApplyNewOnly, segment.ApplyFirstStage, segment.ApplyAlways},
	}
	for e, list := range typeEntities {
		v.Types[e] = statusesOf(rows, list)
	}
	for _, r := range rows {
		if _, ok := v.Statuses[r.EntityID]; !ok {
			v.Statuses[r.EntityID] = statusesOf(rows, r.EntityID)
		}
	}
	var cur []struct {
		Currency string `json:"CURRENCY"`
		FullName string `json:"FULL_NAME"`
		Base     string `json:"BASE"`
	}
	_ = json.Unmarshal(ref["currencies"], &cur)
	for _, c := range cur {
		v.Currencies = append(v.Currencies, RefCurrency{ID: c.Currency, Name: c.FullName, Base: c.Base == "Y"})
	}
	currencies := make([]RefValue, len(v.Currencies))
	for i, c := range v.Currencies {
		currencies[i] = RefValue{ID: c.ID, Name: c.Name}
	}
	for _, e := range v.Entities {
		var fields map[string]fieldInfo
		_ = json.Unmarshal(ref["fields_"+e], &fields)
		list := []RefField{}
		for id, f := range fields {
			rf := RefField{ID: id, Title: cmp.Or(f.ListLabel, f.FormLabel, f.Title, id), Type: f.Type,
				Custom: strings.HasPrefix(id, "UF_"), Multiple: f.IsMultiple}
			switch {
			case len(f.Items) > 0:
				for _, it := range f.Items {
					rf.Values = append(rf.Values, RefValue{ID: it.ID.String(), Name: it.Value})
				}
			case id == "CATEGORY_ID" && e == "deal":
				for _, p := range v.Pipelines {
					rf.Values = append(rf.Values, RefValue{ID: bitrix.ID(p.ID).String(), Name: p.Name})
				}
			case id == "STAGE_ID" && e == "deal":
				for _, p := range v.Pipelines {
					for _, s := range p.Stages {
						rf.Values = append(rf.Values, RefValue{ID: s.ID, Name: p.Name + ": " + s.Name})
					}
				}
			case f.StatusType != "":
				rf.Values = statusesOf(rows, f.StatusType)
			case f.Type == "crm_currency" || id == "CURRENCY_ID":
				rf.Values = currencies
			}
			list = append(list, rf)
		}
		slices.SortFunc(list, func(a, b RefField) int {
			if a.Custom != b.Custom {
				if a.Custom {
					return 1
				}
				return -1
			}
			return cmp.Compare(a.ID, b.ID)
		})
		v.Fields[e] = list
	}
	return v
}

// engineReference is the Reference the rule engine validates against.
func engineReference(ref app.Reference) segment.Reference {
	rows := statusRows(ref)
	toStatus := func(vs []RefValue) []segment.Status {
		out := make([]segment.Status, len(vs))
		for i, v := range vs {
			out[i] = segment.Status{ID: v.ID, Name: v.Name}
		}
		return out
	}
	r := segment.Reference{Types: map[segment.Entity][]segment.Status{}, Fields: map[segment.Entity][]string{}}
	for e, list := range typeEntities {
		r.Types[segment.Entity(e)] = toStatus(statusesOf(rows, list))
	}
	r.Pipelines = ref.Pipelines()
	if len(rows) > 0 {
		r.Sources = toStatus(statusesOf(rows, "SOURCE"))
	}
	for _, e := range []string{"contact", "company", "deal"} {
		var fields map[string]json.RawMessage
		_ = json.Unmarshal(ref["fields_"+e], &fields)
		for id := range fields {
			r.Fields[segment.Entity(e)] = append(r.Fields[segment.Entity(e)], id)
		}
		slices.Sort(r.Fields[segment.Entity(e)])
	}
	return r
}
