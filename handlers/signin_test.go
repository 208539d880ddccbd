package handlers_test

import (
	"testing"
)

// A token the portal confirmed opens later sessions, card tab after card
// tab, without asking the portal again; a refused token is asked once and
// then refused without asking, for app.RefusalTTL.
func TestSignInsAreRemembered(t *testing.T) {
	s := newSettingsStack(t, "en")
	start := func(token string) apiResp {
		t.Helper()
		return s.do("POST", "/api/v1/session", "", map[string]string{"member_id": s.sim.MemberID(), "auth_id": token})
	}
	asked := func() int { return len(s.sim.Requests()) }

	rep := s.sim.IssueTokens(s.rep.ID).AccessToken
	s.sim.ResetLog()
	for i := 0; i < 4; i++ {
		r := start(rep)
		if r.Status != 200 || r.Body["admin"] != false || r.Body["user"].(map[string]any)["name"] != "Rita Rep" {
			t.Fatalf("open %d of the rep's page: %d %s", i+1, r.Status, r.Raw)
		}
	}
	if n, c := asked(), s.commands(); n != 1 || c["profile"] != 1 || c["app.info"] != 1 {
		t.Errorf("four opens with one token asked the portal %d times (%v); want once, profile and app.info in one batch", n, c)
	}
	admin := s.sim.IssueTokens(1).AccessToken
	if r := start(admin); r.Status != 200 || r.Body["admin"] != true {
		t.Errorf("the admin's own token: %d %s, want an admin session, not the rep's", r.Status, r.Raw)
	}

	s.sim.ResetLog()
	for i := 0; i < 3; i++ {
		if r := start("f0rged0000000000000000000000000000"); r.Status != 401 {
			t.Errorf("forged token, try %d: %d %s, want 401", i+1, r.Status, r.Raw)
		}
	}
	if n := asked(); n != 1 {
		t.Errorf("a forged token sent three times asked the portal %d times; want once: the refusal is remembered", n)
	}
}
