package segment

import (
	"sync"
	"testing"
)

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

// Every id, a dry run's negative stand-ins included, has one pointer
// holding it, however many goroutines ask at once.
func TestItemRefsAreSharedAndRight(t *testing.T) {
	const n = 3000
	got := make([][]*int, 4)
	var wg sync.WaitGroup
	for g := range got {
		got[g] = make([]*int, n)
		wg.Go(func() {
			for i := range n {
				got[g][i] = itemRef(i - n/2)
			}
		})
	}
	wg.Wait()
	for i := range n {
		if *got[0][i] != i-n/2 {
			t.Fatalf("itemRef(%d) holds %d", i-n/2, *got[0][i])
		}
		for g := range got {
			if got[g][i] != got[0][i] {
				t.Fatalf("itemRef(%d) gave goroutines different pointers", i-n/2)
			}
		}
	}
}
