package engine_test

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"segmentor/app"
	"segmentor/app/segment"
	"segmentor/bitrix/b24sim"
	"segmentor/engine"
	"segmentor/internal/testkit"
)

// engagementConfig classifies contacts by their engagement — their own
// activities and their deals' — and deals by whether they have open
// activities.
const engagementConfig = `{"schemes": [
 {"entity": "contact", "segments": [
   {"key": "engaged", "name": "Engaged", "color": "#27ae60", "when": {"any": [
      {"fact": "inbound_activities", "window_days": 30, "op": ">=", "value": 1},
      {"fact": "activities", "window_days": 30, "op": ">=", "value": 3}]},
    "set": {"label": true}},
   {"key": "cooling", "name": "Cooling", "color": "#f39c12", "when": {"all": [
      {"fact": "days_since_last_activity", "op": "<=", "value": 90}]},
    "set": {"label": true}}],
  "otherwise": {"key": "silent", "name": "Silent", "color": "#7f8c8d", "set": {"label": true}}},
 {"entity": "deal", "segments": [
   {"key": "busy", "name": "Busy", "when": {"all": [{"fact": "open_activities", "op": ">=", "value": 1}]}, "set": {"label": true}}],
  "otherwise": {"key": "quiet", "name": "Quiet", "set": {"label": true}}}
]}`

// newEngagementEnv is an engine over a portal with activities, with
// engagementConfig saved.
func newEngagementEnv(t *testing.T) *engineEnv {
	t.Helper()
	e := newEngineEnv(t, b24sim.GenOptions{Contacts: 300, Companies: 60, Deals: 800, Activities: 4000})
	if _, err := e.store.PutConfig(context.Background(), e.memberID, 1, json.RawMessage(engagementConfig), 1); err != nil {
		t.Fatal(err)
	}
	return e
}

// expectEngagement classifies every record from the simulator's own data:
// its activities as the portal has them, a contact's deals' too.
func (e *engineEnv) expectEngagement(t *testing.T) *expected {
	t.Helper()
	cfg, err := segment.ParseConfig([]byte(engagementConfig))
	if err != nil {
		t.Fatal(err)
	}
	rules, err := segment.Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	type owner struct {
		entity string
		id     int64
	}
	acts := map[owner][]segment.Activity{}
	for a := range e.sim.Activities() {
		at := a.Start
		if at.IsZero() {
			at = a.Created
		}
		o := owner{a.OwnerType, int64(a.OwnerID)}
		acts[o] = append(acts[o], segment.Activity{At: at.Unix(), Type: segment.ActivityType(a.Type),
			Direction: segment.Direction(a.Direction), Open: !a.Completed})
	}
	var deals []segment.Deal
	dealsOf := map[int64][]segment.Deal{}
	for r := range e.sim.Records("deal") {
		id := testkit.Num(r["ID"])
		d := segment.Deal{ID: id, ContactIDs: e.sim.DealContacts(int(id)), Semantic: segment.Semantic(b24sim.Scalar(r["STAGE_SEMANTIC_ID"])[0]),
			Activities: acts[owner{"deal", id}]}
		deals = append(deals, d)
		for _, c := range d.ContactIDs {
			dealsOf[c] = append(dealsOf[c], d)
		}
	}
	ex := &expected{key: map[string]map[int64]string{"contact": {}, "deal": {}}, rules: rules, cfg: cfg}
	f := segment.NewClientFacts(segment.Env{Now: e.now})
	for r := range e.sim.Records("contact") {
		id := testkit.Num(r["ID"])
		f.Reset(segment.Client{ID: id, Entity: segment.EntityContact, Activities: acts[owner{"contact", id}]}, dealsOf[id])
		ex.key["contact"][id] = rules.Evaluate(segment.EntityContact, f).Key
	}
	df := segment.NewDealFacts(nil, e.now)
	for i := range deals {
		df.Reset(&deals[i])
		ex.key["deal"][deals[i].ID] = rules.Evaluate(segment.EntityDeal, df).Key
	}
	return ex
}

