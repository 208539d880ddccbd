package bitrix_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"segmentor/bitrix"
	"segmentor/bitrix/b24sim"
)

// MatchComm tells each value's records, narrowed to one type, whatever
// the share of values that match: asked singly while most match (one call
// a value, ⌈values/50⌉ requests), in groups once few do, every value told
// right either way.
func TestSimMatchComm(t *testing.T) {
	t.Parallel()
	for _, share := range []int{100, 60, 2, 0} {
		t.Run(fmt.Sprintf("%d%%", share), func(t *testing.T) {
			e := newSim(t, b24sim.Options{RatePerSecond: -1, Seed: 13})
			e.sim.Seed(b24sim.GenOptions{Contacts: 50, Companies: 5})
			const n = 3000
			want := map[string][]bitrix.ID{}
			var values []string
			for i := range n {
				v := fmt.Sprintf("p%04d@x.example", i)
				values = append(values, v)
				if share >= 50 && i*100/n < share || share > 0 && share < 50 && i%(100/share) == 0 { // the few spread evenly
					id := 1 + i%50
					if err := e.sim.AddCommunication("contact", id, "EMAIL", v); err != nil {
						t.Fatal(err)
					}
					want[v] = []bitrix.ID{bitrix.ID(id)}
				}
			}
			// A company holding a value is not a contact match.
			_ = e.sim.AddCommunication("company", 2, "EMAIL", values[1])
			p := e.newC(bitrix.UnlimitedProfile()).Portal(e.sim.MemberID())
			before := e.sim.Stats().HTTPRequests
			var last int
			got, err := p.MatchComm(context.Background(), bitrix.CommEmail, "CONTACT", append(values, values[0]), func(done, reqs int) { last = reqs })
			if err != nil {
				t.Fatal(err)
			}
			reqs := e.sim.Stats().HTTPRequests - before
			if reqs != last {
				t.Errorf("progress told %d requests, the portal saw %d", last, reqs)
			}
			if len(got) != len(want) {
				t.Errorf("%d values matched, want %d", len(got), len(want))
			}
			for v, ids := range want {
				if m := got[v]; !slices.Equal(m.Contacts, ids) || m.Companies != nil {
					t.Fatalf("%s = %+v, want contacts %v", v, m, ids)
				}
			}
			bound := (n + 49) / 50
			switch {
			case share >= 60 && reqs > bound:
				t.Errorf("%d%% matching: %d requests, more than ⌈%d/50⌉ = %d", share, reqs, n, bound)
			case share <= 2 && reqs > bound/3:
				// Dorfman's best at 2 %: groups of 8, 0.27 calls a value.
				t.Errorf("%d%% matching: %d requests, want at most a third of %d", share, reqs, bound)
			}
			t.Logf("%d%% matching: %d requests for %d values", share, reqs, n)
		})
	}
}
