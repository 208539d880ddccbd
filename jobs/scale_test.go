package jobs_test

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"segmentor/app/segment"
	"segmentor/bitrix"
	"segmentor/bitrix/b24sim"
	"segmentor/internal/await"
	"segmentor/internal/testkit"
)

// scaleConfig uses every fact and every output: contact TYPE_ID, company
// COMPANY_TYPE, deal TYPE_ID, the Segment label (and segments without one,
// whose records get it cleared), and deal pipeline moves under each apply
// policy. %[1]d and %[2]d are two pipelines.
const scaleConfig = `{"schemes": [
 {"entity": "contact", "segments": [
   {"key": "vip", "name": "VIP", "when": {"all": [
      {"fact": "won_amount", "window_days": 365, "op": ">=", "value": 60000},
      {"any": [{"fact": "field:SOURCE_ID", "op": "in", "value": ["WEB", "PARTNER", "RECOMMENDATION"]},
               {"fact": "won_count", "op": ">=", "value": 3}]}]},
    "set": {"type": "PARTNER", "label": true}},
   {"key": "press", "name": "Trade show", "when": {"all": [{"fact": "field:SOURCE_ID", "op": "=", "value": "TRADE_SHOW"}]},
    "set": {"label": true}},
   {"key": "loyal", "name": "Loyal", "when": {"all": [{"fact": "rfm_f", "op": ">=", "value": 4}, {"fact": "rfm_r", "op": ">=", "value": 3}]},
    "set": {"type": "CLIENT", "label": true}},
   {"key": "newbie", "name": "Newcomer", "when": {"all": [{"fact": "days_since_first_won", "op": "<=", "value": 200}]},
    "set": {"label": true}},
   {"key": "growing", "name": "Growing", "when": {"all": [{"fact": "growth", "window_days": 365, "op": ">=", "value": 1.5}]},
    "set": {"label": true}},
   {"key": "lapsed", "name": "Lapsed", "when": {"all": [{"fact": "days_since_last_won", "op": "between", "value": [400, 5000]}]},
    "set": {"type": "OTHER", "label": true}},
   {"key": "quiet", "name": "Quiet", "when": {"not": {"fact": "field:COMPANY_ID", "op": ">", "value": 0}},
    "set": {"label": false}}],
  "otherwise": {"key": "regular", "name": "Regular", "set": {"label": true}}},
 {"entity": "company", "segments": [
   {"key": "key", "name": "Key account", "when": {"all": [{"fact": "won_amount", "window_days": 730, "op": ">=", "value": 170000}]},
    "set": {"type": "PARTNER", "label": true}},
   {"key": "top", "name": "Top RFM", "when": {"any": [{"fact": "rfm", "op": "=", "value": "555"},
      {"all": [{"fact": "rfm_m", "window_days": 365, "op": "=", "value": 5}, {"fact": "rfm", "window_days": 365, "op": "contains", "value": "5"}]}]},
    "set": {"label": true}},
   {"key": "multi", "name": "Multi-product", "when": {"all": [{"fact": "product_groups", "window_days": 730, "op": "contains", "value": 3},
      {"fact": "product_groups", "window_days": 730, "op": ">=", "value": 5}]},
    "set": {"label": true}},
   {"key": "troubled", "name": "Troubled", "when": {"all": [{"fact": "lost_count", "op": ">=", "value": 3},
      {"fact": "avg_won_amount", "window_days": 1095, "op": "<", "value": 15000}]},
    "set": {"type": "COMPETITOR", "label": true}},
   {"key": "busy", "name": "Busy", "when": {"all": [{"fact": "open_deals", "op": ">=", "value": 3}]},
    "set": {"label": true}},
   {"key": "tech", "name": "Tech", "when": {"all": [{"fact": "field:INDUSTRY", "op": "in", "value": ["IT", "TELECOM"]}]},
    "set": {"type": "CUSTOMER"}}],
  "otherwise": {"key": "small", "name": "Small", "set": {"type": "CUSTOMER", "label": true}}},
 {"entity": "deal", "segments": [
   {"key": "premium", "name": "Premium", "when": {"all": [{"fact": "client_segment", "op": "in", "value": ["vip", "key", "top"]}]},
    "set": {"type": "COMPLEX", "label": true, "pipeline": {"category_id": %[1]d, "stage_id": "C%[1]d:NEW", "apply": "always"}}},
   {"key": "web", "name": "Web", "when": {"all": [{"fact": "field:SOURCE_ID", "op": "=", "value": "WEB"},
      {"not": {"fact": "client_segment", "op": "empty"}}]},
    "set": {"label": true, "pipeline": {"category_id": %[2]d, "stage_id": "C%[2]d:PREPARATION", "apply": "first_stage"}}},
   {"key": "fresh", "name": "Newcomer's", "when": {"all": [{"fact": "client_segment", "op": "=", "value": "newbie"}]},
    "set": {"type": "GOODS", "label": true, "pipeline": {"category_id": %[2]d, "stage_id": "C%[2]d:NEW", "apply": "new_only"}}},
   {"key": "other", "name": "Other", "when": {"all": [{"fact": "field:TYPE_ID", "op": "!=", "value": "SALE"}]},
    "set": {}}]}
]}`

