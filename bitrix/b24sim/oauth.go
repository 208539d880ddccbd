package b24sim

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// AppScope is the scope the app's card grants; tokens carry it unless a
// reduced scope is asked for with IssueTokensScope.
const AppScope = "crm,catalog,placement,user_brief,bizproc,im"

// authServerName is what the token response reports as "domain": the
// authorization server, never the portal (protocol §2.2).
const authServerName = "oauth.bitrix.info"

const (
	authCodeTTL     = 30 * time.Second
	refreshTokenTTL = 180 * 24 * time.Hour
)

// Tokens is a token pair as the OAuth server, the installer POST or an
// iframe open hands it out.
type Tokens struct {
	AccessToken    string
	RefreshToken   string
	Expires        time.Time // when AccessToken expires
	ExpiresIn      int       // seconds
	UserID         int
	Scope          string
	MemberID       string
	ClientEndpoint string
	ServerEndpoint string
	Domain         string // the auth server's name, as in the token response
	Status         string // the app's status: L, F, D, T, P
}

type accessToken struct {
	userID  int
	scope   []string
	expires time.Time
	dead    bool
}

type refreshToken struct {
	userID  int
	scope   []string
	access  string // the access token issued with it
	expires time.Time
	used    bool
	dead    bool
}

type authCode struct {
	userID  int
	expires time.Time
	used    bool
}

type authState struct {
	access    map[string]*accessToken
	refresh   map[string]*refreshToken
	codes     map[string]*authCode
	refreshes int // successful refresh_token grants
	exchanges int // successful authorization_code grants
	oauthReqs int // every /oauth/token/ request
	status    string
}

func (p *Portal) initAuth() {
	p.auth = authState{
		access:  map[string]*accessToken{},
		refresh: map[string]*refreshToken{},
		codes:   map[string]*authCode{},
		status:  "F",
	}
}

// randToken returns n random lowercase alphanumerics from p.rng. Caller holds p.mu.
func (p *Portal) randToken(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[p.rng.IntN(len(alphabet))]
	}
	return string(b)
}

// randHex returns n random hex digits from p.rng. Caller holds p.mu.
func (p *Portal) randHex(n int) string {
	const alphabet = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[p.rng.IntN(16)]
	}
	return string(b)
}

// newTokenLocked returns a new 32-character token or code; a Host's portal
// starts each with its tag, so the shared OAuth server finds the portal a
// refresh token or code belongs to. Caller holds p.mu.
func (p *Portal) newTokenLocked() string {
	return p.tokenTag + p.randToken(32-len(p.tokenTag))
}

// serverEndpointLocked is server_endpoint, the OAuth server's REST base: a
// Host's shared one, or the portal's own. Caller holds p.mu.
func (p *Portal) serverEndpointLocked() string {
	if p.oauthURL != "" {
		return p.oauthURL + "/rest/"
	}
	return p.baseURL + "/rest/"
}

// issueLocked starts a new token chain for a user. Caller holds p.mu.
func (p *Portal) issueLocked(userID int, scope []string) Tokens {
	now := p.now()
	at, rt := p.newTokenLocked(), p.newTokenLocked()
	exp := now.Add(p.opts.AccessTokenTTL)
	p.auth.access[at] = &accessToken{userID: userID, scope: scope, expires: exp}
	p.auth.refresh[rt] = &refreshToken{userID: userID, scope: scope, access: at, expires: now.Add(refreshTokenTTL)}
	return Tokens{
		AccessToken:    at,
		RefreshToken:   rt,
		Expires:        exp,
		ExpiresIn:      int(p.opts.AccessTokenTTL / time.Second),
		UserID:         userID,
		Scope:          strings.Join(scope, ","),
		MemberID:       p.opts.MemberID,
		ClientEndpoint: p.baseURL + "/rest/",
		ServerEndpoint: p.serverEndpointLocked(),
		Domain:         authServerName,
		Status:         p.auth.status,
	}
}

