package b24sim

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options configure a Portal. Zero values give a portal like a fresh cloud
// Bitrix24 on a non-Enterprise plan.
type Options struct {
	ClientID     string // the app's client_id; default "app.segmentor.test"
	ClientSecret string // default "segmentor-test-secret"
	MemberID     string // default derived from Seed
	Domain       string // the portal's name as reported in auth[domain]; default "segmentor-test.bitrix24.com"
	Enterprise   bool   // the 5/s, 250-request bucket instead of 2/s, 50
	Clock        func() time.Time
	Seed         uint64 // seeds every random choice (tokens, data, faults)

	AccessTokenTTL time.Duration // default 1h
	// RatePerSecond and Burst override the plan's leaky bucket; a negative
	// RatePerSecond disables the limit.
	RatePerSecond float64
	Burst         int
	// OperatingLimit is the per-method execution-time budget over a sliding
	// 10 minutes (default 480s); OperatingCost is what one call of a method
	// costs (per command in a batch), and CallCost what a call of a method
	// it does not name costs (default 10ms).
	OperatingLimit time.Duration
	OperatingCost  map[string]time.Duration
	CallCost       time.Duration

	// NoCatalog is a portal without the trade catalog module: catalog.*
	// methods do not exist there (crm.product.* still serve the products).
	NoCatalog bool

	EventDelay    time.Duration // delay before an event is POSTed; default 0
	EventDropRate float64       // share of events never delivered, 0..1

	// Addr, when set, listens on a real address (e.g. "127.0.0.1:0") instead of httptest's.
	Addr string
}

// User is a portal user; tokens belong to a user and carry their rights.
type User struct {
	ID       int
	Name     string
	LastName string
	Admin    bool
	// OwnOnly is a CRM role that reads only the records the user is
	// responsible for (ASSIGNED_BY_ID), as a sales rep's often is: a get
	// of another's record is refused (crm.item.get: 400 ACCESS_DENIED,
	// api-reference/crm/universal/crm-item-get.md; crm.deal.get: "Access
	// denied", api-reference/crm/deals/crm-deal-get.md) and lists leave
	// others' records out. Admins read everything.
	OwnOnly bool
}

// Error is a REST or OAuth error as Bitrix24 sends it.
type Error struct {
	Status      int
	Code        string
	Description string
	Argument    string // the "argument" key some method errors carry (placement.bind's ERROR_ARGUMENT)
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Description) }

func errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Description: fmt.Sprintf(format, args...)}
}

// errNotFound is the empty-code "Not found" of crm.*.get/update/delete.
func errNotFound() *Error { return &Error{Status: 400, Code: "", Description: "Not found"} }

// ListResult is what a list method returns: one page and its paging.
type ListResult struct {
	Items any // a slice, or a map such as {"items": [...]} for crm.item.list
	Total int
	Next  int // start of the next page; 0 when there is none
}

// Call is one REST method invocation, direct or inside a batch.
type Call struct {
	Method  string
	Params  Params
	User    *User
	Token   string
	InBatch bool
	Entry   *Request // the HTTP request's log entry (batch records its commands there); nil inside a batch
}

type methodFunc func(p *Portal, c *Call) (any, error)

// Portal is one simulated Bitrix24 portal with its OAuth server.
type Portal struct {
	opts  Options
	clock func() time.Time
	rng   *rand.Rand // guarded by mu

	mu      sync.Mutex // guards all state below and in the *State fields
	methods map[string]methodFunc
	users   map[int]*User

	auth   authState       // oauth.go
	limit  limitState      // limits.go
	fault  faultState      // faults.go
	events eventState      // events.go
	insp   inspectState    // inspect.go
	crm    crmState        // crm.go
	auto   automationState // automation*.go
	acts   activityState   // activity.go
	reqs   requisiteState  // requisite.go, address.go, duplicate.go

	srv     *httptest.Server
	httpSrv *http.Server
	baseURL string
	closers []func()

	// Set for a portal served by a Host (host.go): its name there, the tag
	// its tokens start with and the shared OAuth server's base.
	host     *Host
	name     string
	tokenTag string
	oauthURL string
}

