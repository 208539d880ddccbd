package handlers_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"segmentor/internal/fakeclock"

	"segmentor/bitrix/b24sim"
	"segmentor/handlers"
	"segmentor/internal/testkit"
	"segmentor/internal/wiring"
	"segmentor/jobs"
)

// settingsStack is the whole app with the settings page and its API, on a
// simulated portal where Segmentor is installed.
type settingsStack struct {
	*stack
	web      *httptest.Server
	sessions *handlers.Sessions
	clock    *fakeclock.Clock
	rep      *b24sim.User // a user who is not an admin
}

var sessionKey = bytes.Repeat([]byte{7}, 32)

func newSettingsStack(t *testing.T, lang string) *settingsStack {
	t.Helper()
	return newSettingsStackWith(t, lang, nil)
}

// newSettingsStackWith is newSettingsStack on a portal that before, when
// set, prepares before the app is installed.
func newSettingsStackWith(t *testing.T, lang string, before func(*b24sim.Portal)) *settingsStack {
	t.Helper()
	return newSettingsStackWired(t, lang, func(s *stack) {
		if before != nil {
			before(s.sim)
		}
	}, nil)
}

// newSettingsStackWired is newSettingsStack with a worker that wire, when
// set, adjusts, on a portal that before, when set, prepares (through the
// stack's REST calls) before the app is installed.
func newSettingsStackWired(t *testing.T, lang string, before func(*stack), wire func(*jobs.Worker)) *settingsStack {
	t.Helper()
	clock := fakeclock.At(time.Now())
	s := stackOf(t, testkit.StackOptions{Wire: func(_ *wiring.App, w *wiring.Web, worker *jobs.Worker) {
		w.Sessions.Clock = clock.Now
		if wire != nil {
			wire(worker)
		}
	}})
	if before != nil {
		before(s)
	}
	s.install(b24sim.InstallOptions{Lang: lang})
	rep := s.sim.AddUser(b24sim.User{Name: "Rita", LastName: "Rep", OwnOnly: true})
	return &settingsStack{stack: s, web: s.app, sessions: s.Web.Sessions, clock: clock, rep: rep}
}

type apiResp = testkit.Reply

func (s *settingsStack) do(method, path, token string, body any) apiResp {
	s.t.Helper()
	return s.Do(method, path, token, body)
}

func (s *settingsStack) login(userID int) string {
	s.t.Helper()
	return s.Login(userID)
}

const vipConfig = `{"schemes": [{"entity": "contact", "segments": [
  {"key": "vip", "name": "VIP", "color": "#d4a017",
   "when": {"all": [{"fact": "won_amount", "window_days": 365, "op": ">=", "value": 100000},
                    {"any": [{"fact": "won_count", "op": ">=", "value": 5}, {"not": {"fact": "field:SOURCE_ID", "op": "empty"}}]}]},
   "set": {"label": true}}],
  "otherwise": {"key": "regular", "name": "Regular", "set": {"label": true}}}]}`

