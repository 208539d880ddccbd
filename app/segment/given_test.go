package segment

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FactsFunc feeds facts computed elsewhere to the compiled rules: the
// answers it gives decide the segment exactly as ClientFacts' would, and
// it is asked each fact with its window and field.
func TestFactsFunc(t *testing.T) {
	rules, err := Compile(mustParse(t, designExample))
	if err != nil {
		t.Fatal(err)
	}
	cf := NewClientFacts(Env{Now: testNow, Rates: testRates()})
	client := Client{ID: 3, Entity: EntityContact, Fields: map[string]string{"SOURCE_ID": "WEB"}}
	cases := [][]Deal{
		{{Semantic: Won, Amount: rub("150000"), Closed: ago(5)}},
		{{Semantic: Won, Amount: rub("150000"), Closed: ago(500)}},
		nil,
	}
	for i, deals := range cases {
		cf.Reset(client, deals)
		var asked []FactQuery
		given := FactsFunc(func(q FactQuery) Value {
			asked = append(asked, q)
			spec, field, _ := lookupFact(q.Name)
			return cf.value(&leaf{fact: spec.id, name: q.Name, field: field, window: q.Window})
		})
		want := rules.Evaluate(EntityContact, cf)
		got := rules.Evaluate(EntityContact, given)
		if got.Key != want.Key || !cmp.Equal(got.Explanation, want.Explanation) {
			t.Errorf("case %d: FactsFunc gives %q (%+v), ClientFacts %q (%+v)", i, got.Key, got.Explanation, want.Key, want.Explanation)
		}
		if i == 0 {
			// The design example's VIP: won_amount over 365 days first.
			if diff := cmp.Diff(FactQuery{Name: "won_amount", Window: 365}, asked[0]); diff != "" {
				t.Errorf("first question (-want +got):\n%s", diff)
			}
			if !cmp.Equal(asked[1], FactQuery{Name: "field:SOURCE_ID", Field: "SOURCE_ID"}) {
				t.Errorf("second question = %+v, want field:SOURCE_ID", asked[1])
			}
		}
	}
}