// New starts a portal. Close it when done.
func New(opts Options) *Portal {
	p := newPortal(opts, nil)
	mux := http.NewServeMux()
	mux.HandleFunc("/oauth/token/", p.serveOAuth)
	mux.HandleFunc("/rest/", p.serveREST)
	if p.opts.Addr != "" {
		ln, err := listen(p.opts.Addr)
		if err != nil {
			panic(fmt.Sprintf("b24sim: listen %s: %v", p.opts.Addr, err))
		}
		p.httpSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = p.httpSrv.Serve(ln) }()
		p.baseURL = "http://" + ln.Addr().String()
	} else {
		p.srv = httptest.NewServer(mux)
		p.baseURL = p.srv.URL
	}
	return p
}

// newPortal builds a portal's state and methods without serving it; setup,
// when set, runs before anything is initialised (a Host names the portal
// there).
func newPortal(opts Options, setup func(*Portal)) *Portal {
	if opts.ClientID == "" {
		opts.ClientID = "app.segmentor.test"
	}
	if opts.ClientSecret == "" {
		opts.ClientSecret = "segmentor-test-secret"
	}
	if opts.MemberID == "" {
		opts.MemberID = fmt.Sprintf("%032x", opts.Seed*0x9E3779B97F4A7C15+0xa223c6b3710f85df)
	}
	if opts.Domain == "" {
		opts.Domain = "segmentor-test.bitrix24.com"
	}
	if opts.AccessTokenTTL == 0 {
		opts.AccessTokenTTL = time.Hour
	}
	if opts.OperatingLimit == 0 {
		opts.OperatingLimit = 480 * time.Second
	}
	p := &Portal{
		opts:    opts,
		clock:   opts.Clock,
		rng:     rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x5eed)),
		methods: map[string]methodFunc{},
		users:   map[int]*User{1: {ID: 1, Name: "Anna", LastName: "Admin", Admin: true}},
	}
	if p.clock == nil {
		p.clock = time.Now
	}
	if setup != nil {
		setup(p)
	}
	p.initAuth()
	p.initLimits()
	p.initEvents()
	p.initCRM()
	p.registerSystemMethods()
	p.registerCRMMethods()
	p.registerAutomationMethods()
	p.registerActivityMethods()
	p.registerRequisiteMethods()
	p.registerCatalogMethods()
	return p
}

// Close stops the portal's servers and its event delivery.
func (p *Portal) Close() {
	if p.host != nil {
		p.host.remove(p)
	}
	p.stopEvents()
	for i := len(p.closers) - 1; i >= 0; i-- {
		p.closers[i]()
	}
	if p.srv != nil {
		p.srv.Close()
	}
	if p.httpSrv != nil {
		_ = p.httpSrv.Close()
	}
}

// URL is the portal's current base URL (it changes on Rename).
func (p *Portal) URL() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.baseURL
}

// ClientEndpoint is the REST base, as the OAuth server's client_endpoint.
func (p *Portal) ClientEndpoint() string { return p.URL() + "/rest/" }

// OAuthURL is the OAuth server base; the token endpoint is OAuthURL()+"/oauth/token/".
// A Host's portals share the Host's.
func (p *Portal) OAuthURL() string {
	if p.oauthURL != "" {
		return p.oauthURL
	}
	return p.URL()
}

// MemberID is the portal's stable id.
func (p *Portal) MemberID() string { return p.opts.MemberID }

// ClientID and ClientSecret are the app credentials the portal accepts.
func (p *Portal) ClientID() string     { return p.opts.ClientID }
func (p *Portal) ClientSecret() string { return p.opts.ClientSecret }

// AddUser adds a portal user (admin or not) and returns it.
func (p *Portal) AddUser(u User) *User {
	p.mu.Lock()
	defer p.mu.Unlock()
	if u.ID == 0 {
		u.ID = len(p.users) + 1
		for p.users[u.ID] != nil {
			u.ID++
		}
	}
	cp := u
	p.users[u.ID] = &cp
	return &cp
}

