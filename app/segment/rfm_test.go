package segment

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestQuintile(t *testing.T) {
	tests := []struct {
		name          string
		sorted        []float64
		v             float64
		lowerIsBetter bool
		want          int
	}{
		{"single buyer sits in the middle", []float64{7}, 7, false, 3},
		{"all equal share the middle", []float64{4, 4, 4, 4}, 4, false, 3},
		{"five distinct: lowest", []float64{1, 2, 3, 4, 5}, 1, false, 1},
		{"five distinct: second", []float64{1, 2, 3, 4, 5}, 2, false, 2},
		{"five distinct: middle", []float64{1, 2, 3, 4, 5}, 3, false, 3},
		{"five distinct: fourth", []float64{1, 2, 3, 4, 5}, 4, false, 4},
		{"five distinct: highest", []float64{1, 2, 3, 4, 5}, 5, false, 5},
		{"two buyers: low", []float64{1, 9}, 1, false, 2},
		{"two buyers: high", []float64{1, 9}, 9, false, 4},
		{"ten distinct: two per score", []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 2, false, 1},
		{"ten distinct: third is 2", []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 3, false, 2},
		{"ten distinct: top", []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 10, false, 5},
		{"ties at the bottom share a score", []float64{1, 1, 1, 1, 1, 1, 2, 3, 4, 5}, 1, false, 2},
		{"ties at the top share a score", []float64{1, 2, 3, 4, 5, 5, 5, 5, 5, 5}, 5, false, 4},
		{"recency: fewest days is best", []float64{1, 10, 100, 200, 400}, 1, true, 5},
		{"recency: most days is worst", []float64{1, 10, 100, 200, 400}, 400, true, 1},
		{"value not in the table: above all", []float64{1, 2, 3}, 100, false, 5},
		{"value not in the table: below all", []float64{1, 2, 3}, 0, false, 1},
	}
	for _, tt := range tests {
		c := newCuts(tt.sorted, tt.lowerIsBetter)
		if got := c.score(tt.v); got != tt.want {
			t.Errorf("%s: score(%v) over %v = %d, want %d", tt.name, tt.v, tt.sorted, got, tt.want)
		}
		if got := quintile(tt.sorted, tt.v, tt.lowerIsBetter); got != tt.want {
			t.Errorf("%s: the definition scores %v over %v %d, want %d", tt.name, tt.v, tt.sorted, got, tt.want)
		}
	}
}

func TestRFMTableScore(t *testing.T) {
	table := NewRFMTable([]RFMInput{
		{Buyer: true, Recency: 5, Frequency: 10, Monetary: 50000},
		{Buyer: true, Recency: 30, Frequency: 4, Monetary: 20000},
		{Buyer: true, Recency: 90, Frequency: 2, Monetary: 9000},
		{Buyer: true, Recency: 200, Frequency: 1, Monetary: 3000},
		{Buyer: true, Recency: 700, Frequency: 1, Monetary: 100},
		{}, // never bought: not in the quintiles
	})
	if table.Buyers() != 5 {
		t.Errorf("Buyers() = %d, want 5", table.Buyers())
	}
	tests := []struct {
		in   RFMInput
		want RFMScore
	}{
		{RFMInput{Buyer: true, Recency: 5, Frequency: 10, Monetary: 50000}, RFMScore{5, 5, 5}},
		{RFMInput{Buyer: true, Recency: 90, Frequency: 2, Monetary: 9000}, RFMScore{3, 3, 3}},
		// The two one-deal buyers tie on F: both get the middle of ranks 1–2.
		{RFMInput{Buyer: true, Recency: 700, Frequency: 1, Monetary: 100}, RFMScore{1, 1, 1}},
		{RFMInput{Buyer: true, Recency: 200, Frequency: 1, Monetary: 3000}, RFMScore{2, 1, 2}},
		{RFMInput{}, RFMScore{}},
	}
	for _, tt := range tests {
		if got := table.Score(tt.in); got != tt.want {
			t.Errorf("Score(%+v) = %v, want %v", tt.in, got, tt.want)
		}
	}
	if got := (RFMScore{5, 4, 5}).String(); got != "545" {
		t.Errorf("String() = %q", got)
	}
	if got := (RFMScore{}).String(); got != "000" {
		t.Errorf("no purchases String() = %q", got)
	}
	empty := NewRFMTable(nil)
	if got := empty.Score(RFMInput{Buyer: true, Recency: 1, Frequency: 1, Monetary: 1}); got != (RFMScore{}) {
		t.Errorf("score against an empty table = %v, want zeros", got)
	}
}