func splitScope(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

// IssueTokens starts a new token chain for a user with the app's full scope,
// as the installer POST, an iframe open or ONAPPINSTALL hands out.
func (p *Portal) IssueTokens(userID int) Tokens {
	return p.IssueTokensScope(userID, AppScope)
}

// IssueTokensScope is IssueTokens with a given (e.g. reduced) comma-separated scope.
func (p *Portal) IssueTokensScope(userID int, scope string) Tokens {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.issueLocked(userID, splitScope(scope))
}

// AuthCode returns an authorization code for a user, as the redirect after
// /oauth/authorize/ carries; it lives 30 s (by the portal's clock) and works once.
func (p *Portal) AuthCode(userID int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	code := p.newTokenLocked()
	p.auth.codes[code] = &authCode{userID: userID, expires: p.now().Add(authCodeTTL)}
	return code
}

// ExpireAccessTokens makes every access token issued so far expired now;
// REST calls with them answer 401 expired_token. Refresh tokens keep working.
func (p *Portal) ExpireAccessTokens() {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	for _, t := range p.auth.access {
		if t.expires.After(now) {
			t.expires = now.Add(-time.Second)
		}
	}
}

// RevokeAll kills every access and refresh token (e.g. after uninstall).
func (p *Portal) RevokeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.revokeAllLocked()
}

func (p *Portal) revokeAllLocked() {
	for _, t := range p.auth.access {
		t.dead = true
	}
	for _, t := range p.auth.refresh {
		t.dead = true
	}
	p.auth.codes = map[string]*authCode{}
}

// Refreshes counts successful refresh_token grants.
func (p *Portal) Refreshes() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.auth.refreshes
}

// SetAppStatus sets the app's status (L, F, D, T, P) reported by the token
// response, app.info, the installer and events. Default F.
func (p *Portal) SetAppStatus(status string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.auth.status = status
}

// authenticate resolves a REST call's auth token to its user. Called without p.mu.
func (p *Portal) authenticate(token string) (*User, *Error) {
	if token == "" {
		return nil, errorf(401, "NO_AUTH_FOUND", "Wrong authorization data")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.auth.access[token]
	if t == nil || t.dead {
		return nil, errorf(401, "invalid_token", "The access token provided is invalid.")
	}
	if !p.now().Before(t.expires) {
		return nil, errorf(401, "expired_token", "The access token provided has expired.")
	}
	u := p.users[t.userID]
	if u == nil {
		return nil, errorf(401, "invalid_token", "The access token provided is invalid.")
	}
	cp := *u
	return &cp, nil
}

// methodScope is the scope a method needs; "" for the implicit basic scope.
func methodScope(method string) string {
	switch {
	case strings.HasPrefix(method, "crm."):
		return "crm"
	case strings.HasPrefix(method, "placement."):
		return "placement"
	case strings.HasPrefix(method, "catalog."):
		return "catalog"
	case method == "user.current" || method == "user.get" || method == "user.search":
		return "user_brief"
	}
	return ""
}

// checkScope refuses a method the call's token has no scope for. Called without p.mu.
func (p *Portal) checkScope(c *Call) *Error {
	need := methodScope(c.Method)
	if need == "" || c.Token == "" {
		return nil
	}
	p.mu.Lock()
	t := p.auth.access[c.Token]
	p.mu.Unlock()
	if t == nil {
		return nil // not a token-authenticated call (Go-side invocation)
	}
	for _, s := range t.scope {
		if s == need || (need == "user_brief" && (s == "user" || s == "user_basic")) {
			return nil
		}
	}
	return errorf(403, "insufficient_scope", "The request requires higher privileges than provided by the access token")
}

// tokenScope returns the scope list of a live access token. Caller holds p.mu.
func (p *Portal) tokenScope(token string) []string {
	if t := p.auth.access[token]; t != nil {
		return t.scope
	}
	return p.events.appScope()
}

// serveOAuth is the authorization server's /oauth/token/ as
// settings/oauth/auto-renewal.md and settings/oauth/index.md document it: a
// GET with grant_type, client_id, client_secret and the refresh token or
// code in the query string. Other forms are refused.
func (p *Portal) serveOAuth(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		p.mu.Lock()
		p.auth.oauthReqs++
		p.mu.Unlock()
		refuseTokenPOST(w)
		return
	}
	q := r.URL.Query()
	get := func(k string) string { return strings.TrimSpace(q.Get(k)) }
	p.mu.Lock()
	p.auth.oauthReqs++
	status, body := p.grantLocked(get)
	p.mu.Unlock()
	writeJSON(w, status, body)
}

