package segment

import (
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/shopspring/decimal"
)

// Semantic is a deal stage's meaning in Bitrix24 (STAGE_SEMANTIC_ID).
type Semantic byte

// Stage semantics.
const (
	InProgress Semantic = 'P'
	Won        Semantic = 'S'
	Lost       Semantic = 'F'
)

// Deal is the mirror row of a deal: what its facts and rules need.
type Deal struct {
	ID              int64
	CompanyID       int64 // 0 = none
	ContactIDs      []int64
	CategoryID      int    // pipeline; 0 = the default one
	StageID         string // "NEW", "C3:WON", …
	Semantic        Semantic
	Amount          decimal.Decimal // OPPORTUNITY, in Currency
	Currency        string
	Created         time.Time
	Closed          time.Time // when it was won or lost; zero falls back to Created
	TypeID          string
	ProductSections []int // catalog sections of its product rows
	Fields          map[string]string
	Activities      []Activity // on its timeline (engagement.go)
	amount          float64    // Amount as the money facts read it, when prepared (Prepare)
	prepared        bool
}

// Client is the mirror row of a contact or company.
type Client struct {
	ID     int64
	Entity Entity // EntityContact or EntityCompany
	TypeID string // TYPE_ID of a contact, COMPANY_TYPE of a company
	Fields map[string]string
	// Activities are those on its own timeline; its deals' count too
	// (engagement.go).
	Activities []Activity
	Location   Location // where it is (location.go)
	// Registry is what the company registry says of a company; nil when
	// unknown, and for contacts (registry.go).
	Registry *RegistryFacts
}

// Rates converts deal amounts to the portal's base currency, as
// crm.currency.list gives them: PerUnit[cur] is how much of Base one unit of
// cur is worth (AMOUNT / AMOUNT_CNT).
type Rates struct {
	Base    string
	PerUnit map[string]decimal.Decimal
}

// ToBase converts amount in currency to the base currency; ok is false when
// the currency has no rate. An empty currency is the base currency.
func (r Rates) ToBase(amount decimal.Decimal, currency string) (decimal.Decimal, bool) {
	if currency == "" || currency == r.Base {
		return amount, true
	}
	rate, ok := r.PerUnit[currency]
	if !ok {
		return decimal.Decimal{}, false
	}
	return amount.Mul(rate), true
}

// Kind is the kind of a fact's value.
type Kind uint8

// Value kinds.
const (
	KindNone   Kind = iota // no value: no won deal, an unset field, no rate
	KindNumber             // Num
	KindText               // Text
	KindGroups             // Groups: sorted distinct catalog section ids
)

// Value is what a fact evaluated to for one record.
type Value struct {
	Kind   Kind
	Num    float64
	Text   string
	Groups []int
}

func number(f float64) Value { return Value{Kind: KindNumber, Num: f} }
func text(s string) Value    { return Value{Kind: KindText, Text: s} }

// Env is what facts need beyond the record: the time, money rates and the
// portal's RFM quintiles.
type Env struct {
	Now   time.Time
	Rates Rates
	RFM   *RFM // from an RFMBuilder; nil when the rules use no rfm fact
	// Lists holds the members of the static lists the rules name (lists.go).
	Lists ListMembers
}

// Facts is a record's facts, computed on demand while rules are evaluated:
// *ClientFacts for contacts and companies, *DealFacts for deals.
type Facts interface {
	value(l *leaf) Value
}

// ClientFacts computes a contact's or company's facts over its deals, only
// those the rules ask for, each window once. Reuse one per goroutine with
// Reset; it is not safe for concurrent use.
type ClientFacts struct {
	env    Env
	rates  map[string]float64 // env.Rates as floats, converted once
	client Client
	deals  []Deal
	aggs   []windowAgg // cache of the windows computed for this client
	// briefs are the client's deals as the windows read them, taken once
	// per client (briefed): a rule with three windows converts each amount
	// once, and scans a compact slice rather than the deals.
	briefs  []dealBrief
	briefed bool
	buf     []dealBrief   // briefs' own storage; given briefs (ResetBriefed) are not written
	recent  [4]recentRate // rate's answers, round robin from next
	next    int
	scratch scratch // text a fact formats (an id), valid until the next fact
}

// NewClientFacts returns empty facts for env; call Reset before use.
func NewClientFacts(env Env) *ClientFacts {
	rates := make(map[string]float64, len(env.Rates.PerUnit)+2)
	for cur, r := range env.Rates.PerUnit {
		rates[cur] = r.InexactFloat64()
	}
	rates[""], rates[env.Rates.Base] = 1, 1
	return &ClientFacts{env: env, rates: rates}
}