func (p *Portal) now() time.Time { return p.clock() }

// serveREST answers /rest/{method}[.json] with the success or error envelope.
func (p *Portal) serveREST(w http.ResponseWriter, r *http.Request) {
	start := p.now()
	method := strings.TrimPrefix(r.URL.Path, "/rest/")
	method = strings.ToLower(strings.TrimSuffix(method, ".json"))
	entry := Request{Time: start, HTTPMethod: r.Method, Method: method}
	if p.injectFault(w, r, &entry) {
		p.record(entry)
		return
	}
	params, err := readParams(r)
	if err != nil {
		entry.Status = 400
		writeError(w, errorf(400, "INVALID_REQUEST", "%v", err))
		p.record(entry)
		return
	}
	token := params.String("auth")
	delete(params, "auth")
	entry.Params, entry.Auth = params, token
	if p.failWrite(method, params) {
		answerFault(w, &entry, errInternal())
		p.record(entry)
		return
	}

	status, body := p.handle(method, params, token, start, &entry)
	entry.Status = status
	p.record(entry)
	writeJSON(w, status, body)
}

// handle runs one HTTP-level REST request through the limits, auth and the method.
func (p *Portal) handle(method string, params Params, token string, start time.Time, entry *Request) (int, map[string]any) {
	if e := p.admitRequest(); e != nil {
		entry.ErrorCode = e.Code
		return e.Status, errBody(e)
	}
	user, e := p.authenticate(token)
	if e != nil {
		entry.ErrorCode = e.Code
		return e.Status, errBody(e)
	}
	entry.UserID = user.ID
	res, err := p.invoke(&Call{Method: method, Params: params, User: user, Token: token, Entry: entry})
	if err != nil {
		e := asError(err)
		entry.ErrorCode = e.Code
		return e.Status, errBody(e)
	}
	body := map[string]any{}
	if lr, ok := res.(ListResult); ok {
		body["result"] = lr.Items
		body["total"] = lr.Total
		if lr.Next > 0 {
			body["next"] = lr.Next
		}
	} else {
		body["result"] = res
	}
	body["time"] = p.timeBlock(method, start)
	return 200, body
}

// invoke runs one method for an authenticated user: the method's own
// operating-time budget applies here, per command inside a batch too.
func (p *Portal) invoke(c *Call) (any, error) {
	fn := p.methods[c.Method]
	if fn == nil {
		return nil, errorf(404, "ERROR_METHOD_NOT_FOUND", "Method not found!")
	}
	if e := p.checkScope(c); e != nil {
		return nil, e
	}
	if e := p.admitMethod(c.Method); e != nil {
		return nil, e
	}
	p.chargeMethod(c.Method)
	return fn(p, c)
}

func (p *Portal) timeBlock(method string, start time.Time) map[string]any {
	finish := p.now()
	operating, resetAt := p.operating(method)
	dur := finish.Sub(start).Seconds()
	return map[string]any{
		"start":              float64(start.UnixMicro()) / 1e6,
		"finish":             float64(finish.UnixMicro()) / 1e6,
		"duration":           dur,
		"processing":         dur,
		"date_start":         start.Format(time.RFC3339),
		"date_finish":        finish.Format(time.RFC3339),
		"operating_reset_at": resetAt,
		"operating":          operating,
	}
}

func asError(err error) *Error {
	if e, ok := err.(*Error); ok {
		return e
	}
	return errorf(500, "INTERNAL_SERVER_ERROR", "%v", err)
}

func errBody(e *Error) map[string]any {
	var code any = e.Code
	if isDigits(e.Code) {
		// Methods built on the newer controllers send numeric codes as
		// numbers: catalog's "error":200040300010, crm.item.productrow.list's 100.
		code = json.Number(e.Code)
	}
	if e.Argument != "" {
		return map[string]any{"error": code, "error_description": e.Description, "argument": e.Argument}
	}
	return map[string]any{"error": code, "error_description": e.Description}
}

