package handlers_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"segmentor/internal/await"

	"segmentor/bitrix/b24sim"
	"segmentor/jobs"
)

func eventForm(memberID, appToken string, id string) url.Values {
	return url.Values{
		"event": {"ONCRMDEALUPDATE"}, "event_handler_id": {"1"}, "data[FIELDS][ID]": {id}, "ts": {"1736405807"},
		"auth[domain]": {"x.bitrix24.com"}, "auth[member_id]": {memberID}, "auth[application_token]": {appToken},
		"auth[client_endpoint]": {"https://evil.example/rest/"}, "auth[server_endpoint]": {"https://oauth.bitrix.info/rest/"},
	}
}

func postEvent(t *testing.T, s *stack, body string) int {
	t.Helper()
	code, _ := eventReply(t, s, body)
	return code
}

// eventReply posts an event and returns its status and body.
func eventReply(t *testing.T, s *stack, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(s.app.URL+s.manifest.Handlers.Events, "application/x-www-form-urlencoded", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestForgedAndMalformedEventsAreRefused(t *testing.T) {
	s := newStack(t, b24sim.Options{Seed: 5})
	s.install(b24sim.InstallOptions{})
	m, tok := s.sim.MemberID(), s.sim.ApplicationToken()
	// The install's own tasks are done first: one finishing during the
	// refusals would make the count below go down.
	s.WaitIdle(30 * time.Second)
	before := s.queued()

	cases := []struct {
		name string
		body string
		want int
	}{
		{"wrong application token", eventForm(m, "0123456789abcdef0123456789abcdef", "5").Encode(), http.StatusForbidden},
		{"missing application token", eventForm(m, "", "5").Encode(), http.StatusBadRequest},
		{"unknown portal", eventForm("ffffffffffffffffffffffffffffffff", tok, "5").Encode(), http.StatusForbidden},
		{"no member_id", "event=ONCRMDEALUPDATE&data%5BFIELDS%5D%5BID%5D=5", http.StatusBadRequest},
		{"malformed encoding", "event=%zz&auth%5Bmember_id%5D=" + m, http.StatusBadRequest},
		{"record id not a number", eventForm(m, tok, "five").Encode(), http.StatusBadRequest},
		{"oversized body", eventForm(m, tok, "5").Encode() + "&pad=" + strings.Repeat("x", 100<<10), http.StatusRequestEntityTooLarge},
	}
	for _, c := range cases {
		if got := postEvent(t, s, c.body); got != c.want {
			t.Errorf("%s: status %d, want %d", c.name, got, c.want)
		}
	}
	if after := s.queued(); after != before {
		t.Errorf("refused events queued %d tasks", after-before)
	}
	// An unknown portal is answered as a known one with a wrong token: the
	// answers do not tell which portals are installed.
	uc, ub := eventReply(t, s, eventForm("ffffffffffffffffffffffffffffffff", tok, "5").Encode())
	kc, kb := eventReply(t, s, eventForm(m, "0123456789abcdef0123456789abcdef", "5").Encode())
	if uc != kc || ub != kb {
		t.Errorf("an unknown portal is answered %d %s, a known one with a wrong token %d %s", uc, ub, kc, kb)
	}
	// The same event with the right token is accepted and queued.
	if got := postEvent(t, s, eventForm(m, tok, "5").Encode()); got != http.StatusOK {
		t.Fatalf("genuine event: status %d", got)
	}
	if s.queued() == before {
		t.Error("a genuine event was not queued")
	}
}

// waitReceived waits until the recorded batches hold want distinct ids.
func waitReceived(t *testing.T, s *stack, entity string, want int) (ids map[int64]int, batches int) {
	t.Helper()
	await.Poll(90*time.Second, func() bool {
		ids, batches = received(t, s, entity)
		return len(ids) >= want
	})
	return ids, batches
}

// received reads the recorded batches of entity: how often each id came
// (a deletion as its negative) and in how many batches.
func received(t *testing.T, s *stack, entity string) (ids map[int64]int, batches int) {
	t.Helper()
	ids = map[int64]int{}
	raw, err := s.store.Received(context.Background(), s.sim.MemberID())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range raw {
		var c jobs.CRMChangesPayload
		decodeJSON(t, r, &c)
		if c.Entity != entity {
			continue
		}
		batches++
		if n, most := len(c.IDs)+len(c.Deleted), jobs.ServerConfig(nil).GroupMaxSize; n > most {
			t.Fatalf("a job carried %d ids, more than a group's %d", n, most)
		}
		for _, id := range c.IDs {
			ids[id]++
		}
		for _, id := range c.Deleted {
			ids[-id]++
		}
	}
	return ids, batches
}

func TestUserEditsBecomeJobs(t *testing.T) {
	s := newStack(t, b24sim.Options{Seed: 6})
	s.sim.Seed(b24sim.GenOptions{Contacts: 20, Companies: 5, Deals: 50})
	s.install(b24sim.InstallOptions{})
	if err := s.sim.UserUpdate("deal", 3, map[string]any{"TITLE": "Renamed by a user"}, 1, false); err != nil {
		t.Fatal(err)
	}
	if err := s.sim.UserMoveDeal(4, 0, "PREPARATION", 1); err != nil {
		t.Logf("move within pipeline 0: %v", err)
	}
	if err := s.sim.UserDelete("contact", 2, 1); err != nil {
		t.Fatal(err)
	}
	if err := s.sim.WaitEvents(context.Background()); err != nil {
		t.Fatal(err)
	}
	deals, _ := waitReceived(t, s, "deal", 1)
	if deals[3] == 0 {
		t.Errorf("edit of deal 3 did not arrive as a job: %v", deals)
	}
	contacts, _ := waitReceived(t, s, "contact", 1)
	if contacts[-2] == 0 {
		t.Errorf("deletion of contact 2 did not arrive as a deletion: %v", contacts)
	}
}

func TestBurstOfEditsIsCoalesced(t *testing.T) {
	if testing.Short() {
		t.Skip("burst test")
	}
	const records, edits = 2000, 10000
	s := newStack(t, b24sim.Options{Seed: 7})
	s.sim.Seed(b24sim.GenOptions{Contacts: 50, Companies: 10, Deals: records})
	s.install(b24sim.InstallOptions{})
	start := time.Now()
	for i := 0; i < edits; i++ {
		id := i%records + 1
		if err := s.sim.UserUpdate("deal", id, map[string]any{"TITLE": fmt.Sprintf("edit %d", i)}, 1, false); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.sim.WaitEvents(context.Background()); err != nil {
		t.Fatal(err)
	}
	ids, batches := waitReceived(t, s, "deal", records)
	if len(ids) != records {
		t.Fatalf("%d of %d edited records reached a job", len(ids), records)
	}
	max := records/jobs.ServerConfig(nil).GroupMaxSize + 10
	if batches > max {
		t.Errorf("%d edits of %d records became %d jobs, want at most %d", edits, records, batches, max)
	}
	st := s.sim.EventStats()
	t.Logf("%d edits of %d records: %d events delivered, %d jobs, every record id present, in %s",
		edits, records, st.Delivered, batches, time.Since(start).Round(time.Millisecond))
}
