package bitrix

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/bsm/redislock"
	"github.com/go-redis/redis_rate/v10"
	"github.com/go-resty/resty/v2"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"
)

// DefaultOAuthURL is the authorization server of the western region.
const DefaultOAuthURL = "https://oauth.bitrix.info"

// Clock is the time source. Sleep returns early with ctx.Err() when ctx ends.
type Clock interface {
	Now() time.Time
	Sleep(ctx context.Context, d time.Duration) error
}

// SystemClock is the wall clock, the default Config.Clock.
var SystemClock Clock = realClock{}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// RequestInfo describes one HTTP request to a portal or the OAuth server,
// for metrics and logs (Config.OnRequest).
type RequestInfo struct {
	MemberID    string
	Method      string // REST method, "batch", or "oauth.token"
	Commands    int    // number of commands of a batch
	Attempt     int    // 1 for the first try of a call
	Status      int    // HTTP status; 0 when no answer arrived
	ErrorCode   string // Bitrix24 error code, if any
	Err         error  // the attempt's error, if any
	Duration    time.Duration
	LimiterWait time.Duration // time spent waiting for budget and pauses before the request
}

// Config configures a Client. Redis and Tokens are required.
type Config struct {
	ClientID     string
	ClientSecret string
	// OAuthURL is the authorization server base; the token endpoint is
	// {OAuthURL}/oauth/token/. Default DefaultOAuthURL.
	OAuthURL string
	// HTTPClient is copied (redirects are handled by the client, so its
	// CheckRedirect is replaced in the copy). Default: 70 s timeout.
	HTTPClient *http.Client
	// Redis holds the shared request budget, method pauses and refresh locks.
	Redis redis.UniversalClient
	// Tokens loads and saves each portal's tokens.
	Tokens TokenStore
	// Profile returns the portal's rate-limit profile (from its plan, see
	// ProfileForLicense). Nil means StandardProfile for every portal.
	Profile func(ctx context.Context, memberID string) (Profile, error)
	// AllowHTTP accepts http:// portal endpoints (local simulators only).
	AllowHTTP bool
	// OnRequest is called after every HTTP request.
	OnRequest func(ctx context.Context, info RequestInfo)
	// OnOperating is called with a method's operating time (seconds used of
	// its budget in the last 10 minutes) whenever an answer reports it:
	// for a call, and for each method run inside a batch.
	OnOperating func(ctx context.Context, memberID, method string, seconds float64)
	// OnEndpointChange is called after a renamed portal's new endpoint was
	// saved to the store.
	OnEndpointChange func(ctx context.Context, memberID, oldEndpoint, newEndpoint string)
	// Clock defaults to the system clock; Rand (uniform in [0,1)) to math/rand/v2.
	Clock Clock
	Rand  func() float64
	// UserAgent sent with every request. Default "segmentor-bitrix/1".
	UserAgent string
	// Key names the client's Redis key of one portal: its request budget
	// ("rl"), urgent turns, method pauses ("ops") and refresh lock. Default
	// "b24:<name>:<member_id>"; the application puts them under the
	// portal's hash tag (internal/keyspace).
	Key func(memberID, name string) string
	// MaxRetries bounds repeats of reads after transport errors and 5xx
	// answers. Default 3; negative disables.
	MaxRetries int
	// MaxLimitRetries bounds repeats after QUERY_LIMIT_EXCEEDED and
	// OPERATION_TIME_LIMIT. Default 6; negative disables.
	MaxLimitRetries int
	// RetryWait and RetryMaxWait shape the jittered exponential backoff.
	// Defaults 500 ms and 30 s.
	RetryWait    time.Duration
	RetryMaxWait time.Duration
	// OperatingBudget is a method's time budget per 10 minutes. Default 480 s.
	OperatingBudget time.Duration
	// OperatingPause is how long a method is paused after
	// OPERATION_TIME_LIMIT when no operating_reset_at is known. Default 60 s.
	OperatingPause time.Duration
	// TokenEarlyExpiry refreshes tokens this long before their stored expiry.
	// Default 5 min.
	TokenEarlyExpiry time.Duration
}