// TestScaleBackfillAndLive is issue #5's end-to-end check: a portal of
// 10,000 contacts, 2,000 companies and 30,000 deals (a fifth of that under
// -race) is backfilled over real
// HTTP with real Redis, then every record's Type, Segment and pipeline in
// the simulator must equal what the test computes itself from the
// simulator's data; then live edits must move records within seconds.
// The simulator's rate limit and the client's profile are raised so the
// test is about correctness, not the 2 requests/s budget (that is the
// benchmarks' subject).
func TestScaleBackfillAndLive(t *testing.T) {
	if testing.Short() {
		t.Skip("backfills a 42,000-record portal")
	}
	t.Parallel()
	now := time.Now().UTC().Truncate(time.Second)
	s := newAppStack(t, b24sim.Options{Seed: 5, RatePerSecond: 1000, Burst: 1000},
		bitrix.Profile{Name: "raised", Rate: 800, Burst: 800, Period: time.Second}, now)
	size := b24sim.GenOptions{Contacts: 10000, Companies: 2000, Deals: 30000, Now: now}
	if raceDetector {
		// The race detector slows this CPU-bound test about fivefold: it
		// checks the same paths for races on a fifth of the portal, and CI
		// runs the full size without -race (.ci/run).
		size.Contacts, size.Companies, size.Deals = size.Contacts/5, size.Companies/5, size.Deals/5
	}
	gen := s.sim.Seed(size)
	s.install(t)
	p1, p2 := gen.Pipelines[len(gen.Pipelines)-1], gen.Pipelines[1]
	cfgText := fmt.Sprintf(scaleConfig, p1, p2)
	cfg, err := segment.ParseConfig([]byte(cfgText))
	if err != nil {
		t.Fatal(err)
	}
	rules, err := segment.Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}

	// The backfill's own echo events are lost here (their cost is the
	// economy benchmark's); live edits below run with delivery on.
	before := readWorld(t, s)
	s.sim.SetEventDelivery(0, 1)
	s.sim.ResetLog()
	start := time.Now()
	prog := s.backfill(t, cfgText, 3*time.Minute)
	took := time.Since(start)
	reqs := s.sim.Requests()
	reads, writes := 0, 0
	for _, rq := range reqs {
		if len(rq.Updates()) > 0 {
			writes++
		} else {
			reads++
		}
	}
	updated := b24sim.UpdatesByRecord(reqs)
	t.Logf("backfill of %d records in %s: %d HTTP requests (%d reading or setting up, %d writing %d records); progress %+v",
		len(before.deals)+len(before.clients["contact"])+len(before.clients["company"]), took.Round(time.Millisecond),
		len(reqs), reads, writes, len(updated), *prog)
	for rec, list := range updated {
		if len(list) != 1 {
			t.Errorf("%s updated %d times", rec, len(list))
		}
	}
	if want := (len(updated) + 49) / 50; writes != want {
		t.Errorf("%d write requests for %d records, want %d", writes, len(updated), want)
	}

	keys := before.classify(rules)
	counts := s.check(t, before, keys, cfg)
	t.Logf("segments: %v", counts)
	for _, sc := range cfg.Schemes {
		for _, sg := range sc.All() {
			if counts[string(sc.Entity)+":"+sg.Key] == 0 {
				t.Errorf("no %s in segment %s: the test config does not exercise it", sc.Entity, sg.Key)
			}
		}
	}
	for _, k := range []string{"moved:always", "moved:first_stage"} {
		if counts[k] == 0 {
			t.Errorf("no deal %s", k)
		}
	}
	if t.Failed() {
		return
	}

	// Live: the app hears every edit now.
	s.sim.SetEventDelivery(0, 0)
	s.sim.ResetLog()
	field := s.segmentItems(t)

	// 1. A contact's source changes: it moves to the Trade show segment.
	var contact int64
	for _, id := range sortedKeys(keys["contact"]) {
		if k := keys["contact"][id]; k != "vip" && k != "press" && k != "quiet" {
			contact = id
			break
		}
	}
	edit := time.Now()
	if err := s.sim.UserUpdate("contact", int(contact), map[string]any{"SOURCE_ID": "TRADE_SHOW"}, 1, false); err != nil {
		t.Fatal(err)
	}
	await.That(t, 30*time.Second, fmt.Sprintf("contact %d to show Trade show", contact), func() bool {
		r, _ := s.sim.Record("contact", int(contact))
		return b24sim.Scalar(r["UF_CRM_SEGMENTOR"]) == field["contact"]["press"]
	})
	t.Logf("contact %d: %s → press in %s", contact, keys["contact"][contact], time.Since(edit).Round(time.Millisecond))

	// 2. A company wins a big deal: it becomes a key account, and its other
	// open deals become premium (type, label, pipeline); its closed deals
	// are relabelled in place, never moved.
	var company, won int64
	var open, closed []int64
	for _, id := range sortedKeys(keys["company"]) {
		if keys["company"][id] == "key" || keys["company"][id] == "top" {
			continue
		}
		open, closed = nil, nil
		for _, d := range before.clients["company"][id].deals {
			if d.semantic == "P" && keys["deal"][d.id] != "premium" {
				open = append(open, d.id)
			} else if d.semantic != "P" {
				closed = append(closed, d.id)
			}
		}
		if len(open) >= 3 && len(closed) >= 1 {
			company, won = id, open[0]
			break
		}
	}
	if company == 0 {
		t.Fatal("no company with three open deals and a closed one")
	}
	closedBefore := map[int64]map[string]any{}
	for _, id := range closed {
		closedBefore[id], _ = s.sim.Record("deal", int(id))
	}
	edit = time.Now()
	yesterday := s.now.AddDate(0, 0, -1).Format("2006-01-02")
	if err := s.sim.UserUpdate("deal", int(won), map[string]any{"OPPORTUNITY": "90000000", "CURRENCY_ID": "USD", "CLOSEDATE": yesterday}, 1, false); err != nil {
		t.Fatal(err)
	}
	if err := s.sim.WinDeal(int(won), 1); err != nil {
		t.Fatal(err)
	}
	others := open[1:]
	await.That(t, 30*time.Second, fmt.Sprintf("company %d and its open deals to follow the won deal", company), func() bool {
		r, _ := s.sim.Record("company", int(company))
		if b24sim.Scalar(r["UF_CRM_SEGMENTOR"]) != field["company"]["key"] || b24sim.Scalar(r["COMPANY_TYPE"]) != "PARTNER" {
			return false
		}
		for _, id := range others {
			d, _ := s.sim.Record("deal", int(id))
			if b24sim.Scalar(d["UF_CRM_SEGMENTOR"]) != field["deal"]["premium"] || b24sim.Scalar(d["TYPE_ID"]) != "COMPLEX" || testkit.Num(d["CATEGORY_ID"]) != int64(p1) {
				return false
			}
		}
		return true
	})
	t.Logf("company %d: %s → key, %d other open deals → premium in %s", company, keys["company"][company], len(others), time.Since(edit).Round(time.Millisecond))

	// 3. A new deal of a newcomer is created after the rules: new_only moves it.
	var newbie int64
	for _, id := range sortedKeys(keys["contact"]) {
		if keys["contact"][id] == "newbie" && id != contact {
			newbie = id
			break
		}
	}
	edit = time.Now()
	deal, err := s.sim.UserAdd("deal", map[string]any{"TITLE": "New order", "CONTACT_ID": newbie, "SOURCE_ID": "CALL",
		"TYPE_ID": "SALE", "OPPORTUNITY": "1000", "CURRENCY_ID": "USD"}, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	await.That(t, 30*time.Second, fmt.Sprintf("new deal %d of newcomer %d to move", deal, newbie), func() bool {
		d, _ := s.sim.Record("deal", deal)
		return b24sim.Scalar(d["UF_CRM_SEGMENTOR"]) == field["deal"]["fresh"] && testkit.Num(d["CATEGORY_ID"]) == int64(p2) && b24sim.Scalar(d["TYPE_ID"]) == "GOODS"
	})
	t.Logf("new deal %d of contact %d → fresh, moved to pipeline %d in %s", deal, newbie, p2, time.Since(edit).Round(time.Millisecond))

	// Everything the edits caused settles, echoes included, then: no record
	// was written twice, closed deals did not move, and the records touched
	// agree with a fresh independent evaluation.
	s.waitIdle(t, time.Minute)
	live := b24sim.UpdatesByRecord(s.sim.Requests())
	for rec, list := range live {
		if len(list) != 1 {
			t.Errorf("live: %s updated %d times: %v", rec, len(list), list)
		}
	}
	relabelled := 0
	for _, id := range closed {
		d, _ := s.sim.Record("deal", int(id))
		for _, f := range []string{"CATEGORY_ID", "STAGE_ID"} {
			if b24sim.Scalar(d[f]) != b24sim.Scalar(closedBefore[id][f]) {
				t.Errorf("closed deal %d moved: %s %v → %v", id, f, closedBefore[id][f], d[f])
			}
		}
		if len(live["deal:"+strconv.FormatInt(id, 10)]) > 0 {
			relabelled++
		}
	}
	after := readWorld(t, s)
	fresh := after.classify(rules)
	t.Logf("company %d: %d closed deals, %d of them relabelled in place", company, len(closed), relabelled)
	touched := append(append([]int64{won, int64(deal)}, others...), closed...)
	for ent, ids := range map[segment.Entity][]int64{"contact": {contact, newbie}, "company": {company}, "deal": touched} {
		for _, id := range ids {
			r, _ := s.sim.Record(string(ent), int(id))
			if got, want := b24sim.Scalar(r["UF_CRM_SEGMENTOR"]), field[string(ent)][fresh[ent][id]]; got != want {
				t.Errorf("%s %d: Segment item %q, the fresh evaluation says %q (%s)", ent, id, got, want, fresh[ent][id])
			}
		}
	}
	t.Logf("live edits: %d HTTP requests, %d records written", len(s.sim.Requests()), len(live))
}