// The "done when": an activity-based rule classifies after an
// activity event. The backfill's sync mirrors every activity; then a call
// logged on a silent contact makes it engaged (one read, one write), its
// echo writes nothing, the call moved to another contact's deal moves the
// engagement with it, and its delete — an event with only the id — puts
// the contact back. The preview and the card tab's explanation follow.
func TestEngineActivityEventsReclassify(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds and classifies a portal with 4,000 activities")
	}
	ctx := context.Background()
	e := newEngagementEnv(t)
	st, err := e.cls.Backfill(ctx, e.memberID, app.TriggerRecompute)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("backfill: %+v", st)
	if st.Sync.Activities != e.sim.ActivityCount() {
		t.Errorf("sync read %d activities, the portal has %d", st.Sync.Activities, e.sim.ActivityCount())
	}
	ex := e.expectEngagement(t)
	counts := e.check(t, ex)
	t.Logf("segments: %v", counts)
	for _, k := range []string{"contact:engaged", "contact:cooling", "contact:silent", "deal:busy", "deal:quiet"} {
		if counts[k] == 0 {
			t.Errorf("no record in %s: the seed does not exercise it", k)
		}
	}
	an := &engine.Analyst{Store: e.store, Mirror: e.cls.Mirror, Clock: func() time.Time { return e.now }}
	preview := func() map[string]int {
		t.Helper()
		cfg, err := segment.ParseConfig([]byte(engagementConfig))
		if err != nil {
			t.Fatal(err)
		}
		p, err := an.Preview(ctx, e.memberID, cfg, engine.PreviewOptions{})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]int{}
		for _, s := range p.Schemes {
			for _, sg := range s.Segments {
				out[string(s.Entity)+":"+sg.Key] = sg.Count
			}
			out[string(s.Entity)+":"+s.Otherwise.Key] = s.Otherwise.Count
		}
		return out
	}
	if got := preview(); !equalCounts(got, counts) {
		t.Errorf("preview counts %v, the portal %v", got, counts)
	}

	// Two silent contacts, each with one deal of its own.
	dealsOf := map[int64][]int64{}
	for r := range e.sim.Records("deal") {
		id := testkit.Num(r["ID"])
		for _, c := range e.sim.DealContacts(int(id)) {
			dealsOf[c] = append(dealsOf[c], id)
		}
	}
	var a, b, bDeal int64
	for _, c := range slices.Sorted(maps.Keys(dealsOf)) {
		if len(dealsOf[c]) != 1 || ex.key["contact"][c] != "silent" {
			continue
		}
		if a == 0 {
			a = c
		} else {
			b, bDeal = c, dealsOf[c][0]
			break
		}
	}
	if a == 0 || b == 0 {
		t.Fatal("no two silent contacts with one deal each")
	}
	// apply handles an activity change as the changes job does, and
	// checks what it cost: requests in all, and whether it wrote.
	apply := func(what string, ch engine.Change, requests int, writes bool) {
		t.Helper()
		e.sim.ResetLog()
		ch.MemberID, ch.Entity = e.memberID, engine.ActivityEntity
		if err := e.cls.Apply(ctx, ch); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		s := e.sim.Stats()
		if s.HTTPRequests != requests || (updates(s) > 0) != writes {
			t.Errorf("%s: %d HTTP requests, %d updates; want %d requests, writes %v", what, s.HTTPRequests, updates(s), requests, writes)
		}
		ex = e.expectEngagement(t)
		e.check(t, ex)
	}
	id, err := e.sim.UserAddActivity(b24sim.Activity{Type: b24sim.ActivityCall, Direction: b24sim.DirectionIncoming, Completed: true,
		OwnerType: "contact", OwnerID: int(a), Start: e.now.Add(-2 * time.Hour)}, 1)
	if err != nil {
		t.Fatal(err)
	}
	apply("a call logged on contact A", engine.Change{IDs: []int64{int64(id)}}, 2, true)
	if ex.key["contact"][a] != "engaged" {
		t.Fatalf("contact %d is %q after an inbound call; want engaged", a, ex.key["contact"][a])
	}
	rs, err := an.Explain(ctx, e.memberID, segment.EntityContact, a)
	if err != nil || rs.Result == nil {
		t.Fatalf("explain: %+v, %v", rs, err)
	}
	why := segment.NewTeller(segment.EN, nil).Reason(segment.EntityContact, rs.Result.Reason())
	if why.Summary != "Inbound calls and e-mails in the last 30 days: 1 (at least 1)" || rs.Key != "engaged" || rs.Pending {
		t.Errorf("explanation of contact %d: %+v (%q, pending %v)", a, why, rs.Key, rs.Pending)
	}
	if got := preview(); got["contact:engaged"] != counts["contact:engaged"]+1 {
		t.Errorf("preview after the call: %d engaged, want %d", got["contact:engaged"], counts["contact:engaged"]+1)
	}

	apply("the echo", engine.Change{IDs: []int64{int64(id)}}, 1, false)

	// Moved to B's deal, still to do: A cools off, B is engaged through
	// its deal, which now has an open activity.
	if err := e.sim.UserUpdateActivity(id, 1, func(x *b24sim.Activity) {
		x.OwnerType, x.OwnerID, x.Completed = "deal", int(bDeal), false
	}); err != nil {
		t.Fatal(err)
	}
	apply("the call moved to B's deal", engine.Change{IDs: []int64{int64(id)}}, 2, true)
	if ex.key["contact"][a] != "silent" || ex.key["contact"][b] != "engaged" || ex.key["deal"][bDeal] != "busy" {
		t.Errorf("after the move: A %q, B %q, B's deal %q; want silent, engaged, busy", ex.key["contact"][a], ex.key["contact"][b], ex.key["deal"][bDeal])
	}

	// Deleted: the event carries only the id, the mirror knows whose it was.
	if err := e.sim.UserDeleteActivity(id, 1); err != nil {
		t.Fatal(err)
	}
	apply("the call deleted", engine.Change{Deleted: []int64{int64(id)}}, 1, true)
	if ex.key["contact"][b] != "silent" {
		t.Errorf("contact %d is %q after the call's delete; want silent", b, ex.key["contact"][b])
	}
	rs, err = an.Explain(ctx, e.memberID, segment.EntityContact, b)
	if err != nil || rs.Result == nil {
		t.Fatalf("explain: %+v, %v", rs, err)
	}
	told := segment.NewTeller(segment.EN, nil).Reason(segment.EntityContact, rs.Result.Reason())
	if len(told.Lines) == 0 || !strings.HasPrefix(told.Lines[0], "Nearest: ") {
		t.Errorf("explanation of silent contact %d: %+v", b, told)
	}
}

// equalCounts compares counts per segment, a missing one as 0.
func equalCounts(a, b map[string]int) bool {
	for k := range a {
		if b[k] != a[k] {
			return false
		}
	}
	for k := range b {
		if a[k] != b[k] {
			return false
		}
	}
	return true
}