func TestSessionConfirmsUserAtStoredEndpoint(t *testing.T) {
	s := newSettingsStack(t, "en")
	s.sim.ResetLog() // the install's own admin check called profile too
	tok := s.sim.IssueTokens(1)
	r := s.do("POST", "/api/v1/session", "", map[string]string{"member_id": s.sim.MemberID(), "auth_id": tok.AccessToken})
	if r.Status != 200 || r.Body["admin"] != true || r.Body["expires_in"] != float64(handlers.SessionTTL/time.Second) {
		t.Fatalf("admin session: %d %s", r.Status, r.Raw)
	}
	if u := r.Body["user"].(map[string]any); u["id"] != float64(1) {
		t.Fatalf("user: %v", u)
	}
	if c := s.commands(); c["profile"] != 1 || c["app.info"] != 1 || len(s.sim.Requests()) != 1 {
		t.Fatalf("the sign-in asked the portal %v in %d requests, want profile and app.info in one", c, len(s.sim.Requests()))
	}

	rep := s.do("POST", "/api/v1/session", "", map[string]string{"member_id": s.sim.MemberID(), "auth_id": s.sim.IssueTokens(s.rep.ID).AccessToken})
	if rep.Status != 200 || rep.Body["admin"] != false || rep.Body["user"].(map[string]any)["name"] != "Rita Rep" {
		t.Fatalf("rep session: %d %s", rep.Status, rep.Raw)
	}

	for name, body := range map[string]any{
		"forged auth_id":  map[string]string{"member_id": s.sim.MemberID(), "auth_id": "f0rged0000000000000000000000000000"},
		"unknown portal":  map[string]string{"member_id": "0123456789abcdef0123456789abcdef", "auth_id": tok.AccessToken},
		"no auth_id":      map[string]string{"member_id": s.sim.MemberID()},
		"not json at all": "member_id=x&auth_id=y",
	} {
		r := s.do("POST", "/api/v1/session", "", body)
		if r.Status != 401 && r.Status != 400 || r.Body["error"] == nil || r.Body["message"] == nil {
			t.Errorf("%s: %d %s, want 401/400 with {error, message}", name, r.Status, r.Raw)
		}
		if name == "forged auth_id" && r.Status != 401 {
			t.Errorf("forged auth_id: %d, want 401", r.Status)
		}
	}
}

func TestAPIRefusesBadTokens(t *testing.T) {
	s := newSettingsStack(t, "en")
	good := s.login(1)
	if r := s.do("GET", "/api/v1/config", good, nil); r.Status != 200 {
		t.Fatalf("good token: %d %s", r.Status, r.Raw)
	}
	payload, sig, _ := strings.Cut(good, ".")
	// A rep's token with the admin flag flipped keeps the rep's signature.
	repPayload, repSig, _ := strings.Cut(s.login(s.rep.ID), ".")
	raw, _ := base64.RawURLEncoding.DecodeString(repPayload)
	flipped := base64.RawURLEncoding.EncodeToString(bytes.Replace(raw, []byte(`"a":false`), []byte(`"a":true`), 1))
	if flipped == repPayload {
		t.Fatal("the admin flag is not where the test expects it")
	}
	other := &handlers.Sessions{Store: s.store, Key: bytes.Repeat([]byte{8}, 32), Clock: s.clock.Now}
	cases := map[string]string{
		"missing":         "",
		"garbage":         "not-a-token",
		"tampered sig":    payload + "." + strings.Repeat("A", len(sig)),
		"tampered admin":  flipped + "." + repSig,
		"another key":     other.Issue(handlers.Session{MemberID: s.sim.MemberID(), UserID: 1, Admin: true, Expires: s.clock.Now().Add(time.Hour).Unix()}),
		"other portal":    s.sessions.Issue(handlers.Session{MemberID: "ffffffffffffffffffffffffffffffff", UserID: 1, Admin: true, Expires: s.clock.Now().Add(time.Hour).Unix()}),
		"already expired": s.sessions.Issue(handlers.Session{MemberID: s.sim.MemberID(), UserID: 1, Admin: true, Expires: s.clock.Now().Add(-time.Second).Unix()}),
	}
	for name, tok := range cases {
		for _, rt := range [][2]string{{"GET", "/api/v1/config"}, {"PUT", "/api/v1/config"}, {"GET", "/api/v1/reference"}, {"POST", "/api/v1/config/validate"}, {"POST", "/api/v1/reference/types"}} {
			r := s.do(rt[0], rt[1], tok, map[string]any{"base_version": 0, "config": json.RawMessage(vipConfig)})
			if r.Status != 401 || r.Body["error"] != "unauthorized" || r.Body["message"] == "" {
				t.Errorf("%s token, %s %s: %d %s, want 401", name, rt[0], rt[1], r.Status, r.Raw)
			}
		}
	}
	s.clock.Advance(time.Hour + time.Second)
	if r := s.do("GET", "/api/v1/config", good, nil); r.Status != 401 {
		t.Fatalf("token after an hour: %d, want 401", r.Status)
	}
}

