package segment

import (
	"time"

	"segmentor/registry"
)

// Registry facts, of companies: what the company registry (Poland's REGON,
// looked up by the NIP of the company's requisite) says of it. A company
// whose registry entry is unknown — no NIP, an invalid one, not found, the
// registry not reached yet — has no value for any of them: it meets only
// "is empty", "does not equal" and "is none of", as for every fact.
const (
	FactRegistryPKDSection = "registry:pkd_section" // PKD section letter, "G"
	FactRegistryPKD        = "registry:pkd"         // main activity, "47.11.Z"
	FactRegistryRegion     = "registry:region"      // voivodeship of the registered seat
	FactRegistryLegalForm  = "registry:legal_form"  // "sp. z o.o.", "JDG", …
	FactRegistryStatus     = "registry:status"      // active, suspended, closed
	FactRegistryAgeYears   = "registry:age_years"   // whole years since registration
)

// RegistryFacts is what the registry said of a company, as the mirror
// keeps it (registry.Company without what no rule reads).
type RegistryFacts struct {
	PKD        string          `json:"pkd,omitempty"`
	PKDSection string          `json:"sec,omitempty"`
	Region     string          `json:"reg,omitempty"`
	LegalForm  string          `json:"lf,omitempty"`
	Status     registry.Status `json:"st,omitempty"`
	Registered time.Time       `json:"since,omitzero"` // zero: unknown
}

// RegistryFactsOf reduces a registry answer to the facts.
func RegistryFactsOf(c *registry.Company) *RegistryFacts {
	if c == nil {
		return nil
	}
	return &RegistryFacts{PKD: c.PKD, PKDSection: c.PKDSection, Region: c.Region, LegalForm: c.LegalForm,
		Status: c.Status, Registered: c.Registered}
}

// isRegistryFact reports whether a fact reads the company's registry entry.
func (id factID) isRegistryFact() bool {
	return id >= factRegistryPKDSection && id <= factRegistryAgeYears
}

// matchesAsPlace reports whether a fact's values are places, compared
// normalised and folded (location.go): the location facts and the
// registry's voivodeship.
func (id factID) matchesAsPlace() bool { return id.isLocationFact() || id == factRegistryRegion }

// value is a registry fact's value at now.
func (r *RegistryFacts) value(id factID, now time.Time) Value {
	if r == nil {
		return Value{}
	}
	s := ""
	switch id {
	case factRegistryPKDSection:
		s = r.PKDSection
	case factRegistryPKD:
		s = r.PKD
	case factRegistryRegion:
		s = r.Region
	case factRegistryLegalForm:
		s = r.LegalForm
	case factRegistryStatus:
		s = string(r.Status)
	case factRegistryAgeYears:
		if r.Registered.IsZero() || now.Before(r.Registered) {
			return Value{}
		}
		c := registry.Company{Registered: r.Registered}
		return number(float64(c.AgeYears(now)))
	}
	if s == "" {
		return Value{}
	}
	return text(s)
}

// UsesRegistry reports whether the rules read a registry fact, so that a
// company's new registry entry, or a new NIP, may change its segment.
func (r *Rules) UsesRegistry() bool { return r.uses(factID.isRegistryFact) }
