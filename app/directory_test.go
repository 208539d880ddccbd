package app_test

import (
	"context"
	"encoding/json"
	"testing"

	"segmentor/app"
	"segmentor/internal/keyspace"
	"segmentor/internal/redistest"
)

// A directory an older version cached (the hash of raw REST answers under
// "reference", categories kept whole) is converted on first read, and the
// old hash goes.
func TestDirectoryUpgradesTheOlderCache(t *testing.T) {
	rdb, _ := redistest.New(t)
	store := app.NewStore(rdb, nil, nil)
	ctx := context.Background()
	old := keyspace.Portal("m1", "reference")
	if err := rdb.HSet(ctx, old,
		"statuses", `[{"ENTITY_ID":"CONTACT_TYPE","STATUS_ID":"CLIENT","NAME":"Clients","SORT":"10"},
			{"ENTITY_ID":"DEAL_STAGE_3","STATUS_ID":"C3:WON","NAME":"Won","SORT":"20"},
			{"ENTITY_ID":"DEAL_STAGE_3","STATUS_ID":"C3:NEW","NAME":"New","SORT":"10"},
			{"ENTITY_ID":"SOURCE","STATUS_ID":"WEB","NAME":"Website","SORT":"10"}]`,
		"categories", `{"categories":[{"id":0,"name":"General"},{"id":3,"name":"Premium"}]}`,
		"currencies", `[{"CURRENCY":"EUR","FULL_NAME":"Euro","BASE":"Y"}]`,
		"fields_contact", `{"SOURCE_ID":{"type":"crm_status","title":"Source","statusType":"SOURCE"},"UF_CRM_TIER":{"type":"string","listLabel":"Tier"}}`,
		"segment_field_contact", `[{"ID":"7","LIST":[{"ID":"31","XML_ID":"vip","VALUE":"VIP"}]}]`,
	).Err(); err != nil {
		t.Fatal(err)
	}
	d, err := store.Directory(ctx, "m1")
	if err != nil {
		t.Fatal(err)
	}
	if got := d.TypeName("contact", "CLIENT"); got != "Clients" {
		t.Errorf("contact type CLIENT = %q", got)
	}
	if len(d.Pipelines) != 2 || d.Stage(3, "C3:NEW") != "Premium: New" || d.Pipelines[1].FirstStage() != "C3:NEW" {
		t.Errorf("pipelines = %+v", d.Pipelines)
	}
	if len(d.Currencies) != 1 || !d.Currencies[0].Base || d.Currencies[0].Name != "Euro" {
		t.Errorf("currencies = %+v", d.Currencies)
	}
	if f := d.Fields["contact"]; len(f) != 2 || f[0].ID != "SOURCE_ID" || f[1].Title != "Tier" || !f[1].Custom() {
		t.Errorf("fields = %+v", f)
	}
	if sf := d.Segment["contact"]; sf.ID != 7 || len(sf.Items) != 1 || sf.Items[0] != (app.SegmentItem{ID: 31, Key: "vip", Name: "VIP"}) {
		t.Errorf("segment field = %+v", sf)
	}
	if n, _ := rdb.Exists(ctx, old).Result(); n != 0 {
		t.Error("the older cache is still there")
	}
	again, err := store.Directory(ctx, "m1")
	if err != nil || again.TypeName("contact", "CLIENT") != "Clients" {
		t.Errorf("read again: %v %+v", err, again)
	}
	if v := d.Vocabulary(); len(v.Sources) != 1 || len(v.Types["contact"]) != 1 || len(v.Fields["contact"]) != 2 {
		t.Errorf("vocabulary = %+v", v)
	}
}

// A part that is not what the method answers is refused, not cached.
func TestParseDirectoryRefusesGarbage(t *testing.T) {
	for _, parts := range []map[string]json.RawMessage{
		{"statuses": json.RawMessage(`{"x":1}`)},
		{"categories": json.RawMessage(`"x"`)},
		{"fields_deal": json.RawMessage(`[1,2]`)},
		{"segment_field_deal": json.RawMessage(`{"ID":1}`)},
	} {
		if _, err := app.ParseDirectory(parts); err == nil {
			t.Errorf("%s parsed", parts)
		}
	}
}
