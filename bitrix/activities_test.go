package bitrix_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"segmentor/bitrix"
	"segmentor/bitrix/b24sim"
)

// A keyset scan of crm.activity.list reads every activity once, in ID
// order, though the method's default order is START_TIME; rows decode into
// bitrix.Activity.
func TestSimScanActivities(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	e := newSim(t, b24sim.Options{RatePerSecond: -1, Seed: 9, Clock: func() time.Time { return now }})
	st := e.sim.Seed(b24sim.GenOptions{Contacts: 50, Companies: 10, Deals: 100, Activities: 1200, Now: now})
	p := e.newC(bitrix.UnlimitedProfile()).Portal(e.sim.MemberID())
	want := map[bitrix.ID]b24sim.Activity{}
	for a := range e.sim.Activities() {
		want[bitrix.ID(a.ID)] = a
	}
	before := e.sim.Stats().HTTPRequests
	got := 0
	var last bitrix.ID
	_, err := p.Scan(context.Background(), bitrix.ScanOptions{List: bitrix.Activities.Lister(bitrix.ActivityFields, nil)}, func(pg *bitrix.ScanPage) error {
		rows, err := bitrix.DecodeRows[bitrix.Activity](pg)
		for _, r := range rows {
			if r.ID <= last {
				t.Fatalf("activity %d after %d", r.ID, last)
			}
			last = r.ID
			got++
			w := want[r.ID]
			if string(r.OwnerEntity()) != w.OwnerType || int(r.OwnerID) != w.OwnerID || int(r.TypeID) != w.Type ||
				int(r.Direction) != w.Direction || bool(r.Completed) != w.Completed || !r.Start.Equal(w.Start) || !r.Created.Equal(w.Created) {
				t.Errorf("row %+v, want %+v", r, w)
			}
		}
		return err
	})
	if err != nil || got != st.Activities {
		t.Fatalf("scanned %d of %d activities: %v", got, st.Activities, err)
	}
	if reqs := e.sim.Stats().HTTPRequests - before; reqs != 1 {
		t.Errorf("%d activities in %d requests, want 1", got, reqs)
	}
	if lead := (bitrix.Activity{OwnerType: 1}); lead.OwnerEntity() != "" {
		t.Errorf("a lead's activity belongs to %q", lead.OwnerEntity())
	}
}

// api-reference/crm/timeline/activities/events/on-crm-activity-delete.md
// (and its add and update pages): data[FIELDS][ID] is all an activity
// event carries; it parses as a record event of the "activity" entity.
func TestParseActivityEvents(t *testing.T) {
	for name, action := range map[string]string{"onCrmActivityAdd": "add", "onCrmActivityUpdate": "update", "onCrmActivityDelete": "delete"} {
		form := url.Values{"event": {name}, "data[FIELDS][ID]": {"999"}, "ts": {"1466439714"},
			"auth[access_token]": {"s6p6eclrvim6da22ft9ch94ekreb52lv"}, "auth[expires_in]": {"3600"}, "auth[scope]": {"crm"},
			"auth[domain]": {"some-domain.bitrix24.com"}, "auth[server_endpoint]": {"https://oauth.bitrix.info/rest/"},
			"auth[status]": {"L"}, "auth[client_endpoint]": {"https://some-domain.bitrix24.com/rest/"},
			"auth[member_id]": {"a223c6b3710f85df22e9377d6c4f7553"}, "auth[refresh_token]": {"4s386p3q0tr8dy89xvmt96234v3dljg8"},
			"auth[application_token]": {"51856fefc120afa4b628cc82d3935cce"}}
		ev, err := bitrix.ParseEvent(form)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if e, a := ev.Entity(); e != "activity" || a != action || ev.RecordID != 999 {
			t.Errorf("%s: entity %q, action %q, record %d", name, e, a, ev.RecordID)
		}
	}
}
