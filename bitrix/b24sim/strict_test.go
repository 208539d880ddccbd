package b24sim

// The simulator's strict behaviours, each checked against the page of the
// official documentation (bitrix24/b24restdocs) it follows. A real portal
// refuses what these tests refuse; the app must not depend on leniency.

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
)

func newStrictPortal(t *testing.T, opts Options) (*Portal, string) {
	t.Helper()
	p := New(opts)
	t.Cleanup(p.Close)
	p.Seed(GenOptions{Contacts: 20, Companies: 5, Deals: 120, Products: 130})
	return p, p.IssueTokens(1).AccessToken
}

// api-reference/crm/universal/product-rows/crm-item-productrow-list.md:
// "The following keys must be present: =ownerType, =ownerId"; prefixes =,
// %, >, <, !=, !%, >=, <=, =%, %=, !=%, !%= ("=" works with arrays); no @.
func TestStrictProductRowFilter(t *testing.T) {
	p, tok := newStrictPortal(t, Options{Seed: 3})
	list := func(filter string) reply {
		return callJSON(t, p, "crm.item.productrow.list", tok, `{"filter": `+filter+`, "order": {"id": "ASC"}}`)
	}
	for _, f := range []string{
		`{"=ownerType": "D", "@ownerId": [1, 2, 3]}`, // @ is not a prefix of this method
		`{"ownerType": "D", "=ownerId": 1}`,          // the keys must carry "="
		`{"=ownerId": [1, 2]}`,
	} {
		r := list(f)
		if r.Status != 400 || r.Body["error"] != float64(100) || r.Body["error_description"] != "Required parameters not provided" {
			t.Errorf("filter %s = %d %s, want 400 with code 100", f, r.Status, r.Raw)
		}
	}
	for _, f := range []string{
		`{"=ownerType": "D", "=ownerId": 1, "!@productId": [1]}`, // !@ is not documented here either
		`{"=ownerType": "D", "=ownerId": 1, "OWNER_ID": 1}`,      // a v2 name is no field of the row
	} {
		r := list(f)
		if r.Status != 400 || r.errCode() != "INVALID_ARG_VALUE" || !strings.Contains(string(r.Raw), "is not allowed in filter") {
			t.Errorf("filter %s = %d %s, want INVALID_ARG_VALUE", f, r.Status, r.Raw)
		}
	}
	// "=" with an array is IN, across many deals, and a page holds 50 rows.
	var ids []string
	for i := 1; i <= 120; i++ {
		ids = append(ids, fmt.Sprint(i))
	}
	b := mustOK(t, list(`{"=ownerType": "D", "=ownerId": [`+strings.Join(ids, ",")+`]}`), "rows of 120 deals")
	rows := b["result"].(map[string]any)["productRows"].([]any)
	total := int(b["total"].(float64))
	if total <= PageSize || len(rows) != PageSize || b["next"] != float64(PageSize) {
		t.Fatalf("first page: %d rows, total %v, next %v; want 50 of more than 50, next 50", len(rows), b["total"], b["next"])
	}
	seen := map[float64]bool{}
	for start := 0; start < total; start += PageSize {
		b := mustOK(t, callJSON(t, p, "crm.item.productrow.list", tok, fmt.Sprintf(
			`{"filter": {"=ownerType": "D", "=ownerId": [%s]}, "order": {"id": "ASC"}, "start": %d}`, strings.Join(ids, ","), start)), "page")
		for _, r := range b["result"].(map[string]any)["productRows"].([]any) {
			row := r.(map[string]any)
			if o := row["ownerId"].(float64); o < 1 || o > 120 {
				t.Errorf("row of deal %v outside the filter", o)
			}
			seen[row["id"].(float64)] = true
		}
	}
	if len(seen) != total {
		t.Errorf("paging gave %d distinct rows of %d", len(seen), total)
	}
	// A type other than deals has no rows here.
	b = mustOK(t, list(`{"=ownerType": "L", "=ownerId": [1]}`), "lead rows")
	if n := len(b["result"].(map[string]any)["productRows"].([]any)); n != 0 {
		t.Errorf("lead rows = %d", n)
	}
}

