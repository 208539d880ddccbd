package b24sim

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"
)

// A Host serves many portals from one listener, as the Bitrix24 cloud does:
// each portal has its own domain, member_id, users, tokens, leaky bucket,
// operating meters, data, bindings and event queue, and one authorization
// server (oauth.bitrix.info in the real world) serves them all.
//
// Routing. Portal n is named "p000n" and its domain is "p000n."+DomainSuffix.
// A REST request reaches it either with the portal's domain in the Host
// header (https://p0001.bitrix24.test/rest/..., for a client that dials the
// Host's listener for every name) or under its name as a path prefix
// (http://127.0.0.1:port/p0001/rest/...). The client_endpoint the portal
// reports (token answers, installer POSTs, events) is the path form, so an
// app that calls client_endpoint as given, as Segmentor does, needs no
// resolver or proxy. The shared OAuth server is the Host's /oauth/token/;
// it finds the portal a refresh token or authorization code belongs to by
// the token itself: a hosted portal's tokens and codes start with its tag.
//
// Cost. A portal holds its data and no goroutine or listener of its own:
// its event delivery goroutine runs only while events are queued.
type Host struct {
	opts    HostOptions
	srv     *httptest.Server
	httpSrv *http.Server
	baseURL string

	mu        sync.RWMutex
	next      int
	order     []*Portal
	byName    map[string]*Portal
	byDomain  map[string]*Portal
	byTag     map[string]*Portal
	byMember  map[string]*Portal
	oauthReqs int // token requests no portal was found for
}

// HostOptions configure a Host.
type HostOptions struct {
	// ClientID and ClientSecret are the app's credentials on every portal
	// (one app, installed on many portals); defaults as Options'.
	ClientID     string
	ClientSecret string
	// DomainSuffix names the portals' domains: p0001.{DomainSuffix}; default "bitrix24.test".
	DomainSuffix string
	// LogLimit bounds each portal's request log (Portal.SetLogLimit); 0 keeps the default.
	LogLimit int
	// Addr, when set, listens on a real address (e.g. "127.0.0.1:0") instead of httptest's.
	Addr string
}

// hostTagLen is the length of the tag a hosted portal's tokens start with.
const hostTagLen = 6

// NewHost starts an empty Host; AddPortal adds portals. Close it when done.
func NewHost(opts HostOptions) *Host {
	if opts.ClientID == "" {
		opts.ClientID = "app.segmentor.test"
	}
	if opts.ClientSecret == "" {
		opts.ClientSecret = "segmentor-test-secret"
	}
	if opts.DomainSuffix == "" {
		opts.DomainSuffix = "bitrix24.test"
	}
	h := &Host{
		opts:     opts,
		byName:   map[string]*Portal{},
		byDomain: map[string]*Portal{},
		byTag:    map[string]*Portal{},
		byMember: map[string]*Portal{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/oauth/token/", h.serveOAuth)
	mux.HandleFunc("/", h.serveREST)
	if opts.Addr != "" {
		ln, err := listen(opts.Addr)
		if err != nil {
			panic(fmt.Sprintf("b24sim: host: listen %s: %v", opts.Addr, err))
		}
		h.httpSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = h.httpSrv.Serve(ln) }()
		h.baseURL = "http://" + ln.Addr().String()
	} else {
		h.srv = httptest.NewServer(mux)
		h.baseURL = h.srv.URL
	}
	return h
}

// AddPortal adds a portal with the given options. The Host names it (the
// n-th is "p000n"), sets its client credentials to the Host's and, unless
// given, its Domain to the name under DomainSuffix and its Seed to n (so
// member_ids differ). Options.Addr must be empty. A member_id already on the
// Host panics. Closing the portal takes it off the Host.
func (h *Host) AddPortal(opts Options) *Portal {
	if opts.Addr != "" {
		panic("b24sim: host: a hosted portal has no listener of its own (Options.Addr)")
	}
	h.mu.Lock()
	h.next++
	n := h.next
	h.mu.Unlock()
	name := fmt.Sprintf("p%04d", n)
	opts.ClientID, opts.ClientSecret = h.opts.ClientID, h.opts.ClientSecret
	if opts.Domain == "" {
		opts.Domain = name + "." + h.opts.DomainSuffix
	}
	if opts.Seed == 0 {
		opts.Seed = uint64(n)
	}
	tag := fmt.Sprintf("%0*x", hostTagLen, n)
	p := newPortal(opts, func(p *Portal) {
		p.host, p.name, p.tokenTag = h, name, tag
		p.baseURL, p.oauthURL = h.baseURL+"/"+name, h.baseURL
	})
	if h.opts.LogLimit != 0 {
		p.SetLogLimit(h.opts.LogLimit)
	}
	domain := strings.ToLower(opts.Domain)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.byMember[p.opts.MemberID] != nil {
		panic(fmt.Sprintf("b24sim: host: member_id %s is already served", p.opts.MemberID))
	}
	if h.byDomain[domain] != nil {
		panic(fmt.Sprintf("b24sim: host: domain %s is already served", domain))
	}
	h.order = append(h.order, p)
	h.byName[name], h.byDomain[domain], h.byTag[tag], h.byMember[p.opts.MemberID] = p, p, p, p
	return p
}

// remove takes a closed portal off the Host: its URLs and tokens are unknown from then on.
func (h *Host) remove(p *Portal) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.byName[p.name] != p {
		return
	}
	delete(h.byName, p.name)
	delete(h.byDomain, strings.ToLower(p.opts.Domain))
	delete(h.byTag, p.tokenTag)
	delete(h.byMember, p.opts.MemberID)
	for i, q := range h.order {
		if q == p {
			h.order = append(h.order[:i], h.order[i+1:]...)
			break
		}
	}
}

