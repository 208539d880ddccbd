package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"segmentor"
	"segmentor/app/i18n"
	"segmentor/bitrix/b24sim"
	"segmentor/internal/await"
	"segmentor/registry"

	"github.com/chromedp/chromedp"

	"segmentor/internal/browsertest"
)

// The demo, run in-process on a small portal: it seeds, installs, saves
// the sample config, backfills, then keeps classifying simulated users'
// edits; its settings URL opens the page as the admin; it prints the
// summary; and it stops cleanly when its context ends (Ctrl-C).
func TestDemoEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole demo")
	}
	t.Parallel()
	var out, logs syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	live := make(chan *demoRun, 1)
	done := make(chan error, 1)
	opts := demoOptions{Listen: "127.0.0.1:0", listenSet: true, Contacts: 200, Companies: 60, Deals: 1500,
		Pace: 25 * time.Millisecond, Refresh: 300 * time.Millisecond, Seed: 3,
		Log: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	go func() { done <- runDemo(ctx, opts, &out, func(d *demoRun) { live <- d }) }()
	var d *demoRun
	select {
	case d = <-live:
	case err := <-done:
		t.Fatalf("demo stopped before it was live: %v\n%s", err, out.String())
	case <-time.After(90 * time.Second):
		t.Fatalf("demo not live within 90s:\n%s", out.String())
	}

	// The backfill ran to its end in the terminal's progress bar.
	text := out.String()
	for _, want := range []string{"installing Segmentor as the portal's admin … events bound", "backfill [", "100%", "backfill done in",
		"Settings page, signed in as the portal's admin:  " + d.front + "/",
		"a VIP contact:", d.front + "/card/contact\n", "a key account:", d.front + "/card/company\n", d.front + "/card/deal\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("demo output lacks %q:\n%s", want, text)
		}
	}

	// Every contact and company carries its segment in the portal, VIP
	// contacts the VIP type, and premium deals moved to their pipeline.
	field := "UF_CRM_" + d.manifest.SegmentField.FieldName
	for _, e := range []string{"contact", "company"} {
		counts, total := d.sim.CountBy(e, field), 0
		for _, n := range counts {
			total += n
		}
		t.Logf("%s segments: %v", e, counts)
		if counts[""] != 0 || total != d.sim.Count(e) {
			t.Errorf("%s: %d of %d records without a segment: %v", e, counts[""], total, counts)
		}
	}
	// Companies have requisites with addresses: foreign buyers have a
	// segment of their own (a location rule).
	if n := d.sim.CountBy("company", field)["Buying abroad"]; n == 0 {
		t.Errorf("no company in Buying abroad: %v", d.sim.CountBy("company", field))
	}
	contacts := d.sim.CountBy("contact", field)
	if contacts["VIP"] == 0 || contacts["Sleeping"] == 0 || contacts["Prospect"] == 0 {
		t.Errorf("the sample config should fill VIP, Sleeping and Prospect: %v", contacts)
	}
	if vipType := d.sim.CountBy("contact", "TYPE_ID")["VIP"]; vipType < contacts["VIP"] {
		t.Errorf("%d contacts of type VIP, but %d in the VIP segment", vipType, contacts["VIP"])
	}
	if n := d.sim.CountBy("deal", field)["Premium"]; n == 0 {
		t.Error("no premium deal")
	}
	if n := d.sim.CountBy("deal", "CATEGORY_ID")[fmt.Sprint(d.premium)]; n == 0 {
		t.Error("no deal was moved to the Premium pipeline")
	}

	// A change made in the portal now is classified from its events: a new
	// contact gets a segment, and a won deal changes it.
	id, err := d.sim.UserAdd("contact", map[string]any{"NAME": "Test", "LAST_NAME": "Newcomer"}, 2, false)
	if err != nil {
		t.Fatal(err)
	}
	first := waitSegment(t, d, id, "")
	deal, err := d.sim.UserAdd("deal", map[string]any{"TITLE": "First order", "CONTACT_ID": id, "OPPORTUNITY": "5000",
		"CURRENCY_ID": "USD", "CLOSEDATE": time.Now().Format("2006-01-02")}, 2, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.sim.WinDeal(deal, 2); err != nil {
		t.Fatal(err)
	}
	waitSegment(t, d, id, first)

	// The settings URL opens the page as the admin: what a browser does
	// with it, by hand, then in Chromium when one is installed.
	opened := checkOpener(t, d)
	checkCards(t, d)
	if path := browsertest.Chromium(t); path == "" {
		t.Log("chromium is not installed: the browser check is skipped")
	} else {
		checkOpenerInBrowser(t, d, path)
	}

	// The live summary: segments, events and the REST budget; simulated
	// users kept working; the app never ran into the portal's limit.
	patterns := []*regexp.Regexp{
		regexp.MustCompile(`(?m)^contacts +VIP \d+ · Loyal \d+ · New \d+ · Sleeping \d+ · Lost \d+ · Prospect \d+ · Met at the fair \d+ · Active \d+$`),
		regexp.MustCompile(`(?m)^deals +Premium \d+ · Engaged \d+ · Cooling \d+ · Silent \d+ · \(none\) [\d,]+ · pipeline "Premium" holds \d+$`),
		regexp.MustCompile(`(?m)^events +[\d,]+ received: [\d,]+ queued as jobs, [\d,]+ merged into a waiting job, 0 refused$`),
		regexp.MustCompile(`(?m)^actions +[\d,]+ triggers fired · [\d,]+ timeline entries · [\d,]+ notifications · robot "Segmentor: classify" registered$`),
		// Simulated users win and lose deals: a deal leaves its segment,
		// and the matrix counts it.
		regexp.MustCompile(`(?m)^movement +(contacts|companies|deals) [^·\n]+ → [^·\n]+ [\d,]+( · [^\n]+)? \(today; the Overview tab draws the matrix\)$`),
		// The overview's trend chart has a year: the days before the
		// install estimated from the deals' dates.
		regexp.MustCompile(`(?m)^trend +contacts over 365 days: [^·\n]+ [\d,]+ → [\d,]+( · [^\n]+)? \(before \d{4}-\d\d-\d\d estimated from deal dates\)$`),
		// Every company with a NIP looked up in the simulated registry.
		regexp.MustCompile(`(?m)^registry +[\d,]+ companies with a NIP: [1-9][\d,]* found in REGON \(\d+ closed or suspended\), \d+ not in it, \d+ invalid NIPs, 0 waiting$`),
		regexp.MustCompile(`(?m)^REST +[\d,]+ requests in ([\d.]+ s|\d+ min( \d+ s)?); the portal's limit \(2/s, burst 50\) allows [\d,]+ · 0 refused`),
		regexp.MustCompile(`(?m)^── \d\d:\d\d:\d\d · ([\d.]+ s|\d+ min( \d+ s)?) since the backfill · users: `),
	}
	var missing []*regexp.Regexp
	if !await.Poll(30*time.Second, func() bool {
		if d.users.edits.Load()+d.users.wins.Load() < 5 {
			return false
		}
		text, missing = out.String(), nil
		for _, re := range patterns {
			if !re.MatchString(text) {
				missing = append(missing, re)
			}
		}
		return len(missing) == 0
	}) {
		t.Fatalf("within 30 s, no summary of at least 5 simulated edits (%s) with %v:\n%s", d.users.String(), missing, out.String())
	}
	if st := d.sim.Stats(); st.QueryLimitRefusals != 0 {
		t.Errorf("the portal refused %d requests with QUERY_LIMIT_EXCEEDED", st.QueryLimitRefusals)
	}
	checkRegistrySegment(t, d)
	t.Logf("simulated users: %s", d.users.String())

	// Operators see the app through /metrics and its JSON logs.
	checkMetrics(t, d)
	checkLogs(t, d, &logs, opened)

	// Ctrl-C: everything stops, the address is free again.
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("demo stopped with %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("demo did not stop within 30s of Ctrl-C")
	}
	if resp, err := http.Get(d.front + "/healthz"); err == nil {
		resp.Body.Close()
		t.Errorf("the demo still answers after it stopped: %d", resp.StatusCode)
	}
	if text := out.String(); !strings.Contains(text, "Stopping:") || !strings.HasSuffix(text, "\nStopped.\n") {
		t.Errorf("no stop messages:\n%s", text)
	}
}