// refuseTokenPOST answers a token request that is not a GET.
func refuseTokenPOST(w http.ResponseWriter) {
	writeJSON(w, 400, map[string]any{"error": "invalid_request",
		"error_description": "The token request is a GET with its parameters in the query string"})
}

func oauthError(status int, code, desc string) (int, map[string]any) {
	return status, map[string]any{"error": code, "error_description": desc}
}

// checkGrant refuses a token request that fails before its token or code
// is looked up: an unsupported grant_type, the wrong client, no refresh
// token. ok is false with the answer when it does.
func checkGrant(get func(string) string, clientID, clientSecret string) (status int, body map[string]any, ok bool) {
	grant := get("grant_type")
	if grant != "refresh_token" && grant != "authorization_code" {
		status, body = oauthError(400, "invalid_request", fmt.Sprintf("Unsupported grant_type %q", grant))
		return status, body, false
	}
	if get("client_id") != clientID || get("client_secret") != clientSecret {
		status, body = oauthError(401, "invalid_client", "Invalid client credentials")
		return status, body, false
	}
	if grant == "refresh_token" && get("refresh_token") == "" {
		status, body = oauthError(400, "invalid_request", "Refresh token is missing")
		return status, body, false
	}
	return 0, nil, true
}

// unknownGrant is the answer to a well-formed request whose refresh token
// or code no portal issued.
func unknownGrant(get func(string) string) (int, map[string]any) {
	if get("grant_type") == "authorization_code" {
		return oauthError(400, "invalid_grant", "Invalid authorization code")
	}
	return oauthError(400, "invalid_grant", "Invalid refresh token")
}

// grantLocked answers one token request. Caller holds p.mu.
func (p *Portal) grantLocked(get func(string) string) (int, map[string]any) {
	if status, body, ok := checkGrant(get, p.opts.ClientID, p.opts.ClientSecret); !ok {
		return status, body
	}
	now := p.now()
	var userID int
	var scope []string
	switch get("grant_type") {
	case "refresh_token":
		t := p.auth.refresh[get("refresh_token")]
		if t == nil || t.used || t.dead || !now.Before(t.expires) {
			return unknownGrant(get)
		}
		t.used = true
		if at := p.auth.access[t.access]; at != nil {
			at.dead = true
		}
		userID, scope = t.userID, t.scope
		p.auth.refreshes++
	case "authorization_code":
		code := get("code")
		c := p.auth.codes[code]
		if c == nil || c.used || !now.Before(c.expires) {
			return unknownGrant(get)
		}
		c.used = true
		userID, scope = c.userID, p.events.appScope()
		p.auth.exchanges++
	}
	tk := p.issueLocked(userID, scope)
	return 200, map[string]any{
		"access_token":    tk.AccessToken,
		"client_endpoint": tk.ClientEndpoint,
		"domain":          tk.Domain,
		"expires":         tk.Expires.Unix(),
		"expires_in":      tk.ExpiresIn,
		"member_id":       tk.MemberID,
		"refresh_token":   tk.RefreshToken,
		"scope":           tk.Scope,
		"server_endpoint": tk.ServerEndpoint,
		"status":          tk.Status,
		"user_id":         tk.UserID,
	}
}
