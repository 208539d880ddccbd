package b24sim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"segmentor/internal/fakeclock"
)

func newFakeClock() *fakeclock.Clock {
	return fakeclock.At(time.Date(2026, 5, 14, 10, 26, 32, 0, time.UTC))
}

type reply struct {
	Status int
	Header http.Header
	Raw    []byte
	Body   map[string]any
}

func (r reply) errCode() string { s, _ := r.Body["error"].(string); return s }

func doReq(t *testing.T, req *http.Request) reply {
	t.Helper()
	resp, err := noRedirectClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
	_ = json.Unmarshal(raw, &r.Body)
	return r
}

// callForm POSTs a form-encoded REST call to the portal's current endpoint.
func callForm(t *testing.T, p *Portal, method, token string, form url.Values) reply {
	t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if token != "" {
		form.Set("auth", token)
	}
	req, _ := http.NewRequest("POST", p.ClientEndpoint()+method, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return doReq(t, req)
}

// callJSON POSTs a JSON REST call; body is a JSON object without auth.
func callJSON(t *testing.T, p *Portal, method, token, body string) reply {
	t.Helper()
	if token != "" {
		body = `{"auth":"` + token + `",` + strings.TrimPrefix(strings.TrimSpace(body), "{")
		body = strings.Replace(body, `",}`, `"}`, 1)
	}
	req, _ := http.NewRequest("POST", p.ClientEndpoint()+method+".json", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	return doReq(t, req)
}

func oauthGet(t *testing.T, p *Portal, q url.Values) reply {
	t.Helper()
	req, _ := http.NewRequest("GET", p.OAuthURL()+"/oauth/token/?"+q.Encode(), nil)
	return doReq(t, req)
}

func oauthPost(t *testing.T, p *Portal, form url.Values) reply {
	t.Helper()
	req, _ := http.NewRequest("POST", p.OAuthURL()+"/oauth/token/", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return doReq(t, req)
}

// receiver is an httptest event handler that keeps every form it got.
type receiver struct {
	mu     sync.Mutex
	forms  []url.Values
	raws   []string
	ctypes []string
	status int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	f, _ := url.ParseQuery(string(raw))
	rc.mu.Lock()
	rc.forms = append(rc.forms, f)
	rc.raws = append(rc.raws, string(raw))
	rc.ctypes = append(rc.ctypes, r.Header.Get("Content-Type"))
	st := rc.status
	rc.mu.Unlock()
	if st == 0 {
		st = 200
	}
	w.WriteHeader(st)
}

func (rc *receiver) got() []url.Values {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]url.Values(nil), rc.forms...)
}

func newPost(target, ctype, body string) (*http.Request, error) {
	req, err := http.NewRequest("POST", target, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", ctype)
	return req, nil
}
