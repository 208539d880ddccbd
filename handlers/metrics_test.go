package handlers_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"segmentor/bitrix/b24sim"
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
	deadline := time.Now().Add(10 * time.Second)
	for {
		body := scrape(t, s)
		var missing []string
		for _, w := range want {
			if !strings.Contains(body, w) {
				missing = append(missing, w)
			}
		}
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics lacks %q", missing)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
