package engine_test

import (
	"testing"
	"time"

	"segmentor/bitrix/b24sim"
	"segmentor/internal/await"
	"segmentor/internal/testkit"
)

// engagedContacts is the sample scheme "Engaged / Cooling / Silent" on
// its own.
const engagedContacts = `{"schemes": [{"entity": "contact", "segments": [
   {"key": "engaged", "name": "Engaged", "color": "#27ae60", "when": {"any": [
      {"fact": "inbound_activities", "window_days": 30, "op": ">=", "value": 1},
      {"fact": "activities", "window_days": 30, "op": ">=", "value": 3}]},
    "set": {"label": true}},
   {"key": "cooling", "name": "Cooling", "color": "#f39c12", "when": {"all": [
      {"fact": "days_since_last_activity", "op": "<=", "value": 90}]},
    "set": {"label": true}}],
  "otherwise": {"key": "silent", "name": "Silent", "color": "#7f8c8d", "set": {"label": true}}}]}`

// The whole app against the simulated portal: installed, it binds the
// activity events; a call a sales rep logs reaches it as
// ONCRMACTIVITYADD, and the contact's Segment field in the CRM turns
// Engaged; the call's delete (ONCRMACTIVITYDELETE, only its id) turns it
// back.
func TestActivityEventsEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole app")
	}
	k := testkit.NewStack(t, testkit.StackOptions{Sim: b24sim.Options{Seed: 31, RatePerSecond: -1}})
	k.Sim.Seed(b24sim.GenOptions{Contacts: 40, Companies: 5, Deals: 60, Activities: 300})
	k.Install(b24sim.InstallOptions{})
	k.Backfill(engagedContacts, 2*time.Minute)
	k.WaitIdle(time.Minute)

	var items []struct {
		LIST []struct{ ID, XML_ID string }
	}
	k.Call("crm.contact.userfield.list", map[string]any{"filter": map[string]any{"FIELD_NAME": "UF_CRM_SEGMENTOR"}}, &items)
	keyOf := map[string]string{}
	for _, it := range items[0].LIST {
		keyOf[it.ID] = it.XML_ID
	}
	segmentOf := func(id int) string {
		r, _ := k.Sim.Record("contact", id)
		return keyOf[b24sim.Scalar(r["UF_CRM_SEGMENTOR"])]
	}
	silent := 0
	for r := range k.Sim.Records("contact") {
		if id := int(testkit.Num(r["ID"])); segmentOf(id) == "silent" {
			silent = id
			break
		}
	}
	if silent == 0 {
		t.Fatal("no silent contact after the backfill")
	}
	rep := 2
	id, err := k.Sim.UserAddActivity(b24sim.Activity{Type: b24sim.ActivityCall, Direction: b24sim.DirectionIncoming,
		Completed: true, OwnerType: "contact", OwnerID: silent, Start: time.Now().Add(-time.Hour)}, rep)
	if err != nil {
		t.Fatal(err)
	}
	await.That(t, time.Minute, "the contact to turn engaged", func() bool { return segmentOf(silent) == "engaged" })
	if err := k.Sim.UserDeleteActivity(id, rep); err != nil {
		t.Fatal(err)
	}
	await.That(t, time.Minute, "the contact to turn silent again", func() bool { return segmentOf(silent) == "silent" })
	if st := k.Sim.EventStats(); st.Failed != 0 {
		t.Errorf("event deliveries: %+v", st)
	}
}