// Client is a Bitrix24 REST client for one application and any number of
// portals. It is safe for concurrent use; create one per process.
type Client struct {
	cfg     Config
	http    *resty.Client
	clock   Clock
	rand    func() float64
	limiter *redis_rate.Limiter
	locker  *redislock.Client
	rdb     redis.UniversalClient
	store   TokenStore
	sf      singleflight.Group

	mu     sync.Mutex
	tokens map[string]*Token // cache by member_id
}

// NewClient returns a Client for cfg.
func NewClient(cfg Config) (*Client, error) {
	if cfg.Redis == nil {
		return nil, errors.New("bitrix: Config.Redis is required")
	}
	if cfg.Tokens == nil {
		return nil, errors.New("bitrix: Config.Tokens is required")
	}
	if cfg.OAuthURL == "" {
		cfg.OAuthURL = DefaultOAuthURL
	}
	cfg.OAuthURL = strings.TrimRight(cfg.OAuthURL, "/")
	if _, err := url.Parse(cfg.OAuthURL); err != nil {
		return nil, fmt.Errorf("bitrix: Config.OAuthURL: %w", err)
	}
	if cfg.Clock == nil {
		cfg.Clock = SystemClock
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Float64
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "segmentor-bitrix/1"
	}
	if cfg.Key == nil {
		cfg.Key = func(memberID, name string) string { return "b24:" + name + ":" + memberID }
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = 3
	}
	if cfg.MaxLimitRetries == 0 {
		cfg.MaxLimitRetries = 6
	}
	if cfg.RetryWait <= 0 {
		cfg.RetryWait = 500 * time.Millisecond
	}
	if cfg.RetryMaxWait <= 0 {
		cfg.RetryMaxWait = 30 * time.Second
	}
	if cfg.OperatingBudget <= 0 {
		cfg.OperatingBudget = 480 * time.Second
	}
	if cfg.OperatingPause <= 0 {
		cfg.OperatingPause = 60 * time.Second
	}
	if cfg.TokenEarlyExpiry <= 0 {
		cfg.TokenEarlyExpiry = 5 * time.Minute
	}
	hc := &http.Client{Timeout: 70 * time.Second}
	if cfg.HTTPClient != nil {
		cp := *cfg.HTTPClient
		hc = &cp
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	cfg.HTTPClient = hc
	rc := resty.NewWithClient(hc).
		SetLogger(discardLogger{}).
		SetHeader("User-Agent", cfg.UserAgent).
		SetHeader("Accept", "application/json").
		SetResponseBodyLimit(256 << 20)
	return &Client{
		cfg:     cfg,
		http:    rc,
		clock:   cfg.Clock,
		rand:    cfg.Rand,
		limiter: redis_rate.NewLimiter(cfg.Redis),
		locker:  redislock.New(cfg.Redis),
		rdb:     cfg.Redis,
		store:   cfg.Tokens,
		tokens:  make(map[string]*Token),
	}, nil
}

type discardLogger struct{}

func (discardLogger) Errorf(string, ...any) {}
func (discardLogger) Warnf(string, ...any)  {}
func (discardLogger) Debugf(string, ...any) {}

// Portal is a handle on one installed portal. It is cheap; make one per use.
type PortalClient struct {
	c        *Client
	memberID string
	user     *userGrant // set by AsUser: calls use this token instead of the stored grant
}

// userGrant is an access token a portal sent us (a user's page or card tab
// opening, an event) and where and how long it may be used.
type userGrant struct {
	token    string
	endpoint string
	maxWait  time.Duration
}

// DefaultUserWait is how long a call with a user's token waits for its turn
// in the portal's budget when AsUser is given none: someone is waiting in
// front of a screen, so a busy portal is said, not waited out.
const DefaultUserWait = 3 * time.Second

// userCallTimeout bounds one call with a user's token.
const userCallTimeout = 10 * time.Second

// AsUser returns a handle on the portal for calls with an access token the
// portal sent us rather than its stored grant. The calls go to endpoint
// (the portal's stored one, never one taken from the request), are never
// refreshed (a refused token is the answer) nor redirected (the token must
// not reach a host we did not choose), and each takes its turn in the
// portal's shared budget ahead of the application's own requests (see
// reserve), waiting at most maxWait (0: DefaultUserWait) before answering a
// *RateLimitedError. One attempt each.
func (c *Client) AsUser(memberID, endpoint, accessToken string, maxWait time.Duration) *PortalClient {
	if maxWait <= 0 {
		maxWait = DefaultUserWait
	}
	return &PortalClient{c: c, memberID: memberID, user: &userGrant{token: accessToken, endpoint: endpoint, maxWait: maxWait}}
}

// Portal returns the handle for the portal with this member_id.
func (c *Client) Portal(memberID string) *PortalClient {
	return &PortalClient{c: c, memberID: memberID}
}

// Forget drops the client's cached token of a portal, e.g. after the
// application was uninstalled there.
func (c *Client) Forget(memberID string) { c.dropToken(memberID) }

// MemberID returns the portal's member_id.
func (p *PortalClient) MemberID() string { return p.memberID }

// Timing is the time block of a response. Operating is the method's summed
// execution time (seconds) over the last 10 minutes; OperatingResetAt is
// when its oldest minute drops out. Both are absent outside the cloud.
type Timing struct {
	Start            float64 `json:"start"`
	Finish           float64 `json:"finish"`
	Duration         float64 `json:"duration"`
	Processing       float64 `json:"processing"`
	DateStart        string  `json:"date_start"`
	DateFinish       string  `json:"date_finish"`
	Operating        float64 `json:"operating"`
	OperatingResetAt int64   `json:"operating_reset_at"`
}

// UnmarshalJSON accepts numbers sent as numbers or strings.
func (t *Timing) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil // a malformed time block is not worth failing a call for
	}
	num := func(k string) float64 {
		v, ok := raw[k]
		if !ok {
			return 0
		}
		s, _, err := unquote(v)
		if err != nil {
			return 0
		}
		var f float64
		_, _ = fmt.Sscan(s, &f)
		return f
	}
	str := func(k string) string {
		var s string
		_ = json.Unmarshal(raw[k], &s)
		return s
	}
	*t = Timing{
		Start: num("start"), Finish: num("finish"), Duration: num("duration"), Processing: num("processing"),
		DateStart: str("date_start"), DateFinish: str("date_finish"),
		Operating: num("operating"), OperatingResetAt: int64(num("operating_reset_at")),
	}
	return nil
}