func TestAPIConfigRoundTrip(t *testing.T) {
	s := newSettingsStack(t, "en")
	admin := s.login(1)
	r := s.do("GET", "/api/v1/config", admin, nil)
	if r.Status != 200 || r.Body["version"] != float64(0) || len(r.Body["config"].(map[string]any)["schemes"].([]any)) != 0 {
		t.Fatalf("before the first save: %d %s", r.Status, r.Raw)
	}
	r = s.do("PUT", "/api/v1/config", admin, map[string]any{"base_version": 0, "config": json.RawMessage(vipConfig)})
	if r.Status != 200 || r.Body["version"] != float64(1) {
		t.Fatalf("first save: %d %s", r.Status, r.Raw)
	}
	// The portal is the token's: a member_id in the query changes nothing.
	r = s.do("GET", "/api/v1/config?member_id=ffffffffffffffffffffffffffffffff", admin, nil)
	if r.Status != 200 || r.Body["version"] != float64(1) {
		t.Fatalf("after the save: %d %s", r.Status, r.Raw)
	}
	seg := r.Body["config"].(map[string]any)["schemes"].([]any)[0].(map[string]any)["segments"].([]any)[0].(map[string]any)
	if seg["key"] != "vip" || seg["when"].(map[string]any)["all"].([]any)[1].(map[string]any)["any"] == nil {
		t.Fatalf("saved config lost its nested condition: %s", r.Raw)
	}

	// A second editor started from version 0: refused, not lost.
	r = s.do("PUT", "/api/v1/config", admin, map[string]any{"base_version": 0, "config": json.RawMessage(vipConfig)})
	if r.Status != 409 || r.Body["error"] != "conflict" || !strings.Contains(r.Body["message"].(string), "Reload") {
		t.Fatalf("stale base_version: %d %s", r.Status, r.Raw)
	}
	if r := s.do("PUT", "/api/v1/config", admin, map[string]any{"config": json.RawMessage(vipConfig)}); r.Status != 400 {
		t.Fatalf("no base_version: %d %s", r.Status, r.Raw)
	}

	rep := s.login(s.rep.ID)
	if r := s.do("GET", "/api/v1/config", rep, nil); r.Status != 200 || r.Body["version"] != float64(1) {
		t.Fatalf("a rep reads: %d %s", r.Status, r.Raw)
	}
	if r := s.do("POST", "/api/v1/config/validate", rep, map[string]any{"config": json.RawMessage(vipConfig)}); r.Status != 200 {
		t.Fatalf("a rep validates: %d %s", r.Status, r.Raw)
	}
	for _, rt := range [][2]string{{"PUT", "/api/v1/config"}, {"POST", "/api/v1/reference/types"}} {
		r := s.do(rt[0], rt[1], rep, map[string]any{"base_version": 1, "config": json.RawMessage(vipConfig), "entity": "contact", "id": "X", "name": "X"})
		if r.Status != 403 || r.Body["error"] != "forbidden" {
			t.Fatalf("a rep writes %s %s: %d %s", rt[0], rt[1], r.Status, r.Raw)
		}
	}
	if r := s.do("GET", "/api/v1/config", admin, nil); r.Body["version"] != float64(1) {
		t.Fatalf("refused writes changed the config: %s", r.Raw)
	}
}

