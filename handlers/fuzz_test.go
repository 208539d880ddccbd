package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"segmentor"
	"segmentor/app"
	"segmentor/bitrix"
	"segmentor/engine"
	"segmentor/handlers"
	"segmentor/internal/redistest"
)

const fuzzMember = "a223c6b3710f85df22e9377d6c4f7553"

// fuzzEnv is the web side on its own: an installed portal in the store,
// the router, and an admin's session, with no portal behind it (the users
// checker answers for the token "good").
type fuzzEnv struct {
	store    *app.Store
	sessions *handlers.Sessions
	router   http.Handler
	admin    string // an admin's session token
}

// goodUser is a portal whose only live token, "good", is an admin's of
// this app (fuzzAppID).
type goodUser struct{}

const fuzzAppID = "7"

func (goodUser) WhoHolds(_ context.Context, _, _, token string, _ *bitrix.ItemRef) (bitrix.Holder, error) {
	if token != "good" {
		return bitrix.Holder{}, fmt.Errorf("profile: not a token of this portal")
	}
	return bitrix.Holder{User: bitrix.UserProfile{ID: 1, Name: "Anna", Admin: true}, AppID: fuzzAppID}, nil
}

func (goodUser) CanRead(context.Context, string, string, string, bitrix.ItemRef) error { return nil }

var fuzzNow = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

func newFuzzEnv(f *testing.F) *fuzzEnv {
	f.Helper()
	rdb, _ := redistest.New(f)
	key := bytes.Repeat([]byte{3}, 32)
	seal, _ := app.NewSealer(key)
	store := app.NewStore(rdb, seal, nil)
	ctx := context.Background()
	if _, err := store.UpdatePortal(ctx, fuzzMember, func(p *app.Portal, _ bool) error {
		p.State, p.ClientEndpoint, p.Lang, p.AppID = app.StateActive, "https://fuzz.bitrix24.com/rest/", "en", fuzzAppID
		return nil
	}); err != nil {
		f.Fatal(err)
	}
	dir, err := app.ParseDirectory(fuzzDirectory)
	if err != nil {
		f.Fatal(err)
	}
	if err := store.SaveDirectory(ctx, fuzzMember, dir); err != nil {
		f.Fatal(err)
	}
	manifest, err := segmentor.LoadManifest()
	if err != nil {
		f.Fatal(err)
	}
	sessions := &handlers.Sessions{Store: store, Check: goodUser{}, Key: key, Clock: func() time.Time { return fuzzNow }}
	log := slog.New(slog.DiscardHandler)
	router := handlers.Router(handlers.Deps{Logger: log, Manifest: manifest, Sessions: sessions,
		API:      &handlers.API{Store: store, Mirror: app.NewMirror(rdb), Insight: &engine.Analyst{Store: store, Mirror: app.NewMirror(rdb)}},
		Bitrix24: &handlers.Bitrix24{Store: store, Key: key, Log: log, Manifest: manifest}})
	admin := sessions.Issue(handlers.Session{MemberID: fuzzMember, UserID: 1, Admin: true, Lang: "en", Expires: fuzzNow.Add(time.Hour).Unix()})
	return &fuzzEnv{store: store, sessions: sessions, router: router, admin: admin}
}

// fuzzDirectory is a portal's directory as its REST answers give it.
var fuzzDirectory = map[string]json.RawMessage{
	"statuses": json.RawMessage(`[{"ENTITY_ID":"CONTACT_TYPE","STATUS_ID":"CLIENT","NAME":"Clients","SORT":"10"},
		{"ENTITY_ID":"COMPANY_TYPE","STATUS_ID":"CUSTOMER","NAME":"Client","SORT":"10"},
		{"ENTITY_ID":"DEAL_TYPE","STATUS_ID":"SALE","NAME":"Sales","SORT":"10"},
		{"ENTITY_ID":"SOURCE","STATUS_ID":"WEB","NAME":"Website","SORT":"20"},
		{"ENTITY_ID":"DEAL_STAGE","STATUS_ID":"NEW","NAME":"New","SORT":"10"},
		{"ENTITY_ID":"DEAL_STAGE_3","STATUS_ID":"C3:NEW","NAME":"New","SORT":"10"}]`),
	"categories":     json.RawMessage(`[{"id":0,"name":"General"},{"id":3,"name":"Premium"}]`),
	"currencies":     json.RawMessage(`[{"CURRENCY":"USD","FULL_NAME":"US Dollar","BASE":"Y"}]`),
	"fields_contact": json.RawMessage(`{"SOURCE_ID":{"type":"crm_status","title":"Source"},"UF_CRM_TIER":{"type":"string","isMultiple":true}}`),
}