// Response is the envelope of a successful call.
type Response struct {
	StatusCode  int
	Header      http.Header
	Result      json.RawMessage // the raw "result"
	Total       int             // "total" of list methods (0 with start=-1)
	Next        int             // "next" start value; valid when HasNext
	HasNext     bool
	Time        Timing
	Endpoint    string // the client_endpoint the call went to
	Attempts    int
	LimiterWait time.Duration // total time waited for budget and pauses
}

type envelope struct {
	Result           json.RawMessage `json:"result"`
	Error            json.RawMessage `json:"error"`
	ErrorDescription json.RawMessage `json:"error_description"`
	Total            *flexInt        `json:"total"`
	Next             *flexInt        `json:"next"`
	Time             *Timing         `json:"time"`
}

func rawString(b json.RawMessage) string {
	if len(b) == 0 || string(b) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(b, &s) == nil {
		return s
	}
	return string(b)
}

// decodeEnvelope checks an answer: an "error" key is an error whatever the
// status; a body that is not a JSON object is an UnexpectedResponseError.
func decodeEnvelope(method string, status int, contentType string, body []byte) (*envelope, error) {
	var env envelope
	trimmed := strings.TrimSpace(string(body))
	if !strings.HasPrefix(trimmed, "{") || json.Unmarshal(body, &env) != nil {
		return nil, &UnexpectedResponseError{Method: method, Status: status, ContentType: contentType, Snippet: snippet(body)}
	}
	if len(env.Error) > 0 && string(env.Error) != "null" {
		return &env, &APIError{Code: rawString(env.Error), Description: rawString(env.ErrorDescription), Status: status, Method: method}
	}
	if status >= 400 {
		return &env, &APIError{Description: http.StatusText(status), Status: status, Method: method}
	}
	return &env, nil
}

