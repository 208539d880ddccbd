package bitrix

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/bsm/redislock"
	"golang.org/x/oauth2"
)

// Token is one portal's OAuth grant and where to use it.
type Token struct {
	MemberID       string    `json:"member_id"`
	AccessToken    string    `json:"access_token"`
	RefreshToken   string    `json:"refresh_token"`
	Expiry         time.Time `json:"expiry"`          // access token expiry; zero if unknown
	ClientEndpoint string    `json:"client_endpoint"` // REST base, e.g. https://portal.bitrix24.com/rest/
	ServerEndpoint string    `json:"server_endpoint"` // OAuth server's REST base
	Domain         string    `json:"domain"`          // portal host
	Scope          string    `json:"scope"`
	Status         string    `json:"status"` // L, F, D, T, P
	UserID         ID        `json:"user_id"`
	// IssuedAt is when the OAuth server issued this pair: the refresh
	// token's age, which the keep-alive of idle portals reads.
	IssuedAt time.Time `json:"issued_at,omitzero"`
}

// TokenStore keeps tokens durably, one per portal. Implementations must be
// safe for concurrent use; several processes share the same store.
type TokenStore interface {
	// Load returns the stored token; an error wrapping ErrNoToken for an
	// unknown portal, one matching ErrNeedsReauth after MarkNeedsReauth.
	Load(ctx context.Context, memberID string) (*Token, error)
	// Save stores t under t.MemberID, replacing the previous token.
	Save(ctx context.Context, t *Token) error
	// MarkNeedsReauth records that the portal's tokens are dead.
	MarkNeedsReauth(ctx context.Context, memberID string, cause error) error
}

// MemoryTokenStore is a TokenStore in memory, for tests and demos.
type MemoryTokenStore struct {
	mu     sync.Mutex
	tokens map[string]Token
	reauth map[string]error
	saves  int
}

// NewMemoryTokenStore returns a store holding copies of tokens.
func NewMemoryTokenStore(tokens ...*Token) *MemoryTokenStore {
	s := &MemoryTokenStore{tokens: make(map[string]Token), reauth: make(map[string]error)}
	for _, t := range tokens {
		s.tokens[t.MemberID] = *t
	}
	return s
}

// Load implements TokenStore.
func (s *MemoryTokenStore) Load(_ context.Context, memberID string) (*Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cause, ok := s.reauth[memberID]; ok {
		return nil, &ReauthError{MemberID: memberID, Err: cause}
	}
	t, ok := s.tokens[memberID]
	if !ok {
		return nil, fmt.Errorf("portal %s: %w", memberID, ErrNoToken)
	}
	return &t, nil
}

// Save implements TokenStore. Saving clears a needs-reauth mark.
func (s *MemoryTokenStore) Save(_ context.Context, t *Token) error {
	if t.MemberID == "" {
		return errors.New("bitrix: save token: empty member_id")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[t.MemberID] = *t
	delete(s.reauth, t.MemberID)
	s.saves++
	return nil
}

// MarkNeedsReauth implements TokenStore.
func (s *MemoryTokenStore) MarkNeedsReauth(_ context.Context, memberID string, cause error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cause == nil {
		cause = ErrNeedsReauth
	}
	s.reauth[memberID] = cause
	return nil
}

// NeedsReauth reports whether MarkNeedsReauth was called for the portal.
func (s *MemoryTokenStore) NeedsReauth(memberID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.reauth[memberID]
	return ok
}

// Saves returns how many times Save was called.
func (s *MemoryTokenStore) Saves() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.saves
}

// reauthCodes are OAuth and REST answers after which the stored grant can
// never work again. invalid_client is not among them: it more likely means
// this application is misconfigured than that the portal is gone.
var reauthCodes = []string{CodeInvalidGrant, CodeInvalidToken, CodePaymentRequired, CodeNoAuthFound}

const refreshTimeout = 30 * time.Second

// Token returns the portal's current access token, refreshing it if its
// stored expiry has passed.
func (p *PortalClient) Token(ctx context.Context) (*Token, error) {
	t, err := p.c.token(ctx, p.memberID)
	if err != nil {
		return nil, err
	}
	cp := *t
	return &cp, nil
}