// check compares every record in the simulator with the keys computed from
// w (the portal before the backfill): the Segment item, the type, the
// pipeline. It returns the count per
// "entity:key" and per "moved:policy".
func (s *appStack) check(t *testing.T, w *world, keys map[segment.Entity]map[int64]string, cfg segment.Config) map[string]int {
	t.Helper()
	field := s.segmentItems(t)
	counts := map[string]int{}
	for _, sc := range cfg.Schemes {
		ent := sc.Entity
		segs := map[string]segment.Segment{}
		for _, sg := range sc.All() {
			segs[sg.Key] = sg
		}
		bad := 0
		for r := range s.sim.Records(string(ent)) {
			id := testkit.Num(r["ID"])
			rec := string(ent) + ":" + strconv.FormatInt(id, 10)
			key := keys[ent][id]
			counts[string(ent)+":"+key]++
			sg := segs[key]
			var problems []string
			wantItem := ""
			if key != "" && sg.Set.Label {
				wantItem = field[string(ent)][key]
			}
			if got := b24sim.Scalar(r["UF_CRM_SEGMENTOR"]); got != wantItem {
				problems = append(problems, fmt.Sprintf("Segment item %q, want %q (%s)", got, wantItem, key))
			}
			wantType := w.typeOf[string(ent)][id]
			if sg.Set.Type != "" {
				wantType = sg.Set.Type
			}
			if got := b24sim.Scalar(r[typeField(ent)]); got != wantType {
				problems = append(problems, fmt.Sprintf("type %s, want %s (%s)", got, wantType, key))
			}
			if ent == segment.EntityDeal {
				d := w.deals[id]
				cat, stage := d.category, d.stage
				if p := sg.Set.Pipeline; p != nil && d.semantic == "P" && d.category != p.CategoryID {
					move := false
					switch p.Apply {
					case segment.ApplyAlways:
						move = true
					case segment.ApplyFirstStage:
						move = d.stage == w.firstStage[d.category]
					case segment.ApplyNewOnly:
						move = d.created.After(s.now)
					}
					if move {
						cat, stage = p.CategoryID, p.StageID
						counts["moved:"+string(p.Apply)]++
					}
				}
				if got := int(testkit.Num(r["CATEGORY_ID"])); got != cat || b24sim.Scalar(r["STAGE_ID"]) != stage {
					problems = append(problems, fmt.Sprintf("pipeline %d %s, want %d %s (%s)", got, b24sim.Scalar(r["STAGE_ID"]), cat, stage, key))
				}
			}
			if len(problems) > 0 {
				if bad++; bad <= 5 {
					t.Errorf("%s: %s", rec, strings.Join(problems, "; "))
				}
			}
		}
		if bad > 0 {
			t.Errorf("%s: %d records differ", ent, bad)
		}
	}
	return counts
}

// segmentItems reads each Segment field's items: entity → key → item id.
func (s *appStack) segmentItems(t testing.TB) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	name := "UF_CRM_" + s.manifest.SegmentField.FieldName
	for _, ent := range []string{"contact", "company", "deal"} {
		var fields []struct {
			LIST []struct{ ID, XML_ID string }
		}
		s.call(t, "crm."+ent+".userfield.list", map[string]any{"filter": map[string]any{"FIELD_NAME": name}}, &fields)
		if len(fields) != 1 {
			t.Fatalf("%s has %d Segment fields", ent, len(fields))
		}
		out[ent] = map[string]string{}
		for _, it := range fields[0].LIST {
			out[ent][it.XML_ID] = it.ID
		}
	}
	return out
}

func (s *appStack) waitIdle(_ testing.TB, within time.Duration) { s.WaitIdle(within) }

func sortedKeys[V any](m map[int64]V) []int64 {
	out := make([]int64, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
