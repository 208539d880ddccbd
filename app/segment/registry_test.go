package segment

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"segmentor/registry"
)

func registryCompany(section, pkd, region, form string, st registry.Status, registered time.Time) Client {
	return Client{ID: 1, Entity: EntityCompany,
		Registry: &RegistryFacts{PKD: pkd, PKDSection: section, Region: region, LegalForm: form, Status: st, Registered: registered}}
}

func registryFactCases() []clientFactCase {
	return []clientFactCase{
		{FactRegistryPKDSection, 0, text("G")},
		{FactRegistryPKD, 0, text("47.11.Z")},
		{FactRegistryRegion, 0, text("Mazowieckie")},
		{FactRegistryLegalForm, 0, text("sp. z o.o.")},
		{FactRegistryStatus, 0, text("active")},
		{FactRegistryAgeYears, 0, number(12)},
	}
}

func TestRegistryFacts(t *testing.T) {
	f := NewClientFacts(Env{Now: testNow})
	f.Reset(registryCompany("G", "47.11.Z", "Mazowieckie", "sp. z o.o.", registry.StatusActive, testNow.AddDate(-12, 0, 0)), nil)
	for _, tt := range registryFactCases() {
		if diff := cmp.Diff(tt.want, factValue(f, tt.fact, 0)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.fact, diff)
		}
	}
	f.Reset(Client{ID: 6, Entity: EntityCompany}, nil)
	for _, tt := range registryFactCases() {
		if got := factValue(f, tt.fact, 0); got.Kind != KindNone {
			t.Errorf("%s of a company the registry has not answered for = %+v, want no value", tt.fact, got)
		}
	}
}

// Registry facts read the company's registry entry; a company the
// registry has not answered for has no value, and meets only "is empty",
// "does not equal" and "is none of".
func TestRegistryRules(t *testing.T) {
	shop := registryCompany("G", "47.11.Z", "Mazowieckie", "sp. z o.o.", registry.StatusActive, testNow.AddDate(-12, -1, 0))
	builder := registryCompany("F", "41.20.Z", "Małopolskie", "JDG", registry.StatusSuspended, testNow.AddDate(-2, 0, 1))
	closed := registryCompany("C", "10.71.Z", "Pomorskie", "S.A.", registry.StatusClosed, time.Time{})
	unknown := Client{ID: 2, Entity: EntityCompany}
	tests := []struct {
		when string
		in   []Client
		out  []Client
	}{
		{`{"fact": "registry:pkd_section", "op": "in", "value": ["G", "F"]}`, []Client{shop, builder}, []Client{closed, unknown}},
		{`{"fact": "registry:pkd", "op": "=", "value": "47.11.z"}`, []Client{shop}, []Client{builder, unknown}},
		{`{"fact": "registry:pkd", "op": "contains", "value": "47.1"}`, []Client{shop}, []Client{builder, unknown}},
		{`{"fact": "registry:region", "op": "in", "value": ["woj. mazowieckie", "MALOPOLSKIE"]}`, []Client{shop, builder}, []Client{closed, unknown}},
		{`{"fact": "registry:region", "op": "=", "value": "Masovian"}`, []Client{shop}, []Client{builder}},
		{`{"fact": "registry:legal_form", "op": "=", "value": "sp. z o.o."}`, []Client{shop}, []Client{builder, unknown}},
		{`{"fact": "registry:status", "op": "!=", "value": "closed"}`, []Client{shop, builder, unknown}, []Client{closed}},
		{`{"fact": "registry:status", "op": "=", "value": "active"}`, []Client{shop}, []Client{builder, closed, unknown}},
		{`{"fact": "registry:age_years", "op": ">=", "value": 10}`, []Client{shop}, []Client{builder, closed, unknown}},
		{`{"fact": "registry:age_years", "op": "=", "value": 1}`, []Client{builder}, []Client{shop}}, // a day short of two years
		{`{"fact": "registry:age_years", "op": "empty"}`, []Client{closed, unknown}, []Client{shop}},
		{`{"fact": "registry:status", "op": "empty"}`, []Client{unknown}, []Client{shop, closed}},
	}
	for _, tt := range tests {
		r, err := Compile(mustParse(t, oneSegment(EntityCompany, tt.when, "")))
		if err != nil {
			t.Fatalf("%s: %v", tt.when, err)
		}
		if !r.UsesRegistry() || r.UsesLocation() {
			t.Errorf("%s: UsesRegistry %v, UsesLocation %v", tt.when, r.UsesRegistry(), r.UsesLocation())
		}
		f := NewClientFacts(Env{Now: testNow})
		check := func(c Client, want bool) {
			f.Reset(c, nil)
			if got := r.Match(EntityCompany, f).Key == "test"; got != want {
				t.Errorf("%s on %+v: %v, want %v", tt.when, c.Registry, got, want)
			}
			if ev := r.Evaluate(EntityCompany, f); (ev.Key == "test") != want {
				t.Errorf("%s on %+v: Evaluate and Match disagree", tt.when, c.Registry)
			}
		}
		for _, c := range tt.in {
			check(c, true)
		}
		for _, c := range tt.out {
			check(c, false)
		}
	}
	if r, _ := Compile(mustParse(t, oneSegment(EntityCompany, `{"fact": "region", "op": "=", "value": "Pomorskie"}`, ""))); r.UsesRegistry() {
		t.Error("UsesRegistry without a registry fact")
	}
}

