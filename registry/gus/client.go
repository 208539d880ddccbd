package gus

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"segmentor/registry"
)

// The service's addresses and its public test key (which works only on the
// test address, against anonymised data).
const (
	ProductionURL = "https://wyszukiwarkaregon.stat.gov.pl/wsBIR/UslugaBIRzewnPubl.svc"
	TestURL       = "https://wyszukiwarkaregontest.stat.gov.pl/wsBIR/UslugaBIRzewnPubl.svc"
	TestKey       = "abcde12345abcde12345"
)

// Config configures a Client. Key is required.
type Config struct {
	// Endpoint is the service address; default ProductionURL. It is also
	// the envelope's wsa:To.
	Endpoint string
	// Key is the user key GUS issued (a portal setting).
	Key string
	// HTTP sends the requests; default a client with a 30 s timeout. A
	// timeout is an unavailable registry.
	HTTP *http.Client
	// Clock stamps FetchedAt and ages the session; default the wall clock.
	Clock registry.Clock
	// SessionTTL is how long a session is used before logging in again
	// unasked. GUS documents an idle timeout of 60 minutes (not confirmed
	// here); an expired session is noticed and replaced anyway. Default 50
	// minutes.
	SessionTTL time.Duration
}

// Client looks companies up in GUS BIR1.1. It keeps one session, shared by
// concurrent lookups; it is safe for concurrent use.
type Client struct {
	cfg Config

	mu       sync.Mutex // guards sid and loggedIn; held while logging in
	sid      string
	loggedIn time.Time
}

var _ registry.Provider = (*Client)(nil)

// New returns a client for cfg.
func New(cfg Config) (*Client, error) {
	if cfg.Key == "" {
		return nil, errors.New("gus: no user key")
	}
	if cfg.Endpoint == "" {
		cfg.Endpoint = ProductionURL
	}
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.Clock == nil {
		cfg.Clock = registry.SystemClock
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 50 * time.Minute
	}
	return &Client{cfg: cfg}, nil
}

// Lookup finds the company with tax ID taxID: a search by NIP, then the
// entity's full report and PKD report. An invalid NIP is never sent.
func (c *Client) Lookup(ctx context.Context, taxID string) (*registry.Company, error) {
	nip, ok := registry.ValidNIP(taxID)
	if !ok {
		return nil, fmt.Errorf("gus: lookup %q: %w", taxID, registry.ErrInvalidTaxID)
	}
	found, err := c.search(ctx, nip)
	if err != nil {
		return nil, err
	}
	e := pick(found)
	kind := kindOf(e)
	var detail row
	if kind.report != "" {
		rows, err := c.report(ctx, e.get("", "Regon"), kind.report)
		switch {
		case errors.Is(err, registry.ErrNotFound):
			// The search found it; a report that does not is most often
			// the wrong report for the type. The search's fields remain.
		case err != nil:
			return nil, err
		case len(rows) > 0:
			detail = rows[0]
		}
	}
	var pkd []row
	if kind.pkdReport != "" {
		pkd, err = c.report(ctx, e.get("", "Regon"), kind.pkdReport)
		if err != nil && !errors.Is(err, registry.ErrNotFound) {
			return nil, err
		}
	}
	co := company(e, kind, detail, pkd)
	co.FetchedAt = c.cfg.Clock.Now()
	return co, nil
}

// Value reads one of the service's parameters (GetValue): "StatusSesji"
// (1 alive, 0 not), "StatusUslugi" (1 up, 0 down, 2 technical break),
// "KomunikatKod" and "KomunikatTresc" (what the last call of the session
// came to), "StanDanych" (the date of the data).
func (c *Client) Value(ctx context.Context, name string) (string, error) {
	sid, err := c.session(ctx)
	if err == nil {
		var v string
		if v, err = c.call(ctx, opGetValue, sid, param{name: "pNazwaParametru", value: name}); err == nil {
			return v, nil
		}
	}
	return "", fmt.Errorf("gus: value %s: %w", name, err)
}

// Close ends the session (Wyloguj), if one is open.
func (c *Client) Close(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sid == "" {
		return nil
	}
	sid := c.sid
	c.sid = ""
	if _, err := c.call(ctx, opLogout, sid, param{name: "pIdentyfikatorSesji", value: sid}); err != nil {
		return fmt.Errorf("gus: log out: %w", err)
	}
	return nil
}

// search runs DaneSzukajPodmioty for one NIP.
func (c *Client) search(ctx context.Context, nip string) ([]row, error) {
	doc, err := c.data(ctx, opSearch, param{name: "pParametryWyszukiwania", nested: []param{{name: "Nip", value: nip}}})
	if err != nil {
		return nil, fmt.Errorf("gus: search %s: %w", nip, err)
	}
	rows, err := dataRows(doc)
	if err != nil {
		return nil, fmt.Errorf("gus: search %s: %w", nip, err)
	}
	return rows, nil
}

// report runs DanePobierzPelnyRaport.
func (c *Client) report(ctx context.Context, regon, name string) ([]row, error) {
	doc, err := c.data(ctx, opReport, param{name: "pRegon", value: regon}, param{name: "pNazwaRaportu", value: name})
	if err != nil {
		return nil, fmt.Errorf("gus: report %s of %s: %w", name, regon, err)
	}
	rows, err := dataRows(doc)
	if err != nil {
		return nil, fmt.Errorf("gus: report %s of %s: %w", name, regon, err)
	}
	return rows, nil
}

