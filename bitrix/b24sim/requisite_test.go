package b24sim

// Requisites', addresses' and crm.duplicate.findbycomm's strict
// behaviours, each checked against the page of the official documentation
// (bitrix24/b24restdocs) it follows, as in strict_test.go.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// newRequisitePortal is a portal with contacts and companies and no
// requisites, and an admin token.
func newRequisitePortal(t *testing.T) (*Portal, string) {
	t.Helper()
	p := New(Options{Seed: 31, RatePerSecond: -1})
	t.Cleanup(p.Close)
	p.Seed(GenOptions{Contacts: 6, Companies: 60})
	return p, p.IssueTokens(1).AccessToken
}

func listRows(t *testing.T, r reply) []map[string]any {
	t.Helper()
	if r.Status != 200 {
		t.Fatalf("list = %d %s", r.Status, r.Raw)
	}
	raw, _ := r.Body["result"].([]any)
	out := make([]map[string]any, len(raw))
	for i, x := range raw {
		out[i] = x.(map[string]any)
	}
	return out
}

// api-reference/crm/requisites/universal/crm-requisite-add.md: the
// owner type (3 or 4), owner id, template and owner are checked in that
// order, each refusal a 400 with the empty code; the result is the new id
// as a number.
func TestStrictRequisiteAdd(t *testing.T) {
	p, tok := newRequisitePortal(t)
	for _, c := range []struct{ fields, desc string }{
		{`{"ENTITY_ID": 1, "PRESET_ID": 1}`, "ENTITY_TYPE_ID is not defined or invalid."},
		{`{"ENTITY_TYPE_ID": 2, "ENTITY_ID": 1, "PRESET_ID": 1}`, "ENTITY_TYPE_ID is not defined or invalid."},
		{`{"ENTITY_TYPE_ID": 4, "PRESET_ID": 1}`, "ENTITY_ID is not defined or invalid."},
		{`{"ENTITY_TYPE_ID": 4, "ENTITY_ID": 1}`, "PRESET_ID is not defined or invalid."},
		{`{"ENTITY_TYPE_ID": 4, "ENTITY_ID": 1, "PRESET_ID": 9}`, "PRESET_ID is not defined or invalid."},
		{`{"ENTITY_TYPE_ID": 4, "ENTITY_ID": 999, "PRESET_ID": 1}`, "Entity not found."},
	} {
		wantErr(t, callJSON(t, p, "crm.requisite.add", tok, `{"fields": `+c.fields+`}`), 400, "", c.desc, c.fields)
	}
	r := callJSON(t, p, "crm.requisite.add", tok, `{"fields": {"ENTITY_TYPE_ID": 4, "ENTITY_ID": 2, "PRESET_ID": 1,
		"NAME": "Organization", "RQ_COMPANY_NAME": "Acme Sp. z o.o.", "RQ_VAT_ID": "5260250274"}}`)
	if r.Status != 200 || r.Body["result"] != float64(1) {
		t.Fatalf("add = %d %s", r.Status, r.Raw)
	}
	got, _ := p.RequisiteRecord(1)
	if got["ENTITY_TYPE_ID"] != "4" || got["ENTITY_ID"] != "2" || got["ACTIVE"] != "Y" || got["SORT"] != "500" ||
		got["RQ_VAT_ID"] != "5260250274" || got["RQ_INN"] != nil || got["DATE_MODIFY"] != "" || got["MODIFY_BY_ID"] != nil ||
		got["CREATED_BY_ID"] != "1" || got["RQ_VAT_PAYER"] != "N" {
		t.Errorf("stored = %v", got)
	}
}