// checkCards follows the printed card links as a browser would: each has
// the simulated portal post its card tab's iframe form, as Bitrix24 does
// when a user opens the tab in a record's card, for a sample record a rule
// matched (a VIP contact, a key account, a premium deal moved to the
// Premium pipeline); the app's tab page then starts a session bound to
// that record and shows its segment.
func checkCards(t *testing.T, d *demoRun) {
	t.Helper()
	for _, c := range []struct{ entity, placement, segment string }{
		{"contact", "CRM_CONTACT_DETAIL_TAB", "vip"},
		{"company", "CRM_COMPANY_DETAIL_TAB", "key"},
		{"deal", "CRM_DEAL_DETAIL_TAB", "premium"},
	} {
		action, form := followOpener(t, d.front+"/card/"+c.entity)
		id, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(form.Get("PLACEMENT_OPTIONS"), `{"ID":"`), `"}`))
		if !strings.HasPrefix(action, d.manifest.Handlers.Placement+"?") || form.Get("PLACEMENT") != c.placement ||
			form.Get("PLACEMENT_OPTIONS") != fmt.Sprintf(`{"ID":"%d"}`, id) || id < 1 ||
			form.Get("member_id") != d.sim.MemberID() || form.Get("AUTH_ID") == "" {
			t.Fatalf("%s card link: the opener posts %s %v, not the portal's card tab form", c.entity, action, form)
		}
		resp, err := http.PostForm(d.front+action, form)
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, want := range []string{`class="tab-page"`, `data-auth-id="` + form.Get("AUTH_ID") + `"`, `data-placement="` + c.placement + `"`,
			`data-entity="` + c.entity + `"`, fmt.Sprintf(`data-record-id="%d"`, id)} {
			if resp.StatusCode != 200 || !strings.Contains(string(page), want) {
				t.Fatalf("%s card tab = %d, lacks %s:\n%s", c.entity, resp.StatusCode, want, page)
			}
		}
		api := &demoAPI{base: d.front, http: http.DefaultClient}
		var sess struct{ Token string }
		ctx := context.Background()
		if _, err := api.do(ctx, http.MethodPost, "/api/v1/session", map[string]any{"member_id": d.sim.MemberID(),
			"auth_id": form.Get("AUTH_ID"), "entity": c.entity, "id": strconv.Itoa(id)}, &sess); err != nil {
			t.Fatalf("%s card tab's session: %v", c.entity, err)
		}
		api.token = sess.Token
		var rec struct {
			Segment struct{ Key string }
		}
		if _, err := api.do(ctx, http.MethodGet, fmt.Sprintf("/api/v1/records/%s/%d", c.entity, id), nil, &rec); err != nil {
			t.Fatalf("%s card tab's record: %v", c.entity, err)
		}
		if rec.Segment.Key != c.segment {
			t.Errorf("the sample %s %d is in segment %q, want %q", c.entity, id, rec.Segment.Key, c.segment)
		}
		if c.entity == "deal" {
			if deal, _ := d.sim.Record("deal", id); fmt.Sprint(deal["CATEGORY_ID"]) != strconv.Itoa(d.premium) {
				t.Errorf("the sample deal %d is in pipeline %v, not Premium (%d)", id, deal["CATEGORY_ID"], d.premium)
			}
		}
	}

	// Any record by its number, for a sales rep too: the tab's session is
	// theirs, and the portal lets them see the deal only if it is theirs.
	action, form := followOpener(t, d.front+"/card/deal/3?user=2")
	if form.Get("PLACEMENT_OPTIONS") != `{"ID":"3"}` || !strings.HasPrefix(action, d.manifest.Handlers.Placement+"?") {
		t.Errorf("deal 3's card link posts %s %v", action, form)
	}
	deal, _ := d.sim.Record("deal", 3)
	want := http.StatusForbidden
	if fmt.Sprint(deal["ASSIGNED_BY_ID"]) == "2" {
		want = http.StatusOK
	}
	var sess struct{ Admin bool }
	code, err := (&demoAPI{base: d.front, http: http.DefaultClient}).do(context.Background(), http.MethodPost, "/api/v1/session",
		map[string]any{"member_id": d.sim.MemberID(), "auth_id": form.Get("AUTH_ID"), "entity": "deal", "id": "3"}, &sess)
	if code != want || sess.Admin {
		t.Errorf("deal 3 (assigned to %v) opened as user 2: session = %d admin=%v (%v), want %d", deal["ASSIGNED_BY_ID"], code, sess.Admin, err, want)
	}
}