// dataRows reads a data answer, turning an empty one and the registry's
// error rows into errors.
func dataRows(doc string) ([]row, error) {
	if strings.TrimSpace(doc) == "" {
		// Still empty on a live session: BIR1.0 answered "not found" so,
		// and nothing else is known to (BIR1.1 sends ErrorCode 4).
		return nil, registry.ErrNotFound
	}
	rows, err := readRows(doc)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", registry.ErrUnavailable, err)
	}
	if len(rows) == 0 {
		return nil, registry.ErrNotFound
	}
	if code := rows[0].get("", "ErrorCode"); code != "" {
		msg := rows[0].get("", "ErrorMessagePl", "ErrorMessageEn")
		if code == "4" {
			return nil, registry.ErrNotFound
		}
		// 5 (bad report name) and the rest are mistakes of ours, not
		// outages: retrying would not help.
		return nil, fmt.Errorf("registry error %s: %s", code, msg)
	}
	return rows, nil
}

// data calls a data operation within the session. An expired session gets
// empty answers: on one, the client asks whether the session lives and, if
// not, logs in again and repeats the call once.
func (c *Client) data(ctx context.Context, op operation, params ...param) (string, error) {
	sid, err := c.session(ctx)
	if err != nil {
		return "", err
	}
	doc, err := c.call(ctx, op, sid, params...)
	if err != nil || strings.TrimSpace(doc) != "" {
		return doc, err
	}
	status, err := c.call(ctx, opGetValue, sid, param{name: "pNazwaParametru", value: "StatusSesji"})
	if err != nil {
		return "", err
	}
	if strings.TrimSpace(status) == "1" {
		return doc, nil
	}
	if sid, err = c.relogin(ctx, sid); err != nil {
		return "", err
	}
	return c.call(ctx, op, sid, params...)
}

// session returns the session id, logging in when there is none or it is
// older than SessionTTL.
func (c *Client) session(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sid != "" && c.cfg.Clock.Now().Sub(c.loggedIn) < c.cfg.SessionTTL {
		return c.sid, nil
	}
	return c.loginLocked(ctx)
}

// relogin replaces the session stale, unless another lookup already has.
func (c *Client) relogin(ctx context.Context, stale string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sid != "" && c.sid != stale {
		return c.sid, nil
	}
	return c.loginLocked(ctx)
}

func (c *Client) loginLocked(ctx context.Context) (string, error) {
	c.sid = ""
	sid, err := c.call(ctx, opLogin, "", param{name: "pKluczUzytkownika", value: c.cfg.Key})
	if err != nil {
		return "", fmt.Errorf("log in: %w", err)
	}
	sid = strings.TrimSpace(sid)
	if sid == "" {
		// The service answers a key it does not know with an empty id.
		return "", fmt.Errorf("log in: %w", registry.ErrUnauthorized)
	}
	c.sid, c.loggedIn = sid, c.cfg.Clock.Now()
	return sid, nil
}

// call sends one operation and returns its result text.
func (c *Client) call(ctx context.Context, op operation, sid string, params ...param) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.Endpoint, bytes.NewReader(envelope(c.cfg.Endpoint, op, params...)))
	if err != nil {
		return "", fmt.Errorf("%s: %w", op.name, err)
	}
	req.Header.Set("Content-Type", "application/soap+xml; charset=utf-8")
	if sid != "" {
		req.Header.Set("sid", sid)
	}
	resp, err := c.cfg.HTTP.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("%s: %w", op.name, ctx.Err())
		}
		return "", fmt.Errorf("%s: %w: %w", op.name, registry.ErrUnavailable, err)
	}
	defer resp.Body.Close()
	raw, err := soapPart(resp)
	if err != nil {
		return "", fmt.Errorf("%s: HTTP %d: %w: %w", op.name, resp.StatusCode, registry.ErrUnavailable, err)
	}
	var ans answer
	if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusInternalServerError {
		ans, err = readEnvelope(raw)
	}
	switch {
	case resp.StatusCode == http.StatusOK && err == nil && ans.fault == "":
		return ans.result, nil
	case resp.StatusCode == http.StatusOK && err == nil:
		return "", fmt.Errorf("%s: fault: %s: %w", op.name, ans.fault, registry.ErrUnavailable)
	case resp.StatusCode == http.StatusOK:
		return "", fmt.Errorf("%s: %w: %w", op.name, registry.ErrUnavailable, err)
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		// How GUS refuses over its quota is not documented; 429 and 503
		// are what a WCF service behind a proxy would send. A 500 is a WCF
		// fault: mostly the service's own trouble.
		return "", fmt.Errorf("%s: HTTP %d %s: %w", op.name, resp.StatusCode, ans.fault, registry.ErrUnavailable)
	default:
		// 400 (a malformed envelope, missing WS-Addressing), 415 (wrong
		// content type): a bug here, which no retry mends.
		return "", fmt.Errorf("%s: HTTP %d: %s", op.name, resp.StatusCode, snippet(raw))
	}
}

func snippet(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
