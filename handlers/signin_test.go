package handlers_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"segmentor/app"
)

// A token the portal confirmed opens later sessions without asking the
// portal again. Tokens the portal refuses are rationed per portal: past the
// ration a stranger's tokens get 429 with Retry-After and cost no request,
// while a token already confirmed still opens the page.
func TestSignInsAreRememberedAndRefusalsRationed(t *testing.T) {
	s := newSettingsStack(t, "en")
	start := func(token string) apiResp {
		t.Helper()
		return s.do("POST", "/api/v1/session", "", map[string]string{"member_id": s.sim.MemberID(), "auth_id": token})
	}
	asked := func() int { c := s.commands(); return c["profile"] + c["app.info"] }

	rep := s.sim.IssueTokens(s.rep.ID).AccessToken
	s.sim.ResetLog()
	for i := 0; i < 4; i++ {
		r := start(rep)
		if r.Status != 200 || r.Body["admin"] != false || r.Body["user"].(map[string]any)["name"] != "Rita Rep" {
			t.Fatalf("open %d of the rep's card tab: %d %s", i+1, r.Status, r.Raw)
		}
	}
	if n := asked(); n != 2 {
		t.Errorf("four opens with one token asked the portal %d times; want 2 (profile and app.info, once)", n)
	}

	s.sim.ResetLog()
	burst := app.SignInFailures.Burst
	for i := 0; i < burst; i++ {
		if r := start(fmt.Sprintf("f0rged%028d", i)); r.Status != 401 {
			t.Fatalf("forged token %d: %d %s, want 401", i, r.Status, r.Raw)
		}
	}
	if n := asked(); n != burst {
		t.Errorf("%d forged tokens asked the portal %d times; want one profile each", burst, n)
	}
	r := start("f0rged-past-the-ration-00000000000")
	wait, _ := strconv.Atoi(r.Header.Get("Retry-After"))
	if r.Status != 429 || r.Body["error"] != "too_many" || !strings.Contains(fmt.Sprint(r.Body["message"]), "Too many failed sign-ins") || wait < 1 || wait > 6 {
		t.Errorf("a forged token past the ration: %d, Retry-After %q, %s; want 429 within one refusal's interval (6 s)", r.Status, r.Header.Get("Retry-After"), r.Raw)
	}
	if again := start(fmt.Sprintf("f0rged%028d", 0)); again.Status != 429 {
		t.Errorf("a refused token again: %d, want 429 without asking", again.Status)
	}
	if n := asked(); n != burst {
		t.Errorf("refusals past the ration asked the portal: %d requests, want still %d", n, burst)
	}
	if r := start(rep); r.Status != 200 {
		t.Errorf("the rep's confirmed token during the ration's wait: %d %s, want 200", r.Status, r.Raw)
	}
	if r := start(s.sim.IssueTokens(1).AccessToken); r.Status != 429 {
		t.Errorf("a token not yet confirmed during the wait: %d %s, want 429 (the ration is per portal)", r.Status, r.Raw)
	}
}
