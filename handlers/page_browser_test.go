package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"segmentor/bitrix/b24sim"
	"segmentor/internal/browsertest"
)

// chromium is the browser; without one (outside CI) the test is skipped.
func chromium(t *testing.T) string {
	t.Helper()
	exe := browsertest.Chromium(t)
	if exe == "" {
		t.Skip("chromium is not installed")
	}
	return exe
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

// launch records that the last captured POST goes to path on the app, with
// lang in place of the portal's, and returns the page that sends it.
func (f *frames) launch(s *settingsStack, path, lang string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := len(f.post) - 1
	q := f.post[n].Action
	if lang != "" {
		q = strings.Replace(q, "LANG=en", "LANG="+lang, 1)
	}
	f.post[n].Action = s.web.URL + path + "?" + q
	return fmt.Sprintf("%s/launch?n=%d", f.srv.URL, n)
}

// open has the simulator open the app for userID and returns the URL of a
// page that POSTs the same to the app page.
func (f *frames) open(t *testing.T, s *settingsStack, userID int) string {
	t.Helper()
	resp, err := s.sim.OpenApp(context.Background(), f.srv.URL+"/capture", userID, "en")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return f.launch(s, s.manifest.Handlers.App, "")
}

// openTab has the simulator open a CRM card tab for userID with the given
// PLACEMENT_OPTIONS, and returns the URL of a page that POSTs the same to
// the placement handler.
func (f *frames) openTab(t *testing.T, s *settingsStack, placement string, userID int, options, lang string) string {
	t.Helper()
	resp, err := s.sim.OpenPlacementAt(context.Background(), f.srv.URL+"/capture", placement, userID, options)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return f.launch(s, s.manifest.Handlers.Placement, lang)
}

// browser is one Chromium tab with the checks every browser test makes.
type browser struct {
	t   *testing.T
	ctx context.Context
	mu  sync.Mutex
	js  []string // uncaught exceptions in the page
}

func newBrowser(t *testing.T, exe string, timeout time.Duration) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	ctx, cancelTime := context.WithTimeout(ctx, timeout)
	t.Cleanup(cancelTime)
	return watchTab(t, ctx)
}

// tab opens another tab in the same browser.
func (b *browser) tab() *browser {
	ctx, cancel := chromedp.NewContext(b.ctx)
	b.t.Cleanup(cancel)
	return watchTab(b.t, ctx)
}

func watchTab(t *testing.T, ctx context.Context) *browser {
	b := &browser{t: t, ctx: ctx}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.IsException() {
				b.mu.Lock()
				b.js = append(b.js, m.Text)
				b.mu.Unlock()
			}
		}
	}()
	return b
}

// step runs actions; on failure it shows what the page said.
func (b *browser) step(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		text, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
		b.t.Fatalf("%s: %v\npage text:\n%s", what, err, text)
	}
	b.noJSErrors(what)
}

func (b *browser) eval(expr string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		b.t.Fatalf("%s: %v", expr, err)
	}
	return v
}

func (b *browser) noJSErrors(when string) {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.js) > 0 {
		b.t.Fatalf("%s: JavaScript errors in the page: %v", when, b.js)
	}
}

