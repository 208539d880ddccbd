package jobs_test

import (
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"segmentor/app/segment"
	"segmentor/bitrix/b24sim"
	"segmentor/internal/testkit"
)

// world is the portal as the test reads it from the simulator's own data
// (b24sim.Records, DealContacts, ProductRows and reference lists), with
// facts computed here, independently of the app's mirror, sync and fact
// code. Only the compiled rules' boolean logic (segment.Rules.Evaluate over
// segment.FactsFunc) is shared with the app.
type world struct {
	now        time.Time
	rates      map[string]float64 // base-currency value of one unit
	firstStage map[int]string     // pipeline → its first stage
	deals      map[int64]*wDeal
	clients    map[segment.Entity]map[int64]*wClient
	typeOf     map[string]map[int64]string // entity → id → type, as read
}

type wDeal struct {
	id, company     int64
	contacts        []int64
	category        int
	stage, semantic string
	amount          float64
	currency        string
	created, closed time.Time
	typeID          string
	sections        []int
	fields          map[string]string
}

type wClient struct {
	id     int64
	entity segment.Entity
	typeID string
	fields map[string]string
	deals  []*wDeal
}

// readWorld reads everything from the simulator.
func readWorld(t testing.TB, s *appStack) *world {
	t.Helper()
	w := &world{now: s.now, rates: map[string]float64{}, firstStage: map[int]string{}, deals: map[int64]*wDeal{},
		clients: map[segment.Entity]map[int64]*wClient{}, typeOf: map[string]map[int64]string{}}
	var curs []struct{ CURRENCY, AMOUNT, AMOUNT_CNT string }
	s.call(t, "crm.currency.list", nil, &curs)
	for _, c := range curs {
		a, _ := strconv.ParseFloat(c.AMOUNT, 64)
		n, _ := strconv.ParseFloat(c.AMOUNT_CNT, 64)
		w.rates[c.CURRENCY] = a / max(n, 1)
	}
	var statuses []struct {
		ENTITY_ID, STATUS_ID, SORT string
		CATEGORY_ID                string
	}
	s.call(t, "crm.status.list", map[string]any{"order": map[string]string{"SORT": "ASC"}}, &statuses)
	firstSort := map[int]int{}
	for _, st := range statuses {
		if !strings.HasPrefix(st.ENTITY_ID, "DEAL_STAGE") {
			continue
		}
		cat, _ := strconv.Atoi(st.CATEGORY_ID)
		so, _ := strconv.Atoi(st.SORT)
		if cur, ok := firstSort[cat]; !ok || so < cur {
			firstSort[cat], w.firstStage[cat] = so, st.STATUS_ID
		}
	}
	section := map[int64]int{}
	for pr := range s.sim.Records("product") {
		section[testkit.Num(pr["ID"])] = int(testkit.Num(pr["SECTION_ID"]))
	}
	for _, ent := range []segment.Entity{segment.EntityContact, segment.EntityCompany} {
		tf := typeField(ent)
		w.clients[ent] = map[int64]*wClient{}
		w.typeOf[string(ent)] = map[int64]string{}
		for r := range s.sim.Records(string(ent)) {
			c := &wClient{id: testkit.Num(r["ID"]), entity: ent, typeID: b24sim.Scalar(r[tf]), fields: textFields(r)}
			w.clients[ent][c.id] = c
			w.typeOf[string(ent)][c.id] = c.typeID
		}
	}
	w.typeOf["deal"] = map[int64]string{}
	for r := range s.sim.Records("deal") {
		id := testkit.Num(r["ID"])
		amount, _ := strconv.ParseFloat(b24sim.Scalar(r["OPPORTUNITY"]), 64)
		d := &wDeal{id: id, company: testkit.Num(r["COMPANY_ID"]), contacts: s.sim.DealContacts(int(id)),
			category: int(testkit.Num(r["CATEGORY_ID"])), stage: b24sim.Scalar(r["STAGE_ID"]), semantic: b24sim.Scalar(r["STAGE_SEMANTIC_ID"]),
			amount: amount, currency: b24sim.Scalar(r["CURRENCY_ID"]), created: testkit.When(r["DATE_CREATE"]), closed: testkit.When(r["CLOSEDATE"]),
			typeID: b24sim.Scalar(r["TYPE_ID"]), fields: textFields(r)}
		for _, row := range s.sim.ProductRows(int(id)) {
			if sec := section[testkit.Num(row["PRODUCT_ID"])]; sec != 0 && !slices.Contains(d.sections, sec) {
				d.sections = append(d.sections, sec)
			}
		}
		w.deals[id] = d
		w.typeOf["deal"][id] = d.typeID
		if c := w.clients[segment.EntityCompany][d.company]; c != nil {
			c.deals = append(c.deals, d)
		}
		for _, id := range d.contacts {
			if c := w.clients[segment.EntityContact][id]; c != nil {
				c.deals = append(c.deals, d)
			}
		}
	}
	return w
}