// snippet returns a short, log-friendly view of a body: an HTML page's
// title, or its first 200 bytes.
func snippet(b []byte) string {
	s := string(b)
	// Lower-case ASCII only: strings.ToLower turns each invalid UTF-8 byte
	// into a 3-byte U+FFFD, and indexes into low must hold in s.
	low := []byte(s)
	for i, c := range low {
		if 'A' <= c && c <= 'Z' {
			low[i] = c + ('a' - 'A')
		}
	}
	if i := bytes.Index(low, []byte("<title>")); i >= 0 {
		if j := bytes.Index(low[i:], []byte("</title>")); j > 0 {
			return strings.TrimSpace(s[i+7 : i+j])
		}
	}
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// request is one REST request as the retry loop sends it.
type request struct {
	method   string   // "crm.deal.get" or "batch"
	params   []byte   // JSON object, without auth
	read     bool     // safe to repeat after it may have run
	methods  []string // methods whose operating budget it spends
	commands int
}

// Call invokes a REST method with params (anything that encodes to a JSON
// object; nil for none) and decodes "result" into out (skipped when nil).
func (p *PortalClient) Call(ctx context.Context, method string, params any, out any) (*Response, error) {
	if err := validMethod(method); err != nil {
		return nil, err
	}
	if strings.EqualFold(method, "batch") {
		return nil, errors.New("bitrix: use Portal.Batch for batch")
	}
	body, err := marshalParams(params)
	if err != nil {
		return nil, err
	}
	resp, _, err := p.do(ctx, &request{method: method, params: body, read: IsReadMethod(method), methods: []string{method}})
	if err != nil {
		return resp, err
	}
	if err := decodeResult(resp.Result, out); err != nil {
		return resp, fmt.Errorf("bitrix: %s: decode result: %w", method, err)
	}
	return resp, nil
}

// decodeResult decodes a result into out (skipped when nil), reading PHP's
// empty array as an empty object when out is not a slice.
func decodeResult(raw json.RawMessage, out any) error {
	if out == nil || len(raw) == 0 {
		return nil
	}
	err := json.Unmarshal(raw, out)
	if err != nil && strings.TrimSpace(string(raw)) == "[]" {
		return json.Unmarshal([]byte("{}"), out)
	}
	return err
}

// doAsUser sends rq once with the user's token (AsUser).
func (p *PortalClient) doAsUser(ctx context.Context, rq *request) (*Response, *envelope, error) {
	c, g := p.c, p.user
	endpoint := g.endpoint
	if !strings.HasSuffix(endpoint, "/") {
		endpoint += "/"
	}
	if err := c.checkEndpoint(endpoint); err != nil {
		return nil, nil, fmt.Errorf("bitrix: portal %s: %w", p.memberID, err)
	}
	wait, err := c.reserve(ctx, p.memberID, rq.method, g.maxWait)
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, userCallTimeout)
	defer cancel()
	start := c.clock.Now()
	hresp, herr := c.http.R().
		SetContext(ctx).
		SetHeader("Content-Type", "application/json").
		SetBody(withAuth(rq.params, g.token)).
		Post(endpoint + rq.method)
	info := RequestInfo{MemberID: p.memberID, Method: rq.method, Attempt: 1, Duration: c.clock.Now().Sub(start), LimiterWait: wait}
	if herr != nil {
		info.Err = fmt.Errorf("bitrix: portal %s: %s with a user's token: %w", p.memberID, rq.method, herr)
		c.report(ctx, info)
		return nil, nil, info.Err
	}
	info.Status = hresp.StatusCode()
	if isRedirect(info.Status) {
		info.Err = fmt.Errorf("bitrix: portal %s: %s with a user's token was redirected; not followed", p.memberID, rq.method)
		c.report(ctx, info)
		return nil, nil, info.Err
	}
	env, err := decodeEnvelope(rq.method, info.Status, hresp.Header().Get("Content-Type"), hresp.Body())
	if err != nil {
		info.Err = err
		if ae, ok := apiErrorOf(err); ok {
			info.ErrorCode = ae.Code
			if ae.HasCode(CodeQueryLimitExceeded) {
				// The bucket is full whoever asked: everyone waits.
				if _, ferr := c.fillBudget(ctx, p.memberID); ferr != nil {
					err = errors.Join(err, ferr)
				}
			}
		}
		c.report(ctx, info)
		return nil, env, err
	}
	c.report(ctx, info)
	return &Response{StatusCode: info.Status, Header: hresp.Header(), Result: env.Result, Endpoint: endpoint, Attempts: 1, LimiterWait: wait}, env, nil
}