// api-reference/crm/universal/crm-item-list.md: "Invalid filter: field
// 'FIELD' is not allowed in filter" (400 INVALID_ARG_VALUE).
func TestStrictItemListRefusesUnknownFilterField(t *testing.T) {
	p, tok := newStrictPortal(t, Options{Seed: 4})
	r := callJSON(t, p, "crm.item.list", tok, `{"entityTypeId": 2, "filter": {"noSuchField": 1}}`)
	if r.Status != 400 || r.errCode() != "INVALID_ARG_VALUE" || r.Body["error_description"] != "Invalid filter: field 'noSuchField' is not allowed in filter" {
		t.Errorf("unknown field = %d %s", r.Status, r.Raw)
	}
	// The documented prefixes work: @ (IN), !@, and the negated LIKE.
	b := mustOK(t, callJSON(t, p, "crm.item.list", tok, `{"entityTypeId": 2, "filter": {"@id": [3, 5, 7], "!@id": [5]}, "select": ["id"]}`), "@id")
	if items := b["result"].(map[string]any)["items"].([]any); len(items) != 2 {
		t.Errorf("@id minus !@id = %v", items)
	}
	b = mustOK(t, callJSON(t, p, "crm.item.list", tok, `{"entityTypeId": 2, "filter": {"!=%title": "%", "@id": [1, 2]}, "select": ["id"]}`), "!=%title")
	if items := b["result"].(map[string]any)["items"].([]any); len(items) != 0 {
		t.Errorf("NOT LIKE %% matched %v", items)
	}
}

// api-reference/crm/deals/crm-deal-list.md lists >=, >, <=, <, @, !@, %,
// =%, %=, =, !=, ! and no negated LIKE; the v2 lists ignore a field they do
// not know (the page documents no refusal).
func TestStrictDealListPrefixes(t *testing.T) {
	p, tok := newStrictPortal(t, Options{Seed: 5})
	count := func(filter string) int {
		b := mustOK(t, callJSON(t, p, "crm.deal.list", tok, `{"filter": `+filter+`, "select": ["ID"]}`), filter)
		return int(b["total"].(float64))
	}
	all := count(`{}`)
	if n := count(`{"@ID": [1, 2, 3]}`); n != 3 {
		t.Errorf("@ID = %d", n)
	}
	if n := count(`{"!@ID": [1, 2, 3]}`); n != all-3 {
		t.Errorf("!@ID = %d of %d", n, all)
	}
	// "!%TITLE" is "!" on a field named "%TITLE", which does not exist: ignored.
	if n := count(`{"!%TITLE": "Order"}`); n != all {
		t.Errorf("!%%TITLE = %d of %d", n, all)
	}
}

// settings/how-to-call-rest-api/list-methods-pecularities.md: every list
// method answers at most 50 rows with total and next;
// api-reference/crm/status/crm-status-list.md is one, and a portal has more
// than 50 statuses (bitrix24-protocol.md §12.2).
func TestStrictReferenceListsArePaged(t *testing.T) {
	p, tok := newStrictPortal(t, Options{Seed: 6})
	b := mustOK(t, callJSON(t, p, "crm.status.list", tok, `{"order": {"SORT": "ASC"}}`), "crm.status.list")
	total := int(b["total"].(float64))
	if n := len(b["result"].([]any)); total <= PageSize || n != PageSize || b["next"] != float64(PageSize) {
		t.Fatalf("crm.status.list page 1: %d rows, total %d, next %v", n, total, b["next"])
	}
	b = mustOK(t, callJSON(t, p, "crm.status.list", tok, `{"order": {"SORT": "ASC"}, "start": 50}`), "crm.status.list page 2")
	if n := len(b["result"].([]any)); n != total-PageSize || b["next"] != nil {
		t.Errorf("crm.status.list page 2: %d rows, next %v", n, b["next"])
	}

	// api-reference/crm/universal/category/crm-category-list.md: pipelines page too.
	p.mu.Lock()
	for i := 0; i < 60; i++ {
		p.crm.addPipeline(fmt.Sprintf("Pipeline %d", i), nil)
	}
	p.mu.Unlock()
	b = mustOK(t, callJSON(t, p, "crm.category.list", tok, `{"entityTypeId": 2}`), "crm.category.list")
	cats := b["result"].(map[string]any)["categories"].([]any)
	if len(cats) != PageSize || b["next"] != float64(PageSize) || b["total"].(float64) <= PageSize {
		t.Errorf("crm.category.list: %d rows, next %v, total %v", len(cats), b["next"], b["total"])
	}
	// ... and so do a pipeline's stages, filtered by ENTITY_ID.
	b = mustOK(t, callJSON(t, p, "crm.status.list", tok, `{"filter": {"ENTITY_ID": "DEAL_STAGE_5"}}`), "stages")
	if n := len(b["result"].([]any)); n == 0 || b["total"].(float64) != float64(n) {
		t.Errorf("stages of one pipeline: %d rows, total %v", n, b["total"])
	}

	// api-reference/crm/currency/crm-currency-list.md: a list method too.
	b = mustOK(t, callJSON(t, p, "crm.currency.list", tok, `{}`), "crm.currency.list")
	if _, ok := b["total"]; !ok {
		t.Errorf("crm.currency.list has no total: %v", b)
	}
	// api-reference/crm/contacts/userfield/crm-contact-userfield-list.md.
	b = mustOK(t, callJSON(t, p, "crm.contact.userfield.list", tok, `{}`), "crm.contact.userfield.list")
	if _, ok := b["total"]; !ok {
		t.Errorf("crm.contact.userfield.list has no total: %v", b)
	}
}

