package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"segmentor/app"
	"segmentor/bitrix/b24sim"
	"segmentor/handlers"
	"segmentor/internal/fakeclock"
	"segmentor/internal/keyspace"
	"segmentor/internal/testkit"
	"segmentor/internal/wiring"
	"segmentor/jobs"
)

// cardSession starts a card tab's session for userID's fresh token, bound
// to entity/id, from the client address addr (X-Forwarded-For; the test
// stack trusts the loopback proxy).
func (s *settingsStack) cardSession(userID int, entity string, id int, addr string) apiResp {
	s.t.Helper()
	body := map[string]string{"member_id": s.sim.MemberID(), "auth_id": s.sim.IssueTokens(userID).AccessToken}
	if entity != "" {
		body["entity"], body["id"] = entity, fmt.Sprint(id)
	}
	return s.doFrom(addr, "POST", "/api/v1/session", "", body)
}

// doFrom is do from a client address behind the trusted proxy.
func (s *settingsStack) doFrom(addr, method, path, token string, body any) apiResp {
	s.t.Helper()
	raw, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, s.web.URL+path, strings.NewReader(string(raw)))
	req.Header.Set("Content-Type", "application/json")
	if addr != "" {
		req.Header.Set("X-Forwarded-For", addr)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return testkit.Send(s.t, req)
}