// followOpener gets a demo link that opens an app page and returns what
// the page it gives posts, and where.
func followOpener(t *testing.T, link string) (string, url.Values) {
	t.Helper()
	resp, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	action := regexp.MustCompile(`<form method="post" action="([^"]+)">`).FindSubmatch(page)
	if resp.StatusCode != 200 || action == nil {
		t.Fatalf("%s = %d:\n%s", link, resp.StatusCode, page)
	}
	form := url.Values{}
	for _, m := range hiddenInput.FindAllSubmatch(page, -1) {
		form.Add(unescape(string(m[1])), unescape(string(m[2])))
	}
	return unescape(string(action[1])), form
}

// waitSegment waits until the contact's Segment field holds a value other
// than not, and returns it.
func waitSegment(t *testing.T, d *demoRun, id int, not string) string {
	t.Helper()
	field := "UF_CRM_" + d.manifest.SegmentField.FieldName
	var v string
	await.That(t, 30*time.Second, fmt.Sprintf("contact %d's segment to change from %q", id, not), func() bool {
		rec, _ := d.sim.Record("contact", id)
		v = fmt.Sprint(rec[field])
		return rec[field] != nil && v != "" && v != not
	})
	return v
}

var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// checkOpener follows the settings URL as a browser would: the page it
// gives posts the portal's iframe form to the app, whose page then starts
// an admin session with what was posted.
func checkOpener(t *testing.T, d *demoRun) url.Values {
	t.Helper()
	action, form := followOpener(t, d.front+"/")
	if form.Get("AUTH_ID") == "" || form.Get("member_id") != d.sim.MemberID() || form.Get("PLACEMENT") != "DEFAULT" {
		t.Fatalf("the opener does not post the portal's iframe form: %v", form)
	}
	resp, err := http.PostForm(d.front+action, form)
	if err != nil {
		t.Fatal(err)
	}
	app, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(app), `data-member-id="`+d.sim.MemberID()+`"`) ||
		!strings.Contains(string(app), `data-auth-id="`+form.Get("AUTH_ID")+`"`) {
		t.Fatalf("settings page = %d:\n%s", resp.StatusCode, app)
	}
	resp, err = http.Post(d.front+"/api/v1/session", "application/json",
		strings.NewReader(fmt.Sprintf(`{"member_id": %q, "auth_id": %q}`, d.sim.MemberID(), form.Get("AUTH_ID"))))
	if err != nil {
		t.Fatal(err)
	}
	var sess struct{ Admin bool }
	_ = json.NewDecoder(resp.Body).Decode(&sess)
	resp.Body.Close()
	if resp.StatusCode != 200 || !sess.Admin {
		t.Errorf("session from the opener's token = %d admin=%v", resp.StatusCode, sess.Admin)
	}
	return form
}