// do sends rq, handling budget waits, token refresh, retries and renames.
func (p *PortalClient) do(ctx context.Context, rq *request) (*Response, *envelope, error) {
	if p.user != nil {
		return p.doAsUser(ctx, rq)
	}
	c := p.c
	var (
		refreshed, rechecked          bool
		retries, limitRetries, redirs int
		endpoint                      string // fixed once a redirect moved this call
		totalWait                     time.Duration
	)
	for attempt := 1; ; attempt++ {
		tok, err := c.token(ctx, p.memberID)
		if err != nil {
			return nil, nil, err
		}
		if redirs == 0 {
			// A refresh may have brought a new endpoint.
			if endpoint, err = c.endpointOf(tok); err != nil {
				return nil, nil, err
			}
		}
		wait, err := c.waitBudget(ctx, time.Time{}, p.memberID, rq.method, rq.methods, false)
		totalWait += wait
		if err != nil {
			return nil, nil, err
		}
		start := c.clock.Now()
		hresp, herr := c.http.R().
			SetContext(ctx).
			SetHeader("Content-Type", "application/json").
			SetBody(withAuth(rq.params, tok.AccessToken)).
			Post(endpoint + rq.method)
		info := RequestInfo{MemberID: p.memberID, Method: rq.method, Commands: rq.commands, Attempt: attempt,
			Duration: c.clock.Now().Sub(start), LimiterWait: wait}

		if herr != nil {
			if err := p.transportError(ctx, rq, info, herr, &retries); err != nil {
				return nil, nil, err
			}
			continue
		}
		status := hresp.StatusCode()
		info.Status = status

		if loc := hresp.Header().Get("Location"); isRedirect(status) && loc != "" {
			info.Err = fmt.Errorf("bitrix: portal moved to %s", loc)
			c.report(ctx, info)
			redirs++
			ne, err := c.followRename(ctx, p.memberID, endpoint, rq.method, loc, redirs)
			if err != nil {
				return nil, nil, err
			}
			endpoint = ne
			continue
		}

		env, err := decodeEnvelope(rq.method, status, hresp.Header().Get("Content-Type"), hresp.Body())
		if err != nil {
			info.Err = err
			if ae, ok := apiErrorOf(err); ok {
				info.ErrorCode = ae.Code
			}
			c.report(ctx, info)
			retry, err := p.handleError(ctx, rq, tok, err, &refreshed, &rechecked, &retries, &limitRetries)
			if retry {
				continue
			}
			return nil, env, err
		}
		c.report(ctx, info)
		resp := &Response{StatusCode: status, Header: hresp.Header(), Result: env.Result, Endpoint: endpoint,
			Attempts: attempt, LimiterWait: totalWait}
		p.paging(ctx, rq, env, resp)
		return resp, env, nil
	}
}

// transportError handles a request that got no answer at all: a read is
// tried again after a back-off, up to MaxRetries times (it returns nil
// then); a write is not, since it may have run.
func (p *PortalClient) transportError(ctx context.Context, rq *request, info RequestInfo, herr error, retries *int) error {
	c := p.c
	herr = fmt.Errorf("bitrix: portal %s: %s: %w", p.memberID, rq.method, herr)
	info.Err = herr
	c.report(ctx, info)
	if ctx.Err() != nil || !rq.read || *retries >= c.cfg.MaxRetries {
		return herr
	}
	if err := c.sleep(ctx, p.memberID, rq.method, c.backoff(*retries), "retry", herr); err != nil {
		return err
	}
	*retries++
	return nil
}

// paging copies the envelope's total, next and time into resp, and
// records the method's operating time.
func (p *PortalClient) paging(ctx context.Context, rq *request, env *envelope, resp *Response) {
	if env.Total != nil {
		resp.Total = int(*env.Total)
	}
	if env.Next != nil {
		resp.Next, resp.HasNext = int(*env.Next), true
	}
	if env.Time != nil {
		resp.Time = *env.Time
		if rq.method != "batch" {
			p.c.recordTiming(ctx, p.memberID, rq.method, resp.Time, 0)
		}
	}
}