// serve sends one request through the router and returns its status and
// decoded JSON answer; a non-JSON answer fails the test.
func (e *fuzzEnv) serve(t *testing.T, method, target, token, body string) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	e.router.ServeHTTP(rec, req)
	var out map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("%s %s answered %d with no JSON object: %q", method, target, rec.Code, rec.Body.String())
	}
	if rec.Code >= 400 {
		if msg, _ := out["message"].(string); msg == "" || out["error"] == nil {
			t.Fatalf("%s %s answered %d without {error, message}: %s", method, target, rec.Code, rec.Body.String())
		}
	}
	return rec.Code, out
}

func allowed(t *testing.T, what string, status int, ok ...int) {
	t.Helper()
	if !slices.Contains(ok, status) {
		t.Fatalf("%s answered %d; want one of %v", what, status, ok)
	}
}

// FuzzSessionToken checks arbitrary Bearer tokens. Nothing may panic; only
// a token this server signed passes, anything else is 401.
func FuzzSessionToken(f *testing.F) {
	e := newFuzzEnv(f)
	// Signed here and live: the admin's, and one of a portal that never
	// installed the app (it parses, but the API refuses it).
	other := e.sessions.Issue(handlers.Session{MemberID: "other", UserID: 2, Expires: fuzzNow.Add(time.Hour).Unix()})
	f.Add(e.admin)
	f.Add(other)
	f.Add(e.sessions.Issue(handlers.Session{MemberID: fuzzMember, UserID: 2, Expires: fuzzNow.Unix()})) // expired
	f.Add(strings.Replace(e.admin, ".", "x.", 1))
	f.Add("")
	f.Add(".")
	f.Add("e30.")
	f.Fuzz(func(t *testing.T, token string) {
		sess, err := e.sessions.Parse(token)
		if err != nil {
			if app.ErrorCode(err) != app.EUnauthorized || app.ErrorMessage(err) == "" {
				t.Fatalf("token %q: error %v is not a clear 401", token, err)
			}
		} else if token != e.admin && token != other {
			t.Fatalf("token %q passed as %+v; only live ones this server signed may", token, sess)
		}
		if strings.ContainsAny(token, "\r\n") {
			return // not a header value
		}
		status, _ := e.serve(t, "GET", "/api/v1/config", token, "")
		if strings.TrimSpace(token) == e.admin { // the header's value is trimmed
			allowed(t, "GET config with the admin's token", status, 200)
		} else {
			allowed(t, fmt.Sprintf("GET config with token %q", token), status, 401)
		}
	})
}

// FuzzSessionStart posts arbitrary bodies to POST /api/v1/session: only
// {member_id, auth_id} of an installed portal and a token the portal
// confirms starts a session; anything else is a clear 400 or 401.
func FuzzSessionStart(f *testing.F) {
	e := newFuzzEnv(f)
	f.Add(`{"member_id":"` + fuzzMember + `","auth_id":"good"}`)
	f.Add(`{"member_id":"` + fuzzMember + `","auth_id":"bad"}`)
	f.Add(`{"member_id":"nope","auth_id":"good"}`)
	f.Add(`{"member_id":1,"auth_id":["good"]}`)
	f.Add(`{"member_id":"` + fuzzMember + `"`)
	f.Add(``)
	f.Add(`null`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, body string) {
		status, out := e.serve(t, "POST", "/api/v1/session", "", body)
		allowed(t, fmt.Sprintf("session %q", body), status, 200, 400, 401)
		if status != 200 {
			return
		}
		tok, _ := out["token"].(string)
		sess, err := e.sessions.Parse(tok)
		if err != nil || sess.MemberID != fuzzMember || sess.UserID != 1 {
			t.Fatalf("session %q gave token %q: %+v, %v", body, tok, sess, err)
		}
	})
}

const fuzzConfig = `{"schemes":[{"entity":"contact","segments":[{"key":"vip","name":"VIP","when":{"all":[{"fact":"won_amount","window_days":365,"op":">=","value":1000},{"fact":"field:SOURCE_ID","op":"in","value":["WEB"]}]},"set":{"type":"CLIENT","label":true}}],"otherwise":{"key":"r","name":"Regular"}},{"entity":"deal","segments":[{"key":"p","name":"P","when":{"fact":"client_segment","op":"=","value":"vip"},"set":{"type":"SALE","pipeline":{"category_id":3,"stage_id":"C3:NEW","apply":"always"}}}]}]}`

