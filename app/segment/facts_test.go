package segment

import (
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/shopspring/decimal"
)

var testNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func ago(d int) time.Time { return testNow.Add(-days(d)) }

func rub(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func testRates() Rates {
	return Rates{Base: "RUB", PerUnit: map[string]decimal.Decimal{"USD": rub("90")}}
}

// testDeals is one client's history, relative to testNow.
func testDeals() []Deal {
	return []Deal{
		{ID: 1, Semantic: Won, Amount: rub("1000"), Currency: "RUB", Closed: ago(10), ProductSections: []int{2, 1}},
		{ID: 2, Semantic: Won, Amount: rub("100"), Currency: "USD", Closed: ago(90), ProductSections: []int{2, 3}},
		// Closed unknown: the creation date stands in.
		{ID: 3, Semantic: Won, Amount: rub("5000"), Currency: "RUB", Created: ago(400), ProductSections: []int{4}},
		{ID: 4, Semantic: Lost, Amount: rub("700"), Currency: "RUB", Closed: ago(20)},
		{ID: 5, Semantic: Lost, Amount: rub("700"), Currency: "RUB", Closed: ago(500)},
		{ID: 6, Semantic: InProgress, Amount: rub("300"), Currency: "RUB", Created: ago(3)},
		{ID: 7, Semantic: InProgress, Amount: rub("300"), Currency: "EUR", Created: ago(3)},
	}
}

func factValue(f Facts, fact string, window int) Value {
	spec, field, _ := lookupFact(fact)
	return f.value(&leaf{fact: spec.id, name: fact, field: field, window: window})
}

type clientFactCase struct {
	fact   string
	window int
	want   Value
}

// clientFactCases are a contact's facts over testDeals at testNow.
func clientFactCases() []clientFactCase {
	return []clientFactCase{
		{"won_amount", 0, number(15000)},
		{"won_amount", 365, number(10000)},
		{"won_amount", 30, number(1000)},
		{"won_count", 0, number(3)},
		{"won_count", 365, number(2)},
		{"won_count", 10, number(0)}, // a deal exactly window days old is outside it
		{"won_count", 11, number(1)},
		{"avg_won_amount", 0, number(5000)},
		{"avg_won_amount", 365, number(5000)},
		{"avg_won_amount", 5, Value{}}, // nothing won: no average
		{"lost_count", 0, number(2)},
		{"lost_count", 365, number(1)},
		{"open_deals", 0, number(2)},
		{"days_since_last_won", 0, number(10)},
		{"days_since_first_won", 0, number(400)},
		{"product_groups", 0, Value{Kind: KindGroups, Groups: []int{1, 2, 3, 4}}},
		{"product_groups", 30, Value{Kind: KindGroups, Groups: []int{1, 2}}},
		{"product_groups", 5, Value{Kind: KindGroups}},
		{"growth", 365, number(2)},           // 10,000 this year ÷ 5,000 the year before
		{"growth", 180, number(math.Inf(1))}, // nothing the half-year before
		{"growth", 5, Value{}},               // nothing in either window
		{"growth", 60, number(1000.0 / 9000)},
		{"field:SOURCE_ID", 0, text("WEB")},
		{"field:UF_CRM_TIER", 0, text("")},
		{"field:UF_CRM_NONE", 0, Value{}},
		{"field:TYPE_ID", 0, text("CLIENT")},
		{"field:ID", 0, text("42")},
	}
}

func TestClientFacts(t *testing.T) {
	client := Client{ID: 42, Entity: EntityContact, TypeID: "CLIENT", Fields: map[string]string{"SOURCE_ID": "WEB", "UF_CRM_TIER": ""}}
	f := NewClientFacts(Env{Now: testNow, Rates: testRates()})
	f.Reset(client, testDeals())
	for _, tt := range clientFactCases() {
		got := factValue(f, tt.fact, tt.window)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s (window %d) (-want +got):\n%s", tt.fact, tt.window, diff)
		}
	}
}