// Close closes every portal and stops the listener.
func (h *Host) Close() {
	for _, p := range h.Portals() {
		p.Close()
	}
	if h.srv != nil {
		h.srv.Close()
	}
	if h.httpSrv != nil {
		_ = h.httpSrv.Close()
	}
}

// URL is the Host's base URL; a portal's is URL()+"/"+Name().
func (h *Host) URL() string { return h.baseURL }

// OAuthURL is the shared OAuth server's base: its token endpoint is OAuthURL()+"/oauth/token/".
func (h *Host) OAuthURL() string { return h.baseURL }

// ClientID and ClientSecret are the app credentials every portal accepts.
func (h *Host) ClientID() string     { return h.opts.ClientID }
func (h *Host) ClientSecret() string { return h.opts.ClientSecret }

// Portals returns the portals served, in the order they were added.
func (h *Host) Portals() []*Portal {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return append([]*Portal(nil), h.order...)
}

// Portal returns the portal of a name ("p0001") or domain, or nil.
func (h *Host) Portal(nameOrDomain string) *Portal {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if p := h.byName[nameOrDomain]; p != nil {
		return p
	}
	return h.byDomain[strings.ToLower(nameOrDomain)]
}

// PortalByMember returns the portal of a member_id, or nil.
func (h *Host) PortalByMember(memberID string) *Portal {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.byMember[memberID]
}

// OAuthRequests counts token requests that named no portal's token (those
// that did count in their portal's Stats).
func (h *Host) OAuthRequests() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.oauthReqs
}

// Name is a hosted portal's name on its Host ("p0001"); "" for a portal of its own.
func (p *Portal) Name() string { return p.name }

// Domain is the portal's domain as auth[domain] reports it.
func (p *Portal) Domain() string { return p.opts.Domain }

// serveREST routes a REST request to its portal by the Host header, else
// by the path's first segment; anything else is a 404.
func (h *Host) serveREST(w http.ResponseWriter, r *http.Request) {
	host := r.Host
	if hn, _, err := net.SplitHostPort(host); err == nil {
		host = hn
	}
	h.mu.RLock()
	p := h.byDomain[strings.ToLower(host)]
	var rest string
	if p == nil {
		name, tail, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		p, rest = h.byName[name], "/"+tail
	}
	h.mu.RUnlock()
	switch {
	case p == nil:
		http.NotFound(w, r)
		return
	case rest == "":
		if !strings.HasPrefix(r.URL.Path, "/rest/") {
			http.NotFound(w, r)
			return
		}
		p.serveREST(w, r)
		return
	case !strings.HasPrefix(rest, "/rest/"):
		http.NotFound(w, r)
		return
	}
	// As http.StripPrefix does: the portal sees /rest/{method}.
	r2 := new(http.Request)
	*r2 = *r
	r2.URL = new(url.URL)
	*r2.URL = *r.URL
	r2.URL.Path, r2.URL.RawPath = rest, ""
	p.serveREST(w, r2)
}

// serveOAuth is the shared authorization server's /oauth/token/ (see
// Portal.serveOAuth for the request's form): the refresh token or code
// names the portal that answers; one no portal issued is refused as a
// single portal refuses an unknown one.
func (h *Host) serveOAuth(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	get := func(k string) string { return strings.TrimSpace(q.Get(k)) }
	grant := get("refresh_token")
	if get("grant_type") == "authorization_code" {
		grant = get("code")
	}
	var p *Portal
	if len(grant) >= hostTagLen {
		h.mu.RLock()
		p = h.byTag[grant[:hostTagLen]]
		h.mu.RUnlock()
	}
	if p != nil {
		p.serveOAuth(w, r)
		return
	}
	h.mu.Lock()
	h.oauthReqs++
	h.mu.Unlock()
	if r.Method != http.MethodGet {
		refuseTokenPOST(w)
		return
	}
	status, body, ok := checkGrant(get, h.opts.ClientID, h.opts.ClientSecret)
	if ok {
		status, body = unknownGrant(get)
	}
	writeJSON(w, status, body)
}
