package handlers_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"segmentor/bitrix/b24sim"
)

// Every answer says nosniff. Every answer that can carry a token, a
// session or a signed link — Bitrix24's routes, the API, the pages — is
// kept by no cache and sends no Referer. The HTML pages are framed by the
// portal alone and run no script but the app's own, Bitrix24's library
// and, on the installer, its inline script by nonce.
func TestHeadersOnEveryRouteGroup(t *testing.T) {
	s := newStack(t, b24sim.Options{Seed: 23})
	ctx := context.Background()
	portal := strings.TrimSuffix(s.sim.URL(), "/")

	// Bitrix24's routes: the installer page and its signed links.
	resp, err := s.sim.Install(ctx, s.app.URL+s.manifest.Handlers.Install, b24sim.InstallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	install := readPage(t, resp)
	wantPrivate(t, "install page", resp)
	wantPageScripts(t, "install page", install, wantPagePolicy(t, "install page", resp.Header, portal))
	m := regexp.MustCompile(`url="([^"]+)"`).FindStringSubmatch(install)
	if m == nil {
		t.Fatalf("no status link in the install page:\n%s", install)
	}
	status := strings.ReplaceAll(m[1], `\u0026`, "&")
	s.waitSetup()
	s.sim.FinishInstall()
	wantPrivate(t, "install status", send(t, "GET", s.app.URL+status, nil))
	retry := strings.Replace(strings.Replace(status, "/status", "/retry", 1), "sig=", "sig=0", 1)
	wantPrivate(t, "install retry", send(t, "POST", s.app.URL+retry, nil))

	// A refused install is framed by the portal the request names, and by
	// nobody when that name could be more than a host.
	refused := url.Values{"member_id": {"<script>"}}
	for domain, ancestors := range map[string]string{"x.bitrix24.com": "https://x.bitrix24.com", "x.com;script-src": "'none'", "x.com/ *": "'none'"} {
		resp := send(t, "POST", s.app.URL+s.manifest.Handlers.Install+"?PROTOCOL=1&DOMAIN="+url.QueryEscape(domain), refused)
		page := readPage(t, resp)
		wantPrivate(t, "refused install", resp)
		wantPageScripts(t, "refused install", page, wantPagePolicy(t, "refused install of "+domain, resp.Header, ancestors))
	}

	wantPrivate(t, "accepted event", send(t, "POST", s.app.URL+s.manifest.Handlers.Events, eventForm(s.sim.MemberID(), s.sim.ApplicationToken(), "1")))
	wantPrivate(t, "refused event", send(t, "POST", s.app.URL+s.manifest.Handlers.Events, eventForm(s.sim.MemberID(), "0123456789abcdef0123456789abcdef", "1")))

	// The settings API, answered and refused.
	token := s.Login(1)
	for what, r := range map[string]*http.Response{
		"session":              send(t, "POST", s.app.URL+"/api/v1/session", url.Values{"member_id": {s.sim.MemberID()}}),
		"config":               apiGet(t, s.app.URL+"/api/v1/config", token),
		"config without token": apiGet(t, s.app.URL+"/api/v1/config", ""),
	} {
		wantPrivate(t, "API "+what, r)
	}

	// The settings page and a card tab, as Bitrix24 opens them.
	resp, err = s.sim.OpenApp(ctx, s.app.URL+s.manifest.Handlers.App, 1, "en")
	if err != nil {
		t.Fatal(err)
	}
	page := readPage(t, resp)
	wantPrivate(t, "app page", resp)
	wantPageScripts(t, "app page", page, wantPagePolicy(t, "app page", resp.Header, portal))
	resp, err = s.sim.OpenPlacementAt(ctx, s.app.URL+s.manifest.Handlers.Placement, "CRM_DEAL_DETAIL_TAB", 1, `{"ID":"1"}`)
	if err != nil {
		t.Fatal(err)
	}
	page = readPage(t, resp)
	wantPrivate(t, "card tab", resp)
	wantPageScripts(t, "card tab", page, wantPagePolicy(t, "card tab", resp.Header, portal))

	// What holds no secret is still not sniffed.
	for path, cache := range map[string]string{"/static/app.js": "no-cache", "/healthz": "", "/no/such/page": ""} {
		r := send(t, "GET", s.app.URL+path, nil)
		r.Body.Close()
		if r.Header.Get("X-Content-Type-Options") != "nosniff" || r.Header.Get("Cache-Control") != cache {
			t.Errorf("GET %s: X-Content-Type-Options %q, Cache-Control %q, want nosniff and %q", path,
				r.Header.Get("X-Content-Type-Options"), r.Header.Get("Cache-Control"), cache)
		}
	}
}

// send sends a request, form-encoded when form is set, and returns the
// answer with its body still to read.
func send(t *testing.T, method, target string, form url.Values) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, target, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func apiGet(t *testing.T, target, token string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", target, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func readPage(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// wantPrivate checks the headers of an answer that may carry a secret, and
// closes it.
func wantPrivate(t *testing.T, what string, resp *http.Response) {
	t.Helper()
	resp.Body.Close()
	h := resp.Header
	if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Cache-Control") != "no-store" || h.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("%s (%d): X-Content-Type-Options %q, Cache-Control %q, Referrer-Policy %q; want nosniff, no-store, no-referrer",
			what, resp.StatusCode, h.Get("X-Content-Type-Options"), h.Get("Cache-Control"), h.Get("Referrer-Policy"))
	}
}

var nonceSource = regexp.MustCompile(`'nonce-([^']+)'`)

// wantPagePolicy checks a page's Content-Security-Policy: framed by
// ancestors only, scripts from the app and Bitrix24's library only, and
// returns the nonce it allows an inline script by ("" for none).
func wantPagePolicy(t *testing.T, what string, h http.Header, ancestors string) string {
	t.Helper()
	csp := h.Values("Content-Security-Policy")
	if len(csp) != 2 || csp[0] != "frame-ancestors "+ancestors {
		t.Errorf("%s: CSP %q, want frame-ancestors %s, then the script policy", what, csp, ancestors)
		return ""
	}
	scripts := csp[1]
	if !strings.HasPrefix(scripts, "script-src 'self' https://api.bitrix24.com") || !strings.Contains(scripts, "object-src 'none'") ||
		!strings.Contains(scripts, "base-uri 'none'") || strings.Contains(scripts, "unsafe") || strings.Contains(scripts, "*") {
		t.Errorf("%s: script policy %q, want the app's and Bitrix24's scripts only", what, scripts)
	}
	if m := nonceSource.FindStringSubmatch(scripts); m != nil {
		return m[1]
	}
	return ""
}

var scriptTag = regexp.MustCompile(`<script([^>]*)>`)

// wantPageScripts checks that every script of a page either loads a file or
// carries the nonce its policy allows.
func wantPageScripts(t *testing.T, what, page, nonce string) {
	t.Helper()
	for _, m := range scriptTag.FindAllStringSubmatch(page, -1) {
		if strings.Contains(m[1], "src=") {
			continue
		}
		if nonce == "" || m[1] != ` nonce="`+nonce+`"` {
			t.Errorf("%s: inline %s is not allowed by its policy (nonce %q)", what, m[0], nonce)
		}
	}
}