// checkMetrics scrapes the demo's /metrics: HTTP by route, jobs, REST calls
// and the portal's operating time as the simulator reported it.
func checkMetrics(t *testing.T, d *demoRun) {
	t.Helper()
	resp, err := http.Get(d.front + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`segmentor_http_requests_total{route="/b24/events",status="200"}`,
		`segmentor_jobs_total{outcome="ok",type="portal:backfill"} 1`,
		`segmentor_job_duration_seconds_count{type="crm:changes"}`,
		`segmentor_rest_requests_total{method="batch",outcome="ok"}`,
		`segmentor_rest_operating_seconds{method="crm.item.list",portal="` + d.sim.MemberID() + `"}`,
		`segmentor_events_total{result="queued"}`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// checkLogs reads the app's JSON logs: requests carry their id, jobs their
// id and portal, and no token appears — neither those the demo used nor a
// user's tokens sent in refused requests (a forged app update, an install
// by a non-admin, a session, a page open with a token in its URL).
func checkLogs(t *testing.T, d *demoRun, logs *syncBuffer, opened url.Values) {
	t.Helper()
	rep := d.sim.IssueTokens(3)
	post := func(path string, form url.Values) int {
		resp, err := http.PostForm(d.front+path, form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	m := d.sim.MemberID()
	if code := post(d.manifest.Handlers.Events, url.Values{"event": {"ONAPPUPDATE"}, "auth[member_id]": {m},
		"auth[access_token]": {rep.AccessToken}, "auth[refresh_token]": {rep.RefreshToken},
		"auth[application_token]": {"0123456789abcdef0123456789abcdef"}}); code != http.StatusForbidden {
		t.Errorf("forged app update = %d, want 403", code)
	}
	if code := post(d.manifest.Handlers.Install, url.Values{"AUTH_ID": {rep.AccessToken}, "REFRESH_ID": {rep.RefreshToken},
		"member_id": {m}, "PLACEMENT": {"DEFAULT"}}); code < 400 {
		t.Errorf("install by a sales rep = %d, want refused", code)
	}
	if code := post(d.manifest.Handlers.App+"?AUTH_ID="+rep.AccessToken, url.Values{"member_id": {m}}); code != 200 {
		t.Errorf("page open = %d", code)
	}
	resp, err := http.Post(d.front+"/api/v1/session", "application/json",
		strings.NewReader(fmt.Sprintf(`{"member_id": %q, "auth_id": %q}`, m, rep.AccessToken+"x")))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	text := logs.String()
	secrets := map[string]string{"a sales rep's access token": rep.AccessToken, "a sales rep's refresh token": rep.RefreshToken,
		"the admin's access token": opened.Get("AUTH_ID"), "the admin's refresh token": opened.Get("REFRESH_ID"),
		"the application token": d.sim.ApplicationToken(), "the client secret": d.sim.ClientSecret()}
	for what, secret := range secrets {
		if secret == "" || strings.Contains(text, secret) {
			t.Errorf("%s (%q) is in the logs", what, secret)
		}
	}
	var requests, jobs int
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		var l map[string]any
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("a log line is not JSON: %q", line)
		}
		switch l["msg"] {
		case "http request":
			if id, _ := l["request_id"].(string); len(id) < 16 {
				t.Fatalf("request without an id: %s", line)
			}
			requests++
		case "job finished":
			if l["job_id"] == "" || (l["type"] == "crm:changes" && l["portal"] != m) {
				t.Fatalf("job without its id or portal: %s", line)
			}
			jobs++
		}
	}
	if requests == 0 || jobs == 0 {
		t.Errorf("%d request lines and %d job lines in the logs", requests, jobs)
	}
}

func unescape(s string) string {
	return strings.NewReplacer("&amp;", "&", "&#34;", `"`, "&#39;", "'", "&lt;", "<", "&gt;", ">", "&#43;", "+").Replace(s)
}

// checkOpenerInBrowser opens the settings URL in Chromium: the page must
// load the config and show the admin, a sales rep's URL read-only, and the
// sample deal's card link its tab with the deal's segment.
func checkOpenerInBrowser(t *testing.T, d *demoRun, path string) {
	t.Helper()
	actx, cancel := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox)...)
	defer cancel()
	bctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	bctx, cancel = context.WithTimeout(bctx, 45*time.Second)
	defer cancel()
	for _, c := range []struct{ url, ready string }{{d.front + "/", `body[data-ready="admin"]`}, {d.front + "/?user=2", `body[data-ready="readonly"]`},
		{d.front + "/card/deal", `body[data-ready="record"] #badge[data-key="premium"]`}} {
		err := chromedp.Do(bctx, chromedp.Navigate(c.url), chromedp.WaitVisible(chromedp.CSS(c.ready)))
		if err != nil {
			text, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
			t.Errorf("%s in Chromium: %v\npage text:\n%s", c.url, err, text)
		}
	}
}

