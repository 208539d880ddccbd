package handlers_test

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromium finds the browser; without one the test is skipped, except in
// CI where a missing browser is a failure.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("CI is set but no chromium is installed: the browser test must run")
	}
	t.Skip("chromium is not installed")
	return ""
}

// frames replays in a browser what the simulated portal POSTs into its
// iframe: the simulator's POST is captured, then a page submits the same
// form to the app, as the iframe would.
type frames struct {
	srv  *httptest.Server
	mu   sync.Mutex
	post []frameRequest
}

type frameRequest struct {
	Action string
	Fields map[string]string
}

var launchPage = template.Must(template.New("launch").Parse(`<!doctype html><html><body>
<form method="post" action="{{.Action}}">{{range $k, $v := .Fields}}<input type="hidden" name="{{$k}}" value="{{$v}}">{{end}}</form>
<script>document.forms[0].submit()</script></body></html>`))

func newFrames(t *testing.T) *frames {
	f := &frames{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /capture", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		fields := map[string]string{}
		for k := range r.PostForm {
			fields[k] = r.PostForm.Get(k)
		}
		f.mu.Lock()
		f.post = append(f.post, frameRequest{Action: r.URL.Query().Encode(), Fields: fields})
		f.mu.Unlock()
	})
	mux.HandleFunc("GET /launch", func(w http.ResponseWriter, r *http.Request) {
		var n int
		fmt.Sscan(r.URL.Query().Get("n"), &n)
		f.mu.Lock()
		req := f.post[n]
		f.mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = launchPage.Execute(w, req)
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// open has the simulator open the app for userID and returns the URL of a
// page that POSTs the same to appURL.
func (f *frames) open(t *testing.T, s *settingsStack, userID int) string {
	t.Helper()
	resp, err := s.sim.OpenApp(context.Background(), f.srv.URL+"/capture", userID, "en")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	f.mu.Lock()
	n := len(f.post) - 1
	f.post[n].Action = s.web.URL + s.manifest.Handlers.App + "?" + f.post[n].Action
	f.mu.Unlock()
	return fmt.Sprintf("%s/launch?n=%d", f.srv.URL, n)
}

// setValue sets a form control as a user's choice would and fires its events.
func setValue(sel, value string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
		const el = document.querySelector(%q);
		if (!el) throw new Error("no element " + %q);
		el.value = %q;
		el.dispatchEvent(new Event("input", {bubbles: true}));
		el.dispatchEvent(new Event("change", {bubbles: true}));
	})()`, sel, sel, value))
}

func selectMany(sel string, values ...string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
		const el = document.querySelector(%q);
		const want = %q.split(",");
		for (const o of el.options) o.selected = want.includes(o.value);
		el.dispatchEvent(new Event("change", {bubbles: true}));
	})()`, sel, strings.Join(values, ",")))
}

func waitFor(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(15*time.Second), chromedp.WithPollingInterval(50*time.Millisecond))
}