// rfmFactCases are the facts TestRFMBuilderAndFacts checks, in order.
var rfmFactCases = []struct {
	fact   string
	window int
}{{"rfm", 0}, {"rfm_r", 0}, {"rfm_f", 0}, {"rfm_m", 0}, {"rfm", 365}, {"rfm", 30}}

func TestRFMBuilderAndFacts(t *testing.T) {
	env := Env{Now: testNow, Rates: testRates()}
	clients := []struct {
		c     Client
		deals []Deal
	}{
		{Client{ID: 1, Entity: EntityContact}, []Deal{
			{Semantic: Won, Amount: rub("9000"), Closed: ago(3)},
			{Semantic: Won, Amount: rub("9000"), Closed: ago(20)},
			{Semantic: Won, Amount: rub("9000"), Closed: ago(40)}}},
		{Client{ID: 2, Entity: EntityContact}, []Deal{
			{Semantic: Won, Amount: rub("100"), Closed: ago(600)}}},
		{Client{ID: 3, Entity: EntityContact}, []Deal{
			{Semantic: Won, Amount: rub("500"), Closed: ago(100)},
			{Semantic: Lost, Amount: rub("500"), Closed: ago(10)}}},
		{Client{ID: 4, Entity: EntityContact}, nil},
	}
	b := NewRFMBuilder(env, []int{0, 365})
	for _, c := range clients {
		b.Add(c.c, c.deals)
	}
	env.RFM = b.Build()
	if got := env.RFM.Table(0).Buyers(); got != 3 {
		t.Errorf("all-time buyers = %d, want 3", got)
	}
	if got := env.RFM.Table(365).Buyers(); got != 2 {
		t.Errorf("365-day buyers = %d, want 2", got)
	}
	if env.RFM.Table(30) != nil {
		t.Errorf("a table for a window not asked for")
	}
	want := map[int64][]Value{ // rfm, rfm_r, rfm_f, rfm_m, rfm(365), rfm(30: not built)
		1: {text("555"), number(5), number(5), number(5), text("444"), {}},
		2: {text("121"), number(1), number(2), number(1), text("000"), {}},
		3: {text("323"), number(3), number(2), number(3), text("222"), {}},
		4: {text("000"), number(0), number(0), number(0), text("000"), {}},
	}
	f := NewClientFacts(env)
	for _, c := range clients {
		f.Reset(c.c, c.deals)
		var got []Value
		for _, q := range rfmFactCases {
			got = append(got, factValue(f, q.fact, q.window))
		}
		if diff := cmp.Diff(want[c.c.ID], got); diff != "" {
			t.Errorf("client %d (-want +got):\n%s", c.c.ID, diff)
		}
	}
}

// quintile is the score's definition, written out: how many of sorted are
// worse than v and how many equal it, by two binary searches. The cuts
// must score every value as it does.
func quintile(sorted []float64, v float64, lowerIsBetter bool) int {
	n := len(sorted)
	lo, _ := slices.BinarySearch(sorted, v) // the first value >= v
	hi := lo                                // the first value > v
	for hi < n && sorted[hi] == v {
		hi++
	}
	below, equal := lo, hi-lo
	if lowerIsBetter {
		below = n - hi
	}
	// ⌈5 × (below + equal/2) ÷ n⌉, in integers
	return min(max((5*(2*below+equal)+2*n-1)/(2*n), 1), 5)
}

// The cuts score every value as the definition does: values in the table,
// between its values and beyond them, in columns with and without ties, in
// both directions.
func TestCutsScoreAsTheDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for round := range 2000 {
		n := 1 + rng.IntN(40)
		spread := 1 + rng.IntN(60) // small spreads make ties
		sorted := make([]float64, n)
		for i := range sorted {
			sorted[i] = float64(rng.IntN(spread))
		}
		slices.Sort(sorted)
		for _, lower := range []bool{false, true} {
			c := newCuts(sorted, lower)
			for v := -1.5; v <= float64(spread)+1; v += 0.5 {
				if got, want := c.score(v), quintile(sorted, v, lower); got != want {
					t.Fatalf("round %d: %v, lower is better %v: score(%v) = %d, want %d", round, sorted, lower, v, got, want)
				}
			}
		}
	}
}