// handleError decides whether an error answer is worth another attempt,
// doing the wait or the refresh that must come first.
func (p *PortalClient) handleError(ctx context.Context, rq *request, tok *Token, err error,
	refreshed, rechecked *bool, retries, limitRetries *int) (bool, error) {
	c := p.c
	ae, isAPI := apiErrorOf(err)
	switch {
	case isAPI && ae.HasCode(CodeQueryLimitExceeded):
		return p.queryLimited(ctx, rq, err, limitRetries)
	case isAPI && ae.HasCode(CodeOperationTimeLimit):
		// A batch-level 429 names no nested method: pause them all.
		for _, m := range rq.methods {
			if perr := c.pauseMethod(ctx, p.memberID, m); perr != nil {
				return false, errors.Join(err, perr)
			}
		}
		if *limitRetries >= c.cfg.MaxLimitRetries {
			d, _, _, derr := c.methodDelay(ctx, p.memberID, rq.methods)
			if derr != nil {
				return false, errors.Join(err, derr)
			}
			return false, &RateLimitedError{MemberID: p.memberID, Method: rq.method, RetryIn: max(d, c.cfg.RetryWait),
				Reason: "operating", Err: err}
		}
		*limitRetries++
		return true, nil // waitBudget waits for the pause, or says how long
	case isAPI && ae.HasCode(CodeExpiredToken):
		if *refreshed {
			return false, err
		}
		*refreshed = true
		if _, rerr := c.refresh(ctx, p.memberID, tok.AccessToken); rerr != nil {
			return false, rerr
		}
		return true, nil
	case isAPI && ae.HasCode(CodeInvalidToken, CodeNoAuthFound, CodePaymentRequired):
		if *rechecked {
			return false, c.markReauth(ctx, p.memberID, err)
		}
		*rechecked = true
		return p.tokenRefused(ctx, tok, err)
	}
	if rq.read && *retries < c.cfg.MaxRetries && retryableServerError(err) {
		d := c.backoff(*retries)
		*retries++
		if err := c.sleep(ctx, p.memberID, rq.method, d, "retry", err); err != nil {
			return false, err
		}
		return true, nil
	}
	return false, err
}

// queryLimited handles QUERY_LIMIT_EXCEEDED. The request was refused
// before it ran: safe to repeat even a write. The portal's bucket is full
// whatever the shared limiter thought: fill it too, so every process waits
// instead of spending refusals.
func (p *PortalClient) queryLimited(ctx context.Context, rq *request, err error, limitRetries *int) (bool, error) {
	c := p.c
	iv, ferr := c.fillBudget(ctx, p.memberID)
	if ferr != nil {
		return false, errors.Join(err, ferr)
	}
	d := max(c.backoff(*limitRetries), iv)
	if *limitRetries >= c.cfg.MaxLimitRetries {
		// The refusals outlasted the retries: the caller reschedules
		// (a job gives its worker back) after the next backoff step.
		return false, &RateLimitedError{MemberID: p.memberID, Method: rq.method, RetryIn: d, Reason: "query_limit", Err: err}
	}
	*limitRetries++
	if err := c.sleep(ctx, p.memberID, rq.method, d, "query_limit", err); err != nil {
		return false, err
	}
	return true, nil
}

// tokenRefused handles an access token the portal refused for the first
// time. Another process may have refreshed, which kills the old access
// token: re-read once before giving the portal up. The check runs under
// the portal lock, which a refresher holds from its exchange until its
// save: the portal may reject the old token before the new one reaches
// the store.
func (p *PortalClient) tokenRefused(ctx context.Context, tok *Token, err error) (bool, error) {
	c := p.c
	c.dropToken(p.memberID)
	var replaced bool
	lerr := c.withPortalLock(ctx, p.memberID, func() error {
		cur, err := c.store.Load(ctx, p.memberID)
		if err != nil {
			return err
		}
		replaced = cur.AccessToken != tok.AccessToken
		return nil
	})
	if lerr != nil {
		return false, errors.Join(err, lerr)
	}
	if replaced {
		return true, nil
	}
	return false, c.markReauth(ctx, p.memberID, err)
}