func TestAPIInvalidConfigListsEveryProblemWithPaths(t *testing.T) {
	s := newSettingsStack(t, "ru")
	admin := s.login(1)
	bad := `{"schemes": [{"entity": "contact", "segments": [
	  {"key": "vip", "name": "VIP", "when": {"all": [{"fact": "won_amount", "op": ">="},
	     {"any": [{"fact": "growth", "op": ">", "value": 1}, {"fact": "field:NO_SUCH", "op": "=", "value": "x"}]}]},
	   "set": {"type": "NOPE"}},
	  {"key": "Bad Key", "name": "", "when": {"all": [{"fact": "won_count", "op": ">", "value": 1}]}, "set": {}}]}]}`
	want := map[string]bool{
		"schemes[0].segments[0].when.all[0]":        true, // no value
		"schemes[0].segments[0].when.all[1].any[0]": true, // growth needs a window
		"schemes[0].segments[0].when.all[1].any[1]": true, // unknown field
		"schemes[0].segments[0].set.type":           true,
		"schemes[0].segments[1].key":                true,
		"schemes[0].segments[1].name":               true,
	}
	check := func(what string, r apiResp) {
		t.Helper()
		got := map[string]bool{}
		for _, e := range r.Body["errors"].([]any) {
			e := e.(map[string]any)
			got[e["path"].(string)] = true
			if msg, _ := e["message"].(string); msg == "" || !strings.ContainsAny(msg, "абвгдеёжзийклмнопрстуфхцчшщыэюя") {
				t.Errorf("%s: message %q is not in Russian", what, msg)
			}
		}
		for p := range want {
			if !got[p] {
				t.Errorf("%s: no problem at %s in %s", what, p, r.Raw)
			}
		}
	}
	r := s.do("PUT", "/api/v1/config", admin, map[string]any{"base_version": 0, "config": json.RawMessage(bad)})
	if r.Status != 422 {
		t.Fatalf("invalid config: %d %s", r.Status, r.Raw)
	}
	check("PUT", r)
	r = s.do("POST", "/api/v1/config/validate", admin, map[string]any{"config": json.RawMessage(bad)})
	if r.Status != 200 {
		t.Fatalf("validate: %d %s", r.Status, r.Raw)
	}
	check("validate", r)
	r = s.do("POST", "/api/v1/config/validate", admin, map[string]any{"config": json.RawMessage(vipConfig)})
	if r.Status != 200 || len(r.Body["errors"].([]any)) != 0 {
		t.Fatalf("a valid config: %d %s", r.Status, r.Raw)
	}
	if r := s.do("GET", "/api/v1/config", admin, nil); r.Body["version"] != float64(0) {
		t.Fatalf("an invalid config was saved: %s", r.Raw)
	}
	// Syntax errors are problems too, with the user's language.
	r = s.do("PUT", "/api/v1/config", admin, `{"base_version": 0, "config": {"schemes": [{"entity": 5}]}}`)
	if r.Status != 422 || len(r.Body["errors"].([]any)) == 0 {
		t.Fatalf("wrong JSON types: %d %s", r.Status, r.Raw)
	}
}