// api-reference/crm/requisites/universal/crm-requisite-list.md: 50 rows
// a page with total and next; select names exactly the keys returned (no
// ID unless named); every select when absent; the page's prefixes (@,
// %, !%, >=) filter; order DESC; numbers as strings.
func TestStrictRequisiteList(t *testing.T) {
	p, tok := newRequisitePortal(t)
	for id := 1; id <= 60; id++ {
		vat := fmt.Sprintf("PL%010d", id)
		if id%2 == 0 {
			vat = fmt.Sprintf("DE%09d", id)
		}
		if _, err := p.AddRequisite(Requisite{OwnerType: OwnerCompany, OwnerID: id, PresetID: 1,
			Fields: map[string]string{"NAME": "Organization", "RQ_VAT_ID": vat}}, 1); err != nil {
			t.Fatal(err)
		}
	}
	r := callJSON(t, p, "crm.requisite.list", tok, `{"select": ["ENTITY_ID", "RQ_VAT_ID"]}`)
	rows := listRows(t, r)
	if len(rows) != 50 || r.Body["total"] != float64(60) || r.Body["next"] != float64(50) {
		t.Fatalf("first page: %d rows, total %v, next %v", len(rows), r.Body["total"], r.Body["next"])
	}
	if _, ok := rows[0]["ID"]; ok || len(rows[0]) != 2 || rows[0]["ENTITY_ID"] != "1" {
		t.Errorf("select [ENTITY_ID, RQ_VAT_ID] gave %v", rows[0])
	}
	r = callJSON(t, p, "crm.requisite.list", tok, `{"start": 50}`)
	if rows = listRows(t, r); len(rows) != 10 || r.Body["next"] != nil || rows[0]["ID"] != "51" || len(rows[0]) != 75 {
		t.Errorf("second page: %d rows, next %v, first %v (%d keys)", len(rows), r.Body["next"], rows[0]["ID"], len(rows[0]))
	}
	for _, c := range []struct {
		body string
		want []string // IDs
	}{
		{`{"filter": {"@ID": [3, 5, 70]}, "select": ["ID"]}`, []string{"3", "5"}},
		{`{"filter": {"%RQ_VAT_ID": "de00000001", "ENTITY_TYPE_ID": 4}, "select": ["ID"]}`, []string{"10", "12", "14", "16", "18"}},
		{`{"filter": {"!%RQ_VAT_ID": "PL", ">=ID": 55}, "select": ["ID"]}`, []string{"56", "58", "60"}},
		{`{"filter": {"=%RQ_VAT_ID": "PL%9"}, "order": {"ID": "DESC"}, "select": ["ID"]}`, []string{"59", "49", "39", "29", "19", "9"}},
		{`{"filter": {"ENTITY_TYPE_ID": 3}, "select": ["ID"]}`, nil},
	} {
		var got []string
		for _, row := range listRows(t, callJSON(t, p, "crm.requisite.list", tok, c.body)) {
			got = append(got, row["ID"].(string))
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s = %v, want %v", c.body, got, c.want)
		}
	}
}