func TestDemoIsTheDefaultWithNoConfiguration(t *testing.T) {
	if got := defaultCommand(env(nil)); got != "demo" {
		t.Errorf("with nothing configured the default command is %q, want demo", got)
	}
	for _, k := range []string{"REDIS_URL", "APP_BASE_URL", "B24_CLIENT_ID", "B24_CLIENT_SECRET", "APP_SECRET_KEY", "ROLE"} {
		if got := defaultCommand(env(map[string]string{k: "x"})); got != "serve" {
			t.Errorf("with %s set the default command is %q, want serve", k, got)
		}
	}
}

func TestDemoFlags(t *testing.T) {
	o, err := parseDemoFlags(nil, env(nil), io.Discard)
	if err != nil || o.Listen != "127.0.0.1:8080" || o.listenSet || o.help || o.Deals != 20000 || o.Contacts != 3000 || o.Companies != 1000 || o.Pace != time.Second {
		t.Errorf("defaults = %+v, %v", o, err)
	}
	o, err = parseDemoFlags([]string{"-listen", "127.0.0.1:9999", "-deals", "500"}, env(nil), io.Discard)
	if err != nil || !o.listenSet || o.Deals != 500 {
		t.Errorf("flags = %+v, %v", o, err)
	}
	if o.Lang != i18n.EN {
		t.Errorf("the demo's language is %q by default, want en", o.Lang)
	}
	if o, err := parseDemoFlags([]string{"-lang", "pl"}, env(nil), io.Discard); err != nil || o.Lang != i18n.PL {
		t.Errorf("-lang pl = %+v, %v", o, err)
	}
	for _, args := range [][]string{{"-deals", "0"}, {"-pace", "0s"}, {"extra"}, {"-nosuch"}, {"-lang", "de"}, {"-lang", ""}} {
		if _, err := parseDemoFlags(args, env(nil), io.Discard); err == nil {
			t.Errorf("demoFlags(%q) accepted", args)
		}
	}
	// -h is asked for: the usage, and nothing to run, which is no failure.
	for _, h := range []string{"-h", "-help", "--help"} {
		var usage bytes.Buffer
		o, err := parseDemoFlags([]string{h}, env(nil), &usage)
		if err != nil || !o.help || !strings.Contains(usage.String(), "usage: segmentor demo [flags]") || !strings.Contains(usage.String(), "-listen") {
			t.Errorf("demo %s = %+v, %v; printed:\n%s", h, o, err, usage.String())
		}
		if err := runDemo(context.Background(), o, io.Discard, nil); err != nil {
			t.Errorf("demo %s ran: %v", h, err)
		}
	}
}

// The demo listens where -listen says, else on LISTEN_ADDR as serve does
// (the README's configuration table; the container sets it), else on
// 127.0.0.1:8080 or, when that is taken, any free port.
func TestDemoListensOnListenAddr(t *testing.T) {
	tests := []struct {
		env    map[string]string
		args   []string
		listen string
		chosen bool
	}{
		{nil, nil, "127.0.0.1:8080", false},
		{map[string]string{"LISTEN_ADDR": ":9000"}, nil, ":9000", true},
		{map[string]string{"LISTEN_ADDR": ":9000"}, []string{"-listen", "127.0.0.1:9999"}, "127.0.0.1:9999", true},
		{nil, []string{"-listen", "127.0.0.1:8080"}, "127.0.0.1:8080", true},
	}
	for _, tt := range tests {
		o, err := parseDemoFlags(tt.args, env(tt.env), io.Discard)
		if err != nil || o.Listen != tt.listen || o.listenSet != tt.chosen {
			t.Errorf("env %v, flags %q: listen %q (chosen %v), %v; want %q (chosen %v)", tt.env, tt.args, o.Listen, o.listenSet, err, tt.listen, tt.chosen)
		}
	}
}

