package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"segmentor"
	"segmentor/app/i18n"
	"segmentor/bitrix"
	"segmentor/bitrix/b24sim"
	"segmentor/registry"
	"segmentor/registry/gus"
	"segmentor/registry/gussim"
)

// The demo's portal has the limits of a real cloud portal on a standard
// plan: the app's own limiter (2/s, burst 40) keeps under them, so the
// backfill takes as long as it would on a real portal of this size.
const (
	demoRate  = 2
	demoBurst = 50
)

// demoReps is how many sales reps the portal is seeded with: its users
// are the admin (1) and the reps (2 to 1+demoReps).
const demoReps = 5

// demoOptions size and pace the demo.
type demoOptions struct {
	Listen    string // the address of the settings page and every app route
	listenSet bool   // Listen was chosen by the user (-listen, LISTEN_ADDR): no fallback port
	help      bool   // -h: the usage is printed, there is nothing to run
	Contacts  int
	Companies int
	Deals     int
	Pace      time.Duration // one simulated user action per Pace
	Refresh   time.Duration // the live summary is printed every Refresh
	Seed      uint64
	Lang      i18n.Lang // the portal's language, and the output's
	// Log receives the app's JSON logs; nil writes them to a temporary file
	// (the terminal shows the demo's own output).
	Log *slog.Logger
}

// demoFlags reads the demo's flags, and LISTEN_ADDR from the process's
// environment.
func demoFlags(args []string, errOut io.Writer) (demoOptions, error) {
	return parseDemoFlags(args, os.Getenv, errOut)
}

// parseDemoFlags reads the demo's flags. The demo listens where -listen
// says, else on LISTEN_ADDR as `segmentor serve` does (the container sets
// it), else on the loopback's port 8080 or any free one.
func parseDemoFlags(args []string, getenv func(string) string, errOut io.Writer) (demoOptions, error) {
	o := demoOptions{listenSet: getenv("LISTEN_ADDR") != ""}
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.StringVar(&o.Listen, "listen", cmp.Or(getenv("LISTEN_ADDR"), "127.0.0.1:8080"),
		"address of the settings page and the app's routes: LISTEN_ADDR when set, else 127.0.0.1:8080 or a free port when that is taken")
	fs.IntVar(&o.Contacts, "contacts", 3000, "contacts in the simulated portal")
	fs.IntVar(&o.Companies, "companies", 1000, "companies in the simulated portal")
	fs.IntVar(&o.Deals, "deals", 20000, "deals in the simulated portal")
	fs.DurationVar(&o.Pace, "pace", time.Second, "one simulated user action (edit, win, lose, new deal) per this interval")
	fs.DurationVar(&o.Refresh, "refresh", 5*time.Second, "how often the live summary is printed")
	fs.Uint64Var(&o.Seed, "seed", 1, "seed of the generated data and of the simulated users")
	lang := fs.String("lang", "en", "language of the simulated portal (its pages, card tabs and timeline) and of this output: en, ru, pl or it")
	fs.Usage = func() {
		fmt.Fprint(errOut, "usage: segmentor demo [flags]\n\nA simulated Bitrix24 portal with Segmentor installed, all in this process.\n\n")
		fs.PrintDefaults()
	}
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		o.help = true // asked for, and printed: not a failure
		return o, nil
	}
	if err != nil {
		return o, err
	}
	fs.Visit(func(f *flag.Flag) { o.listenSet = o.listenSet || f.Name == "listen" })
	o.Lang = i18n.Lang(*lang)
	switch {
	case !slices.Contains(i18n.All(), o.Lang):
		return o, fmt.Errorf("-lang %q: the demo speaks en, ru, pl and it", *lang)
	case fs.NArg() > 0:
		return o, fmt.Errorf("demo takes no arguments, got %q", fs.Args())
	case o.Contacts < 1 || o.Companies < 0 || o.Deals < 1:
		return o, errors.New("demo needs at least one contact and one deal")
	case o.Pace <= 0 || o.Refresh <= 0:
		return o, errors.New("-pace and -refresh must be positive")
	}
	return o, nil
}

