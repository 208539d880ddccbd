package b24sim

// The automation methods' strict behaviours, each checked against the page
// of the official documentation (bitrix24/b24restdocs) it follows, as in
// strict_test.go.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
)

// automationScope is the app's scope with the automation scopes added.
const automationScope = AppScope

// newAutomationPortal is a seeded portal and an admin token with automationScope.
func newAutomationPortal(t *testing.T) (*Portal, string) {
	t.Helper()
	p := New(Options{Seed: 21, RatePerSecond: -1})
	t.Cleanup(p.Close)
	p.Seed(GenOptions{Contacts: 5, Companies: 2, Deals: 10, Products: 5})
	return p, p.IssueTokensScope(1, automationScope).AccessToken
}

// wantErr checks a refusal: HTTP status, "error" (a string, or a float64
// for the numeric codes) and, when desc is not empty, error_description.
func wantErr(t *testing.T, r reply, status int, code any, desc, what string) {
	t.Helper()
	if r.Status != status || r.Body["error"] != code || (desc != "" && r.Body["error_description"] != desc) {
		t.Errorf("%s = %d %s, want %d %v %q", what, r.Status, r.Raw, status, code, desc)
	}
}

// appServer is the app's side of an install: it answers the installer and
// runs robot (a handler for robot calls) on /robot.
func appServer(t *testing.T, robot http.HandlerFunc) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/b24/install", func(w http.ResponseWriter, r *http.Request) { _, _ = io.Copy(io.Discard, r.Body) })
	if robot != nil {
		mux.HandleFunc("/robot", robot)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// installApp installs the app from srv with a scope and finishes the install.
func installApp(t *testing.T, p *Portal, srv *httptest.Server, scope string) {
	t.Helper()
	resp, err := p.Install(context.Background(), srv.URL+"/b24/install", InstallOptions{Scopes: splitScope(scope)})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	p.FinishInstall()
}

// api-reference/crm/automation/triggers/crm-automation-trigger-add.md and
// crm-automation-trigger-list.md: admin only ("Access denied! Admin
// permissions required"), CODE matching [a-z0-9.-_] ("Empty trigger code!",
// "Wrong trigger code!"), NAME required ("Empty trigger name!"), errors with
// the empty code; the list is [{NAME, CODE}].
func TestStrictTriggerAddList(t *testing.T) {
	p, tok := newAutomationPortal(t)
	add := func(tok, body string) reply { return callJSON(t, p, "crm.automation.trigger.add", tok, body) }
	for _, c := range []struct{ body, desc string }{
		{`{"NAME": "Segment changed"}`, "Empty trigger code!"},
		{`{"CODE": "0", "NAME": "Segment changed"}`, "Empty trigger code!"},
		{`{"CODE": "segment changed", "NAME": "Segment changed"}`, "Wrong trigger code!"},
		{`{"CODE": "Segment", "NAME": "Segment changed"}`, "Wrong trigger code!"}, // the page's pattern has no capitals
		{`{"CODE": "segment"}`, "Empty trigger name!"},
	} {
		wantErr(t, add(tok, c.body), 400, "", c.desc, c.body)
	}
	rep := p.AddUser(User{Name: "Rita"})
	wantErr(t, add(p.IssueTokensScope(rep.ID, automationScope).AccessToken, `{"CODE": "segment", "NAME": "x"}`),
		403, "ACCESS_DENIED", "Access denied! Admin permissions required", "trigger.add as a sales rep")

	mustOK(t, add(tok, `{"CODE": "segmentor.vip-1_a", "NAME": "Became VIP"}`), "add")
	mustOK(t, callForm(t, p, "crm.automation.trigger.add", tok, url.Values{"code": {"lost"}, "name": {"Lost"}}), "add, form and lower-case keys")
	// The same CODE again renames the trigger (the method's source updates NAME).
	mustOK(t, add(tok, `{"CODE": "lost", "NAME": "Customer lost"}`), "add again")
	r := callJSON(t, p, "crm.automation.trigger.list", tok, `{}`)
	if want := `"result":[{"NAME":"Became VIP","CODE":"segmentor.vip-1_a"},{"NAME":"Customer lost","CODE":"lost"}]`; !strings.Contains(string(r.Raw), want) {
		t.Errorf("trigger.list = %s, want %s", r.Raw, want)
	}
	if _, paged := r.Body["total"]; paged {
		t.Errorf("trigger.list is not a paged list: %s", r.Raw)
	}
	if got := p.Triggers(); len(got) != 2 || got[1] != (TriggerInfo{Code: "lost", Name: "Customer lost"}) {
		t.Errorf("Triggers() = %v", got)
	}
}

// api-reference/crm/automation/triggers/crm-automation-trigger-execute.md:
// "Trigger with code {$code} is not registered.", "Incorrect parameter
// OWNER_TYPE_ID." (not a CRM type), "Incorrect parameter OWNER_ID." (not
// positive). A contact or company is a CRM type: the call succeeds (the
// trigger fires for the deals linked to it), as it does for a missing record.
func TestStrictTriggerExecute(t *testing.T) {
	p, tok := newAutomationPortal(t)
	exec := func(body string) reply { return callJSON(t, p, "crm.automation.trigger.execute", tok, body) }
	wantErr(t, exec(`{"CODE": "vip", "OWNER_TYPE_ID": 2, "OWNER_ID": 3}`), 400, "", "Trigger with code vip is not registered.", "unregistered")
	mustOK(t, callJSON(t, p, "crm.automation.trigger.add", tok, `{"CODE": "vip", "NAME": "VIP"}`), "add")
	wantErr(t, exec(`{"CODE": "Vip!", "OWNER_TYPE_ID": 2, "OWNER_ID": 3}`), 400, "", "Wrong trigger code!", "wrong code")
	for _, typ := range []string{`0`, `999`, `"deal"`, `null`} {
		wantErr(t, exec(`{"CODE": "vip", "OWNER_TYPE_ID": `+typ+`, "OWNER_ID": 3}`), 400, "", "Incorrect parameter OWNER_TYPE_ID.", "OWNER_TYPE_ID "+typ)
	}
	for _, id := range []string{`0`, `-4`, `"x"`} {
		wantErr(t, exec(`{"CODE": "vip", "OWNER_TYPE_ID": 2, "OWNER_ID": `+id+`}`), 400, "", "Incorrect parameter OWNER_ID.", "OWNER_ID "+id)
	}
	rep := p.AddUser(User{Name: "Rita"})
	wantErr(t, callJSON(t, p, "crm.automation.trigger.execute", p.IssueTokensScope(rep.ID, automationScope).AccessToken,
		`{"CODE": "vip", "OWNER_TYPE_ID": 2, "OWNER_ID": 3}`), 403, "ACCESS_DENIED", "Access denied! Admin permissions required", "execute as a sales rep")
	if n := len(p.TriggerRuns()); n != 0 {
		t.Fatalf("%d runs recorded from refused calls", n)
	}
	for _, body := range []string{
		`{"CODE": "vip", "OWNER_TYPE_ID": 2, "OWNER_ID": 3}`,
		`{"CODE": "vip", "OWNER_TYPE_ID": "3", "OWNER_ID": "2"}`,
		`{"CODE": "vip", "OWNER_TYPE_ID": 4, "OWNER_ID": 1}`,
		`{"CODE": "vip", "OWNER_TYPE_ID": 2, "OWNER_ID": 99999}`,
		`{"CODE": "vip", "OWNER_TYPE_ID": 1, "OWNER_ID": 7}`,
		`{"CODE": "vip", "OWNER_TYPE_ID": 177, "OWNER_ID": 7}`,
	} {
		if b := mustOK(t, exec(body), body); b["result"] != true {
			t.Errorf("%s = %v", body, b["result"])
		}
	}
	var got []string
	for _, r := range p.TriggerRuns() {
		got = append(got, fmt.Sprintf("%s %d:%d by %d found=%v", r.Code, r.OwnerTypeID, r.OwnerID, r.UserID, r.Found))
	}
	want := []string{"vip 2:3 by 1 found=true", "vip 3:2 by 1 found=true", "vip 4:1 by 1 found=true",
		"vip 2:99999 by 1 found=false", "vip 1:7 by 1 found=false", "vip 177:7 by 1 found=false"}
	if !slices.Equal(got, want) {
		t.Errorf("TriggerRuns = %q, want %q", got, want)
	}
}

// api-reference/crm/automation/triggers/crm-automation-trigger-delete.md:
// "Trigger not found"; a deleted trigger is no longer registered.
func TestStrictTriggerDelete(t *testing.T) {
	p, tok := newAutomationPortal(t)
	mustOK(t, callJSON(t, p, "crm.automation.trigger.add", tok, `{"CODE": "vip", "NAME": "VIP"}`), "add")
	wantErr(t, callJSON(t, p, "crm.automation.trigger.delete", tok, `{"CODE": "lost"}`), 400, "", "Trigger not found", "delete unknown")
	wantErr(t, callJSON(t, p, "crm.automation.trigger.delete", tok, `{}`), 400, "", "Empty trigger code!", "delete without CODE")
	mustOK(t, callJSON(t, p, "crm.automation.trigger.delete", tok, `{"CODE": "vip"}`), "delete")
	wantErr(t, callJSON(t, p, "crm.automation.trigger.execute", tok, `{"CODE": "vip", "OWNER_TYPE_ID": 2, "OWNER_ID": 3}`),
		400, "", "Trigger with code vip is not registered.", "execute deleted")
	if b := mustOK(t, callJSON(t, p, "crm.automation.trigger.list", tok, `{}`), "list"); len(b["result"].([]any)) != 0 {
		t.Errorf("list after delete = %v", b["result"])
	}
}

// bitrix24-protocol.md §12.3: inside batch each execute is a call of its
// own: it runs, is counted and costs operating time, and a refused one
// fails alone.
func TestTriggerExecuteInBatch(t *testing.T) {
	p, tok := newAutomationPortal(t)
	mustOK(t, callJSON(t, p, "crm.automation.trigger.add", tok, `{"CODE": "vip", "NAME": "VIP"}`), "add")
	p.ResetLog()
	b := mustOK(t, callJSON(t, p, "batch", tok, `{"halt": 0, "cmd": {
		"d1": "crm.automation.trigger.execute?CODE=vip&OWNER_TYPE_ID=2&OWNER_ID=1",
		"d2": "crm.automation.trigger.execute?CODE=vip&OWNER_TYPE_ID=2&OWNER_ID=2",
		"bad": "crm.automation.trigger.execute?CODE=nope&OWNER_TYPE_ID=2&OWNER_ID=3",
		"d3": "crm.automation.trigger.execute?CODE=vip&OWNER_TYPE_ID=2&OWNER_ID=$result[d2]"}}`), "batch")
	res := b["result"].(map[string]any)
	if ok := res["result"].(map[string]any); ok["d1"] != true || ok["d2"] != true || ok["d3"] != true {
		t.Errorf("batch results = %v", ok)
	}
	if e := res["result_error"].(map[string]any)["bad"].(map[string]any); e["error_description"] != "Trigger with code nope is not registered." {
		t.Errorf("batch error = %v", e)
	}
	var owners []int
	for _, r := range p.TriggerRuns() {
		owners = append(owners, r.OwnerID)
	}
	if !slices.Equal(owners, []int{1, 2, 1}) { // $result[d2] is true, "1" in a query string
		t.Errorf("batched runs on deals %v", owners)
	}
	st := p.Stats()
	if st.Methods["crm.automation.trigger.execute"] != 4 || st.Commands != 4 || st.HTTPRequests != 1 {
		t.Errorf("counted %d executes, %d commands, %d requests; want 4, 4 and 1", st.Methods["crm.automation.trigger.execute"], st.Commands, st.HTTPRequests)
	}
	if got := p.Operating("crm.automation.trigger.execute"); got != 4*defaultOperatingCost {
		t.Errorf("operating time %v, want 4 commands' worth", got)
	}
	if rq := p.Requests(); len(rq) != 1 || len(rq[0].Commands) != 4 {
		t.Errorf("request log = %+v", rq)
	}
}

// robotBody is a valid bizproc.robot.add with the handler given.
func robotBody(code, handler string) string {
	return `{"CODE": "` + code + `", "HANDLER": "` + handler + `", "AUTH_USER_ID": 1, "USE_SUBSCRIPTION": "Y",
		"NAME": {"en": "Segment", "ru": "Сегмент"},
		"PROPERTIES": {"rule": {"Name": "Rule", "Type": "string", "Required": "Y"},
			"tags": {"Name": {"en": "Tags"}, "Type": "string", "Multiple": "Y", "Default": ["a", "b"]},
			"note": {"Name": "Note", "Type": "text", "Default": "none"}},
		"RETURN_PROPERTIES": {"segment": {"Name": "Segment", "Type": "string"}},
		"DOCUMENT_TYPE": ["crm", "CCrmDocumentDeal", "DEAL"],
		"FILTER": {"INCLUDE": [["crm", "CCrmDocumentDeal"], ["crm", "CCrmDocumentLead"]]}}`
}

// api-reference/bizproc/bizproc-robot/bizproc-robot-add.md: admin only
// ("Access denied!", 403 as access errors are); CODE of a-z, A-Z, 0-9, dot,
// hyphen, underscore; HANDLER an http(s) URL on the domain the app is
// installed from; NAME required; PROPERTIES and RETURN_PROPERTIES objects of
// objects with a Name under keys starting with a letter; DOCUMENT_TYPE one
// of the documented triples; FILTER an object; PLACEMENT_HANDLER required
// with USE_PLACEMENT = Y; a CODE once. bizproc-robot-list.md: the codes.
func TestStrictRobotAdd(t *testing.T) {
	p, tok := newAutomationPortal(t)
	srv := appServer(t, nil)
	installApp(t, p, srv, automationScope)
	h := srv.URL + "/robot"
	add := func(body string) reply { return callJSON(t, p, "bizproc.robot.add", tok, body) }
	valid := robotBody("segmentor_segment", h)
	// with adds keys at the end, where they win over the same keys before them.
	with := func(kv string) string { return strings.TrimSuffix(valid, "}") + ", " + kv + "}" }
	without := func(key string) string {
		return strings.Replace(valid, `"`+key+`": `, `"IGNORED_`+key+`": `, 1)
	}
	for _, c := range []struct{ body, code, desc string }{
		{`{}`, "ERROR_ACTIVITY_VALIDATION_FAILURE", "Empty data!"},
		{without("CODE"), "ERROR_ACTIVITY_VALIDATION_FAILURE", "Empty activity code!"},
		{robotBody("segment robot", h), "ERROR_ACTIVITY_VALIDATION_FAILURE", "Wrong activity code!"},
		{without("HANDLER"), "ERROR_WRONG_HANDLER_URL", "Wrong handler URL"},
		{robotBody("r", "segmentor/robot"), "ERROR_WRONG_HANDLER_URL", "Wrong handler URL"},
		{robotBody("r", "ftp://"+strings.TrimPrefix(h, "http://")), "ERROR_UNSUPPORTED_PROTOCOL", "Unsupported handler protocol"},
		{robotBody("r", "https://elsewhere.example.com/robot"), "ERROR_WRONG_HANDLER_URL", "Wrong handler URL"}, // not the app's domain
		{without("NAME"), "ERROR_ACTIVITY_VALIDATION_FAILURE", "Empty activity NAME!"},
		{with(`"NAME": ""`), "ERROR_ACTIVITY_VALIDATION_FAILURE", "Empty activity NAME!"},
		{with(`"PROPERTIES": "rule"`), "ERROR_ACTIVITY_VALIDATION_FAILURE", "Wrong properties array!"},
		{with(`"PROPERTIES": {"1rule": {"Name": "Rule"}}`), "ERROR_ACTIVITY_VALIDATION_FAILURE", "Wrong property key 1rule!"},
		{with(`"PROPERTIES": [{"Name": "Rule"}]`), "ERROR_ACTIVITY_VALIDATION_FAILURE", "Wrong property key 0!"},
		{with(`"PROPERTIES": {"rule": {"Type": "string"}}`), "ERROR_ACTIVITY_VALIDATION_FAILURE", "Empty property NAME rule!"},
		{with(`"RETURN_PROPERTIES": {"seg-ment": {"Name": "Segment"}}`), "ERROR_ACTIVITY_VALIDATION_FAILURE", "Wrong property key seg-ment!"},
		{with(`"DOCUMENT_TYPE": ["crm", "CCrmDocumentContact", "CONTACT"]`), "ERROR_ACTIVITY_VALIDATION_FAILURE", "Wrong activity DOCUMENT_TYPE!"},
		{with(`"DOCUMENT_TYPE": ["crm", "CCrmDocumentDeal"]`), "ERROR_ACTIVITY_VALIDATION_FAILURE", "Wrong activity DOCUMENT_TYPE!"},
		{with(`"FILTER": "deals"`), "ERROR_ACTIVITY_VALIDATION_FAILURE", "Wrong activity FILTER!"},
		{with(`"USE_PLACEMENT": "Y"`), "ERROR_WRONG_HANDLER_URL", "Wrong handler URL"},
	} {
		wantErr(t, add(c.body), 400, c.code, c.desc, c.desc+" "+c.body)
	}
	rep := p.AddUser(User{Name: "Rita"})
	wantErr(t, callJSON(t, p, "bizproc.robot.add", p.IssueTokensScope(rep.ID, automationScope).AccessToken, valid),
		403, "ACCESS_DENIED", "Access denied!", "robot.add as a sales rep")
	if n := len(p.Robots()); n != 0 {
		t.Fatalf("%d robots from refused calls", n)
	}

	mustOK(t, add(valid), "robot.add")
	wantErr(t, add(valid), 400, "ERROR_ACTIVITY_ALREADY_INSTALLED", "Activity or Automation rule already installed!", "the same CODE again")
	mustOK(t, add(strings.Replace(with(`"USE_PLACEMENT": "Y", "PLACEMENT_HANDLER": "`+srv.URL+`/settings"`), "segmentor_segment", "Segmentor.Placed-2", 1)), "robot with placement")
	form := url.Values{"CODE": {"form_robot"}, "HANDLER": {h}, "NAME": {"Form robot"},
		"PROPERTIES[rule][Name]": {"Rule"}, "DOCUMENT_TYPE[]": {"crm", `Bitrix\Crm\Integration\BizProc\Document\Dynamic`, "DYNAMIC_177"}}
	mustOK(t, callForm(t, p, "bizproc.robot.add", tok, form), "form-encoded robot.add")

	b := mustOK(t, callJSON(t, p, "bizproc.robot.list", tok, `{}`), "robot.list")
	if got := fmt.Sprint(b["result"]); got != "[segmentor_segment Segmentor.Placed-2 form_robot]" {
		t.Errorf("robot.list = %s", got)
	}
	r := p.Robots()[0]
	if r.Name != "Segment" || r.AuthUserID != 1 || r.UseSubscription != "Y" || r.Handler != h ||
		len(r.Properties) != 3 || r.Properties[0].Key != "note" || !r.Properties[1].Required || !r.Properties[2].Multiple ||
		r.ReturnProperties[0].Key != "segment" || !slices.Equal(r.DocumentType, []string{"crm", "CCrmDocumentDeal", "DEAL"}) {
		t.Errorf("Robots()[0] = %+v", r)
	}
	if r := p.Robots()[1]; !r.UsePlacement || r.PlacementHandler != srv.URL+"/settings" {
		t.Errorf("placed robot = %+v", r)
	}
	wantErr(t, callJSON(t, p, "bizproc.robot.list", p.IssueTokensScope(rep.ID, automationScope).AccessToken, `{}`),
		403, "ACCESS_DENIED", "Access denied!", "robot.list as a sales rep")
}

// api-reference/bizproc/bizproc-robot/bizproc-robot-update.md: CODE and
// FIELDS; "Activity or Automation Rule not found!", "No fields to update",
// the fields checked as in add and nothing changed by a refused update.
// bizproc-robot-delete.md: "Activity or Robot not found!".
func TestStrictRobotUpdateDelete(t *testing.T) {
	p, tok := newAutomationPortal(t)
	srv := appServer(t, nil)
	installApp(t, p, srv, automationScope)
	mustOK(t, callJSON(t, p, "bizproc.robot.add", tok, robotBody("seg", srv.URL+"/robot")), "add")
	upd := func(body string) reply { return callJSON(t, p, "bizproc.robot.update", tok, body) }
	wantErr(t, upd(`{"CODE": "nope", "FIELDS": {"NAME": "x"}}`), 400, "ERROR_ACTIVITY_NOT_FOUND", "Activity or Automation Rule not found!", "update unknown")
	wantErr(t, upd(`{"CODE": "", "FIELDS": {"NAME": "x"}}`), 400, "ERROR_ACTIVITY_VALIDATION_FAILURE", "Empty activity code!", "update without CODE")
	wantErr(t, upd(`{"CODE": "seg"}`), 400, "ERROR_ACTIVITY_VALIDATION_FAILURE", "No fields to update", "no FIELDS")
	wantErr(t, upd(`{"CODE": "seg", "FIELDS": {"COLOR": "red"}}`), 400, "ERROR_ACTIVITY_VALIDATION_FAILURE", "No fields to update", "unknown field only")
	wantErr(t, upd(`{"CODE": "seg", "FIELDS": {"NAME": "New", "HANDLER": "https://elsewhere.example.com/r"}}`), 400, "ERROR_WRONG_HANDLER_URL", "Wrong handler URL", "foreign handler")
	wantErr(t, upd(`{"CODE": "seg", "FIELDS": {"RETURN_PROPERTIES": {"segment": {"Type": "string"}}}}`), 400, "ERROR_ACTIVITY_VALIDATION_FAILURE", "Empty property NAME segment!", "nameless property")
	if r := p.Robots()[0]; r.Name != "Segment" || len(r.ReturnProperties) != 1 {
		t.Fatalf("refused updates changed the robot: %+v", r)
	}
	mustOK(t, upd(`{"CODE": "seg", "FIELDS": {"NAME": "Segment 2", "USE_SUBSCRIPTION": "N",
		"RETURN_PROPERTIES": {"segment": {"Name": "Segment"}, "score": {"Name": "Score", "Type": "int"}}}}`), "update")
	if r := p.Robots()[0]; r.Name != "Segment 2" || r.UseSubscription != "N" || len(r.ReturnProperties) != 2 || len(r.Properties) != 3 {
		t.Errorf("updated robot = %+v", r)
	}
	wantErr(t, callJSON(t, p, "bizproc.robot.delete", tok, `{"CODE": "nope"}`), 400, "ERROR_ACTIVITY_NOT_FOUND", "Activity or Robot not found!", "delete unknown")
	wantErr(t, callJSON(t, p, "bizproc.robot.delete", tok, `{"CODE": "a b"}`), 400, "ERROR_ACTIVITY_VALIDATION_FAILURE", "Wrong activity code!", "delete wrong code")
	mustOK(t, callJSON(t, p, "bizproc.robot.delete", tok, `{"CODE": "seg"}`), "delete")
	if n := len(p.Robots()); n != 0 {
		t.Errorf("%d robots after delete", n)
	}
}

// robotHit is what the app's robot handler received and what its answer got.
type robotHit struct {
	raw    string
	form   url.Values
	answer reply
}

// A robot run as Bitrix24 sends it (bizproc-robot-add.md: HANDLER gets
// the call; bizproc-event-send.md: the answer with EVENT_TOKEN,
// RETURN_VALUES, LOG_MESSAGE), answered from the handler with the
// auth[access_token] it got; the token then is used and refused ("EVENT_TOKEN
// must be valid and current": 403 ACCESS_DENIED).
func TestRunRobotRoundTrip(t *testing.T) {
	p, tok := newAutomationPortal(t)
	var mu sync.Mutex
	var calls []robotHit
	srv := appServer(t, func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		f, _ := url.ParseQuery(string(raw))
		send := url.Values{"auth": {f.Get("auth[access_token]")}, "EVENT_TOKEN": {f.Get("event_token")},
			"RETURN_VALUES[SEGMENT]": {"VIP"}, "RETURN_VALUES[unknown]": {"x"}, "LOG_MESSAGE": {"Segment: VIP"}}
		req, _ := http.NewRequest("POST", f.Get("auth[client_endpoint]")+"bizproc.event.send", strings.NewReader(send.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		var answer reply
		if resp, err := noRedirectClient.Do(req); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			answer = reply{Status: resp.StatusCode, Raw: b}
			_ = json.Unmarshal(b, &answer.Body)
		}
		mu.Lock()
		calls = append(calls, robotHit{raw: string(raw), form: f, answer: answer})
		mu.Unlock()
	})
	ctx := context.Background()
	if _, err := p.RunRobot(ctx, "seg", 3, 0, nil); err == nil {
		t.Error("RunRobot of an unregistered robot must fail")
	}
	installApp(t, p, srv, automationScope)
	mustOK(t, callJSON(t, p, "bizproc.robot.add", tok, robotBody("seg", srv.URL+"/robot")), "robot.add")
	if _, err := p.RunRobot(ctx, "seg", 3, 0, map[string]string{"color": "red"}); err == nil {
		t.Error("RunRobot with a property the robot does not have must fail")
	}
	if _, err := p.RunRobot(ctx, "seg", 3, 0, nil); err == nil {
		t.Error("RunRobot without the required property must fail")
	}
	if _, err := p.RunRobot(ctx, "seg", 99999, 0, map[string]string{"rule": "r1"}); err == nil {
		t.Error("RunRobot on a missing deal must fail")
	}

	token, err := p.RunRobot(ctx, "seg", 3, 0, map[string]string{"rule": "r1"})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	got := slices.Clone(calls)
	mu.Unlock()
	if len(got) != 1 {
		t.Fatalf("%d robot calls", len(got))
	}
	f := got[0].form
	var keys []string
	for _, kv := range strings.Split(got[0].raw, "&") {
		k, _, _ := strings.Cut(kv, "=")
		k, _ = url.QueryUnescape(k)
		keys = append(keys, k)
	}
	wantKeys := []string{"workflow_id", "code", "document_id[0]", "document_id[1]", "document_id[2]",
		"document_type[0]", "document_type[1]", "document_type[2]", "event_token",
		"properties[note]", "properties[rule]", "properties[tags][0]", "properties[tags][1]",
		"use_subscription", "timeout_duration", "ts",
		"auth[access_token]", "auth[expires]", "auth[expires_in]", "auth[scope]", "auth[domain]",
		"auth[server_endpoint]", "auth[status]", "auth[client_endpoint]", "auth[member_id]", "auth[user_id]",
		"auth[refresh_token]", "auth[application_token]"}
	if !slices.Equal(keys, wantKeys) {
		t.Errorf("robot call keys:\n got %q\nwant %q", keys, wantKeys)
	}
	for k, want := range map[string]string{
		"code": "seg", "document_id[0]": "crm", "document_id[1]": "CCrmDocumentDeal", "document_id[2]": "DEAL_3",
		"document_type[0]": "crm", "document_type[1]": "CCrmDocumentDeal", "document_type[2]": "DEAL",
		"event_token": token, "properties[rule]": "r1", "properties[note]": "none", "properties[tags][1]": "b",
		"use_subscription": "Y", "timeout_duration": "0", "auth[user_id]": "1", "auth[scope]": automationScope,
		"auth[application_token]": p.ApplicationToken(), "auth[member_id]": p.MemberID(), "auth[client_endpoint]": p.ClientEndpoint(),
	} {
		if f.Get(k) != want {
			t.Errorf("%s = %q, want %q", k, f.Get(k), want)
		}
	}
	if parts := strings.Split(token, "|"); len(parts) != 3 || parts[0] != f.Get("workflow_id") {
		t.Errorf("event_token %q does not name the workflow %q", token, f.Get("workflow_id"))
	}
	if a := got[0].answer; a.Status != 200 || a.Body["result"] != true {
		t.Fatalf("bizproc.event.send from the handler = %d %s", a.Status, a.Raw)
	}
	replies := p.RobotReplies()
	if len(replies) != 1 {
		t.Fatalf("replies = %+v", replies)
	}
	rp := replies[0]
	if rp.EventToken != token || rp.Code != "seg" || rp.DealID != 3 || rp.UserID != 1 || rp.LogMessage != "Segment: VIP" ||
		fmt.Sprint(rp.ReturnValues) != "map[segment:VIP]" || !slices.Equal(rp.Ignored, []string{"unknown"}) {
		t.Errorf("reply = %+v", rp)
	}

	// The token is used; an unknown one is refused alike.
	wantErr(t, callJSON(t, p, "bizproc.event.send", tok, `{"EVENT_TOKEN": "`+token+`", "RETURN_VALUES": {"segment": "Lost"}}`),
		403, "ACCESS_DENIED", "Access denied!", "used token")
	wantErr(t, callJSON(t, p, "bizproc.event.send", tok, `{"EVENT_TOKEN": "nope|A1|x.y"}`), 403, "ACCESS_DENIED", "Access denied!", "unknown token")
	wantErr(t, callJSON(t, p, "bizproc.event.send", tok, `{}`), 403, "ACCESS_DENIED", "Access denied!", "no token")

	// Run as another user: that user's token; a robot that does not wait
	// (USE_SUBSCRIPTION N) takes no answer.
	rep := p.AddUser(User{Name: "Rita"})
	mustOK(t, callJSON(t, p, "bizproc.robot.update", tok, `{"CODE": "seg", "FIELDS": {"USE_SUBSCRIPTION": "N"}}`), "update")
	token2, err := p.RunRobot(ctx, "seg", 4, rep.ID, map[string]string{"rule": "r2"})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	last := calls[len(calls)-1]
	mu.Unlock()
	if last.form.Get("auth[user_id]") != fmt.Sprint(rep.ID) || last.form.Get("use_subscription") != "N" || last.form.Get("event_token") != token2 {
		t.Errorf("second call: user %s, use_subscription %s", last.form.Get("auth[user_id]"), last.form.Get("use_subscription"))
	}
	wantErr(t, last.answer, 403, "ACCESS_DENIED", "Access denied!", "answer to a robot that does not wait")
	if n := len(p.RobotReplies()); n != 1 {
		t.Errorf("%d replies", n)
	}
}

// bizproc-robot-add.md: FILTER limits where the robot shows; RunRobot
// refuses a robot hidden from deals, and a portal where the app is not installed.
func TestRunRobotFilterAndInstall(t *testing.T) {
	p, tok := newAutomationPortal(t)
	srv := appServer(t, func(w http.ResponseWriter, r *http.Request) {})
	mustOK(t, callJSON(t, p, "bizproc.robot.add", tok, `{"CODE": "leads", "HANDLER": "`+srv.URL+`/robot", "NAME": "Leads",
		"FILTER": {"INCLUDE": [["crm", "CCrmDocumentLead"]]}}`), "lead robot")
	mustOK(t, callJSON(t, p, "bizproc.robot.add", tok, `{"CODE": "cloudless", "HANDLER": "`+srv.URL+`/robot", "NAME": "Box only",
		"FILTER": {"EXCLUDE": ["b24"]}}`), "box robot")
	mustOK(t, callJSON(t, p, "bizproc.robot.add", tok, `{"CODE": "any", "HANDLER": "`+srv.URL+`/robot", "NAME": "Any"}`), "robot")
	if _, err := p.RunRobot(context.Background(), "any", 3, 0, nil); err != ErrNotInstalled {
		t.Errorf("RunRobot before the install is finished = %v", err)
	}
	installApp(t, p, srv, automationScope)
	for _, code := range []string{"leads", "cloudless"} {
		if _, err := p.RunRobot(context.Background(), code, 3, 0, nil); err == nil {
			t.Errorf("RunRobot of %s on a deal must fail", code)
		}
	}
	if _, err := p.RunRobot(context.Background(), "any", 3, 0, nil); err != nil {
		t.Errorf("RunRobot = %v", err)
	}
}

// api-reference/crm/timeline/logmessage/crm-timeline-logmessage-add.md:
// lower-case fields{entityTypeId, entityId, title, text, iconCode}, all
// required (code 100), OWNER_NOT_FOUND for a missing record, ACCESS_DENIED
// without the right to the record; {"logMessage": {id, created, authorId,
// title, text, iconCode}}. crm-timeline-logmessage-get.md: NOT_FOUND
// "Timeline logmessage not found for id N". crm-timeline-logmessage-list.md:
// entityTypeId and entityId required, a flat array with total, 10 a page,
// newest first.
func TestStrictTimelineLogMessage(t *testing.T) {
	p, tok := newAutomationPortal(t)
	add := func(fields string) reply {
		return callJSON(t, p, "crm.timeline.logmessage.add", tok, `{"fields": `+fields+`}`)
	}
	full := `{"entityTypeId": 2, "entityId": 3, "title": "Segment", "text": "Now VIP", "iconCode": "info"}`
	wantErr(t, callJSON(t, p, "crm.timeline.logmessage.add", tok, `{"FIELDS": `+full+`}`), 400, float64(100), "Could not find value for parameter {fields}", "FIELDS in capitals")
	wantErr(t, add(`{"entityTypeId": 2, "entityId": 3, "text": "Now VIP", "iconCode": "info"}`), 400, float64(100), "", "no title")
	wantErr(t, add(`{"ENTITY_TYPE_ID": 2, "entityId": 3, "title": "Segment", "text": "Now VIP", "iconCode": "info"}`), 400, float64(100), "", "entityTypeId in capitals")
	wantErr(t, add(strings.Replace(full, `"entityId": 3`, `"entityId": 99999`, 1)), 400, "OWNER_NOT_FOUND", "", "missing deal")
	wantErr(t, add(strings.Replace(full, `"entityTypeId": 2`, `"entityTypeId": 1`, 1)), 400, "OWNER_NOT_FOUND", "", "no such lead")
	rep := p.AddUser(User{Name: "Rita", OwnOnly: true})
	repTok := p.IssueTokensScope(rep.ID, automationScope).AccessToken
	wantErr(t, callJSON(t, p, "crm.timeline.logmessage.add", repTok, `{"fields": `+full+`}`), 400, "ACCESS_DENIED", "", "another's deal")

	b := mustOK(t, add(full), "logmessage.add")
	lm := b["result"].(map[string]any)["logMessage"].(map[string]any)
	if lm["id"] != float64(1) || lm["authorId"] != float64(1) || lm["title"] != "Segment" || lm["text"] != "Now VIP" ||
		lm["iconCode"] != "info" || !strings.HasSuffix(lm["created"].(string), "+02:00") || len(lm) != 6 {
		t.Errorf("logMessage = %v", lm)
	}
	got := mustOK(t, callJSON(t, p, "crm.timeline.logmessage.get", tok, `{"id": 1}`), "get")
	if fmt.Sprint(got["result"]) != fmt.Sprint(b["result"]) {
		t.Errorf("get = %v, add = %v", got["result"], b["result"])
	}
	wantErr(t, callJSON(t, p, "crm.timeline.logmessage.get", tok, `{"id": 99}`), 400, "NOT_FOUND", "Timeline logmessage not found for id 99", "get missing")
	wantErr(t, callJSON(t, p, "crm.timeline.logmessage.get", tok, `{}`), 400, float64(100), "", "get without id")

	for i := 2; i <= 12; i++ {
		mustOK(t, add(strings.Replace(full, `"Now VIP"`, fmt.Sprintf(`"note %d"`, i), 1)), "add")
	}
	wantErr(t, callJSON(t, p, "crm.timeline.logmessage.list", tok, `{"entityId": 3}`), 400, float64(100), "Could not find value for parameter {entityTypeId}", "list without type")
	b = mustOK(t, callJSON(t, p, "crm.timeline.logmessage.list", tok, `{"entityTypeId": 2, "entityId": 3}`), "list")
	rows := b["result"].([]any)
	if len(rows) != 10 || b["total"] != float64(12) || b["next"] != float64(10) || rows[0].(map[string]any)["id"] != float64(12) {
		t.Errorf("list page 1: %d rows, total %v, next %v, first %v", len(rows), b["total"], b["next"], rows[0])
	}
	b = mustOK(t, callJSON(t, p, "crm.timeline.logmessage.list", tok, `{"entityTypeId": 2, "entityId": 3, "order": {"id": "asc"}, "start": 10}`), "list page 2")
	rows = b["result"].([]any)
	if len(rows) != 2 || b["next"] != nil || rows[0].(map[string]any)["id"] != float64(11) {
		t.Errorf("list page 2 ascending: %v, next %v", rows, b["next"])
	}
	if n := len(p.TimelineEntries(2, 3)); n != 12 {
		t.Errorf("TimelineEntries = %d", n)
	}
}

// api-reference/crm/timeline/comments/crm-timeline-comment-add.md: only
// "fields" in lower case; ENTITY_ID, ENTITY_TYPE (lead, deal, contact,
// company, ...), COMMENT required; an empty comment is INVALID_ARG_VALUE, a
// missing record OWNER_NOT_FOUND; the answer is the new entry's id.
func TestStrictTimelineCommentAdd(t *testing.T) {
	p, tok := newAutomationPortal(t)
	add := func(body string) reply { return callJSON(t, p, "crm.timeline.comment.add", tok, body) }
	wantErr(t, add(`{"FIELDS": {"ENTITY_ID": 3, "ENTITY_TYPE": "deal", "COMMENT": "x"}}`), 400, float64(100), "Could not find value for parameter {fields}", "FIELDS in capitals")
	wantErr(t, add(`{"fields": {"entity_id": 3, "ENTITY_TYPE": "deal", "COMMENT": "x"}}`), 400, float64(100), "", "entity_id in lower case")
	wantErr(t, add(`{"fields": {"ENTITY_ID": 3, "ENTITY_TYPE": "deal", "COMMENT": "  "}}`), 400, "INVALID_ARG_VALUE", "Empty comment", "empty comment")
	wantErr(t, add(`{"fields": {"ENTITY_ID": 3, "ENTITY_TYPE": "segment", "COMMENT": "x"}}`), 400, "NOT_FOUND", "", "unknown type")
	wantErr(t, add(`{"fields": {"ENTITY_ID": 99999, "ENTITY_TYPE": "deal", "COMMENT": "x"}}`), 400, "OWNER_NOT_FOUND", "", "missing deal")
	b := mustOK(t, add(`{"fields": {"ENTITY_ID": 2, "ENTITY_TYPE": "contact", "COMMENT": "Segment: VIP"}}`), "comment.add")
	if b["result"] != float64(1) {
		t.Errorf("comment.add = %v, want the id 1", b["result"])
	}
	mustOK(t, callForm(t, p, "crm.timeline.comment.add", tok, url.Values{"fields[ENTITY_ID]": {"2"}, "fields[ENTITY_TYPE]": {"CONTACT"}, "fields[COMMENT]": {"again"}}), "form comment.add")
	mustOK(t, callJSON(t, p, "crm.timeline.logmessage.add", tok, `{"fields": {"entityTypeId": 3, "entityId": 2, "title": "T", "text": "x", "iconCode": "info"}}`), "logmessage")
	var kinds []string
	for _, e := range p.TimelineEntries(3, 2) {
		kinds = append(kinds, fmt.Sprintf("%d %s %s", e.ID, e.Kind, e.Text))
	}
	if want := []string{"1 comment Segment: VIP", "2 comment again", "3 logmessage x"}; !slices.Equal(kinds, want) {
		t.Errorf("TimelineEntries = %q, want %q", kinds, want)
	}
	// A comment is no log message: logmessage.get does not return it.
	wantErr(t, callJSON(t, p, "crm.timeline.logmessage.get", tok, `{"id": 1}`), 400, "NOT_FOUND", "", "get of a comment")
}

// api-reference/chats/notifications/im-notify-system-add.md: USER_ID_EMPTY,
// MESSAGE_EMPTY (after trimming), ATTACH_ERROR, ATTACH_OVERSIZE (60,000
// characters); the new notification's id, or false when none was created
// (a user that does not exist); a TAG replaces the notifications with it.
func TestStrictNotifySystemAdd(t *testing.T) {
	p, tok := newAutomationPortal(t)
	send := func(body string) reply { return callJSON(t, p, "im.notify.system.add", tok, body) }
	wantErr(t, send(`{"MESSAGE": "Hi"}`), 400, "USER_ID_EMPTY", "User ID can't be empty", "no USER_ID")
	wantErr(t, send(`{"USER_ID": 0, "MESSAGE": "Hi"}`), 400, "USER_ID_EMPTY", "User ID can't be empty", "USER_ID 0")
	wantErr(t, send(`{"USER_ID": 1, "MESSAGE": "  "}`), 400, "MESSAGE_EMPTY", "Message can't be empty", "blank MESSAGE")
	wantErr(t, send(`{"USER_ID": 1, "MESSAGE": "Hi", "ATTACH": "not json"}`), 400, "ATTACH_ERROR", "Incorrect attach params", "ATTACH text")
	wantErr(t, send(`{"USER_ID": 1, "MESSAGE": "Hi", "ATTACH": {"ID": 1}}`), 400, "ATTACH_ERROR", "", "ATTACH without BLOCKS")
	big := strings.Repeat("x", attachMaxChars)
	wantErr(t, send(`{"USER_ID": 1, "MESSAGE": "Hi", "ATTACH": [{"MESSAGE": "`+big+`"}]}`), 400, "ATTACH_OVERSIZE", "", "ATTACH too big")
	if b := mustOK(t, send(`{"USER_ID": 999, "MESSAGE": "Hi"}`), "unknown user"); b["result"] != false {
		t.Errorf("unknown user = %v, want false", b["result"])
	}
	b := mustOK(t, send(`{"USER_ID": 1, "MESSAGE": " Segment rules changed ", "MESSAGE_OUT": "out", "TAG": "segmentor|rules",
		"ATTACH": {"ID": 1, "BLOCKS": [{"MESSAGE": "[B]3 deals moved[/B]"}]}}`), "notify")
	if b["result"] != float64(1) {
		t.Errorf("notify = %v, want the id 1", b["result"])
	}
	mustOK(t, send(`{"USER_ID": 1, "MESSAGE": "Hi", "SUB_TAG": "x", "ATTACH": "[{\"LINK\": {\"NAME\": \"Open\", \"LINK\": \"https://a.example/\"}}]"}`), "ATTACH as JSON text")
	mustOK(t, send(`{"USER_ID": 1, "MESSAGE": "Rules changed again", "TAG": "segmentor|rules"}`), "same TAG")
	var got []string
	for _, n := range p.Notifications() {
		got = append(got, fmt.Sprintf("%d to %d: %s [%s]", n.ID, n.UserID, n.Message, n.Tag))
	}
	if want := []string{"2 to 1: Hi []", "3 to 1: Rules changed again [segmentor|rules]"}; !slices.Equal(got, want) {
		t.Errorf("Notifications = %q, want %q", got, want)
	}
}

// api-reference/scopes/permissions.md and _includes/system-errors.md: a
// method outside the token's scope answers 403 insufficient_scope — bizproc
// for robots and bizproc.event.send, im for notifications — in a batch
// too. InstallOptions.Scopes sets what the install's tokens carry.
func TestAutomationScopes(t *testing.T) {
	p, _ := newAutomationPortal(t)
	narrow := p.IssueTokensScope(1, "crm,catalog,placement,user_brief").AccessToken
	for method, body := range map[string]string{
		"bizproc.robot.add":    robotBody("seg", "https://a.example/robot"),
		"bizproc.robot.list":   `{}`,
		"bizproc.robot.update": `{"CODE": "seg", "FIELDS": {"NAME": "x"}}`,
		"bizproc.robot.delete": `{"CODE": "seg"}`,
		"bizproc.event.send":   `{"EVENT_TOKEN": "x"}`,
		"im.notify.system.add": `{"USER_ID": 1, "MESSAGE": "Hi"}`,
	} {
		wantErr(t, callJSON(t, p, method, narrow, body), 403, "insufficient_scope", "", method+" without its scope")
	}
	onlyIM := p.IssueTokensScope(1, "crm,im").AccessToken
	wantErr(t, callJSON(t, p, "bizproc.robot.list", onlyIM, `{}`), 403, "insufficient_scope", "", "bizproc with im only")
	mustOK(t, callJSON(t, p, "im.notify.system.add", onlyIM, `{"USER_ID": 1, "MESSAGE": "Hi"}`), "im with im")
	b := mustOK(t, callJSON(t, p, "batch", narrow, `{"cmd": {"a": "im.notify.system.add?USER_ID=1&MESSAGE=Hi", "b": "bizproc.robot.list", "c": "crm.automation.trigger.list"}}`), "batch")
	errs, _ := b["result"].(map[string]any)["result_error"].(map[string]any)
	for _, name := range []string{"a", "b"} {
		if e, _ := errs[name].(map[string]any); e["error"] != "insufficient_scope" {
			t.Errorf("batch command %s = %v", name, errs[name])
		}
	}
	if _, failed := errs["c"]; failed {
		t.Errorf("crm command failed in the batch: %v", errs["c"])
	}

	// An install without bizproc and im: the installer's token and the
	// events' carry its scope only.
	pr := &pageRecorder{}
	app := httptest.NewServer(pr)
	defer app.Close()
	resp, err := p.Install(context.Background(), app.URL+"/b24/install", InstallOptions{Scopes: []string{"crm", "placement"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	_, _, body := pr.last()
	form, _ := url.ParseQuery(body)
	if form.Get("APPLICATION_SCOPE") != "crm,placement" {
		t.Errorf("APPLICATION_SCOPE = %q", form.Get("APPLICATION_SCOPE"))
	}
	wantErr(t, callJSON(t, p, "im.notify.system.add", form.Get("AUTH_ID"), `{"USER_ID": 1, "MESSAGE": "Hi"}`), 403, "insufficient_scope", "", "installer token without im")
	mustOK(t, callJSON(t, p, "crm.automation.trigger.list", form.Get("AUTH_ID"), `{}`), "installer token with crm")
	// A full install: the same methods work with the installer's token.
	resp, err = p.Install(context.Background(), app.URL+"/b24/install", InstallOptions{Scopes: splitScope(automationScope)})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	_, _, body = pr.last()
	form, _ = url.ParseQuery(body)
	mustOK(t, callJSON(t, p, "im.notify.system.add", form.Get("AUTH_ID"), `{"USER_ID": 1, "MESSAGE": "Hi"}`), "installer token with im")
	mustOK(t, callJSON(t, p, "bizproc.robot.list", form.Get("AUTH_ID"), `{}`), "installer token with bizproc")
	// Without Scopes an install grants AppScope, as before.
	resp, err = p.Install(context.Background(), app.URL+"/b24/install", InstallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	_, _, body = pr.last()
	if form, _ = url.ParseQuery(body); form.Get("APPLICATION_SCOPE") != AppScope {
		t.Errorf("default APPLICATION_SCOPE = %q", form.Get("APPLICATION_SCOPE"))
	}
}
