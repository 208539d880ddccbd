package handlers_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"segmentor/bitrix/b24sim"
)

// An ordinary user has a REFRESH_ID of their own (every iframe open brings
// one). Posting it to the installer must not replace the admin's tokens or
// plant an application token.
func TestNonAdminCannotReinstall(t *testing.T) {
	s := newStack(t, b24sim.Options{Seed: 14})
	s.install(b24sim.InstallOptions{})
	ctx := context.Background()
	m := s.sim.MemberID()
	before, _ := s.store.Load(ctx, m)
	rep := s.sim.AddUser(b24sim.User{Name: "Rita", LastName: "Rep"})
	tok := s.sim.IssueTokens(rep.ID)
	code, page := postInstall(t, s, url.Values{"AUTH_ID": {tok.AccessToken}, "REFRESH_ID": {tok.RefreshToken},
		"member_id": {m}, "APPLICATION_TOKEN": {"planted-by-rep"}, "PLACEMENT": {"DEFAULT"}})
	if code != 403 || !strings.Contains(page, "administrator") {
		t.Errorf("non-admin install: %d %s", code, page)
	}
	after, _ := s.store.Load(ctx, m)
	if after.RefreshToken != before.RefreshToken || int(after.UserID) != 1 {
		t.Error("a non-admin's install replaced the portal's tokens")
	}
	if got, _ := s.store.ApplicationToken(ctx, m); got != s.sim.ApplicationToken() {
		t.Errorf("application token = %q after a non-admin install", got)
	}
}

// A valid access token of an ordinary user (or of another app) must not
// rotate the application token through ONAPPUPDATE, or it could forge an
// uninstall next.
func TestOnlyAnAdminsTokenRotatesTheApplicationToken(t *testing.T) {
	s := newStack(t, b24sim.Options{Seed: 15})
	s.install(b24sim.InstallOptions{})
	ctx := context.Background()
	m := s.sim.MemberID()
	rep := s.sim.AddUser(b24sim.User{Name: "Rita", LastName: "Rep"})
	form := eventForm(m, "planted0123456789abcdef012345678", "0")
	form.Set("event", "ONAPPUPDATE")
	form.Del("data[FIELDS][ID]")
	form.Set("data[VERSION]", "2")
	form.Set("auth[access_token]", s.sim.IssueTokens(rep.ID).AccessToken)
	if got := postEvent(t, s, form.Encode()); got != 403 {
		t.Errorf("ONAPPUPDATE with a rep's token: status %d, want 403", got)
	}
	if got, _ := s.store.ApplicationToken(ctx, m); got != s.sim.ApplicationToken() {
		t.Fatalf("application token planted: %q", got)
	}
	// The forged uninstall that would follow is refused too.
	un := eventForm(m, "planted0123456789abcdef012345678", "0")
	un.Set("event", "ONAPPUNINSTALL")
	un.Set("data[CLEAN]", "1")
	if got := postEvent(t, s, un.Encode()); got != 403 {
		t.Errorf("forged uninstall: status %d", got)
	}
	if p, _ := s.store.Portal(ctx, m); p.State != "active" {
		t.Errorf("portal state = %s after refused events", p.State)
	}
}

// A reinstall from an older portal (no APPLICATION_TOKEN) drops the token of
// the earlier install, and the admin's next event establishes the new one.
func TestLegacyReinstallReplacesAStaleApplicationToken(t *testing.T) {
	s := newStack(t, b24sim.Options{Seed: 16})
	s.sim.Seed(b24sim.GenOptions{Contacts: 5, Companies: 2, Deals: 5})
	s.install(b24sim.InstallOptions{})
	ctx := context.Background()
	old := s.sim.ApplicationToken()
	s.install(b24sim.InstallOptions{Legacy: true}) // a new token the installer does not send
	if s.sim.ApplicationToken() == old {
		t.Fatal("the simulator kept the application token across installs; the test needs a new one")
	}
	if err := s.sim.UserUpdate("deal", 2, map[string]any{"TITLE": "after reinstall"}, 1, false); err != nil {
		t.Fatal(err)
	}
	if err := s.sim.WaitEvents(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.store.ApplicationToken(ctx, s.sim.MemberID()); got != s.sim.ApplicationToken() {
		t.Errorf("application token = %q, want the reinstall's %q", got, s.sim.ApplicationToken())
	}
	if ids, _ := waitReceived(t, s, "deal", 1); ids[2] == 0 {
		t.Error("the admin's event after the reinstall was not accepted")
	}
}
