package b24sim

import (
	"context"
	"errors"
	"net/http/httptest"
	"net/url"
	"testing"
)

func TestOpenPlacementAtPostsTheBoundPlacementElsewhere(t *testing.T) {
	pr := &pageRecorder{}
	app := httptest.NewServer(pr)
	defer app.Close()
	p := New(Options{RatePerSecond: -1})
	defer p.Close()
	ctx := context.Background()
	resp, _ := p.Install(ctx, app.URL+"/b24/install", InstallOptions{Lang: "ru"})
	resp.Body.Close()
	tok := p.IssueTokens(1).AccessToken
	callForm(t, p, "placement.bind", tok, url.Values{"PLACEMENT": {"CRM_CONTACT_DETAIL_TAB"}, "HANDLER": {"https://elsewhere.example/b24/placement"}})
	if _, err := p.OpenPlacementAt(ctx, app.URL+"/capture", "CRM_CONTACT_DETAIL_TAB", 1, `{"ID":"17"}`); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("before installFinish: %v", err)
	}
	p.FinishInstall()

	for _, options := range []string{`{"ID":"17"}`, "undefined"} {
		resp, err := p.OpenPlacementAt(ctx, app.URL+"/capture", "crm_contact_detail_tab", 1, options)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		path, q, body := pr.last()
		f, _ := url.ParseQuery(body)
		if path != "POST /capture" || q.Get("LANG") != "ru" || f.Get("PLACEMENT") != "CRM_CONTACT_DETAIL_TAB" ||
			f.Get("PLACEMENT_OPTIONS") != options || f.Get("member_id") != p.MemberID() || f.Get("AUTH_ID") == "" {
			t.Errorf("posted %s %v %v", path, q, f)
		}
	}
	if _, err := p.OpenPlacementAt(ctx, app.URL+"/capture", "CRM_DEAL_DETAIL_TAB", 1, "{}"); err == nil {
		t.Error("a placement nothing is bound to must fail")
	}
	if _, err := p.OpenPlacementAt(ctx, app.URL+"/capture", "CRM_CONTACT_DETAIL_TAB", 99, "{}"); err == nil {
		t.Error("an unknown user must fail")
	}
}
