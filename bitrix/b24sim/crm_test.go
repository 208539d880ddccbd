package b24sim

import (
	"fmt"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"segmentor/internal/fakeclock"
)

// crmPortal is a portal with a fixed clock, no rate limit and an admin token.
func crmPortal(t *testing.T) (*Portal, string, *fakeclock.Clock) {
	t.Helper()
	clk := newFakeClock()
	p := New(Options{RatePerSecond: -1, Clock: clk.Now, Seed: 7, AccessTokenTTL: 24 * 365 * time.Hour})
	t.Cleanup(p.Close)
	return p, p.IssueTokens(1).AccessToken, clk
}

func mustOK(t *testing.T, r reply, what string) map[string]any {
	t.Helper()
	if r.Status != 200 || r.Body["error"] != nil {
		t.Fatalf("%s = %d %s", what, r.Status, r.Raw)
	}
	return r.Body
}

func ids(rows []any, key string) []string {
	var out []string
	for _, r := range rows {
		out = append(out, fmt.Sprint(r.(map[string]any)[key]))
	}
	return out
}

var isoRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$`)

func TestCRMDealRendersAsBitrix(t *testing.T) {
	p, tok, _ := crmPortal(t)
	r := callForm(t, p, "crm.deal.add", tok, url.Values{
		"fields[TITLE]": {"Big & small"}, "fields[OPPORTUNITY]": {"12500"}, "fields[CURRENCY_ID]": {"EUR"},
		"fields[TYPE_ID]": {"SALE"}, "fields[NO_SUCH_FIELD]": {"x"}, "fields[BEGINDATE]": {"2024-08-30"},
		"fields[STAGE_SEMANTIC_ID]": {"S"}, "params[REGISTER_SONET_EVENT]": {"N"},
	})
	body := mustOK(t, r, "crm.deal.add")
	if body["result"] != float64(1) {
		t.Fatalf("add result = %v", body["result"])
	}
	d := mustOK(t, callJSON(t, p, "crm.deal.get", tok, `{"id": "1"}`), "crm.deal.get")["result"].(map[string]any)
	want := map[string]any{"ID": "1", "TITLE": "Big & small", "OPPORTUNITY": "12500.00", "CURRENCY_ID": "EUR",
		"CATEGORY_ID": "0", "STAGE_ID": "NEW", "STAGE_SEMANTIC_ID": "P", "CLOSED": "N", "OPENED": "Y",
		"COMPANY_ID": "0", "CONTACT_ID": nil, "ASSIGNED_BY_ID": "1", "CREATED_BY_ID": "1", "TYPE_ID": "SALE",
		"BEGINDATE": "2024-08-30T00:00:00+02:00", "DATE_CREATE": "2026-05-14T12:26:32+02:00", "PROBABILITY": nil,
		"IS_NEW": "Y", "SOURCE_ID": nil}
	for k, v := range want {
		if d[k] != v {
			t.Errorf("%s = %#v, want %#v", k, d[k], v)
		}
	}
	if _, ok := d["NO_SUCH_FIELD"]; ok {
		t.Error("unknown field stored")
	}
	if _, ok := d["CONTACT_IDS"]; ok {
		t.Error("CONTACT_IDS must not be in crm.deal.get")
	}
	if !isoRE.MatchString(d["DATE_MODIFY"].(string)) {
		t.Errorf("DATE_MODIFY = %v", d["DATE_MODIFY"])
	}
	for _, m := range []string{"crm.deal.get", "crm.deal.update", "crm.deal.delete"} {
		r := callJSON(t, p, m, tok, `{"id": 99, "fields": {"TITLE": "x"}}`)
		if r.Status != 400 || r.Body["error"] != "" || r.Body["error_description"] != "Not found" {
			t.Errorf("%s missing = %d %s", m, r.Status, r.Raw)
		}
	}
	mustOK(t, callJSON(t, p, "crm.deal.delete", tok, `{"id": 1}`), "delete")
	if r := callJSON(t, p, "crm.deal.get", tok, `{"id": 1}`); r.Status != 400 || r.Body["error_description"] != "Not found" {
		t.Errorf("get deleted = %d %s", r.Status, r.Raw)
	}
	if _, ok := p.Record("deal", 1); ok || p.Count("deal") != 0 {
		t.Error("deleted deal still visible")
	}
}

func TestCRMContactCompanyAndFields(t *testing.T) {
	p, tok, _ := crmPortal(t)
	mustOK(t, callJSON(t, p, "crm.company.add", tok, `{"fields": {"TITLE": "Acme", "COMPANY_TYPE": "CUSTOMER", "REVENUE": 1000000.5, "INDUSTRY": "IT"}}`), "company.add")
	mustOK(t, callJSON(t, p, "crm.contact.add", tok, `{"fields": {"NAME": "Anna", "LAST_NAME": "Lee", "TYPE_ID": "CLIENT", "COMPANY_ID": 1}}`), "contact.add")
	co := mustOK(t, callJSON(t, p, "crm.company.get", tok, `{"id": 1}`), "company.get")["result"].(map[string]any)
	if co["REVENUE"] != "1000000.50" || co["COMPANY_TYPE"] != "CUSTOMER" || co["CURRENCY_ID"] != "USD" || co["INDUSTRY"] != "IT" {
		t.Errorf("company = %v", co)
	}
	ct := mustOK(t, callJSON(t, p, "crm.contact.get", tok, `{"id": 1}`), "contact.get")["result"].(map[string]any)
	if ct["NAME"] != "Anna" || ct["COMPANY_ID"] != "1" || ct["TYPE_ID"] != "CLIENT" {
		t.Errorf("contact = %v", ct)
	}
	f := mustOK(t, callJSON(t, p, "crm.deal.fields", tok, `{}`), "deal.fields")["result"].(map[string]any)
	sem := f["STAGE_SEMANTIC_ID"].(map[string]any)
	stage := f["STAGE_ID"].(map[string]any)
	if sem["isReadOnly"] != true || stage["type"] != "crm_status" || stage["statusType"] != "DEAL_STAGE" || f["CATEGORY_ID"].(map[string]any)["isImmutable"] != true {
		t.Errorf("deal.fields = %v / %v", sem, stage)
	}
}

// filterDeals makes five deals with known values for the filter tests.
func filterDeals(t *testing.T, p *Portal, tok string, clk *fakeclock.Clock) {
	t.Helper()
	rows := []string{
		`{"TITLE": "Alpha order", "OPPORTUNITY": "100", "TYPE_ID": "SALE", "CONTACT_ID": 3}`,
		`{"TITLE": "Beta order", "OPPORTUNITY": "200.50", "TYPE_ID": "GOODS", "CONTACT_IDS": [4, 5]}`,
		`{"TITLE": "Gamma", "OPPORTUNITY": "1000", "TYPE_ID": "SALE", "STAGE_ID": "WON"}`,
		`{"TITLE": "Delta", "OPPORTUNITY": "999.99", "STAGE_ID": "LOSE"}`,
		`{"TITLE": "Epsilon ALPHA", "OPPORTUNITY": "20"}`,
	}
	for _, f := range rows {
		mustOK(t, callJSON(t, p, "crm.deal.add", tok, `{"fields": `+f+`}`), "add")
		clk.Advance(24 * time.Hour)
	}
}

func TestCRMListFilterPrefixes(t *testing.T) {
	p, tok, clk := crmPortal(t)
	filterDeals(t, p, tok, clk)
	cases := []struct {
		filter string
		want   string
	}{
		{`{">OPPORTUNITY": 200}`, "2,3,4"}, // numeric: "1000" > "200"
		{`{">=OPPORTUNITY": "200.50"}`, "2,3,4"},
		{`{"<OPPORTUNITY": "200.5"}`, "1,5"},
		{`{"<=OPPORTUNITY": 100}`, "1,5"},
		{`{"=OPPORTUNITY": "999.99"}`, "4"},
		{`{"OPPORTUNITY": 1000}`, "3"},
		{`{"!=TYPE_ID": "SALE"}`, "2,4,5"},
		{`{"!TYPE_ID": "SALE"}`, "2,4,5"},
		{`{"TYPE_ID": ""}`, "4,5"},
		{`{"@ID": [1, 3, 5]}`, "1,3,5"},
		{`{"!@ID": [1, 3, 5]}`, "2,4"},
		{`{"@ID": [5, 3, 3, 99]}`, "3,5"}, // listed ids are scanned alone: sorted, once each, only those that exist
		{`{"@ID": [1, 3, 5], ">ID": 1}`, "3,5"},
		{`{"@ID": [1, 3, 5], "ID": [3, 4]}`, "3"},
		{`{"ID": [2, 4]}`, "2,4"},
		{`{"%TITLE": "alpha"}`, "1,5"},
		{`{"=%TITLE": "%order"}`, "1,2"},
		{`{">ID": 2, "<ID": 5}`, "3,4"},
		{`{">=DATE_CREATE": "2026-05-16T12:26:32+02:00"}`, "3,4,5"},
		{`{"<DATE_CREATE": "2026-05-15"}`, "1"},
		{`{">DATE_CREATE": "16.05.2026"}`, "3,4,5"},
		{`{"STAGE_SEMANTIC_ID": "S"}`, "3"},
		{`{"@STAGE_SEMANTIC_ID": ["S", "F"]}`, "3,4"},
		{`{"CLOSED": "Y"}`, "3,4"},
		{`{"CONTACT_ID": 5}`, "2"},
		{`{"%TYPE_ID": "SAL"}`, ""}, // LIKE does not work on crm_status fields
		{`{"%TYPE_ID": "SALE"}`, "1,3"},
		{`{"IS_NEW": "Y"}`, "1,2,5"},
		{`{"NO_SUCH": 1}`, "1,2,3,4,5"},
	}
	for _, tc := range cases {
		b := mustOK(t, callJSON(t, p, "crm.deal.list", tok, `{"filter": `+tc.filter+`, "select": ["ID"]}`), tc.filter)
		if got := strings.Join(ids(b["result"].([]any), "ID"), ","); got != tc.want {
			t.Errorf("filter %s = %s, want %s", tc.filter, got, tc.want)
		}
	}
	desc := mustOK(t, callJSON(t, p, "crm.deal.list", tok, `{"filter": {"@ID": [1, 3, 5]}, "order": {"ID": "DESC"}, "select": ["ID"]}`), "@ID, newest first")
	if got := strings.Join(ids(desc["result"].([]any), "ID"), ","); got != "5,3,1" {
		t.Errorf("@ID [1, 3, 5] by ID descending = %s, want 5,3,1", got)
	}
	// the same through crm.item.list with camelCase keys
	itemCases := []struct{ filter, want string }{
		{`{">opportunity": 200}`, "2,3,4"},
		{`{"@id": [1, 2]}`, "1,2"},
		{`{"=categoryId": 0, "stageSemanticId": "F"}`, "4"},
		{`{"%title": "ORDER"}`, "1,2"},
	}
	for _, tc := range itemCases {
		b := mustOK(t, callJSON(t, p, "crm.item.list", tok, `{"entityTypeId": 2, "filter": `+tc.filter+`}`), tc.filter)
		if got := strings.Join(ids(b["result"].(map[string]any)["items"].([]any), "id"), ","); got != tc.want {
			t.Errorf("item filter %s = %s, want %s", tc.filter, got, tc.want)
		}
	}
	// form-encoded filter and order
	r := callForm(t, p, "crm.deal.list", tok, url.Values{"filter[>OPPORTUNITY]": {"150"}, "order[OPPORTUNITY]": {"DESC"}, "select[]": {"ID", "OPPORTUNITY"}})
	if got := strings.Join(ids(mustOK(t, r, "form list")["result"].([]any), "ID"), ","); got != "3,4,2" {
		t.Errorf("ordered by OPPORTUNITY desc = %s", got)
	}
	b := mustOK(t, callJSON(t, p, "crm.deal.list", tok, `{"order": {"ID": "DESC"}, "select": ["ID"]}`), "desc")
	if got := strings.Join(ids(b["result"].([]any), "ID"), ","); got != "5,4,3,2,1" {
		t.Errorf("order ID desc = %s", got)
	}
	b = mustOK(t, callJSON(t, p, "crm.deal.list", tok, `{"order": {"TITLE": "ASC"}, "select": ["ID"]}`), "title asc")
	if got := strings.Join(ids(b["result"].([]any), "ID"), ","); got != "1,2,4,5,3" {
		t.Errorf("order TITLE asc = %s", got)
	}
}

func TestCRMPagingAndKeyset(t *testing.T) {
	p, tok, _ := crmPortal(t)
	p.Seed(GenOptions{Deals: 120, Contacts: 30, Companies: 10})
	b := mustOK(t, callJSON(t, p, "crm.deal.list", tok, `{"select": ["ID"]}`), "page 1")
	if len(b["result"].([]any)) != 50 || b["total"] != float64(120) || b["next"] != float64(50) {
		t.Errorf("page 1: %d rows total %v next %v", len(b["result"].([]any)), b["total"], b["next"])
	}
	b = mustOK(t, callJSON(t, p, "crm.deal.list", tok, `{"select": ["ID"], "start": 100}`), "page 3")
	if len(b["result"].([]any)) != 20 || b["total"] != float64(120) || b["next"] != nil {
		t.Errorf("last page: %d rows total %v next %v", len(b["result"].([]any)), b["total"], b["next"])
	}
	seen := map[string]bool{}
	last := "0"
	for pages := 0; ; pages++ {
		r := callForm(t, p, "crm.deal.list", tok, url.Values{"order[ID]": {"ASC"}, "filter[>ID]": {last}, "start": {"-1"}, "select[]": {"ID"}})
		b := mustOK(t, r, "keyset")
		if b["total"] != float64(0) || b["next"] != nil {
			t.Fatalf("start=-1: total %v next %v", b["total"], b["next"])
		}
		rows := b["result"].([]any)
		for _, id := range ids(rows, "ID") {
			if seen[id] {
				t.Fatalf("id %s twice", id)
			}
			seen[id] = true
			last = id
		}
		if len(rows) < 50 {
			break
		}
		if pages > 5 {
			t.Fatal("keyset does not end")
		}
	}
	if len(seen) != 120 {
		t.Errorf("keyset saw %d deals", len(seen))
	}
	// crm.item.list keyset
	b = mustOK(t, callJSON(t, p, "crm.item.list", tok, `{"entityTypeId": 2, "order": {"id": "ASC"}, "filter": {">id": 100}, "start": -1, "select": ["id"]}`), "item keyset")
	items := b["result"].(map[string]any)["items"].([]any)
	if len(items) != 20 || items[0].(map[string]any)["id"] != float64(101) || b["total"] != float64(0) || b["next"] != nil {
		t.Errorf("item keyset: %d items, first %v, total %v", len(items), items[0], b["total"])
	}
}

func TestCRMSelect(t *testing.T) {
	p, tok, _ := crmPortal(t)
	mustOK(t, callJSON(t, p, "crm.deal.userfield.add", tok, `{"fields": {"FIELD_NAME": "TIER", "USER_TYPE_ID": "string"}}`), "uf")
	mustOK(t, callJSON(t, p, "crm.deal.add", tok, `{"fields": {"TITLE": "x", "UF_CRM_TIER": "gold"}}`), "add")
	keys := func(sel string) string {
		b := mustOK(t, callJSON(t, p, "crm.deal.list", tok, `{"select": `+sel+`}`), sel)
		var ks []string
		for k := range b["result"].([]any)[0].(map[string]any) {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		return strings.Join(ks, ",")
	}
	if got := keys(`["TITLE", "OPPORTUNITY", "CONTACT_IDS"]`); got != "ID,OPPORTUNITY,TITLE" {
		t.Errorf("explicit select = %s", got)
	}
	if got := keys(`["UF_*"]`); got != "ID,UF_CRM_TIER" {
		t.Errorf("UF_* = %s", got)
	}
	if got := keys(`["*"]`); strings.Contains(got, "UF_CRM_TIER") || !strings.Contains(got, "STAGE_SEMANTIC_ID") {
		t.Errorf("* = %s", got)
	}
	if got := keys(`[]`); !strings.Contains(got, "UF_CRM_TIER") || !strings.Contains(got, "DATE_MODIFY") {
		t.Errorf("default select = %s", got)
	}
}

func TestCRMItemCamelCase(t *testing.T) {
	p, tok, _ := crmPortal(t)
	mustOK(t, callJSON(t, p, "crm.deal.userfield.add", tok, `{"fields": {"FIELD_NAME": "3_DIGIT", "USER_TYPE_ID": "integer"}}`), "uf1")
	mustOK(t, callJSON(t, p, "crm.deal.userfield.add", tok, `{"fields": {"FIELD_NAME": "1747309879", "USER_TYPE_ID": "string"}}`), "uf2")
	mustOK(t, callJSON(t, p, "crm.deal.add", tok, `{"fields": {"TITLE": "x", "OPPORTUNITY": "12500.50", "CONTACT_IDS": [7, 8], "COMPANY_ID": 3, "UF_CRM_3_DIGIT": 42, "UF_CRM_1747309879": "abc"}}`), "add")
	it := mustOK(t, callJSON(t, p, "crm.item.get", tok, `{"entityTypeId": 2, "id": 1}`), "item.get")["result"].(map[string]any)["item"].(map[string]any)
	want := map[string]any{"id": float64(1), "title": "x", "opportunity": 12500.5, "companyId": float64(3), "categoryId": float64(0),
		"stageId": "NEW", "stageSemanticId": "P", "currencyId": "USD", "assignedById": float64(1), "opened": "Y",
		"ufCrm3Digit": float64(42), "ufCrm_1747309879": "abc", "createdTime": "2026-05-14T12:26:32+02:00"}
	for k, v := range want {
		if it[k] != v {
			t.Errorf("item %s = %#v, want %#v", k, it[k], v)
		}
	}
	if fmt.Sprint(it["contactIds"]) != "[7 8]" {
		t.Errorf("contactIds = %v", it["contactIds"])
	}
	if _, ok := it["ID"]; ok {
		t.Error("UPPER keys in crm.item.get")
	}
	it = mustOK(t, callJSON(t, p, "crm.item.get", tok, `{"entityTypeId": 2, "id": 1, "useOriginalUfNames": "Y"}`), "orig")["result"].(map[string]any)["item"].(map[string]any)
	if it["UF_CRM_3_DIGIT"] != float64(42) || it["ufCrm3Digit"] != nil {
		t.Errorf("useOriginalUfNames: %v", it)
	}
	// update by camel UF name; UF_CRM_ names need useOriginalUfNames
	mustOK(t, callJSON(t, p, "crm.item.update", tok, `{"entityTypeId": 2, "id": 1, "fields": {"ufCrm3Digit": 7, "UF_CRM_1747309879": "ignored"}}`), "item.update")
	d, _ := p.Record("deal", 1)
	if d["UF_CRM_3_DIGIT"] != "7" || d["UF_CRM_1747309879"] != "abc" {
		t.Errorf("after item.update: %v %v", d["UF_CRM_3_DIGIT"], d["UF_CRM_1747309879"])
	}
	b := mustOK(t, callJSON(t, p, "crm.item.list", tok, `{"entityTypeId": 2, "select": ["*"]}`), "item.list *")
	if row := b["result"].(map[string]any)["items"].([]any)[0].(map[string]any); row["ufCrm3Digit"] != float64(7) || row["contactIds"] == nil {
		t.Errorf("crm.item.list select * = %v", row)
	}
	b = mustOK(t, callJSON(t, p, "crm.item.list", tok, `{"entityTypeId": 2, "select": ["id", "contactIds", "ufCrm3Digit"]}`), "item.list")
	row := b["result"].(map[string]any)["items"].([]any)[0].(map[string]any)
	if len(row) != 3 || row["ufCrm3Digit"] != float64(7) || b["total"] != float64(1) {
		t.Errorf("item.list select = %v", row)
	}
	// contacts and companies, and crm.item.add/delete
	r := mustOK(t, callJSON(t, p, "crm.item.add", tok, `{"entityTypeId": 4, "fields": {"title": "Acme", "typeId": "PARTNER"}}`), "item.add")
	co := r["result"].(map[string]any)["item"].(map[string]any)
	if co["id"] != float64(1) || co["typeId"] != "PARTNER" || co["title"] != "Acme" {
		t.Errorf("company item = %v", co)
	}
	mustOK(t, callJSON(t, p, "crm.item.delete", tok, `{"entityTypeId": 4, "id": 1}`), "item.delete")
	if r := callJSON(t, p, "crm.item.get", tok, `{"entityTypeId": 4, "id": 1}`); r.Status != 400 || r.errCode() != "NOT_FOUND" {
		t.Errorf("item.get deleted = %d %s", r.Status, r.Raw)
	}
}

func TestUFCamelNames(t *testing.T) {
	for in, want := range map[string]string{
		"UF_CRM_3_DIGIT": "ufCrm3Digit", "UF_CRM_1747309879": "ufCrm_1747309879",
		"UF_CRM_44_1721812814433": "ufCrm44_1721812814433", "UF_CRM_MYAPP_SEGMENT": "ufCrmMyappSegment", "UF_CRM_TIER": "ufCrmTier",
	} {
		if got := ufCamel(in); got != want {
			t.Errorf("ufCamel(%s) = %s, want %s", in, got, want)
		}
	}
}

// eventSink binds handlers for events and finishes the install so events flow.
func eventSink(t *testing.T, p *Portal, tok string, events ...string) *receiver {
	t.Helper()
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	for _, e := range events {
		bindEvent(t, p, tok, e, srv.URL+"/events")
	}
	p.FinishInstall()
	return rc
}

// eventsSeen waits for delivery and returns "EVENT:ID[:CATEGORY_ID:STAGE_ID]" lines, then forgets them.
func eventsSeen(t *testing.T, p *Portal, rc *receiver) []string {
	t.Helper()
	waitEvents(t, p)
	var out []string
	for _, f := range rc.got() {
		s := f.Get("event") + ":" + f.Get("data[FIELDS][ID]")
		if f.Has("data[FIELDS][CATEGORY_ID]") {
			s += ":" + f.Get("data[FIELDS][CATEGORY_ID]") + ":" + f.Get("data[FIELDS][STAGE_ID]")
		}
		out = append(out, s)
	}
	rc.mu.Lock()
	rc.forms = nil
	rc.mu.Unlock()
	return out
}

func TestCRMPipelineMoveRules(t *testing.T) {
	p, tok, clk := crmPortal(t)
	cat := p.AddPipeline("Wholesale")
	rc := eventSink(t, p, tok, "ONCRMDEALADD", "ONCRMDEALUPDATE", "ONCRMDEALMOVETOCATEGORY", "ONCRMDEALDELETE")
	mustOK(t, callJSON(t, p, "crm.deal.add", tok, `{"fields": {"TITLE": "x"}}`), "add")
	if got := eventsSeen(t, p, rc); strings.Join(got, ",") != "ONCRMDEALADD:1" {
		t.Errorf("add events = %v", got)
	}
	before, _ := p.Record("deal", 1)
	clk.Advance(time.Minute)
	// a stage of another pipeline and CATEGORY_ID are silently ignored by crm.deal.update
	mustOK(t, callJSON(t, p, "crm.deal.update", tok, fmt.Sprintf(`{"id": 1, "fields": {"STAGE_ID": "C%d:NEW", "CATEGORY_ID": %d}, "params": {"REGISTER_SONET_EVENT": "N"}}`, cat, cat)), "update foreign")
	after, _ := p.Record("deal", 1)
	if after["STAGE_ID"] != "NEW" || after["CATEGORY_ID"] != "0" || after["DATE_MODIFY"] != before["DATE_MODIFY"] {
		t.Errorf("foreign stage applied: %v %v %v", after["STAGE_ID"], after["CATEGORY_ID"], after["DATE_MODIFY"])
	}
	if got := eventsSeen(t, p, rc); strings.Join(got, ",") != "ONCRMDEALUPDATE:1" {
		t.Errorf("v2 no-op update events = %v (v2 fires anyway)", got)
	}
	// a stage of the same pipeline works
	mustOK(t, callJSON(t, p, "crm.deal.update", tok, `{"id": 1, "fields": {"STAGE_ID": "WON"}}`), "update won")
	after, _ = p.Record("deal", 1)
	if after["STAGE_ID"] != "WON" || after["STAGE_SEMANTIC_ID"] != "S" || after["CLOSED"] != "Y" || after["DATE_MODIFY"] == before["DATE_MODIFY"] {
		t.Errorf("same-pipeline stage: %v", after)
	}
	if got := eventsSeen(t, p, rc); strings.Join(got, ",") != "ONCRMDEALUPDATE:1" {
		t.Errorf("stage events = %v", got)
	}
	// crm.item.update with a stage of the wrong pipeline is an error and changes nothing
	r := callJSON(t, p, "crm.item.update", tok, fmt.Sprintf(`{"entityTypeId": 2, "id": 1, "fields": {"categoryId": %d, "stageId": "NEW"}}`, cat))
	if r.Status != 400 || r.Body["error"] == nil {
		t.Errorf("mismatched move = %d %s", r.Status, r.Raw)
	}
	// crm.item.update moves the deal and fires only ONCRMDEALMOVETOCATEGORY
	b := mustOK(t, callJSON(t, p, "crm.item.update", tok, fmt.Sprintf(`{"entityTypeId": 2, "id": 1, "fields": {"categoryId": %d, "stageId": "C%d:PREPARATION", "title": "moved"}}`, cat, cat)), "move")
	it := b["result"].(map[string]any)["item"].(map[string]any)
	if it["categoryId"] != float64(cat) || it["stageId"] != fmt.Sprintf("C%d:PREPARATION", cat) || it["stageSemanticId"] != "P" || it["closed"] != "N" {
		t.Errorf("moved item = %v", it)
	}
	if got := eventsSeen(t, p, rc); strings.Join(got, ",") != fmt.Sprintf("ONCRMDEALMOVETOCATEGORY:1:%d:C%d:PREPARATION", cat, cat) {
		t.Errorf("move events = %v", got)
	}
	// crm.item.update that changes nothing fires nothing (simulator's assumption)
	mustOK(t, callJSON(t, p, "crm.item.update", tok, `{"entityTypeId": 2, "id": 1, "fields": {"title": "moved"}}`), "no-op item update")
	if got := eventsSeen(t, p, rc); len(got) != 0 {
		t.Errorf("no-op item.update events = %v", got)
	}
	// the UI: a person moves it back, wins it; a robot edits it
	if err := p.UserMoveDeal(1, 0, "EXECUTING", 1); err != nil {
		t.Fatal(err)
	}
	if err := p.WinDeal(1, 1); err != nil {
		t.Fatal(err)
	}
	if err := p.UserUpdate("deal", 1, map[string]any{"TITLE": "moved"}, 1, true); err != nil { // no change
		t.Fatal(err)
	}
	if got := eventsSeen(t, p, rc); strings.Join(got, ",") != "ONCRMDEALMOVETOCATEGORY:1:0:EXECUTING,ONCRMDEALUPDATE:1" {
		t.Errorf("UI events = %v", got)
	}
	d, _ := p.Record("deal", 1)
	if d["STAGE_ID"] != "WON" || d["CATEGORY_ID"] != "0" {
		t.Errorf("after UI: %v %v", d["STAGE_ID"], d["CATEGORY_ID"])
	}
	if err := p.UserUpdate("deal", 1, map[string]any{"TITLE": "by robot"}, 1, true); err != nil {
		t.Fatal(err)
	}
	waitEvents(t, p)
	got := rc.got()
	if len(got) != 1 || got[0].Get("event") != "ONCRMDEALUPDATE" || got[0].Has("auth[access_token]") {
		t.Errorf("robot edit event = %v", got)
	}
	eventsSeen(t, p, rc)
	if err := p.UserDelete("deal", 1, 1); err != nil {
		t.Fatal(err)
	}
	if got := eventsSeen(t, p, rc); strings.Join(got, ",") != "ONCRMDEALDELETE:1" {
		t.Errorf("delete events = %v", got)
	}
}

func TestCRMUserFieldEnumeration(t *testing.T) {
	p, tok, _ := crmPortal(t)
	add := `{"fields": {"FIELD_NAME": "myapp_segment", "USER_TYPE_ID": "enumeration", "XML_ID": "MYAPP_SEGMENT", "LABEL": "Segment",
		"LIST": [{"VALUE": "A", "XML_ID": "SEG_A", "SORT": 10}, {"VALUE": "B", "XML_ID": "SEG_B", "SORT": 20}, {"VALUE": ""}]}}`
	ufID := mustOK(t, callJSON(t, p, "crm.deal.userfield.add", tok, add), "userfield.add")["result"]
	uf := mustOK(t, callJSON(t, p, "crm.deal.userfield.get", tok, fmt.Sprintf(`{"id": %v}`, ufID)), "get")["result"].(map[string]any)
	if uf["FIELD_NAME"] != "UF_CRM_MYAPP_SEGMENT" || uf["ENTITY_ID"] != "CRM_DEAL" || uf["USER_TYPE_ID"] != "enumeration" {
		t.Errorf("userfield = %v", uf)
	}
	list := uf["LIST"].([]any)
	if len(list) != 2 {
		t.Fatalf("LIST = %v", list)
	}
	itemA := list[0].(map[string]any)["ID"].(string)
	itemB := list[1].(map[string]any)["ID"].(string)
	// errors
	errCases := []struct{ body, code string }{
		{`{"fields": {"USER_TYPE_ID": "string"}}`, ""},
		{`{"fields": {"FIELD_NAME": "X"}}`, ""},
		{`{"fields": {"FIELD_NAME": "BAD-NAME", "USER_TYPE_ID": "string"}}`, "ERROR_CORE"},
		{`{"fields": {"FIELD_NAME": "` + strings.Repeat("A", 44) + `", "USER_TYPE_ID": "string"}}`, "ERROR_CORE"},
		{`{"fields": {"FIELD_NAME": "Y", "USER_TYPE_ID": "nosuchtype"}}`, "ERROR_CORE"},
		{`{"fields": {"FIELD_NAME": "OTHER", "USER_TYPE_ID": "string", "XML_ID": "MYAPP_SEGMENT"}}`, "ERROR_CORE"},
		{`{"fields": {"FIELD_NAME": "DUP", "USER_TYPE_ID": "enumeration", "LIST": [{"VALUE": "a", "XML_ID": "Q"}, {"VALUE": "b", "XML_ID": "Q"}]}}`, "ERROR_CORE"},
	}
	for _, ec := range errCases {
		r := callJSON(t, p, "crm.deal.userfield.add", tok, ec.body)
		if r.Status != 400 || r.Body["error"] != ec.code {
			t.Errorf("%s = %d %s, want 400 %q", ec.body, r.Status, r.Raw, ec.code)
		}
	}
	if r := callJSON(t, p, "crm.deal.userfield.add", tok, `{"fields": {"FIELD_NAME": "DUP", "USER_TYPE_ID": "enumeration", "LIST": [{"VALUE": "a", "XML_ID": "Q"}, {"VALUE": "b", "XML_ID": "Q"}]}}`); r.Body["error_description"] != "List item with value XML_ID=Q already exists." {
		t.Errorf("duplicate item description = %v", r.Body["error_description"])
	}
	// 50 characters including the prefix is allowed
	mustOK(t, callJSON(t, p, "crm.deal.userfield.add", tok, `{"fields": {"FIELD_NAME": "`+strings.Repeat("A", 43)+`", "USER_TYPE_ID": "string"}}`), "50 chars")
	// the same XML_ID on another entity is fine
	mustOK(t, callJSON(t, p, "crm.contact.userfield.add", tok, `{"fields": {"FIELD_NAME": "MYAPP_SEGMENT", "USER_TYPE_ID": "enumeration", "XML_ID": "MYAPP_SEGMENT", "LIST": [{"VALUE": "A"}]}}`), "contact uf")
	// list by FIELD_NAME
	b := mustOK(t, callJSON(t, p, "crm.deal.userfield.list", tok, `{"filter": {"FIELD_NAME": "UF_CRM_MYAPP_SEGMENT"}}`), "list")
	if rows := b["result"].([]any); len(rows) != 1 || fmt.Sprint(rows[0].(map[string]any)["ID"]) != fmt.Sprint(ufID) {
		t.Errorf("userfield.list = %v", rows)
	}
	// write by item ID; text and foreign ids are ignored
	mustOK(t, callJSON(t, p, "crm.deal.add", tok, `{"fields": {"TITLE": "x", "UF_CRM_MYAPP_SEGMENT": `+itemA+`}}`), "deal")
	d, _ := p.Record("deal", 1)
	if d["UF_CRM_MYAPP_SEGMENT"] != itemA {
		t.Errorf("segment = %v, want %s", d["UF_CRM_MYAPP_SEGMENT"], itemA)
	}
	for _, v := range []string{`"B"`, `99999`} {
		mustOK(t, callJSON(t, p, "crm.deal.update", tok, `{"id": 1, "fields": {"UF_CRM_MYAPP_SEGMENT": `+v+`}}`), "write "+v)
		if d, _ := p.Record("deal", 1); d["UF_CRM_MYAPP_SEGMENT"] != itemA {
			t.Errorf("after writing %s: %v", v, d["UF_CRM_MYAPP_SEGMENT"])
		}
	}
	mustOK(t, callJSON(t, p, "crm.item.update", tok, `{"entityTypeId": 2, "id": 1, "useOriginalUfNames": "Y", "fields": {"UF_CRM_MYAPP_SEGMENT": `+itemB+`}}`), "item write")
	it := mustOK(t, callJSON(t, p, "crm.item.get", tok, `{"entityTypeId": 2, "id": 1}`), "item.get")["result"].(map[string]any)["item"].(map[string]any)
	if fmt.Sprint(it["ufCrmMyappSegment"]) != itemB {
		t.Errorf("item segment = %v, want %s", it["ufCrmMyappSegment"], itemB)
	}
	b = mustOK(t, callJSON(t, p, "crm.deal.list", tok, `{"filter": {"UF_CRM_MYAPP_SEGMENT": `+itemB+`}, "select": ["ID"]}`), "filter uf")
	if len(b["result"].([]any)) != 1 {
		t.Errorf("filter by item id = %v", b["result"])
	}
	// fields describe the items
	f := mustOK(t, callJSON(t, p, "crm.deal.fields", tok, `{}`), "fields")["result"].(map[string]any)["UF_CRM_MYAPP_SEGMENT"].(map[string]any)
	if f["type"] != "enumeration" || len(f["items"].([]any)) != 2 || f["isDynamic"] != true {
		t.Errorf("fields UF = %v", f)
	}
	// update LIST: change A, delete B, add C; a duplicate XML_ID is refused
	r := callJSON(t, p, "crm.deal.userfield.update", tok, fmt.Sprintf(`{"id": %v, "fields": {"LIST": [{"VALUE": "Z", "XML_ID": "SEG_A"}]}}`, ufID))
	if r.Status != 400 || r.errCode() != "ERROR_CORE" {
		t.Errorf("duplicate XML_ID on update = %d %s", r.Status, r.Raw)
	}
	mustOK(t, callJSON(t, p, "crm.deal.userfield.update", tok, fmt.Sprintf(`{"id": %v, "fields": {"LIST": [{"ID": "%s", "VALUE": "A+"}, {"ID": "%s", "DEL": "Y"}, {"VALUE": "C", "XML_ID": "SEG_C", "SORT": 30}]}}`, ufID, itemA, itemB)), "update list")
	uf = mustOK(t, callJSON(t, p, "crm.deal.userfield.get", tok, fmt.Sprintf(`{"id": %v}`, ufID)), "get")["result"].(map[string]any)
	var vals []string
	for _, it := range uf["LIST"].([]any) {
		m := it.(map[string]any)
		vals = append(vals, m["ID"].(string)+"="+m["VALUE"].(string)+"/"+m["XML_ID"].(string))
	}
	if len(vals) != 2 || vals[0] != itemA+"=A+/SEG_A" || !strings.HasSuffix(vals[1], "=C/SEG_C") {
		t.Errorf("LIST after update = %v", vals)
	}
	if r := callJSON(t, p, "crm.deal.userfield.get", tok, `{"id": 123456}`); r.Status != 400 || r.Body["error_description"] != "Not found" {
		t.Errorf("missing userfield = %d %s", r.Status, r.Raw)
	}
}

func TestCRMMultipleEnumClearQuirk(t *testing.T) {
	p, tok, _ := crmPortal(t)
	mustOK(t, callJSON(t, p, "crm.contact.userfield.add", tok, `{"fields": {"FIELD_NAME": "TAGS", "USER_TYPE_ID": "enumeration", "MULTIPLE": "Y", "LIST": [{"VALUE": "a"}, {"VALUE": "b"}]}}`), "uf")
	uf := mustOK(t, callJSON(t, p, "crm.contact.userfield.list", tok, `{}`), "list")["result"].([]any)[0].(map[string]any)
	a := uf["LIST"].([]any)[0].(map[string]any)["ID"].(string)
	b := uf["LIST"].([]any)[1].(map[string]any)["ID"].(string)
	mustOK(t, callJSON(t, p, "crm.contact.add", tok, `{"fields": {"NAME": "x", "UF_CRM_TAGS": [`+a+`, `+b+`, 4242]}}`), "add")
	c, _ := p.Record("contact", 1)
	if fmt.Sprint(c["UF_CRM_TAGS"]) != "["+a+" "+b+"]" {
		t.Errorf("multiple = %v", c["UF_CRM_TAGS"])
	}
	mustOK(t, callJSON(t, p, "crm.item.update", tok, `{"entityTypeId": 3, "id": 1, "fields": {"ufCrmTags": []}}`), "item clear")
	if c, _ := p.Record("contact", 1); fmt.Sprint(c["UF_CRM_TAGS"]) != "["+a+" "+b+"]" {
		t.Errorf("crm.item.update with [] cleared the field: %v", c["UF_CRM_TAGS"])
	}
	mustOK(t, callJSON(t, p, "crm.contact.update", tok, `{"id": 1, "fields": {"UF_CRM_TAGS": ""}}`), "v2 clear")
	if c, _ := p.Record("contact", 1); c["UF_CRM_TAGS"] != false {
		t.Errorf("v2 clear = %#v, want false", c["UF_CRM_TAGS"])
	}
}

func TestCRMReferenceLists(t *testing.T) {
	p, tok, _ := crmPortal(t)
	cat := p.AddPipeline("Partners")
	b := mustOK(t, callJSON(t, p, "crm.status.list", tok, `{"filter": {"ENTITY_ID": "DEAL_STAGE"}}`), "stages")
	rows := b["result"].([]any)
	if got := strings.Join(ids(rows, "STATUS_ID"), ","); got != "NEW,PREPARATION,PREPAYMENT_INVOICE,EXECUTING,FINAL_INVOICE,WON,LOSE,APOLOGY" {
		t.Errorf("DEAL_STAGE = %s", got)
	}
	won := rows[5].(map[string]any)
	if won["SEMANTICS"] != "S" || won["CATEGORY_ID"] != "0" || won["EXTRA"].(map[string]any)["SEMANTICS"] != "success" || rows[0].(map[string]any)["SEMANTICS"] != nil {
		t.Errorf("WON row = %v", won)
	}
	b = mustOK(t, callJSON(t, p, "crm.status.list", tok, fmt.Sprintf(`{"filter": {"ENTITY_ID": "DEAL_STAGE_%d"}}`, cat)), "cat stages")
	if got := strings.Join(ids(b["result"].([]any), "STATUS_ID"), ","); got != fmt.Sprintf("C%[1]d:NEW,C%[1]d:PREPARATION,C%[1]d:EXECUTING,C%[1]d:WON,C%[1]d:LOSE", cat) {
		t.Errorf("DEAL_STAGE_%d = %s", cat, got)
	}
	for _, ent := range []string{"CONTACT_TYPE", "COMPANY_TYPE", "DEAL_TYPE", "SOURCE", "INDUSTRY"} {
		b := mustOK(t, callJSON(t, p, "crm.status.list", tok, `{"filter": {"ENTITY_ID": "`+ent+`"}}`), ent)
		if len(b["result"].([]any)) == 0 {
			t.Errorf("%s is empty", ent)
		}
	}
	id := mustOK(t, callJSON(t, p, "crm.status.add", tok, `{"fields": {"ENTITY_ID": "CONTACT_TYPE", "STATUS_ID": "VIP", "NAME": "VIP", "SORT": 5}}`), "status.add")["result"]
	if id == nil {
		t.Fatal("no id")
	}
	if r := callJSON(t, p, "crm.status.add", tok, `{"fields": {"ENTITY_ID": "CONTACT_TYPE", "STATUS_ID": "VIP", "NAME": "again"}}`); r.Status != 400 || r.Body["error"] == nil {
		t.Errorf("duplicate status = %d %s", r.Status, r.Raw)
	}
	b = mustOK(t, callJSON(t, p, "crm.status.list", tok, `{"filter": {"ENTITY_ID": "CONTACT_TYPE"}}`), "types")
	if ids(b["result"].([]any), "STATUS_ID")[0] != "VIP" {
		t.Errorf("new type not first by SORT: %v", ids(b["result"].([]any), "STATUS_ID"))
	}
	b = mustOK(t, callJSON(t, p, "crm.category.list", tok, `{"entityTypeId": 2}`), "categories")
	cats := b["result"].(map[string]any)["categories"].([]any)
	if len(cats) != 2 || cats[0].(map[string]any)["id"] != float64(0) || cats[0].(map[string]any)["isDefault"] != "Y" || cats[1].(map[string]any)["name"] != "Partners" {
		t.Errorf("categories = %v", cats)
	}
	b = mustOK(t, callJSON(t, p, "crm.currency.list", tok, `{}`), "currencies")
	bases := 0
	for _, c := range b["result"].([]any) {
		m := c.(map[string]any)
		if m["BASE"] == "Y" {
			bases++
			if m["AMOUNT"] != "1.0000" || m["AMOUNT_CNT"] != "1" {
				t.Errorf("base currency = %v", m)
			}
		}
	}
	if bases != 1 || len(b["result"].([]any)) < 3 {
		t.Errorf("currencies = %v", b["result"])
	}
}

func TestCRMProductsAndRows(t *testing.T) {
	p, tok, _ := crmPortal(t)
	st := p.Seed(GenOptions{Deals: 300, Contacts: 50, Companies: 20})
	if st.ProductRows == 0 {
		t.Fatal("no product rows generated")
	}
	var dealID int
	for d := range p.Records("deal") {
		if len(p.ProductRows(atoi(d["ID"]))) > 1 {
			dealID = atoi(d["ID"])
			break
		}
	}
	b := mustOK(t, callJSON(t, p, "crm.deal.productrows.get", tok, fmt.Sprintf(`{"id": %d}`, dealID)), "productrows.get")
	rows := b["result"].([]any)
	r0 := rows[0].(map[string]any)
	if r0["OWNER_TYPE"] != "D" || r0["OWNER_ID"] != fmt.Sprint(dealID) || r0["PRODUCT_NAME"] == "" || r0["PRICE"] == nil {
		t.Errorf("row = %v", r0)
	}
	b = mustOK(t, callJSON(t, p, "crm.item.productrow.list", tok, fmt.Sprintf(`{"filter": {"=ownerType": "D", "=ownerId": %d}}`, dealID)), "productrow.list")
	pr := b["result"].(map[string]any)["productRows"].([]any)
	if len(pr) != len(rows) || pr[0].(map[string]any)["ownerId"] != float64(dealID) {
		t.Errorf("productRows = %v", pr)
	}
	// keyset over many owners
	var owners []string
	for i := 1; i <= 300; i++ {
		owners = append(owners, fmt.Sprint(i))
	}
	seen, last := 0, 0
	for {
		b := mustOK(t, callJSON(t, p, "crm.item.productrow.list", tok, fmt.Sprintf(`{"filter": {"=ownerType": "D", "=ownerId": [%s], ">id": %d}, "order": {"id": "ASC"}, "start": -1}`, strings.Join(owners, ","), last)), "rows keyset")
		pr := b["result"].(map[string]any)["productRows"].([]any)
		for _, r := range pr {
			id := int(r.(map[string]any)["id"].(float64))
			if id <= last {
				t.Fatalf("id %d after %d", id, last)
			}
			last = id
			seen++
		}
		if len(pr) < 50 {
			break
		}
	}
	if seen != st.ProductRows {
		t.Errorf("keyset saw %d rows, generated %d", seen, st.ProductRows)
	}
	// products and sections
	pid := atoi(r0["PRODUCT_ID"])
	prod := mustOK(t, callJSON(t, p, "crm.product.get", tok, fmt.Sprintf(`{"id": %d}`, pid)), "product.get")["result"].(map[string]any)
	if prod["SECTION_ID"] == nil || prod["NAME"] != r0["PRODUCT_NAME"] {
		t.Errorf("product = %v", prod)
	}
	b = mustOK(t, callJSON(t, p, "crm.product.list", tok, fmt.Sprintf(`{"filter": {"SECTION_ID": %v}, "select": ["ID", "NAME", "SECTION_ID"]}`, prod["SECTION_ID"])), "product.list")
	if len(b["result"].([]any)) == 0 {
		t.Error("no products in section")
	}
	b = mustOK(t, callJSON(t, p, "crm.productsection.list", tok, `{}`), "sections")
	if len(b["result"].([]any)) < 3 {
		t.Errorf("sections = %v", b["result"])
	}
}

func atoi(v any) int {
	var n int
	fmt.Sscan(fmt.Sprint(v), &n)
	return n
}

func TestSeedDeterministicAndShaped(t *testing.T) {
	gen := func() (*Portal, GenStats) {
		clk := newFakeClock()
		p := New(Options{RatePerSecond: -1, Clock: clk.Now, Seed: 42})
		t.Cleanup(p.Close)
		return p, p.Seed(GenOptions{Deals: 2000, Contacts: 400, Companies: 100, Pipelines: 2})
	}
	p1, s1 := gen()
	p2, s2 := gen()
	if fmt.Sprint(s1) != fmt.Sprint(s2) {
		t.Fatalf("stats differ: %v vs %v", s1, s2)
	}
	for _, ent := range []string{"deal", "contact", "company"} {
		var a, b []string
		for r := range p1.Records(ent) {
			a = append(a, fmt.Sprint(r))
		}
		for r := range p2.Records(ent) {
			b = append(b, fmt.Sprint(r))
		}
		if strings.Join(a, "\n") != strings.Join(b, "\n") {
			t.Errorf("%s differ between two seeds", ent)
		}
	}
	if p1.Count("deal") != 2000 || p1.Count("contact") != 400 || p1.Count("company") != 100 {
		t.Errorf("counts = %d %d %d", p1.Count("deal"), p1.Count("contact"), p1.Count("company"))
	}
	if s1.Won == 0 || s1.Lost == 0 || s1.Open == 0 || len(s1.Pipelines) != 3 {
		t.Errorf("stats = %+v", s1)
	}
	cats, curs, years, sems := map[string]int{}, map[string]int{}, map[string]int{}, map[string]int{}
	withCompany, linked := 0, 0
	for d := range p1.Records("deal") {
		cats[d["CATEGORY_ID"].(string)]++
		curs[d["CURRENCY_ID"].(string)]++
		years[d["DATE_CREATE"].(string)[:4]]++
		sems[d["STAGE_SEMANTIC_ID"].(string)]++
		if d["COMPANY_ID"] != "0" {
			withCompany++
		}
		if !isoRE.MatchString(d["DATE_CREATE"].(string)) || !strings.HasSuffix(d["OPPORTUNITY"].(string), "") || !strings.Contains(d["OPPORTUNITY"].(string), ".") {
			t.Fatalf("bad deal %v", d)
		}
	}
	for c := range p1.Records("contact") {
		if c["COMPANY_ID"] != "0" {
			linked++
		}
	}
	if len(cats) != 3 || len(curs) < 3 || len(years) < 3 || len(sems) != 3 || withCompany == 0 || linked == 0 {
		t.Errorf("shape: cats %v curs %v years %v sems %v withCompany %d linked %d", cats, curs, years, sems, withCompany, linked)
	}
	// the generated types and sources come from the status lists
	d, _ := p1.Record("deal", 1)
	tok := p1.IssueTokens(1).AccessToken
	b := mustOK(t, callJSON(t, p1, "crm.status.list", tok, `{"filter": {"ENTITY_ID": "DEAL_TYPE"}}`), "types")
	if !strings.Contains(strings.Join(ids(b["result"].([]any), "STATUS_ID"), ","), d["TYPE_ID"].(string)) {
		t.Errorf("TYPE_ID %v not in DEAL_TYPE", d["TYPE_ID"])
	}
}

func TestSeedThirtyThousandIsFast(t *testing.T) {
	p := New(Options{RatePerSecond: -1, Seed: 1})
	defer p.Close()
	start := time.Now()
	p.Seed(GenOptions{Deals: 30000, Contacts: 5000, Companies: 1000})
	el := time.Since(start)
	t.Logf("seeded 30,000 deals in %v", el)
	if el > 20*time.Second { // generous for -race on a slow machine; typically well under a second
		t.Errorf("seeding 30,000 deals took %v", el)
	}
	// a keyset page at the end of a large table costs one page, not a scan
	tok := p.IssueTokens(1).AccessToken
	b := mustOK(t, callJSON(t, p, "crm.deal.list", tok, `{"order": {"ID": "ASC"}, "filter": {">ID": 29990}, "start": -1, "select": ["ID"]}`), "tail")
	if len(b["result"].([]any)) != 10 {
		t.Errorf("tail page = %d rows", len(b["result"].([]any)))
	}
}

func TestCRMInBatch(t *testing.T) {
	p, tok, _ := crmPortal(t)
	mustOK(t, callJSON(t, p, "crm.company.add", tok, `{"fields": {"TITLE": "Acme"}}`), "company")
	mustOK(t, callJSON(t, p, "crm.deal.add", tok, `{"fields": {"TITLE": "x", "COMPANY_ID": 1}}`), "deal")
	b := mustOK(t, callJSON(t, p, "batch", tok, `{"halt": 0, "cmd": {
		"deal": "crm.deal.get?id=1",
		"company": "crm.company.get?id=$result[deal][COMPANY_ID]",
		"stages": "crm.status.list?filter[ENTITY_ID]=DEAL_STAGE",
		"page": "crm.deal.list?filter[>ID]=0&order[ID]=ASC&start=-1&select[]=ID",
		"move": "crm.item.update?entityTypeId=2&id=1&fields[title]=renamed"}}`), "batch")
	res := b["result"].(map[string]any)
	r := res["result"].(map[string]any)
	if r["company"].(map[string]any)["TITLE"] != "Acme" || len(r["stages"].([]any)) != 8 || len(r["page"].([]any)) != 1 {
		t.Errorf("batch results = %v", r)
	}
	if errs, ok := res["result_error"].([]any); !ok || len(errs) != 0 {
		t.Errorf("batch errors = %v", res["result_error"])
	}
	if d, _ := p.Record("deal", 1); d["TITLE"] != "renamed" {
		t.Errorf("item.update in batch: %v", d["TITLE"])
	}
}

// A sales rep whose CRM role reads only their own records: crm.item.get of
// another's record answers 400 ACCESS_DENIED "You do not have permission to
// view this item" (api-reference/crm/universal/crm-item-get.md, "Possible
// Error Codes"); crm.deal.get answers "Access denied" with an empty code
// (api-reference/crm/deals/crm-deal-get.md); lists leave others' records
// out. The admin's token still reads everything.
func TestRepReadsOwnRecordsOnly(t *testing.T) {
	p, admin, _ := crmPortal(t)
	rep := p.AddUser(User{Name: "Rita", LastName: "Rep", OwnOnly: true})
	repTok := p.IssueTokens(rep.ID).AccessToken
	mine, err := p.UserAdd("deal", map[string]any{"TITLE": "mine"}, rep.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := p.UserAdd("deal", map[string]any{"TITLE": "theirs"}, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	get := func(tok, method string, id int) reply {
		if method == "crm.item.get" {
			return callJSON(t, p, method, tok, fmt.Sprintf(`{"entityTypeId": 2, "id": %d}`, id))
		}
		return callJSON(t, p, method, tok, fmt.Sprintf(`{"id": %d}`, id))
	}
	mustOK(t, get(repTok, "crm.item.get", mine), "rep's own deal")
	mustOK(t, get(repTok, "crm.deal.get", mine), "rep's own deal (v2)")
	r := get(repTok, "crm.item.get", theirs)
	if r.Status != 400 || r.errCode() != "ACCESS_DENIED" || r.Body["error_description"] != "You do not have permission to view this item" {
		t.Errorf("crm.item.get of another's deal = %d %s", r.Status, r.Raw)
	}
	r = get(repTok, "crm.deal.get", theirs)
	if r.Status != 400 || r.errCode() != "" || r.Body["error_description"] != "Access denied" {
		t.Errorf("crm.deal.get of another's deal = %d %s", r.Status, r.Raw)
	}
	if r := get(repTok, "crm.item.get", 999); r.Status != 400 || r.errCode() != "NOT_FOUND" {
		t.Errorf("crm.item.get of no deal = %d %s", r.Status, r.Raw)
	}
	mustOK(t, get(admin, "crm.item.get", theirs), "admin reads another's deal")

	b := mustOK(t, callJSON(t, p, "crm.item.list", repTok, `{"entityTypeId": 2, "select": ["id"]}`), "rep's list")
	items := b["result"].(map[string]any)["items"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["id"] != float64(mine) || b["total"] != float64(1) {
		t.Errorf("rep's crm.item.list = %s", b)
	}
	b = mustOK(t, callJSON(t, p, "crm.deal.list", admin, `{"select": ["ID"]}`), "admin's list")
	if b["total"] != float64(2) {
		t.Errorf("admin's crm.deal.list total = %v", b["total"])
	}
}
