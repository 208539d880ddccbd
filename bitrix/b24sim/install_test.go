package b24sim

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// pageRecorder keeps the query and raw body of each page POST.
type pageRecorder struct {
	mu      sync.Mutex
	queries []url.Values
	bodies  []string
	paths   []string
}

func (pr *pageRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	pr.mu.Lock()
	pr.queries = append(pr.queries, r.URL.Query())
	pr.bodies = append(pr.bodies, string(b))
	pr.paths = append(pr.paths, r.Method+" "+r.URL.Path)
	pr.mu.Unlock()
	w.Header().Set("Content-Type", "text/html")
	_, _ = io.WriteString(w, "<html>ok</html>")
}

func (pr *pageRecorder) last() (string, url.Values, string) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	n := len(pr.bodies) - 1
	return pr.paths[n], pr.queries[n], pr.bodies[n]
}

func formKeys(body string) []string {
	var keys []string
	for _, kv := range strings.Split(body, "&") {
		k, _, _ := strings.Cut(kv, "=")
		keys = append(keys, k)
	}
	return keys
}

func TestInstallPOST(t *testing.T) {
	pr := &pageRecorder{}
	app := httptest.NewServer(pr)
	defer app.Close()
	p := New(Options{RatePerSecond: -1})
	defer p.Close()
	ctx := context.Background()

	resp, err := p.Install(ctx, app.URL+"/b24/install", InstallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	path, q, body := pr.last()
	host := strings.TrimPrefix(p.URL(), "http://")
	if path != "POST /b24/install" || q.Get("DOMAIN") != host || q.Get("PROTOCOL") != "0" || q.Get("LANG") != "en" || len(q.Get("APP_SID")) != 32 {
		t.Errorf("install query = %s %v", path, q)
	}
	want := "AUTH_ID,AUTH_EXPIRES,REFRESH_ID,SERVER_ENDPOINT,APPLICATION_TOKEN,APPLICATION_SCOPE,member_id,status,PLACEMENT,PLACEMENT_OPTIONS"
	if got := strings.Join(formKeys(body), ","); got != want {
		t.Errorf("install form keys = %s", got)
	}
	f, _ := url.ParseQuery(body)
	if f.Get("APPLICATION_TOKEN") != p.ApplicationToken() || f.Get("SERVER_ENDPOINT") != p.OAuthURL()+"/rest/" || f.Get("member_id") != p.MemberID() ||
		f.Get("PLACEMENT") != "DEFAULT" || f.Get("AUTH_EXPIRES") != "3600" || f.Get("APPLICATION_SCOPE") != AppScope || f.Get("status") != "F" {
		t.Errorf("install form = %v", f)
	}
	// AUTH_ID is the admin's token
	if r := callForm(t, p, "user.admin", f.Get("AUTH_ID"), nil); r.Body["result"] != true {
		t.Errorf("AUTH_ID: %s", r.Raw)
	}
	if r := callForm(t, p, "app.info", f.Get("AUTH_ID"), nil); r.Body["result"].(map[string]any)["INSTALLED"] != false {
		t.Errorf("app.info before installFinish = %s", r.Raw)
	}
	p.FinishInstall()
	if r := callForm(t, p, "app.info", f.Get("AUTH_ID"), nil); r.Body["result"].(map[string]any)["INSTALLED"] != true || !p.Installed() {
		t.Errorf("app.info after installFinish = %s", r.Raw)
	}

	// legacy portals leave out three keys; a new install gets a new application token
	old := p.ApplicationToken()
	resp, err = p.Install(ctx, app.URL+"/b24/install", InstallOptions{Legacy: true, Lang: "ru"})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	_, q, body = pr.last()
	if got := strings.Join(formKeys(body), ","); got != "AUTH_ID,AUTH_EXPIRES,REFRESH_ID,member_id,status,PLACEMENT,PLACEMENT_OPTIONS" {
		t.Errorf("legacy form keys = %s", got)
	}
	if q.Get("LANG") != "ru" || p.ApplicationToken() == old || p.Installed() {
		t.Errorf("legacy install: %v, token %q, installed %v", q, p.ApplicationToken(), p.Installed())
	}
}

func TestOpenAppAndPlacement(t *testing.T) {
	pr := &pageRecorder{}
	app := httptest.NewServer(pr)
	defer app.Close()
	p := New(Options{RatePerSecond: -1})
	defer p.Close()
	ctx := context.Background()
	bob := p.AddUser(User{Name: "Bob", LastName: "User"})

	if _, err := p.OpenApp(ctx, app.URL+"/b24/app", bob.ID, "en"); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("OpenApp before install = %v", err)
	}
	resp, _ := p.Install(ctx, app.URL+"/b24/install", InstallOptions{})
	resp.Body.Close()
	// the admin is shown the installer again until installFinish
	resp, err := p.OpenApp(ctx, app.URL+"/b24/app", 1, "en")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if path, _, _ := pr.last(); path != "POST /b24/install" {
		t.Errorf("admin before installFinish opened %s", path)
	}
	tok := p.IssueTokens(1).AccessToken
	r := callForm(t, p, "placement.bind", tok, url.Values{"PLACEMENT": {"CRM_DEAL_DETAIL_TAB"}, "HANDLER": {app.URL + "/b24/placement"},
		"TITLE": {"Segment"}, "LANG_ALL[ru][TITLE]": {"Сегмент"}})
	if r.Status != 200 || r.Body["result"] != true {
		t.Fatalf("placement.bind = %s", r.Raw)
	}
	if _, err := p.OpenPlacement(ctx, "CRM_DEAL_DETAIL_TAB", bob.ID, nil); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("placement before installFinish = %v", err)
	}
	p.FinishInstall()

	resp, err = p.OpenApp(ctx, app.URL+"/b24/app", bob.ID, "de")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	path, q, body := pr.last()
	f, _ := url.ParseQuery(body)
	if path != "POST /b24/app" || q.Get("LANG") != "de" || f.Get("PLACEMENT") != "DEFAULT" {
		t.Errorf("OpenApp: %s %v %v", path, q, f)
	}
	if r := callForm(t, p, "profile", f.Get("AUTH_ID"), nil); r.Body["result"].(map[string]any)["ADMIN"] != false || r.Body["result"].(map[string]any)["ID"] != "2" {
		t.Errorf("the page's token must be Bob's: %s", r.Raw)
	}

	resp, err = p.OpenPlacement(ctx, "CRM_DEAL_DETAIL_TAB", bob.ID, map[string]string{"ID": "8061", "URI": "/crm/deal/details/8061/"})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	path, _, body = pr.last()
	f, _ = url.ParseQuery(body)
	if path != "POST /b24/placement" || f.Get("PLACEMENT") != "CRM_DEAL_DETAIL_TAB" || f.Get("PLACEMENT_OPTIONS") != `{"ID":"8061","URI":"\/crm\/deal\/details\/8061\/"}` {
		t.Errorf("OpenPlacement: %s %v", path, f)
	}
	if _, err := p.OpenPlacement(ctx, "CRM_CONTACT_DETAIL_TAB", 1, nil); err == nil {
		t.Error("OpenPlacement with nothing bound must fail")
	}
}