// api-reference/crm/requisites/universal/crm-requisite-update.md and
// crm-requisite-delete.md: a missing requisite is "The Requisite with ID
// 'N' is not found", a missing id "ID is not defined or invalid."; both
// answer true; delete takes the requisite's addresses with it.
func TestStrictRequisiteUpdateDelete(t *testing.T) {
	p, tok := newRequisitePortal(t)
	id, err := p.AddRequisite(Requisite{OwnerType: OwnerCompany, OwnerID: 1, PresetID: 1}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AddAddress(Address{TypeID: AddressLegal, RequisiteID: id, City: "Kraków"}); err != nil {
		t.Fatal(err)
	}
	wantErr(t, callJSON(t, p, "crm.requisite.update", tok, `{"id": 57, "fields": {"NAME": "x"}}`), 400, "",
		"The Requisite with ID '57' is not found", "update of a missing requisite")
	wantErr(t, callJSON(t, p, "crm.requisite.update", tok, `{"fields": {"NAME": "x"}}`), 400, "",
		"ID is not defined or invalid.", "update without id")
	wantErr(t, callJSON(t, p, "crm.requisite.update", tok, fmt.Sprintf(`{"id": %d, "fields": {"PRESET_ID": 8}}`, id)), 400, "",
		"PRESET_ID is not defined or invalid.", "update to an unknown template")
	r := callJSON(t, p, "crm.requisite.update", tok, fmt.Sprintf(`{"id": %d, "fields": {"RQ_VAT_ID": "PL5260250274", "ENTITY_ID": 1}}`, id))
	if r.Status != 200 || r.Body["result"] != true {
		t.Fatalf("update = %d %s", r.Status, r.Raw)
	}
	if got, _ := p.RequisiteRecord(id); got["RQ_VAT_ID"] != "PL5260250274" || got["DATE_MODIFY"] == "" || got["MODIFY_BY_ID"] != "1" {
		t.Errorf("after update: %v", got)
	}
	wantErr(t, callJSON(t, p, "crm.requisite.delete", tok, `{"id": 57}`), 400, "", "The Requisite with ID '57' is not found", "delete of a missing one")
	if r := callJSON(t, p, "crm.requisite.delete", tok, fmt.Sprintf(`{"id": %d}`, id)); r.Status != 200 || r.Body["result"] != true {
		t.Fatalf("delete = %d %s", r.Status, r.Raw)
	}
	if p.RequisiteCount() != 0 || p.AddressCount() != 0 {
		t.Errorf("after delete: %d requisites, %d addresses", p.RequisiteCount(), p.AddressCount())
	}
}

// api-reference/crm/requisites/universal/crm-requisite-list.md ("a user
// with read access permission for contacts and companies"): a sales rep
// sees the requisites of the companies they are responsible for.
func TestRequisiteListOwnOnly(t *testing.T) {
	p, _ := newRequisitePortal(t)
	mine := 0
	for id := 1; id <= 60; id++ {
		if _, err := p.AddRequisite(Requisite{OwnerType: OwnerCompany, OwnerID: id, PresetID: 1}, 1); err != nil {
			t.Fatal(err)
		}
		if rec, _ := p.Record("company", id); rec["ASSIGNED_BY_ID"] == "2" {
			mine++
		}
	}
	r := callJSON(t, p, "crm.requisite.list", p.IssueTokens(2).AccessToken, `{"select": ["ENTITY_ID"]}`)
	if rows := listRows(t, r); len(rows) != mine || mine == 0 {
		t.Errorf("user 2 sees %d requisites, is responsible for %d companies", len(rows), mine)
	}
}

// api-reference/crm/requisites/addresses/crm-address-add.md,
// crm-address-update.md, crm-address-delete.md: TYPE_ID, ENTITY_TYPE_ID
// and ENTITY_ID checked in that order; one address of each type per
// requisite ("TypeAddress exists."); update and delete name the address by
// the three ("TypeAddress not found."); all answer true. A contact (3) as
// the owner is the old mode only some old portals have.
func TestStrictAddressAddUpdateDelete(t *testing.T) {
	p, tok := newRequisitePortal(t)
	rq, err := p.AddRequisite(Requisite{OwnerType: OwnerContact, OwnerID: 2, PresetID: 3}, 1)
	if err != nil {
		t.Fatal(err)
	}
	add := func(fields string) reply { return callJSON(t, p, "crm.address.add", tok, `{"fields": `+fields+`}`) }
	for _, c := range []struct{ fields, desc string }{
		{`{"ENTITY_TYPE_ID": 8, "ENTITY_ID": 1}`, "TYPE_ID is not defined or invalid."},
		{`{"TYPE_ID": 2, "ENTITY_TYPE_ID": 8, "ENTITY_ID": 1}`, "TYPE_ID is not defined or invalid."},
		{`{"TYPE_ID": 1, "ENTITY_TYPE_ID": 3, "ENTITY_ID": 2}`, "ENTITY_TYPE_ID is not defined or invalid."},
		{`{"TYPE_ID": 1, "ENTITY_TYPE_ID": 8}`, "ENTITY_ID is not defined or invalid."},
		{`{"TYPE_ID": 1, "ENTITY_TYPE_ID": 8, "ENTITY_ID": 99}`, "ENTITY_ID is not defined or invalid."},
	} {
		wantErr(t, add(c.fields), 400, "", c.desc, c.fields)
	}
	key := fmt.Sprintf(`"TYPE_ID": 1, "ENTITY_TYPE_ID": 8, "ENTITY_ID": %d`, rq)
	if r := add(`{` + key + `, "CITY": "Gdańsk", "PROVINCE": "Pomorskie", "POSTAL_CODE": "80-001"}`); r.Status != 200 || r.Body["result"] != true {
		t.Fatalf("add = %d %s", r.Status, r.Raw)
	}
	wantErr(t, add(`{`+key+`, "CITY": "Gdynia"}`), 400, "", "TypeAddress exists.", "a second physical address")
	r := callJSON(t, p, "crm.address.update", tok, `{"fields": {`+key+`, "ADDRESS_1": "ul. Długa 5"}}`)
	if r.Status != 200 || r.Body["result"] != true {
		t.Fatalf("update = %d %s", r.Status, r.Raw)
	}
	rows := listRows(t, callJSON(t, p, "crm.address.list", tok, `{}`))
	want := map[string]any{"TYPE_ID": "1", "ENTITY_TYPE_ID": "8", "ENTITY_ID": fmt.Sprint(rq), "ADDRESS_1": "ul. Długa 5",
		"ADDRESS_2": nil, "CITY": "Gdańsk", "POSTAL_CODE": "80-001", "REGION": nil, "PROVINCE": "Pomorskie", "COUNTRY": nil,
		"COUNTRY_CODE": nil, "LOC_ADDR_ID": "1", "ANCHOR_TYPE_ID": "3", "ANCHOR_ID": "2"}
	if len(rows) != 1 || !reflect.DeepEqual(rows[0], want) {
		t.Errorf("list = %v, want %v", rows, want)
	}
	other := fmt.Sprintf(`"TYPE_ID": 6, "ENTITY_TYPE_ID": 8, "ENTITY_ID": %d`, rq)
	wantErr(t, callJSON(t, p, "crm.address.update", tok, `{"fields": {`+other+`, "CITY": "x"}}`), 400, "", "TypeAddress not found.", "update of a missing type")
	wantErr(t, callJSON(t, p, "crm.address.delete", tok, `{"fields": {`+other+`}}`), 400, "", "TypeAddress not found.", "delete of a missing type")
	if r := callJSON(t, p, "crm.address.delete", tok, `{"fields": {`+key+`}}`); r.Status != 200 || r.Body["result"] != true {
		t.Fatalf("delete = %d %s", r.Status, r.Raw)
	}
	if p.AddressCount() != 0 {
		t.Error("the address is still there")
	}
}

// api-reference/crm/requisites/addresses/crm-address-list.md: every
// address field may be filtered (with the page's prefixes) and ordered
// by; select names the keys; 50 a page with total and next.
func TestStrictAddressList(t *testing.T) {
	p, tok := newRequisitePortal(t)
	p.Seed(GenOptions{Requisites: true})
	total := p.AddressCount()
	if total <= 50 {
		t.Fatalf("only %d addresses", total)
	}
	r := callJSON(t, p, "crm.address.list", tok, `{"order": {"ENTITY_ID": "ASC", "TYPE_ID": "ASC"}}`)
	rows := listRows(t, r)
	if len(rows) != 50 || r.Body["total"] != float64(total) || r.Body["next"] != float64(50) {
		t.Fatalf("first page: %d rows, total %v, next %v", len(rows), r.Body["total"], r.Body["next"])
	}
	if _, ok := rows[0]["ID"]; ok || len(rows[0]) != 14 {
		t.Errorf("an address has no ID and 14 fields: %v", rows[0])
	}
	r = callJSON(t, p, "crm.address.list", tok, `{"filter": {"%PROVINCE": "mazowieckie", "=COUNTRY": ["Poland", "Polska"],
		"ANCHOR_TYPE_ID": 4, ">=LOC_ADDR_ID": 1, "!@TYPE_ID": [11]}, "select": ["CITY", "PROVINCE", "ANCHOR_ID"]}`)
	rows = listRows(t, r)
	if len(rows) == 0 {
		t.Fatal("no address in Mazowieckie")
	}
	for _, row := range rows {
		if len(row) != 3 || !strings.Contains(strings.ToLower(row["PROVINCE"].(string)), "mazowieckie") {
			t.Errorf("filtered row %v", row)
		}
	}
}

// api-reference/crm/auxiliary/enum/crm-enum-address-type.md: the six
// types, ids as numbers.
func TestStrictAddressTypes(t *testing.T) {
	p, tok := newRequisitePortal(t)
	rows := listRows(t, callJSON(t, p, "crm.enum.addresstype", tok, `{}`))
	var ids []float64
	for _, r := range rows {
		ids = append(ids, r["ID"].(float64))
	}
	if !slices.Equal(ids, []float64{11, 1, 6, 4, 8, 9}) {
		t.Errorf("address types %v", ids)
	}
}

// api-reference/crm/requisites/events/on-crm-requisite-add.md,
// on-crm-requisite-update.md, on-crm-requisite-delete.md: each change,
// over REST or in a card, POSTs its event with data[FIELDS][ID] only.
func TestRequisiteEvents(t *testing.T) {
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	p, tok := newRequisitePortal(t)
	for _, ev := range []string{"onCrmRequisiteAdd", "onCrmRequisiteUpdate", "onCrmRequisiteDelete"} {
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

	id, err := p.AddRequisite(Requisite{OwnerType: OwnerCompany, OwnerID: 3, PresetID: 1}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if r := callJSON(t, p, "crm.requisite.update", tok, fmt.Sprintf(`{"id": %d, "fields": {"NAME": "HQ"}}`, id)); r.Status != 200 {
		t.Fatalf("update = %d %s", r.Status, r.Raw)
	}
	if err := p.DeleteRequisite(id, 2); err != nil {
		t.Fatal(err)
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
		if len(data) != 1 || f.Get("data[FIELDS][ID]") != fmt.Sprint(id) {
			t.Errorf("%s carries %v", f.Get("event"), data)
		}
		got = append(got, f.Get("event"))
	}
	if want := []string{"ONCRMREQUISITEADD", "ONCRMREQUISITEUPDATE", "ONCRMREQUISITEDELETE"}; !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
}

// api-reference/crm/requisites/events/on-crm-address-register.md and
// on-crm-address-unregister.md (listed in api-reference/events/events.md):
// an address added, over REST or in a card, or changed, POSTs
// ONCRMADDRESSREGISTER, one deleted ONCRMADDRESSUNREGISTER, each with the
// address's key (TYPE_ID, ENTITY_TYPE_ID, ENTITY_ID) and its anchor
// (ANCHOR_TYPE_ID, ANCHOR_ID: the requisite's contact or company) in
// data[FIELDS], and no ID.
func TestAddressEvents(t *testing.T) {
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	p, tok := newRequisitePortal(t)
	for _, ev := range []string{"onCrmAddressRegister", "onCrmAddressUnregister"} {
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

	rq, err := p.AddRequisite(Requisite{OwnerType: OwnerCompany, OwnerID: 7, PresetID: 1}, 2)
	if err != nil {
		t.Fatal(err)
	}
	key := fmt.Sprintf(`"TYPE_ID": 6, "ENTITY_TYPE_ID": 8, "ENTITY_ID": %d`, rq)
	for _, c := range []struct{ method, fields string }{
		{"crm.address.add", `{` + key + `, "CITY": "Radom"}`},
		{"crm.address.update", `{` + key + `, "PROVINCE": "Mazowieckie"}`},
		{"crm.address.delete", `{` + key + `}`},
	} {
		if r := callJSON(t, p, c.method, tok, `{"fields": `+c.fields+`}`); r.Status != 200 || r.Body["result"] != true {
			t.Fatalf("%s = %d %s", c.method, r.Status, r.Raw)
		}
	}
	if err := p.AddAddress(Address{TypeID: AddressPhysical, RequisiteID: rq, City: "Kraków"}); err != nil {
		t.Fatal(err)
	}
	if err := p.UpdateAddress(Address{TypeID: AddressPhysical, RequisiteID: rq, Province: "Małopolskie"}); err != nil {
		t.Fatal(err)
	}
	if got := p.AddressesOf(rq); len(got) != 1 || got[0].City != "Kraków" || got[0].Province != "Małopolskie" {
		t.Errorf("after the card's update: %+v", got)
	}
	if err := p.DeleteAddress(AddressPhysical, rq); err != nil {
		t.Fatal(err)
	}
	if err := p.DeleteAddress(AddressPhysical, rq); err == nil {
		t.Error("a second delete of the same address succeeded")
	}
	waitEvents(t, p)
	var got []string
	for i, f := range rc.got() {
		var data []string
		for k := range f {
			if strings.HasPrefix(k, "data[") {
				data = append(data, k)
			}
		}
		slices.Sort(data)
		wantType := "6"
		if i >= 3 {
			wantType = "1"
		}
		wantKeys := []string{"data[FIELDS][ANCHOR_ID]", "data[FIELDS][ANCHOR_TYPE_ID]", "data[FIELDS][ENTITY_ID]",
			"data[FIELDS][ENTITY_TYPE_ID]", "data[FIELDS][TYPE_ID]"}
		if !slices.Equal(data, wantKeys) || f.Get("data[FIELDS][TYPE_ID]") != wantType || f.Get("data[FIELDS][ENTITY_TYPE_ID]") != "8" ||
			f.Get("data[FIELDS][ENTITY_ID]") != fmt.Sprint(rq) || f.Get("data[FIELDS][ANCHOR_TYPE_ID]") != "4" || f.Get("data[FIELDS][ANCHOR_ID]") != "7" {
			t.Errorf("%s carries %v: %v", f.Get("event"), data, f)
		}
		got = append(got, f.Get("event"))
	}
	want := []string{"ONCRMADDRESSREGISTER", "ONCRMADDRESSREGISTER", "ONCRMADDRESSUNREGISTER",
		"ONCRMADDRESSREGISTER", "ONCRMADDRESSREGISTER", "ONCRMADDRESSUNREGISTER"}
	if !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
}

// api-reference/crm/contacts/crm-contact-fields.md and
// api-reference/crm/companies/crm-company-fields.md, "Deprecated Fields":
// a contact's ADDRESS_* and a company's ADDRESS_* and REG_ADDRESS_* are
// strings crm.*.fields lists, crm.*.add and crm.*.update write, and
// crm.*.list selects and filters by; an older portal fills them.
func TestStrictLegacyAddressFields(t *testing.T) {
	p, tok := newRequisitePortal(t)
	fields := callJSON(t, p, "crm.company.fields", tok, `{}`).Body["result"].(map[string]any)
	for _, f := range []string{"ADDRESS", "ADDRESS_2", "ADDRESS_CITY", "ADDRESS_POSTAL_CODE", "ADDRESS_REGION", "ADDRESS_PROVINCE",
		"ADDRESS_COUNTRY", "ADDRESS_COUNTRY_CODE", "REG_ADDRESS", "REG_ADDRESS_CITY", "REG_ADDRESS_PROVINCE", "REG_ADDRESS_COUNTRY"} {
		info, ok := fields[f].(map[string]any)
		if !ok || info["type"] != "string" || info["isReadOnly"] != false {
			t.Errorf("crm.company.fields %s = %v", f, fields[f])
		}
	}
	if _, ok := callJSON(t, p, "crm.contact.fields", tok, `{}`).Body["result"].(map[string]any)["REG_ADDRESS_CITY"]; ok {
		t.Error("a contact has no legal address fields")
	}
	r := callJSON(t, p, "crm.contact.add", tok, `{"fields": {"NAME": "Ewa", "ADDRESS_CITY": " Kraków ", "ADDRESS_PROVINCE": "małopolskie", "ADDRESS_COUNTRY": "Polska"}}`)
	if r.Status != 200 {
		t.Fatalf("add = %d %s", r.Status, r.Raw)
	}
	id := r.Body["result"]
	if r := callJSON(t, p, "crm.contact.update", tok, fmt.Sprintf(`{"id": %v, "fields": {"ADDRESS_POSTAL_CODE": "30-001", "ADDRESS_COUNTRY": ""}}`, id)); r.Status != 200 {
		t.Fatalf("update = %d %s", r.Status, r.Raw)
	}
	rows := listRows(t, callJSON(t, p, "crm.contact.list", tok, `{"filter": {"ADDRESS_CITY": "Kraków"},
		"select": ["ID", "ADDRESS_CITY", "ADDRESS_PROVINCE", "ADDRESS_POSTAL_CODE", "ADDRESS_COUNTRY"]}`))
	want := map[string]any{"ID": fmt.Sprint(id), "ADDRESS_CITY": "Kraków", "ADDRESS_PROVINCE": "małopolskie",
		"ADDRESS_POSTAL_CODE": "30-001", "ADDRESS_COUNTRY": nil}
	if len(rows) != 1 || !reflect.DeepEqual(rows[0], want) {
		t.Errorf("list = %v, want %v", rows, want)
	}
	if rows := listRows(t, callJSON(t, p, "crm.contact.list", tok, `{"select": ["ID", "NAME"]}`)); len(rows) == 0 || len(rows[0]) != 2 {
		t.Errorf("a select without them: %v", rows)
	}
}

// Deleting a company deletes its requisites and their addresses.
func TestCompanyDeleteDropsRequisites(t *testing.T) {
	p, tok := newRequisitePortal(t)
	id, _ := p.AddRequisite(Requisite{OwnerType: OwnerCompany, OwnerID: 5, PresetID: 1}, 1)
	if err := p.AddAddress(Address{TypeID: AddressLegal, RequisiteID: id, City: "Łódź"}); err != nil {
		t.Fatal(err)
	}
	if r := callJSON(t, p, "crm.company.delete", tok, `{"id": 5}`); r.Status != 200 {
		t.Fatalf("company delete = %d %s", r.Status, r.Raw)
	}
	if p.RequisiteCount() != 0 || p.AddressCount() != 0 {
		t.Errorf("left %d requisites, %d addresses", p.RequisiteCount(), p.AddressCount())
	}
}

// findByComm calls crm.duplicate.findbycomm with a JSON body.
func findByComm(t *testing.T, p *Portal, tok, body string) reply {
	t.Helper()
	return callJSON(t, p, "crm.duplicate.findbycomm", tok, body)
}

// api-reference/crm/duplicates/crm-duplicate-find-by-comm.md: type and
// values required, the refusals with the page's texts as codes; DEAL is
// not supported.
func TestStrictFindByCommErrors(t *testing.T) {
	p, tok := newRequisitePortal(t)
	wantErr(t, findByComm(t, p, tok, `{"values": ["a@b.c"]}`), 400, "Communication type is not defined", "Parameter 'type' is required.", "no type")
	wantErr(t, findByComm(t, p, tok, `{"type": "FAX", "values": ["1"]}`), 400,
		"Communication type 'FAX' is not supported in current context", "", "type FAX")
	wantErr(t, findByComm(t, p, tok, `{"type": "EMAIL"}`), 400, "Communication values is not defined", "Parameter 'values' is required.", "no values")
	wantErr(t, findByComm(t, p, tok, `{"type": "EMAIL", "values": []}`), 400, "Communication values is not defined", "", "empty values")
	// tutorials/crm/how-to-get-lists/search-by-phone-and-email.md: a string instead of an array
	wantErr(t, findByComm(t, p, tok, `{"type": "EMAIL", "values": "a@b.c"}`), 400, "Communication values is not defined", "", "values as a string")
	wantErr(t, findByComm(t, p, tok, `{"type": "EMAIL", "values": ["a@b.c"], "entity_type": "DEAL"}`), 400, "",
		"Deal is not supported in current context.", "entity_type DEAL")
}

// api-reference/crm/duplicates/crm-duplicate-find-by-comm.md: phones
// match by digits without the extension, e-mails without case; the answer
// has only the types found, ids as numbers, [] when none; at most 20
// values are read (the 21st finds nothing); entity_type narrows.
func TestStrictFindByComm(t *testing.T) {
	p, tok := newRequisitePortal(t)
	for _, c := range []struct {
		entity   string
		id       int
		typ, val string
	}{
		{"contact", 2, "PHONE", "+48 600 123 456"}, {"company", 7, "PHONE", "48600123456"}, {"contact", 4, "PHONE", "(600) 999-000"},
		{"contact", 5, "EMAIL", "Anna.Nowak@Example.com"}, {"company", 1, "EMAIL", "biuro@firma.pl"},
	} {
		if err := p.AddCommunication(c.entity, c.id, c.typ, c.val); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct{ body, want string }{
		{`{"type": "PHONE", "values": ["+48-600-123-456 ext. 12"]}`, `{"COMPANY":[7],"CONTACT":[2]}`},
		{`{"type": "phone", "values": ["48600123456"], "entity_type": "CONTACT"}`, `{"CONTACT":[2]}`},
		{`{"type": "PHONE", "values": ["600999000"]}`, `{"CONTACT":[4]}`},
		{`{"type": "PHONE", "values": [600999000]}`, `[]`}, // not a string
		{`{"type": "EMAIL", "values": ["anna.nowak@example.com", "BIURO@firma.pl"]}`, `{"COMPANY":[1],"CONTACT":[5]}`},
		{`{"type": "EMAIL", "values": ["nobody@example.com"]}`, `[]`},
	} {
		r := findByComm(t, p, tok, c.body)
		if got := strings.TrimSpace(string(mustJSON(t, r.Body["result"]))); r.Status != 200 || got != c.want {
			t.Errorf("%s = %d %s, want %s", c.body, r.Status, r.Raw, c.want)
		}
	}
	var values []string
	for i := range 20 {
		values = append(values, fmt.Sprintf("x%d@example.com", i))
	}
	values = append(values, "biuro@firma.pl")
	r := findByComm(t, p, tok, `{"type": "EMAIL", "values": `+string(mustJSON(t, values))+`}`)
	if got := string(mustJSON(t, r.Body["result"])); got != `[]` {
		t.Errorf("the 21st value was searched: %s", r.Raw)
	}
	// inside batch, form-encoded as a batch command carries it
	q := url.Values{"type": {"EMAIL"}, "values[]": {"biuro@firma.pl"}}.Encode()
	r = callJSON(t, p, "batch", tok, `{"halt": 0, "cmd": {"d": "crm.duplicate.findbycomm?`+q+`"}}`)
	res, _ := r.Body["result"].(map[string]any)
	if got := string(mustJSON(t, res["result"])); got != `{"d":{"COMPANY":[1]}}` {
		t.Errorf("in a batch: %s", r.Raw)
	}
}

// Seeding requisites and communications leaves the records as a seed
// without them makes them, and is the same for the same seed.
func TestSeedRequisites(t *testing.T) {
	seed := func(extra bool) (*Portal, GenStats) {
		p := New(Options{Seed: 77, RatePerSecond: -1})
		t.Cleanup(p.Close)
		return p, p.Seed(GenOptions{Contacts: 80, Companies: 200, Deals: 50, Requisites: extra, Communications: extra})
	}
	plain, _ := seed(false)
	a, st := seed(true)
	b, _ := seed(true)
	for _, e := range []string{"contact", "company", "deal"} {
		for id := 1; id <= 10; id++ {
			x, _ := plain.Record(e, id)
			y, _ := a.Record(e, id)
			if !reflect.DeepEqual(x, y) {
				t.Fatalf("%s %d differs with requisites", e, id)
			}
		}
	}
	if st.Requisites < 200 || st.Addresses < st.Requisites || st.Communications == 0 || plain.RequisiteCount() != 0 {
		t.Fatalf("stats %+v", st)
	}
	polish, valid := 0, 0
	for id := 1; id <= st.Requisites; id++ {
		x, _ := a.RequisiteRecord(id)
		y, _ := b.RequisiteRecord(id)
		if !reflect.DeepEqual(x, y) {
			t.Fatalf("requisite %d differs between two seeds", id)
		}
		vat, _ := x["RQ_VAT_ID"].(string)
		if strings.HasPrefix(vat, "DE") || strings.HasPrefix(vat, "CZ") || strings.HasPrefix(vat, "ATU") || strings.HasPrefix(vat, "LT") || vat == "" {
			continue
		}
		polish++
		digits := strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, vat)
		if len(digits) == 10 && nipChecksum(digits[:9]) == int(digits[9]-'0') {
			valid++
		}
	}
	if polish < 70 || valid == polish || valid < polish*9/10 {
		t.Errorf("%d Polish NIPs, %d valid: want most valid and a few not", polish, valid)
	}
}

// nipChecksum: the weights 6,5,7,2,3,4,5,6,7 mod 11.
func TestNIPChecksum(t *testing.T) {
	for _, c := range []struct {
		nip  string
		want int
	}{{"526025027", 4}, {"130000000", 10}, {"123456321", 8}} {
		if got := nipChecksum(c.nip); got != c.want {
			t.Errorf("nipChecksum(%s) = %d, want %d", c.nip, got, c.want)
		}
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
