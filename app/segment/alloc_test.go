package segment

import (
	"encoding/json"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

// allocConfig reads every kind of fact: money, counts and dates over
// windows, growth, RFM, product groups, fields (the id and the deal
// fields a deal formats), location, activities, a static list, the
// registry and client_segment.
const allocConfig = `{"schemes": [
 {"entity": "contact", "segments": [
   {"key": "vip", "name": "VIP", "when": {"all": [
      {"fact": "won_amount", "window_days": 365, "op": ">=", "value": 100000},
      {"any": [{"fact": "field:SOURCE_ID", "op": "in", "value": ["WEB", "PARTNER"]},
               {"fact": "avg_won_amount", "window_days": 365, "op": ">=", "value": 20000}]}]}},
   {"key": "champions", "name": "Champions", "when": {"fact": "rfm", "op": "in", "value": ["555", "554", "545", "455"]}},
   {"key": "growing", "name": "Growing", "when": {"all": [{"fact": "growth", "window_days": 180, "op": ">", "value": 1.5},
      {"fact": "product_groups", "window_days": 365, "op": ">=", "value": 2}]}},
   {"key": "bought_tools", "name": "Tools", "when": {"fact": "product_groups", "op": "contains", "value": 7}},
   {"key": "local", "name": "Local", "when": {"all": [{"fact": "country", "op": "=", "value": "PL"},
      {"fact": "city", "op": "in", "value": ["Kraków", "Gdańsk"]}]}},
   {"key": "talkative", "name": "Talkative", "when": {"all": [{"fact": "calls", "window_days": 90, "op": ">=", "value": 3},
      {"fact": "days_since_last_activity", "op": "<", "value": 30}]}},
   {"key": "listed", "name": "Listed", "when": {"fact": "static_list", "op": "in", "value": ["fair"]}},
   {"key": "odd_id", "name": "Odd id", "when": {"fact": "field:ID", "op": "in", "value": ["17", "4711", "99999"]}},
   {"key": "at_risk", "name": "At risk", "when": {"all": [{"fact": "rfm_r", "op": "<=", "value": 2}, {"fact": "rfm_m", "op": ">=", "value": 4}]}},
   {"key": "sleeping", "name": "Sleeping", "when": {"all": [{"fact": "days_since_last_won", "op": ">", "value": 180},
      {"not": {"fact": "open_deals", "op": ">", "value": 0}}, {"fact": "lost_count", "op": "<", "value": 3},
      {"fact": "days_since_first_won", "op": ">", "value": 365}]}}],
  "otherwise": {"key": "regular", "name": "Regular"}},
 {"entity": "company", "segments": [
   {"key": "retail", "name": "Retail", "when": {"all": [{"fact": "registry:pkd_section", "op": "=", "value": "G"},
      {"fact": "registry:age_years", "op": ">=", "value": 5}, {"fact": "registry:region", "op": "=", "value": "mazowieckie"}]}},
   {"key": "big", "name": "Big", "when": {"any": [{"fact": "won_count", "op": ">=", "value": 8}, {"fact": "rfm_f", "op": "=", "value": 5},
      {"fact": "field:COMPANY_TYPE", "op": "=", "value": "PARTNER"}]}}],
  "otherwise": {"key": "small", "name": "Small"}},
 {"entity": "deal", "segments": [
   {"key": "premium", "name": "Premium", "when": {"fact": "client_segment", "op": "in", "value": ["vip", "big"]}},
   {"key": "large", "name": "Large", "when": {"all": [{"fact": "field:OPPORTUNITY", "op": ">", "value": 50000},
      {"fact": "field:CATEGORY_ID", "op": "in", "value": [0, 2]}, {"fact": "field:STAGE_ID", "op": "in", "value": ["NEW", "C2:NEW"]}]}},
   {"key": "won_now", "name": "Won", "when": {"all": [{"fact": "field:STAGE_SEMANTIC_ID", "op": "=", "value": "S"},
      {"fact": "field:COMPANY_ID", "op": "!=", "value": 0}, {"fact": "field:ID", "op": ">", "value": 100}]}},
   {"key": "called", "name": "Called", "when": {"fact": "calls", "window_days": 30, "op": ">", "value": 0}}]}]}`

// allocPortal is a seeded portal for allocConfig: clients with deals,
// activities, locations and registry facts, and deals of their own.
type allocPortal struct {
	contacts, companies []benchClient
	deals               []Deal
	lists               ListMembers
}

func newAllocPortal(n int) allocPortal {
	rng := rand.New(rand.NewPCG(3, 4))
	sources := []string{"WEB", "PARTNER", "CALL", "EMAIL"}
	currencies := []string{"RUB", "RUB", "USD", "EUR"} // EUR has no rate: money facts have no value
	semantics := []Semantic{Won, Won, Lost, InProgress}
	places := []Location{{}, {Country: "PL", City: "Kraków"}, {Country: "PL", City: "Gdansk", Region: "pomorskie"}, {Country: "DE", City: "Berlin"}}
	stages := []string{"NEW", "C2:NEW", "WON", "LOSE"}
	activities := func() []Activity {
		out := make([]Activity, rng.IntN(6))
		for i := range out {
			out[i] = Activity{At: testNow.Add(-days(rng.IntN(200))).Unix(), Type: ActivityType(1 + rng.IntN(4)),
				Direction: Direction(rng.IntN(3)), Open: rng.IntN(4) == 0}
		}
		return out
	}
	var p allocPortal
	client := func(i int, e Entity) benchClient {
		c := Client{ID: int64(i + 1), Entity: e, TypeID: []string{"CLIENT", "PARTNER"}[rng.IntN(2)],
			Fields:     map[string]string{"SOURCE_ID": sources[rng.IntN(len(sources))]},
			Activities: activities(), Location: places[rng.IntN(len(places))]}
		if e == EntityCompany && rng.IntN(2) == 0 {
			c.Registry = &RegistryFacts{PKD: "47.11.Z", PKDSection: []string{"G", "C"}[rng.IntN(2)], Region: "mazowieckie",
				Registered: testNow.AddDate(-rng.IntN(20), 0, 0)}
		}
		deals := make([]Deal, rng.IntN(9))
		for j := range deals {
			deals[j] = Deal{
				ID:              int64(i*10 + j),
				CompanyID:       int64(rng.IntN(3)),
				CategoryID:      rng.IntN(3),
				StageID:         stages[rng.IntN(len(stages))],
				Semantic:        semantics[rng.IntN(len(semantics))],
				Amount:          decimal.New(int64(rng.IntN(8_000_000)+500), -2),
				Currency:        currencies[rng.IntN(len(currencies))],
				Created:         ago(rng.IntN(800) + 10),
				Closed:          ago(rng.IntN(800)),
				ProductSections: []int{rng.IntN(20), rng.IntN(20)},
				Activities:      activities(),
			}
			if rng.IntN(5) == 0 {
				deals[j].Closed = time.Time{} // falls back to Created
			}
			if e == EntityContact {
				deals[j].ContactIDs = []int64{c.ID}
			}
			if j%2 == 0 {
				deals[j].Prepare() // as the engine's base holds them; the others convert on each read
			}
		}
		p.deals = append(p.deals, deals...)
		return benchClient{c, deals}
	}
	for i := range n {
		p.contacts = append(p.contacts, client(i, EntityContact))
	}
	for i := range n / 4 {
		p.companies = append(p.companies, client(i, EntityCompany))
	}
	fair := ListSet{Entity: EntityContact}
	for id := int64(1); id <= int64(n); id += 7 {
		fair.IDs = append(fair.IDs, id)
	}
	p.lists = ListMembers{"fair": fair}
	return p
}

// allocEvaluator is allocConfig's rules with facts for each record type,
// ready to classify allocPortal's records.
type allocEvaluator struct {
	rules     *Rules
	contacts  *ClientFacts
	companies *ClientFacts
	deals     *DealFacts
	keys      map[int64]string // contact segments, for client_segment
}

func newAllocEvaluator(t testing.TB, p allocPortal) *allocEvaluator {
	rules, err := Compile(mustParse(t, allocConfig))
	if err != nil {
		t.Fatal(err)
	}
	env := Env{Now: testNow, Rates: testRates(), Lists: p.lists}
	envFor := func(list []benchClient) Env {
		rb := NewRFMBuilder(env, rules.RFMWindows())
		for _, c := range list {
			rb.Add(c.c, c.deals)
		}
		e := env
		e.RFM = rb.Build()
		return e
	}
	ev := &allocEvaluator{rules: rules, contacts: NewClientFacts(envFor(p.contacts)), companies: NewClientFacts(envFor(p.companies)),
		keys: map[int64]string{}}
	ev.deals = NewDealFacts(func(e Entity, id int64) string { return ev.keys[id] }, testNow)
	return ev
}

// classify classifies every record of p without an explanation; seen
// counts the segments they fall in, when set.
func (ev *allocEvaluator) classify(p allocPortal, seen map[string]int) {
	for i := range p.contacts {
		ev.contacts.Reset(p.contacts[i].c, p.contacts[i].deals)
		res := ev.rules.Match(EntityContact, ev.contacts)
		if seen != nil {
			seen[res.Key]++
			ev.keys[p.contacts[i].c.ID] = res.Key
		}
	}
	for i := range p.companies {
		ev.companies.Reset(p.companies[i].c, p.companies[i].deals)
		res := ev.rules.Match(EntityCompany, ev.companies)
		if seen != nil {
			seen[res.Key]++
		}
	}
	for i := range p.deals {
		ev.deals.Reset(&p.deals[i])
		res := ev.rules.Match(EntityDeal, ev.deals)
		if seen != nil {
			seen["deal:"+res.Key]++
		}
	}
}

// TestClassifyAllocatesNothing: classifying a record (Match, the path a
// preview, a dry run and a recompute's verdict take) allocates nothing,
// whatever facts the rules read. One run over the whole portal must
// allocate nothing at all, so this is 0 per record, not a rounded mean.
func TestClassifyAllocatesNothing(t *testing.T) {
	p := newAllocPortal(2000)
	ev := newAllocEvaluator(t, p)
	seen := map[string]int{}
	ev.classify(p, seen) // also warms the facts' buffers
	for _, key := range []string{"vip", "champions", "growing", "bought_tools", "local", "talkative", "listed", "at_risk", "sleeping", "regular",
		"retail", "big", "small", "deal:premium", "deal:large", "deal:won_now", "deal:called", "deal:"} {
		if seen[key] == 0 {
			t.Errorf("no record is %q (%v): the test would not exercise its facts", key, seen)
		}
	}
	if allocs := testing.AllocsPerRun(1, func() { ev.classify(p, nil) }); allocs != 0 {
		t.Errorf("classifying %d records allocated %v times, want 0", len(p.contacts)+len(p.companies)+len(p.deals), allocs)
	}
}

// TestMatchIsEvaluate: the allocation-free path classifies exactly as the
// explaining one, and the explanation keeps no text the facts format in
// their scratch buffer (it would change under it when the facts format
// the next record's).
func TestMatchIsEvaluate(t *testing.T) {
	p := newAllocPortal(600)
	ev := newAllocEvaluator(t, p)
	ev.classify(p, map[string]int{})
	check := func(e Entity, f Facts, what string, next func()) {
		t.Helper()
		m, x := ev.rules.Match(e, f), ev.rules.Evaluate(e, f)
		if m.Key != x.Key || m.Otherwise != x.Otherwise {
			t.Fatalf("%s: Match %q, Evaluate %q", what, m.Key, x.Key)
		}
		before, _ := json.Marshal(x.Explanation)
		next()
		if after, _ := json.Marshal(x.Explanation); string(after) != string(before) {
			t.Fatalf("%s: the explanation changed when the facts moved on:\n%s\n%s", what, before, after)
		}
	}
	for i := range p.contacts {
		ev.contacts.Reset(p.contacts[i].c, p.contacts[i].deals)
		check(EntityContact, ev.contacts, "contact", func() {
			ev.contacts.Reset(p.contacts[(i+1)%len(p.contacts)].c, nil)
			ev.contacts.value(&leaf{fact: factField, field: "ID"})
		})
	}
	for i := range p.companies {
		ev.companies.Reset(p.companies[i].c, p.companies[i].deals)
		check(EntityCompany, ev.companies, "company", func() {})
	}
	for i := range p.deals {
		ev.deals.Reset(&p.deals[i])
		check(EntityDeal, ev.deals, "deal", func() {
			ev.deals.Reset(&p.deals[(i+1)%len(p.deals)])
			ev.deals.value(&leaf{fact: factField, field: "ID"})
			ev.deals.value(&leaf{fact: factField, field: "OPPORTUNITY"})
		})
	}
}

// TestAppendDecimal: a deal's amount as field:OPPORTUNITY reads it is
// what decimal's String writes, for amounts it formats in place and for
// those it leaves to String.
func TestAppendDecimal(t *testing.T) {
	cases := []string{"0", "1", "-1", "100000", "12345.67", "0.5", "-0.05", "1.50", "1.000", "0.000", "-12.300",
		"999999999999999999", "-999999999999999999", "0.000000000000000001", "123456789012345678.9",
		"1234567890123456789", "1e3", "1.5e2", "12e-3", "1e-20", "-0"}
	rng := rand.New(rand.NewPCG(5, 6))
	for range 2000 {
		d := decimal.New(rng.Int64N(2_000_000_000_000)-1_000_000_000_000, -int32(rng.IntN(20)))
		cases = append(cases, d.String())
		cases = append(cases, decimal.New(rng.Int64N(1000), int32(rng.IntN(5))).String())
	}
	var s scratch
	for _, c := range cases {
		d := decimal.RequireFromString(c)
		if got, want := s.decimal(d).Text, d.String(); got != want {
			t.Errorf("%s: %q, want %q", c, got, want)
		}
		n := rng.Int64()
		if got, want := s.int(n).Text, decimal.NewFromInt(n).String(); got != want {
			t.Errorf("%d: %q", n, got)
		}
	}
}

// BenchmarkMatch classifies allocPortal's records without an explanation,
// as a preview does, and reports the time and allocations per record.
func BenchmarkMatch(b *testing.B) {
	p := newAllocPortal(benchClients / 4)
	ev := newAllocEvaluator(b, p)
	ev.classify(p, map[string]int{})
	records := len(p.contacts) + len(p.companies) + len(p.deals)
	b.Logf("%d contacts, %d companies, %d deals", len(p.contacts), len(p.companies), len(p.deals))
	reportPerRecord(b, records, func() { ev.classify(p, nil) })
}

// TestPreparedDealsEvaluateAlike: deals converted once (Prepare, as the
// engine's base holds them) give every fact the value they give unprepared.
func TestPreparedDealsEvaluateAlike(t *testing.T) {
	p := newAllocPortal(400)
	ev := newAllocEvaluator(t, p)
	for _, list := range [][]benchClient{p.contacts, p.companies} {
		for _, c := range list {
			f := ev.contacts
			if c.c.Entity == EntityCompany {
				f = ev.companies
			}
			plain, prepared := slices.Clone(c.deals), slices.Clone(c.deals)
			for i := range plain {
				plain[i].prepared = false
				prepared[i].Prepare()
			}
			f.Reset(c.c, plain)
			want, _ := json.Marshal(ev.rules.Evaluate(c.c.Entity, f))
			f.Reset(c.c, prepared)
			if got, _ := json.Marshal(ev.rules.Evaluate(c.c.Entity, f)); string(got) != string(want) {
				t.Fatalf("%s %d: prepared deals give\n%s\nnot\n%s", c.c.Entity, c.c.ID, got, want)
			}
		}
	}
}

// A client evaluated from briefs converted once (Briefs, ResetBriefed: a
// preview's base) lands where it lands from its deals, with the same
// explanation; and facts given briefs never write them, though the same
// facts then brief other clients' deals themselves.
func TestBriefedIsReset(t *testing.T) {
	p := newAllocPortal(600)
	ev := newAllocEvaluator(t, p)
	ev.classify(p, map[string]int{})
	for _, c := range []struct {
		e    Entity
		list []benchClient
		f    *ClientFacts
	}{{EntityContact, p.contacts, ev.contacts}, {EntityCompany, p.companies, ev.companies}} {
		briefs := make([]DealBriefs, len(c.list))
		for i, cl := range c.list {
			briefs[i] = c.f.Briefs(cl.deals)
		}
		kept := make([][]dealBrief, len(briefs))
		for i, b := range briefs {
			kept[i] = slices.Clone(b.list)
		}
		for i, cl := range c.list {
			c.f.Reset(cl.c, cl.deals)
			want := ev.rules.Evaluate(c.e, c.f)
			c.f.ResetBriefed(cl.c, cl.deals, briefs[i])
			got := ev.rules.Evaluate(c.e, c.f)
			w, _ := json.Marshal(want)
			g, _ := json.Marshal(got)
			if string(w) != string(g) {
				t.Fatalf("%s %d: from its deals %s, from its briefs %s", c.e, cl.c.ID, w, g)
			}
			// The next client's deals, briefed by the facts themselves.
			next := c.list[(i+1)%len(c.list)]
			c.f.Reset(next.c, next.deals)
			ev.rules.Match(c.e, c.f)
		}
		for i, b := range briefs {
			if !slices.Equal(b.list, kept[i]) {
				t.Fatalf("%s %d: its briefs changed under the facts that were given them", c.e, c.list[i].c.ID)
			}
		}
	}
}
