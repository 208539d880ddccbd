package segment

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const listRulesConfig = `{"schemes": [{"entity": "contact", "segments": [
  {"key": "fair", "name": "Fair", "when": {"all": [{"fact": "static_list", "op": "in", "value": ["fair2026", "fair2025"]}]}},
  {"key": "cold", "name": "Cold", "when": {"all": [{"fact": "static_list", "op": "not_in", "value": ["customers"]}]}}],
  "otherwise": {"key": "rest", "name": "Rest"}}]}`

// List membership decides rules for the live classifier and the analyst
// alike (both give ClientFacts the env's lists): in holds for a member of
// any list named, not_in for a record in none; a list of companies holds
// no contact with the same id.
func TestListFact(t *testing.T) {
	r, err := Compile(mustParse(t, listRulesConfig))
	if err != nil {
		t.Fatal(err)
	}
	if got := r.ListKeys(); !slices.Equal(got, []string{"customers", "fair2025", "fair2026"}) {
		t.Errorf("ListKeys = %v", got)
	}
	lists := ListMembers{
		"fair2026":  {Entity: EntityContact, IDs: []int64{3, 7, 9}},
		"fair2025":  {Entity: EntityCompany, IDs: []int64{11}},
		"customers": {Entity: EntityContact, IDs: []int64{7, 11}},
	}
	f := NewClientFacts(Env{Lists: lists})
	for id, want := range map[int64]string{3: "fair", 7: "fair", 9: "fair", 11: "rest", 12: "cold"} {
		f.Reset(Client{ID: id, Entity: EntityContact}, nil)
		if got := r.Evaluate(EntityContact, f).Key; got != want {
			t.Errorf("contact %d: %q, want %q", id, got, want)
		}
	}
	f = NewClientFacts(Env{}) // no lists loaded: nobody is in one
	f.Reset(Client{ID: 3, Entity: EntityContact}, nil)
	if got := r.Evaluate(EntityContact, f).Key; got != "cold" {
		t.Errorf("without lists: %q", got)
	}
}

// A list condition takes in or not_in and names lists the portal has, of
// the scheme's record kind.
func TestValidateListFact(t *testing.T) {
	ref := Vocabulary{Lists: map[string]Entity{"fair2026": EntityContact, "fair2025": EntityCompany, "customers": EntityContact}}
	want := []Problem{{Path: "schemes[0].segments[0].when.all[0]", Code: CodeListEntity, Entity: EntityContact, Segment: "Fair", Args: []string{"fair2025"}}}
	if diff := cmp.Diff(want, []Problem(Validate(mustParse(t, listRulesConfig), ref))); diff != "" {
		t.Fatalf("problems (-want +got):\n%s", diff)
	}
	ref.Lists["fair2025"] = EntityContact
	if ps := Validate(mustParse(t, listRulesConfig), ref); len(ps) != 0 {
		t.Fatalf("valid config refused: %v", ps)
	}
	bad := `{"schemes": [{"entity": "contact", "segments": [{"key": "a", "name": "A", "when": {"all": [
	  {"fact": "static_list", "op": "=", "value": "fair2026"}, {"fact": "static_list", "op": "in", "value": ["nosuch"]}]}}]}]}`
	ps := Validate(mustParse(t, bad), ref)
	w := "schemes[0].segments[0].when.all"
	want = []Problem{
		{Path: w + "[0]", Code: CodeOpNotForFact, Entity: EntityContact, Segment: "A", Args: []string{"=", "static_list"}},
		{Path: w + "[1]", Code: CodeUnknownList, Entity: EntityContact, Segment: "A", Args: []string{"nosuch"}},
	}
	if diff := cmp.Diff(want, []Problem(ps)); diff != "" {
		t.Fatalf("problems (-want +got):\n%s", diff)
	}
	names := &Names{Lists: map[string]string{"nosuch": "No such"}}
	for _, lang := range Languages() {
		if msg := ps[1].Say(lang, names).Message; !strings.Contains(msg, "No such") {
			t.Errorf("%s: %q does not name the list", lang, msg)
		}
	}
}

// Explanations say "In list Trade fair 2026" in every language, by the
// list's name.
func TestTellListFact(t *testing.T) {
	r, err := Compile(mustParse(t, listRulesConfig))
	if err != nil {
		t.Fatal(err)
	}
	f := NewClientFacts(Env{Lists: ListMembers{"fair2026": {Entity: EntityContact, IDs: []int64{3}}}})
	f.Reset(Client{ID: 3, Entity: EntityContact}, nil)
	res := r.Evaluate(EntityContact, f)
	names := &Names{Lists: map[string]string{"fair2026": "Trade fair 2026", "fair2025": "Trade fair 2025", "customers": "Customers"}}
	want := map[Lang]string{EN: "In list Trade fair 2026", RU: "В списке «Trade fair 2026»", PL: "Na liście „Trade fair 2026”", IT: "Nella lista “Trade fair 2026”"}
	for _, lang := range Languages() {
		if got := NewTeller(lang, names).Reason(EntityContact, res.Reason()).Summary; got != want[lang] {
			t.Errorf("%s: %q, want %q", lang, got, want[lang])
		}
	}
	f.Reset(Client{ID: 4, Entity: EntityContact}, nil)
	res = r.Evaluate(EntityContact, f)
	if got := NewTeller(EN, names).Reason(EntityContact, res.Reason()).Summary; got != "In none of the lists Customers" {
		t.Errorf("not_in: %q", got)
	}
	other := NewTeller(EN, names).Others(EntityContact, res.Explanation)
	if len(other) != 1 || other[0].Missed != "Not in list Trade fair 2026, Trade fair 2025" {
		t.Errorf("missed: %+v", other)
	}
	if w := listWords.Check(); len(w) > 0 {
		t.Errorf("list words: %v", w)
	}
}

// listFactCases are static_list's values for contact 3, a member of
// fair2026 only: the first list of the condition it is in, none when in
// none of them.
func listFactCases() []clientFactCase {
	return []clientFactCase{{FactList, 0, text("fair2026")}, {FactList, 0, Value{}}}
}

func TestListFactValues(t *testing.T) {
	f := NewClientFacts(Env{Lists: ListMembers{"fair2026": {Entity: EntityContact, IDs: []int64{3}}}})
	f.Reset(Client{ID: 3, Entity: EntityContact}, nil)
	lists := [][]item{{{text: "fair2025"}, {text: "fair2026"}}, {{text: "fair2025"}}}
	for i, tt := range listFactCases() {
		l := &leaf{fact: factList, name: tt.fact, op: OpIn, items: lists[i]}
		if got := f.value(l); !cmp.Equal(got, tt.want) {
			t.Errorf("case %d: %+v, want %+v", i, got, tt.want)
		}
	}
}