// FuzzConfigBody sends arbitrary bodies to PUT /api/v1/config and POST
// /api/v1/config/validate, /preview and /dry-run as an admin. Nothing may panic or answer 5xx; a
// refused body gets {error, message} (and the problems for 422); a save
// stores exactly the config sent.
func FuzzConfigBody(f *testing.F) {
	e := newFuzzEnv(f)
	f.Add(`{"base_version":0,"config":` + fuzzConfig + `}`)
	f.Add(`{"base_version":99,"config":` + fuzzConfig + `}`)
	f.Add(`{"base_version":0,"config":{"schemes":[{"entity":"deal","segments":[{"key":"a","name":"A","when":{"fact":"field:STAGE_ID","op":"=","value":"NEW"}}]}]}}`)
	f.Add(`{"base_version":"0","config":"{}"}`)
	f.Add(`{"config":{"schemes":[]}}`)
	f.Add(`{"base_version":0,"config":null}`)
	f.Add(`{"base_version":-1e400,"config":{}}`)
	f.Add(``)
	f.Add(`{"base_version":0,"config":{"schemes":[]}} trailing`)
	f.Add(`{"config":` + fuzzConfig + `,"revenue_window_days":99999}`)
	f.Add(`{"config":` + fuzzConfig + `,"revenue_window_days":"30"}`)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, body string) {
		status, out := e.serve(t, "POST", "/api/v1/config/validate", e.admin, body)
		allowed(t, fmt.Sprintf("validate %q", body), status, 200, 400)
		if status == 200 {
			if _, ok := out["errors"].([]any); !ok {
				t.Fatalf("validate %q: no errors list: %v", body, out)
			}
		}
		for _, path := range []string{"/api/v1/preview", "/api/v1/dry-run"} {
			status, out = e.serve(t, "POST", path, e.admin, body)
			allowed(t, fmt.Sprintf("%s %q", path, body), status, 200, 400, 422)
		}
		status, out = e.serve(t, "PUT", "/api/v1/config", e.admin, body)
		allowed(t, fmt.Sprintf("save %q", body), status, 200, 400, 409, 422)
		switch status {
		case 422:
			if list, _ := out["errors"].([]any); len(list) == 0 {
				t.Fatalf("save %q: 422 without problems: %v", body, out)
			}
		case 200:
			sc, err := e.store.Config(ctx, fuzzMember)
			if err != nil || float64(sc.Version) != out["version"] {
				t.Fatalf("save %q answered %v, store has %+v, %v", body, out, sc, err)
			}
		}
	})
}

// FuzzAPIQuery reads records, the audit list and the dashboard with
// arbitrary path and query values: a clear 400 or 404 for what is not
// valid, never a panic or 5xx.
func FuzzAPIQuery(f *testing.F) {
	e := newFuzzEnv(f)
	f.Add("contact", "5", "deal", "7", "vip", "20", "365")
	f.Add("lead", "-1", "x", "1e3", strings.Repeat("k", 65), "0", "-5")
	f.Add("", "", "", "", "", "", "")
	f.Add("DEAL", "99999999999999999999", "company", "007", "", "201", "3651")
	f.Fuzz(func(t *testing.T, entity, id, auditEntity, record, segment, limit, window string) {
		// Empty, dot or slashed segments are not a record path: the router
		// cleans them with a redirect.
		if seg := []string{"", ".", ".."}; !slices.Contains(seg, entity) && !slices.Contains(seg, id) && !strings.Contains(entity+id, "/") {
			target := "/api/v1/records/" + url.PathEscape(entity) + "/" + url.PathEscape(id)
			status, _ := e.serve(t, "GET", target, e.admin, "")
			allowed(t, "GET "+target, status, 200, 400, 404)
		}
		q := url.Values{"entity": {auditEntity}, "record": {record}, "segment": {segment}, "limit": {limit}}
		status, _ := e.serve(t, "GET", "/api/v1/audit?"+q.Encode(), e.admin, "")
		allowed(t, "GET audit "+q.Encode(), status, 200, 400)
		q = url.Values{"revenue_window_days": {window}}
		status, _ = e.serve(t, "GET", "/api/v1/dashboard?"+q.Encode(), e.admin, "")
		allowed(t, "GET dashboard "+q.Encode(), status, 200, 400)
	})
}