// Reset points f at another client and its deals, dropping cached results.
func (f *ClientFacts) Reset(c Client, deals []Deal) {
	f.client, f.deals = c, deals
	f.aggs = f.aggs[:0]
	f.briefed = false
}

// DealBriefs are a client's deals as the money and date facts read them,
// converted once (Briefs) for a base that evaluates the same client many
// times: a preview, a dry run.
type DealBriefs struct{ list []dealBrief }

// Briefs converts deals at f's rates, into storage of their own.
func (f *ClientFacts) Briefs(deals []Deal) DealBriefs {
	f.Reset(Client{}, deals)
	out := DealBriefs{list: slices.Clone(f.brief())}
	f.Reset(Client{}, nil)
	return out
}

// ResetBriefed is Reset with the deals' briefs made by Briefs from facts
// of the same rates; f reads them and never writes them.
func (f *ClientFacts) ResetBriefed(c Client, deals []Deal, b DealBriefs) {
	f.Reset(c, deals)
	if len(b.list) == len(deals) {
		f.briefs, f.briefed = b.list, true
	}
}

// windowAgg is one pass over a client's deals within a window.
type windowAgg struct {
	window, offset int     // days; window 0 = all time; offset shifts it back (growth's previous window)
	wonSum         float64 // base currency; money facts only compare, so a float is enough
	moneyOK        bool    // every won deal's currency had a rate
	won, lost      int
	open           int   // all time, only in the all-time agg
	firstWon       int64 // unix nanoseconds (nanos); set when won > 0
	lastWon        int64
	groups         []int
	groupsDone     bool // groups are collected: only product_groups reads them (productGroups)
	rfm            RFMScore
	rfmDone        bool // rfm is computed: rfm_r, rfm_f, rfm_m and rfm share it
}

// dealBrief is what a window reads of one deal.
type dealBrief struct {
	at     int64   // when it was won or lost (Created when Closed is zero), in nanos: compared many times, as a number
	amount float64 // a won deal's amount in the base currency (amountFloat × rate)
	rated  bool    // a won deal's currency has a rate
	sem    Semantic
}

// brief converts the client's deals for the windows, once per client:
// each amount to the base currency, each close date chosen.
func (f *ClientFacts) brief() []dealBrief {
	if f.briefed {
		return f.briefs
	}
	f.buf = slices.Grow(f.buf[:0], len(f.deals))[:len(f.deals)]
	f.briefs = f.buf
	for i := range f.deals {
		d := &f.deals[i]
		at := d.Closed
		if at.IsZero() {
			at = d.Created
		}
		b := dealBrief{at: nanos(at), sem: d.Semantic}
		if d.Semantic == Won {
			var rate float64
			if rate, b.rated = f.rate(d.Currency); b.rated {
				b.amount = d.money() * rate
			}
		}
		f.briefs[i] = b
	}
	f.briefed = true
	return f.briefs
}

// rate is f.rates[cur] through its last few answers: deals use a few of
// the portal's currencies, and comparing a short string (by address
// first: the engine's base keeps one copy of each code) costs less than
// hashing it for every won deal.
func (f *ClientFacts) rate(cur string) (float64, bool) {
	for i := range f.recent {
		if r := &f.recent[i]; r.known && r.cur == cur {
			return r.rate, r.ok
		}
	}
	rate, ok := f.rates[cur]
	f.recent[f.next] = recentRate{cur: cur, rate: rate, ok: ok, known: true}
	f.next = (f.next + 1) % len(f.recent)
	return rate, ok
}

type recentRate struct {
	cur       string
	rate      float64
	ok, known bool
}

// span is the (from, to] a rolling window covers, in nanos; zeros for
// all time (window 0), which compares no dates.
func (f *ClientFacts) span(window, offset int) (from, to int64) {
	if window > 0 {
		t := f.env.Now.Add(-days(offset))
		from, to = nanos(t.Add(-days(window))), nanos(t)
	}
	return from, to
}

// Times beyond these have no nanos of their own (UnixNano's range, the
// years 1678–2261); nanos holds them at its ends, where they still sort
// before or after every window and where daysSince, whose durations
// saturate, sees them as far as the times themselves.
var minNanos, maxNanos = time.Unix(0, math.MinInt64), time.Unix(0, math.MaxInt64)

// nanos is t in unix nanoseconds, held at the range's ends.
func nanos(t time.Time) int64 {
	switch {
	case t.Before(minNanos):
		return math.MinInt64
	case t.After(maxNanos):
		return math.MaxInt64
	}
	return t.UnixNano()
}

