package segment

import "testing"

// Planning a label allocates nothing: every plan of one Segment item shares
// its pointer (a dry run plans every record of the base).
func TestPlanningALabelAllocatesNothing(t *testing.T) {
	opts := PlanOptions{SegmentItems: map[string]int{"vip": 4711}}
	res := Result{Key: "vip", Set: Set{Label: true}}
	first, err := NewPlan(EntityContact, Current{}, res, opts)
	if err != nil || first.Segment == nil || *first.Segment != 4711 {
		t.Fatalf("plan %+v, %v; want the item 4711", first, err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		p, _ := NewPlan(EntityContact, Current{}, res, opts)
		if p.Segment != first.Segment {
			t.Fatal("a second plan of the item has a pointer of its own")
		}
	})
	if allocs != 0 {
		t.Errorf("NewPlan allocates %.0f times a label; want 0", allocs)
	}
}
