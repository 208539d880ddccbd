package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// portalServer is the demo's front: "/" stands in for the portal's app
// page, which opens Segmentor's settings page in an ordinary browser the
// way Bitrix24 opens it in its iframe — a form POST of fresh tokens of the
// signed-in user — and "/card/deal/17" for deal 17's card with Segmentor's
// tab open, posted the same way. Every other path goes to the app, as
// through a load balancer, so that the pages, their API, the Bitrix24
// callbacks and the operator routes all live on the one printed address.
func (d *demoRun) portalServer(appURL string, log *slog.Logger) *http.Server {
	target, _ := url.Parse(appURL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	f := &frameCapture{waiting: map[string]chan capturedFrame{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { d.openApp(w, r, f) })
	mux.HandleFunc("GET /card/{entity}", func(w http.ResponseWriter, r *http.Request) { d.openCard(w, r, f) })
	mux.HandleFunc("GET /card/{entity}/{id}", func(w http.ResponseWriter, r *http.Request) { d.openCard(w, r, f) })
	mux.HandleFunc("POST /demo/frame/{nonce}", f.capture)
	mux.Handle("/", proxy)
	return &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
}

// capturedFrame is what the simulated portal POSTed for the app's iframe.
type capturedFrame struct {
	query string
	form  url.Values
}

// frameCapture receives the simulator's iframe POSTs, each under a nonce
// that one page open waits for.
type frameCapture struct {
	mu      sync.Mutex
	waiting map[string]chan capturedFrame
}

func (f *frameCapture) expect() (string, chan capturedFrame, func()) {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	nonce := hex.EncodeToString(b)
	ch := make(chan capturedFrame, 1)
	f.mu.Lock()
	f.waiting[nonce] = ch
	f.mu.Unlock()
	return nonce, ch, func() {
		f.mu.Lock()
		delete(f.waiting, nonce)
		f.mu.Unlock()
	}
}

func (f *frameCapture) capture(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	ch := f.waiting[r.PathValue("nonce")]
	f.mu.Unlock()
	if ch == nil {
		http.NotFound(w, r)
		return
	}
	select {
	case ch <- capturedFrame{query: r.URL.RawQuery, form: r.PostForm}:
	default:
	}
	w.WriteHeader(http.StatusOK)
}

var openerPage = template.Must(template.New("open").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Opening Segmentor…</title></head>
<body style="font:14px Arial,sans-serif;padding:32px">
<p>Opening {{.What}} as {{.User}}: the simulated portal signs you in the way Bitrix24 does inside its iframe.</p>
<form method="post" action="{{.Action}}">{{range .Fields}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">
{{end}}<noscript><button type="submit">Open Segmentor</button></noscript></form>
<script>document.forms[0].submit()</script>
</body></html>`))

type formField struct{ Name, Value string }

// openApp has the simulated portal open the app for a user (?user=N, the
// admin by default; ?lang=ru, the demo's -lang by default) and hands the
// browser a page that submits the same POST to the settings page.
func (d *demoRun) openApp(w http.ResponseWriter, r *http.Request, f *frameCapture) {
	user, ok := demoUser(w, r)
	if !ok {
		return
	}
	d.openFrame(w, r, f, "Segmentor", user, d.manifest.Handlers.App, func(ctx context.Context, target string) (*http.Response, error) {
		return d.sim.OpenApp(ctx, target, user, cmp.Or(r.URL.Query().Get("lang"), string(d.opts.Lang)))
	})
}

// cardTab is the placement of Segmentor's tab in a record type's card
// (app.json binds CRM_DEAL_DETAIL_TAB for deals) and its title in the
// demo's language; "" for a type whose card has none.
func (d *demoRun) cardTab(entity string) (placement, title string) {
	for _, p := range d.manifest.Placements {
		if p.Code == "CRM_"+strings.ToUpper(entity)+"_DETAIL_TAB" && entity != "" {
			return p.Code, cmp.Or(p.Title[string(d.opts.Lang)], p.Title["en"])
		}
	}
	return "", ""
}

// openCard has the simulated portal open Segmentor's tab in a record's
// card (/card/deal/17; /card/deal opens the sample deal) for a user
// (?user=N, the admin by default), as Bitrix24 does when the user clicks
// the tab, and hands the browser the same POST.
func (d *demoRun) openCard(w http.ResponseWriter, r *http.Request, f *frameCapture) {
	user, ok := demoUser(w, r)
	if !ok {
		return
	}
	entity := r.PathValue("entity")
	placement, title := d.cardTab(entity)
	if placement == "" {
		http.Error(w, fmt.Sprintf("no card tab for %q: Segmentor has one in contact, company and deal cards (/card/contact, /card/company, /card/deal)", entity), http.StatusNotFound)
		return
	}
	id := d.sampleRecord(entity)
	if v := r.PathValue("id"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			http.Error(w, fmt.Sprintf("%q is not a record's number: /card/%s/17 opens %s 17", v, entity, entity), http.StatusBadRequest)
			return
		}
		id = n
	}
	if _, ok := d.sim.Record(entity, id); !ok {
		http.Error(w, fmt.Sprintf("the demo's portal has no %s %d (it has %s)", entity, id, thousands(d.sim.Count(entity))), http.StatusNotFound)
		return
	}
	// As the CRM card posts it: PLACEMENT_OPTIONS={"ID":"17"}.
	options, _ := json.Marshal(map[string]string{"ID": strconv.Itoa(id)})
	what := fmt.Sprintf("the %q tab of %s %d", title, entity, id)
	d.openFrame(w, r, f, what, user, d.manifest.Handlers.Placement, func(ctx context.Context, target string) (*http.Response, error) {
		return d.sim.OpenPlacementAt(ctx, target, placement, user, string(options))
	})
}

// sampleRecord is the record whose card tab the printed link opens: one a
// rule of the sample config matched, once the backfill has classified the
// portal, else the first. A deal in the Premium pipeline was moved there
// as a premium deal; its company, when it has one, is a key account (a
// deal's client segment is its company's first); a contact of type VIP is
// in the VIP segment (the demo added that type; the portal had none).
func (d *demoRun) sampleRecord(entity string) int {
	premium := strconv.Itoa(d.premium)
	switch entity {
	case "contact":
		for c := range d.sim.Records("contact") {
			if c["TYPE_ID"] == "VIP" {
				return number(c["ID"])
			}
		}
	case "company", "deal":
		for deal := range d.sim.Records("deal") {
			if fmt.Sprint(deal["CATEGORY_ID"]) != premium {
				continue
			}
			if entity == "deal" {
				return number(deal["ID"])
			}
			if co := number(deal["COMPANY_ID"]); co > 0 {
				return co
			}
		}
	}
	return 1
}

// number reads a rendered record's ID field ("17"); 0 when empty.
func number(v any) int {
	n, _ := strconv.Atoi(fmt.Sprint(v))
	return n
}

// demoUser reads ?user=N, the portal user a page is opened for (the admin
// by default); an unknown one is refused with the users there are.
func demoUser(w http.ResponseWriter, r *http.Request) (int, bool) {
	v := r.URL.Query().Get("user")
	if v == "" {
		return 1, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 1+demoReps {
		http.Error(w, fmt.Sprintf("there is no user %q in the demo's portal: ?user= takes 1 (the admin) or 2 to %d (sales reps)", v, 1+demoReps),
			http.StatusBadRequest)
		return 0, false
	}
	return n, true
}

// openFrame has the simulated portal POST a page of the app for a user,
// to a capture address instead of the app (open sends it to target), and
// hands the browser a page that submits the same POST to the app's
// handler at action.
func (d *demoRun) openFrame(w http.ResponseWriter, r *http.Request, f *frameCapture, what string, user int, action string,
	open func(ctx context.Context, target string) (*http.Response, error)) {
	nonce, ch, done := f.expect()
	defer done()
	resp, err := open(r.Context(), d.front+"/demo/frame/"+nonce)
	if err != nil {
		http.Error(w, "the simulated portal could not open "+what+": "+err.Error(), http.StatusBadGateway)
		return
	}
	resp.Body.Close()
	var frame capturedFrame
	select {
	case frame = <-ch:
	default:
		http.Error(w, "the simulated portal did not post "+what, http.StatusBadGateway)
		return
	}
	data := struct {
		What   string
		User   string
		Action string
		Fields []formField
	}{What: what, User: "user " + strconv.Itoa(user), Action: action + "?" + frame.query}
	if user == 1 {
		data.User = "the portal's admin"
	}
	for k, vs := range frame.form {
		for _, v := range vs {
			data.Fields = append(data.Fields, formField{k, v})
		}
	}
	slices.SortFunc(data.Fields, func(a, b formField) int { return cmp.Compare(a.Name, b.Name) })
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	_ = openerPage.Execute(w, data)
}
