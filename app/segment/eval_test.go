package segment

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fixedFacts answers every fact with the same value.
type fixedFacts struct{ v Value }

func (f fixedFacts) value(*leaf) Value { return f.v }

// compileCond compiles a one-segment contact config around a condition.
func compileCond(t *testing.T, cond string) *Rules {
	t.Helper()
	cfg := mustParse(t, fmt.Sprintf(`{"schemes": [{"entity": "contact", "segments": [{"key": "t", "name": "T", "when": %s}]}]}`, cond))
	r, err := Compile(cfg)
	if err != nil {
		t.Fatalf("Compile(%s): %v", cond, err)
	}
	return r
}

type operatorCase struct {
	fact, op, value string // value is JSON; "" for none
	seen            Value
	want            bool
}

func operatorCases() []operatorCase {
	none := Value{}
	groups := Value{Kind: KindGroups, Groups: []int{3, 7}}
	return []operatorCase{
		{"won_count", "=", "3", number(3), true},
		{"won_count", "=", "3", number(4), false},
		{"won_count", "=", "3", none, false},
		{"won_count", "!=", "3", number(4), true},
		{"won_count", "!=", "3", number(3), false},
		{"won_count", "!=", "3", none, true},
		{"won_count", "<", "3", number(2), true},
		{"won_count", "<", "3", number(3), false},
		{"won_count", "<", "3", none, false},
		{"won_count", "<=", "3", number(3), true},
		{"won_count", "<=", "3", number(3.5), false},
		{"won_count", ">", "3", number(3.5), true},
		{"won_count", ">", "3", number(3), false},
		{"won_count", ">=", "3", number(3), true},
		{"won_count", ">=", "3", number(2), false},
		{"won_count", ">", "10", number(math.Inf(1)), true},
		{"won_count", "in", "[1, 3]", number(3), true},
		{"won_count", "in", "[1, 3]", number(2), false},
		{"won_count", "in", "[1, 3]", none, false},
		{"won_count", "not_in", "[1, 3]", number(2), true},
		{"won_count", "not_in", "[1, 3]", number(1), false},
		{"won_count", "not_in", "[1, 3]", none, true},
		{"won_count", "between", "[1, 3]", number(1), true},
		{"won_count", "between", "[1, 3]", number(3), true},
		{"won_count", "between", "[1, 3]", number(3.01), false},
		{"won_count", "between", "[1, 3]", none, false},
		{"won_count", "empty", "", none, true},
		{"won_count", "empty", "", number(0), false},
		{"won_count", "not_empty", "", number(0), true},
		{"won_count", "not_empty", "", none, false},

		{"rfm", "=", `"545"`, text("545"), true},
		{"rfm", "=", `"545"`, text("555"), false},
		{"rfm", "contains", `"5"`, text("145"), true},
		{"rfm", "contains", `"5"`, text("123"), false},
		{"rfm", "contains", `"5"`, none, false},

		{"field:NAME", "=", `"Anna"`, text("Anna"), true},
		{"field:NAME", "=", `"Anna"`, text("anna"), false},
		{"field:NAME", "!=", `"Anna"`, text("Bob"), true},
		{"field:NAME", "contains", `"ANN"`, text("Joanna"), true}, // case-insensitive
		{"field:NAME", "contains", `"ann"`, text("Bob"), false},
		{"field:NAME", "in", `["WEB", "PARTNER"]`, text("PARTNER"), true},
		{"field:NAME", "in", `["WEB", "PARTNER"]`, text("CALL"), false},
		{"field:NAME", "not_in", `["WEB", "PARTNER"]`, text("CALL"), true},
		{"field:NAME", "empty", "", text(""), true},
		{"field:NAME", "empty", "", none, true},
		{"field:NAME", "empty", "", text("x"), false},
		{"field:NAME", "not_empty", "", text("x"), true},
		// Fields are text; a number in the condition compares numbers.
		{"field:NAME", "=", "3", text("3"), true},
		{"field:NAME", "=", "3", text("3.00"), true},
		{"field:NAME", "=", "3", text("three"), false},
		{"field:NAME", "=", `"3"`, text("3.00"), false},
		{"field:NAME", ">", "1000", text("1500.50"), true},
		{"field:NAME", ">", "1000", text("999"), false},
		{"field:NAME", ">", "1000", text("lots"), false},
		{"field:NAME", ">", "1000", none, false},
		{"field:NAME", "between", "[10, 20]", text(" 15 "), true},
		{"field:NAME", "in", `[3, "x"]`, text("3"), true},
		{"field:NAME", "in", `[3, "x"]`, text("x"), true},
		{"field:NAME", "in", `[3, "x"]`, text("y"), false},

		{"product_groups", "contains", "7", groups, true},
		{"product_groups", "contains", "8", groups, false},
		{"product_groups", "contains", "7", Value{Kind: KindGroups}, false},
		{"product_groups", "in", "[1, 3]", groups, true}, // any of them
		{"product_groups", "in", "[1, 2]", groups, false},
		{"product_groups", "not_in", "[1, 2]", groups, true}, // none of them
		{"product_groups", "not_in", "[7]", groups, false},
		{"product_groups", ">=", "2", groups, true}, // counts distinct groups
		{"product_groups", ">", "2", groups, false},
		{"product_groups", "=", "2", groups, true},
		{"product_groups", "between", "[1, 2]", groups, true},
		{"product_groups", "empty", "", Value{Kind: KindGroups}, true},
		{"product_groups", "not_empty", "", groups, true},
	}
}

