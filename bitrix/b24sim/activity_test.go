package b24sim

// Activities, each strict behaviour checked against the page of the
// official documentation (bitrix24/b24restdocs) it follows, as in
// strict_test.go.

import (
	"context"
	"fmt"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var activityNow = time.Date(2026, 5, 14, 10, 0, 0, 0, time.UTC)

// newActivityPortal is a seeded portal with activities, and an admin token.
func newActivityPortal(t *testing.T, seed uint64, activities int) (*Portal, string) {
	t.Helper()
	p := New(Options{Seed: seed, RatePerSecond: -1, Clock: func() time.Time { return activityNow }})
	t.Cleanup(p.Close)
	st := p.Seed(GenOptions{Contacts: 30, Companies: 8, Deals: 60, Activities: activities, Now: activityNow})
	if st.Activities != activities || p.ActivityCount() != activities {
		t.Fatalf("seeded %d activities (%d stored), want %d", st.Activities, p.ActivityCount(), activities)
	}
	return p, p.IssueTokens(1).AccessToken
}

func activityRows(t *testing.T, b map[string]any) []map[string]any {
	t.Helper()
	list, ok := b["result"].([]any)
	if !ok {
		t.Fatalf("result is not a list: %v", b["result"])
	}
	out := make([]map[string]any, len(list))
	for i, r := range list {
		out[i] = r.(map[string]any)
	}
	return out
}

// api-reference/crm/timeline/activities/activity-base/crm-activity-list.md:
// "The page size of results is always static: 50 records", with next and
// total (settings/how-to-call-rest-api/list-methods-pecularities.md);
// "By default, it is sorted by increasing the Start Date field
// (START_TIME)"; the values are strings as the page's example shows them.
func TestStrictActivityListPagesAndValues(t *testing.T) {
	p, tok := newActivityPortal(t, 21, 130)
	b := mustOK(t, callJSON(t, p, "crm.activity.list", tok, `{}`), "first page")
	rows := activityRows(t, b)
	if len(rows) != PageSize || b["total"] != float64(130) || b["next"] != float64(PageSize) {
		t.Fatalf("first page: %d rows, total %v, next %v; want 50 of 130, next 50", len(rows), b["total"], b["next"])
	}
	// Default order: START_TIME ascending, not ID.
	var starts []string
	var order []int
	seen := map[string]bool{}
	for start := 0; start < 130; start += PageSize {
		b := mustOK(t, callJSON(t, p, "crm.activity.list", tok, fmt.Sprintf(`{"start": %d}`, start)), "page")
		for _, r := range activityRows(t, b) {
			starts = append(starts, r["START_TIME"].(string))
			seen[r["ID"].(string)] = true
			var id int
			fmt.Sscan(r["ID"].(string), &id)
			order = append(order, id)
		}
		if start+PageSize >= 130 && b["next"] != nil {
			t.Errorf("last page has next %v", b["next"])
		}
	}
	if len(seen) != 130 {
		t.Errorf("paging gave %d distinct activities of 130", len(seen))
	}
	parsed := make([]time.Time, len(starts))
	for i, s := range starts {
		var err error
		if parsed[i], err = time.Parse(time.RFC3339, s); err != nil {
			t.Fatalf("START_TIME %q: %v", s, err)
		}
	}
	if !slices.IsSortedFunc(parsed, func(a, b time.Time) int { return a.Compare(b) }) {
		t.Errorf("default order is not START_TIME ascending")
	}
	if slices.IsSortedFunc(order, func(a, b int) int { return a - b }) {
		t.Errorf("the default order is ID order: planned activities (later IDs, later starts) should move")
	}

	// Every value as the page's example sends it.
	r := rows[0]
	str := regexp.MustCompile(`^\d+$`)
	for _, k := range []string{"ID", "OWNER_ID", "OWNER_TYPE_ID", "TYPE_ID", "STATUS", "RESPONSIBLE_ID", "PRIORITY", "DIRECTION",
		"AUTHOR_ID", "EDITOR_ID", "ASSOCIATED_ENTITY_ID", "NOTIFY_TYPE", "DESCRIPTION_TYPE", "RESULT_MARK", "AUTOCOMPLETE_RULE"} {
		if s, ok := r[k].(string); !ok || !str.MatchString(s) {
			t.Errorf("%s = %#v, want a number as a string", k, r[k])
		}
	}
	iso := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+02:00$`)
	for _, k := range []string{"CREATED", "LAST_UPDATED", "START_TIME", "END_TIME", "DEADLINE"} {
		if s, ok := r[k].(string); !ok || !iso.MatchString(s) {
			t.Errorf("%s = %#v, want an ISO time with the portal's offset", k, r[k])
		}
	}
	if c := r["COMPLETED"]; c != "Y" && c != "N" {
		t.Errorf("COMPLETED = %#v", c)
	}
	if (r["COMPLETED"] == "Y") != (r["STATUS"] == "2") {
		t.Errorf("COMPLETED %v with STATUS %v", r["COMPLETED"], r["STATUS"])
	}
	for k, want := range map[string]any{"PROVIDER_GROUP_ID": nil, "DESCRIPTION": "", "LOCATION": "", "SETTINGS": []any{}, "RESULT_SUM": nil} {
		if got, ok := r[k]; !ok || !cmp.Equal(got, want) {
			t.Errorf("%s = %#v (present %v), want %#v", k, got, ok, want)
		}
	}
	for _, k := range []string{"COMMUNICATIONS", "FILES", "BINDINGS"} {
		if _, ok := r[k]; ok {
			t.Errorf("%s sent without being selected", k)
		}
	}

	// start=-1: one page, no count (total 0, no next).
	b = mustOK(t, callJSON(t, p, "crm.activity.list", tok, `{"order": {"ID": "ASC"}, "filter": {">ID": 40}, "start": -1}`), "keyset page")
	if rows := activityRows(t, b); len(rows) != PageSize || rows[0]["ID"] != "41" || b["total"] != float64(0) || b["next"] != nil {
		t.Errorf("keyset page: %d rows from %v, total %v, next %v", len(rows), rows[0]["ID"], b["total"], b["next"])
	}
	b = mustOK(t, callJSON(t, p, "crm.activity.list", tok, `{"order": {"ID": "desc"}, "select": ["ID"]}`), "ID desc")
	if rows := activityRows(t, b); rows[0]["ID"] != "130" || len(rows[0]) != 1 {
		t.Errorf("order ID desc, select ID: first %v", rows[0])
	}
}

// crm-activity-list.md lists the prefixes >=, >, <=, <, @, !@, %, =%, %=,
// !%, !=% (printed "=%" a second time), !%=, =, !=, !; its fields are
// crm.activity.fields' (crm-activity-fields.md); BINDINGS takes a list of
// {OWNER_TYPE_ID, OWNER_ID} and an activity bound to two of them "will be
// output twice".
func TestStrictActivityListFilter(t *testing.T) {
	p, tok := newActivityPortal(t, 22, 0)
	at := func(d int) time.Time { return activityNow.Add(time.Duration(d) * 24 * time.Hour) }
	add := func(a Activity) int {
		t.Helper()
		id, err := p.UserAddActivity(a, 1)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	call := add(Activity{Type: ActivityCall, Direction: DirectionIncoming, Completed: true, OwnerType: "contact", OwnerID: 3,
		Subject: "Call about the renewal", Start: at(-10)})
	mail := add(Activity{Type: ActivityEmail, Direction: DirectionOutgoing, OwnerType: "deal", OwnerID: 7, Start: at(-2),
		Bindings: []ActivityBinding{{OwnerType: "contact", OwnerID: 3}}})
	meet := add(Activity{Type: ActivityMeeting, Completed: true, OwnerType: "company", OwnerID: 2, Subject: "Kick-off", Start: at(-40)})
	task := add(Activity{Type: ActivityTask, OwnerType: "deal", OwnerID: 7, Start: at(5)})

	list := func(body string) []string {
		t.Helper()
		b := mustOK(t, callJSON(t, p, "crm.activity.list", tok, body), body)
		var out []string
		for _, r := range activityRows(t, b) {
			out = append(out, r["ID"].(string))
		}
		return out
	}
	id := func(ns ...int) []string {
		var out []string
		for _, n := range ns {
			out = append(out, fmt.Sprint(n))
		}
		return out
	}
	byID := `"order": {"ID": "ASC"}, "select": ["ID"]`
	for _, tt := range []struct {
		filter string
		want   []string
	}{
		{`{"OWNER_TYPE_ID": 3, "OWNER_ID": 3}`, id(call)},
		{`{"TYPE_ID": "2"}`, id(call)},
		{`{"@TYPE_ID": [1, 4]}`, id(mail, meet)},
		{`{"!@TYPE_ID": [1, 4]}`, id(call, task)},
		{`{"COMPLETED": "N"}`, id(mail, task)},
		{`{"DIRECTION": 1}`, id(call)},
		{`{"!DIRECTION": 0}`, id(call, mail)},
		{`{"!=DIRECTION": 0}`, id(call, mail)},
		{`{">=START_TIME": "` + at(-10).Format(time.RFC3339) + `", "<START_TIME": "` + at(0).Format(time.RFC3339) + `"}`, id(call, mail)},
		{`{">START_TIME": "` + at(-10).Format(time.RFC3339) + `"}`, id(mail, task)},
		{`{"<=START_TIME": "` + at(-40).Format(time.RFC3339) + `"}`, id(meet)},
		{`{"%SUBJECT": "renewal"}`, id(call)},
		{`{"=%SUBJECT": "Kick%"}`, id(meet)},
		{`{"%=SUBJECT": "%off"}`, id(meet)},
		{`{"!%SUBJECT": "renewal"}`, id(mail, meet, task)},
		{`{"!=%SUBJECT": "Kick%"}`, id(call, mail, task)},
		{`{"!%=SUBJECT": "%e-mail"}`, id(call, meet, task)},
		{`{"NO_SUCH_FIELD": 1}`, id(call, mail, meet, task)}, // the page documents no refusal: ignored
		{`{"BINDINGS": [{"OWNER_TYPE_ID": 3, "OWNER_ID": 3}]}`, id(call, mail)},
		{`{"BINDINGS": [{"OWNER_TYPE_ID": 2}], "COMPLETED": "N"}`, id(mail, task)},
		// Bound to the contact and to the deal: listed once for each.
		{`{"BINDINGS": [{"OWNER_TYPE_ID": 2}, {"OWNER_TYPE_ID": 3}]}`, id(call, mail, mail, task)},
		{`{"BINDINGS": [{"OWNER_TYPE_ID": 1}]}`, nil},
	} {
		if got := list(`{"filter": ` + tt.filter + `, ` + byID + `}`); !slices.Equal(got, tt.want) {
			t.Errorf("filter %s = %v, want %v", tt.filter, got, tt.want)
		}
	}
	// order by another field, descending
	if got := list(`{"order": {"START_TIME": "desc"}, "select": ["ID"]}`); !slices.Equal(got, id(task, mail, call, meet)) {
		t.Errorf("START_TIME desc = %v", got)
	}
	// A sales rep reads the activities they are responsible for.
	rep := p.AddUser(User{Name: "Rita", OwnOnly: true})
	mine := add(Activity{Type: ActivityCall, Direction: DirectionOutgoing, OwnerType: "contact", OwnerID: 4, Responsible: rep.ID})
	b := mustOK(t, callJSON(t, p, "crm.activity.list", p.IssueTokens(rep.ID).AccessToken, `{"select": ["ID"]}`), "rep's list")
	if rows := activityRows(t, b); len(rows) != 1 || rows[0]["ID"] != fmt.Sprint(mine) {
		t.Errorf("a sales rep lists %v, want only %d", rows, mine)
	}
}

// crm-activity-list.md: "To get the fields COMMUNICATIONS and FILES,
// specify them in select"; crm-activity-get.md answers every field of one
// activity, or 400 "Activity is not found".
func TestStrictActivitySelectAndGet(t *testing.T) {
	p, tok := newActivityPortal(t, 23, 0)
	id, err := p.UserAddActivity(Activity{Type: ActivityCall, Direction: DirectionOutgoing, OwnerType: "contact", OwnerID: 2, Start: activityNow}, 1)
	if err != nil {
		t.Fatal(err)
	}
	b := mustOK(t, callJSON(t, p, "crm.activity.list", tok, `{"filter": {"ID": `+fmt.Sprint(id)+`}, "select": ["*", "COMMUNICATIONS"]}`), "select *")
	r := activityRows(t, b)[0]
	comms, ok := r["COMMUNICATIONS"].([]any)
	if !ok || len(comms) != 1 || comms[0].(map[string]any)["ENTITY_ID"] != "2" || comms[0].(map[string]any)["TYPE"] != "PHONE" {
		t.Errorf("COMMUNICATIONS = %#v", r["COMMUNICATIONS"])
	}
	if r["SUBJECT"] != "Outgoing call" || r["TYPE_ID"] != "2" || r["PROVIDER_ID"] != "VOXIMPLANT_CALL" || r["PROVIDER_TYPE_ID"] != "CALL" {
		t.Errorf("row = %v", r)
	}
	b = mustOK(t, callJSON(t, p, "crm.activity.list", tok, `{"select": ["SUBJECT", "DIRECTION", "RESULT_STATUS"]}`), "select fields")
	if r := activityRows(t, b)[0]; len(r) != 4 || r["DIRECTION"] != "2" || r["RESULT_STATUS"] != "0" {
		t.Errorf("selected row = %v, want ID, SUBJECT, DIRECTION, RESULT_STATUS", r)
	}
	b = mustOK(t, callJSON(t, p, "crm.activity.get", tok, `{"id": `+fmt.Sprint(id)+`}`), "get")
	got := b["result"].(map[string]any)
	if got["ID"] != fmt.Sprint(id) || got["OWNER_TYPE_ID"] != "3" || got["AUTOCOMPLETE_RULE"] != "0" || got["COMMUNICATIONS"] != nil {
		t.Errorf("get = %v", got)
	}
	if r := callJSON(t, p, "crm.activity.get", tok, `{"id": 999}`); r.Status != 400 || r.Body["error_description"] != "Activity is not found" {
		t.Errorf("get of a missing activity = %d %s", r.Status, r.Raw)
	}
}

// api-reference/crm/timeline/activities/events/on-crm-activity-add.md,
// on-crm-activity-update.md and on-crm-activity-delete.md: each change
// POSTs its event with data[FIELDS][ID] and nothing else of the activity.
func TestActivityEvents(t *testing.T) {
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	p, tok := newActivityPortal(t, 24, 0)
	for _, ev := range []string{"ONCRMACTIVITYADD", "ONCRMACTIVITYUPDATE", "ONCRMACTIVITYDELETE"} {
		bindEvent(t, p, tok, ev, srv.URL+"/events")
	}
	if _, err := p.Install(context.Background(), srv.URL+"/install", InstallOptions{}); err != nil {
		t.Fatal(err)
	}
	p.FinishInstall()
	waitEvents(t, p)
	rc.mu.Lock()
	rc.forms = nil
	rc.mu.Unlock()

	id, err := p.UserAddActivity(Activity{Type: ActivityEmail, Direction: DirectionIncoming, OwnerType: "company", OwnerID: 1}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.UserUpdateActivity(id, 2, func(*Activity) {}); err != nil { // changes nothing: no event
		t.Fatal(err)
	}
	if err := p.CompleteActivity(id, 2); err != nil {
		t.Fatal(err)
	}
	if err := p.UserUpdateActivity(id, 2, func(a *Activity) { a.OwnerType, a.OwnerID = "deal", 4 }); err != nil {
		t.Fatal(err)
	}
	if err := p.UserDeleteActivity(id, 2); err != nil {
		t.Fatal(err)
	}
	if err := p.UserDeleteActivity(id, 2); err == nil {
		t.Error("a second delete of the same activity succeeded")
	}
	if _, err := p.UserAddActivity(Activity{Type: ActivityCall, OwnerType: "invoice", OwnerID: 1}, 2); err == nil {
		t.Error("an activity of no known owner was added")
	}
	waitEvents(t, p)
	var got []string
	for _, f := range rc.got() {
		var data []string
		for k := range f {
			if strings.HasPrefix(k, "data[") {
				data = append(data, k)
			}
		}
		if len(data) != 1 || f.Get("data[FIELDS][ID]") != fmt.Sprint(id) || f.Get("auth[user_id]") != "2" {
			t.Errorf("%s carries %v (user %s)", f.Get("event"), data, f.Get("auth[user_id]"))
		}
		got = append(got, f.Get("event"))
	}
	if want := []string{"ONCRMACTIVITYADD", "ONCRMACTIVITYUPDATE", "ONCRMACTIVITYUPDATE", "ONCRMACTIVITYDELETE"}; !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
	if _, ok := p.Activity(id); ok {
		t.Error("the deleted activity is still there")
	}
}

// Seeding activities leaves the records a seed makes as they are without
// them: other tests' data does not move.
func TestSeedActivitiesKeepsRecords(t *testing.T) {
	records := func(activities int) (map[string][]map[string]any, []Activity) {
		p := New(Options{Seed: 25, RatePerSecond: -1, Clock: func() time.Time { return activityNow }})
		defer p.Close()
		p.Seed(GenOptions{Contacts: 40, Companies: 10, Deals: 120, Activities: activities, Now: activityNow})
		out := map[string][]map[string]any{}
		for _, e := range []string{"contact", "company", "deal"} {
			for r := range p.Records(e) {
				out[e] = append(out[e], r)
			}
		}
		var acts []Activity
		for a := range p.Activities() {
			acts = append(acts, a)
		}
		return out, acts
	}
	without, none := records(0)
	with, acts := records(500)
	if diff := cmp.Diff(without, with); diff != "" {
		t.Errorf("records differ with activities (-without +with):\n%s", diff)
	}
	if len(none) != 0 || len(acts) != 500 {
		t.Fatalf("%d and %d activities", len(none), len(acts))
	}
	kinds := map[string]int{}
	open, planned := 0, 0
	for _, a := range acts {
		kinds[a.OwnerType]++
		if !a.Completed {
			open++
		}
		if a.Start.After(activityNow) {
			planned++
			if a.Completed {
				t.Errorf("%s is planned and done", a)
			}
		}
		if (a.Type == ActivityCall || a.Type == ActivityEmail) != (a.Direction != 0) {
			t.Errorf("%s has direction %d", a, a.Direction)
		}
	}
	if kinds["contact"] == 0 || kinds["company"] == 0 || kinds["deal"] == 0 || open == 0 || planned == 0 {
		t.Errorf("owners %v, %d open, %d planned: the seed does not vary", kinds, open, planned)
	}
	_, acts2 := records(500)
	if diff := cmp.Diff(acts, acts2); diff != "" {
		t.Errorf("activities differ between two seeds of the same portal:\n%s", diff)
	}
}