// demoRun is a running demo: the simulated portal and where the app is.
type demoRun struct {
	opts     demoOptions
	out      io.Writer
	tty      bool
	sim      *b24sim.Portal
	manifest *segmentor.Manifest
	front    string // base URL of the settings page and the app
	api      *demoAPI
	started  time.Time // when the backfill ended and the users started
	simStart time.Time // when the portal started counting requests
	premium  int       // the Premium pipeline's id
	users    demoActivity
	// registry is the company registry's simulator (GUS BIR), holding the
	// portal's Polish companies, served at registryURL.
	registry    *gussim.Server
	registrySrv *httptest.Server
	registryURL string
	requisites  int // how many the portal was seeded with
	// guests is a trade fair's guest list: e-mails, most of them the
	// portal's contacts', a few new, one mistyped (seedGuests).
	guests  []string
	fair    string // its list's key, once imported
	logPath string
}

// runDemo runs the demo until ctx ends. started, when not nil, is called
// once the demo is live (the backfill done, users simulated), for tests.
// Whenever ctx ends (Ctrl-C), in whichever step, the last line says so once
// everything has stopped.
func runDemo(ctx context.Context, opts demoOptions, out io.Writer, started func(*demoRun)) (err error) {
	if opts.help {
		return nil
	}
	opts.Lang = opts.Lang.Known()
	defer func() {
		if ctx.Err() != nil {
			fmt.Fprintln(out, "\n"+say(opts.Lang, "stopped"))
		}
	}()
	d := &demoRun{opts: opts, out: out, tty: isTerminal(out)}
	log := opts.Log
	if log == nil {
		f, err := os.CreateTemp("", "segmentor-demo-*.log")
		if err != nil {
			return fmt.Errorf("demo log file: %w", err)
		}
		defer f.Close()
		d.logPath = f.Name()
		log = slog.New(slog.NewJSONHandler(f, nil))
	}
	if d.manifest, err = segmentor.LoadManifest(); err != nil {
		return err
	}

	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil && !opts.listenSet {
		ln, err = net.Listen("tcp", "127.0.0.1:0") // the default port is taken: any free one will do
	}
	if err != nil {
		return fmt.Errorf("demo: listen on %s: %w (choose another with -listen)", opts.Listen, err)
	}
	defer ln.Close()
	d.front = "http://" + loopbackIfUnspecified(ln.Addr().(*net.TCPAddr))

	fmt.Fprintln(out, d.say("intro"))
	fmt.Fprintln(out)

	// The portal, as an admin would find it: a CRM with history, and a
	// pipeline for premium deals that is still empty.
	d.seedPortal()
	defer d.sim.Close()
	d.seedRegistry()
	defer d.registry.Close()
	defer d.registrySrv.Close()

	stop, err := d.startApp(ctx, ln, log)
	if err != nil || stop == nil {
		return d.quiet(ctx, err)
	}
	defer func() {
		if ctx.Err() != nil {
			fmt.Fprintln(out, "\n"+d.say("stopping"))
		}
		if serr := stop(); err == nil {
			err = serr
		}
	}()
	d.api = &demoAPI{base: d.front, http: &http.Client{Timeout: 30 * time.Second}}

	if err := d.install(ctx); err != nil {
		return d.quiet(ctx, err)
	}
	if err := d.configure(ctx); err != nil {
		return d.quiet(ctx, err)
	}
	d.printWhereToLook()
	if err := d.backfill(ctx); err != nil {
		return d.quiet(ctx, err)
	}
	d.started = time.Now()
	fmt.Fprintf(out, "\n%s\n\n", d.say("users", opts.Pace, opts.Refresh))
	usersDone := make(chan struct{})
	uctx, stopUsers := context.WithCancel(ctx)
	go func() { defer close(usersDone); d.simulateUsers(uctx) }()
	if started != nil {
		started(d)
	}
	d.summaries(ctx)
	stopUsers()
	<-usersDone
	return nil
}

