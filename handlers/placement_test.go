package handlers_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// The card tab page carries the record Bitrix24 named, is framed by the
// portal only, and says nothing about a record it could not read.
func TestPlacementPageCarriesTheRecord(t *testing.T) {
	s := newSettingsStack(t, "ru")
	ctx := context.Background()
	target := s.web.URL + s.manifest.Handlers.Placement
	cases := []struct {
		placement, options, entity, id string
	}{
		{"CRM_CONTACT_DETAIL_TAB", `{"ID":"17"}`, "contact", "17"},
		{"CRM_COMPANY_DETAIL_TAB", `{"ID":4,"URI":"\/crm\/company\/details\/4\/"}`, "company", "4"},
		{"CRM_DEAL_DETAIL_TAB", `{"ID":"8061"}`, "deal", "8061"},
		{"CRM_DEAL_DETAIL_TAB", "undefined", "deal", ""},
		{"CRM_DEAL_DETAIL_TAB", `{"ID":"-3"}`, "deal", ""},
		{"CRM_DEAL_DETAIL_TAB", `{"ID":"17\"><script>"}`, "deal", ""},
		{"CRM_DEAL_DETAIL_TAB", `{}`, "deal", ""},
	}
	for _, c := range cases {
		resp, err := s.sim.OpenPlacementAt(ctx, target, c.placement, 1, c.options)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		page := string(body)
		if resp.StatusCode != 200 || !strings.Contains(page, `lang="ru"`) || !strings.Contains(page, `data-member-id="`+s.sim.MemberID()+`"`) {
			t.Fatalf("%s %s: %d %s", c.placement, c.options, resp.StatusCode, page)
		}
		for _, want := range []string{`data-placement="` + c.placement + `"`, `data-entity="` + c.entity + `"`, `data-record-id="` + c.id + `"`, `/static/card.js`} {
			if !strings.Contains(page, want) {
				t.Errorf("%s %s: page lacks %s", c.placement, c.options, want)
			}
		}
		if strings.Contains(page, "<script>\"") || strings.Contains(page, `"><script>`) {
			t.Errorf("options reached the page unescaped: %s", page)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); csp != "frame-ancestors "+strings.TrimSuffix(s.sim.URL(), "/") {
			t.Errorf("CSP %q, want the portal's origin only", csp)
		}
	}
	post := func(form url.Values) (*http.Response, string) {
		t.Helper()
		resp, err := http.PostForm(target, form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, string(body)
	}
	// A tab the app does not serve names no record type.
	resp, page := post(url.Values{"member_id": {s.sim.MemberID()}, "AUTH_ID": {"tok"}, "PLACEMENT": {"CRM_LEAD_DETAIL_TAB"}, "PLACEMENT_OPTIONS": {`{"ID":"5"}`}})
	if resp.StatusCode != 200 || !strings.Contains(page, `data-entity=""`) || !strings.Contains(page, `data-auth-id="tok"`) {
		t.Errorf("lead tab: %d %s", resp.StatusCode, page)
	}
	// A POST naming no known portal is framed by no one and carries no token.
	resp, page = post(url.Values{"member_id": {"nobody"}, "AUTH_ID": {"secret"}, "PLACEMENT": {"CRM_DEAL_DETAIL_TAB"}, "PLACEMENT_OPTIONS": {`{"ID":"5"}`}})
	if resp.StatusCode != 200 || resp.Header.Get("Content-Security-Policy") != "frame-ancestors 'none'" || strings.Contains(page, "secret") ||
		!strings.Contains(page, `data-record-id="5"`) {
		t.Fatalf("unknown portal: %d %q %s", resp.StatusCode, resp.Header.Get("Content-Security-Policy"), page)
	}
	for _, asset := range []string{"/static/card.js", "/static/common.js"} {
		if r := s.do("GET", asset, "", nil); r.Status != 200 || len(r.Raw) == 0 {
			t.Fatalf("%s: %d", asset, r.Status)
		}
	}
	if r := s.do("GET", "/static/card.html", "", nil); r.Status != 404 {
		t.Fatalf("the raw template is served: %d", r.Status)
	}
}