func retryableServerError(err error) bool {
	if ae, ok := apiErrorOf(err); ok {
		return ae.Status >= 500 && !ae.HasCode(CodeOverloadLimit, CodePortalDeleted)
	}
	var ue *UnexpectedResponseError
	return errors.As(err, &ue) && (ue.Status >= 500 || ue.Status == 0)
}

func isRedirect(status int) bool {
	switch status {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// backoff returns the n-th (0-based) jittered exponential wait: a random
// point in the upper half of RetryWait·2ⁿ, capped at RetryMaxWait.
func (c *Client) backoff(n int) time.Duration {
	d := c.cfg.RetryWait
	for i := 0; i < n && d < c.cfg.RetryMaxWait; i++ {
		d *= 2
	}
	d = min(d, c.cfg.RetryMaxWait)
	return d/2 + time.Duration(c.rand()*float64(d/2))
}

// sleep waits d, or returns a *RateLimitedError when ctx's deadline comes
// first, so the caller can reschedule instead of holding a worker.
func (c *Client) sleep(ctx context.Context, memberID, method string, d time.Duration, reason string, cause error) error {
	return c.sleepBefore(ctx, time.Time{}, memberID, method, d, reason, cause)
}

// sleepBefore is sleep that also refuses to wait past until, when set.
func (c *Client) sleepBefore(ctx context.Context, until time.Time, memberID, method string, d time.Duration, reason string, cause error) error {
	if d <= 0 {
		return nil
	}
	end := c.clock.Now().Add(d)
	dl, ok := ctx.Deadline()
	if ok && end.After(dl) || !until.IsZero() && end.After(until) {
		return &RateLimitedError{MemberID: memberID, Method: method, RetryIn: d, Reason: reason, Err: cause}
	}
	return c.clock.Sleep(ctx, d)
}

func (c *Client) report(ctx context.Context, info RequestInfo) {
	if c.cfg.OnRequest != nil {
		c.cfg.OnRequest(ctx, info)
	}
}

// endpointOf returns the portal's REST base URL, ending in "/".
func (c *Client) endpointOf(t *Token) (string, error) {
	ep := t.ClientEndpoint
	if ep == "" && t.Domain != "" {
		ep = "https://" + t.Domain + "/rest/"
	}
	if err := c.checkEndpoint(ep); err != nil {
		return "", fmt.Errorf("bitrix: portal %s: %w", t.MemberID, err)
	}
	if !strings.HasSuffix(ep, "/") {
		ep += "/"
	}
	return ep, nil
}

func (c *Client) checkEndpoint(ep string) error {
	u, err := url.Parse(ep)
	if err != nil || u.Host == "" {
		return fmt.Errorf("invalid client endpoint %q", ep)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && c.cfg.AllowHTTP:
	default:
		return fmt.Errorf("client endpoint %q: https required", ep)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("invalid client endpoint %q", ep)
	}
	return nil
}

// followRename turns a redirect of a renamed portal into the new endpoint:
// the new host with the old path (Bitrix24 keeps /rest/), re-POSTed rather
// than followed as a GET. The store is updated and OnEndpointChange called.
func (c *Client) followRename(ctx context.Context, memberID, endpoint, method, location string, n int) (string, error) {
	if n > 3 {
		return "", fmt.Errorf("bitrix: portal %s: %s: too many redirects", memberID, method)
	}
	old, err := url.Parse(endpoint)
	if err != nil {
		return "", err
	}
	loc, err := old.Parse(location)
	if err != nil {
		return "", fmt.Errorf("bitrix: portal %s: bad redirect %q: %w", memberID, location, err)
	}
	if strings.EqualFold(loc.Host, old.Host) {
		return "", fmt.Errorf("bitrix: portal %s: %s: redirect to the same host %q", memberID, method, location)
	}
	nu := url.URL{Scheme: loc.Scheme, Host: loc.Host, Path: old.Path}
	ne := nu.String()
	if err := c.checkEndpoint(ne); err != nil {
		return "", fmt.Errorf("bitrix: portal %s: redirect: %w", memberID, err)
	}
	if err := c.saveEndpoint(ctx, memberID, endpoint, ne); err != nil {
		return "", err
	}
	return ne, nil
}