// startApp runs the app as `segmentor serve` would, and the portal's front
// on ln. stop shuts down in order: the app (it stops accepting, hands back
// its jobs, closes Redis), then the portal. If ctx ends before the app is
// up, startApp returns a nil stop and what the app returned.
func (d *demoRun) startApp(ctx context.Context, ln net.Listener, log *slog.Logger) (stop func() error, err error) {
	env := d.appEnv()
	appCtx, stopApp := context.WithCancel(context.WithoutCancel(ctx))
	ready := make(chan string, 2)
	appDone := make(chan error, 1)
	go func() {
		appDone <- run(appCtx, []string{"serve"}, func(k string) string { return env[k] }, log, ready)
	}()
	var addrs []string // LISTEN_ADDR's, then OPS_ADDR's
	for len(addrs) < 2 {
		select {
		case addr := <-ready:
			addrs = append(addrs, addr)
		case err := <-appDone:
			stopApp()
			return nil, fmt.Errorf("demo: the app did not start: %w", err)
		case <-ctx.Done():
			stopApp()
			return nil, <-appDone
		}
	}
	portal := d.portalServer("http://"+addrs[0], log)
	portal.Handler = withMetrics(portal.Handler, "http://"+addrs[1])
	go func() { _ = portal.Serve(ln) }()
	return func() error {
		stopApp()
		err := <-appDone
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = portal.Shutdown(sctx)
		return err
	}, nil
}

// withMetrics adds the app's /metrics, which it serves on its operator
// address only, to the demo's one address: the demo's only portal is
// simulated, so its series reveal nothing, and a newcomer looks at one
// address.
func withMetrics(front http.Handler, opsURL string) http.Handler {
	target, _ := url.Parse(opsURL)
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", httputil.NewSingleHostReverseProxy(target))
	mux.Handle("/", front)
	return mux
}

// seedPortal starts the simulated portal and fills it.
func (d *demoRun) seedPortal() {
	opts := d.opts
	step := d.step(d.say("seeding"))
	secret := make([]byte, 16)
	_, _ = rand.Read(secret)
	d.sim = b24sim.New(b24sim.Options{Addr: "127.0.0.1:0", Seed: opts.Seed, Domain: "segmentor-demo.bitrix24.com",
		ClientID: "app.segmentor.demo", ClientSecret: hex.EncodeToString(secret),
		RatePerSecond: demoRate, Burst: demoBurst})
	d.simStart = time.Now()
	gen := d.sim.Seed(b24sim.GenOptions{Contacts: opts.Contacts, Companies: opts.Companies, Deals: opts.Deals, Pipelines: 2, Users: demoReps,
		Activities: 2 * opts.Deals, Requisites: true})
	d.premium = d.sim.AddPipeline("Premium", "NEW", "NEGOTIATION", "CONTRACT")
	d.requisites = gen.Requisites
	d.guests = d.seedGuests()
	step(d.say("seeded", d.num(gen.Contacts), d.num(gen.Companies), d.num(gen.Deals), d.num(gen.Won), len(gen.Pipelines)+1))
}

// seedGuests gives every fifth contact an e-mail and returns a trade
// fair's guest list: those e-mails, three of people the CRM does not know
// and one typed wrong.
func (d *demoRun) seedGuests() []string {
	var out []string
	for id := 5; id <= d.opts.Contacts; id += 5 {
		r, ok := d.sim.Record("contact", id)
		if !ok {
			continue
		}
		email := strings.ToLower(fmt.Sprintf("%s.%s.%d@example.pl", b24sim.Scalar(r["NAME"]), b24sim.Scalar(r["LAST_NAME"]), id))
		if d.sim.AddCommunication("contact", id, "EMAIL", email) == nil {
			out = append(out, email)
		}
	}
	return append(out, "anna.nowak@fair.example.pl", "j.kowalski@fair.example.pl", "visitor@fair.example.pl", "guest at example.pl")
}