func TestAPIReference(t *testing.T) {
	s := newSettingsStack(t, "en")
	admin := s.login(1)
	r := s.do("GET", "/api/v1/reference", admin, nil)
	if r.Status != 200 {
		t.Fatalf("reference: %d %s", r.Status, r.Raw)
	}
	var ref handlers.Pickers
	decodeJSON(t, r.Raw, &ref)
	if len(ref.Types["contact"]) == 0 || len(ref.Types["deal"]) == 0 || len(ref.Sources) == 0 || len(ref.Currencies) == 0 {
		t.Fatalf("types, sources, currencies missing: %s", r.Raw)
	}
	if len(ref.Pipelines) == 0 || len(ref.Pipelines[0].Stages) == 0 {
		t.Fatalf("pipelines without stages: %s", r.Raw)
	}
	if len(ref.Facts) == 0 || len(ref.Fields["contact"]) == 0 {
		t.Fatalf("facts or fields missing: %s", r.Raw)
	}
	var sourceField *handlers.RefField
	for i, f := range ref.Fields["contact"] {
		if f.ID == "SOURCE_ID" {
			sourceField = &ref.Fields["contact"][i]
		}
	}
	if sourceField == nil || len(sourceField.Values) != len(ref.Sources) {
		t.Fatalf("SOURCE_ID does not offer the sources: %+v", sourceField)
	}

	// An admin adds a type; the picker and validation know it at once.
	r = s.do("POST", "/api/v1/reference/types", admin, map[string]string{"entity": "contact", "id": "gold_client", "name": "Gold client"})
	if r.Status != 201 {
		t.Fatalf("add type: %d %s", r.Status, r.Raw)
	}
	if n := s.commands()["crm.status.add"]; n != 1 {
		t.Fatalf("crm.status.add called %d times", n)
	}
	r = s.do("GET", "/api/v1/reference", admin, nil)
	decodeJSON(t, r.Raw, &ref)
	found := false
	for _, ty := range ref.Types["contact"] {
		found = found || ty.ID == "GOLD_CLIENT" && ty.Name == "Gold client"
	}
	if !found {
		t.Fatalf("new type not in the reference: %v", ref.Types["contact"])
	}
	cfg := `{"schemes":[{"entity":"contact","segments":[{"key":"gold","name":"Gold","when":{"all":[{"fact":"won_count","op":">","value":3}]},"set":{"type":"GOLD_CLIENT"}}]}]}`
	if r := s.do("POST", "/api/v1/config/validate", admin, map[string]any{"config": json.RawMessage(cfg)}); len(r.Body["errors"].([]any)) != 0 {
		t.Fatalf("the new type does not validate: %s", r.Raw)
	}
	if r := s.do("POST", "/api/v1/reference/types", admin, map[string]string{"entity": "contact", "id": "GOLD_CLIENT", "name": "Again"}); r.Status != 409 {
		t.Fatalf("duplicate type: %d %s", r.Status, r.Raw)
	}
	for _, bad := range []map[string]string{{"entity": "lead", "id": "A", "name": "A"}, {"entity": "deal", "id": "a b", "name": "A"}, {"entity": "deal", "id": "A"}} {
		if r := s.do("POST", "/api/v1/reference/types", admin, bad); r.Status != 400 {
			t.Fatalf("bad type %v: %d %s", bad, r.Status, r.Raw)
		}
	}
}

func TestAppPage(t *testing.T) {
	s := newSettingsStack(t, "ru")
	resp, err := s.sim.OpenApp(context.Background(), s.web.URL+s.manifest.Handlers.App, 1, "ru")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `lang="ru"`) || !strings.Contains(string(body), s.sim.MemberID()) {
		t.Fatalf("app page: %d %s", resp.StatusCode, body)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	if csp != "frame-ancestors "+strings.TrimSuffix(s.sim.URL(), "/") {
		t.Fatalf("CSP %q, want frame-ancestors of the portal %s only", csp, s.sim.URL())
	}
	if xfo := resp.Header.Get("X-Frame-Options"); xfo != "" {
		t.Fatalf("X-Frame-Options %q keeps Bitrix24 from framing the page", xfo)
	}
	// Opened directly, the page is framed by no one and carries no token.
	r := s.do("GET", s.manifest.Handlers.App, "", nil)
	if r.Status != 200 || r.Header.Get("Content-Security-Policy") != "frame-ancestors 'none'" || strings.Contains(string(r.Raw), `data-auth-id="`+"x") {
		t.Fatalf("GET app page: %d %q", r.Status, r.Header.Get("Content-Security-Policy"))
	}
	for _, asset := range []string{"/static/app.js", "/static/app.css"} {
		if r := s.do("GET", asset, "", nil); r.Status != 200 || len(r.Raw) == 0 {
			t.Fatalf("%s: %d", asset, r.Status)
		}
	}
	if r := s.do("GET", "/static/index.html", "", nil); r.Status != 404 {
		t.Fatalf("the raw template is served: %d", r.Status)
	}
}