func writeError(w http.ResponseWriter, e *Error) { writeJSON(w, e.Status, errBody(e)) }

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// readParams merges the query string with a JSON or form body, as PHP's
// $_REQUEST does; form keys use brackets (fields[TITLE], select[]).
func readParams(r *http.Request) (Params, error) {
	params := Params{}
	if err := mergeForm(params, r.URL.Query()); err != nil {
		return nil, err
	}
	if r.Body == nil {
		return params, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 32<<20))
	if err != nil {
		return nil, err
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return params, nil
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/json":
		var m map[string]any
		dec := json.NewDecoder(strings.NewReader(string(body)))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil {
			return nil, fmt.Errorf("request body is not valid JSON: %v", err)
		}
		for k, v := range m {
			params[k] = v
		}
	default:
		vals, err := parseQuery(string(body))
		if err != nil {
			return nil, err
		}
		if err := mergeForm(params, vals); err != nil {
			return nil, err
		}
	}
	return params, nil
}

// Params are a method's parameters: JSON values (numbers as json.Number) or
// form values (strings, nested maps from bracketed keys).
type Params map[string]any

// lookup finds a key case-insensitively, as PHP methods do for most params.
func (ps Params) lookup(key string) (any, bool) {
	if v, ok := ps[key]; ok {
		return v, true
	}
	for k, v := range ps {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return nil, false
}

// Has reports whether key is present.
func (ps Params) Has(key string) bool { _, ok := ps.lookup(key); return ok }

// String returns a scalar parameter as text ("" when absent or not scalar).
func (ps Params) String(key string) string {
	v, _ := ps.lookup(key)
	return scalarString(v)
}

// Int returns an integer parameter given as number or string.
func (ps Params) Int(key string) (int, bool) {
	v, ok := ps.lookup(key)
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSpace(scalarString(v)))
	return n, err == nil
}

// Map returns an object parameter (nil when absent). A list becomes a map
// keyed by index, as PHP arrays are.
func (ps Params) Map(key string) Params {
	v, _ := ps.lookup(key)
	return asParams(v)
}

// List returns an array parameter; a map with keys 0..n-1 or a scalar counts.
func (ps Params) List(key string) []any {
	v, ok := ps.lookup(key)
	if !ok {
		return nil
	}
	return asList(v)
}

// Strings returns an array parameter as strings.
func (ps Params) Strings(key string) []string {
	var out []string
	for _, v := range ps.List(key) {
		out = append(out, scalarString(v))
	}
	return out
}

func asParams(v any) Params {
	switch t := v.(type) {
	case Params:
		return t
	case map[string]any:
		return Params(t)
	case []any:
		m := Params{}
		for i, x := range t {
			m[strconv.Itoa(i)] = x
		}
		return m
	}
	return nil
}

func asList(v any) []any {
	switch t := v.(type) {
	case []any:
		return t
	case Params, map[string]any:
		m := asParams(t)
		out := make([]any, 0, len(m))
		for i := 0; ; i++ {
			x, ok := m[strconv.Itoa(i)]
			if !ok {
				break
			}
			out = append(out, x)
		}
		if len(out) != len(m) { // not a 0..n-1 list: take values in key order
			out = out[:0]
			for _, k := range sortedKeys(m) {
				out = append(out, m[k])
			}
		}
		return out
	case nil:
		return nil
	}
	return []any{v}
}

func scalarString(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	case json.Number:
		return t.String()
	case bool:
		if t {
			return "Y"
		}
		return "N"
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64)
	case int:
		return strconv.Itoa(t)
	case int64:
		return strconv.FormatInt(t, 10)
	}
	return ""
}

// Scalar renders a value as text: a parameter as the portal reads it, or a
// value of a rendered record (numbers of any width included).
func Scalar(v any) string {
	switch v.(type) {
	case int8, int16, int32, uint, uint8, uint16, uint32, uint64, float32:
		return fmt.Sprint(v)
	}
	return scalarString(v)
}