func (f *ClientFacts) agg(window, offset int) *windowAgg {
	for i := range f.aggs {
		if f.aggs[i].window == window && f.aggs[i].offset == offset {
			return &f.aggs[i]
		}
	}
	if len(f.aggs) < cap(f.aggs) {
		f.aggs = f.aggs[:len(f.aggs)+1]
	} else {
		f.aggs = append(f.aggs, windowAgg{})
	}
	a := &f.aggs[len(f.aggs)-1]
	groups := a.groups[:0]
	*a = windowAgg{window: window, offset: offset, moneyOK: true, groups: groups}
	from, to := f.span(window, offset)
	briefs := f.brief()
	for i := range briefs {
		d := &briefs[i]
		if d.sem != Won && d.sem != Lost {
			if window == 0 {
				a.open++
			}
			continue
		}
		at := d.at
		// A rolling window is (from, to]: it ends now and holds exactly window days.
		if window > 0 && (at <= from || at > to) {
			continue
		}
		if d.sem == Lost {
			a.lost++
			continue
		}
		if a.won == 0 || at < a.firstWon {
			a.firstWon = at
		}
		if a.won == 0 || at > a.lastWon {
			a.lastWon = at
		}
		a.won++
		if d.rated {
			a.wonSum += d.amount
		} else {
			a.moneyOK = false
		}
	}
	return a
}

// productGroups are the sorted distinct sections of the deals won in the
// window, collected only when a rule asks.
func (f *ClientFacts) productGroups(window int) []int {
	a := f.agg(window, 0)
	if a.groupsDone {
		return a.groups
	}
	from, to := f.span(window, 0)
	briefs := f.brief()
	for i := range briefs {
		if at := briefs[i].at; briefs[i].sem != Won || window > 0 && (at <= from || at > to) {
			continue
		}
		for _, s := range f.deals[i].ProductSections {
			if !slices.Contains(a.groups, s) {
				a.groups = append(a.groups, s)
			}
		}
	}
	slices.Sort(a.groups)
	a.groupsDone = true
	return a.groups
}

func days(n int) time.Duration { return time.Duration(n) * 24 * time.Hour }

// daysSince counts whole days from t to now, never below zero.
func daysSince(now, t time.Time) float64 {
	d := math.Floor(now.Sub(t).Hours() / 24)
	return max(d, 0)
}

func (a *windowAgg) money() (float64, bool) {
	if !a.moneyOK {
		return 0, false
	}
	return a.wonSum, true
}

// amountFloat converts a deal amount without allocating in the common case
// of at most 18 digits.
func amountFloat(d decimal.Decimal) float64 {
	exp := d.Exponent()
	if d.NumDigits() > 18 || exp < -18 || exp > 18 {
		return d.InexactFloat64()
	}
	c := float64(d.CoefficientInt64())
	if exp < 0 {
		return c / math.Pow10(int(-exp)) // dividing by an exact power of ten rounds correctly
	}
	return c * math.Pow10(int(exp))
}

func (f *ClientFacts) value(l *leaf) Value {
	switch l.fact {
	case factField:
		if l.field == "ID" {
			return f.scratch.int(f.client.ID) // as clientField's, without a string per record
		}
		return clientField(&f.client, l.field)
	case factWonAmount:
		if m, ok := f.agg(l.window, 0).money(); ok {
			return number(m)
		}
	case factWonCount:
		return number(float64(f.agg(l.window, 0).won))
	case factAvgWonAmount:
		a := f.agg(l.window, 0)
		if m, ok := a.money(); ok && a.won > 0 {
			return number(m / float64(a.won))
		}
	case factLostCount:
		return number(float64(f.agg(l.window, 0).lost))
	case factOpenDeals:
		return number(float64(f.agg(0, 0).open))
	case factDaysSinceLastWon:
		if a := f.agg(0, 0); a.won > 0 {
			return number(daysSince(f.env.Now, time.Unix(0, a.lastWon)))
		}
	case factDaysSinceFirstWon:
		if a := f.agg(0, 0); a.won > 0 {
			return number(daysSince(f.env.Now, time.Unix(0, a.firstWon)))
		}
	case factProductGroups:
		return Value{Kind: KindGroups, Groups: f.productGroups(l.window)}
	case factGrowth:
		return f.growth(l.window)
	case factRFMR, factRFMF, factRFMM, factRFM:
		return f.rfm(l.fact, l.window)
	}
	if l.fact.isActivityFact() {
		return clientEngagement(l, f.env.Now, f.client.Activities, f.deals)
	}
	if l.fact == factList {
		return f.env.Lists.value(l, f.client.Entity, f.client.ID)
	}
	if l.fact.isLocationFact() {
		if s := f.client.Location.part(l.fact); s != "" {
			return text(s)
		}
	}
	if l.fact.isRegistryFact() {
		return f.client.Registry.value(l.fact, f.env.Now)
	}
	return Value{}
}

