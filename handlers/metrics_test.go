package handlers_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"segmentor/internal/await"

	"segmentor/bitrix/b24sim"
	"segmentor/handlers"
)

// scrape reads /metrics where operators do: on the operator's address.
func scrape(t *testing.T, s *stack) string {
	t.Helper()
	rec := httptest.NewRecorder()
	s.App.OpsRouter().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("/metrics = %d", rec.Code)
	}
	return rec.Body.String()
}

// getAs answers a GET of url with the status and body, sent as user:pass
// when either is set.
func getAs(t *testing.T, url, user, pass string) (int, string) {
	t.Helper()
	code, _, body := opsRequest(t, http.MethodGet, url, user, pass)
	return code, body
}

func TestMetricsCountEventsJobsAndREST(t *testing.T) {
	s := newStack(t, b24sim.Options{Seed: 10})
	s.sim.Seed(b24sim.GenOptions{Contacts: 5, Companies: 2, Deals: 5})
	s.install(b24sim.InstallOptions{})
	m, tok := s.sim.MemberID(), s.sim.ApplicationToken()
	postEvent(t, s, eventForm(m, tok, "1").Encode())                                // queued
	postEvent(t, s, eventForm(m, tok, "1").Encode())                                // same record still waiting: coalesced
	postEvent(t, s, eventForm(m, "0123456789abcdef0123456789abcdef", "1").Encode()) // refused
	waitReceived(t, s, "deal", 1)

	want := []string{
		`segmentor_events_total{result="queued"} 1`,
		`segmentor_events_total{result="coalesced"} 1`,
		`segmentor_events_total{result="refused"} 1`,
		`segmentor_http_requests_total{route="/b24/events",status="200"} 2`,
		`segmentor_http_requests_total{route="/b24/events",status="403"} 1`,
		`segmentor_jobs_total{outcome="ok",type="portal:setup"} 1`,
		`segmentor_rest_requests_total{method="batch",outcome="ok"}`,
		// The event went to the portal's shard of the events queue; the
		// series show the shards as the one events queue.
		`segmentor_queue_tasks{queue="events",state="pending"}`,
		`segmentor_queue_latency_seconds{queue="events"}`,
	}
	var missing []string
	var body string
	if !await.Poll(10*time.Second, func() bool {
		body = scrape(t, s)
		missing = missing[:0]
		for _, w := range want {
			if !strings.Contains(body, w) {
				missing = append(missing, w)
			}
		}
		return len(missing) == 0
	}) {
		t.Fatalf("/metrics lacks %q", missing)
	}
	if strings.Contains(body, `queue="events-`) {
		t.Errorf("/metrics shows the events queue's shards apart")
	}
	// The app's public address, with no operator credential configured,
	// has no /metrics at all.
	if code, body := getAs(t, s.app.URL+"/metrics", "", ""); code != http.StatusNotFound || strings.Contains(body, m) {
		t.Errorf("public GET /metrics = %d %.200s, want 404", code, body)
	}
}

// A method's operating time is kept per portal and method, as last reported.
func TestMetricsOperatingByPortal(t *testing.T) {
	m := handlers.NewMetrics(nil)
	m.ObserveOperating(context.Background(), "m1", "crm.item.list", 3.5)
	m.ObserveOperating(context.Background(), "m1", "crm.item.list", 4.25)
	m.ObserveOperating(context.Background(), "m2", "crm.item.list", 1)
	srv := httptest.NewServer(handlers.OpsRouter(handlers.Deps{Metrics: m}))
	defer srv.Close()
	_, body := getAs(t, srv.URL+"/metrics", "", "")
	for _, want := range []string{`segmentor_rest_operating_seconds{method="crm.item.list",portal="m1"} 4.25`,
		`segmentor_rest_operating_seconds{method="crm.item.list",portal="m2"} 1`} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// The per-portal series list every installed portal: the public router
// serves /metrics only to the operator's credential, and not at all
// without one; the operator's address serves it to the scraper as is.
func TestPublicMetricsNeedTheOperator(t *testing.T) {
	m := handlers.NewMetrics(nil)
	m.ObserveOperating(context.Background(), "a223c6b3710f85df22e9377d6c4f7553", "crm.item.list", 3)
	const series = `portal="a223c6b3710f85df22e9377d6c4f7553"`
	health := &handlers.Health{} // /healthz reads nothing

	bare := httptest.NewServer(handlers.Router(handlers.Deps{Metrics: m, Health: health}))
	defer bare.Close()
	if code, body := getAs(t, bare.URL+"/metrics", "ops", opsPassword); code != http.StatusNotFound || strings.Contains(body, series) {
		t.Errorf("public /metrics with no credential configured = %d %.200s, want 404", code, body)
	}
	if code, _ := getAs(t, bare.URL+"/healthz", "", ""); code != http.StatusOK {
		t.Errorf("public /healthz = %d, want 200", code)
	}

	guarded := httptest.NewServer(handlers.Router(handlers.Deps{Metrics: m, Ops: &handlers.OpsQueues{User: "night", Password: opsPassword}}))
	defer guarded.Close()
	for _, c := range []struct{ name, user, pass string }{
		{"no credentials", "", ""},
		{"wrong password", "night", opsPassword + "x"},
		{"wrong user", "ops", opsPassword},
	} {
		code, h, body := opsRequest(t, http.MethodGet, guarded.URL+"/metrics", c.user, c.pass)
		if code != http.StatusUnauthorized || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Basic ") || strings.Contains(body, series) {
			t.Errorf("public /metrics, %s = %d %.200s, want 401 with a Basic challenge", c.name, code, body)
		}
	}
	if code, body := getAs(t, guarded.URL+"/metrics", "night", opsPassword); code != http.StatusOK || !strings.Contains(body, series) {
		t.Errorf("public /metrics with the credential = %d %.200s, want 200 with the portal's series", code, body)
	}

	ops := httptest.NewServer(handlers.OpsRouter(handlers.Deps{Metrics: m, Health: health}))
	defer ops.Close()
	if code, body := getAs(t, ops.URL+"/metrics", "", ""); code != http.StatusOK || !strings.Contains(body, series) {
		t.Errorf("operator address /metrics = %d %.200s, want 200 with the portal's series", code, body)
	}
	if code, _ := getAs(t, ops.URL+"/healthz", "", ""); code != http.StatusOK {
		t.Errorf("operator address /healthz = %d, want 200", code)
	}
}