// importGuests uploads the guest list as the list "Trade fair 2026",
// matched by e-mail with the CRM's duplicate search, and saves it.
func (d *demoRun) importGuests(ctx context.Context) error {
	step := d.step(d.say("importing"))
	csv := "E-mail\n" + strings.Join(d.guests, "\n") + "\n"
	var draft struct {
		ID, State, Error string
		Requests         int
		Matched          int `json:"matched"`
		NotFound         int `json:"not_found"`
		Invalid          int `json:"invalid"`
	}
	q := url.Values{"name": {"Trade fair 2026"}, "entity": {"contact"}, "by": {"email"}, "file": {"trade-fair-2026.csv"}}
	if _, err := d.api.do(ctx, http.MethodPost, "/api/v1/list-uploads?"+q.Encode(), csvBody(csv), &draft); err != nil {
		return fmt.Errorf("demo: upload the guest list: %w", err)
	}
	for draft.State != "done" {
		if draft.State == "failed" {
			return fmt.Errorf("demo: matching the guest list failed: %s", draft.Error)
		}
		if err := bitrix.SystemClock.Sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
		if _, err := d.api.do(ctx, http.MethodGet, "/api/v1/list-uploads/"+draft.ID, nil, &draft); err != nil {
			return fmt.Errorf("demo: guest list: %w", err)
		}
	}
	var list struct{ Key string }
	if _, err := d.api.do(ctx, http.MethodPost, "/api/v1/list-uploads/"+draft.ID+"/confirm", nil, &list); err != nil {
		return fmt.Errorf("demo: save the guest list: %w", err)
	}
	d.fair = list.Key
	step(d.say("imported", d.num(draft.Matched), draft.Requests, d.num(draft.NotFound), d.num(draft.Invalid)))
	return nil
}

// csvBody is a request body sent as it is, as text/csv.
type csvBody string

// seedRegistry starts the simulated company registry with every valid NIP
// of the portal's companies' requisites in it (made-up companies: some
// closed, some suspended); the app reaches it at registryURL with GUS's
// public test key, at a budget well above GUS's so that the demo's
// lookups take seconds, not minutes.
func (d *demoRun) seedRegistry() {
	d.registry = gussim.New(gussim.Options{Seed: d.opts.Seed, Companies: 1})
	for id := 1; id <= d.requisites; id++ {
		rq, ok := d.sim.RequisiteRecord(id)
		if !ok {
			continue
		}
		if nip, ok := registry.ValidNIP(b24sim.Scalar(rq["RQ_VAT_ID"])); ok && b24sim.Scalar(rq["ENTITY_TYPE_ID"]) == "4" {
			d.registry.Register(nip)
		}
	}
	d.registrySrv = httptest.NewServer(d.registry)
	d.registryURL = d.registrySrv.URL + gussim.Path
}

// appEnv is the app's environment: wired exactly as `segmentor serve`,
// with the simulator as its Bitrix24 and its OAuth server, and the
// registry's simulator as its company registry.
func (d *demoRun) appEnv() map[string]string {
	return map[string]string{
		"REGISTRY_URL":      d.registryURL,
		"REGISTRY_KEY":      gus.TestKey,
		"REGISTRY_RATE":     "1200",
		"LISTEN_ADDR":       "127.0.0.1:0",
		"OPS_ADDR":          "127.0.0.1:0", // /metrics, which the summary reads
		"APP_BASE_URL":      d.front,
		"B24_CLIENT_ID":     d.sim.ClientID(),
		"B24_CLIENT_SECRET": d.sim.ClientSecret(),
		"B24_OAUTH_URL":     d.sim.OAuthURL(),
		"B24_ALLOW_HTTP":    "true",
	}
}

