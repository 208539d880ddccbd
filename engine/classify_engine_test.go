package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/shopspring/decimal"

	"segmentor/app"
	"segmentor/app/segment"
	"segmentor/bitrix"
	"segmentor/bitrix/b24sim"
	"segmentor/engine"
	"segmentor/internal/redistest"
	"segmentor/internal/testkit"
)

const engineConfig = `{"schemes": [
 {"entity": "contact", "segments": [
   {"key": "vip", "name": "VIP", "when": {"all": [{"fact": "won_amount", "window_days": 365, "op": ">=", "value": 60000}]},
    "set": {"type": "PARTNER", "label": true}},
   {"key": "sleeping", "name": "Sleeping", "when": {"all": [{"fact": "days_since_last_won", "op": ">", "value": 180}]},
    "set": {"label": true}}],
  "otherwise": {"key": "regular", "name": "Regular", "set": {"type": "CLIENT", "label": true}}},
 {"entity": "company", "segments": [
   {"key": "big", "name": "Big", "when": {"any": [{"fact": "won_count", "op": ">=", "value": 6}, {"fact": "rfm", "op": "=", "value": "555"}]},
    "set": {"type": "PARTNER", "label": true}},
   {"key": "multi", "name": "Multi-product", "when": {"all": [{"fact": "product_groups", "op": ">=", "value": 5}]},
    "set": {"label": true}}],
  "otherwise": {"key": "small", "name": "Small", "set": {"type": "CUSTOMER", "label": true}}},
 {"entity": "deal", "segments": [
   {"key": "premium", "name": "Premium", "when": {"all": [{"fact": "client_segment", "op": "in", "value": ["vip", "big"]}]},
    "set": {"type": "COMPLEX", "label": true, "pipeline": {"category_id": %d, "stage_id": "C%d:NEW", "apply": "always"}}},
   {"key": "web", "name": "Web", "when": {"all": [{"fact": "field:SOURCE_ID", "op": "=", "value": "WEB"}]},
    "set": {"label": true}}]}
]}`

type engineEnv struct {
	sim      *b24sim.Portal
	rdb      *redis.Client
	store    *app.Store
	cls      *engine.Classifier
	portal   *bitrix.PortalClient
	now      time.Time
	memberID string
	target   int // the premium pipeline
	profile  bitrix.Profile
}

func newEngineEnv(t testing.TB, gen b24sim.GenOptions) *engineEnv {
	t.Helper()
	return newSimEngineEnv(t, b24sim.Options{RatePerSecond: -1}, gen, bitrix.UnlimitedProfile())
}

// newLimitedEngineEnv is newEngineEnv with the simulator's rate limit
// (0: the plan's default, 2/s with a bucket of 50; <0: none) and the app's
// REST budget profile.
func newLimitedEngineEnv(t testing.TB, gen b24sim.GenOptions, rate float64, profile bitrix.Profile) *engineEnv {
	return newSimEngineEnv(t, b24sim.Options{RatePerSecond: rate}, gen, profile)
}