func TestClientFactsCompanyTypeAndNoDeals(t *testing.T) {
	f := NewClientFacts(Env{Now: testNow, Rates: testRates()})
	f.Reset(Client{ID: 7, Entity: EntityCompany, TypeID: "CUSTOMER"}, nil)
	tests := []struct {
		fact string
		want Value
	}{
		{"field:COMPANY_TYPE", text("CUSTOMER")},
		{"field:TYPE_ID", Value{}}, // a company's type is COMPANY_TYPE
		{"won_amount", number(0)},
		{"won_count", number(0)},
		{"avg_won_amount", Value{}},
		{"days_since_last_won", Value{}},
		{"days_since_first_won", Value{}},
		{"open_deals", number(0)},
		{"product_groups", Value{Kind: KindGroups}},
		{"rfm", Value{}}, // no RFM table in the env
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, factValue(f, tt.fact, 0)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.fact, diff)
		}
	}
}

func TestClientFactsUnknownCurrency(t *testing.T) {
	f := NewClientFacts(Env{Now: testNow, Rates: testRates()})
	deals := append(testDeals(), Deal{ID: 8, Semantic: Won, Amount: rub("10"), Currency: "EUR", Closed: ago(1)})
	f.Reset(Client{ID: 1, Entity: EntityContact}, deals)
	// Money facts have no value rather than a wrong one; counts still work.
	for _, fact := range []string{"won_amount", "avg_won_amount"} {
		if got := factValue(f, fact, 0); got.Kind != KindNone {
			t.Errorf("%s = %+v, want no value", fact, got)
		}
	}
	if got := factValue(f, "growth", 30); got.Kind != KindNone {
		t.Errorf("growth = %+v, want no value", got)
	}
	if got := factValue(f, "won_count", 0); !cmp.Equal(got, number(4)) {
		t.Errorf("won_count = %+v, want 4", got)
	}
}

func TestClientFactsResetAndCache(t *testing.T) {
	f := NewClientFacts(Env{Now: testNow, Rates: testRates()})
	f.Reset(Client{ID: 1, Entity: EntityContact}, testDeals())
	if got := factValue(f, "won_amount", 365); !cmp.Equal(got, number(10000)) {
		t.Fatalf("won_amount = %+v", got)
	}
	if len(f.aggs) != 1 {
		t.Errorf("computed %d windows, want 1", len(f.aggs))
	}
	factValue(f, "won_count", 365) // same window: cached
	if len(f.aggs) != 1 {
		t.Errorf("computed %d windows after a second fact on the same window, want 1", len(f.aggs))
	}
	f.Reset(Client{ID: 2, Entity: EntityContact}, []Deal{{Semantic: Won, Amount: rub("5"), Closed: ago(1)}})
	if got := factValue(f, "won_amount", 365); !cmp.Equal(got, number(5)) {
		t.Errorf("after Reset won_amount = %+v, want 5", got)
	}
}

func TestRatesToBase(t *testing.T) {
	r := testRates()
	tests := []struct {
		amount, cur string
		want        string
		ok          bool
	}{
		{"10", "RUB", "10", true},
		{"10", "", "10", true},
		{"10.5", "USD", "945", true},
		{"10", "EUR", "0", false},
	}
	for _, tt := range tests {
		got, ok := r.ToBase(rub(tt.amount), tt.cur)
		if ok != tt.ok || !got.Equal(rub(tt.want)) {
			t.Errorf("ToBase(%s %s) = %s, %v; want %s, %v", tt.amount, tt.cur, got, ok, tt.want, tt.ok)
		}
	}
}

type dealFactCase struct {
	name string
	deal Deal
	fact string
	want Value
}