// quiet drops an error caused by Ctrl-C: stopping early is not a failure
// (runDemo says it stopped).
func (d *demoRun) quiet(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// step prints what the demo does and returns the function that finishes the line.
func (d *demoRun) step(what string) func(result string) {
	start := time.Now()
	fmt.Fprintf(d.out, "  %s … ", what)
	return func(result string) {
		fmt.Fprintf(d.out, "%s (%s)\n", result, spoken(d.opts.Lang, time.Since(start)))
	}
}

var statusURLPattern = regexp.MustCompile(`url="([^"]+)"`)

// install does what Bitrix24 and its installer page do: POST the installer
// with the admin's fresh tokens, follow the setup through the page's status
// link, then finish the installation (BX24.installFinish).
func (d *demoRun) install(ctx context.Context) error {
	step := d.step(d.say("installing"))
	resp, err := d.sim.Install(ctx, d.front+d.manifest.Handlers.Install, b24sim.InstallOptions{Lang: string(d.opts.Lang)})
	if err != nil {
		return fmt.Errorf("demo: install: %w", err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := statusURLPattern.FindSubmatch(page)
	if resp.StatusCode != http.StatusOK || m == nil {
		return fmt.Errorf("demo: the installer page answered %d without a status link:\n%s", resp.StatusCode, page)
	}
	statusURL := d.front + strings.ReplaceAll(string(m[1]), `\u0026`, "&")
	for {
		var st struct{ Phase, Error string }
		if _, err := d.api.do(ctx, http.MethodGet, statusURL, nil, &st); err != nil {
			return fmt.Errorf("demo: setup status: %w", err)
		}
		switch st.Phase {
		case "done":
			d.sim.FinishInstall()
			step(d.say("installed"))
			return nil
		case "failed":
			return fmt.Errorf("demo: setup failed: %s", st.Error)
		}
		if err := bitrix.SystemClock.Sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
}

// configure signs in to the settings API as the admin (what the settings
// page does with the token Bitrix24 gives it), adds a VIP contact type and
// saves the sample segments, which queues the backfill.
func (d *demoRun) configure(ctx context.Context) error {
	if err := d.api.signIn(ctx, d.sim, 1); err != nil {
		return err
	}
	if err := d.importGuests(ctx); err != nil {
		return err
	}
	step := d.step(d.say("saving"))
	code, err := d.api.do(ctx, http.MethodPost, "/api/v1/reference/types", map[string]string{"entity": "contact", "id": "VIP", "name": "VIP"}, nil)
	if err != nil && code != http.StatusConflict {
		return fmt.Errorf("demo: add the VIP contact type: %w", err)
	}
	var ref struct {
		Pipelines []struct {
			ID     int    `json:"id"`
			Name   string `json:"name"`
			Stages []struct {
				ID string `json:"id"`
			} `json:"stages"`
		} `json:"pipelines"`
	}
	if _, err := d.api.do(ctx, http.MethodGet, "/api/v1/reference", nil, &ref); err != nil {
		return fmt.Errorf("demo: reference: %w", err)
	}
	stage := ""
	for _, p := range ref.Pipelines {
		if p.ID == d.premium && len(p.Stages) > 0 {
			stage = p.Stages[0].ID
		}
	}
	if stage == "" {
		return fmt.Errorf("demo: the portal's reference has no Premium pipeline %d", d.premium)
	}
	cfg := json.RawMessage(fmt.Sprintf(demoConfig, d.fair, d.premium, stage))
	var problems struct {
		Errors []struct{ Path, Message string }
	}
	if _, err := d.api.do(ctx, http.MethodPost, "/api/v1/config/validate", map[string]any{"config": cfg}, &problems); err != nil {
		return fmt.Errorf("demo: validate the sample config: %w", err)
	}
	if len(problems.Errors) > 0 {
		return fmt.Errorf("demo: the sample config has problems: %+v", problems.Errors)
	}
	var cur struct{ Version int }
	if _, err := d.api.do(ctx, http.MethodGet, "/api/v1/config", nil, &cur); err != nil {
		return fmt.Errorf("demo: config: %w", err)
	}
	var saved struct{ Version int }
	if _, err := d.api.do(ctx, http.MethodPut, "/api/v1/config", map[string]any{"base_version": cur.Version, "config": cfg}, &saved); err != nil {
		return fmt.Errorf("demo: save the sample config: %w", err)
	}
	if _, err := d.api.do(ctx, http.MethodPut, "/api/v1/registry", map[string]any{"enabled": true}, nil); err != nil {
		return fmt.Errorf("demo: turn registry lookups on: %w", err)
	}
	step(d.say("saved", saved.Version, "Premium"))
	return nil
}

// demoConfig is the sample config: contacts by RFM and recency, and the
// active ones met at the trade fair (a static list, its key the first %q);
// companies the company registry (REGON) says are closed or suspended
// first, whatever they buy, then by spend and by the product groups they
// buy from (catalog sections, read from the trade catalog); deals of VIP
// contacts or key accounts moved to the Premium pipeline while they are
// still in their first stage (%d and %q: the pipeline and its first
// stage). Premium deals fire their automation trigger; open deals are
// also Engaged, Cooling or Silent by their calls, e-mails and meetings
// (quietly: no trigger, no timeline entry); clients' changes go on their
// timelines, and a client falling asleep is reported to their manager.
const demoConfig = `{"schemes": [
 {"entity": "contact", "segments": [
   {"key": "vip", "name": "VIP", "color": "#d4a017",
    "when": {"all": [{"fact": "rfm_r", "op": ">=", "value": 4}, {"fact": "rfm_f", "op": ">=", "value": 4}, {"fact": "rfm_m", "op": ">=", "value": 4}]},
    "set": {"type": "VIP", "label": true}},
   {"key": "loyal", "name": "Loyal", "color": "#2e86de",
    "when": {"all": [{"fact": "won_count", "window_days": 730, "op": ">=", "value": 3}, {"fact": "days_since_last_won", "op": "<=", "value": 180}]},
    "set": {"type": "CLIENT", "label": true}},
   {"key": "new", "name": "New", "color": "#27ae60",
    "when": {"all": [{"fact": "days_since_first_won", "op": "<=", "value": 120}]},
    "set": {"type": "CLIENT", "label": true}},
   {"key": "sleeping", "name": "Sleeping", "color": "#e67e22",
    "when": {"all": [{"fact": "days_since_last_won", "op": "between", "value": [181, 540]}]},
    "set": {"label": true}, "on_entry": {"notify": true}},
   {"key": "lost", "name": "Lost", "color": "#7f8c8d",
    "when": {"all": [{"fact": "days_since_last_won", "op": ">", "value": 540}]},
    "set": {"label": true}},
   {"key": "prospect", "name": "Prospect", "color": "#95a5a6",
    "when": {"all": [{"fact": "won_count", "op": "=", "value": 0}]},
    "set": {"label": true}},
   {"key": "fair", "name": "Met at the fair", "color": "#9b59b6",
    "when": {"fact": "static_list", "op": "in", "value": [%q]}, "set": {"label": true}}],
  "otherwise": {"key": "active", "name": "Active", "color": "#16a085", "set": {"type": "CLIENT", "label": true}}},
 {"entity": "company", "segments": [
   {"key": "struck", "name": "Closed or suspended", "color": "#555555",
    "when": {"fact": "registry:status", "op": "in", "value": ["closed", "suspended"]}, "set": {"label": true}},
   {"key": "key", "name": "Key account", "color": "#8e44ad",
    "when": {"all": [{"fact": "rfm_m", "op": "=", "value": 5}, {"fact": "rfm_r", "op": ">=", "value": 3}]},
    "set": {"type": "PARTNER", "label": true}},
   {"key": "broad", "name": "Broad buyer", "color": "#1abc9c",
    "when": {"all": [{"fact": "product_groups", "window_days": 730, "op": ">=", "value": 4}]},
    "set": {"type": "CUSTOMER", "label": true}},
   {"key": "abroad", "name": "Buying abroad", "color": "#c0392b",
    "when": {"all": [{"fact": "days_since_last_won", "op": "<=", "value": 365},
      {"fact": "country", "op": "not_empty"}, {"fact": "country", "op": "!=", "value": "PL"}]},
    "set": {"type": "CUSTOMER", "label": true}},
   {"key": "buying", "name": "Buying", "color": "#2980b9",
    "when": {"all": [{"fact": "days_since_last_won", "op": "<=", "value": 365}]},
    "set": {"type": "CUSTOMER", "label": true}}],
  "otherwise": {"key": "dormant", "name": "Dormant", "color": "#7f8c8d", "set": {"label": true}}},
 {"entity": "deal", "segments": [
   {"key": "premium", "name": "Premium", "color": "#d4a017",
    "when": {"all": [{"fact": "client_segment", "op": "in", "value": ["vip", "key"]}]},
    "set": {"type": "COMPLEX", "label": true, "pipeline": {"category_id": %d, "stage_id": %q, "apply": "first_stage"}}},
   {"key": "engaged", "name": "Engaged", "color": "#27ae60",
    "when": {"all": [{"fact": "field:STAGE_SEMANTIC_ID", "op": "=", "value": "P"},
      {"any": [{"fact": "inbound_activities", "window_days": 14, "op": ">=", "value": 1}, {"fact": "activities", "window_days": 14, "op": ">=", "value": 2}]}]},
    "set": {"label": true}, "on_entry": {"trigger": false}},
   {"key": "cooling", "name": "Cooling", "color": "#f39c12",
    "when": {"all": [{"fact": "field:STAGE_SEMANTIC_ID", "op": "=", "value": "P"}, {"fact": "days_since_last_activity", "op": "<=", "value": 45}]},
    "set": {"label": true}, "on_entry": {"trigger": false}},
   {"key": "silent", "name": "Silent", "color": "#7f8c8d",
    "when": {"all": [{"fact": "field:STAGE_SEMANTIC_ID", "op": "=", "value": "P"}]}, "set": {"label": true}, "on_entry": {"trigger": false}}],
  "timeline": false}
]}`

// backfill follows the backfill the saved config queued, with a progress bar.
func (d *demoRun) backfill(ctx context.Context) error {
	start := time.Now()
	var last string
	for {
		var job struct {
			State, Phase string
			Done, Total  int
			Errors       []string
			ETA          *int `json:"eta_s"`
		}
		if _, err := d.api.do(ctx, http.MethodGet, "/api/v1/jobs/backfill", nil, &job); err != nil {
			return fmt.Errorf("demo: backfill progress: %w", err)
		}
		line := progressLine(d.opts.Lang, job.State, job.Phase, job.Done, job.Total, job.ETA)
		switch {
		case job.State == "failed":
			d.progress(&last, line, true)
			return fmt.Errorf("demo: backfill failed: %v", job.Errors)
		case job.State == "done":
			d.progress(&last, progressLine(d.opts.Lang, "done", "write", job.Total, job.Total, nil), true)
			sim := d.sim.Stats()
			fmt.Fprintf(d.out, "  %s\n", d.say("backfill_done", spoken(d.opts.Lang, time.Since(start)), d.num(job.Total), d.num(sim.HTTPRequests), sim.QueryLimitRefusals))
			return nil
		}
		d.progress(&last, line, false)
		if err := bitrix.SystemClock.Sleep(ctx, 250*time.Millisecond); err != nil {
			return err
		}
	}
}

// progress redraws the bar in place on a terminal; elsewhere (a log, a
// test) it prints a line whenever the text changes.
func (d *demoRun) progress(last *string, line string, final bool) {
	if line == *last && !final {
		return
	}
	*last = line
	if d.tty {
		fmt.Fprintf(d.out, "\r\x1b[K  %s", line)
		if final {
			fmt.Fprintln(d.out)
		}
		return
	}
	fmt.Fprintf(d.out, "  %s\n", line)
}

func (d *demoRun) printWhereToLook() {
	w := d.out
	fmt.Fprintln(w)
	settings := padded(d.say("settings_admin"), d.say("settings_rep"))
	fmt.Fprintf(w, "%s  %s/\n", settings[0], d.front)
	fmt.Fprintf(w, "%s  %s/?user=2\n", settings[1], d.front)
	fmt.Fprintln(w, d.say("reps_note"))
	_, tab := d.cardTab("deal")
	fmt.Fprintln(w, d.say("card_tabs", tab))
	samples := padded(d.say("sample_contact")+":", d.say("sample_company")+":", d.say("sample_deal")+":", strings.Repeat(" ", 46))
	for i, entity := range []string{"contact", "company", "deal"} {
		fmt.Fprintf(w, "  %s %s/card/%s\n", samples[i], d.front, entity)
	}
	fmt.Fprintln(w, d.say("cards_note"))
	fmt.Fprintf(w, "%s %s/metrics  %s/readyz  %s/healthz\n", d.say("operators"), d.front, d.front, d.front)
	if d.logPath != "" {
		fmt.Fprintln(w, d.say("logs", d.logPath))
	}
	fmt.Fprintf(w, "\n%s\n\n", d.say("backfill_note", demoRate, demoBurst))
}

// demoAPI calls the app's settings API as the page's script does.
type demoAPI struct {
	base  string
	token string
	http  *http.Client
}

// signIn starts a settings session for a portal user with a fresh access
// token, as the page does with the token Bitrix24 posts into its iframe.
func (a *demoAPI) signIn(ctx context.Context, sim *b24sim.Portal, userID int) error {
	var s struct {
		Token string `json:"token"`
		Admin bool   `json:"admin"`
	}
	body := map[string]string{"member_id": sim.MemberID(), "auth_id": sim.IssueTokens(userID).AccessToken}
	if _, err := a.do(ctx, http.MethodPost, "/api/v1/session", body, &s); err != nil {
		return fmt.Errorf("demo: sign in to the settings page: %w", err)
	}
	a.token = s.Token
	return nil
}

// do sends in as JSON and decodes the answer into out. An answer of 400 or
// more is an error carrying the API's message; its status is returned too.
func (a *demoAPI) do(ctx context.Context, method, path string, in, out any) (int, error) {
	var body io.Reader
	contentType := "application/json"
	if csv, ok := in.(csvBody); ok {
		body, contentType, in = strings.NewReader(string(csv)), "text/csv", nil
	}
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, err
		}
		body = bytes.NewReader(b)
	}
	url := path
	if strings.HasPrefix(path, "/") {
		url = a.base + path
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", contentType)
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if resp.StatusCode >= 400 {
		var e struct{ Message string }
		_ = json.Unmarshal(raw, &e)
		return resp.StatusCode, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, cmp.Or(e.Message, string(raw)))
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

// loopbackIfUnspecified names a listener for the browser and the portal's
// callbacks: an all-interfaces listener (-listen :8080, as in a container)
// is reached at 127.0.0.1.
func loopbackIfUnspecified(a *net.TCPAddr) string {
	if a.IP == nil || a.IP.IsUnspecified() {
		return net.JoinHostPort("127.0.0.1", strconv.Itoa(a.Port))
	}
	return a.String()
}

// isTerminal reports whether w is a character device (a terminal), where
// the progress bar and the summary are redrawn in place.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
