package segment

import "slices"

// RFMInput is one client's raw RFM values within a window.
type RFMInput struct {
	Buyer     bool    // won at least one deal in the window
	Recency   float64 // days since the last won deal
	Frequency float64 // won deals
	Monetary  float64 // won amount in the base currency
}

// RFMScore is a client's quintile scores: 1 (worst fifth) to 5 (best
// fifth), 0 for a client that won no deal in the window.
type RFMScore struct {
	R, F, M int
}

// String is the score as admins write it: "545", "000" for no purchases.
// Scores are 0–5, so the code is one of rfmCodes: the rfm fact allocates
// no string per record.
func (s RFMScore) String() string {
	if uint(s.R) <= 5 && uint(s.F) <= 5 && uint(s.M) <= 5 {
		return rfmCodes[s.R][s.F][s.M]
	}
	return string([]byte{byte('0' + s.R), byte('0' + s.F), byte('0' + s.M)})
}

// rfmCodes are the 216 codes of scores 0–5.
var rfmCodes = func() (t [6][6][6]string) {
	for r := range 6 {
		for f := range 6 {
			for m := range 6 {
				t[r][f][m] = string([]byte{byte('0' + r), byte('0' + f), byte('0' + m)})
			}
		}
	}
	return t
}()

// RFMTable holds the sorted values of every buyer in a portal for one
// window, and the cuts they make, so that scoring one client is a few
// comparisons.
//
// Scoring: a value's percentile is (clients below it + half of the clients
// equal to it) ÷ buyers, and the score is that percentile times 5, rounded
// up. Ties therefore share one score, the middle one of the ranks they span;
// five distinct buyers get 1…5, a single buyer (or all buyers equal) gets 3.
// Lower recency is better, so R counts the clients with more days. Clients
// without a won deal are left out of the quintiles and score 0.
type RFMTable struct {
	recency, frequency, monetary []float64
	r, f, m                      cuts
}

// NewRFMTable builds the table from every client's input.
func NewRFMTable(inputs []RFMInput) *RFMTable {
	t := &RFMTable{}
	for _, in := range inputs {
		t.add(in)
	}
	t.sort()
	return t
}

func (t *RFMTable) add(in RFMInput) {
	if !in.Buyer {
		return
	}
	t.recency = append(t.recency, in.Recency)
	t.frequency = append(t.frequency, in.Frequency)
	t.monetary = append(t.monetary, in.Monetary)
}

func (t *RFMTable) sort() {
	slices.Sort(t.recency)
	slices.Sort(t.frequency)
	slices.Sort(t.monetary)
	t.r = newCuts(t.recency, true)
	t.f = newCuts(t.frequency, false)
	t.m = newCuts(t.monetary, false)
}

// Buyers is how many clients the quintiles are over.
func (t *RFMTable) Buyers() int { return len(t.recency) }

// Score scores one client against the table. A buyer not in the table is
// scored where it would stand.
func (t *RFMTable) Score(in RFMInput) RFMScore {
	if !in.Buyer || len(t.recency) == 0 {
		return RFMScore{}
	}
	return RFMScore{R: t.r.score(in.Recency), F: t.f.score(in.Frequency), M: t.m.score(in.Monetary)}
}

// cuts are where a sorted column's scores step up: a value scores 1 plus
// the cuts it passes. A score only grows with the value (or shrinks, when
// lower is better), so four cuts hold the whole scoring of a column, and
// scoring a client takes four comparisons where two binary searches over
// every buyer cost a preview a tenth of its time.
type cuts struct {
	at            [4]float64 // the cut into scores 2, 3, 4 and 5
	strict        [4]bool    // passed only beyond at, not at it
	lowerIsBetter bool
}

// newCuts finds the cuts of sorted, walking its distinct values from the
// worst to the best. A value x with worse values below it and equal ones
// like it scores ⌈5 × (2·worse + equal) ÷ 2n⌉; a value between x and the
// next better one has worse + equal below it and no equal, so scores
// ⌈5 × (worse + equal) ÷ n⌉; each score is kept within 1–5. Beyond the
// best value the score is 5, so every cut is found.
func newCuts(sorted []float64, lowerIsBetter bool) cuts {
	c := cuts{lowerIsBetter: lowerIsBetter}
	n := len(sorted)
	score := func(num, den int) int { return min(max((num+den-1)/den, 1), 5) }
	cur := 1
	step := func(x float64, to int, strict bool) {
		for ; cur < to; cur++ {
			c.at[cur-1], c.strict[cur-1] = x, strict
		}
	}
	at := func(k int) float64 { return sorted[k] } // the k-th value, worst first
	if lowerIsBetter {
		at = func(k int) float64 { return sorted[n-1-k] }
	}
	for worse := 0; worse < n; {
		// The next distinct value and how many equal it.
		x, equal := at(worse), 1
		for worse+equal < n && at(worse+equal) == x {
			equal++
		}
		step(x, score(5*(2*worse+equal), 2*n), false)
		step(x, score(5*(worse+equal), n), true)
		worse += equal
	}
	return c
}

// score is v's score, 1–5, against the column the cuts were made of.
func (c *cuts) score(v float64) int {
	s := 1
	for k := range c.at {
		passed := v > c.at[k]
		if c.lowerIsBetter {
			passed = v < c.at[k]
		}
		if !passed && (c.strict[k] || v != c.at[k]) {
			break
		}
		s++
	}
	return s
}

// RFM is a portal's RFM tables, one per window the rules use (0 = all time).
type RFM struct {
	tables map[int]*RFMTable
}

// Table returns the table for a window, nil if it was not built.
func (r *RFM) Table(window int) *RFMTable {
	if r == nil {
		return nil
	}
	return r.tables[window]
}

// RFMBuilder collects every client of a portal once and builds the RFM
// tables for the windows the rules need (Rules.RFMWindows).
type RFMBuilder struct {
	facts   *ClientFacts
	windows []int
	tables  map[int]*RFMTable
}

// NewRFMBuilder starts tables for windows at env's time and rates.
func NewRFMBuilder(env Env, windows []int) *RFMBuilder {
	env.RFM = nil
	b := &RFMBuilder{facts: NewClientFacts(env), windows: windows, tables: map[int]*RFMTable{}}
	for _, w := range windows {
		b.tables[w] = &RFMTable{}
	}
	return b
}

// Add counts one client with its deals.
func (b *RFMBuilder) Add(c Client, deals []Deal) {
	b.facts.Reset(c, deals)
	for _, w := range b.windows {
		b.tables[w].add(b.facts.rfmInput(w))
	}
}

// Build sorts the tables; the builder must not be used afterwards.
func (b *RFMBuilder) Build() *RFM {
	for _, t := range b.tables {
		t.sort()
	}
	return &RFM{tables: b.tables}
}