// textFields keeps a record's scalar fields as text, as a field: condition
// compares them; empty ones are absent.
func textFields(r map[string]any) map[string]string {
	out := map[string]string{}
	for k, v := range r {
		switch v.(type) {
		case nil, map[string]any, []any:
			continue
		}
		if s := b24sim.Scalar(v); s != "" {
			out[k] = s
		}
	}
	return out
}

// agg is a client's won and lost deals within (from, to].
type agg struct {
	won, lost, open int // open: all time
	sum             float64
	moneyKnown      bool
	first, last     time.Time
	sections        []int
}

func (w *world) agg(c *wClient, window, offset int) agg {
	a := agg{moneyKnown: true}
	to := w.now.Add(-time.Duration(offset) * 24 * time.Hour)
	from := to.Add(-time.Duration(window) * 24 * time.Hour)
	for _, d := range c.deals {
		if d.semantic != "S" && d.semantic != "F" {
			a.open++
			continue
		}
		at := d.closed
		if at.IsZero() {
			at = d.created
		}
		if window > 0 && (!at.After(from) || at.After(to)) {
			continue
		}
		if d.semantic == "F" {
			a.lost++
			continue
		}
		a.won++
		rate, ok := w.rates[d.currency]
		if d.currency == "" {
			rate, ok = 1, true
		}
		if !ok {
			a.moneyKnown = false
		}
		a.sum += d.amount * rate
		if a.first.IsZero() || at.Before(a.first) {
			a.first = at
		}
		if at.After(a.last) {
			a.last = at
		}
		for _, s := range d.sections {
			if !slices.Contains(a.sections, s) {
				a.sections = append(a.sections, s)
			}
		}
	}
	sort.Ints(a.sections)
	return a
}

func (w *world) daysSince(t time.Time) float64 {
	return max(math.Floor(w.now.Sub(t).Hours()/24), 0)
}

// rfmTable is one window's sorted recency, frequency and money of every
// client of one kind that won a deal in it.
type rfmTable struct{ r, f, m []float64 }

func (w *world) rfmTables(ent segment.Entity, windows []int) map[int]*rfmTable {
	out := map[int]*rfmTable{}
	for _, win := range windows {
		t := &rfmTable{}
		for _, c := range w.clients[ent] {
			if a := w.agg(c, win, 0); a.won > 0 {
				t.r = append(t.r, w.daysSince(a.last))
				t.f = append(t.f, float64(a.won))
				t.m = append(t.m, a.sum)
			}
		}
		sort.Float64s(t.r)
		sort.Float64s(t.f)
		sort.Float64s(t.m)
		out[win] = t
	}
	return out
}

// quintileOf scores v among sorted values: ceil(5 × (below + equal/2) / n)
// within 1..5, below counting the worse values (more days for recency).
func quintileOf(sorted []float64, v float64, fewerIsBetter bool) int {
	below, equal := 0, 0
	for _, x := range sorted {
		switch {
		case x == v:
			equal++
		case x < v != fewerIsBetter:
			below++
		}
	}
	s := int(math.Ceil(5 * (float64(below) + float64(equal)/2) / float64(len(sorted))))
	return min(max(s, 1), 5)
}

func number(f float64) segment.Value { return segment.Value{Kind: segment.KindNumber, Num: f} }
func text(s string) segment.Value    { return segment.Value{Kind: segment.KindText, Text: s} }