// shot writes a full-page screenshot at width; the viewport is as tall as
// the page so that the sticky save bar sits at its end.
func (b *browser) shot(name string, width int64) {
	b.t.Helper()
	dir := os.Getenv("SCREENSHOT_DIR")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "segmentor-screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := chromedp.Do(b.ctx, chromedp.EmulateViewport(width, 900)); err != nil {
		b.t.Fatal(err)
	}
	height, _ := strconv.ParseInt(b.eval(`String(Math.max(900, document.documentElement.scrollHeight))`), 10, 64)
	if err := chromedp.Do(b.ctx, chromedp.EmulateViewport(width, height)); err != nil {
		b.t.Fatal(err)
	}
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatal(err)
	}
	file := filepath.Join(dir, fmt.Sprintf("%s-%d.png", name, width))
	if err := os.WriteFile(file, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot %s (%d KB)", file, len(png)/1024)
	if err := chromedp.Do(b.ctx, chromedp.EmulateViewport(1200, 900)); err != nil {
		b.t.Fatal(err)
	}
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

// typeInto replaces an input's text by typing it.
func typeInto(sel, value string) chromedp.Action[chromedp.Void] {
	clear := chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector(%q).value = ""`, sel))
	keys := chromedp.SendKeys(chromedp.CSS(sel), value)
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		if _, err := clear(ctx, t); err != nil {
			return chromedp.Void{}, err
		}
		return keys(ctx, t)
	}
}

func waitFor(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(20*time.Second), chromedp.WithPollingInterval(50*time.Millisecond))
}

// countOf is the live count a segment card shows, once it is current.
func countOf(path string) string {
	return fmt.Sprintf(`(() => { const a = document.querySelector('[data-path="%s"]');
		const c = a && a.querySelector('.seg-count');
		return a && !a.classList.contains('is-stale') && c && c.dataset.count !== undefined ? c.dataset.count : ""; })()`, path)
}

// Rules an earlier admin saved: buyers and everyone else. Their recompute
// fills the mirror the live counts are computed on.
const buyerConfig = `{"schemes": [{"entity": "contact", "segments": [
  {"key": "buyer", "name": "Buyer", "color": "#2fc6f6", "when": {"all": [{"fact": "won_count", "op": ">=", "value": 1}]}, "set": {"label": true}}],
  "otherwise": {"key": "regular", "name": "Regular", "color": "#a8adb4", "set": {"label": true}}}]}`

// recomputed saves cfg through the API and waits for its recompute.
func (s *settingsStack) recomputed(token, cfg string, base int) {
	s.t.Helper()
	r := s.do("PUT", "/api/v1/config", token, map[string]any{"base_version": base, "config": json.RawMessage(cfg)})
	if r.Status != 200 {
		s.t.Fatalf("save: %d %s", r.Status, r.Raw)
	}
	s.WaitBackfill(60 * time.Second)
}

// An admin opens the app, sees the overview, builds a segment with a nested
// condition while the live count follows, is shown a bad condition's
// problem at its field, looks at the dry run, saves, watches the recompute
// to its end and finds the changes in the audit; a concurrent save is
// refused clearly; a sales rep gets the same page read-only.
func TestSettingsPageInBrowser(t *testing.T) {
	exe := chromium(t)
	s := newSettingsStack(t, "en")
	s.sim.Seed(b24sim.GenOptions{Contacts: 120, Companies: 20, Deals: 400})
	admin := s.login(1)
	s.recomputed(admin, buyerConfig, 0)
	f := newFrames(t)
	b := newBrowser(t, exe, 120*time.Second)

	const (
		vip     = `schemes[0].segments[0]`
		buyer   = `schemes[0].segments[1]`
		leaf0   = `[data-path="schemes[0].segments[0].when.all[0]"]`
		nested  = `[data-path="schemes[0].segments[0].when.all[1]"]`
		source  = `[data-path="schemes[0].segments[0].when.all[1].any[0]"]`
		twice   = `[data-path="schemes[0].segments[0].when.all[1].any[1]"]`
		badLeaf = `[data-path="schemes[0].segments[0].when.all[1].any[2]"]`
	)

	// The admin opens the app: Bitrix24 POSTs the page, the page starts a
	// session without the BX24 library (unreachable here) and shows the
	// overview of the saved rules.
	b.step("admin opens the app",
		chromedp.EmulateViewport(1200, 900),
		chromedp.Navigate(f.open(t, s, 1)),
		chromedp.WaitVisible(chromedp.CSS(`body[data-ready="admin"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.ov-scheme[data-entity="contact"] tr[data-key="buyer"]`)),
	)
	overview := b.eval(`JSON.stringify([
		document.getElementById("role").textContent,
		document.querySelector("#view-overview").getAttribute("aria-selected"),
		Array.from(document.querySelectorAll('.ov-scheme[data-entity="contact"] .seg-records')).map(e => Number(e.textContent.replace(/\D/g, ""))).reduce((a, b) => a + b, 0),
		document.querySelector("#ov-last .stat__big").textContent,
		!!document.querySelector("#ov-rest .bar"), !!document.querySelector("#ov-queue"), !!document.getElementById("ov-recompute")])`)
	if want := `["Administrator","true",120,"Finished",true,true,true]`; overview != want {
		t.Fatalf("overview shows %s, want %s (the 120 contacts split between Buyer and Regular)", overview, want)
	}
	if u := b.eval(`JSON.stringify(Segmentor.untranslated)`); u != "[]" {
		t.Errorf("texts with no Russian translation: %s", u)
	}
	b.shot("overview", 1200)
	b.shot("overview", 800)

	// The editor shows each segment's live count; a new segment moves to
	// the top with the keyboard.
	b.step("opens the editor and adds a segment above Buyer",
		chromedp.Click(chromedp.ID("view-segments")),
		waitFor(countOf(`schemes[0].segments[0]`)+` !== ""`),
		chromedp.Click(chromedp.CSS(`[data-action="add-segment"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-path="schemes[0].segments[1]"] .seg-name`)),
		chromedp.Focus(chromedp.CSS(`[data-path="schemes[0].segments[1]"] .seg-name`)),
		chromedp.KeyEvent(kb.ArrowUp, chromedp.KeyModifiers(chromedp.ModifierAlt)),
		waitFor(`document.querySelector('[data-path="schemes[0].segments[1]"]').dataset.key === "buyer"`),
	)
	if got := b.eval(`String(document.activeElement === document.querySelector('[data-path="schemes[0].segments[0]"] .seg-name'))`); got != "true" {
		t.Errorf("after Alt+Up the focus left the moved segment's name")
	}
	b.step("names it and gives it a condition",
		chromedp.SendKeys(chromedp.CSS(`[data-path="`+vip+`"] .seg-name`), "VIP"),
		chromedp.SendKeys(chromedp.CSS(`[data-path="`+vip+`"] .seg-key`), "vip"),
		setValue(leaf0+` select.fact`, "won_amount"),
		setValue(leaf0+` select.op`, ">="),
		chromedp.SendKeys(chromedp.CSS(leaf0+` input.window`), "365"),
		chromedp.SendKeys(chromedp.CSS(leaf0+` input.value-input`), "1"),
		waitFor(countOf(vip)+` !== ""`),
	)
	recent, _ := strconv.Atoi(b.eval(countOf(vip)))
	if recent == 0 {
		t.Fatalf("no contact won a deal in the last year: the seeded data cannot show a count")
	}
	b.step("raises the bar and sees the count follow",
		typeInto(leaf0+` input.value-input`, "1000000000"),
		waitFor(countOf(vip)+` === "0"`),
		typeInto(leaf0+` input.value-input`, "1"),
		waitFor(countOf(vip)+` === "`+strconv.Itoa(recent)+`"`),
	)
	// Every contact is counted once: VIP, Buyer and Regular add up to all.
	if sum := b.eval(`String(Array.from(document.querySelectorAll('.scheme .seg-count')).map(c => Number(c.dataset.count || 0)).reduce((a, b) => a + b, 0))`); sum != "120" {
		t.Errorf("the live counts add up to %s, want 120", sum)
	}

	b.step("builds a nested OR group",
		chromedp.Click(chromedp.CSS(`[data-path="`+vip+`.when"] > .row > [data-action="add-group"]`)),
		chromedp.WaitVisible(chromedp.CSS(source+` select.fact`)),
		setValue(source+` select.fact`, "field:SOURCE_ID"),
		setValue(source+` select.op`, "in"),
		chromedp.Click(chromedp.CSS(source+` .value-choices input[value="WEB"]`)),
		chromedp.Click(chromedp.CSS(source+` .value-choices input[value="PARTNER"]`)),
		chromedp.Click(chromedp.CSS(nested+` > .row > [data-action="add-condition"]`)),
		chromedp.WaitVisible(chromedp.CSS(twice+` select.fact`)),
		setValue(twice+` select.fact`, "won_count"),
		setValue(twice+` select.op`, ">="),
		chromedp.SendKeys(chromedp.CSS(twice+` input.value-input`), "2"),
		waitFor(countOf(vip)+` !== ""`),
	)
	if got := b.eval(`document.querySelector('` + nested + ` select.group-op').value`); got != "any" {
		t.Fatalf("the nested group is %q, want any (OR)", got)
	}
	vipCount, _ := strconv.Atoi(b.eval(countOf(vip)))
	if vipCount == 0 || vipCount > recent {
		t.Fatalf("VIP with the nested group counts %d of the %d recent buyers", vipCount, recent)
	}
	// The saved rules read no source, so the mirror has none yet: the page
	// says the count takes sources as empty until the save.
	if note := b.eval(`(document.getElementById("unsynced") || {}).textContent || ""`); !strings.Contains(note, "SOURCE_ID") {
		t.Errorf("no note that SOURCE_ID is not in Segmentor's copy yet: %q", note)
	}

	// A bad condition: growth compares two periods and needs a window; the
	// problem stands at the window field of that condition.
	b.step("adds a bad condition and sees why at its field",
		chromedp.Click(chromedp.CSS(nested+` > .row > [data-action="add-condition"]`)),
		chromedp.WaitVisible(chromedp.CSS(badLeaf+` select.fact`)),
		setValue(badLeaf+` select.fact`, "growth"),
		setValue(badLeaf+` select.op`, ">"),
		chromedp.SendKeys(chromedp.CSS(badLeaf+` input.value-input`), "1.5"),
		waitFor(`document.querySelector('`+badLeaf+` [data-path$=".window_days"] .err')`),
	)
	msg := b.eval(`document.querySelector('` + badLeaf + ` [data-path$=".window_days"] .err').textContent`)
	// In the editor's words, without the record type and segment the card
	// already shows.
	if want := "“Revenue growth (× previous period)” compares two periods: set “Last N days”."; msg != want {
		t.Fatalf("the error at the window field says %q, want %q", msg, want)
	}
	if n := b.eval(`String(document.querySelectorAll("#app .err:not(.tab-err)").length)`); n != "1" {
		t.Fatalf("%s errors shown, want exactly the one: %s", n, b.eval(`document.getElementById("app").innerText`))
	}
	if got := b.eval(`document.querySelector('` + badLeaf + ` input.window').getAttribute("aria-describedby") || ""`); !strings.HasPrefix(got, "err-") {
		t.Errorf("the window input is not described by its error: %q", got)
	}
	b.shot("editor-error", 1200)

	b.step("fixes it",
		chromedp.SendKeys(chromedp.CSS(badLeaf+` input.window`), "90"),
		waitFor(`!document.querySelector("#app .err") && `+countOf(vip)+` !== ""`),
	)

	// The dry run says what saving would change: the new VIPs leave Buyer.
	b.step("runs a dry run",
		chromedp.Click(chromedp.ID("run-dryrun")),
		chromedp.WaitVisible(chromedp.CSS(`#dryrun tr.move`)),
	)
	vipCount, _ = strconv.Atoi(b.eval(countOf(vip)))
	moves := b.eval(`JSON.stringify(Array.from(document.querySelectorAll("#dryrun tr.move")).map(r => [r.dataset.from, r.dataset.to, r.querySelector(".num").textContent]))`)
	if want := fmt.Sprintf(`[["buyer","vip","%d"]]`, vipCount); moves != want {
		t.Fatalf("dry run moves %s, want %s (the VIP count moving out of Buyer)", moves, want)
	}
	if got := b.eval(`JSON.stringify([document.querySelector("#dryrun tr.move td:first-child").textContent, document.querySelector("#dryrun tr.move td:nth-child(3)").textContent,
		Array.from(document.querySelectorAll("#dryrun tr.move a.sample")).every(a => /\/crm\/contact\/details\/\d+\/$/.test(a.href)) && document.querySelectorAll("#dryrun tr.move a.sample").length > 0])`); got != `["Buyer","VIP",true]` {
		t.Fatalf("dry run row shows %s", got)
	}
	b.shot("dryrun", 1200)
	b.shot("dryrun", 800)

	// Save, then the recompute's bar runs to its end.
	b.step("saves and watches the recompute",
		chromedp.Evaluate[chromedp.Void](`window.jobStates = []; new MutationObserver(() => {
			const s = document.getElementById("job").dataset.state;
			if (s && window.jobStates[window.jobStates.length - 1] !== s) window.jobStates.push(s);
		}).observe(document.getElementById("job"), {attributes: true, childList: true, subtree: true})`),
		chromedp.Click(chromedp.ID("save")),
		waitFor(`document.getElementById("notice").textContent.includes("Saved: version 2")`),
		waitFor(`document.getElementById("job").dataset.state === "done"`),
	)
	job := b.eval(`JSON.stringify([window.jobStates[0] !== "done", window.jobStates[window.jobStates.length - 1],
		document.getElementById("job-bar").getAttribute("aria-valuenow") === document.getElementById("job-bar").getAttribute("aria-valuemax"),
		parseFloat(document.querySelector("#job .bar__fill").style.width), document.getElementById("job-title").textContent])`)
	progress := s.do("GET", "/api/v1/jobs/backfill", admin, nil).Body
	if progress["done"] != progress["total"] {
		t.Fatalf("the recompute ended at %v", progress)
	}
	if want := fmt.Sprintf(`[true,"done",true,100,"Recompute finished: %s records checked`, b.eval(fmt.Sprintf(`(%v).toLocaleString("en")`, progress["total"]))); !strings.HasPrefix(job, want) {
		t.Fatalf("the recompute bar shows %s, want %s…", job, want)
	}
	// The recompute read the sources: the live count now includes VIPs by
	// source, and the note is gone.
	b.step("sees the count after the recompute", waitFor(countOf(vip)+` !== "" && !document.getElementById("unsynced")`))
	vipAfter, _ := strconv.Atoi(b.eval(countOf(vip)))
	if vipAfter < vipCount || vipAfter > recent {
		t.Errorf("after the recompute VIP counts %d; before, without sources, %d (of %d recent buyers)", vipAfter, vipCount, recent)
	}
	b.shot("saved", 1200)
	sc, err := s.store.Config(context.Background(), s.sim.MemberID())
	if err != nil || sc.Version != 2 {
		t.Fatalf("stored config: %v %+v", err, sc)
	}
	stored := strings.ReplaceAll(string(sc.Config), `\u003e`, ">")
	for _, want := range []string{`"key":"vip"`, `"any":[{"fact":"field:SOURCE_ID","op":"in","value":["WEB","PARTNER"]}`,
		`"fact":"growth","window_days":90,"op":">","value":1.5`, `"fact":"won_amount","window_days":365,"op":">=","value":1`} {
		if !strings.Contains(stored, want) {
			t.Errorf("stored config lacks %s: %s", want, stored)
		}
	}

	// The audit lists the records that became VIP, and filters by record.
	b.step("looks at the changes",
		chromedp.Click(chromedp.ID("view-changes")),
		chromedp.WaitVisible(chromedp.CSS(`.audit-row`)),
		setValue(`#audit-segment`, "vip"),
		waitFor(`document.querySelectorAll(".audit-row").length > 0 && Array.from(document.querySelectorAll(".audit-row")).every(r => r.querySelector(".change").textContent.includes("VIP"))`),
	)
	if n := b.eval(`String(document.querySelectorAll(".audit-row").length)`); n != strconv.Itoa(min(vipAfter, 50)) {
		t.Errorf("the audit lists %s changes into VIP, want %d", n, min(vipAfter, 50))
	}
	id := b.eval(`document.querySelector(".audit-row").dataset.id`)
	b.step("filters by record",
		chromedp.SendKeys(chromedp.ID("audit-record"), id),
		waitFor(`Array.from(document.querySelectorAll(".audit-row")).every(r => r.dataset.id === "`+id+`")`),
	)
	row := b.eval(`JSON.stringify([document.querySelectorAll(".audit-row").length, document.querySelector(".audit-row .change").textContent, document.querySelector(".audit-row td:nth-child(4)").textContent])`)
	// The change by names, with what started it (the save's recompute).
	if want := `[1,"Buyer → VIPRecompute after the rules were saved","2"]`; row != want {
		t.Errorf("the record's change reads %s, want %s", row, want)
	}
	b.shot("audit", 1200)
	b.shot("audit", 800)

	// Someone else saves meanwhile: this admin's save is refused, and said so.
	other := s.do("PUT", "/api/v1/config", admin, map[string]any{"base_version": 2, "config": json.RawMessage(sc.Config)})
	if other.Status != 200 {
		t.Fatalf("concurrent save: %d %s", other.Status, other.Raw)
	}
	b.step("saves over a newer version",
		chromedp.Click(chromedp.ID("view-segments")),
		chromedp.WaitVisible(chromedp.CSS(`[data-path="`+vip+`"] .seg-name`)),
		chromedp.SendKeys(chromedp.CSS(`[data-path="`+vip+`"] .seg-name`), " clients"),
		chromedp.Click(chromedp.ID("save")),
		chromedp.WaitVisible(chromedp.ID("confirm-save")), // no dry run since the edit: saving shows one first
		chromedp.Click(chromedp.ID("confirm-save")),
		waitFor(`document.querySelector('#notice [data-kind="err"]') && document.getElementById("version").textContent.includes("someone else")`),
	)
	if got := b.eval(`document.getElementById("notice").textContent`); !strings.Contains(got, "(version 3)") || !strings.Contains(got, "NOT saved") {
		t.Errorf("conflict notice: %q", got)
	}
	if sc, _ := s.store.Config(context.Background(), s.sim.MemberID()); sc.Version != 3 || strings.Contains(string(sc.Config), "VIP clients") {
		t.Errorf("the refused save changed the stored config: v%d", sc.Version)
	}
	s.WaitBackfill(60 * time.Second) // the other save's, so that the pages below open on a settled base

	b.step("reopens the app and sees the saved segment",
		chromedp.Navigate(f.open(t, s, 1)),
		chromedp.WaitVisible(chromedp.CSS(`body[data-ready="admin"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.ov-scheme[data-entity="contact"] tr[data-key="vip"]`)),
		chromedp.Click(chromedp.ID("view-segments")),
		chromedp.WaitVisible(chromedp.CSS(badLeaf+` input.window`)),
	)
	got := b.eval(`JSON.stringify([
		document.querySelector('[data-path="` + vip + `"] .seg-name').value,
		document.querySelector('` + leaf0 + ` select.fact').value,
		document.querySelector('` + nested + ` select.group-op').value,
		Array.from(document.querySelectorAll('` + source + ` .value-choices input:checked')).map(o => o.value).join("+"),
		document.querySelector('` + badLeaf + ` input.window').value,
		document.querySelector('[data-path="` + buyer + `"] .seg-name').value,
		document.getElementById("version").textContent])`)
	if want := `["VIP","won_amount","any","WEB+PARTNER","90","Buyer","Version 3"]`; got != want {
		t.Fatalf("after reload the page shows %s, want %s", got, want)
	}
	b.shot("editor", 1200)
	b.shot("editor", 800)

	// A sales rep sees the same settings and their effect, read only.
	rep := b.tab()
	rep.step("rep opens the app",
		chromedp.EmulateViewport(1200, 900),
		chromedp.Navigate(f.open(t, s, s.rep.ID)),
		chromedp.WaitVisible(chromedp.CSS(`body[data-ready="readonly"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.ov-scheme[data-entity="contact"] tr[data-key="vip"]`)),
	)
	if got := rep.eval(`JSON.stringify([!!document.getElementById("readonly-note"), !!document.getElementById("ov-recompute")])`); got != `[true,false]` {
		t.Errorf("rep's overview (note, recompute button): %s", got)
	}
	rep.step("rep looks at the segments",
		chromedp.Click(chromedp.ID("view-segments")),
		chromedp.WaitVisible(chromedp.CSS(`[data-path="`+vip+`"] .seg-name`)),
		waitFor(countOf(vip)+` !== ""`),
	)
	ro := rep.eval(`JSON.stringify([
		document.getElementById("role").textContent,
		document.querySelectorAll("#app input, #app select").length > 10,
		Array.from(document.querySelectorAll("#app input, #app select")).every(e => e.disabled),
		document.querySelectorAll("#app [data-action], #save, #recompute, #run-dryrun, #check").length,
		document.getElementById("readonly-note").textContent.includes("Only a Bitrix24 administrator"),
		document.querySelector('[data-path="` + vip + `"] .seg-name').value, ` + countOf(vip) + `])`)
	if want := fmt.Sprintf(`["Read only",true,true,0,true,"VIP","%d"]`, vipAfter); ro != want {
		t.Fatalf("rep's page: %s, want %s", ro, want)
	}
	rep.shot("readonly", 800)
	b.noJSErrors("end")
}