func TestOperators(t *testing.T) {
	for _, tt := range operatorCases() {
		name := fmt.Sprintf("%s %s %s on %v", tt.fact, tt.op, tt.value, tt.seen)
		cond := fmt.Sprintf(`{"fact": %q, "op": %q}`, tt.fact, tt.op)
		if tt.value != "" {
			cond = fmt.Sprintf(`{"fact": %q, "op": %q, "value": %s}`, tt.fact, tt.op, tt.value)
		}
		r := compileCond(t, cond)
		res := r.Evaluate(EntityContact, fixedFacts{tt.seen})
		if got := res.Key == "t"; got != tt.want {
			t.Errorf("%s: held = %v, want %v", name, got, tt.want)
		}
	}
}

func TestEveryOperatorIsTested(t *testing.T) {
	// Each operator must be seen both holding and failing in TestOperators.
	seen := map[Op][2]bool{}
	for _, c := range operatorCases() {
		s := seen[Op(c.op)]
		if c.want {
			s[0] = true
		} else {
			s[1] = true
		}
		seen[Op(c.op)] = s
	}
	for _, op := range allOps() {
		if seen[op] != [2]bool{true, true} {
			t.Errorf("operator %q: tested holding/failing = %v", op, seen[op])
		}
	}
}

func TestEvaluateOrderAndOtherwise(t *testing.T) {
	cfg := mustParse(t, designExample)
	rules, err := Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	env := Env{Now: testNow, Rates: testRates()}
	big := []Deal{
		{Semantic: Won, Amount: rub("60000"), Closed: ago(30)},
		{Semantic: Won, Amount: rub("60000"), Closed: ago(300)},
	}
	tests := []struct {
		name   string
		client Client
		deals  []Deal
		want   string
	}{
		{"vip by amount and source", Client{Entity: EntityContact, Fields: map[string]string{"SOURCE_ID": "WEB"}}, big, "vip"},
		{"amount but neither source nor count", Client{Entity: EntityContact, Fields: map[string]string{"SOURCE_ID": "CALL"}}, big, "regular"},
		{"sleeping", Client{Entity: EntityContact}, []Deal{{Semantic: Won, Amount: rub("10"), Closed: ago(200)}}, "sleeping"},
		// A VIP who has not bought for 200 days is still VIP: the first match wins.
		{"first match wins", Client{Entity: EntityContact, Fields: map[string]string{"SOURCE_ID": "PARTNER"}},
			[]Deal{{Semantic: Won, Amount: rub("200000"), Closed: ago(200)}}, "vip"},
		{"never bought is not sleeping", Client{Entity: EntityContact}, nil, "regular"},
	}
	f := NewClientFacts(env)
	for _, tt := range tests {
		f.Reset(tt.client, tt.deals)
		res := rules.Evaluate(EntityContact, f)
		if res.Key != tt.want {
			t.Errorf("%s: segment %q, want %q\n%+v", tt.name, res.Key, tt.want, res.Explanation)
		}
	}

	// Deals: premium through client_segment, else no segment (no otherwise).
	df := NewDealFacts(func(e Entity, id int64) string {
		if e == EntityContact && id == 1 {
			return "vip"
		}
		return "regular"
	}, testNow)
	deal := Deal{ContactIDs: []int64{1}}
	df.Reset(&deal)
	res := rules.Evaluate(EntityDeal, df)
	want := Result{Key: "premium", Name: "Premium",
		Set:  Set{Type: "COMPLEX", Label: true, Pipeline: &Target{CategoryID: 3, StageID: "C3:NEW", Apply: ApplyNewOnly}},
		Acts: Acts{Trigger: true, Timeline: true}} // a deal segment fires its trigger and writes the timeline by default
	if diff := cmp.Diff(want, res, cmpIgnoreExplanation); diff != "" {
		t.Errorf("deal result (-want +got):\n%s", diff)
	}
	deal.ContactIDs = []int64{2}
	res = rules.Evaluate(EntityDeal, df)
	if res.Key != "" || res.Otherwise || len(res.Explanation.Segments) != 1 {
		t.Errorf("unmatched deal: %+v", res)
	}

	// No scheme for companies.
	if res := rules.Evaluate(EntityCompany, f); res.Key != "" || len(res.Explanation.Segments) != 0 {
		t.Errorf("company without a scheme: %+v", res)
	}
	if rules.Has(EntityCompany) || !rules.Has(EntityContact) {
		t.Errorf("Has: company %v contact %v", rules.Has(EntityCompany), rules.Has(EntityContact))
	}
}

