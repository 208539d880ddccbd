package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"segmentor/app"
	"segmentor/app/segment"
	"segmentor/bitrix"
	"segmentor/bitrix/b24sim"
	"segmentor/engine"
	"segmentor/handlers"
)

// savedInsightConfig is saved (and backfilled) before the dry-run: a
// contact is a buyer from two won deals.
const savedInsightConfig = `{"schemes": [{"entity": "contact", "segments": [
  {"key": "buyer", "name": "Buyer", "color": "#d4380d", "when": {"all": [{"fact": "won_count", "op": ">=", "value": 2}]}, "set": {"label": true}}],
  "otherwise": {"key": "rest", "name": "Rest", "set": {"label": true}}}]}`

// draftInsightConfig is the draft previewed and dry-run: buyers need three
// won deals and become partners, contacts with open deals get a new
// segment, and the open deals of buyers move to the default pipeline.
const draftInsightConfig = `{"schemes": [
 {"entity": "contact", "segments": [
  {"key": "buyer", "name": "Buyer", "color": "#d4380d", "when": {"all": [{"fact": "won_count", "op": ">=", "value": 3}]}, "set": {"type": "PARTNER", "label": true}},
  {"key": "open", "name": "Open", "color": "#1677ff", "when": {"all": [{"fact": "open_deals", "op": ">", "value": 0}]}, "set": {"label": true}}],
  "otherwise": {"key": "rest", "name": "Rest", "set": {"label": true}}},
 {"entity": "deal", "segments": [
  {"key": "premium", "name": "Premium", "when": {"all": [{"fact": "client_segment", "op": "in", "value": ["buyer"]}]},
   "set": {"pipeline": {"category_id": 0, "stage_id": "NEW", "apply": "always"}}}]}]}`

// simBase is the seeded portal read straight from the simulator, to count
// segments independently of the app's mirror and rule engine.
type simBase struct {
	contacts map[int64]simContact
	deals    []simDeal
	rates    map[string]float64
}

type simContact struct {
	typeID, title string
}

type simDeal struct {
	id, company int64
	contacts    []int64
	semantic    string
	amount      float64 // in the base currency
	closed      time.Time
	category    int
	stage       string
}

func readSimBase(t *testing.T, s *settingsStack) *simBase {
	t.Helper()
	ctx := context.Background()
	p := s.client.Portal(s.sim.MemberID())
	var curs []struct{ CURRENCY, AMOUNT, AMOUNT_CNT string }
	if _, err := p.Call(ctx, "crm.currency.list", nil, &curs); err != nil {
		t.Fatal(err)
	}
	b := &simBase{contacts: map[int64]simContact{}, rates: map[string]float64{}}
	for _, c := range curs {
		a, _ := strconv.ParseFloat(c.AMOUNT, 64)
		n, _ := strconv.ParseFloat(c.AMOUNT_CNT, 64)
		b.rates[c.CURRENCY] = a / n
	}
	contactsOf := map[int64][]int64{}
	_, err := p.Scan(ctx, bitrix.ScanOptions{Method: "crm.item.list", EntityTypeID: 2, Select: []string{"id", "contactIds"}},
		func(pg *bitrix.ScanPage) error {
			rows, err := bitrix.DecodeRows[struct {
				ID         int64   `json:"id"`
				ContactIDs []int64 `json:"contactIds"`
			}](pg)
			for _, r := range rows {
				contactsOf[r.ID] = r.ContactIDs
			}
			return err
		})
	if err != nil {
		t.Fatal(err)
	}
	for r := range s.sim.Records("contact") {
		b.contacts[simNum(r["ID"])] = simContact{typeID: simStr(r["TYPE_ID"]), title: simStr(r["NAME"]) + " " + simStr(r["LAST_NAME"])}
	}
	for r := range s.sim.Records("deal") {
		id := simNum(r["ID"])
		amount, _ := strconv.ParseFloat(simStr(r["OPPORTUNITY"]), 64)
		closed, _ := time.Parse(time.RFC3339, simStr(r["CLOSEDATE"]))
		b.deals = append(b.deals, simDeal{id: id, company: simNum(r["COMPANY_ID"]), contacts: contactsOf[id],
			semantic: simStr(r["STAGE_SEMANTIC_ID"]), amount: amount * b.rates[simStr(r["CURRENCY_ID"])], closed: closed,
			category: int(simNum(r["CATEGORY_ID"])), stage: simStr(r["STAGE_ID"])})
	}
	return b
}

func simNum(v any) int64 {
	n, _ := strconv.ParseInt(simStr(v), 10, 64)
	return n
}