func TestProgressLineAndThousands(t *testing.T) {
	eta, soon := 75, 45
	tests := []struct {
		state, phase string
		done, total  int
		eta          *int
		want         string
	}{
		{"queued", "", 0, 0, nil, "backfill: queued, waiting for a worker"},
		{"running", "sync", 0, 0, nil, "backfill: reading the portal's records in bulk"},
		{"running", "write", 250, 1000, &eta, "backfill [███████░░░░░░░░░░░░░░░░░░░░░░░]  25%  250 / 1,000 records written · about a minute left"},
		{"running", "write", 900, 1000, &soon, "backfill [███████████████████████████░░░]  90%  900 / 1,000 records written · less than a minute left"},
		{"done", "write", 1000, 1000, nil, "backfill [██████████████████████████████] 100%  1,000 / 1,000 records written"},
	}
	for _, tt := range tests {
		if got := progressLine(i18n.EN, tt.state, tt.phase, tt.done, tt.total, tt.eta); got != tt.want {
			t.Errorf("progressLine(%s, %s, %d, %d) = %q, want %q", tt.state, tt.phase, tt.done, tt.total, got, tt.want)
		}
	}
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 20000: "20,000", 1234567: "1,234,567", -4500: "-4,500"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

// The times the demo prints read as English: an estimate to the minute,
// a measured time as the README writes one.
func TestDemoWordsDurations(t *testing.T) {
	for d, want := range map[time.Duration]string{
		time.Second:                  "less than a minute left",
		59 * time.Second:             "less than a minute left",
		time.Minute:                  "about a minute left",
		89 * time.Second:             "about a minute left",
		90 * time.Second:             "about 2 minutes left",
		44 * time.Minute:             "about 44 minutes left",
		time.Hour:                    "about 1 hour left",
		61 * time.Minute:             "about 1 hour 1 minute left",
		2*time.Hour + 30*time.Minute: "about 2 hours 30 minutes left",
	} {
		if got := timeLeft(i18n.EN, d); got != want {
			t.Errorf("timeLeft(%s) = %q, want %q", d, got, want)
		}
	}
	for d, want := range map[time.Duration]string{
		37 * time.Millisecond:     "0.04 s",
		2500 * time.Millisecond:   "2.5 s",
		9960 * time.Millisecond:   "10 s",
		42 * time.Second:          "42 s",
		88 * time.Second:          "1 min 28 s",
		3 * time.Minute:           "3 min",
		time.Hour + 5*time.Minute: "1 h 5 min",
		2 * time.Hour:             "2 h",
	} {
		if got := spoken(i18n.EN, d); got != want {
			t.Errorf("spoken(%s) = %q, want %q", d, got, want)
		}
	}
}

// The demo's words in Russian, Polish and Italian: an estimate in each
// language's plural forms, times and numbers as it writes them.
func TestDemoWordsInEveryLanguage(t *testing.T) {
	for _, c := range []struct {
		lang i18n.Lang
		d    time.Duration
		want string
	}{
		{i18n.PL, 30 * time.Second, "jeszcze niecała minuta"},
		{i18n.PL, time.Minute, "jeszcze około minuty"},
		{i18n.PL, 3 * time.Minute, "jeszcze około 3 minut"},
		{i18n.PL, 22 * time.Minute, "jeszcze około 22 minut"},
		{i18n.PL, time.Hour + time.Minute, "jeszcze około 1 godziny 1 minuty"},
		{i18n.PL, 2*time.Hour + 5*time.Minute, "jeszcze około 2 godzin 5 minut"},
		{i18n.RU, 21 * time.Minute, "осталось около 21 минуты"},
		{i18n.RU, 3 * time.Minute, "осталось около 3 минут"},
		{i18n.IT, time.Hour, "tempo rimanente: circa 1 ora"},
		{i18n.IT, 2*time.Hour + time.Minute, "tempo rimanente: circa 2 ore 1 minuto"},
	} {
		if got := timeLeft(c.lang, c.d); got != c.want {
			t.Errorf("timeLeft(%s, %s) = %q, want %q", c.lang, c.d, got, c.want)
		}
	}
	for _, c := range []struct {
		lang i18n.Lang
		d    time.Duration
		want string
	}{
		{i18n.PL, 2500 * time.Millisecond, "2,5 s"}, {i18n.PL, time.Hour + 5*time.Minute, "1 godz. 5 min"},
		{i18n.RU, 88 * time.Second, "1 мин 28 с"}, {i18n.IT, 37 * time.Millisecond, "0,04 s"},
	} {
		if got := spoken(c.lang, c.d); got != c.want {
			t.Errorf("spoken(%s, %s) = %q, want %q", c.lang, c.d, got, c.want)
		}
	}
	eta := 75
	for lang, want := range map[i18n.Lang]string{
		i18n.PL: "przeliczenie [███████░░░░░░░░░░░░░░░░░░░░░░░]  25%  zapisano 2500 z 10\u00a0000 rekordów · jeszcze około minuty",
		i18n.IT: "calcolo [███████░░░░░░░░░░░░░░░░░░░░░░░]  25%  2.500 / 10.000 record scritti · tempo rimanente: circa un minuto",
	} {
		if got := progressLine(lang, "running", "write", 2500, 10000, &eta); got != want {
			t.Errorf("progressLine in %s = %q, want %q", lang, got, want)
		}
	}
	if got := progressLine(i18n.PL, "running", "rfm", 0, 0, nil); got != "przeliczenie: obliczanie ocen RFM" {
		t.Errorf("the RFM phase in Polish: %q", got)
	}
	for _, f := range demoTexts.Check() {
		t.Error(f)
	}
}

// tinyDemo is a demo's portal, seeded small, and its front, with no app
// behind it: what the demo does before the app is asked anything.
func tinyDemo(t *testing.T) *demoRun {
	t.Helper()
	d := &demoRun{opts: demoOptions{Contacts: 400, Companies: 20, Deals: 60, Seed: 7}, out: io.Discard}
	var err error
	if d.manifest, err = segmentor.LoadManifest(); err != nil {
		t.Fatal(err)
	}
	d.seedPortal()
	t.Cleanup(d.sim.Close)
	srv := httptest.NewServer(d.portalServer("http://127.0.0.1:1", slog.New(slog.DiscardHandler)).Handler)
	t.Cleanup(srv.Close)
	d.front = srv.URL
	return d
}

// A page opened for a user the portal does not have, or for a record or a
// tab it does not have, is the browser's mistake (400, 404), and the answer
// says what there is; not a failure of the portal (502).
func TestDemoRefusesUnknownUsersAndRecords(t *testing.T) {
	t.Parallel()
	d := tinyDemo(t)
	users := "?user= takes 1 (the admin) or 2 to 6 (sales reps)"
	for _, c := range []struct {
		path string
		code int
		says string
	}{
		{"/?user=7", 400, users},
		{"/?user=0", 400, users},
		{"/?user=rep", 400, users},
		{"/card/deal?user=9", 400, users},
		{"/card/contact/2?user=-1", 400, users},
		{"/card/lead", 404, "contact, company and deal cards"},
		{"/card/deal/x", 400, "/card/deal/17 opens deal 17"},
		{"/card/deal/0", 400, "/card/deal/17 opens deal 17"},
		{"/card/deal/61", 404, "the demo's portal has no deal 61 (it has 60)"},
	} {
		resp, err := http.Get(d.front + c.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.code || !strings.Contains(string(body), c.says) {
			t.Errorf("GET %s = %d %q, want %d saying %q", c.path, resp.StatusCode, body, c.code, c.says)
		}
	}
	// A user the portal has is asked for: the app is not installed yet, so
	// the portal refuses to open it, which is the portal's answer.
	resp, err := http.Get(d.front + "/?user=6")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusBadRequest {
		t.Errorf("user 6, a sales rep, was refused as unknown")
	}
}

// ctrlC is a terminal whose user presses Ctrl-C as soon as the demo has
// printed when.
type ctrlC struct {
	syncBuffer
	when   string
	cancel context.CancelFunc
}

func (c *ctrlC) Write(p []byte) (int, error) {
	n, err := c.syncBuffer.Write(p)
	if strings.Contains(c.String(), c.when) {
		c.cancel()
	}
	return n, err
}

// Ctrl-C in any step of the demo, from seeding to the live summary, stops
// it without an error, and its last line says it stopped.
func TestDemoCtrlCAlwaysEndsWithStopped(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo six times")
	}
	t.Parallel()
	for _, when := range []string{"seeding the simulated portal", "installing Segmentor", "saving the sample segments",
		"Settings page", "backfill done in", "Summary every"} {
		t.Run(when, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			out := &ctrlC{when: when, cancel: cancel}
			opts := demoOptions{Listen: "127.0.0.1:0", listenSet: true, Contacts: 40, Companies: 10, Deals: 150,
				Pace: 20 * time.Millisecond, Refresh: 50 * time.Millisecond, Seed: 5, Log: slog.New(slog.DiscardHandler)}
			done := make(chan error, 1)
			go func() { done <- runDemo(ctx, opts, out, nil) }()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Ctrl-C after %q: the demo stopped with %v", when, err)
				}
			case <-time.After(90 * time.Second):
				t.Fatalf("the demo did not stop within 90 s of Ctrl-C after %q:\n%s", when, out.String())
			}
			text := out.String()
			if !strings.Contains(text, when) {
				t.Fatalf("the demo never printed %q, so Ctrl-C was not pressed:\n%s", when, text)
			}
			if !strings.HasSuffix(text, "\nStopped.\n") || strings.Count(text, "Stopped.") != 1 {
				t.Errorf("Ctrl-C after %q: the output does not end with one \"Stopped.\":\n%s", when, text)
			}
		})
	}
}

