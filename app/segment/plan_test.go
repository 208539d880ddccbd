package segment

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func intp(i int) *int { return &i }

func TestNewPlan(t *testing.T) {
	since := testNow.Add(-24 * time.Hour)
	opts := PlanOptions{
		SegmentItems: map[string]int{"vip": 101, "regular": 102, "premium": 201},
		RulesSince:   since,
		Pipelines:    testRef().Pipelines,
	}
	vip := Result{Key: "vip", Name: "VIP", Set: Set{Type: "VIP", Label: true}}
	move := func(apply Apply) Result {
		return Result{Key: "premium", Set: Set{Label: true, Pipeline: &Target{CategoryID: 3, StageID: "C3:NEW", Apply: apply}}}
	}
	openDeal := Current{SegmentItem: 201, CategoryID: 0, StageID: "NEW", Semantic: InProgress, Created: since.Add(time.Hour)}
	tests := []struct {
		name   string
		entity Entity
		cur    Current
		res    Result
		want   Plan
	}{
		{"echo of our own write: nothing", EntityContact, Current{TypeID: "VIP", SegmentItem: 101}, vip, Plan{}},
		{"type and label", EntityContact, Current{TypeID: "CLIENT"}, vip, Plan{Type: "VIP", Segment: intp(101)}},
		{"only the label", EntityContact, Current{TypeID: "VIP", SegmentItem: 102}, vip, Plan{Segment: intp(101)}},
		{"no type in the segment leaves the type", EntityCompany, Current{TypeID: "CUSTOMER", SegmentItem: 101},
			Result{Key: "regular", Set: Set{Label: true}}, Plan{Segment: intp(102)}},
		{"label off clears the field", EntityContact, Current{TypeID: "VIP", SegmentItem: 101},
			Result{Key: "vip", Set: Set{Type: "VIP"}}, Plan{Segment: intp(0)}},
		{"no segment clears the field", EntityContact, Current{TypeID: "VIP", SegmentItem: 101}, Result{}, Plan{Segment: intp(0)}},
		{"no segment and an empty field: nothing", EntityContact, Current{TypeID: "VIP"}, Result{}, Plan{}},

		{"always moves an open deal", EntityDeal, openDeal, move(ApplyAlways), Plan{Move: &Move{CategoryID: 3, StageID: "C3:NEW"}}},
		{"already in the pipeline: no move, whatever its stage", EntityDeal,
			Current{SegmentItem: 201, CategoryID: 3, StageID: "C3:OFFER", Semantic: InProgress}, move(ApplyAlways), Plan{}},
		{"won deals are never moved", EntityDeal, Current{SegmentItem: 201, CategoryID: 0, StageID: "WON", Semantic: Won}, move(ApplyAlways), Plan{}},
		{"lost deals are never moved", EntityDeal, Current{SegmentItem: 201, CategoryID: 0, StageID: "LOSE", Semantic: Lost}, move(ApplyAlways), Plan{}},
		{"new_only moves a deal created after the rule", EntityDeal, openDeal, move(ApplyNewOnly), Plan{Move: &Move{CategoryID: 3, StageID: "C3:NEW"}}},
		{"new_only leaves an older deal", EntityDeal,
			Current{SegmentItem: 201, StageID: "NEW", Semantic: InProgress, Created: since.Add(-time.Hour)}, move(ApplyNewOnly), Plan{}},
		{"new_only leaves a deal created at the rule's moment", EntityDeal,
			Current{SegmentItem: 201, StageID: "NEW", Semantic: InProgress, Created: since}, move(ApplyNewOnly), Plan{}},
		{"first_stage moves a deal in its first stage", EntityDeal,
			Current{SegmentItem: 201, StageID: "NEW", Semantic: InProgress}, move(ApplyFirstStage), Plan{Move: &Move{CategoryID: 3, StageID: "C3:NEW"}}},
		{"first_stage leaves a deal further on", EntityDeal,
			Current{SegmentItem: 201, StageID: "PREPARATION", Semantic: InProgress}, move(ApplyFirstStage), Plan{}},
		{"first_stage leaves a deal in an unknown pipeline", EntityDeal,
			Current{SegmentItem: 201, CategoryID: 9, StageID: "C9:NEW", Semantic: InProgress}, move(ApplyFirstStage), Plan{}},
		{"move, type and label together", EntityDeal, Current{TypeID: "SALE", StageID: "NEW", Semantic: InProgress},
			Result{Key: "premium", Set: Set{Type: "COMPLEX", Label: true, Pipeline: &Target{CategoryID: 3, StageID: "C3:NEW", Apply: ApplyAlways}}},
			Plan{Type: "COMPLEX", Segment: intp(201), Move: &Move{CategoryID: 3, StageID: "C3:NEW"}}},
		{"contacts never move", EntityContact, Current{SegmentItem: 201}, move(ApplyAlways), Plan{}},
		{"companies never move", EntityCompany, Current{SegmentItem: 201}, move(ApplyAlways), Plan{}},
		{"a company's type", EntityCompany, Current{TypeID: "CUSTOMER", SegmentItem: 101},
			Result{Key: "vip", Set: Set{Type: "PARTNER", Label: true}}, Plan{Type: "PARTNER"}},
		{"a deal's type without a move", EntityDeal, Current{TypeID: "SALE", SegmentItem: 201, CategoryID: 3, StageID: "C3:NEW", Semantic: InProgress},
			Result{Key: "premium", Set: Set{Type: "COMPLEX", Label: true, Pipeline: &Target{CategoryID: 3, StageID: "C3:NEW", Apply: ApplyAlways}}},
			Plan{Type: "COMPLEX"}},
		{"first_stage moves from another pipeline's first stage", EntityDeal,
			Current{SegmentItem: 201, CategoryID: 3, StageID: "C3:NEW", Semantic: InProgress},
			Result{Key: "premium", Set: Set{Label: true, Pipeline: &Target{CategoryID: 0, StageID: "NEW", Apply: ApplyFirstStage}}},
			Plan{Move: &Move{CategoryID: 0, StageID: "NEW"}}},
		{"an unknown apply policy moves nothing", EntityDeal, openDeal, move(Apply("sometimes")), Plan{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NewPlan(tt.entity, tt.cur, tt.res, opts)
			if err != nil {
				t.Fatalf("NewPlan: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("plan (-want +got):\n%s", diff)
			}
			if got.Empty() != cmp.Equal(tt.want, Plan{}) {
				t.Errorf("Empty() = %v for %+v", got.Empty(), got)
			}
		})
	}
}

func TestNewPlanMissingItem(t *testing.T) {
	_, err := NewPlan(EntityContact, Current{}, Result{Key: "gold", Set: Set{Label: true}}, PlanOptions{SegmentItems: map[string]int{"vip": 1}})
	var missing *MissingItemError
	if !errors.As(err, &missing) || missing.Key != "gold" {
		t.Fatalf("error = %v, want MissingItemError for gold", err)
	}
	if got, want := err.Error(), `segment "gold" has no item in the Segment field`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	// An item id of 0 is no item.
	if _, err := NewPlan(EntityContact, Current{}, Result{Key: "gold", Set: Set{Label: true}}, PlanOptions{SegmentItems: map[string]int{"gold": 0}}); !errors.As(err, &missing) {
		t.Errorf("item 0: error = %v, want MissingItemError", err)
	}
	// Without a label the item is not needed.
	if _, err := NewPlan(EntityContact, Current{}, Result{Key: "gold"}, PlanOptions{}); err != nil {
		t.Errorf("unlabelled segment: %v", err)
	}
}

// A record planned, written, re-read and evaluated again plans nothing: the
// echo of the app's write ends there.
func TestPlanEchoEndToEnd(t *testing.T) {
	rules, err := Compile(mustParse(t, designExample))
	if err != nil {
		t.Fatal(err)
	}
	f := NewClientFacts(Env{Now: testNow, Rates: testRates()})
	f.Reset(Client{Entity: EntityContact, TypeID: "CLIENT", Fields: map[string]string{"SOURCE_ID": "WEB"}},
		[]Deal{{Semantic: Won, Amount: rub("150000"), Closed: ago(5)}})
	opts := PlanOptions{SegmentItems: map[string]int{"vip": 11, "sleeping": 12, "regular": 13}}
	cur := Current{TypeID: "CLIENT", SegmentItem: 13}
	plan, err := NewPlan(EntityContact, cur, rules.Evaluate(EntityContact, f), opts)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Plan{Type: "VIP", Segment: intp(11)}, plan); diff != "" {
		t.Fatalf("first plan (-want +got):\n%s", diff)
	}
	// The portal now holds what we wrote.
	cur.TypeID, cur.SegmentItem = plan.Type, *plan.Segment
	plan, err = NewPlan(EntityContact, cur, rules.Evaluate(EntityContact, f), opts)
	if err != nil || !plan.Empty() {
		t.Errorf("echo plan = %+v, %v; want empty", plan, err)
	}
}