// The registry knows companies: its facts are refused in contact and deal
// rules, in the words the editor shows.
func TestRegistryValidation(t *testing.T) {
	const w = "schemes[1].segments[0].when"
	for _, e := range []Entity{EntityContact, EntityDeal} {
		got := Validate(mustParse(t, oneSegment(e, `{"fact": "registry:status", "op": "=", "value": "active"}`, "")), testRef())
		want := Problems{{Path: w, Code: CodeCompanyOnly, Entity: e, Segment: "Test", Args: []string{"registry:status"}}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("registry:status in a %s rule (-want +got):\n%s", e, diff)
		}
		if msg := got[0].Message(PL); !strings.Contains(msg, "Status w rejestrze") || !strings.Contains(msg, "firm") {
			t.Errorf("Polish message %q does not name the fact by its label", msg)
		}
	}
	if got := Validate(mustParse(t, oneSegment(EntityCompany, `{"fact": "registry:age_years", "op": "=", "value": "old"}`, "")), testRef()); len(got) != 1 || got[0].Code != CodeWantNumber {
		t.Errorf("registry:age_years = \"old\": %+v, want %s", got, CodeWantNumber)
	}
	for _, info := range Catalog() {
		if strings.HasPrefix(info.Name, "registry:") && (len(info.Entities) != 1 || info.Entities[0] != EntityCompany) {
			t.Errorf("%s is offered for %v, want companies only", info.Name, info.Entities)
		}
	}
}

// The card tab names a status and a section in the reader's words, not by
// their codes.
func TestTellRegistry(t *testing.T) {
	cases := []struct {
		lang Lang
		c    Check
		held bool
		want string
	}{
		{EN, Check{Fact: FactRegistryStatus, Op: OpNe, Want: "closed", Seen: text("active")}, true, "Registry status: active (does not equal closed (struck off))"},
		{PL, Check{Fact: FactRegistryStatus, Op: OpEq, Want: "active", Seen: text("suspended")}, false, "Status w rejestrze: działalność zawieszona"},
		{EN, Check{Fact: FactRegistryPKDSection, Op: OpIn, Want: []any{"G"}, Seen: text("G")}, true, "Industry (PKD section): G · Wholesale and retail trade"},
		{RU, Check{Fact: FactRegistryPKDSection, Op: OpIn, Want: []any{"F"}, Seen: text("F")}, true, "Отрасль (секция PKD): F · Строительство"},
		{IT, Check{Fact: FactRegistryAgeYears, Op: OpGe, Want: 10.0, Seen: number(12)}, true, "Anni dalla registrazione: 12"},
		{EN, Check{Fact: FactRegistryLegalForm, Op: OpEq, Want: "JDG", Seen: Value{}}, false, "Legal form: no value"},
	}
	for _, c := range cases {
		got := NewTeller(c.lang, nil).Check(EntityCompany, c.c, c.held)
		if !strings.HasPrefix(got, c.want) {
			t.Errorf("%s %+v: %q, want it to start %q", c.lang, c.c, got, c.want)
		}
	}
}
