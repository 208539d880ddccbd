package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"

	"segmentor"
	"segmentor/app"
	"segmentor/bitrix"
	"segmentor/engine"
	"segmentor/handlers"
	"segmentor/internal/mirrortest"
	"segmentor/internal/redistest"
)

// benchInsightConfig is a draft as an admin would write it: money over a
// window, RFM, open deals, a field, a type, and premium deals routed by
// client_segment to their own pipeline.
const benchInsightConfig = `{"schemes": [
 {"entity": "contact", "segments": [
   {"key": "vip", "name": "VIP", "color": "#d4380d", "when": {"all": [{"fact": "won_amount", "window_days": 365, "op": ">=", "value": 40000},
      {"any": [{"fact": "won_count", "window_days": 365, "op": ">=", "value": 3}, {"fact": "field:SOURCE_ID", "op": "in", "value": ["WEB", "PARTNER"]}]}]},
    "set": {"type": "PARTNER", "label": true}},
   {"key": "champions", "name": "Champions", "when": {"fact": "rfm", "op": "in", "value": ["555", "554", "545", "455"]}, "set": {"label": true}},
   {"key": "sleeping", "name": "Sleeping", "when": {"all": [{"fact": "days_since_last_won", "op": ">", "value": 180},
      {"not": {"fact": "open_deals", "op": ">", "value": 0}}]}, "set": {"label": true}}],
  "otherwise": {"key": "regular", "name": "Regular", "set": {"label": true}}},
 {"entity": "company", "segments": [
   {"key": "big", "name": "Big", "when": {"any": [{"fact": "won_count", "op": ">=", "value": 8}, {"fact": "rfm_m", "op": "=", "value": 5}]}, "set": {"label": true}}],
  "otherwise": {"key": "small", "name": "Small", "set": {"label": true}}},
 {"entity": "deal", "segments": [
   {"key": "premium", "name": "Premium", "when": {"fact": "client_segment", "op": "in", "value": ["vip", "big"]},
    "set": {"label": true, "pipeline": {"category_id": 2, "stage_id": "C2:NEW", "apply": "always"}}}]}]}`

// benchDirectory is the portal's directory the draft is validated with.
var benchDirectory = map[string]json.RawMessage{
	"statuses": json.RawMessage(`[
	 {"ENTITY_ID":"CONTACT_TYPE","STATUS_ID":"CLIENT","NAME":"Clients","SORT":"10"},
	 {"ENTITY_ID":"CONTACT_TYPE","STATUS_ID":"PARTNER","NAME":"Partners","SORT":"20"},
	 {"ENTITY_ID":"COMPANY_TYPE","STATUS_ID":"CUSTOMER","NAME":"Customers","SORT":"10"},
	 {"ENTITY_ID":"COMPANY_TYPE","STATUS_ID":"PARTNER","NAME":"Partners","SORT":"20"},
	 {"ENTITY_ID":"SOURCE","STATUS_ID":"WEB","NAME":"Website","SORT":"10"},
	 {"ENTITY_ID":"SOURCE","STATUS_ID":"PARTNER","NAME":"Partner","SORT":"20"},
	 {"ENTITY_ID":"SOURCE","STATUS_ID":"CALL","NAME":"Call","SORT":"30"},
	 {"ENTITY_ID":"DEAL_STAGE","STATUS_ID":"NEW","NAME":"New","SORT":"10"},
	 {"ENTITY_ID":"DEAL_STAGE_2","STATUS_ID":"C2:NEW","NAME":"New","SORT":"10"}]`),
	"categories": json.RawMessage(`[{"id":0,"name":"General"},{"id":2,"name":"Key accounts"}]`),
}

// benchSizes are the 100,000 records: a realistic mix of clients and
// deals, shaped like the simulator's (mirrortest.Fill).
var benchSizes = mirrortest.Portal{Contacts: 20000, Companies: 5000, Deals: 75000}

// costSizes are the cost curve's 100,000-deal portal (cmd/costcurve): a
// third as many contacts, a tenth as many companies, deals with product
// rows.
var costSizes = mirrortest.Portal{Contacts: 33333, Companies: 10000, Deals: 100000, Sections: true}

// costSizes1M are its 1,000,000-deal portal.
var costSizes1M = mirrortest.Portal{Contacts: 333333, Companies: 100000, Deals: 1000000, Sections: true}

