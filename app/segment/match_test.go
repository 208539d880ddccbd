package segment

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Match must pick the segment Evaluate picks, for every record: previews
// count with Match, the classifier writes with Evaluate.
func TestMatchAgreesWithEvaluate(t *testing.T) {
	configs := map[string]string{
		"bench": benchConfig,
		"nested": `{"schemes": [{"entity": "contact", "segments": [
		  {"key": "a", "name": "A", "color": "#123456", "when": {"not": {"any": [{"fact": "won_count", "op": "<", "value": 2},
		     {"all": [{"fact": "field:SOURCE_ID", "op": "=", "value": "WEB"}, {"fact": "lost_count", "op": ">", "value": 0}]}]}},
		   "set": {"type": "VIP"}},
		  {"key": "b", "name": "B", "when": {"any": [{"fact": "rfm_m", "window_days": 365, "op": ">=", "value": 4},
		     {"fact": "avg_won_amount", "op": "between", "value": [1000, 20000]}]}, "set": {"label": true}},
		  {"key": "c", "name": "C", "when": {"all": [{"fact": "days_since_first_won", "op": ">", "value": 300},
		     {"fact": "product_groups", "op": "contains", "value": 3}]}}]}]}`,
		"no otherwise, nothing matches often": `{"schemes": [{"entity": "contact", "segments": [
		  {"key": "big", "name": "Big", "when": {"fact": "won_amount", "op": ">", "value": 300000}}]}]}`,
	}
	portal := benchPortal()[:20000]
	for name, src := range configs {
		t.Run(name, func(t *testing.T) {
			rules, err := Compile(mustParse(t, src))
			if err != nil {
				t.Fatal(err)
			}
			env := Env{Now: testNow, Rates: testRates()}
			rb := NewRFMBuilder(env, rules.RFMWindows())
			for _, p := range portal {
				rb.Add(p.c, p.deals)
			}
			env.RFM = rb.Build()
			f1, f2 := NewClientFacts(env), NewClientFacts(env)
			keys := map[string]int{}
			for _, p := range portal {
				f1.Reset(p.c, p.deals)
				f2.Reset(p.c, p.deals)
				want := rules.Evaluate(EntityContact, f1)
				want.Explanation = Explanation{}
				got := rules.Match(EntityContact, f2)
				if diff := cmp.Diff(want, got); diff != "" {
					t.Fatalf("contact %d: Match differs from Evaluate (-want +got):\n%s", p.c.ID, diff)
				}
				keys[got.Key]++
			}
			if len(keys) < 2 {
				t.Fatalf("every contact lands in %v: the comparison exercises nothing", keys)
			}
		})
	}
	var none Rules
	if r := none.Match(EntityDeal, NewDealFacts(nil, testNow)); r.Key != "" {
		t.Fatalf("no scheme: %+v", r)
	}
}