// growth is won_amount of the window ÷ won_amount of the window before it:
// 1 is flat, 1.5 is +50 %. With nothing won before, any revenue now is +Inf
// and none is no value.
func (f *ClientFacts) growth(window int) Value {
	cur, ok1 := f.agg(window, 0).money()
	prev, ok2 := f.agg(window, window).money()
	switch {
	case !ok1 || !ok2:
		return Value{}
	case prev == 0 && cur == 0:
		return Value{}
	case prev == 0:
		return number(math.Inf(1))
	}
	return number(cur / prev)
}

func (f *ClientFacts) rfm(fact factID, window int) Value {
	t := f.env.RFM.Table(window)
	if t == nil {
		return Value{}
	}
	a := f.agg(window, 0)
	if !a.rfmDone {
		a.rfm, a.rfmDone = t.Score(f.rfmInput(window)), true
	}
	sc := a.rfm
	switch fact {
	case factRFMR:
		return number(float64(sc.R))
	case factRFMF:
		return number(float64(sc.F))
	case factRFMM:
		return number(float64(sc.M))
	}
	return text(sc.String()) // one of a table's strings: no allocation
}

// rfmInput is the client's raw recency, frequency and money in a window.
func (f *ClientFacts) rfmInput(window int) RFMInput {
	a := f.agg(window, 0)
	if a.won == 0 {
		return RFMInput{}
	}
	m, _ := a.money()
	return RFMInput{
		Buyer:     true,
		Recency:   daysSince(f.env.Now, time.Unix(0, a.lastWon)),
		Frequency: float64(a.won),
		Monetary:  m,
	}
}

func clientField(c *Client, name string) Value {
	switch {
	case name == "ID":
		return text(strconv.FormatInt(c.ID, 10))
	case name == "TYPE_ID" && c.Entity == EntityContact, name == "COMPANY_TYPE" && c.Entity == EntityCompany:
		return text(c.TypeID)
	}
	return fieldValue(c.Fields, name)
}

func fieldValue(fields map[string]string, name string) Value {
	v, ok := fields[name]
	if !ok {
		return Value{}
	}
	return text(v)
}

// SegmentLookup gives the current segment key of a contact or company, ""
// when it has none. Deals use it for client_segment.
type SegmentLookup func(entity Entity, id int64) string

// DealFacts is a deal's facts. Reuse one with Reset; not safe for concurrent
// use.
type DealFacts struct {
	deal    *Deal
	lookup  SegmentLookup
	now     time.Time // engagement facts count back from it
	scratch scratch   // text a fact formats (ids, the amount), valid until the next fact
}

// NewDealFacts returns deal facts that read client segments through lookup
// and count engagement back from now.
func NewDealFacts(lookup SegmentLookup, now time.Time) *DealFacts {
	return &DealFacts{lookup: lookup, now: now}
}

// Reset points f at another deal.
func (f *DealFacts) Reset(d *Deal) { f.deal = d }

func (f *DealFacts) value(l *leaf) Value {
	d := f.deal
	switch l.fact {
	case factClientSegment:
		return f.clientSegment()
	case factField:
		switch l.field {
		case "ID":
			return f.scratch.int(d.ID)
		case "STAGE_ID":
			return text(d.StageID)
		case "CATEGORY_ID":
			return f.scratch.int(int64(d.CategoryID))
		case "STAGE_SEMANTIC_ID":
			return text(semanticText(d.Semantic))
		case "TYPE_ID":
			return text(d.TypeID)
		case "OPPORTUNITY":
			return f.scratch.decimal(d.Amount)
		case "CURRENCY_ID":
			return text(d.Currency)
		case "COMPANY_ID":
			return f.scratch.int(d.CompanyID)
		}
		return fieldValue(d.Fields, l.field)
	}
	if l.fact.isActivityFact() && !f.now.IsZero() {
		return dealEngagement(l, f.now, d.Activities)
	}
	return Value{}
}

// clientSegment is the segment of the deal's company, else of the first of
// its contacts that has one.
func (f *DealFacts) clientSegment() Value {
	d := f.deal
	if f.lookup == nil {
		return Value{}
	}
	if d.CompanyID != 0 {
		if k := f.lookup(EntityCompany, d.CompanyID); k != "" {
			return text(k)
		}
	}
	for _, id := range d.ContactIDs {
		if k := f.lookup(EntityContact, id); k != "" {
			return text(k)
		}
	}
	return Value{}
}