// dealFactCases are deals' facts; their clients' segments are in
// testSegments.
func dealFactCases() []dealFactCase {
	deal := Deal{ID: 5, CompanyID: 10, ContactIDs: []int64{1, 2, 3}, CategoryID: 3, StageID: "C3:NEW", Semantic: InProgress,
		Amount: rub("1500.50"), Currency: "USD", TypeID: "SALE", Fields: map[string]string{"SOURCE_ID": "WEB", "UF_CRM_REGION": "77"}}
	return []dealFactCase{
		{"company first", deal, "client_segment", text("key_account")},
		{"else the first contact with a segment", withCompany(deal, 11), "client_segment", text("vip")},
		{"no company", withCompany(deal, 0), "client_segment", text("vip")},
		{"no client with a segment", Deal{ContactIDs: []int64{1}}, "client_segment", Value{}},
		{"stage", deal, "field:STAGE_ID", text("C3:NEW")},
		{"pipeline", deal, "field:CATEGORY_ID", text("3")},
		{"semantic", deal, "field:STAGE_SEMANTIC_ID", text("P")},
		{"type", deal, "field:TYPE_ID", text("SALE")},
		{"amount", deal, "field:OPPORTUNITY", text("1500.5")},
		{"currency", deal, "field:CURRENCY_ID", text("USD")},
		{"company id", deal, "field:COMPANY_ID", text("10")},
		{"id", deal, "field:ID", text("5")},
		{"source", deal, "field:SOURCE_ID", text("WEB")},
		{"user field", deal, "field:UF_CRM_REGION", text("77")},
		{"missing field", deal, "field:UF_CRM_NONE", Value{}},
		{"client fact on a deal", deal, "won_amount", Value{}},
	}
}

var testSegments = map[Entity]map[int64]string{
	EntityCompany: {10: "key_account"},
	EntityContact: {1: "", 2: "vip", 3: "regular"},
}

func TestDealFacts(t *testing.T) {
	lookup := func(e Entity, id int64) string { return testSegments[e][id] }
	f := NewDealFacts(lookup, testNow)
	for _, tt := range dealFactCases() {
		f.Reset(&tt.deal)
		if diff := cmp.Diff(tt.want, factValue(f, tt.fact, 0)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
	f = NewDealFacts(nil, time.Time{})
	f.Reset(&dealFactCases()[0].deal)
	if got := factValue(f, "client_segment", 0); got.Kind != KindNone {
		t.Errorf("client_segment without a lookup = %+v, want no value", got)
	}
}

func withCompany(d Deal, id int64) Deal {
	d.CompanyID = id
	return d
}

func TestAmountFloat(t *testing.T) {
	tests := []struct {
		in   string
		want float64
	}{
		{"0", 0},
		{"1500.50", 1500.5},
		{"0.1", 0.1},
		{"-42.25", -42.25},
		{"125000", 125000},
		{"1e3", 1000},
		{"123456789012345678901234.5", 1.2345678901234568e23}, // too many digits: the slow path
		{"0.0000000000000000000001", 1e-22},
	}
	for _, tt := range tests {
		if got := amountFloat(rub(tt.in)); got != tt.want {
			t.Errorf("amountFloat(%s) = %v, want %v", tt.in, got, tt.want)
		}
	}
	if got := amountFloat(decimal.Decimal{}); got != 0 {
		t.Errorf("zero Decimal = %v", got)
	}
}

// A deal's time kept in nanos sorts against a window and counts days as the
// time itself does, even far outside the years nanos reach (a deal with
// no date at all is at year 1).
func TestNanosKeepOrderAndDays(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	from, to := now.AddDate(0, 0, -365), now
	for _, at := range []time.Time{{}, time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1700, 1, 1, 0, 0, 0, 0, time.UTC),
		from, from.Add(time.Nanosecond), now.AddDate(0, -1, 0), to, to.Add(time.Nanosecond), time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)} {
		n := nanos(at)
		if got, want := n <= nanos(from) || n > nanos(to), !at.After(from) || at.After(to); got != want {
			t.Errorf("%v: outside the window %v, want %v", at, got, want)
		}
		if got, want := daysSince(now, time.Unix(0, n)), daysSince(now, at); got != want {
			t.Errorf("%v: %v days since, want %v", at, got, want)
		}
	}
}
