package handlers_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"segmentor/app"
	"segmentor/bitrix/b24sim"
)

func TestInstallBindsEverythingOnceAndReinstallAddsNothing(t *testing.T) {
	s := newStack(t, b24sim.Options{Seed: 1})
	s.install(b24sim.InstallOptions{Lang: "ru"})
	ctx := context.Background()

	p, err := s.store.Portal(ctx, s.sim.MemberID())
	if err != nil {
		t.Fatal(err)
	}
	if p.State != app.StateActive || p.ClientEndpoint != s.sim.ClientEndpoint() || p.Lang != "ru" {
		t.Errorf("portal after install = %+v", p)
	}
	if tok, _ := s.store.ApplicationToken(ctx, p.MemberID); tok != s.sim.ApplicationToken() {
		t.Errorf("application token = %q, want the installer's %q", tok, s.sim.ApplicationToken())
	}
	n := s.commands()
	if n["event.bind"] != len(s.manifest.Events) {
		t.Errorf("event.bind calls = %d, want one per manifest event (%d)", n["event.bind"], len(s.manifest.Events))
	}
	if n["placement.bind"] != len(s.manifest.Placements) {
		t.Errorf("placement.bind calls = %d, want %d", n["placement.bind"], len(s.manifest.Placements))
	}
	for _, e := range []string{"contact", "company", "deal"} {
		if n["crm."+e+".userfield.add"] != 1 {
			t.Errorf("crm.%s.userfield.add calls = %d, want 1", e, n["crm."+e+".userfield.add"])
		}
	}
	if reqs := len(s.sim.Requests()); reqs > 6 {
		t.Errorf("setup made %d HTTP requests; it should need about 5 (the install's check, then 4 batches: reads, writes, the reference lists' first pages and their further ones)", reqs)
	}
	dir, err := s.store.Directory(ctx, p.MemberID)
	if err != nil {
		t.Fatal(err)
	}
	if len(dir.Types("contact")) == 0 || len(dir.Values("SOURCE")) == 0 || len(dir.Pipelines) == 0 || len(dir.Pipelines[0].Stages) == 0 ||
		len(dir.Currencies) == 0 || len(dir.Fields["deal"]) == 0 || dir.Segment["contact"].ID == 0 || len(dir.Catalogs) == 0 {
		t.Errorf("the directory is not cached in full: %+v", dir)
	}
	t.Logf("first install: %d HTTP requests to the portal", len(s.sim.Requests()))

	// Install again (a reinstall, or the admin reopening the installer).
	s.sim.ResetLog()
	s.install(b24sim.InstallOptions{})
	n = s.commands()
	for _, m := range []string{"event.bind", "placement.bind", "crm.contact.userfield.add", "crm.company.userfield.add", "crm.deal.userfield.add"} {
		if n[m] != 0 {
			t.Errorf("reinstall called %s %d times, want 0", m, n[m])
		}
	}
	if tok, _ := s.store.ApplicationToken(ctx, p.MemberID); tok != s.sim.ApplicationToken() {
		t.Error("reinstall did not store the new application token")
	}
}

// postInstall sends an installer POST with the given body fields.
func postInstall(t *testing.T, s *stack, body url.Values) (int, string) {
	t.Helper()
	resp, err := http.PostForm(s.app.URL+s.manifest.Handlers.Install+"?DOMAIN=x.bitrix24.com&PROTOCOL=1&LANG=en&APP_SID=abc", body)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestForgedInstallsChangeNothing(t *testing.T) {
	s := newStack(t, b24sim.Options{Seed: 2})
	other := b24sim.New(b24sim.Options{Seed: 3, ClientID: s.sim.ClientID(), ClientSecret: s.sim.ClientSecret()})
	defer other.Close()
	ctx := context.Background()
	valid := s.sim.IssueTokens(1)

	cases := []struct {
		name string
		body url.Values
		want int
	}{
		{"another member_id with real tokens", url.Values{"AUTH_ID": {valid.AccessToken}, "REFRESH_ID": {valid.RefreshToken},
			"member_id": {other.MemberID()}, "PLACEMENT": {"DEFAULT"}}, http.StatusForbidden},
		{"made-up refresh token", url.Values{"AUTH_ID": {"abc123"}, "REFRESH_ID": {"def456"},
			"member_id": {s.sim.MemberID()}, "PLACEMENT": {"DEFAULT"}}, http.StatusForbidden},
		{"missing REFRESH_ID", url.Values{"AUTH_ID": {"abc123"}, "member_id": {s.sim.MemberID()}}, http.StatusBadRequest},
		{"garbage member_id", url.Values{"AUTH_ID": {"a"}, "REFRESH_ID": {"b"}, "member_id": {"<script>"}}, http.StatusBadRequest},
	}
	for _, c := range cases {
		code, page := postInstall(t, s, c.body)
		if code != c.want {
			t.Errorf("%s: status %d, want %d", c.name, code, c.want)
		}
		if strings.Contains(page, "<script>alert") || !strings.Contains(page, "Segmentor") {
			t.Errorf("%s: page does not explain the refusal: %s", c.name, page)
		}
	}
	if ids, _ := s.store.Portals(ctx); len(ids) != 0 {
		t.Errorf("forged installs stored portals %v", ids)
	}
	if n := s.queued(); n != 0 {
		t.Errorf("forged installs queued %d tasks", n)
	}

	// A real install, then a forged one claiming the same portal with
	// another portal's tokens: the stored tokens stay.
	s.install(b24sim.InstallOptions{})
	before, err := s.store.Load(ctx, s.sim.MemberID())
	if err != nil {
		t.Fatal(err)
	}
	stolen := other.IssueTokens(1)
	code, _ := postInstall(t, s, url.Values{"AUTH_ID": {stolen.AccessToken}, "REFRESH_ID": {stolen.RefreshToken},
		"member_id": {s.sim.MemberID()}, "APPLICATION_TOKEN": {"forged-app-token"}, "PLACEMENT": {"DEFAULT"}})
	if code != http.StatusForbidden {
		t.Errorf("forged reinstall answered %d", code)
	}
	after, _ := s.store.Load(ctx, s.sim.MemberID())
	if after.RefreshToken != before.RefreshToken || after.ClientEndpoint != before.ClientEndpoint {
		t.Error("a forged install overwrote the portal's tokens")
	}
	if tok, _ := s.store.ApplicationToken(ctx, s.sim.MemberID()); tok == "forged-app-token" {
		t.Error("a forged install overwrote the application token")
	}
}