var cmpIgnoreExplanation = cmp.FilterPath(func(p cmp.Path) bool { return p.String() == "Explanation" }, cmp.Ignore())

func TestExplanation(t *testing.T) {
	rules, err := Compile(mustParse(t, designExample))
	if err != nil {
		t.Fatal(err)
	}
	f := NewClientFacts(Env{Now: testNow, Rates: testRates()})
	f.Reset(Client{Entity: EntityContact, Fields: map[string]string{"SOURCE_ID": "WEB"}}, []Deal{
		{Semantic: Won, Amount: rub("125000"), Closed: ago(30)},
	})
	res := rules.Evaluate(EntityContact, f)
	want := Explanation{Segments: []SegmentTrace{{Key: "vip", Name: "VIP", Held: true, When: Trace{
		Group: "all", Checked: true, Held: true, Children: []Trace{
			{Fact: "won_amount", WindowDays: 365, Op: OpGe, Want: json.Number("100000"), Seen: number(125000), Checked: true, Held: true},
			{Group: "any", Checked: true, Held: true, Children: []Trace{
				{Fact: "field:SOURCE_ID", Op: OpIn, Want: []any{"WEB", "PARTNER"}, Seen: text("WEB"), Checked: true, Held: true},
				{Fact: "won_count", WindowDays: 365, Op: OpGe, Want: json.Number("5")}, // not checked: any already held
			}},
		}}}}}
	if diff := cmp.Diff(want, res.Explanation); diff != "" {
		t.Errorf("explanation (-want +got):\n%s", diff)
	}
	// Told in words: the conditions that held, the one not checked left out.
	told := NewTeller(EN, &Names{Currency: "RUB"}).Reason(EntityContact, res.Reason())
	if want := []string{"Won amount in the last 365 days: 125,000 RUB (at least 100,000 RUB)", "SOURCE_ID: WEB (is one of WEB, PARTNER)"}; !cmp.Equal(told.Lines, want) {
		t.Errorf("told %q, want %q", told.Lines, want)
	}

	// A client who fails VIP and Sleeping shows both, then lands in otherwise.
	f.Reset(Client{Entity: EntityContact}, nil)
	res = rules.Evaluate(EntityContact, f)
	if !res.Otherwise || res.Key != "regular" {
		t.Fatalf("result %+v, want otherwise regular", res)
	}
	// Both tried, each with its first miss; VIP is nearer (nothing held
	// in either, so the earlier one).
	tl := NewTeller(EN, &Names{Currency: "RUB"})
	others := tl.Others(EntityContact, res.Explanation)
	want2 := []Other{{Key: "vip", Name: "VIP", Missed: "Won amount in the last 365 days: 0 RUB, needs at least 100,000 RUB"},
		{Key: "sleeping", Name: "Sleeping", Missed: "Days since last purchase: no purchases, needs more than 180 days"}}
	if diff := cmp.Diff(want2, others); diff != "" {
		t.Errorf("others (-want +got):\n%s", diff)
	}
	if r := res.Reason(); r.Nearest == nil || r.Nearest.Segment != "vip" {
		t.Errorf("nearest %+v", r.Nearest)
	}
}

