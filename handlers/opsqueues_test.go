package handlers_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"segmentor/internal/await"

	"github.com/hibiken/asynq"

	"segmentor/handlers"
	"segmentor/internal/redistest"
	"segmentor/internal/testkit"
)

const opsPassword = "correct-horse-battery-staple"

// secretInPayload stands for anything a payload might hold that the
// operator view must not print.
const secretInPayload = "SECRET-IN-PAYLOAD-1234"

func opsRequest(t *testing.T, method, url, user, pass string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" || pass != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// seedQueues puts known work into the queues: pending tasks, an
// aggregating group, a task waiting to retry and an archived one, whose
// errors carry what looks like credentials.
func seedQueues(t *testing.T, client *asynq.Client, insp *asynq.Inspector, srv *asynq.Server) {
	t.Helper()
	payload := func(member string) []byte {
		return fmt.Appendf(nil, `{"member_id":%q,"entity":"deal","ids":[1],"note":%q}`, member, secretInPayload)
	}
	// Live work is spread over the events queue and its shards
	// (jobs.EventsQueue); the view shows them as one queue.
	for i, q := range []string{"events", "events-2", "events-5"} {
		if _, err := client.Enqueue(asynq.NewTask("crm:changes", payload(fmt.Sprintf("pending%d", i))), asynq.Queue(q)); err != nil {
			t.Fatal(err)
		}
	}
	for range 4 {
		if _, err := client.Enqueue(asynq.NewTask("crm:event", payload("grouped")), asynq.Queue("events-5"), asynq.Group("grouped:deal")); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		if _, err := client.Enqueue(asynq.NewTask("crm:event", payload("other")), asynq.Queue("events-2"), asynq.Group("other:deal")); err != nil {
			t.Fatal(err)
		}
	}
	mux := asynq.NewServeMux()
	mux.HandleFunc("portal:backfill", func(context.Context, *asynq.Task) error {
		return fmt.Errorf("post https://p.example.com/rest/crm.deal.list?auth=%s: boom, access_token=%s: %w", secretInPayload, secretInPayload, asynq.SkipRetry)
	})
	mux.HandleFunc("portal:setup", func(context.Context, *asynq.Task) error {
		return errors.New("portal answered 503, will retry")
	})
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	if _, err := client.Enqueue(asynq.NewTask("portal:backfill", payload("archived")), asynq.Queue("low"), asynq.MaxRetry(3)); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Enqueue(asynq.NewTask("portal:setup", payload("retrying")), asynq.Queue("critical"), asynq.MaxRetry(5)); err != nil {
		t.Fatal(err)
	}
	var low, crit *asynq.QueueInfo
	var err1, err2 error
	if !await.Poll(30*time.Second, func() bool {
		low, err1 = insp.GetQueueInfo("low")
		crit, err2 = insp.GetQueueInfo("critical")
		return err1 == nil && err2 == nil && low.Archived == 1 && crit.Retry == 1
	}) {
		t.Fatalf("tasks did not fail into archive and retry: %v %v %+v %+v", err1, err2, low, crit)
	}
}

func TestOpsQueuesView(t *testing.T) {
	rdb, _ := redistest.New(t)
	insp := asynq.NewInspectorFromRedisClient(rdb)
	client := asynq.NewClientFromRedisClient(rdb)
	defer client.Close()
	// The server serves only the failing tasks' queues: the events stay
	// pending and the group aggregating.
	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{Queues: map[string]int{"low": 1, "critical": 1},
		RetryDelayFunc: func(int, error, *asynq.Task) time.Duration { return time.Hour },
		Logger:         testkit.QuietAsynq{}, LogLevel: asynq.FatalLevel})
	seedQueues(t, client, insp, srv)

	t.Run("absent without a credential", func(t *testing.T) {
		for _, ops := range []*handlers.OpsQueues{nil, {Queues: insp, User: "ops"}} {
			app := httptest.NewServer(handlers.Router(handlers.Deps{Ops: ops}))
			if code, _, _ := opsRequest(t, "GET", app.URL+"/ops/queues", "ops", ""); code != http.StatusNotFound {
				t.Errorf("GET /ops/queues with no password configured = %d, want 404", code)
			}
			app.Close()
		}
	})

	app := httptest.NewServer(handlers.Router(handlers.Deps{Ops: &handlers.OpsQueues{Queues: insp, User: "ops", Password: opsPassword, Recent: 5}}))
	defer app.Close()
	url := app.URL + "/ops/queues"

	t.Run("refused without the credential", func(t *testing.T) {
		for _, c := range []struct{ name, user, pass string }{
			{"no credentials", "", ""},
			{"wrong password", "ops", opsPassword + "x"},
			{"password prefix", "ops", opsPassword[:len(opsPassword)-1]},
			{"wrong user", "admin", opsPassword},
			{"empty password", "ops", ""},
		} {
			code, h, body := opsRequest(t, "GET", url+"?format=json", c.user, c.pass)
			if code != http.StatusUnauthorized || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Basic ") {
				t.Errorf("%s: %d, WWW-Authenticate %q, want 401 with a Basic challenge", c.name, code, h.Get("WWW-Authenticate"))
			}
			if strings.Contains(body, "events") || strings.Contains(body, "boom") {
				t.Errorf("%s: a refused request saw the queues: %s", c.name, body)
			}
		}
	})

	t.Run("shows the queues", func(t *testing.T) {
		code, h, body := opsRequest(t, "GET", url+"?format=json", "ops", opsPassword)
		if code != http.StatusOK {
			t.Fatalf("GET with the credential = %d: %s", code, body)
		}
		if h.Get("Cache-Control") != "no-store" {
			t.Errorf("Cache-Control %q, want no-store", h.Get("Cache-Control"))
		}
		if strings.Contains(body, secretInPayload) {
			t.Errorf("the view prints what a payload or an error holds of a secret:\n%s", body)
		}
		var got struct {
			Queues []handlers.OpsQueueView `json:"queues"`
		}
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatal(err)
		}
		q := map[string]handlers.OpsQueueView{}
		for _, v := range got.Queues {
			q[v.Name] = v
		}
		ev := q["events"]
		if ev.Pending != 3 || ev.Aggregating != 6 || ev.GroupCount != 2 || len(ev.Groups) != 2 ||
			ev.Groups[0] != (handlers.OpsGroupView{Group: "grouped:deal", Size: 4}) ||
			ev.Groups[1] != (handlers.OpsGroupView{Group: "other:deal", Size: 2}) {
			t.Errorf("events queue = %+v, want 3 pending and the groups grouped:deal of 4 and other:deal of 2", ev)
		}
		if strings.Join(ev.Queues, " ") != "events events-2 events-5" || len(got.Queues) != 3 {
			t.Errorf("the events view sums %q, and the view shows %d queues; want events and its two shards in one of 3", ev.Queues, len(got.Queues))
		}
		if ev.LatencySeconds <= 0 {
			t.Errorf("events latency %v, want the age of its oldest pending task", ev.LatencySeconds)
		}
		low := q["low"]
		if low.Archived != 1 || len(low.ArchivedTasks) != 1 || low.FailedToday != 1 {
			t.Fatalf("low queue = %+v, want one archived task failed today", low)
		}
		a := low.ArchivedTasks[0]
		if a.Type != "portal:backfill" || a.Portal != "archived" || !strings.Contains(a.LastError, "boom") ||
			!strings.Contains(a.LastError, "crm.deal.list?…") || a.LastFailedAt.IsZero() {
			t.Errorf("archived task = %+v, want its type, portal, redacted error and failure time", a)
		}
		crit := q["critical"]
		if crit.Retry != 1 || len(crit.Retrying) != 1 {
			t.Fatalf("critical queue = %+v, want one task waiting to retry", crit)
		}
		r := crit.Retrying[0]
		if r.Portal != "retrying" || r.Retried != 1 || r.MaxRetry != 5 || r.LastError != "portal answered 503, will retry" ||
			time.Until(r.NextProcessAt) < 50*time.Minute {
			t.Errorf("retrying task = %+v, want its portal, 1 of 5 retries, its error and its next run in an hour", r)
		}
	})

	t.Run("HTML page", func(t *testing.T) {
		code, h, body := opsRequest(t, "GET", url, "ops", opsPassword)
		if code != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
			t.Fatalf("GET page = %d %s", code, h.Get("Content-Type"))
		}
		for _, want := range []string{"grouped:deal", "portal:backfill", "boom", "portal answered 503", `<td class="n">3</td>`} {
			if !strings.Contains(body, want) {
				t.Errorf("page lacks %q", want)
			}
		}
		if strings.Contains(body, secretInPayload) || strings.Contains(body, "<form") {
			t.Errorf("page shows a secret or offers an action:\n%s", body)
		}
	})

	t.Run("behind the credential on the operator's address too", func(t *testing.T) {
		ops := httptest.NewServer(handlers.OpsRouter(handlers.Deps{Ops: &handlers.OpsQueues{Queues: insp, Password: opsPassword}}))
		defer ops.Close()
		if code, _, body := opsRequest(t, "GET", ops.URL+"/ops/queues?format=json", "", ""); code != http.StatusUnauthorized || strings.Contains(body, "events") {
			t.Errorf("GET without the credential = %d %s, want 401", code, body)
		}
		code, h, body := opsRequest(t, "GET", ops.URL+"/ops/queues?format=json", "ops", opsPassword)
		if code != http.StatusOK || !strings.Contains(body, `"pending":3`) || h.Get("Cache-Control") != "no-store" {
			t.Errorf("GET with the credential = %d, Cache-Control %q: %.200s", code, h.Get("Cache-Control"), body)
		}
	})

	t.Run("read-only", func(t *testing.T) {
		for _, m := range []string{"POST", "PUT", "PATCH", "DELETE"} {
			code, _, _ := opsRequest(t, m, url, "ops", opsPassword)
			if code != http.StatusNotFound && code != http.StatusMethodNotAllowed {
				t.Errorf("%s /ops/queues = %d, want 404 or 405", m, code)
			}
		}
		code, _, body := opsRequest(t, "GET", url+"?format=json", "ops", opsPassword)
		if code != 200 || !strings.Contains(body, `"pending":3`) {
			t.Errorf("after the refused methods the queue changed: %d %s", code, body)
		}
	})
}
