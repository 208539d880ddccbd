package handlers_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"segmentor/bitrix/b24sim"
)

// Handlers bound by an earlier deployment at another address are unbound,
// so the portal stops posting events to a URL nobody serves.
func TestSetupUnbindsHandlersOfAnOldAddress(t *testing.T) {
	s := newStack(t, b24sim.Options{Seed: 11})
	admin := s.sim.IssueTokens(1)
	old := "https://old-segmentor.example.com" + s.manifest.Handlers.Events
	body, _ := json.Marshal(map[string]string{"auth": admin.AccessToken, "event": "ONCRMDEALUPDATE", "handler": old})
	resp, err := http.Post(s.sim.ClientEndpoint()+"event.bind", "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("binding the old handler: %d", resp.StatusCode)
	}
	s.install(b24sim.InstallOptions{})

	body, _ = json.Marshal(map[string]string{"auth": s.sim.IssueTokens(1).AccessToken})
	resp, err = http.Post(s.sim.ClientEndpoint()+"event.get", "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Result []struct{ Event, Handler string } `json:"result"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	bound := 0
	for _, b := range out.Result {
		if b.Handler == old {
			t.Errorf("handler at the old address still bound: %+v", b)
		}
		if b.Handler == s.app.URL+s.manifest.Handlers.Events {
			bound++
		}
	}
	if bound != len(s.manifest.Events) {
		t.Errorf("%d events bound to the app, want %d", bound, len(s.manifest.Events))
	}
}

// The install page polls a signed status link; it reports the setup phase,
// and a tampered link is refused.
func TestInstallPageReportsSetupProgress(t *testing.T) {
	s := newStack(t, b24sim.Options{Seed: 12})
	resp, err := s.sim.Install(context.Background(), s.app.URL+s.manifest.Handlers.Install, b24sim.InstallOptions{Lang: "ru"})
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	html := string(page)
	for _, want := range []string{"Установка Segmentor", "BX24.installFinish()", "api.bitrix24.com/api/v1/"} {
		if !strings.Contains(html, want) {
			t.Errorf("install page lacks %q", want)
		}
	}
	m := regexp.MustCompile(`url="([^"]+)"`).FindStringSubmatch(html)
	if m == nil {
		t.Fatalf("no status URL in the page:\n%s", html)
	}
	statusURL := strings.ReplaceAll(m[1], `\u0026`, "&")
	s.waitSetup()
	var st struct{ Phase, State string }
	r, err := http.Get(s.app.URL + statusURL)
	if err != nil {
		t.Fatal(err)
	}
	_ = json.NewDecoder(r.Body).Decode(&st)
	r.Body.Close()
	if r.StatusCode != 200 || st.Phase != "done" || st.State != "active" {
		t.Errorf("status = %d %+v, want done/active", r.StatusCode, st)
	}
	tampered := strings.Replace(statusURL, "sig=", "sig=0", 1)
	if r, err := http.Get(s.app.URL + tampered); err != nil || r.StatusCode != http.StatusUnauthorized {
		t.Errorf("tampered status link: %v %v", r.StatusCode, err)
	}
}
