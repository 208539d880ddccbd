package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"segmentor/app"
	"segmentor/app/segment"
	"segmentor/bitrix"
)

// Pickers is what GET /api/v1/reference answers: what the editor's pickers
// offer, from the portal's cached directory.
type Pickers struct {
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
	// Words are the labels of facts, operators and groups in the
	// session's language: the editor shows them, and every explanation
	// and message is written with them.
	Words segment.Words `json:"words"`
	// RegistryRegions are the values of the registry:region fact: the
	// voivodeships as the registry writes them.
	RegistryRegions []string `json:"registry_regions"`
	// MissingScopes are permissions the portal did not grant that an
	// action needed (im: notifications); the editor says so.
	MissingScopes []string `json:"missing_scopes"`
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

func refValues(vs []segment.Status) []RefValue {
	out := make([]RefValue, len(vs))
	for i, v := range vs {
		out[i] = RefValue{ID: v.ID, Name: v.Name}
	}
	return out
}

func pipelinesOf(dir *app.Directory) []RefPipeline {
	out := []RefPipeline{}
	for _, p := range dir.Pipelines {
		out = append(out, RefPipeline{ID: p.ID, Name: p.Name, Stages: refValues(p.Stages)})
	}
	return out
}

// pickersOf builds the pickers' data from the portal's directory.
func pickersOf(dir *app.Directory) Pickers {
	v := Pickers{
		Entities:  []string{"contact", "company", "deal"},
		Types:     map[string][]RefValue{},
		Pipelines: pipelinesOf(dir),
		Sources:   refValues(dir.Values("SOURCE")),
		Fields:    map[string][]RefField{},
		Facts:     refFacts(),
		Statuses:  map[string][]RefValue{},
		Operators: []segment.Op{segment.OpEq, segment.OpNe, segment.OpLt, segment.OpLe, segment.OpGt, segment.OpGe,
			segment.OpIn, segment.OpNotIn, segment.OpContains, segment.OpBetween, segment.OpEmpty, segment.OpNotEmpty},
		Applies: []segment.Apply{segment.ApplyNewOnly, segment.ApplyFirstStage, segment.ApplyAlways},
	}
	for _, e := range v.Entities {
		v.Types[e] = refValues(dir.Types(segment.Entity(e)))
	}
	for _, list := range dir.Lists() {
		v.Statuses[list] = refValues(dir.Values(list))
	}
	currencies := []RefValue{}
	for _, c := range dir.Currencies {
		v.Currencies = append(v.Currencies, RefCurrency{ID: c.Code, Name: c.Name, Base: c.Base})
		currencies = append(currencies, RefValue{ID: c.Code, Name: c.Name})
	}
	for _, e := range v.Entities {
		list := []RefField{}
		for _, f := range dir.Fields[e] {
			rf := RefField{ID: f.ID, Title: f.Title, Type: f.Type, Custom: f.Custom(), Multiple: f.Multiple}
			switch {
			case len(f.Items) > 0:
				rf.Values = refValues(f.Items)
			case f.ID == "CATEGORY_ID" && e == "deal":
				for _, p := range v.Pipelines {
					rf.Values = append(rf.Values, RefValue{ID: bitrix.ID(p.ID).String(), Name: p.Name})
				}
			case f.ID == "STAGE_ID" && e == "deal":
				for _, p := range v.Pipelines {
					for _, s := range p.Stages {
						rf.Values = append(rf.Values, RefValue{ID: s.ID, Name: p.Name + ": " + s.Name})
					}
				}
			case f.StatusType != "":
				rf.Values = refValues(dir.Values(f.StatusType))
			case f.Type == "crm_currency" || f.ID == "CURRENCY_ID":
				rf.Values = currencies
			}
			list = append(list, rf)
		}
		v.Fields[e] = list
	}
	return v
}

// RefLocations is what GET /api/v1/reference/locations answers: per record
// type (contact, company) and location fact (country, region, city,
// postal_prefix), the values the portal's clients have, the most common
// first, for the editor to offer. A value's ID is what a condition holds;
// its Name says it for people: a country by its name in the session's
// language, the rest with their country's code.
type RefLocations map[string]map[string][]RefLocation

// RefLocation is one value of a location fact and how many clients have it.
type RefLocation struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Count int    `json:"count"`
}

// maxLocationValues bounds each fact's list: a portal's cities can be
// thousands, and a condition may name any of them by hand.
const maxLocationValues = 300

// GetLocations answers the location facts' values, read from the mirror
// (no request to the portal).
func (a *API) GetLocations(c *gin.Context) {
	sess := sessionOf(c)
	lang := segmentLang(sess.Lang)
	out := RefLocations{}
	for _, e := range []segment.Entity{segment.EntityContact, segment.EntityCompany} {
		facts := map[string][]RefLocation{}
		out[string(e)] = facts
		if a.Mirror == nil {
			continue
		}
		values, err := a.Mirror.LocationValues(c.Request.Context(), sess.MemberID, e, maxLocationValues)
		if err != nil {
			apiError(c, sess.Lang, err)
			return
		}
		for fact, list := range values {
			refs := make([]RefLocation, len(list))
			for i, v := range list {
				name := v.Value
				switch {
				case fact == segment.FactCountry:
					if n := segment.CountryName(lang, v.Value); n != v.Value {
						name = n + " (" + v.Value + ")"
					}
				case v.Country != "":
					name += " (" + v.Country + ")"
				}
				refs[i] = RefLocation{ID: v.Value, Name: name, Count: v.Count}
			}
			facts[fact] = refs
		}
	}
	c.JSON(http.StatusOK, out)
}
