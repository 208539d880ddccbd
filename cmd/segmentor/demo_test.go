package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"segmentor/internal/await"

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
		"Settings page, signed in as the portal's admin:  " + d.front + "/"} {
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
	if path := browsertest.Chromium(t); path == "" {
		t.Log("chromium is not installed: the browser check is skipped")
	} else {
		checkOpenerInBrowser(t, d, path)
	}

	// The live summary: segments, events and the REST budget; simulated
	// users kept working; the app never ran into the portal's limit.
	patterns := []*regexp.Regexp{
		regexp.MustCompile(`(?m)^contacts +VIP \d+ · Loyal \d+ · New \d+ · Sleeping \d+ · Lost \d+ · Prospect \d+ · Active \d+$`),
		regexp.MustCompile(`(?m)^deals +Premium \d+ · \(none\) [\d,]+ · pipeline "Premium" holds \d+$`),
		regexp.MustCompile(`(?m)^events +[\d,]+ received: [\d,]+ queued as jobs, [\d,]+ merged into a waiting job, 0 refused$`),
		regexp.MustCompile(`(?m)^REST +[\d,]+ requests in \d+s; the portal's limit \(2/s, burst 50\) allows [\d,]+ · 0 refused`),
		regexp.MustCompile(` · users: `),
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
	if !strings.Contains(out.String(), "Stopping:") {
		t.Errorf("no stop message:\n%s", out.String())
	}
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
	resp, err := http.Get(d.front + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	action := regexp.MustCompile(`<form method="post" action="([^"]+)">`).FindSubmatch(page)
	if resp.StatusCode != 200 || action == nil {
		t.Fatalf("settings URL = %d:\n%s", resp.StatusCode, page)
	}
	form := url.Values{}
	for _, m := range hiddenInput.FindAllSubmatch(page, -1) {
		form.Add(unescape(string(m[1])), unescape(string(m[2])))
	}
	if form.Get("AUTH_ID") == "" || form.Get("member_id") != d.sim.MemberID() || form.Get("PLACEMENT") != "DEFAULT" {
		t.Fatalf("the opener does not post the portal's iframe form: %v", form)
	}
	resp, err = http.PostForm(d.front+unescape(string(action[1])), form)
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
// load the config and show the admin, and a sales rep's URL read-only.
func checkOpenerInBrowser(t *testing.T, d *demoRun, path string) {
	t.Helper()
	actx, cancel := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox)...)
	defer cancel()
	bctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	bctx, cancel = context.WithTimeout(bctx, 45*time.Second)
	defer cancel()
	for _, c := range []struct{ url, ready string }{{d.front + "/", "admin"}, {d.front + "/?user=2", "readonly"}} {
		err := chromedp.Do(bctx, chromedp.Navigate(c.url),
			chromedp.WaitVisible(chromedp.CSS(`body[data-ready="`+c.ready+`"]`)))
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
	o, err := demoFlags(nil, io.Discard)
	if err != nil || o.Listen != "127.0.0.1:8080" || o.listenSet || o.Deals != 20000 || o.Contacts != 3000 || o.Companies != 1000 || o.Pace != time.Second {
		t.Errorf("defaults = %+v, %v", o, err)
	}
	o, err = demoFlags([]string{"-listen", "127.0.0.1:9999", "-deals", "500"}, io.Discard)
	if err != nil || !o.listenSet || o.Deals != 500 {
		t.Errorf("flags = %+v, %v", o, err)
	}
	for _, args := range [][]string{{"-deals", "0"}, {"-pace", "0s"}, {"extra"}, {"-nosuch"}} {
		if _, err := demoFlags(args, io.Discard); err == nil {
			t.Errorf("demoFlags(%q) accepted", args)
		}
	}
}

func TestProgressLineAndThousands(t *testing.T) {
	eta := 75
	tests := []struct {
		state, phase string
		done, total  int
		eta          *int
		want         string
	}{
		{"queued", "", 0, 0, nil, "backfill: queued, waiting for a worker"},
		{"running", "sync", 0, 0, nil, "backfill: reading the portal's records in bulk"},
		{"running", "write", 250, 1000, &eta, "backfill [███████░░░░░░░░░░░░░░░░░░░░░░░]  25%  250 / 1,000 records written · about 1m15s left"},
		{"done", "write", 1000, 1000, nil, "backfill [██████████████████████████████] 100%  1,000 / 1,000 records written"},
	}
	for _, tt := range tests {
		if got := progressLine(tt.state, tt.phase, tt.done, tt.total, tt.eta); got != tt.want {
			t.Errorf("progressLine(%s, %s, %d, %d) = %q, want %q", tt.state, tt.phase, tt.done, tt.total, got, tt.want)
		}
	}
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 20000: "20,000", 1234567: "1,234,567", -4500: "-4,500"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}