// clientFacts answers a contact's or company's facts.
func (w *world) clientFacts(c *wClient, rfm map[int]*rfmTable) segment.FactsFunc {
	return func(q segment.FactQuery) segment.Value {
		if f, ok := strings.CutPrefix(q.Name, "field:"); ok {
			switch {
			case f == "ID":
				return text(strconv.FormatInt(c.id, 10))
			case f == typeField(c.entity):
				return text(c.typeID)
			}
			if v, ok := c.fields[f]; ok {
				return text(v)
			}
			return segment.Value{}
		}
		a := w.agg(c, q.Window, 0)
		switch q.Name {
		case "won_amount":
			if a.moneyKnown {
				return number(a.sum)
			}
		case "won_count":
			return number(float64(a.won))
		case "avg_won_amount":
			if a.moneyKnown && a.won > 0 {
				return number(a.sum / float64(a.won))
			}
		case "lost_count":
			return number(float64(a.lost))
		case "open_deals":
			return number(float64(a.open))
		case "days_since_last_won":
			if a.won > 0 {
				return number(w.daysSince(a.last))
			}
		case "days_since_first_won":
			if a.won > 0 {
				return number(w.daysSince(a.first))
			}
		case "product_groups":
			return segment.Value{Kind: segment.KindGroups, Groups: a.sections}
		case "growth":
			prev := w.agg(c, q.Window, q.Window)
			switch {
			case !a.moneyKnown || !prev.moneyKnown, a.sum == 0 && prev.sum == 0:
				return segment.Value{}
			case prev.sum == 0:
				return number(math.Inf(1))
			}
			return number(a.sum / prev.sum)
		case "rfm_r", "rfm_f", "rfm_m", "rfm":
			t := rfm[q.Window]
			r, f, m := 0, 0, 0
			if a.won > 0 && t != nil {
				r = quintileOf(t.r, w.daysSince(a.last), true)
				f = quintileOf(t.f, float64(a.won), false)
				m = quintileOf(t.m, a.sum, false)
			}
			switch q.Name {
			case "rfm_r":
				return number(float64(r))
			case "rfm_f":
				return number(float64(f))
			case "rfm_m":
				return number(float64(m))
			}
			return text(strconv.Itoa(r) + strconv.Itoa(f) + strconv.Itoa(m))
		}
		return segment.Value{}
	}
}

// dealFacts answers a deal's facts; keys are its clients' segments.
func (w *world) dealFacts(d *wDeal, keys map[segment.Entity]map[int64]string) segment.FactsFunc {
	return func(q segment.FactQuery) segment.Value {
		if q.Name == "client_segment" {
			if k := keys[segment.EntityCompany][d.company]; d.company != 0 && k != "" {
				return text(k)
			}
			for _, id := range d.contacts {
				if k := keys[segment.EntityContact][id]; k != "" {
					return text(k)
				}
			}
			return segment.Value{}
		}
		f, _ := strings.CutPrefix(q.Name, "field:")
		switch f {
		case "ID":
			return text(strconv.FormatInt(d.id, 10))
		case "STAGE_ID":
			return text(d.stage)
		case "CATEGORY_ID":
			return text(strconv.Itoa(d.category))
		case "STAGE_SEMANTIC_ID":
			return text(d.semantic)
		case "TYPE_ID":
			return text(d.typeID)
		}
		if v, ok := d.fields[f]; ok {
			return text(v)
		}
		return segment.Value{}
	}
}

// classify computes every record's segment key.
func (w *world) classify(rules *segment.Rules) map[segment.Entity]map[int64]string {
	keys := map[segment.Entity]map[int64]string{}
	for _, ent := range []segment.Entity{segment.EntityContact, segment.EntityCompany} {
		keys[ent] = map[int64]string{}
		rfm := w.rfmTables(ent, rules.RFMWindows())
		for id, c := range w.clients[ent] {
			keys[ent][id] = rules.Evaluate(ent, w.clientFacts(c, rfm)).Key
		}
	}
	keys[segment.EntityDeal] = map[int64]string{}
	for id, d := range w.deals {
		keys[segment.EntityDeal][id] = rules.Evaluate(segment.EntityDeal, w.dealFacts(d, keys)).Key
	}
	return keys
}

func typeField(e segment.Entity) string {
	if e == segment.EntityCompany {
		return "COMPANY_TYPE"
	}
	return "TYPE_ID"
}