// api-reference/catalog/product/catalog-product-list.md: scope catalog;
// select must hold id and iblockId, the filter iblockId; "=" with an array
// is IN and there is no "@"; {"products": [...]} with iblockSectionId, 50 a
// page. api-reference/catalog/catalog/catalog-catalog-list.md: admins only.
func TestStrictCatalogProductList(t *testing.T) {
	p, tok := newStrictPortal(t, Options{Seed: 7})
	list := func(body string) reply { return callJSON(t, p, "catalog.product.list", tok, body) }
	if r := list(`{"select": ["id"], "filter": {"iblockId": 25}}`); r.Status != 400 || r.Body["error"] != float64(0) {
		t.Errorf("select without iblockId = %d %s", r.Status, r.Raw)
	}
	if r := list(`{"select": ["id", "iblockId"], "filter": {"id": 1}}`); r.Status != 400 || r.Body["error"] != float64(0) {
		t.Errorf("filter without iblockId = %d %s", r.Status, r.Raw)
	}
	if r := list(`{"select": ["id", "iblockId"], "filter": {"iblockId": 25, "@id": [1, 2]}}`); r.Status != 400 || r.errCode() != "INVALID_ARG_VALUE" {
		t.Errorf("@id = %d %s", r.Status, r.Raw)
	}
	b := mustOK(t, list(`{"select": ["id", "iblockId", "iblockSectionId"], "filter": {"iblockId": 25, "=id": [1, 2, 60]}}`), "=id")
	products := b["result"].(map[string]any)["products"].([]any)
	if len(products) != 3 {
		t.Fatalf("=id [1 2 60] = %v", products)
	}
	for _, x := range products {
		pr := x.(map[string]any)
		if pr["iblockId"] != float64(25) || pr["iblockSectionId"] == nil || len(pr) != 3 {
			t.Errorf("product = %v", pr)
		}
	}
	b = mustOK(t, list(`{"select": ["id", "iblockId"], "filter": {"iblockId": 25}, "order": {"id": "asc"}}`), "all")
	if n := len(b["result"].(map[string]any)["products"].([]any)); n != PageSize || b["total"] != float64(130) || b["next"] != float64(PageSize) {
		t.Errorf("130 products: page of %d, total %v, next %v", n, b["total"], b["next"])
	}
	// The offers catalog holds none of them; an unknown block neither.
	b = mustOK(t, list(`{"select": ["id", "iblockId"], "filter": {"iblockId": 26}}`), "offers")
	if n := len(b["result"].(map[string]any)["products"].([]any)); n != 0 {
		t.Errorf("offers catalog = %d products", n)
	}

	b = mustOK(t, callJSON(t, p, "catalog.catalog.list", tok, `{}`), "catalog.catalog.list")
	if cats := b["result"].(map[string]any)["catalogs"].([]any); len(cats) != 2 {
		t.Errorf("catalogs = %v", cats)
	}
	rep := p.AddUser(User{Name: "Rita", LastName: "Rep"})
	if r := callJSON(t, p, "catalog.catalog.list", p.IssueTokens(rep.ID).AccessToken, `{}`); r.Status != 403 || r.errCode() != "ACCESS_DENIED" {
		t.Errorf("catalog.catalog.list as a sales rep = %d %s", r.Status, r.Raw)
	}
	// Without the scope (api-reference/scopes/permissions.md), insufficient_scope.
	noCat := p.IssueTokensScope(1, "crm,placement,user_brief").AccessToken
	if r := callJSON(t, p, "catalog.product.list", noCat, `{"select": ["id", "iblockId"], "filter": {"iblockId": 25}}`); r.Status != 403 || r.errCode() != "insufficient_scope" {
		t.Errorf("without the catalog scope = %d %s", r.Status, r.Raw)
	}
	// A portal without the catalog module has no such method.
	q, qtok := newStrictPortal(t, Options{Seed: 8, NoCatalog: true})
	if r := callJSON(t, q, "catalog.product.list", qtok, `{"select": ["id", "iblockId"], "filter": {"iblockId": 25}}`); r.Status != 404 || r.errCode() != "ERROR_METHOD_NOT_FOUND" {
		t.Errorf("no catalog module = %d %s", r.Status, r.Raw)
	}
}

