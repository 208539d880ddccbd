package segment

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// factMap answers each fact (by its config name) with a value of its own.
type factMap map[string]Value

func (f factMap) value(l *leaf) Value { return f[l.name] }

// tellConfig has a VIP segment on money and an RFM score, a Partner one on
// fields, a Fresh one with a "none of these" group, and an otherwise.
const tellConfig = `{"schemes": [{"entity": "contact", "segments": [
 {"key": "vip", "name": "VIP", "when": {"all": [
   {"fact": "won_amount", "window_days": 365, "op": ">=", "value": 100000},
   {"fact": "rfm_f", "op": ">=", "value": 4}]}},
 {"key": "partner", "name": "Partner", "when": {"any": [
   {"fact": "field:TYPE_ID", "op": "in", "value": ["PARTNER", "SUPPLIER"]},
   {"fact": "field:DATE_CREATE", "op": "empty"}]}},
 {"key": "fresh", "name": "Fresh", "when": {"all": [
   {"fact": "days_since_last_won", "op": "<=", "value": 30},
   {"not": {"fact": "growth", "window_days": 90, "op": "<", "value": 1}}]}}],
 "otherwise": {"key": "rest", "name": "Everyone else"}}]}`

var tellNames = &Names{
	Currency: "EUR",
	Fields:   map[Entity]map[string]string{EntityContact: {"TYPE_ID": "Contact type", "DATE_CREATE": "Created"}},
	Values:   map[Entity]map[string]map[string]string{EntityContact: {"TYPE_ID": {"PARTNER": "Partner", "SUPPLIER": "Supplier", "CLIENT": "Client"}}},
	Segments: map[Entity]map[string]string{EntityContact: {"vip": "VIP", "partner": "Partner", "fresh": "Fresh", "rest": "Everyone else"}},
}