// fresh reports whether t may be used as it is. A token is renewed shortly
// before it expires, when a call is about to be made: TokenEarlyExpiry
// before, or a tenth of its lifetime when that is shorter (a portal that
// issues short-lived tokens would otherwise see every call renew them).
func (c *Client) fresh(t *Token) bool {
	if t == nil || t.AccessToken == "" {
		return false
	}
	if t.Expiry.IsZero() {
		return true
	}
	early := c.cfg.TokenEarlyExpiry
	if !t.IssuedAt.IsZero() && t.Expiry.After(t.IssuedAt) {
		early = min(early, t.Expiry.Sub(t.IssuedAt)/10)
	}
	return c.clock.Now().Add(early).Before(t.Expiry)
}

func (c *Client) cached(memberID string) *Token {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tokens[memberID]
}

func (c *Client) setToken(t *Token) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tokens[t.MemberID] = t
}

func (c *Client) dropToken(memberID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.tokens, memberID)
}

// token returns a usable token: the cached one, else the stored one, else a
// refreshed one.
func (c *Client) token(ctx context.Context, memberID string) (*Token, error) {
	if t := c.cached(memberID); c.fresh(t) {
		return t, nil
	}
	v, err, _ := c.sf.Do("load:"+memberID, func() (any, error) {
		t, err := c.store.Load(ctx, memberID)
		if err != nil {
			return nil, fmt.Errorf("bitrix: load token: %w", err)
		}
		t.MemberID = memberID
		if c.fresh(t) {
			c.setToken(t)
			return t, nil
		}
		return c.refresh(ctx, memberID, t.AccessToken)
	})
	if err != nil {
		return nil, err
	}
	return v.(*Token), nil
}