func screenshotDir(t *testing.T) string {
	dir := os.Getenv("SCREENSHOT_DIR")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "segmentor-screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func screenshot(t *testing.T, ctx context.Context, dir, name string, width int64) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, 900)); err != nil {
		t.Fatal(err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, fmt.Sprintf("%s-%d.png", name, width))
	if err := os.WriteFile(file, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s (%d KB)", file, len(png)/1024)
}

func TestSettingsPageInBrowser(t *testing.T) {
	exe := chromium(t)
	s := newSettingsStack(t, "en")
	f := newFrames(t)
	shots := screenshotDir(t)

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelTime := context.WithTimeout(ctx, 120*time.Second)
	defer cancelTime()

	const (
		seg     = `article.segment`
		top     = `[data-path="schemes[0].segments[0].when"]`
		leaf0   = `[data-path="schemes[0].segments[0].when.all[0]"]`
		nested  = `[data-path="schemes[0].segments[0].when.all[1]"]`
		source  = `[data-path="schemes[0].segments[0].when.all[1].any[0]"]`
		badLeaf = `[data-path="schemes[0].segments[0].when.all[1].any[1]"]`
	)
	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			html, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
			t.Fatalf("%s: %v\npage text:\n%s", what, err, html)
		}
	}
	text := func(expr string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		return v
	}

	// The admin opens the app: Bitrix24 POSTs the page, the page starts a
	// session without the BX24 library (unreachable here).
	step("admin opens the app",
		chromedp.EmulateViewport(1200, 900),
		chromedp.Navigate(f.open(t, s, 1)),
		chromedp.WaitVisible(chromedp.CSS(`body[data-ready="admin"]`)),
	)
	if got := text(`document.getElementById("role").textContent`); got != "Administrator" {
		t.Fatalf("role badge %q", got)
	}

	step("builds a segment with a nested condition",
		chromedp.Click(chromedp.CSS(`[data-action="add-scheme"]`)),
		chromedp.WaitVisible(chromedp.CSS(seg+` .seg-name`)),
		chromedp.SendKeys(chromedp.CSS(seg+` .seg-name`), "VIP"),
		chromedp.SendKeys(chromedp.CSS(seg+` .seg-key`), "vip"),
		setValue(leaf0+` select.fact`, "won_amount"),
		setValue(leaf0+` select.op`, ">="),
		chromedp.SendKeys(chromedp.CSS(leaf0+` input.window`), "365"),
		chromedp.SendKeys(chromedp.CSS(leaf0+` input.value-input`), "100000"),
		chromedp.Click(chromedp.CSS(top+` > .row > [data-action="add-group"]`)),
		chromedp.WaitVisible(chromedp.CSS(source+` select.fact`)),
		setValue(source+` select.fact`, "field:SOURCE_ID"),
		setValue(source+` select.op`, "in"),
		selectMany(source+` select.value-input`, "WEB", "PARTNER"),
	)
	if got := text(`document.querySelector('` + nested + ` select.group-op').value`); got != "any" {
		t.Fatalf("the nested group is %q, want any (OR)", got)
	}

	// A bad condition: growth compares two periods and needs a window.
	step("adds a bad condition and sees why",
		chromedp.Click(chromedp.CSS(nested+` > .row > [data-action="add-condition"]`)),
		chromedp.WaitVisible(chromedp.CSS(badLeaf+` select.fact`)),
		setValue(badLeaf+` select.fact`, "growth"),
		setValue(badLeaf+` select.op`, ">"),
		chromedp.SendKeys(chromedp.CSS(badLeaf+` input.value-input`), "1.5"),
		waitFor(`document.querySelector('`+badLeaf+` > .err')`),
	)
	if msg := text(`document.querySelector('` + badLeaf + ` > .err').textContent`); !strings.Contains(msg, "window_days") {
		t.Fatalf("the error next to the bad condition says %q", msg)
	}
	if n := text(`String(document.querySelectorAll("#app .err:not(.tab-err)").length)`); n != "1" {
		t.Fatalf("%s errors shown, want exactly the one: %s", n, text(`document.getElementById("app").innerText`))
	}
	screenshot(t, ctx, shots, "editor-error", 1200)

	step("fixes it and saves",
		chromedp.SendKeys(chromedp.CSS(badLeaf+` input.window`), "90"),
		waitFor(`!document.querySelector("#app .err")`),
		chromedp.Click(chromedp.ID("save")),
		waitFor(`document.getElementById("notice").textContent.includes("Saved: version 1")`),
	)
	screenshot(t, ctx, shots, "editor", 1200)
	screenshot(t, ctx, shots, "editor", 800)

	// What the server stored is what the admin built.
	sc, err := s.store.Config(context.Background(), s.sim.MemberID())
	if err != nil || sc.Version != 1 {
		t.Fatalf("stored config: %v %+v", err, sc)
	}
	for _, want := range []string{`"key":"vip"`, `"any":[{"fact":"field:SOURCE_ID","op":"in","value":["WEB","PARTNER"]}`, `"fact":"growth","window_days":90,"op":">","value":1.5`, `"window_days":365`} {
		if !strings.Contains(strings.ReplaceAll(string(sc.Config), `\u003e`, ">"), want) {
			t.Errorf("stored config lacks %s: %s", want, sc.Config)
		}
	}

	step("reopens the app and sees the saved segment",
		chromedp.EmulateViewport(1200, 900),
		chromedp.Navigate(f.open(t, s, 1)),
		chromedp.WaitVisible(chromedp.CSS(`body[data-ready="admin"]`)),
		chromedp.WaitVisible(chromedp.CSS(badLeaf+` input.window`)),
	)
	got := text(`JSON.stringify([
		document.querySelector("` + seg + ` .seg-name").value,
		document.querySelector('` + leaf0 + ` select.fact').value,
		document.querySelector('` + nested + ` select.group-op').value,
		Array.from(document.querySelector('` + source + ` select.value-input').selectedOptions).map(o => o.value).join("+"),
		document.querySelector('` + badLeaf + ` input.window').value,
		document.getElementById("version").textContent])`)
	if want := `["VIP","won_amount","any","WEB+PARTNER","90","Version 1"]`; got != want {
		t.Fatalf("after reload the page shows %s, want %s", got, want)
	}

	// A sales rep sees the same settings, read only.
	rctx, rcancel := chromedp.NewContext(ctx)
	defer rcancel()
	if err := chromedp.Do(rctx,
		chromedp.EmulateViewport(1200, 900),
		chromedp.Navigate(f.open(t, s, s.rep.ID)),
		chromedp.WaitVisible(chromedp.CSS(`body[data-ready="readonly"]`)),
		chromedp.WaitVisible(chromedp.CSS(seg+` .seg-name`)),
	); err != nil {
		t.Fatalf("rep opens the app: %v", err)
	}
	ro, err := chromedp.Run(rctx, chromedp.Evaluate[string](`JSON.stringify([
		document.getElementById("role").textContent,
		document.querySelectorAll("#app input, #app select").length > 5,
		Array.from(document.querySelectorAll("#app input, #app select")).every(e => e.disabled),
		document.querySelectorAll("#app [data-action]").length,
		!!document.getElementById("readonly-note"),
		document.querySelector("`+seg+` .seg-name").value])`))
	if err != nil {
		t.Fatal(err)
	}
	if want := `["Read only",true,true,0,true,"VIP"]`; ro != want {
		t.Fatalf("rep's page: %s, want %s", ro, want)
	}
	screenshot(t, rctx, shots, "readonly", 800)
}