func TestValueJSON(t *testing.T) {
	tests := []struct {
		v    Value
		want string
	}{
		{Value{}, "null"},
		{number(12.5), "12.5"},
		{number(math.Inf(1)), `"∞"`},
		{text("WEB"), `"WEB"`},
		{Value{Kind: KindGroups}, "[]"},
		{Value{Kind: KindGroups, Groups: []int{1, 2}}, "[1,2]"},
	}
	for _, tt := range tests {
		b, err := json.Marshal(tt.v)
		if err != nil || string(b) != tt.want {
			t.Errorf("Marshal(%+v) = %s, %v; want %s", tt.v, b, err, tt.want)
		}
	}
}

// The explanation keeps its own copy of product groups: the facts reuse
// their buffers for the next record.
func TestExplanationSurvivesReset(t *testing.T) {
	r := compileCond(t, `{"fact": "product_groups", "op": "contains", "value": 1}`)
	f := NewClientFacts(Env{Now: testNow, Rates: testRates()})
	f.Reset(Client{Entity: EntityContact}, []Deal{{Semantic: Won, Closed: ago(1), ProductSections: []int{1, 2}}})
	res := r.Evaluate(EntityContact, f)
	f.Reset(Client{Entity: EntityContact}, []Deal{{Semantic: Won, Closed: ago(1), ProductSections: []int{8, 9}}})
	r.Evaluate(EntityContact, f)
	if got := res.Explanation.Segments[0].When.Seen.Groups; !cmp.Equal(got, []int{1, 2}) {
		t.Errorf("first explanation's groups became %v", got)
	}
}

// Rules are shared by goroutines, each with its own facts (run with -race).
func TestEvaluateConcurrently(t *testing.T) {
	rules, err := Compile(mustParse(t, designExample))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := range 8 {
		wg.Go(func() {
			f := NewClientFacts(Env{Now: testNow, Rates: testRates()})
			for i := range 200 {
				amount := fmt.Sprint((g*200 + i) * 100)
				f.Reset(Client{Entity: EntityContact, Fields: map[string]string{"SOURCE_ID": "WEB"}},
					[]Deal{{Semantic: Won, Amount: rub(amount), Closed: ago(1)}})
				res := rules.Evaluate(EntityContact, f)
				if want := (g*200+i)*100 >= 100000; (res.Key == "vip") != want {
					errs <- fmt.Sprintf("amount %s: segment %s", amount, res.Key)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	var msgs []string
	for m := range errs {
		msgs = append(msgs, m)
	}
	if len(msgs) > 0 {
		t.Error(strings.Join(msgs, "\n"))
	}
}

func TestRulesNeeds(t *testing.T) {
	rules := compileCond(t, `{"all": [{"fact": "rfm", "window_days": 365, "op": "=", "value": "555"},
		{"fact": "rfm_r", "op": ">", "value": 3}, {"fact": "rfm_m", "window_days": 365, "op": ">", "value": 3},
		{"fact": "field:UF_CRM_TIER", "op": "empty"}, {"fact": "field:SOURCE_ID", "op": "empty"}, {"fact": "field:UF_CRM_TIER", "op": "not_empty"}]}`)
	if diff := cmp.Diff([]int{0, 365}, rules.RFMWindows()); diff != "" {
		t.Errorf("RFMWindows (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"UF_CRM_TIER", "SOURCE_ID"}, rules.Fields(EntityContact)); diff != "" {
		t.Errorf("Fields (-want +got):\n%s", diff)
	}
	if rules.UsesClientSegment() {
		t.Errorf("UsesClientSegment without client_segment")
	}
	design, err := Compile(mustParse(t, designExample))
	if err != nil {
		t.Fatal(err)
	}
	if !design.UsesClientSegment() || len(design.RFMWindows()) != 0 {
		t.Errorf("design example: client segment %v, rfm windows %v", design.UsesClientSegment(), design.RFMWindows())
	}
}

// Rules keep their own copy of the outputs: editing the config afterwards
// does not change them.
func TestCompileCopiesOutputs(t *testing.T) {
	cfg := mustParse(t, designExample)
	rules, err := Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Schemes[1].Segments[0].Set.Pipeline.StageID = "C3:WON"
	cfg.Schemes[1].Segments[0].Key = "changed"
	df := NewDealFacts(func(Entity, int64) string { return "vip" }, testNow)
	df.Reset(&Deal{CompanyID: 1})
	res := rules.Evaluate(EntityDeal, df)
	if res.Key != "premium" || res.Set.Pipeline.StageID != "C3:NEW" {
		t.Errorf("result follows the edited config: key %q, stage %q", res.Key, res.Set.Pipeline.StageID)
	}
}