// refresh replaces the access token that failed (or expired). One refresh
// runs per portal in this process (singleflight) and across processes (a
// Redis lock); after taking the lock the store is re-read, and if another
// process already replaced the failed token its result is used instead of
// spending the refresh token a second time. The new pair is saved before it
// is used.
func (c *Client) refresh(ctx context.Context, memberID, failed string) (*Token, error) {
	v, err, _ := c.sf.Do("refresh:"+memberID, func() (any, error) {
		// Once the OAuth server has rotated the pair, the new one must reach
		// the store even if the caller gives up.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), refreshTimeout)
		defer cancel()
		var t *Token
		err := c.withPortalLock(ctx, memberID, func() error {
			cur, err := c.store.Load(ctx, memberID)
			if err != nil {
				return fmt.Errorf("bitrix: load token: %w", err)
			}
			cur.MemberID = memberID
			if cur.AccessToken != failed && c.fresh(cur) {
				t = cur
				return nil
			}
			if cur.RefreshToken == "" {
				return c.markReauth(ctx, memberID, errors.New("no refresh token stored"))
			}
			start := c.clock.Now()
			nt, err := c.ExchangeRefreshToken(ctx, cur.RefreshToken)
			info := RequestInfo{MemberID: memberID, Method: "oauth.token", Attempt: 1, Duration: c.clock.Now().Sub(start), Err: err}
			if ae, ok := apiErrorOf(err); ok {
				info.Status, info.ErrorCode = ae.Status, ae.Code
			}
			c.report(ctx, info)
			if err != nil {
				if hasCode(err, reauthCodes...) {
					return c.markReauth(ctx, memberID, err)
				}
				return fmt.Errorf("bitrix: refresh portal %s: %w", memberID, err)
			}
			if nt.MemberID != "" && nt.MemberID != memberID {
				return fmt.Errorf("bitrix: refresh portal %s: OAuth server answered for member %s", memberID, nt.MemberID)
			}
			mergeToken(nt, cur)
			t = nt
			var serr error
			for i := 0; i < 3; i++ {
				if serr = c.store.Save(ctx, nt); serr == nil {
					break
				}
			}
			if serr != nil {
				// The old pair is already dead: keep using the new one here.
				c.setToken(nt)
				c.report(ctx, RequestInfo{MemberID: memberID, Method: "oauth.token", Err: fmt.Errorf("bitrix: save refreshed token: %w", serr)})
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		c.setToken(t)
		return t, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*Token), nil
}

// mergeToken fills what a refresh answer leaves out from the previous token.
func mergeToken(nt, prev *Token) {
	nt.MemberID = prev.MemberID
	if nt.ClientEndpoint == "" {
		nt.ClientEndpoint = prev.ClientEndpoint
	}
	if nt.ServerEndpoint == "" {
		nt.ServerEndpoint = prev.ServerEndpoint
	}
	if nt.Domain == "" {
		nt.Domain = prev.Domain
	}
	if nt.Scope == "" {
		nt.Scope = prev.Scope
	}
	if nt.Status == "" {
		nt.Status = prev.Status
	}
	if nt.UserID == 0 {
		nt.UserID = prev.UserID
	}
}

func (c *Client) withPortalLock(ctx context.Context, memberID string, fn func() error) error {
	lock, err := c.locker.Obtain(ctx, c.cfg.Key(memberID, "lock:oauth"), refreshTimeout,
		&redislock.Options{RetryStrategy: redislock.LinearBackoff(20 * time.Millisecond)})
	if err != nil {
		return fmt.Errorf("bitrix: lock portal %s: %w", memberID, err)
	}
	defer func() { _ = lock.Release(context.WithoutCancel(ctx)) }()
	return fn()
}

func (c *Client) markReauth(ctx context.Context, memberID string, cause error) error {
	c.dropToken(memberID)
	rerr := &ReauthError{MemberID: memberID, Err: cause}
	if err := c.store.MarkNeedsReauth(ctx, memberID, cause); err != nil {
		return errors.Join(rerr, fmt.Errorf("bitrix: mark portal %s: %w", memberID, err))
	}
	return rerr
}

// saveEndpoint records a renamed portal's endpoint, under the portal lock so
// that it cannot overwrite a token refreshed meanwhile.
func (c *Client) saveEndpoint(ctx context.Context, memberID, oldEP, newEP string) error {
	err := c.withPortalLock(ctx, memberID, func() error {
		t, err := c.store.Load(ctx, memberID)
		if err != nil {
			return err
		}
		t.MemberID = memberID
		t.ClientEndpoint = newEP
		if u, err := url.Parse(newEP); err == nil {
			t.Domain = u.Host
		}
		if err := c.store.Save(ctx, t); err != nil {
			return err
		}
		c.setToken(t)
		return nil
	})
	if err != nil {
		return fmt.Errorf("bitrix: portal %s: save new endpoint %s: %w", memberID, newEP, err)
	}
	if c.cfg.OnEndpointChange != nil {
		c.cfg.OnEndpointChange(ctx, memberID, oldEP, newEP)
	}
	return nil
}

// InstallPortal verifies an installer POST at the configured OAuth server
// and stores the portal's tokens. The installer's REFRESH_ID is exchanged
// (never a host taken from the request), and the answer must name the
// posted member_id, so a forged install cannot overwrite another portal's
// tokens. The returned token is the stored one; it carries the
// client_endpoint the OAuth server reported.
//
// Each authorize function runs after those checks and before anything is
// saved, with the new token (its ClientEndpoint is the trusted one); an
// error refuses the install. The app uses it to require an administrator.
func (c *Client) InstallPortal(ctx context.Context, f *FrameRequest, authorize ...func(context.Context, *Token) error) (*Token, error) {
	if f == nil || f.RefreshID == "" || f.MemberID == "" {
		return nil, errors.New("bitrix: install: REFRESH_ID and member_id are required")
	}
	t, err := c.ExchangeRefreshToken(ctx, f.RefreshID)
	if err != nil {
		return nil, fmt.Errorf("bitrix: install portal %s: %w", f.MemberID, err)
	}
	if t.MemberID != f.MemberID {
		return nil, fmt.Errorf("bitrix: install: OAuth server answered for member %q, request claims %q", t.MemberID, f.MemberID)
	}
	if t.ClientEndpoint == "" {
		return nil, fmt.Errorf("bitrix: install portal %s: OAuth server sent no client_endpoint", f.MemberID)
	}
	if err := c.checkEndpoint(t.ClientEndpoint); err != nil {
		return nil, fmt.Errorf("bitrix: install portal %s: %w", f.MemberID, err)
	}
	for _, auth := range authorize {
		if err := auth(ctx, t); err != nil {
			return nil, fmt.Errorf("bitrix: install portal %s: %w", f.MemberID, err)
		}
	}
	if t.Scope == "" {
		t.Scope = strings.Join(f.Scope, ",")
	}
	err = c.withPortalLock(ctx, t.MemberID, func() error { return c.store.Save(ctx, t) })
	if err != nil {
		return nil, fmt.Errorf("bitrix: install portal %s: save: %w", t.MemberID, err)
	}
	c.setToken(t)
	return t, nil
}

// TokenSource returns the portal's token as an oauth2.TokenSource, for code
// that wants the standard interface. Each Token call refreshes as needed.
func (p *PortalClient) TokenSource(ctx context.Context) oauth2.TokenSource {
	return portalTokenSource{ctx: ctx, p: p}
}

type portalTokenSource struct {
	ctx context.Context
	p   *PortalClient
}

func (s portalTokenSource) Token() (*oauth2.Token, error) {
	t, err := s.p.Token(s.ctx)
	if err != nil {
		return nil, err
	}
	return &oauth2.Token{AccessToken: t.AccessToken, RefreshToken: t.RefreshToken, Expiry: t.Expiry}, nil
}

// ExchangeRefreshToken trades a refresh token for a new pair at the
// configured OAuth server. It does not touch the store: the install handler
// uses it to verify an installer's REFRESH_ID and learn the portal's
// member_id and client_endpoint from a trusted source.
func (c *Client) ExchangeRefreshToken(ctx context.Context, refreshToken string) (*Token, error) {
	if refreshToken == "" {
		return nil, errors.New("bitrix: empty refresh token")
	}
	return c.exchange(ctx, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}})
}

// ExchangeCode trades an authorization code (valid 30 s) for a token pair.
func (c *Client) ExchangeCode(ctx context.Context, code string) (*Token, error) {
	if code == "" {
		return nil, errors.New("bitrix: empty authorization code")
	}
	return c.exchange(ctx, url.Values{"grant_type": {"authorization_code"}, "code": {code}})
}

// tokenAnswer is the OAuth server's answer (settings/oauth/auto-renewal.md).
type tokenAnswer struct {
	AccessToken      string          `json:"access_token"`
	RefreshToken     string          `json:"refresh_token"`
	ExpiresIn        flexInt         `json:"expires_in"`
	MemberID         string          `json:"member_id"`
	ClientEndpoint   string          `json:"client_endpoint"`
	ServerEndpoint   string          `json:"server_endpoint"`
	Scope            string          `json:"scope"`
	Status           string          `json:"status"`
	UserID           json.RawMessage `json:"user_id"`
	Error            json.RawMessage `json:"error"`
	ErrorDescription json.RawMessage `json:"error_description"`
}

// exchange asks the OAuth server for a token pair in the form the docs give
// (settings/oauth/auto-renewal.md, settings/oauth/index.md): a GET of
// {OAuthURL}/oauth/token/ with grant_type, client_id, client_secret and the
// grant in the query string. The query carries the secret, so no error
// returned here quotes the URL.
func (c *Client) exchange(ctx context.Context, grant url.Values) (*Token, error) {
	q := url.Values{"client_id": {c.cfg.ClientID}, "client_secret": {c.cfg.ClientSecret}}
	for k, v := range grant {
		q[k] = v
	}
	resp, err := c.http.R().SetContext(ctx).SetQueryParamsFromValues(q).Get(c.cfg.OAuthURL + "/oauth/token/")
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("bitrix: oauth token: %w", err)
	}
	status, body := resp.StatusCode(), resp.Body()
	var a tokenAnswer
	if jerr := json.Unmarshal(body, &a); jerr != nil {
		return nil, &UnexpectedResponseError{Method: "oauth.token", Status: status, ContentType: resp.Header().Get("Content-Type"), Snippet: snippet(body)}
	}
	if code := rawString(a.Error); code != "" || status >= 400 {
		if code == "" {
			return nil, &UnexpectedResponseError{Method: "oauth.token", Status: status, ContentType: resp.Header().Get("Content-Type"), Snippet: snippet(body)}
		}
		return nil, &APIError{Code: code, Description: rawString(a.ErrorDescription), Status: status, Method: "oauth.token"}
	}
	if a.AccessToken == "" {
		return nil, &UnexpectedResponseError{Method: "oauth.token", Status: status, ContentType: resp.Header().Get("Content-Type"), Snippet: "no access_token in the answer"}
	}
	now := c.clock.Now()
	nt := &Token{
		AccessToken:    a.AccessToken,
		RefreshToken:   a.RefreshToken,
		MemberID:       a.MemberID,
		ClientEndpoint: a.ClientEndpoint,
		ServerEndpoint: a.ServerEndpoint,
		Scope:          a.Scope,
		Status:         a.Status,
		IssuedAt:       now,
	}
	if id, err := ParseID(rawString(a.UserID)); err == nil {
		nt.UserID = id
	}
	if u, err := url.Parse(nt.ClientEndpoint); err == nil {
		nt.Domain = u.Host // the answer's "domain" is the OAuth server's
	}
	// Expiry from our clock, so tests that move time see consistent values;
	// an absurd lifetime (over a year) is taken as unknown.
	if secs := int64(a.ExpiresIn); secs > 0 && secs <= 366*24*3600 {
		nt.Expiry = now.Add(time.Duration(secs) * time.Second)
	}
	return nt, nil
}