// The seeded people, contacts and the portal's users, have a first and a
// last name of one gender: Olga Kuznetsova, Boris Kuznetsov.
func TestDemoNamesAgreeInGender(t *testing.T) {
	t.Parallel()
	d := tinyDemo(t)
	women := map[string]bool{"Anna": true, "Clara": true, "Elena": true, "Greta": true, "Irina": true, "Kira": true,
		"Maria": true, "Olga": true, "Rosa": true, "Tanja": true, "Vera": true, "Xenia": true, "Zoe": true}
	men := map[string]bool{"Boris": true, "David": true, "Felix": true, "Hugo": true, "Jonas": true, "Lev": true,
		"Nikolai": true, "Pavel": true, "Quentin": true, "Sergey": true, "Ulrich": true, "Walter": true, "Yuri": true}
	seen := map[string]int{}
	check := func(who, first, last string) {
		t.Helper()
		if !women[first] && !men[first] {
			t.Errorf("%s: first name %q is neither in the test's women's nor men's names; add it", who, first)
			return
		}
		switch woman := women[first]; {
		case strings.HasSuffix(last, "ova") || strings.HasSuffix(last, "eva"):
			seen["woman, -ova"]++
			if !woman {
				t.Errorf("%s: %s %s, a man with a woman's surname", who, first, last)
			}
		case strings.HasSuffix(last, "ov") || strings.HasSuffix(last, "ev"):
			seen["man, -ov"]++
			if woman {
				t.Errorf("%s: %s %s, a woman with a man's surname", who, first, last)
			}
		}
	}
	for c := range d.sim.Records("contact") {
		check(fmt.Sprint("contact ", c["ID"]), fmt.Sprint(c["NAME"]), fmt.Sprint(c["LAST_NAME"]))
	}
	if seen["woman, -ova"] == 0 || seen["man, -ov"] == 0 {
		t.Errorf("no woman or no man with a Russian surname among 400 contacts: %v", seen)
	}
	// The portal's users, as Bitrix24 tells the app who is signed in.
	for id := 2; id <= 1+demoReps; id++ {
		resp, err := http.PostForm(d.sim.ClientEndpoint()+"profile", url.Values{"auth": {d.sim.IssueTokens(id).AccessToken}})
		if err != nil {
			t.Fatal(err)
		}
		var p struct {
			Result struct{ NAME, LAST_NAME string }
		}
		err = json.NewDecoder(resp.Body).Decode(&p)
		resp.Body.Close()
		if err != nil || p.Result.NAME == "" {
			t.Fatalf("profile of user %d: %v %+v", id, err, p)
		}
		check(fmt.Sprint("user ", id), p.Result.NAME, p.Result.LAST_NAME)
	}
}