// newSimEngineEnv is newEngineEnv with the simulator's options (Seed 11
// unless set) and the app's REST budget profile.
func newSimEngineEnv(t testing.TB, opts b24sim.Options, gen b24sim.GenOptions, profile bitrix.Profile) *engineEnv {
	t.Helper()
	ctx := context.Background()
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	if opts.Seed == 0 {
		opts.Seed = 11
	}
	sim := b24sim.New(opts)
	t.Cleanup(sim.Close)
	gen.Now = now
	st := sim.Seed(gen)

	rdb, _ := redistest.New(t)
	seal, err := app.NewSealer([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	store := app.NewStore(rdb, seal, func() time.Time { return now })
	tk := sim.IssueTokens(1)
	if err := store.Save(ctx, &bitrix.Token{MemberID: sim.MemberID(), AccessToken: tk.AccessToken,
		RefreshToken: tk.RefreshToken, Expiry: tk.Expires, ClientEndpoint: tk.ClientEndpoint}); err != nil {
		t.Fatal(err)
	}
	if err := store.SetState(ctx, sim.MemberID(), app.StateActive, ""); err != nil {
		t.Fatal(err)
	}
	e := &engineEnv{sim: sim, rdb: rdb, store: store, now: now, memberID: sim.MemberID(), profile: profile}
	bc := e.client(t, nil)
	p := bc.Portal(sim.MemberID())

	// What setup does: the Segment field on each entity (no items), and
	// the reference data cached.
	var cmds []bitrix.Command
	for _, e := range []string{"contact", "company", "deal"} {
		cmds = append(cmds, bitrix.Command{Name: "add_" + e, Method: "crm." + e + ".userfield.add", Params: map[string]any{
			"fields": map[string]any{"FIELD_NAME": "SEGMENTOR", "USER_TYPE_ID": "enumeration", "XML_ID": "SEGMENTOR_SEGMENT",
				"LABEL": "Segment", "MULTIPLE": "N"}}})
	}
	res, _, err := p.Batch(ctx, cmds, true)
	if err != nil || len(res.Failed()) > 0 {
		t.Fatalf("setup: %v %v", err, res.Failed())
	}
	dir, err := app.FetchDirectory(ctx, p, []string{"contact", "company", "deal"}, "UF_CRM_SEGMENTOR")
	if err != nil {
		t.Fatal(err)
	}
	if err := store.SaveDirectory(ctx, sim.MemberID(), dir); err != nil {
		t.Fatal(err)
	}
	target := st.Pipelines[len(st.Pipelines)-1]
	if _, err := store.PutConfig(ctx, sim.MemberID(), 0, json.RawMessage(fmt.Sprintf(engineConfig, target, target)), 1); err != nil {
		t.Fatal(err)
	}
	e.cls, e.portal, e.target = e.classifier(bc), p, target
	return e
}

// client is a REST client of the app as one process has it; transport,
// if set, carries its HTTP requests.
func (e *engineEnv) client(t testing.TB, transport http.RoundTripper) *bitrix.Client {
	t.Helper()
	profile := e.profile
	cfg := bitrix.Config{ClientID: e.sim.ClientID(), ClientSecret: e.sim.ClientSecret(),
		OAuthURL: e.sim.OAuthURL(), Redis: e.rdb, Tokens: e.store, AllowHTTP: true, RetryWait: 20 * time.Millisecond,
		Profile: func(context.Context, string) (bitrix.Profile, error) { return profile, nil }}
	if transport != nil {
		cfg.HTTPClient = &http.Client{Transport: transport, Timeout: time.Minute}
	}
	bc, err := bitrix.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return bc
}

// classifier is the engine as one process has it, at the test's time.
func (e *engineEnv) classifier(bc *bitrix.Client) *engine.Classifier {
	return &engine.Classifier{Store: e.store, Mirror: app.NewMirror(e.rdb), Bitrix: bc, Clock: func() time.Time { return e.now }}
}

// expected classifies every record from the simulator's own data, with the
// rule engine but nothing of the app's mirror or sync.
type expected struct {
	key   map[string]map[int64]string // entity → id → segment key
	rules *segment.Rules
	cfg   segment.Config
}

func (e *engineEnv) expect(t *testing.T) *expected {
	t.Helper()
	ctx := context.Background()
	sc, err := e.store.Config(ctx, e.memberID)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := segment.ParseConfig(sc.Config)
	if err != nil {
		t.Fatal(err)
	}
	rules, err := segment.Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rates := segment.Rates{Base: "USD", PerUnit: map[string]decimal.Decimal{}}
	var curs []struct{ CURRENCY, AMOUNT, AMOUNT_CNT, BASE string }
	if _, err := e.portal.Call(ctx, "crm.currency.list", nil, &curs); err != nil {
		t.Fatal(err)
	}
	for _, c := range curs {
		a, _ := decimal.NewFromString(c.AMOUNT)
		n, _ := decimal.NewFromString(c.AMOUNT_CNT)
		rates.PerUnit[c.CURRENCY] = a.Div(n)
		if c.BASE == "Y" {
			rates.Base = c.CURRENCY
		}
	}
	// Every contact of every deal (crm.*.get shows only the first).
	contactsOf := map[int64][]int64{}
	_, err = e.portal.Scan(ctx, bitrix.ScanOptions{Method: "crm.item.list", EntityTypeID: 2, Select: []string{"id", "contactIds"}},
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
	section := map[int64]int{}
	for pr := range e.sim.Records("product") {
		section[testkit.Num(pr["ID"])] = int(testkit.Num(pr["SECTION_ID"]))
	}
	var deals []segment.Deal
	dealsOf := map[[2]any][]segment.Deal{}
	for r := range e.sim.Records("deal") {
		id := testkit.Num(r["ID"])
		amt, _ := decimal.NewFromString(b24sim.Scalar(r["OPPORTUNITY"]))
		d := segment.Deal{ID: id, CompanyID: testkit.Num(r["COMPANY_ID"]), ContactIDs: contactsOf[id],
			CategoryID: int(testkit.Num(r["CATEGORY_ID"])), StageID: b24sim.Scalar(r["STAGE_ID"]), Semantic: segment.Semantic(b24sim.Scalar(r["STAGE_SEMANTIC_ID"])[0]),
			Amount: amt, Currency: b24sim.Scalar(r["CURRENCY_ID"]), Created: testkit.When(r["DATE_CREATE"]), Closed: testkit.When(r["CLOSEDATE"]),
			TypeID: b24sim.Scalar(r["TYPE_ID"]), Fields: map[string]string{}}
		if v := b24sim.Scalar(r["SOURCE_ID"]); v != "" {
			d.Fields["SOURCE_ID"] = v
		}
		for _, row := range e.sim.ProductRows(int(id)) {
			s := section[testkit.Num(row["PRODUCT_ID"])]
			if !containsInt(d.ProductSections, s) {
				d.ProductSections = append(d.ProductSections, s)
			}
		}
		sortInts(d.ProductSections)
		deals = append(deals, d)
		if d.CompanyID != 0 {
			dealsOf[[2]any{"company", d.CompanyID}] = append(dealsOf[[2]any{"company", d.CompanyID}], d)
		}
		for _, c := range d.ContactIDs {
			dealsOf[[2]any{"contact", c}] = append(dealsOf[[2]any{"contact", c}], d)
		}
	}
	ex := &expected{key: map[string]map[int64]string{}, rules: rules, cfg: cfg}
	env := segment.Env{Now: e.now, Rates: rates}
	for _, ent := range []segment.Entity{segment.EntityContact, segment.EntityCompany} {
		typeField := "TYPE_ID"
		if ent == segment.EntityCompany {
			typeField = "COMPANY_TYPE"
		}
		var clients []segment.Client
		for r := range e.sim.Records(string(ent)) {
			clients = append(clients, segment.Client{ID: testkit.Num(r["ID"]), Entity: ent, TypeID: b24sim.Scalar(r[typeField])})
		}
		b := segment.NewRFMBuilder(env, rules.RFMWindows())
		for _, c := range clients {
			b.Add(c, dealsOf[[2]any{string(ent), c.ID}])
		}
		cenv := env
		cenv.RFM = b.Build()
		f := segment.NewClientFacts(cenv)
		ex.key[string(ent)] = map[int64]string{}
		for _, c := range clients {
			f.Reset(c, dealsOf[[2]any{string(ent), c.ID}])
			ex.key[string(ent)][c.ID] = rules.Evaluate(ent, f).Key
		}
	}
	df := segment.NewDealFacts(func(ent segment.Entity, id int64) string { return ex.key[string(ent)][id] }, e.now)
	ex.key["deal"] = map[int64]string{}
	for i := range deals {
		df.Reset(&deals[i])
		ex.key["deal"][deals[i].ID] = rules.Evaluate(segment.EntityDeal, df).Key
	}
	return ex
}

// check compares every record in the simulator with the expectation: the
// Segment field's item, the type a segment sets, and the pipeline of open
// deals in a moving segment. It returns the count per segment key.
func (e *engineEnv) check(t *testing.T, ex *expected) map[string]int {
	t.Helper()
	ctx := context.Background()
	counts := map[string]int{}
	for _, s := range ex.cfg.Schemes {
		ent := string(s.Entity)
		var fields []struct {
			LIST []struct{ ID, XML_ID string }
		}
		if _, err := e.portal.Call(ctx, "crm."+ent+".userfield.list", map[string]any{"filter": map[string]any{"FIELD_NAME": "UF_CRM_SEGMENTOR"}}, &fields); err != nil {
			t.Fatal(err)
		}
		keyOf := map[string]string{}
		for _, it := range fields[0].LIST {
			keyOf[it.ID] = it.XML_ID
		}
		segs := map[string]segment.Segment{}
		for _, sg := range s.All() {
			segs[sg.Key] = sg
		}
		typeField := "TYPE_ID"
		if ent == "company" {
			typeField = "COMPANY_TYPE"
		}
		bad := 0
		for r := range e.sim.Records(ent) {
			id := testkit.Num(r["ID"])
			want := ex.key[ent][id]
			counts[ent+":"+want]++
			got := keyOf[b24sim.Scalar(r["UF_CRM_SEGMENTOR"])]
			sg := segs[want]
			var problems []string
			if got != want {
				problems = append(problems, fmt.Sprintf("segment %q, want %q", got, want))
			}
			if sg.Set.Type != "" && b24sim.Scalar(r[typeField]) != sg.Set.Type {
				problems = append(problems, fmt.Sprintf("type %s, want %s", b24sim.Scalar(r[typeField]), sg.Set.Type))
			}
			if p := sg.Set.Pipeline; p != nil && b24sim.Scalar(r["STAGE_SEMANTIC_ID"]) == "P" && int(testkit.Num(r["CATEGORY_ID"])) != p.CategoryID {
				problems = append(problems, fmt.Sprintf("pipeline %v, want %d", r["CATEGORY_ID"], p.CategoryID))
			}
			if len(problems) > 0 {
				if bad++; bad <= 5 {
					t.Errorf("%s %d: %s", ent, id, strings.Join(problems, "; "))
				}
			}
		}
		if bad > 0 {
			t.Errorf("%s: %d records differ", ent, bad)
		}
	}
	return counts
}

func TestEngineBackfillEchoAndLiveEdit(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds and classifies a 4,200-record portal")
	}
	ctx := context.Background()
	e := newEngineEnv(t, b24sim.GenOptions{Contacts: 1000, Companies: 200, Deals: 3000})

	e.sim.ResetLog()
	st, err := e.cls.Backfill(ctx, e.memberID, app.TriggerRecompute)
	if err != nil {
		t.Fatal(err)
	}
	sim := e.sim.Stats()
	rows := st.Sync.Rows()
	t.Logf("backfill: %+v", st)
	t.Logf("sync: %d rows in %d requests (%.0f rows/request); writes: %d records in %d requests; simulator saw %d HTTP requests",
		rows, st.Sync.Requests, float64(rows)/float64(st.Sync.Requests), st.Written, st.WriteRequests, sim.HTTPRequests)
	if st.Sync.Deals != 3000 || st.Sync.Contacts != 1000 || st.Sync.Companies != 200 || st.Sync.ProductRows == 0 {
		t.Errorf("sync read %+v", st.Sync)
	}
	if st.Sync.Requests*2000 > rows+2000 {
		t.Errorf("sync: %d requests for %d rows; want at most one per 2,000 (rounded up)", st.Sync.Requests, rows)
	}
	if want := (st.Changed + 49) / 50; st.WriteRequests != want || st.Written != st.Changed {
		t.Errorf("writes: %d records in %d requests, want %d in %d", st.Written, st.WriteRequests, st.Changed, want)
	}
	// Sync, one request to add the Segment items, one to register the deal
	// segments' automation triggers, the writes: nothing else.
	if want := st.Sync.Requests + 1 + 1 + st.WriteRequests; sim.HTTPRequests != want {
		t.Errorf("simulator saw %d HTTP requests, want %d", sim.HTTPRequests, want)
	}
	prog, err := e.store.Progress(ctx, e.memberID, "backfill")
	if err != nil || prog.State != "done" || prog.Done != st.Written {
		t.Errorf("progress %+v, %v", prog, err)
	}

	ex := e.expect(t)
	counts := e.check(t, ex)
	t.Logf("segments: %v", counts)
	for _, k := range []string{"contact:vip", "contact:regular", "company:big", "company:small", "deal:premium", "deal:web", "deal:"} {
		if counts[k] == 0 {
			t.Errorf("no record in %s: the test config does not exercise it", k)
		}
	}

	// Echo: the events for our own writes re-read the records and write
	// nothing; a job of up to 250 records re-reads in one request.
	for _, ent := range []string{"contact", "company", "deal"} {
		var ids []int64
		for r := range e.sim.Records(ent) {
			if len(ids) < 250 {
				ids = append(ids, testkit.Num(r["ID"]))
			}
		}
		e.sim.ResetLog()
		if err := e.cls.Apply(ctx, engine.Change{MemberID: e.memberID, Entity: ent, IDs: ids}); err != nil {
			t.Fatal(err)
		}
		s := e.sim.Stats()
		if s.HTTPRequests != 1 || updates(s) != 0 {
			t.Errorf("echo of %d %ss: %d HTTP requests, %d updates; want 1 read and no write", len(ids), ent, s.HTTPRequests, updates(s))
		}
	}

	// Live edit: a big won deal makes its contact VIP, and the contact's
	// other open deals follow it into the premium pipeline.
	dealID, contactID := vipCandidate(t, e, ex)
	before := ex.key["contact"][contactID]
	closedBefore := map[int64]map[string]any{}
	for r := range e.sim.Records("deal") {
		if id := testkit.Num(r["ID"]); id != dealID && b24sim.Scalar(r["STAGE_SEMANTIC_ID"]) != "P" && slices.Contains(e.sim.DealContacts(int(id)), contactID) {
			closedBefore[id] = r
		}
	}
	winBig(t, e, dealID)
	e.sim.ResetLog()
	if err := e.cls.Apply(ctx, engine.Change{MemberID: e.memberID, Entity: "deal", IDs: []int64{dealID}}); err != nil {
		t.Fatal(err)
	}
	s := e.sim.Stats()
	t.Logf("live edit of deal %d: %d HTTP requests, %d updates", dealID, s.HTTPRequests, updates(s))
	if s.HTTPRequests != 2 {
		t.Errorf("live edit: %d HTTP requests, want one read and one write", s.HTTPRequests)
	}
	old := ex
	ex = e.expect(t)
	if got := ex.key["contact"][contactID]; got != "vip" || before == "vip" {
		t.Fatalf("contact %d: %q → %q; the test edit should make it vip", contactID, before, got)
	}
	// Knock-on reaches all the contact's deals: the open ones follow it
	// into the premium pipeline (check), the closed ones are relabelled in
	// place, never moved.
	open, closed := 0, 0
	for r := range e.sim.Records("deal") {
		id := testkit.Num(r["ID"])
		if id == dealID || testkit.Num(r["COMPANY_ID"]) != 0 || !slices.Contains(e.sim.DealContacts(int(id)), contactID) {
			continue
		}
		if b24sim.Scalar(r["STAGE_SEMANTIC_ID"]) == "P" {
			open++
			continue
		}
		closed++
		if b := closedBefore[id]; b24sim.Scalar(r["CATEGORY_ID"]) != b24sim.Scalar(b["CATEGORY_ID"]) || b24sim.Scalar(r["STAGE_ID"]) != b24sim.Scalar(b["STAGE_ID"]) {
			t.Errorf("closed deal %d moved: %v %v → %v %v", id, b["CATEGORY_ID"], b["STAGE_ID"], r["CATEGORY_ID"], r["STAGE_ID"])
		}
		if old.key["deal"][id] == ex.key["deal"][id] {
			t.Errorf("closed deal %d stays %q: the test wants its segment to change", id, ex.key["deal"][id])
		}
	}
	t.Logf("contact %d has %d other open and %d closed deals", contactID, open, closed)
	if open == 0 || closed == 0 {
		t.Errorf("contact %d: %d other open and %d closed deals; the test needs both", contactID, open, closed)
	}
	e.check(t, ex)
	audit, err := e.store.Audit(ctx, e.memberID, "contact", contactID)
	if err != nil || len(audit) == 0 || audit[0].To.Segment != "vip" || audit[0].Reason == nil ||
		audit[0].Reason.Segment != "vip" || len(audit[0].Reason.Held) == 0 || audit[0].Trigger != app.TriggerChange {
		t.Errorf("audit of contact %d: %+v, %v", contactID, audit, err)
	}
}

// vipCandidate finds a contact without a company, not VIP, with two open
// deals and a closed one, and the open deal whose big win (winBig) makes
// the contact VIP.
func vipCandidate(t *testing.T, e *engineEnv, ex *expected) (dealID, contactID int64) {
	t.Helper()
	deals, contacts := vipCandidates(t, e, ex, 1)
	return deals[0], contacts[0]
}

// vipCandidates is vipCandidate for n contacts, in id order.
func vipCandidates(t *testing.T, e *engineEnv, ex *expected, n int) (dealIDs, contactIDs []int64) {
	t.Helper()
	openOf, closedOf := map[int64][]int64{}, map[int64]int{}
	for r := range e.sim.Records("deal") {
		c := testkit.Num(r["CONTACT_ID"])
		if testkit.Num(r["COMPANY_ID"]) != 0 || c == 0 || len(e.sim.DealContacts(int(testkit.Num(r["ID"])))) != 1 {
			continue
		}
		if b24sim.Scalar(r["STAGE_SEMANTIC_ID"]) == "P" {
			openOf[c] = append(openOf[c], testkit.Num(r["ID"]))
		} else {
			closedOf[c]++
		}
	}
	for _, c := range slices.Sorted(maps.Keys(openOf)) {
		if open := openOf[c]; len(open) >= 2 && closedOf[c] > 0 && ex.key["contact"][c] != "vip" && len(contactIDs) < n {
			dealIDs, contactIDs = append(dealIDs, open[0]), append(contactIDs, c)
		}
	}
	if len(contactIDs) < n {
		t.Fatalf("%d contacts without a company with two open deals and a closed one; the test needs %d", len(contactIDs), n)
	}
	return dealIDs, contactIDs
}

// winBig has a user win the deal, worth 900,000 USD, yesterday.
func winBig(t *testing.T, e *engineEnv, dealID int64) {
	t.Helper()
	yesterday := e.now.AddDate(0, 0, -1).Format("2006-01-02")
	if err := e.sim.UserUpdate("deal", int(dealID), map[string]any{"OPPORTUNITY": "900000", "CURRENCY_ID": "USD", "CLOSEDATE": yesterday}, 1, false); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.WinDeal(int(dealID), 1); err != nil {
		t.Fatal(err)
	}
}

// A change whose writes take two requests fails after the first: the
// second is refused, or the process dies with the first one's answer lost.
// The client's new segment is computed before the writes; its deals, in the
// second request, are re-labelled on the retry. (A retry once found the
// client's new segment already stored by the first request, or by settling
// it, saw no change and left the client's other deals as they were.)
func TestEngineRetriedChangeStillRelabelsTheClientsDeals(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds and classifies a 4,200-record portal twice")
	}
	for _, lost := range []bool{false, true} {
		name := "second request refused"
		if lost {
			name = "first answer lost"
		}
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			e := newEngineEnv(t, b24sim.GenOptions{Contacts: 1000, Companies: 200, Deals: 3000})
			if _, err := e.cls.Backfill(ctx, e.memberID, app.TriggerRecompute); err != nil {
				t.Fatal(err)
			}
			ex := e.expect(t)
			dealID, contactID := vipCandidate(t, e, ex)
			// The won deal and 60 deals of other clients that become
			// Web: the contact's write comes first, its other deals'
			// writes after the 50 of the first request.
			ids := []int64{dealID}
			for r := range e.sim.Records("deal") {
				id := testkit.Num(r["ID"])
				if len(ids) <= 60 && ex.key["deal"][id] == "" && b24sim.Scalar(r["SOURCE_ID"]) != "WEB" && !slices.Contains(e.sim.DealContacts(int(id)), contactID) {
					if err := e.sim.UserUpdate("deal", int(id), map[string]any{"SOURCE_ID": "WEB"}, 1, false); err != nil {
						t.Fatal(err)
					}
					ids = append(ids, id)
				}
			}
			winBig(t, e, dealID)
			old := ex
			ex = e.expect(t)
			var relabel []int64
			for r := range e.sim.Records("deal") {
				id := testkit.Num(r["ID"])
				if id != dealID && slices.Contains(e.sim.DealContacts(int(id)), contactID) && old.key["deal"][id] != "premium" && ex.key["deal"][id] == "premium" {
					relabel = append(relabel, id)
				}
			}
			if ex.key["contact"][contactID] != "vip" || len(relabel) == 0 {
				t.Fatalf("contact %d is %q with %v to re-label; the test wants it vip with other deals", contactID, ex.key["contact"][contactID], relabel)
			}
			change := engine.Change{MemberID: e.memberID, Entity: "deal", IDs: ids}
			unwritten := map[int64]map[string]any{}
			for _, id := range relabel {
				unwritten[id], _ = e.sim.Record("deal", int(id))
			}

			// The retry waits for a batch cut off with no answer, which may
			// still run on the portal, not for one the portal answered.
			var waited []time.Duration
			e.cls.Sleep = func(_ context.Context, d time.Duration) error { waited = append(waited, d); return nil }
			e.sim.ResetLog()
			if lost {
				ctx, cancel := context.WithCancel(ctx)
				ks := &killSwitch{at: 1, during: true, kill: cancel, fired: make(chan struct{})}
				if err := e.classifier(e.client(t, ks)).Apply(ctx, change); err == nil {
					t.Fatal("the change whose process died reported success")
				}
				cancel()
			} else {
				e.sim.FailWrite(2)
				if err := e.cls.Apply(ctx, change); err == nil {
					t.Fatal("the change whose write was refused reported success")
				}
			}
			for _, id := range relabel {
				if rec, _ := e.sim.Record("deal", int(id)); !maps.Equal(rec, unwritten[id]) {
					t.Fatalf("deal %d was written before the retry, the fault came too late to test it: %v → %v", id, unwritten[id], rec)
				}
			}

			if err := e.cls.Apply(ctx, change); err != nil { // asynq's retry
				t.Fatal(err)
			}
			if lost && (len(waited) != 1 || waited[0] <= 0 || waited[0] > 30*time.Second) {
				t.Errorf("the retry waited %v for the batch whose answer was lost, want one wait of up to 30 s", waited)
			}
			if !lost && len(waited) != 0 {
				t.Errorf("the retry waited %v for a batch the portal answered with 500", waited)
			}
			s := e.sim.Stats()
			updated := b24sim.UpdatesByRecord(e.sim.Requests())
			t.Logf("fault and retry: %d HTTP requests, %d updates of %d records; contact %d's deals %v to re-label",
				s.HTTPRequests, updates(s), len(updated), contactID, relabel)
			e.check(t, ex)
			for rec, u := range updated {
				if len(u) > 1 {
					t.Errorf("%s written %d times: %v", rec, len(u), u)
				}
			}
			if left, err := e.store.InFlightWrites(ctx, e.memberID); err != nil || len(left) != 0 {
				t.Errorf("notes left after the retry: %+v, %v", left, err)
			}
		})
	}
}