// A sales rep whose CRM role shows them only their own records sees in
// Segmentor only what the CRM lets them: a card tab's session is bound to
// its record once the portal confirms (with the rep's own token) that they
// may read it; another record needs its own card; the lists that name
// records (samples, dry-run moves, the changes) are an administrator's.
func TestRepSeesOnlyWhatTheCRMLetsThem(t *testing.T) {
	s := newSettingsStack(t, "en")
	s.sim.Seed(b24sim.GenOptions{Contacts: 40, Companies: 5, Deals: 120})
	admin := s.login(1)
	applyConfig(t, s, admin, savedInsightConfig)
	own, err := s.sim.UserAdd("deal", map[string]any{"TITLE": "Rita's deal", "OPPORTUNITY": 900}, s.rep.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	syncMirror(t, s)
	others := 0 // a seeded deal that is not the rep's
	for d := range s.sim.Records("deal") {
		if id := atoiT(t, d["ID"]); others == 0 && atoiT(t, d["ASSIGNED_BY_ID"]) != s.rep.ID {
			others = id
		}
	}

	s.sim.ResetLog()
	r := s.cardSession(s.rep.ID, "deal", own, "")
	if r.Status != 200 || r.Body["admin"] != false {
		t.Fatalf("the rep's card of their own deal: %d %s", r.Status, r.Raw)
	}
	if n, c := len(s.sim.Requests()), s.commands(); n != 1 || c["crm.item.get"] != 1 || c["profile"] != 1 {
		t.Errorf("the card's sign-in asked the portal %d times (%v), want one batch with profile, app.info and crm.item.get", n, c)
	}
	card := r.Body["token"].(string)
	if r := s.do("GET", fmt.Sprintf("/api/v1/records/deal/%d", own), card, nil); r.Status != 200 || r.Body["title"] != "Rita's deal" {
		t.Errorf("the rep reads their own deal: %d %s", r.Status, r.Raw)
	}
	if r := s.do("GET", fmt.Sprintf("/api/v1/records/deal/%d", others), card, nil); r.Status != 403 || !strings.Contains(r.Body["message"].(string), "card") {
		t.Errorf("the rep's card session reads another deal: %d %s, want 403", r.Status, r.Raw)
	}

	// Another's deal: the portal refuses the rep's token for it (b24sim's
	// crm.item.get answers ACCESS_DENIED), and so does Segmentor.
	r = s.cardSession(s.rep.ID, "deal", others, "")
	if r.Status != 403 || r.Body["token"] != nil || !strings.Contains(r.Body["message"].(string), "access rights") {
		t.Errorf("the rep's card of another's deal: %d %s, want 403", r.Status, r.Raw)
	}
	if r := s.cardSession(s.rep.ID, "deal", 999999, ""); r.Status != 404 || r.Body["token"] != nil {
		t.Errorf("a card of no deal: %d %s, want 404", r.Status, r.Raw)
	}
	for _, bad := range []map[string]string{{"entity": "lead", "id": "1"}, {"entity": "deal", "id": "x"}, {"entity": "deal"}} {
		bad["member_id"], bad["auth_id"] = s.sim.MemberID(), s.sim.IssueTokens(s.rep.ID).AccessToken
		if r := s.do("POST", "/api/v1/session", "", bad); r.Status != 400 {
			t.Errorf("session for %v: %d %s, want 400", bad, r.Status, r.Raw)
		}
	}

	// The rep's settings page: counts and shares, no records.
	page := s.login(s.rep.ID)
	if r := s.do("GET", fmt.Sprintf("/api/v1/records/deal/%d", own), page, nil); r.Status != 403 {
		t.Errorf("the rep's page session reads a record: %d %s, want 403 (records are read from their cards)", r.Status, r.Raw)
	}
	if r := s.do("GET", "/api/v1/audit", page, nil); r.Status != 403 {
		t.Errorf("the rep reads the changes: %d %s", r.Status, r.Raw)
	}
	draft := map[string]any{"config": json.RawMessage(draftInsightConfig)}
	for _, path := range []string{"/api/v1/preview", "/api/v1/dryrun"} {
		asAdmin, asRep := s.do("POST", path, admin, draft), s.do("POST", path, page, draft)
		if asRep.Status != 200 || asAdmin.Status != 200 {
			t.Fatalf("%s: admin %d, rep %d %s", path, asAdmin.Status, asRep.Status, asRep.Raw)
		}
		if !strings.Contains(string(asAdmin.Raw), `"samples":[{`) || strings.Contains(string(asRep.Raw), `"samples":[{`) ||
			!strings.Contains(string(asRep.Raw), `"samples":[]`) {
			t.Errorf("%s: the admin's answer should name records and the rep's none:\nadmin %.300s\nrep %.300s", path, asAdmin.Raw, asRep.Raw)
		}
	}

	// An admin's card session reads any record: admins see the whole CRM.
	r = s.cardSession(1, "deal", own, "")
	if r.Status != 200 {
		t.Fatalf("the admin's card: %d %s", r.Status, r.Raw)
	}
	if r := s.do("GET", fmt.Sprintf("/api/v1/records/deal/%d", others), r.Body["token"].(string), nil); r.Status != 200 {
		t.Errorf("the admin reads another deal: %d %s", r.Status, r.Raw)
	}
}

// Admin rights are at most handlers.SessionTTL old: a session ends that
// long after the portal confirmed its user, and the next one asks the
// portal again, so an admin demoted meanwhile comes back as a reader.
func TestDemotedAdminLosesRightsWithinSessionLifetime(t *testing.T) {
	s := newSettingsStack(t, "en")
	boss := s.sim.AddUser(b24sim.User{Name: "Bo", LastName: "Boss", Admin: true})
	tok := s.sim.IssueTokens(boss.ID).AccessToken
	start := func() apiResp {
		return s.do("POST", "/api/v1/session", "", map[string]string{"member_id": s.sim.MemberID(), "auth_id": tok})
	}
	r := start()
	if r.Status != 200 || r.Body["admin"] != true {
		t.Fatalf("the admin's session: %d %s", r.Status, r.Raw)
	}
	sess := r.Body["token"].(string)
	if r := s.do("POST", "/api/v1/recompute", sess, map[string]any{}); r.Status == 403 {
		t.Fatalf("the admin may not recompute: %s", r.Raw)
	}

	s.sim.AddUser(b24sim.User{ID: boss.ID, Name: "Bo", LastName: "Boss", Admin: false}) // demoted in Bitrix24
	s.clock.Advance(app.SignInTTL + time.Minute)
	// Reopened with the same token past app.SignInTTL: the portal is asked.
	if r := start(); r.Status != 200 || r.Body["admin"] != false {
		t.Errorf("reopened after the demotion: %d %s, want a reader's session", r.Status, r.Raw)
	}
	// The session issued before the demotion ends within its lifetime.
	s.clock.Advance(handlers.SessionTTL - app.SignInTTL - time.Minute)
	if r := s.do("GET", "/api/v1/config", sess, nil); r.Status != 401 {
		t.Errorf("the old admin session %s after its confirmation: %d, want 401", handlers.SessionTTL, r.Status)
	}
}

// Sign-ins nobody vouches for are checked within a budget of their own:
// a few a minute per client address (429 past it, without asking the
// portal), a token the portal refused is refused again without asking, and
// an address that sent one competes only with other such addresses.
func TestSignInChecksHaveTheirOwnBudget(t *testing.T) {
	clock := fakeclock.At(time.Now())
	k := stackOf(t, testkit.StackOptions{Wire: func(a *wiring.App, w *wiring.Web, _ *jobs.Worker) {
		w.Sessions.Clock = clock.Now
		a.Config.TrustedProxies = []string{"127.0.0.1"}
	}})
	k.install(b24sim.InstallOptions{})
	s := &settingsStack{stack: k, web: k.app, sessions: k.Web.Sessions, clock: clock}
	forge := func(addr string, i int) apiResp {
		return s.doFrom(addr, "POST", "/api/v1/session", "", map[string]string{"member_id": s.sim.MemberID(),
			"auth_id": fmt.Sprintf("f0rged%028d", i)})
	}

	s.sim.ResetLog()
	statuses := map[int]int{}
	var limited apiResp
	for i := 0; i < 12; i++ {
		r := forge("203.0.113.7", i)
		statuses[r.Status]++
		if r.Status == 429 {
			limited = r
		}
	}
	asked := len(s.sim.Requests())
	if statuses[401] == 0 || statuses[429] == 0 || asked != statuses[401] || asked > 6 {
		t.Errorf("12 forged sign-ins from one address: %v, %d asked the portal; want at most 6 asked, the rest 429", statuses, asked)
	}
	if msg, _ := limited.Body["message"].(string); limited.Header.Get("Retry-After") == "" || !strings.Contains(msg, "Too many sign-ins from your network") {
		t.Errorf("the 429: %v %s", limited.Header, limited.Raw)
	}

	// The same forged token again, from elsewhere: refused without asking.
	s.sim.ResetLog()
	if r := forge("198.51.100.9", 0); r.Status != 401 || len(s.sim.Requests()) != 0 {
		t.Errorf("a refused token again: %d, %d requests", r.Status, len(s.sim.Requests()))
	}
	// A real user from another address signs in at once.
	r := s.doFrom("198.51.100.20", "POST", "/api/v1/session", "", map[string]string{"member_id": s.sim.MemberID(),
		"auth_id": s.sim.IssueTokens(1).AccessToken})
	if r.Status != 200 {
		t.Fatalf("a real sign-in beside the flood: %d %s", r.Status, r.Raw)
	}

	// Sign-ins a page's session vouches for are charged to its user, not
	// to the address: six of them leave the address its whole budget.
	session := r.Body["token"].(string)
	for i := 0; i < 6; i++ {
		r := s.doFrom("198.51.100.30", "POST", "/api/v1/session", "", map[string]string{"member_id": s.sim.MemberID(),
			"auth_id": s.sim.IssueTokens(1).AccessToken, "session": session})
		if r.Status != 200 {
			t.Fatalf("vouched sign-in %d: %d %s", i+1, r.Status, r.Raw)
		}
	}
	addrKey := "rate:" + keyspace.Portal(s.sim.MemberID(), "signin-addr:198.51.100.30") // redis_rate prefixes its keys
	if n, err := s.rdb.Exists(context.Background(), addrKey).Result(); err != nil || n != 0 {
		t.Errorf("the vouched sign-ins took turns of the address's budget (%s exists: %d, %v)", addrKey, n, err)
	}
	if r := forge("198.51.100.30", 100); r.Status != 401 {
		t.Errorf("an unvouched sign-in from the address after six vouched ones: %d %s, want it checked (401)", r.Status, r.Raw)
	}
}