// FuzzPortalReference parses arbitrary directory answers, as a portal's
// crm.status.list, crm.category.list and field lists could give them: each
// either is refused with an error (setup then fails, saying so) or caches
// a directory that the API reads back: nothing may panic or answer 5xx.
func FuzzPortalReference(f *testing.F) {
	e := newFuzzEnv(f)
	f.Add(string(fuzzDirectory["statuses"]), string(fuzzDirectory["categories"]), string(fuzzDirectory["fields_contact"]))
	f.Add(`[{"ENTITY_ID":"DEAL_STAGE_x","SORT":"a"}]`, `[{"id":"7"},{"id":-1}]`, `[]`)
	f.Add(`{}`, `[]`, `{"X":null}`)
	f.Add(``, `null`, `"x"`)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, statuses, categories, fields string) {
		dir, err := app.ParseDirectory(map[string]json.RawMessage{"statuses": json.RawMessage(statuses),
			"categories": json.RawMessage(categories), "fields_contact": json.RawMessage(fields), "currencies": json.RawMessage(statuses)})
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an error without a message")
			}
			return
		}
		if err := e.store.SaveDirectory(ctx, fuzzMember, dir); err != nil {
			t.Fatal(err)
		}
		status, _ := e.serve(t, "GET", "/api/v1/reference", e.admin, "")
		allowed(t, "reference", status, 200)
		status, _ = e.serve(t, "POST", "/api/v1/config/validate", e.admin, `{"config":`+fuzzConfig+`}`)
		allowed(t, "validate", status, 200)
	})
}

// FuzzInstallStatusLink polls the install page's status link with
// arbitrary parameters: only a link this server signed (and not expired)
// is answered, anything else is 401.
func FuzzInstallStatusLink(f *testing.F) {
	e := newFuzzEnv(f)
	f.Add(fuzzMember, "9999999999", "00")
	f.Add("", "", "")
	f.Add(fuzzMember, "-1", strings.Repeat("a", 64))
	f.Add("x\x00y", "1e3", "zz")
	f.Fuzz(func(t *testing.T, member, exp, sig string) {
		q := url.Values{"member_id": {member}, "exp": {exp}, "sig": {sig}}
		status, _ := e.serve(t, "GET", "/b24/install/status?"+q.Encode(), "", "")
		allowed(t, fmt.Sprintf("status link %q %q %q", member, exp, sig), status, 401)
	})
}

// FuzzTokenCallAnswer serves arbitrary answers of a portal to the token
// checks the web makes (profile for a user, app.info for the app): a
// check passes only with a user id or an app id, and fails with an error
// otherwise; nothing may panic.
func FuzzTokenCallAnswer(f *testing.F) {
	var mu sync.Mutex
	var answer struct {
		status int
		body   string
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		status, body := answer.status, answer.body
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	f.Cleanup(srv.Close)
	f.Add(200, `{"result":{"ID":"1","ADMIN":true,"NAME":"Anna","LAST_NAME":"Admin"}}`)
	f.Add(200, `{"result":{"ID":7,"CODE":"segmentor","ADMIN":"Y"}}`)
	f.Add(200, `{"result":{"ID":"0"}}`)
	f.Add(401, `{"error":"expired_token","error_description":"The access token provided has expired."}`)
	f.Add(200, `{"result":[]}`)
	f.Add(200, `{"error":{"x":1}}`)
	f.Add(502, `<html><title>502</title></html>`)
	ctx := context.Background()
	rdb, _ := redistest.New(f)
	client, err := bitrix.NewClient(bitrix.Config{Redis: rdb, Tokens: bitrix.NewMemoryTokenStore(), AllowHTTP: true,
		Profile: func(context.Context, string) (bitrix.Profile, error) { return bitrix.UnlimitedProfile(), nil }})
	if err != nil {
		f.Fatal(err)
	}
	users := handlers.TokenCheck{Client: client}
	f.Fuzz(func(t *testing.T, status int, body string) {
		if status < 200 || status > 599 {
			status = 200
		}
		mu.Lock()
		answer.status, answer.body = status, body
		mu.Unlock()
		prof, err := users.Profile(ctx, "m", srv.URL+"/rest/", "tok")
		if err == nil && prof.ID <= 0 {
			t.Fatalf("answer %d %q: a profile without a user: %+v", status, body, prof)
		}
		if err != nil && err.Error() == "" {
			t.Fatal("error without message")
		}
		who, err := users.WhoHolds(ctx, "m", srv.URL+"/rest/", "tok", &bitrix.ItemRef{Entity: bitrix.EntityDeal, ID: 1})
		if err == nil && (who.AppID == "" || who.AppID == "0" || who.User.ID <= 0) {
			t.Fatalf("answer %d %q: a token check without a user or an app id: %+v", status, body, who)
		}
	})
}