func simStr(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

// contactKeys classifies contacts by hand: buyers from minWon won deals,
// then (if open is set) contacts with an open deal, then rest.
func (b *simBase) contactKeys(minWon int, open bool) map[int64]string {
	won, opened := map[int64]int{}, map[int64]bool{}
	for _, d := range b.deals {
		for _, c := range d.contacts {
			switch d.semantic {
			case "S":
				won[c]++
			case "P":
				opened[c] = true
			}
		}
	}
	out := map[int64]string{}
	for id := range b.contacts {
		switch {
		case won[id] >= minWon:
			out[id] = "buyer"
		case open && opened[id]:
			out[id] = "open"
		default:
			out[id] = "rest"
		}
	}
	return out
}

// revenueOf sums a contact's won deals in the base currency over the last
// window days (0 = all time).
func (b *simBase) revenueOf(now time.Time, window int) map[int64]float64 {
	out := map[int64]float64{}
	for _, d := range b.deals {
		if d.semantic != "S" || window > 0 && !d.closed.After(now.AddDate(0, 0, -window)) {
			continue
		}
		for _, c := range d.contacts {
			out[c] += d.amount
		}
	}
	return out
}

// premium is whether a deal's client_segment is buyer: companies carry no
// segment in these configs, so it is the first contact's.
func premium(d simDeal, keys map[int64]string) bool {
	return len(d.contacts) > 0 && keys[d.contacts[0]] == "buyer"
}

// syncMirror fills the mirror from the simulator as a backfill's sync does.
func syncMirror(t *testing.T, s *settingsStack) {
	t.Helper()
	cls := &engine.Classifier{Store: s.store, Mirror: app.NewMirror(s.rdb), Bitrix: s.client, FieldName: "UF_CRM_SEGMENTOR"}
	if _, err := cls.Sync(context.Background(), s.sim.MemberID(), engine.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
}

type previewBody struct {
	TookMS            int                     `json:"took_ms"`
	Mirror            engine.MirrorSummary    `json:"mirror"`
	RevenueWindowDays int                     `json:"revenue_window_days"`
	Schemes           []engine.SchemeStanding `json:"schemes"`
}

func schemeOf(t *testing.T, schemes []engine.SchemeStanding, e segment.Entity) engine.SchemeStanding {
	t.Helper()
	return find(t, schemes, func(s engine.SchemeStanding) bool { return s.Entity == e })
}

// find returns the element of list that ok accepts, failing without one.
func find[T any](t *testing.T, list []T, ok func(T) bool) T {
	t.Helper()
	if i := slices.IndexFunc(list, ok); i >= 0 {
		return list[i]
	}
	t.Fatalf("not found in %+v", list)
	var zero T
	return zero
}

func closeTo(a, b float64) bool { return math.Abs(a-b) <= 1e-6*math.Max(1, math.Abs(b)) }

// The preview of a draft counts, per segment, exactly what counting the
// simulator's own records by hand gives: counts, shares, revenue in the
// base currency (all time and over a window), and the lowest ids as
// samples with their names and card links. It costs no REST request.
func TestPreviewMatchesIndependentCount(t *testing.T) {
	s := newSettingsStack(t, "en")
	s.sim.Seed(b24sim.GenOptions{Contacts: 150, Companies: 20, Deals: 500})
	syncMirror(t, s)
	sb := readSimBase(t, s)
	admin := s.login(1)

	for _, window := range []int{0, 365} {
		s.sim.ResetLog()
		r := s.do("POST", "/api/v1/preview", admin, map[string]any{"config": json.RawMessage(draftInsightConfig), "revenue_window_days": window})
		if r.Status != 200 {
			t.Fatalf("preview: %d %s", r.Status, r.Raw)
		}
		if n := len(s.sim.Requests()); n != 0 {
			t.Errorf("the preview sent %d REST requests", n)
		}
		var p previewBody
		decodeJSON(t, r.Raw, &p)
		if p.Mirror.Contacts != 150 || p.Mirror.Companies != 20 || p.Mirror.Deals != 500 || p.Mirror.SyncedAt == nil || p.RevenueWindowDays != window {
			t.Fatalf("mirror summary %+v, window %d", p.Mirror, p.RevenueWindowDays)
		}
		keys := sb.contactKeys(3, true)
		rev := sb.revenueOf(time.Now(), window)
		want := map[string]int{}
		wantRev := map[string]float64{}
		total := 0.0
		for id, k := range keys {
			want[k]++
			wantRev[k] += rev[id]
			total += rev[id]
		}
		cs := schemeOf(t, p.Schemes, segment.EntityContact)
		if cs.Total != 150 || !closeTo(cs.Revenue, total) || cs.Currency == "" {
			t.Errorf("contacts: total %d revenue %.2f %s, want 150 and %.2f", cs.Total, cs.Revenue, cs.Currency, total)
		}
		got := map[string]engine.SegmentStanding{"rest": cs.Otherwise}
		for _, sg := range cs.Segments {
			got[sg.Key] = sg
		}
		if cs.Otherwise.Key != "rest" || cs.Otherwise.Name != "Rest" || len(cs.Segments) != 2 || cs.Segments[0].Key != "buyer" || cs.Segments[1].Color != "#1677ff" {
			t.Errorf("segments laid out wrong: %+v", cs)
		}
		for _, k := range []string{"buyer", "open", "rest"} {
			g := got[k]
			if g.Count != want[k] || !closeTo(g.Share, float64(want[k])/150) || !closeTo(g.Revenue, wantRev[k]) ||
				!closeTo(g.RevenueShare, wantRev[k]/total) {
				t.Errorf("window %d, %s: count %d share %.4f revenue %.2f (%.4f); want %d, %.2f (%.4f)",
					window, k, g.Count, g.Share, g.Revenue, g.RevenueShare, want[k], wantRev[k], wantRev[k]/total)
			}
			var ids []int64
			for id, kk := range keys {
				if kk == k {
					ids = append(ids, id)
				}
			}
			slices.Sort(ids)
			ids = ids[:min(len(ids), 5)]
			if len(g.Samples) != len(ids) {
				t.Fatalf("%s: %d samples, want %d", k, len(g.Samples), len(ids))
			}
			for i, smp := range g.Samples {
				if smp.ID != ids[i] || smp.Title != sb.contacts[smp.ID].title ||
					smp.URL != fmt.Sprintf("%s/crm/contact/details/%d/", strings.TrimSuffix(s.sim.URL(), "/"), smp.ID) {
					t.Errorf("%s sample %d: %+v, want id %d titled %q", k, i, smp, ids[i], sb.contacts[ids[i]].title)
				}
			}
		}
		if want["buyer"] == 0 || want["open"] == 0 || want["rest"] == 0 {
			t.Fatalf("the seeded portal leaves a segment empty (%v): the test would prove little", want)
		}

		ds := schemeOf(t, p.Schemes, segment.EntityDeal)
		wantPremium, premiumRev, dealRev := 0, 0.0, 0.0
		for _, d := range sb.deals {
			r := 0.0
			if d.semantic == "S" && (window == 0 || d.closed.After(time.Now().AddDate(0, 0, -window))) {
				r = d.amount
			}
			dealRev += r
			if premium(d, keys) {
				wantPremium++
				premiumRev += r
			}
		}
		if ds.Total != 500 || ds.Segments[0].Count != wantPremium || ds.Otherwise.Count != 500-wantPremium ||
			!closeTo(ds.Segments[0].Revenue, premiumRev) || !closeTo(ds.Revenue, dealRev) || ds.Otherwise.Key != "" {
			t.Errorf("deals: %d premium (%.2f of %.2f), otherwise %d; want %d (%.2f of %.2f)",
				ds.Segments[0].Count, ds.Segments[0].Revenue, ds.Revenue, ds.Otherwise.Count, wantPremium, premiumRev, dealRev)
		}
		t.Logf("window %d: contacts %v, %d premium deals, answered in %d ms", window, want, wantPremium, p.TookMS)
	}

	// A user who is not an administrator sees the same counts and shares,
	// and no records: the CRM may not let them see those.
	rep := s.login(s.rep.ID)
	var pa, pr previewBody
	decodeJSON(t, s.do("POST", "/api/v1/preview", admin, map[string]any{"config": json.RawMessage(draftInsightConfig)}).Raw, &pa)
	decodeJSON(t, s.do("POST", "/api/v1/preview", rep, map[string]any{"config": json.RawMessage(draftInsightConfig)}).Raw, &pr)
	adminSamples := 0
	for i, sc := range pr.Schemes {
		all := append(slices.Clone(sc.Segments), sc.Otherwise)
		want := append(slices.Clone(pa.Schemes[i].Segments), pa.Schemes[i].Otherwise)
		for j, sg := range all {
			adminSamples += len(want[j].Samples)
			if sg.Count != want[j].Count || sg.Share != want[j].Share || sg.Samples == nil || len(sg.Samples) != 0 {
				t.Errorf("rep's preview, %s %s: count %d share %.3f samples %v; admin's %d %.3f", sc.Entity, sg.Key,
					sg.Count, sg.Share, sg.Samples, want[j].Count, want[j].Share)
			}
		}
	}
	if adminSamples == 0 {
		t.Error("the admin's preview has no samples to withhold")
	}

	// A draft with problems is refused with all of them, as a save is.
	bad := `{"schemes": [{"entity": "contact", "segments": [{"key": "x", "name": "X", "when": {"fact": "nope", "op": "=", "value": 1}}]}]}`
	for _, path := range []string{"/api/v1/preview", "/api/v1/dryrun"} {
		if r := s.do("POST", path, rep, map[string]any{"config": json.RawMessage(bad)}); r.Status != 422 || len(r.Body["errors"].([]any)) == 0 {
			t.Errorf("%s of a bad draft: %d %s", path, r.Status, r.Raw)
		}
		if r := s.do("POST", path, rep, map[string]any{}); r.Status != 400 {
			t.Errorf("%s without a config: %d %s", path, r.Status, r.Raw)
		}
	}
	if r := s.do("POST", "/api/v1/preview", rep, map[string]any{"config": json.RawMessage(draftInsightConfig), "revenue_window_days": -1}); r.Status != 400 {
		t.Errorf("negative revenue window: %d", r.Status)
	}
}

type dryRunBody struct {
	TookMS    int                 `json:"took_ms"`
	Evaluated int                 `json:"evaluated"`
	Changed   int                 `json:"changed"`
	Schemes   []engine.SchemeDiff `json:"schemes"`
}

// After a saved config is applied, a dry-run of a draft lists exactly the
// moves, type, pipeline and label writes that counting by hand predicts,
// and writes nothing: no REST request, the mirror untouched.
func TestDryRunDiffsDraftAgainstToday(t *testing.T) {
	s := newSettingsStack(t, "en")
	s.sim.Seed(b24sim.GenOptions{Contacts: 150, Companies: 20, Deals: 500})
	admin := s.login(1)
	applyConfig(t, s, admin, savedInsightConfig)
	sb := readSimBase(t, s)
	before, after := sb.contactKeys(2, false), sb.contactKeys(3, true)

	ctx := context.Background()
	mirror := app.NewMirror(s.rdb)
	gen, _ := mirror.Generation(ctx, s.sim.MemberID())
	s.sim.ResetLog()
	r := s.do("POST", "/api/v1/dryrun", admin, map[string]any{"config": json.RawMessage(draftInsightConfig)})
	if r.Status != 200 {
		t.Fatalf("dry-run: %d %s", r.Status, r.Raw)
	}
	var d dryRunBody
	decodeJSON(t, r.Raw, &d)
	for _, q := range s.sim.Requests() {
		t.Errorf("the dry-run sent %s", q.Method)
	}
	if g, _ := mirror.Generation(ctx, s.sim.MemberID()); g != gen {
		t.Errorf("the dry-run wrote to the mirror (generation %d → %d)", gen, g)
	}

	moves := map[[2]string]int{}
	types := map[[2]string]int{}
	changed := 0
	for id, k := range after {
		from := before[id]
		typeChange := k == "buyer" && sb.contacts[id].typeID != "PARTNER"
		if from != k {
			moves[[2]string{from, k}]++
		}
		if typeChange {
			types[[2]string{sb.contacts[id].typeID, "PARTNER"}]++
		}
		if from != k || typeChange {
			changed++
		}
	}
	cd := dryRunScheme(t, d.Schemes, segment.EntityContact)
	gotMoves := map[[2]string]int{}
	for i, m := range cd.Moves {
		gotMoves[[2]string{m.From, m.To}] = m.Count
		if i > 0 && m.Count > cd.Moves[i-1].Count {
			t.Errorf("moves not sorted by count: %+v", cd.Moves)
		}
		if len(m.Samples) == 0 || len(m.Samples) > 5 || m.Samples[0].Title == "" || m.ToName == "" || m.FromName == "" {
			t.Errorf("move %s→%s: samples %+v, names %q→%q", m.From, m.To, m.Samples, m.FromName, m.ToName)
		}
		for _, smp := range m.Samples {
			if before[smp.ID] != m.From || after[smp.ID] != m.To {
				t.Errorf("sample %d of %s→%s is %s→%s", smp.ID, m.From, m.To, before[smp.ID], after[smp.ID])
			}
			// Each sample says why it moves, as its card tab would: the
			// draft's reason for its new segment, in the editor's labels.
			want := map[string]*regexp.Regexp{
				"buyer": regexp.MustCompile(`^Won deals: \d+ \(at least 3\)$`),
				"open":  regexp.MustCompile(`^Open deals: \d+ \(more than 0\)$`),
				"rest":  regexp.MustCompile(`^None of the segments above applies\.$`),
			}[m.To]
			if smp.Why == nil || want == nil || !want.MatchString(smp.Why.Summary) {
				t.Errorf("sample %d of %s→%s: why %+v", smp.ID, m.From, m.To, smp.Why)
			}
		}
	}
	gotTypes := map[[2]string]int{}
	for _, c := range cd.Types {
		gotTypes[[2]string{c.From, c.To}] = c.Count
	}
	if fmt.Sprint(gotMoves) != fmt.Sprint(moves) || fmt.Sprint(gotTypes) != fmt.Sprint(types) {
		t.Errorf("contact moves %v types %v; want %v and %v", gotMoves, gotTypes, moves, types)
	}
	// Every move changes the Segment label (each segment has its own item).
	labels := 0
	for _, n := range moves {
		labels += n
	}
	if cd.Evaluated != 150 || cd.Changed != changed || cd.Labels != labels || len(cd.Pipelines) != 0 || len(moves) < 2 {
		t.Errorf("contacts: evaluated %d changed %d labels %d pipelines %v; want 150, %d, %d, none", cd.Evaluated, cd.Changed, cd.Labels, cd.Pipelines, changed, labels)
	}

	// Deals had no scheme: premium ones move from no segment, and the open
	// ones outside the default pipeline move there.
	pipes := map[[2]string]int{}
	wantPremium := 0
	for _, dl := range sb.deals {
		if !premium(dl, after) {
			continue
		}
		wantPremium++
		if dl.semantic == "P" && dl.category != 0 {
			pipes[[2]string{fmt.Sprintf("%d:%s", dl.category, dl.stage), "0:NEW"}]++
		}
	}
	dd := dryRunScheme(t, d.Schemes, segment.EntityDeal)
	gotPipes := map[[2]string]int{}
	for _, c := range dd.Pipelines {
		gotPipes[[2]string{c.From, c.To}] = c.Count
	}
	if dd.Evaluated != 500 || dd.Changed != wantPremium || len(dd.Moves) != 1 || dd.Moves[0].From != "" || dd.Moves[0].To != "premium" ||
		dd.Moves[0].Count != wantPremium || dd.Labels != 0 || fmt.Sprint(gotPipes) != fmt.Sprint(pipes) || len(pipes) == 0 {
		t.Errorf("deals: %+v; want %d premium moves from no segment and pipelines %v", dd, wantPremium, pipes)
	}
	if d.Evaluated != 650 || d.Changed != cd.Changed+dd.Changed {
		t.Errorf("totals: evaluated %d changed %d", d.Evaluated, d.Changed)
	}
	t.Logf("dry-run: %d changed of %d; contacts %v; %d deals move pipeline; %d ms", d.Changed, d.Evaluated, moves, len(pipes), d.TookMS)
}

func dryRunScheme(t *testing.T, schemes []engine.SchemeDiff, e segment.Entity) engine.SchemeDiff {
	t.Helper()
	return find(t, schemes, func(s engine.SchemeDiff) bool { return s.Entity == e })
}

// applyConfig saves cfg as the admin and waits for its recompute.
func applyConfig(t *testing.T, s *settingsStack, admin, cfg string) {
	t.Helper()
	sc, _ := s.store.Config(context.Background(), s.sim.MemberID())
	r := s.do("PUT", "/api/v1/config", admin, map[string]any{"base_version": sc.Version, "config": json.RawMessage(cfg)})
	if r.Status != 200 {
		t.Fatalf("save: %d %s", r.Status, r.Raw)
	}
	s.WaitBackfill(60 * time.Second)
}

// The card tab's record view: the segment badge the record carries, its
// type and pipeline by name, why (lines in the session's language), and
// the history of what the app wrote. Unknown records are 404, bad ids 400.
func TestRecordExplainsSegmentWithHistory(t *testing.T) {
	s := newSettingsStack(t, "ru")
	s.sim.Seed(b24sim.GenOptions{Contacts: 60, Companies: 10, Deals: 200})
	admin := s.login(1)
	applyConfig(t, s, admin, savedInsightConfig)
	sb := readSimBase(t, s)
	keys := sb.contactKeys(2, false)
	var buyer, rest int64
	for _, id := range slices.Sorted(mapKeys(keys)) {
		if keys[id] == "buyer" && buyer == 0 {
			buyer = id
		}
		if keys[id] == "rest" && rest == 0 {
			rest = id
		}
	}
	if buyer == 0 || rest == 0 {
		t.Fatalf("no buyer or no rest among %v", keys)
	}
	r := s.do("GET", fmt.Sprintf("/api/v1/records/contact/%d", buyer), admin, nil)
	if r.Status != 200 {
		t.Fatalf("record: %d %s", r.Status, r.Raw)
	}
	var v handlers.RecordView
	decodeJSON(t, r.Raw, &v)
	if v.Segment == nil || v.Segment.Key != "buyer" || v.Segment.Name != "Buyer" || v.Segment.Color != "#d4380d" ||
		v.Title != sb.contacts[buyer].title || v.Type != sb.contacts[buyer].typeID || v.TypeName == "" || v.ConfigVersion != 1 || v.Pending ||
		v.URL != fmt.Sprintf("%s/crm/contact/details/%d/", strings.TrimSuffix(s.sim.URL(), "/"), buyer) {
		t.Fatalf("record view: %s", r.Raw)
	}
	// Why, in the editor's words and the portal's language: the condition
	// that held, with the value seen; nothing tried before it.
	ex := v.Explanation
	if ex == nil || ex.Otherwise || len(ex.Lines) != 1 || len(ex.Others) != 0 ||
		!regexp.MustCompile(`^Выигранных сделок: \d+ \(не меньше 2\)$`).MatchString(ex.Lines[0]) || ex.Summary != ex.Lines[0] {
		t.Fatalf("explanation: %s", r.Raw)
	}
	if len(v.History) != 1 || v.History[0].To.Segment != "buyer" || v.History[0].To.SegmentName != "Buyer" || v.History[0].From.Segment != "" ||
		v.History[0].ConfigVersion != 1 || v.History[0].Trigger != app.TriggerConfig || v.History[0].TriggerText != "Пересчёт после сохранения правил" ||
		v.History[0].Why.Summary != ex.Summary {
		t.Errorf("history %+v", v.History)
	}

	// A rest contact: no segment held, so the explanation says so and
	// names the nearest miss, in Russian for this portal.
	r = s.do("GET", fmt.Sprintf("/api/v1/records/contact/%d", rest), admin, nil)
	decodeJSON(t, r.Raw, &v)
	ex = v.Explanation
	if r.Status != 200 || v.Segment == nil || v.Segment.Key != "rest" || ex == nil || !ex.Otherwise ||
		ex.Summary != "Ни один из сегментов выше не подходит." || len(ex.Lines) != 1 ||
		!regexp.MustCompile(`^Ближе всего: Buyer: Выигранных сделок: [01], нужно не меньше 2$`).MatchString(ex.Lines[0]) ||
		len(ex.Others) != 1 || ex.Others[0].Name != "Buyer" || !strings.HasPrefix(ex.Others[0].Missed, "Выигранных сделок: ") {
		t.Fatalf("rest contact: %d %s", r.Status, r.Raw)
	}

	// A deal: its pipeline by name.
	r = s.do("GET", "/api/v1/records/deal/1", admin, nil)
	decodeJSON(t, r.Raw, &v)
	if r.Status != 200 || v.Segment != nil || v.Explanation != nil || !strings.Contains(v.Pipeline, ":") || v.PipelineName == "" || v.Title == "" {
		t.Fatalf("deal: %d %s", r.Status, r.Raw)
	}

	for path, want := range map[string]int{
		"/api/v1/records/contact/999999": 404, "/api/v1/records/lead/1": 400, "/api/v1/records/contact/abc": 400,
		"/api/v1/records/contact/-1": 400, "/api/v1/records/contact/0": 400, "/api/v1/records/contact/99999999999999999999": 400,
	} {
		r := s.do("GET", path, admin, nil)
		msg, _ := r.Body["message"].(string)
		if r.Status != want || !strings.ContainsAny(msg, "абвгдеёжзийклмнопрстуфхцчшщыэюя") {
			t.Errorf("%s: %d %s, want %d with a Russian message", path, r.Status, r.Raw, want)
		}
	}
}

func mapKeys[V any](m map[int64]V) func(func(int64) bool) {
	return func(yield func(int64) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// The audit list filters by record type, segment (before or after) and
// record, newest first, with the records' names and links.
func TestAuditListFilters(t *testing.T) {
	s := newSettingsStack(t, "en")
	s.sim.Seed(b24sim.GenOptions{Contacts: 80, Companies: 10, Deals: 250})
	admin := s.login(1)
	applyConfig(t, s, admin, savedInsightConfig)
	keys := readSimBase(t, s).contactKeys(2, false)
	buyers := 0
	for _, k := range keys {
		if k == "buyer" {
			buyers++
		}
	}
	list := func(q string) []handlers.ChangeView {
		t.Helper()
		r := s.do("GET", "/api/v1/audit"+q, admin, nil)
		if r.Status != 200 {
			t.Fatalf("audit%s: %d %s", q, r.Status, r.Raw)
		}
		var out struct{ Entries []handlers.ChangeView }
		decodeJSON(t, r.Raw, &out)
		return out.Entries
	}
	if n := len(list("")); n != 50 {
		t.Errorf("default limit: %d entries", n)
	}
	if n := len(list("?limit=500")); n != 80 {
		t.Errorf("limit above 200 is capped, and there are 80 changes: got %d", n)
	}
	got := list("?entity=contact&segment=buyer&limit=200")
	if len(got) != buyers {
		t.Errorf("buyer filter: %d entries, want %d", len(got), buyers)
	}
	for _, e := range got {
		if e.To.Segment != "buyer" || keys[e.ID] != "buyer" || e.Title == "" || !strings.HasSuffix(e.URL, fmt.Sprintf("/crm/contact/details/%d/", e.ID)) {
			t.Errorf("entry %+v", e)
		}
	}
	one := got[0].ID
	if got := list(fmt.Sprintf("?entity=contact&record=%d", one)); len(got) != 1 || got[0].ID != one {
		t.Errorf("record filter: %+v", got)
	}
	if got := list(fmt.Sprintf("?record=%d&segment=rest", one)); len(got) != 0 {
		t.Errorf("a buyer's changes under segment=rest: %+v", got)
	}
	if got := list("?entity=deal"); len(got) != 0 {
		t.Errorf("no deal was written, yet: %+v", got)
	}
	for _, q := range []string{"?entity=lead", "?record=x", "?limit=0", "?limit=ten", "?segment=" + strings.Repeat("k", 65)} {
		if r := s.do("GET", "/api/v1/audit"+q, admin, nil); r.Status != 400 || r.Body["message"] == "" {
			t.Errorf("audit%s: %d %s, want 400", q, r.Status, r.Raw)
		}
	}
	// The list names any owner's records: administrators only.
	if r := s.do("GET", "/api/v1/audit", s.login(s.rep.ID), nil); r.Status != 403 || !strings.Contains(r.Body["message"].(string), "administrators") {
		t.Errorf("a rep's audit: %d %s, want 403", r.Status, r.Raw)
	}
}

// The dashboard shows the saved config's segments with the counts the
// records carry, the last recompute, the queues from asynq, the portal's
// REST limits by its plan with the requests the app sent in the last hour,
// and the methods that ran longest in the last 10 minutes.
func TestDashboard(t *testing.T) {
	s := newSettingsStack(t, "en")
	rep := s.login(s.rep.ID)
	r := s.do("GET", "/api/v1/dashboard", rep, nil)
	if r.Status != 200 || r.Body["last_recompute"] != nil || len(r.Body["schemes"].([]any)) != 0 {
		t.Fatalf("before any config: %d %s", r.Status, r.Raw)
	}
	s.sim.Seed(b24sim.GenOptions{Contacts: 80, Companies: 10, Deals: 250})
	s.sim.SetOperating(480*time.Second, map[string]time.Duration{"crm.item.list": 1500 * time.Millisecond})
	admin := s.login(1)
	applyConfig(t, s, admin, savedInsightConfig)
	keys := readSimBase(t, s).contactKeys(2, false)
	want := map[string]int{}
	for _, k := range keys {
		want[k]++
	}
	// Every request the simulator saw came from the app's one client: its
	// jobs' with the portal's grant and the sessions' checks with the users'
	// own tokens; the portal counts them all in one budget.
	sent := len(s.sim.Requests())
	r = s.do("GET", "/api/v1/dashboard", admin, nil)
	if r.Status != 200 {
		t.Fatalf("dashboard: %d %s", r.Status, r.Raw)
	}
	var d struct {
		Schemes       []engine.SchemeStanding `json:"schemes"`
		LastRecompute *app.Progress           `json:"last_recompute"`
		Queue         *handlers.QueueHealth   `json:"queue"`
		REST          *handlers.RESTBudget    `json:"rest"`
		Portal        map[string]string       `json:"portal"`
		ConfigVersion int                     `json:"config_version"`
	}
	decodeJSON(t, r.Raw, &d)
	cs := schemeOf(t, d.Schemes, segment.EntityContact)
	if cs.Segments[0].Key != "buyer" || cs.Segments[0].Count != want["buyer"] || cs.Otherwise.Count != want["rest"] ||
		cs.Otherwise.Key != "rest" || cs.Total != 80 || cs.Segments[0].Color != "#d4380d" || len(cs.Segments[0].Samples) == 0 {
		t.Errorf("contacts %+v; want %v", cs, want)
	}
	if d.LastRecompute == nil || d.LastRecompute.State != "done" || d.LastRecompute.Total == 0 || d.ConfigVersion != 1 {
		t.Errorf("last recompute %+v", d.LastRecompute)
	}
	if d.Queue == nil || d.Queue.Pending != 0 || d.Queue.Retry != 0 {
		t.Errorf("queue %+v", d.Queue)
	}
	// The simulated portal is on the Free plan ("project").
	if d.REST == nil || d.REST.RequestsLastHour != sent || d.REST.RatePerSecond != 2 || d.REST.Burst != 50 || d.REST.LimitedLastHour != 0 ||
		d.REST.OperatingLimitS != 480 || d.Portal["plan"] != "free" || d.Portal["license"] != "project" || d.Portal["state"] != "active" {
		t.Errorf("rest %+v (the simulator saw %d), portal %v", d.REST, sent, d.Portal)
	}
	if d.REST != nil {
		wantOperating(t, s, d.REST.Operating)
	}

	// A record changes in the mirror: the dashboard follows (the base in
	// memory catches up through the change log).
	ctx := context.Background()
	mirror := app.NewMirror(s.rdb)
	var moved int64
	for id, k := range keys {
		if k == "rest" {
			moved = id
			break
		}
	}
	rows, _ := mirror.Clients(ctx, s.sim.MemberID(), segment.EntityContact, []int64{moved})
	rows[moved].Key = "buyer"
	if err := mirror.PutClients(ctx, s.sim.MemberID(), segment.EntityContact, []*app.MirrorClient{rows[moved]}); err != nil {
		t.Fatal(err)
	}
	r = s.do("GET", "/api/v1/dashboard", rep, nil)
	decodeJSON(t, r.Raw, &d)
	if cs := schemeOf(t, d.Schemes, segment.EntityContact); cs.Segments[0].Count != want["buyer"]+1 || cs.Otherwise.Count != want["rest"]-1 {
		t.Errorf("after a change: buyer %d rest %d, want %d and %d", cs.Segments[0].Count, cs.Otherwise.Count, want["buyer"]+1, want["rest"]-1)
	}
	// The rep's dashboard has the counts and no records.
	if cs := schemeOf(t, d.Schemes, segment.EntityContact); len(cs.Segments[0].Samples) != 0 || len(cs.Otherwise.Samples) != 0 {
		t.Errorf("the rep's dashboard names records: %+v", cs)
	}
}

// Every new route needs a valid session of an installed portal, and a
// portal's session never reads another portal's records, counts or audit.
func TestInsightRoutesAreBoundToTheSessionPortal(t *testing.T) {
	s := newSettingsStack(t, "en")
	ctx := context.Background()
	memberA := s.sim.MemberID()
	s.sim.Seed(b24sim.GenOptions{Contacts: 20, Companies: 3, Deals: 40})
	syncMirror(t, s)

	// Portal B, installed in the same store, with records of its own.
	const memberB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	if err := s.store.Save(ctx, &bitrix.Token{MemberID: memberB, AccessToken: "b", ClientEndpoint: "https://b.bitrix24.com/rest/"}); err != nil {
		t.Fatal(err)
	}
	if err := s.store.SetState(ctx, memberB, app.StateActive, ""); err != nil {
		t.Fatal(err)
	}
	mirror := app.NewMirror(s.rdb)
	var bContacts []*app.MirrorClient
	for i := int64(1001); i <= 1010; i++ {
		bContacts = append(bContacts, &app.MirrorClient{ID: i, Key: "b_only", Title: "B contact"})
	}
	if err := mirror.PutClients(ctx, memberB, segment.EntityContact, bContacts); err != nil {
		t.Fatal(err)
	}
	if err := s.store.AddAudit(ctx, memberB, []app.AuditEntry{{At: time.Now(), Entity: "contact", ID: 1001, To: app.Outcome{Segment: "b_only"}}}); err != nil {
		t.Fatal(err)
	}
	bCfg := `{"schemes": [{"entity": "contact", "segments": [{"key": "b_only", "name": "B only", "when": {"fact": "won_count", "op": ">=", "value": 0}}]}]}`
	if _, err := s.store.PutConfig(ctx, memberB, 0, json.RawMessage(bCfg), 1); err != nil {
		t.Fatal(err)
	}
	tokB := s.sessions.Issue(handlers.Session{MemberID: memberB, UserID: 1, Admin: true, Expires: s.clock.Now().Add(time.Hour).Unix()})
	tokA := s.login(1)

	draft := map[string]any{"config": json.RawMessage(savedInsightConfig)}
	pa := s.do("POST", "/api/v1/preview", tokA, draft)
	pb := s.do("POST", "/api/v1/preview", tokB, draft)
	var a, b previewBody
	decodeJSON(t, pa.Raw, &a)
	decodeJSON(t, pb.Raw, &b)
	if pa.Status != 200 || pb.Status != 200 || a.Mirror.Contacts != 20 || b.Mirror.Contacts != 10 || b.Mirror.Deals != 0 {
		t.Fatalf("previews: A %d %+v, B %d %+v", pa.Status, a.Mirror, pb.Status, b.Mirror)
	}
	if u := b.Schemes[0].Otherwise.Samples[0].URL; !strings.HasPrefix(u, "https://b.bitrix24.com/crm/contact/details/10") {
		t.Errorf("B's sample links to %s", u)
	}
	if r := s.do("GET", "/api/v1/records/contact/1001", tokA, nil); r.Status != 404 {
		t.Errorf("A reads B's contact: %d %s", r.Status, r.Raw)
	}
	if r := s.do("GET", "/api/v1/records/contact/1001", tokB, nil); r.Status != 200 || r.Body["segment"].(map[string]any)["name"] != "B only" {
		t.Errorf("B reads its contact: %d %s", r.Status, r.Raw)
	}
	if r := s.do("GET", "/api/v1/audit", tokA, nil); strings.Contains(string(r.Raw), "b_only") {
		t.Errorf("A's audit shows B's change: %s", r.Raw)
	}
	if r := s.do("GET", "/api/v1/audit", tokB, nil); r.Status != 200 || !strings.Contains(string(r.Raw), "b_only") {
		t.Errorf("B's audit: %d %s", r.Status, r.Raw)
	}
	if r := s.do("GET", "/api/v1/dashboard", tokA, nil); strings.Contains(string(r.Raw), "b_only") || r.Body["config_version"] != float64(0) {
		t.Errorf("A's dashboard shows B's segments: %s", r.Raw)
	}
	if r := s.do("GET", "/api/v1/dashboard", tokB, nil); !strings.Contains(string(r.Raw), `"count":10`) {
		t.Errorf("B's dashboard: %s", r.Raw)
	}

	payload, sig, _ := strings.Cut(tokA, ".")
	other := &handlers.Sessions{Store: s.store, Key: []byte(strings.Repeat("x", 32)), Clock: s.clock.Now}
	bad := map[string]string{
		"missing":                    "",
		"garbage":                    "not-a-token",
		"tampered":                   payload + "." + strings.Repeat("A", len(sig)),
		"another key":                other.Issue(handlers.Session{MemberID: memberA, UserID: 1, Admin: true, Expires: s.clock.Now().Add(time.Hour).Unix()}),
		"other portal":               s.sessions.Issue(handlers.Session{MemberID: "ffffffffffffffffffffffffffffffff", UserID: 1, Expires: s.clock.Now().Add(time.Hour).Unix()}),
		"expired":                    s.sessions.Issue(handlers.Session{MemberID: memberA, UserID: 1, Expires: s.clock.Now().Add(-time.Second).Unix()}),
		"B's payload, A's signature": strings.Split(tokB, ".")[0] + "." + sig,
	}
	routes := [][2]string{{"POST", "/api/v1/preview"}, {"POST", "/api/v1/dryrun"}, {"POST", "/api/v1/dry-run"},
		{"GET", "/api/v1/records/contact/1"}, {"GET", "/api/v1/audit"}, {"GET", "/api/v1/dashboard"}}
	for name, tok := range bad {
		for _, rt := range routes {
			r := s.do(rt[0], rt[1], tok, draft)
			if r.Status != 401 || r.Body["error"] != "unauthorized" || r.Body["message"] == "" {
				t.Errorf("%s token, %s %s: %d %s, want 401", name, rt[0], rt[1], r.Status, r.Raw)
			}
		}
	}
	// B uninstalls: its sessions end.
	if err := s.store.SetState(ctx, memberB, app.StateUninstalled, ""); err != nil {
		t.Fatal(err)
	}
	if r := s.do("GET", "/api/v1/dashboard", tokB, nil); r.Status != 401 {
		t.Errorf("uninstalled portal's session: %d", r.Status)
	}
}