// The portal refuses the write of one deal a client's new segment
// re-labels, or the deal is gone (deleted, its event lost). A gone deal
// leaves the mirror and the change succeeds. A refused one fails the
// change, but only its client keeps its old segment for the retry: another
// client of the same change, all of whose writes ran, is stored at once.
func TestEngineChangeWithARefusedOrGoneDeal(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds and classifies a 4,200-record portal")
	}
	ctx := context.Background()
	e := newEngineEnv(t, b24sim.GenOptions{Contacts: 1000, Companies: 200, Deals: 3000})
	if _, err := e.cls.Backfill(ctx, e.memberID, app.TriggerRecompute); err != nil {
		t.Fatal(err)
	}
	old := e.expect(t)
	won, contacts := vipCandidates(t, e, old, 3)
	// Contact 0's other deal is refused, contact 1's is deleted, contact
	// 2's are all written.
	other := func(c int64, except int64) int64 {
		for r := range e.sim.Records("deal") {
			if id := testkit.Num(r["ID"]); id != except && slices.Contains(e.sim.DealContacts(int(id)), c) && old.key["deal"][id] != "premium" {
				return id
			}
		}
		t.Fatalf("contact %d has no other deal to re-label", c)
		return 0
	}
	refused, gone := other(contacts[0], won[0]), other(contacts[1], won[1])
	e.sim.DenyUpdates("deal", int(refused), true)
	e.sim.SetEventDelivery(0, 1)
	if err := e.sim.UserDelete("deal", int(gone), 1); err != nil {
		t.Fatal(err)
	}
	e.sim.SetEventDelivery(0, 0)
	for _, d := range won {
		winBig(t, e, d)
	}
	change := engine.Change{MemberID: e.memberID, Entity: "deal", IDs: won}
	mirror := app.NewMirror(e.rdb)
	keyOf := func(c int64) string {
		rows, err := mirror.Clients(ctx, e.memberID, "contact", []int64{c})
		if err != nil || rows[c] == nil {
			t.Fatalf("mirror row of contact %d: %v", c, err)
		}
		return rows[c].Key
	}

	err := e.cls.Apply(ctx, change)
	if err == nil || !strings.Contains(err.Error(), "Access denied") {
		t.Fatalf("the change with a refused write: %v; want the refusal", err)
	}
	if k := keyOf(contacts[0]); k == "vip" {
		t.Errorf("contact %d, whose deal %d was refused, is stored vip: its retry would not re-label the deal", contacts[0], refused)
	}
	for _, c := range contacts[1:] {
		if k := keyOf(c); k != "vip" {
			t.Errorf("contact %d, all of whose writes ran, is stored %q; want vip", c, k)
		}
	}
	if rows, err := mirror.Deals(ctx, e.memberID, []int64{gone}); err != nil || rows[gone] != nil {
		t.Errorf("deal %d, deleted in the portal, is still in the mirror (%v)", gone, err)
	}

	e.sim.DenyUpdates("deal", int(refused), false)   // the rights are fixed
	if err := e.cls.Apply(ctx, change); err != nil { // asynq's retry
		t.Fatal(err)
	}
	e.check(t, e.expect(t))
	if k := keyOf(contacts[0]); k != "vip" {
		t.Errorf("contact %d after the retry is stored %q; want vip", contacts[0], k)
	}
}