func tellRules(t *testing.T) *Rules {
	t.Helper()
	r, err := Compile(mustParse(t, tellConfig))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// A matched segment is told by the conditions that held, in the editor's
// labels, with money in the base currency and scores out of 5; the
// segments before it say what they missed first.
func TestTellMatchedSegment(t *testing.T) {
	res := tellRules(t).Evaluate(EntityContact, factMap{
		"won_amount": number(125000), "rfm_f": number(5),
		"field:TYPE_ID": text("CLIENT"), "field:DATE_CREATE": text("2026-03-03T10:00:00+03:00"),
	})
	if res.Key != "vip" {
		t.Fatalf("segment %q", res.Key)
	}
	cases := []struct {
		lang Lang
		want Told
	}{
		{EN, Told{Summary: "Won amount in the last 365 days: 125,000 EUR (at least 100,000 EUR) (and 1 more)", Lines: []string{
			"Won amount in the last 365 days: 125,000 EUR (at least 100,000 EUR)",
			"RFM frequency (1–5): 5 of 5 (at least 4)"}}},
		{RU, Told{Summary: "Сумма выигранных сделок за последние 365 дней: 125\u00a0000 EUR (не меньше 100\u00a0000 EUR) (и ещё 1)", Lines: []string{
			"Сумма выигранных сделок за последние 365 дней: 125\u00a0000 EUR (не меньше 100\u00a0000 EUR)",
			"RFM частота (1–5): 5 из 5 (не меньше 4)"}}},
		{PL, Told{Summary: "Kwota wygranych deali w ostatnich 365 dniach: 125\u00a0000 EUR (co najmniej 100\u00a0000 EUR) (i jeszcze 1)", Lines: []string{
			"Kwota wygranych deali w ostatnich 365 dniach: 125\u00a0000 EUR (co najmniej 100\u00a0000 EUR)",
			"RFM – częstotliwość (1–5): 5 z 5 (co najmniej 4)"}}},
		{IT, Told{Summary: "Importo dei deal vinti negli ultimi 365 giorni: 125.000 EUR (almeno 100.000 EUR) (e un'altra)", Lines: []string{
			"Importo dei deal vinti negli ultimi 365 giorni: 125.000 EUR (almeno 100.000 EUR)",
			"RFM frequenza (1–5): 5 su 5 (almeno 4)"}}},
	}
	for _, c := range cases {
		if diff := cmp.Diff(c.want, NewTeller(c.lang, tellNames).Reason(EntityContact, res.Reason())); diff != "" {
			t.Errorf("%s (-want +got):\n%s", c.lang, diff)
		}
	}
}

// The otherwise segment says no segment applies and names the nearest
// miss; every segment tried says what it missed first, in names (a type's
// name, a date as a date), never codes.
func TestTellOtherwiseWithNearestMiss(t *testing.T) {
	res := tellRules(t).Evaluate(EntityContact, factMap{
		"won_amount": number(150000), "rfm_f": number(3),
		"field:TYPE_ID": text("CLIENT"), "field:DATE_CREATE": text("2026-03-03T10:00:00+03:00"),
		"days_since_last_won": number(12), "growth": number(0.5),
	})
	if !res.Otherwise {
		t.Fatalf("result %+v", res)
	}
	en := NewTeller(EN, tellNames)
	got := en.Reason(EntityContact, res.Reason())
	want := Told{Summary: "None of the segments above applies.", Lines: []string{
		"Nearest: VIP: RFM frequency (1–5): 3 of 5, needs at least 4"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("reason (-want +got):\n%s", diff)
	}
	others := en.Others(EntityContact, res.Explanation)
	wantOthers := []Other{
		{Key: "vip", Name: "VIP", Missed: "RFM frequency (1–5): 3 of 5, needs at least 4"},
		{Key: "partner", Name: "Partner", Missed: "Contact type: Client, needs one of Partner, Supplier"},
		{Key: "fresh", Name: "Fresh", Missed: "Revenue growth (× previous period) in the last 90 days: ×0.5, needs at least ×1"},
	}
	if diff := cmp.Diff(wantOthers, others); diff != "" {
		t.Errorf("others (-want +got):\n%s", diff)
	}
	ru := NewTeller(RU, tellNames).Others(EntityContact, res.Explanation)
	if ru[1].Missed != "Contact type: Client, нужно одно из: Partner, Supplier" {
		t.Errorf("ru: %q", ru[1].Missed)
	}
}

// Values read as people write them: no purchases instead of no value for
// days, growth from nothing, RFM 0, empty fields, unknown codes as they are.
func TestTellValues(t *testing.T) {
	tl := NewTeller(EN, tellNames)
	cases := []struct {
		c    Check
		held bool
		want string
	}{
		{Check{Fact: "days_since_last_won", Op: OpGt, Want: 540, Seen: Value{}}, false, "Days since last purchase: no purchases, needs more than 540 days"},
		{Check{Fact: "days_since_last_won", Op: OpLe, Want: 30, Seen: number(12.4)}, true, "Days since last purchase: 12 days (at most 30 days)"},
		{Check{Fact: "growth", WindowDays: 30, Op: OpGe, Want: 2, Seen: number(math.Inf(1))}, true, "Revenue growth (× previous period) in the last 30 days: up from nothing (at least ×2)"},
		{Check{Fact: "rfm_r", Op: OpGe, Want: 4, Seen: number(0)}, false, "RFM recency (1–5): 0 of 5 (no purchases), needs at least 4"},
		{Check{Fact: "won_count", Op: OpBetween, Want: []any{2, 5}, Seen: number(7)}, false, "Won deals: 7, needs between 2 and 5"},
		{Check{Fact: "field:TYPE_ID", Op: OpEq, Want: "PARTNER", Seen: text("")}, false, "Contact type: no value, needs to be Partner"},
		{Check{Fact: "field:UF_CRM_X", Op: OpNotEmpty, Seen: text("")}, false, "UF_CRM_X: no value, needs a value"},
		{Check{Fact: "field:DATE_CREATE", Op: OpNotEmpty, Seen: text("2026-03-03T10:00:00+03:00")}, true, "Created: 3 March 2026 (is not empty)"},
		{Check{Fact: "product_groups", Op: OpContains, Want: 7, Seen: Value{Kind: KindGroups, Groups: []int{3}}}, false, "Product groups bought: #3, needs to contain #7"},
		{Check{Fact: "client_segment", Op: OpIn, Want: []any{"vip"}, Seen: text("rest")}, false, "Segment of the deal's client: Everyone else, needs one of VIP"},
		{Check{Fact: "field:TYPE_ID", Op: OpEmpty, Seen: text("PARTNER"), Not: true}, true, "Contact type: Partner (is not empty)"},
		{Check{Fact: "field:TYPE_ID", Op: OpEmpty, Seen: text(""), Not: true}, false, "Contact type: no value, needs a value"},
		{Check{Fact: "won_count", Op: OpBetween, Want: []any{1, 3}, Seen: number(2), Not: true}, false, "Won deals: 2, must not be between 1 and 3"},
		{Check{Fact: "won_amount", WindowDays: 1, Op: OpGt, Want: 1000, Seen: Value{}, Not: true}, true, "Won amount in the last day: no value (not more than 1,000 EUR)"},
		{Check{Fact: "days_since_last_won", Op: OpGe, Want: 1, Seen: number(1)}, true, "Days since last purchase: 1 day (at least 1 day)"},
		{Check{Fact: "product_groups", Op: OpContains, Want: 3, Seen: Value{Kind: KindGroups, Groups: []int{3}}, Not: true}, false, "Product groups bought: #3, must not contain #3"},
	}
	for _, c := range cases {
		if got := tl.Check(EntityContact, c.c, c.held); got != c.want {
			t.Errorf("%+v:\n got %q\nwant %q", c.c, got, c.want)
		}
	}
	ru := NewTeller(RU, tellNames).Check(EntityContact, Check{Fact: "field:DATE_CREATE", Op: OpNotEmpty, Seen: text("2026-03-03")}, true)
	if ru != "Created: 3 марта 2026 (не пусто)" {
		t.Errorf("ru date: %q", ru)
	}
}

// A reason survives the journal: written as JSON, read back, told the same.
func TestReasonRoundTrip(t *testing.T) {
	res := tellRules(t).Evaluate(EntityContact, factMap{"won_amount": number(150000), "rfm_f": number(3),
		"field:TYPE_ID": text("CLIENT"), "days_since_last_won": Value{}, "growth": number(math.Inf(1))})
	r := res.Reason()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back Reason
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	for _, lang := range Languages() {
		tl := NewTeller(lang, tellNames)
		if a, z := tl.Reason(EntityContact, r), tl.Reason(EntityContact, back); !cmp.Equal(a, z) {
			t.Errorf("%s: told %+v, after JSON %+v (%s)", lang, a, z, b)
		}
	}
	if strings.Contains(string(b), "explanation") || len(b) > 400 {
		t.Errorf("the journal keeps only the reason, %d bytes: %s", len(b), b)
	}
}

// Every language has a label for every fact, operator and group, and
// every phrase: nothing falls back to a code.
func TestWordsInEveryLanguage(t *testing.T) {
	for _, lang := range Languages() {
		w := WordsIn(lang)
		for _, f := range Catalog() {
			if f.Name != fieldSpec.name && w.Facts[f.Name] == "" {
				t.Errorf("%s: no label for fact %s", lang, f.Name)
			}
		}
		for _, op := range allOps() {
			if w.Ops[op] == "" {
				t.Errorf("%s: no words for operator %s", lang, op)
			}
		}
		for _, g := range []string{"all", "any", "not"} {
			if w.Groups[g] == "" {
				t.Errorf("%s: no words for group %s", lang, g)
			}
		}
	}
}

// Every catalogue of the rule engine has every text in every language,
// with the English text's format verbs and its language's plural forms.
func TestCataloguesInEveryLanguage(t *testing.T) {
	for name, faults := range map[string][]string{
		"problems": messages.Check(), "phrases": phrases.Check(), "needs": needs.Check(), "said": said.Check(), "lists": listWords.Check(),
	} {
		for _, f := range faults {
			t.Errorf("%s: %s", name, f)
		}
	}
	// The editor's labels: every language labels what English does, and
	// nothing English does not.
	en := WordsIn(EN)
	for _, lang := range Languages()[1:] {
		w, ok := words[lang]
		if !ok {
			t.Errorf("%s: no words", lang)
			continue
		}
		for k := range en.Facts {
			if w.Facts[k] == "" {
				t.Errorf("%s: no label for fact %s", lang, k)
			}
		}
		for k := range w.Facts {
			if en.Facts[k] == "" {
				t.Errorf("%s: a label for fact %s English has not", lang, k)
			}
		}
		for k := range en.Ops {
			if w.Ops[k] == "" {
				t.Errorf("%s: no words for operator %s", lang, k)
			}
		}
		for k := range en.Groups {
			if w.Groups[k] == "" {
				t.Errorf("%s: no words for group %s", lang, k)
			}
		}
	}
}

func TestDayLabel(t *testing.T) {
	for _, c := range []struct {
		lang Lang
		day  time.Time
		want string
	}{
		{EN, time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC), "5 Dec"},
		{RU, time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC), "5 дек"},
		{RU, time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC), "1 мая"},
		{RU, time.Date(2026, 9, 30, 0, 0, 0, 0, time.UTC), "30 сен"},
		{"de", time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), "2 Jan"},
	} {
		if got := DayLabel(c.lang, c.day); got != c.want {
			t.Errorf("DayLabel(%s, %s) = %q, want %q", c.lang, c.day.Format(time.DateOnly), got, c.want)
		}
	}
}