// A config or request body that is not clean JSON is refused with where
// it is: inside the config as the config's problem at its path (422, or
// listed by validate), elsewhere in the body with a 400; nothing is saved.
func TestAPIRefusesUncleanJSON(t *testing.T) {
	s := newSettingsStack(t, "ru")
	admin := s.login(1)
	controlName := strings.Replace(vipConfig, `"name": "VIP"`, `"name": "VI\u0001P"`, 1)
	r := s.do("PUT", "/api/v1/config", admin, `{"base_version": 0, "config": `+controlName+`}`)
	wantProblem := func(what string, r apiResp) {
		t.Helper()
		list, _ := r.Body["errors"].([]any)
		if len(list) != 1 {
			t.Fatalf("%s: %d %s", what, r.Status, r.Raw)
		}
		p := list[0].(map[string]any)
		if p["path"] != "schemes[0].segments[0].name" || p["code"] != "json_control" || !strings.Contains(p["message"].(string), "Управляющий символ U+0001") {
			t.Fatalf("%s: problem %v", what, p)
		}
	}
	if r.Status != 422 {
		t.Fatalf("a control character in a name: %d %s", r.Status, r.Raw)
	}
	wantProblem("PUT", r)
	r = s.do("POST", "/api/v1/config/validate", admin, `{"config": `+controlName+`}`)
	if r.Status != 200 {
		t.Fatalf("validate a control character in a name: %d %s", r.Status, r.Raw)
	}
	wantProblem("validate", r)

	for _, tt := range []struct{ path, body, message string }{
		{"/api/v1/config", `{"base_version": 0, "config": ` + vipConfig + `, "config": {"schemes": []}}`, `config: Ключ «config» указан дважды.`},
		{"/api/v1/config", `{"base_version": 0, "config": ` + vipConfig + `} {"base_version": 1}`, "После конца JSON есть что-то ещё (строка 6, столбец 82)."},
		{"/api/v1/config", "{\"base_version\": 0, \"config\": " + vipConfig + ", \"note\": \"\xff\"}", "note: Текст — некорректный UTF-8."},
		{"/api/v1/dry-run", `{"config": ` + vipConfig + `}garbage`, "После конца JSON есть что-то ещё (строка 6, столбец 81)."},
	} {
		method := "PUT"
		if tt.path != "/api/v1/config" {
			method = "POST"
		}
		r := s.do(method, tt.path, admin, tt.body)
		if r.Status != 400 || r.Body["error"] != "invalid" || r.Body["message"] != tt.message {
			t.Errorf("%s %s: %d %s; want 400 with %q", method, tt.body, r.Status, r.Raw, tt.message)
		}
	}
	if r := s.do("GET", "/api/v1/config", admin, nil); r.Body["version"] != float64(0) {
		t.Fatalf("a refused config was saved: %s", r.Raw)
	}
}

// A body over the limit is refused with 413, saying it is too large and
// what the limit is, in the portal's language; nothing is saved.
func TestOversizedConfigSaysItsLimit(t *testing.T) {
	s := newSettingsStack(t, "en")
	admin := s.login(1)
	big := `{"schemes": [{"entity": "contact", "segments": [{"key": "x", "name": "` + strings.Repeat("x", 750<<10) + `"}]}]}`
	for _, path := range []string{"/api/v1/config", "/api/v1/config/validate", "/api/v1/preview"} {
		method := "POST"
		if path == "/api/v1/config" {
			method = "PUT"
		}
		r := s.do(method, path, admin, map[string]any{"base_version": 0, "config": json.RawMessage(big)})
		msg, _ := r.Body["message"].(string)
		if r.Status != 413 || r.Body["error"] != "too_large" || !strings.Contains(msg, "too large") || !strings.Contains(msg, "256 KB") {
			t.Errorf("%s %s of 750 KB: %d %s", method, path, r.Status, r.Raw)
		}
	}
	if sc, _ := s.store.Config(context.Background(), s.sim.MemberID()); sc.Version != 0 {
		t.Errorf("the oversized config was saved: version %d", sc.Version)
	}
}