// benchInsight serves the API over a 100,000-record mirror and times POSTs
// of the draft to path: ms/op with the base warm in memory, and, logged
// and reported, the first request (the whole mirror decoded) and one after
// 50 deals changed (the base catching up through the change log). Run
// with REDIS_URL for the real figure; miniredis is far slower to load.
func benchInsight(b *testing.B, path, config string, sizes mirrortest.Portal) {
	env := newBenchPortal(b, sizes)
	ctx, mirror, member, srv, token := context.Background(), env.mirror, env.member, env.srv, env.token
	body, _ := json.Marshal(map[string]any{"config": json.RawMessage(config)})
	post := func() time.Duration {
		req, _ := http.NewRequest("POST", srv.URL+path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		took := time.Since(start)
		if resp.StatusCode != 200 {
			b.Fatalf("%s: %d %s", path, resp.StatusCode, raw)
		}
		return took
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

	heap := func() float64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return float64(m.HeapAlloc) / 1e6
	}
	before := heap()
	cold := post()
	baseMB := heap() - before // the base the first request decoded, kept in memory
	cpu0 := cpuTime()
	b.ResetTimer()
	for b.Loop() {
		post()
	}
	warm := ms(b.Elapsed()) / float64(b.N)
	cpu := ms(cpuTime()-cpu0) / float64(b.N)
	b.StopTimer()
	// Five rounds of 50 changed deals, each followed by a request: the
	// median is the figure.
	rng := rand.New(rand.NewPCG(9, 9))
	changed, err := mirror.Deals(ctx, member, []int64{1, 2, 3, 4, 5})
	if err != nil {
		b.Fatal(err)
	}
	var rounds []time.Duration
	for range 5 {
		var put []*app.MirrorDeal
		for i := range 50 {
			d := *changed[int64(1+i%5)]
			d.ID = int64(1 + rng.IntN(sizes.Deals))
			put = append(put, &d)
		}
		if err := mirror.PutDeals(ctx, member, put); err != nil {
			b.Fatal(err)
		}
		rounds = append(rounds, post())
	}
	slices.Sort(rounds)
	catchUp := rounds[len(rounds)/2]
	b.ReportMetric(warm, "ms/op")
	b.ReportMetric(cpu, "cpu-ms/op")
	b.ReportMetric(baseMB, "base-MB")
	b.ReportMetric(ms(cold), "cold-ms")
	b.ReportMetric(ms(catchUp), "after-50-changes-ms")
	b.ReportMetric(0, "ns/op") // ms/op is the figure
	b.Logf("%s over %d records: %.1f ms warm (%.1f ms of CPU, on %d cores; the process's, client included), %.0f ms first (whole mirror decoded into %.0f MB), %.1f ms after 50 deals changed (median of 5)",
		path, sizes.Contacts+sizes.Companies+sizes.Deals, warm, cpu, runtime.GOMAXPROCS(0), ms(cold), baseMB, ms(catchUp))
}

// benchPortal is the API over a 100,000-record mirror of one portal.
type benchPortal struct {
	store  *app.Store
	mirror *app.Mirror
	member string
	srv    *httptest.Server
	token  string // a user's session
	admin  string // an administrator's session
}

func newBenchPortal(b *testing.B, sizes mirrortest.Portal) *benchPortal {
	rdb, _ := redistest.New(b)
	ctx := context.Background()
	seal, _ := app.NewSealer(bytes.Repeat([]byte{1}, 32))
	store := app.NewStore(rdb, seal, nil)
	const member = "bench000000000000000000000000000"
	if err := store.Save(ctx, &bitrix.Token{MemberID: member, AccessToken: "a", ClientEndpoint: "https://bench.bitrix24.com/rest/"}); err != nil {
		b.Fatal(err)
	}
	if err := store.SetState(ctx, member, app.StateActive, ""); err != nil {
		b.Fatal(err)
	}
	dir, err := app.ParseDirectory(benchDirectory)
	if err != nil {
		b.Fatal(err)
	}
	if err := store.SaveDirectory(ctx, member, dir); err != nil {
		b.Fatal(err)
	}
	mirror := app.NewMirror(rdb)
	fill := time.Now()
	mirrortest.Fill(b, mirror, member, sizes)
	b.Logf("mirror of %d contacts, %d companies, %d deals written in %v", sizes.Contacts, sizes.Companies, sizes.Deals, time.Since(fill).Round(time.Millisecond))

	manifest, _ := segmentor.LoadManifest()
	sessions := &handlers.Sessions{Store: store, Key: sessionKey}
	api := &handlers.API{Store: store, Insight: &engine.Analyst{Store: store, Mirror: mirror}, Mirror: mirror}
	srv := httptest.NewServer(handlers.Router(handlers.Deps{Manifest: manifest, Sessions: sessions, API: api}))
	b.Cleanup(srv.Close)
	token := sessions.Issue(handlers.Session{MemberID: member, UserID: 1, Expires: time.Now().Add(time.Hour).Unix()})
	admin := sessions.Issue(handlers.Session{MemberID: member, UserID: 1, Admin: true, Expires: time.Now().Add(time.Hour).Unix()})
	return &benchPortal{store: store, mirror: mirror, member: member, srv: srv, token: token, admin: admin}
}

// cpuTime is the CPU time this process has used (user and system): it
// tells the work a request costs from the wait for a busy machine.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkPreview100k(b *testing.B) {
	benchInsight(b, "/api/v1/preview", benchInsightConfig, benchSizes)
}

func BenchmarkDryRun100k(b *testing.B) {
	benchInsight(b, "/api/v1/dryrun", benchInsightConfig, benchSizes)
}

// The cost curve's draft (RFM, product sections, client_segment) over its
// 100,000-deal portal: the heavier config the cost table times.
func BenchmarkPreviewCostDraft100k(b *testing.B) {
	benchInsight(b, "/api/v1/preview", mirrortest.CostDraft, costSizes)
}

func BenchmarkDryRunCostDraft100k(b *testing.B) {
	benchInsight(b, "/api/v1/dryrun", mirrortest.CostDraft, costSizes)
}

// The same over the cost curve's 1,000,000-deal portal (1,433,333
// records): a few GB of heap, a minute to fill.
func BenchmarkPreviewCostDraft1M(b *testing.B) {
	benchInsight(b, "/api/v1/preview", mirrortest.CostDraft, costSizes1M)
}

func BenchmarkDryRunCostDraft1M(b *testing.B) {
	benchInsight(b, "/api/v1/dryrun", mirrortest.CostDraft, costSizes1M)
}