// settings/oauth/auto-renewal.md documents the refresh as a GET with its
// parameters in the query string; settings/oauth/index.md the code exchange
// alike. Another form is refused.
func TestStrictOAuthTokenRequestIsAGet(t *testing.T) {
	p := New(Options{Seed: 9})
	defer p.Close()
	rt := p.IssueTokens(1).RefreshToken
	if r := oauthPost(t, p, refreshForm(p, rt)); r.Status != 400 || r.errCode() != "invalid_request" {
		t.Errorf("POST form refresh = %d %s", r.Status, r.Raw)
	}
	if r := oauthGet(t, p, refreshForm(p, rt)); r.Status != 200 || r.Body["access_token"] == "" {
		t.Errorf("GET refresh after a refused POST = %d %s", r.Status, r.Raw)
	}
	if p.Refreshes() != 1 {
		t.Errorf("refreshes = %d", p.Refreshes())
	}
}

// api-reference/common/events/on-app-update.md: data[VERSION] and
// data[PREVIOUS_VERSION] are strings such as "2.1.0", with data[LANGUAGE_ID].
func TestStrictAppUpdateVersionIsAString(t *testing.T) {
	p := New(Options{Seed: 10})
	defer p.Close()
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	tok := p.IssueTokens(1).AccessToken
	bindEvent(t, p, tok, "ONAPPUPDATE", srv.URL+"/events")
	p.FinishInstall()
	if err := p.TriggerAppUpdateTo(context.Background(), "2.1.0"); err != nil {
		t.Fatal(err)
	}
	bindEvent(t, p, tok, "ONAPPUPDATE", srv.URL+"/events")
	if err := p.TriggerAppUpdateTo(context.Background(), "2.1.1"); err != nil {
		t.Fatal(err)
	}
	got := rc.got()
	if len(got) != 2 {
		t.Fatalf("%d deliveries", len(got))
	}
	want := []url.Values{
		{"data[VERSION]": {"2.1.0"}, "data[PREVIOUS_VERSION]": {"1"}, "data[LANGUAGE_ID]": {"en"}},
		{"data[VERSION]": {"2.1.1"}, "data[PREVIOUS_VERSION]": {"2.1.0"}, "data[LANGUAGE_ID]": {"en"}},
	}
	for i, w := range want {
		for k := range w {
			if got[i].Get(k) != w.Get(k) {
				t.Errorf("update %d: %s = %q, want %q", i+1, k, got[i].Get(k), w.Get(k))
			}
		}
	}
	if p.AppVersion() != 3 {
		t.Errorf("app.info VERSION = %d", p.AppVersion())
	}
}

// The request log tells which record updates ran, direct or batched, with
// the params each command ran with: what tests count writes by.
func TestRequestUpdates(t *testing.T) {
	p, tok := newStrictPortal(t, Options{Seed: 12})
	p.ResetLog()
	mustOK(t, callJSON(t, p, "crm.contact.update", tok, `{"id": 3, "fields": {"TYPE_ID": "PARTNER"}}`), "contact update")
	mustOK(t, callJSON(t, p, "batch", tok, `{"halt": 0, "cmd": {
		"w0": "crm.item.update?entityTypeId=2&id=5&fields[typeId]=SALE",
		"w1": "crm.company.update?id=999999&fields[TITLE]=X",
		"r0": "crm.deal.get?id=5",
		"w2": "crm.deal.update?id=$result[r0][ID]&fields[COMMENTS]=a%26b"}}`), "batch")
	var got []string
	for _, rq := range p.Requests() {
		for _, u := range rq.Updates() {
			got = append(got, u.Record()+" "+u.Canonical())
		}
	}
	want := []string{"contact:3 TYPE_ID=PARTNER", "deal:5 typeId=SALE", "deal:5 COMMENTS=a&b"}
	if !slices.Equal(got, want) {
		t.Errorf("updates = %q, want %q (the refused one left out)", got, want)
	}
	if n := len(UpdatesByRecord(p.Requests())["deal:5"]); n != 2 {
		t.Errorf("deal:5 has %d updates", n)
	}
}