func updates(s b24sim.Stats) int {
	n := 0
	for m, c := range s.Methods {
		if strings.HasSuffix(m, ".update") {
			n += c
		}
	}
	return n
}

func containsInt(l []int, x int) bool {
	for _, y := range l {
		if y == x {
			return true
		}
	}
	return false
}

func sortInts(l []int) {
	for i := 1; i < len(l); i++ {
		for j := i; j > 0 && l[j] < l[j-1]; j-- {
			l[j], l[j-1] = l[j-1], l[j]
		}
	}
}

// A changes job of 120 distinct deals (and one the portal deleted since)
// re-reads all of them in one HTTP request, a list command per 50 ids with
// their product rows beside them, and writes the changed records in
// ceil(changed/50) requests; nothing else is sent.
func TestEngineJobOf120DealsRereadsInOneRequest(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds and classifies a 1,300-record portal")
	}
	ctx := context.Background()
	e := newEngineEnv(t, b24sim.GenOptions{Contacts: 300, Companies: 60, Deals: 1000})
	if _, err := e.cls.Backfill(ctx, e.memberID, app.TriggerRecompute); err != nil {
		t.Fatal(err)
	}
	ex := e.expect(t)

	// 120 deals outside premium move in or out of "web" by their source;
	// one more open deal is deleted by a user.
	var ids []int64
	var deleted int64
	for r := range e.sim.Records("deal") {
		id := testkit.Num(r["ID"])
		switch {
		case ex.key["deal"][id] == "premium":
		case len(ids) < 120:
			ids = append(ids, id)
		case deleted == 0 && b24sim.Scalar(r["STAGE_SEMANTIC_ID"]) == "P":
			deleted = id
		}
	}
	if len(ids) < 120 || deleted == 0 {
		t.Fatalf("the seeded portal has %d deals outside premium, want 121 with an open one", len(ids))
	}
	for _, id := range ids {
		src := "WEB"
		if ex.key["deal"][id] == "web" {
			src = "CALL"
		}
		if err := e.sim.UserUpdate("deal", int(id), map[string]any{"SOURCE_ID": src}, 1, false); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.sim.UserDelete("deal", int(deleted), 1); err != nil {
		t.Fatal(err)
	}
	job := append(slices.Clone(ids[:60]), deleted)
	job = append(job, ids[60:]...)

	e.sim.ResetLog()
	if err := e.cls.Apply(ctx, engine.Change{MemberID: e.memberID, Entity: "deal", IDs: job}); err != nil {
		t.Fatal(err)
	}
	reqs := e.sim.Requests()
	kinds := map[string]int{}
	var asked []string
	for _, rq := range reqs {
		kinds[testkit.KindOf(rq)]++
		if testkit.KindOf(rq) == "reread" {
			asked = append(asked, testkit.RereadIDs(t, rq)...)
			lists, rows := 0, 0
			for _, n := range rq.CommandNames {
				if strings.HasPrefix(n, "rows") {
					lists++
				} else if strings.HasPrefix(n, "pr") {
					rows++
				}
			}
			if lists != 3 || rows == 0 {
				t.Errorf("re-read of %d deals: %d list commands and %d product-row pages, want 3 and some", len(job), lists, rows)
			}
		}
	}
	updated := b24sim.UpdatesByRecord(reqs)
	changed := len(updated)
	t.Logf("job of %d deals: %d HTTP requests %v; %d records written", len(job), len(reqs), kinds, changed)
	if kinds["reread"] != 1 {
		t.Errorf("%d re-read requests, want 1", kinds["reread"])
	}
	if want := (changed + 49) / 50; kinds["write"] != want || changed < len(ids) {
		t.Errorf("%d records written in %d requests, want at least the %d edited in ceil(changed/50) = %d", changed, kinds["write"], len(ids), want)
	}
	if len(reqs) != kinds["reread"]+kinds["write"] {
		t.Errorf("requests %v: want only the re-read and the writes", kinds)
	}
	slices.Sort(asked)
	var want []string
	for _, id := range job {
		want = append(want, "deal:"+strconv.FormatInt(id, 10))
	}
	slices.Sort(want)
	if !slices.Equal(asked, want) {
		t.Errorf("the re-read asked for %d records, want the job's %d", len(asked), len(want))
	}
	for _, id := range ids {
		if n := len(updated["deal:"+strconv.FormatInt(id, 10)]); n != 1 {
			t.Errorf("edited deal %d written %d times, want once", id, n)
		}
	}
	m, err := app.NewMirror(e.rdb).Deals(ctx, e.memberID, []int64{deleted, ids[0]})
	if err != nil || m[deleted] != nil || m[ids[0]] == nil {
		t.Errorf("mirror after the job: deleted deal %d present %v, edited deal %d present %v (%v)", deleted, m[deleted] != nil, ids[0], m[ids[0]] != nil, err)
	}
	e.check(t, e.expect(t))
}
