package main

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"html/template"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"
)

// portalServer is the demo's front: "/" stands in for the portal's app
// page, which opens Segmentor's settings page in an ordinary browser the
// way Bitrix24 opens it in its iframe — a form POST of fresh tokens of the
// signed-in user. Every other path goes to the app, as through a load
// balancer, so that the page, its API, the Bitrix24 callbacks and the
// operator routes all live on the one printed address.
func (d *demoRun) portalServer(appURL string, log *slog.Logger) *http.Server {
	target, _ := url.Parse(appURL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	f := &frameCapture{waiting: map[string]chan capturedFrame{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { d.openApp(w, r, f) })
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
<p>Opening Segmentor as {{.User}}: the simulated portal signs you in the way Bitrix24 does inside its iframe.</p>
<form method="post" action="{{.Action}}">{{range .Fields}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">
{{end}}<noscript><button type="submit">Open Segmentor</button></noscript></form>
<script>document.forms[0].submit()</script>
</body></html>`))

type formField struct{ Name, Value string }

// openApp has the simulated portal open the app for a user (?user=N, the
// admin by default; ?lang=ru) and hands the browser a page that submits
// the same POST to the settings page.
func (d *demoRun) openApp(w http.ResponseWriter, r *http.Request, f *frameCapture) {
	user := 1
	if v := r.URL.Query().Get("user"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			http.Error(w, "user must be a portal user's number: 1 is the admin, 2 to 6 are sales reps", http.StatusBadRequest)
			return
		}
		user = n
	}
	nonce, ch, done := f.expect()
	defer done()
	resp, err := d.sim.OpenApp(r.Context(), d.front+"/demo/frame/"+nonce, user, r.URL.Query().Get("lang"))
	if err != nil {
		http.Error(w, "the simulated portal could not open the app: "+err.Error(), http.StatusBadGateway)
		return
	}
	resp.Body.Close()
	var frame capturedFrame
	select {
	case frame = <-ch:
	default:
		http.Error(w, "the simulated portal did not post the app's page", http.StatusBadGateway)
		return
	}
	data := struct {
		User   string
		Action string
		Fields []formField
	}{User: "user " + strconv.Itoa(user), Action: d.manifest.Handlers.App + "?" + frame.query}
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
