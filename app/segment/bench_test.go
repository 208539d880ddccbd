package segment

import (
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/shopspring/decimal"
)

const benchClients = 100_000

// benchConfig uses most facts: windows, growth, RFM, groups and fields.
const benchConfig = `{"schemes": [{"entity": "contact", "segments": [
  {"key": "vip", "name": "VIP", "when": {"all": [
     {"fact": "won_amount", "window_days": 365, "op": ">=", "value": 100000},
     {"any": [{"fact": "field:SOURCE_ID", "op": "in", "value": ["WEB", "PARTNER"]},
              {"fact": "won_count", "window_days": 365, "op": ">=", "value": 5}]}]},
   "set": {"type": "VIP", "label": true}},
  {"key": "champions", "name": "Champions", "when": {"fact": "rfm", "op": "in", "value": ["555", "554", "545", "455"]}, "set": {"label": true}},
  {"key": "growing", "name": "Growing", "when": {"all": [{"fact": "growth", "window_days": 180, "op": ">", "value": 1.5},
     {"fact": "product_groups", "window_days": 365, "op": ">=", "value": 2}]}, "set": {"label": true}},
  {"key": "at_risk", "name": "At risk", "when": {"all": [{"fact": "rfm_r", "op": "<=", "value": 2}, {"fact": "rfm_m", "op": ">=", "value": 4}]}, "set": {"label": true}},
  {"key": "sleeping", "name": "Sleeping", "when": {"all": [{"fact": "days_since_last_won", "op": ">", "value": 180},
     {"not": {"fact": "open_deals", "op": ">", "value": 0}}]}, "set": {"label": true}}],
 "otherwise": {"key": "regular", "name": "Regular", "set": {"label": true}}}]}`

type benchClient struct {
	c     Client
	deals []Deal
}

// benchPortal is a seeded portal of 100,000 contacts with 0–8 deals each.
func benchPortal() []benchClient {
	rng := rand.New(rand.NewPCG(1, 2))
	sources := []string{"WEB", "PARTNER", "CALL", "EMAIL"}
	currencies := []string{"RUB", "RUB", "RUB", "USD"}
	semantics := []Semantic{Won, Won, Lost, InProgress}
	out := make([]benchClient, benchClients)
	for i := range out {
		c := Client{ID: int64(i + 1), Entity: EntityContact, TypeID: "CLIENT",
			Fields: map[string]string{"SOURCE_ID": sources[rng.IntN(len(sources))]}}
		deals := make([]Deal, rng.IntN(9))
		for j := range deals {
			deals[j] = Deal{
				ID:              int64(i*10 + j),
				Semantic:        semantics[rng.IntN(len(semantics))],
				Amount:          decimal.NewFromInt(int64(rng.IntN(80_000) + 500)),
				Currency:        currencies[rng.IntN(len(currencies))],
				Created:         ago(rng.IntN(800) + 10),
				Closed:          ago(rng.IntN(800)),
				ProductSections: []int{rng.IntN(20), rng.IntN(20)},
			}
		}
		out[i] = benchClient{c, deals}
	}
	return out
}

// BenchmarkEvaluate classifies a 100,000-contact portal per iteration:
// "why" with the explanation (Evaluate, what a record's page and an
// export show), "match" without (Match, what a preview, a dry run and a
// recompute's verdict take). Each reports ns, bytes and allocations per
// evaluation, and evals/s.
func BenchmarkEvaluate(b *testing.B) {
	portal := benchPortal()
	rules, err := Compile(mustParse(b, benchConfig))
	if err != nil {
		b.Fatal(err)
	}
	env := Env{Now: testNow, Rates: testRates()}
	rb := NewRFMBuilder(env, rules.RFMWindows())
	for _, p := range portal {
		rb.Add(p.c, p.deals)
	}
	env.RFM = rb.Build()
	for _, mode := range []string{"why", "match"} {
		b.Run(mode, func(b *testing.B) {
			f := NewClientFacts(env)
			counts := map[string]int{}
			classify := rules.Evaluate
			if mode == "match" {
				classify = rules.Match
			}
			reportPerRecord(b, benchClients, func() {
				for i := range portal {
					f.Reset(portal[i].c, portal[i].deals)
					res := classify(EntityContact, f)
					counts[res.Key]++
				}
			})
			if len(counts) < 4 {
				b.Errorf("the portal hits only %v; the benchmark would not exercise the rules", counts)
			}
		})
	}
}

// reportPerRecord runs pass, which evaluates records records, per
// iteration, and reports per evaluation: ns, allocations and bytes, and
// evaluations per second.
func reportPerRecord(b *testing.B, records int, pass func()) {
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for b.Loop() {
		pass()
	}
	runtime.ReadMemStats(&after)
	evals := float64(b.N) * float64(records)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/evals, "ns/eval")
	b.ReportMetric(evals/b.Elapsed().Seconds(), "evals/s")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/evals, "allocs/eval")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/evals, "B/eval")
	b.ReportMetric(0, "ns/op") // an op is a whole portal; the figures are per evaluation
}

// BenchmarkRFMBuild builds the all-time RFM table of 100,000 contacts.
func BenchmarkRFMBuild(b *testing.B) {
	portal := benchPortal()
	env := Env{Now: testNow, Rates: testRates()}
	b.ReportAllocs()
	for b.Loop() {
		rb := NewRFMBuilder(env, []int{0})
		for _, p := range portal {
			rb.Add(p.c, p.deals)
		}
		rb.Build()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/(float64(b.N)*benchClients), "ns/client")
}