func TestPlacementMethods(t *testing.T) {
	p := New(Options{RatePerSecond: -1})
	defer p.Close()
	tok := p.IssueTokens(1).AccessToken
	// errors documented with HTTP 200
	r := callForm(t, p, "placement.bind", tok, url.Values{"PLACEMENT": {"NO_SUCH"}, "HANDLER": {"https://a/"}})
	if r.Status != 200 || r.errCode() != "ERROR_ARGUMENT" || r.Body["argument"] != "PLACEMENT" {
		t.Errorf("bad placement = %d %s", r.Status, r.Raw)
	}
	if r := callForm(t, p, "placement.bind", tok, url.Values{"PLACEMENT": {"CRM_DEAL_DETAIL_TAB"}}); r.Status != 200 || r.errCode() != "EMPTY_ERROR_HANDLER_URL" {
		t.Errorf("no handler = %d %s", r.Status, r.Raw)
	}
	bob := p.AddUser(User{Name: "Bob"})
	if r := callForm(t, p, "placement.bind", p.IssueTokens(bob.ID).AccessToken, url.Values{"PLACEMENT": {"CRM_DEAL_DETAIL_TAB"}, "HANDLER": {"https://a/"}}); r.Status != 403 {
		t.Errorf("non-admin placement.bind = %d %s", r.Status, r.Raw)
	}
	if r := callForm(t, p, "placement.bind", p.IssueTokensScope(1, "crm").AccessToken, url.Values{"PLACEMENT": {"CRM_DEAL_DETAIL_TAB"}, "HANDLER": {"https://a/"}}); r.errCode() != "insufficient_scope" {
		t.Errorf("placement.bind without the placement scope = %s", r.Raw)
	}
	for _, code := range []string{"CRM_DEAL_DETAIL_TAB", "CRM_CONTACT_DETAIL_TAB"} {
		if r := callJSON(t, p, "placement.bind", tok, `{"PLACEMENT":"`+code+`","HANDLER":"https://a/p","TITLE":"Segment","LANG_ALL":{"ru":{"TITLE":"Сегмент"}}}`); r.Body["result"] != true {
			t.Errorf("bind %s = %s", code, r.Raw)
		}
	}
	r = callForm(t, p, "placement.get", tok, nil)
	rows := r.Body["result"].([]any)
	if len(rows) != 2 || rows[0].(map[string]any)["title"] != "Segment" || rows[0].(map[string]any)["langAll"].(map[string]any)["ru"] == nil {
		t.Errorf("placement.get = %s", r.Raw)
	}
	if r := callForm(t, p, "placement.unbind", tok, url.Values{"PLACEMENT": {"CRM_DEAL_DETAIL_TAB"}}); r.Body["result"].(map[string]any)["count"] != float64(1) {
		t.Errorf("placement.unbind = %s", r.Raw)
	}
}