// checkRegistrySegment: once every NIP is looked up, "Closed or suspended"
// holds as many companies as there are whose first requisite with a Polish tax ID
// has a valid NIP the registry says is closed or suspended (the oracle
// reads the portal's requisites and the registry's simulator directly).
func checkRegistrySegment(t *testing.T, d *demoRun) {
	t.Helper()
	want := map[int]bool{}
	first := map[int]bool{}
	for id := 1; id <= d.requisites; id++ {
		rq, ok := d.sim.RequisiteRecord(id)
		if !ok || b24sim.Scalar(rq["ENTITY_TYPE_ID"]) != "4" || !registry.IsNIPCandidate(b24sim.Scalar(rq["RQ_VAT_ID"])) {
			continue
		}
		owner, _ := strconv.Atoi(b24sim.Scalar(rq["ENTITY_ID"]))
		if first[owner] {
			continue
		}
		first[owner] = true
		if nip, ok := registry.ValidNIP(b24sim.Scalar(rq["RQ_VAT_ID"])); ok {
			if c, ok := d.registry.Company(nip); ok && c.Status != registry.StatusActive {
				want[owner] = true
			}
		}
	}
	field := "UF_CRM_" + d.manifest.SegmentField.FieldName
	await.That(t, 30*time.Second, fmt.Sprintf("%d companies in Closed or suspended", len(want)), func() bool {
		return d.sim.CountBy("company", field)["Closed or suspended"] == len(want)
	})
	t.Logf("%d of %d companies with a Polish tax ID are closed or suspended in the registry", len(want), len(first))
}
