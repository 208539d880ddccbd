package handlers_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"segmentor/internal/await"

	"segmentor/bitrix/b24sim"
	"segmentor/handlers"
)

func scrape(t *testing.T, s *stack) string {
	t.Helper()
	resp, err := http.Get(s.app.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics = %d", resp.StatusCode)
	}
	return string(b)
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
		`segmentor_queue_tasks{queue=`,
	}
	var missing []string
	if !await.Poll(10*time.Second, func() bool {
		body := scrape(t, s)
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
}

// A method's operating time is kept per portal and method, as last reported.
func TestMetricsOperatingByPortal(t *testing.T) {
	m := handlers.NewMetrics(nil)
	m.ObserveOperating(context.Background(), "m1", "crm.item.list", 3.5)
	m.ObserveOperating(context.Background(), "m1", "crm.item.list", 4.25)
	m.ObserveOperating(context.Background(), "m2", "crm.item.list", 1)
	srv := httptest.NewServer(handlers.Router(handlers.Deps{Metrics: m}))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`segmentor_rest_operating_seconds{method="crm.item.list",portal="m1"} 4.25`,
		`segmentor_rest_operating_seconds{method="crm.item.list",portal="m2"} 1`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