func TestSystemMethods(t *testing.T) {
	p := New(Options{RatePerSecond: -1, Enterprise: true})
	defer p.Close()
	tok := p.IssueTokens(1).AccessToken
	bob := p.AddUser(User{Name: "Bob", LastName: "Brown"})
	btok := p.IssueTokens(bob.ID).AccessToken

	r := callForm(t, p, "app.info", tok, nil)
	info := r.Body["result"].(map[string]any)
	for _, k := range []string{"ID", "CODE", "VERSION", "STATUS", "INSTALLED", "PAYMENT_EXPIRED", "DAYS", "LANGUAGE_ID", "LICENSE", "LICENSE_TYPE", "LICENSE_FAMILY"} {
		if _, ok := info[k]; !ok {
			t.Errorf("app.info lacks %s", k)
		}
	}
	if info["LICENSE_FAMILY"] != "ent" {
		t.Errorf("Enterprise LICENSE_FAMILY = %v", info["LICENSE_FAMILY"])
	}
	r = callForm(t, p, "profile", btok, nil)
	if !strings.Contains(string(r.Raw), `"result":{"ADMIN":false,"ID":"2","LAST_NAME":"Brown","NAME":"Bob","PERSONAL_GENDER":"","TIME_ZONE":""}`) {
		t.Errorf("profile = %s", r.Raw)
	}
	if r := callForm(t, p, "user.admin", tok, nil); r.Body["result"] != true {
		t.Errorf("user.admin = %s", r.Raw)
	}

	if r := callForm(t, p, "app.option.get", tok, nil); !strings.HasPrefix(string(r.Raw), `{"result":[],`) {
		t.Errorf("no options = %s", r.Raw)
	}
	if r := callForm(t, p, "app.option.set", btok, url.Values{"options[a]": {"1"}}); r.Status != 403 {
		t.Errorf("non-admin app.option.set = %d", r.Status)
	}
	if r := callJSON(t, p, "app.option.set", tok, `{"options":{"mode":"auto","n":3}}`); r.Body["result"] != true {
		t.Errorf("app.option.set = %s", r.Raw)
	}
	if r := callForm(t, p, "app.option.get", btok, url.Values{"option": {"mode"}}); r.Body["result"] != "auto" {
		t.Errorf("app.option.get mode = %s", r.Raw)
	}
	if r := callForm(t, p, "app.option.get", tok, nil); !strings.Contains(string(r.Raw), `"result":{"mode":"auto","n":3}`) {
		t.Errorf("app.option.get = %s", r.Raw)
	}
	if r := callForm(t, p, "server.time", tok, nil); len(r.Body["result"].(string)) != 25 {
		t.Errorf("server.time = %s", r.Raw)
	}
}
