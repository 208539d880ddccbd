package testkit

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"segmentor/app"
	"segmentor/bitrix"
	"segmentor/bitrix/b24sim"
	"segmentor/internal/await"
	"segmentor/internal/redistest"
	"segmentor/internal/wiring"
	"segmentor/jobs"
)

// SecretKey is the stacks' APP_SECRET_KEY.
var SecretKey = bytes.Repeat([]byte{42}, 32)

// StackOptions shape a Stack.
type StackOptions struct {
	Sim b24sim.Options
	// Limits is the app's REST budget for the portal; nil takes it from the
	// portal's plan, as production does.
	Limits *bitrix.Profile
	// Clock is the time of the store and the engine (the simulator and the
	// web handlers keep the wall clock); nil is the wall clock.
	Clock func() time.Time
	// Changes receives the merged CRM changes instead of the engine (for
	// example a jobs.Recorder).
	Changes jobs.ChangeSink
	// NoWorker leaves the worker out: nothing runs the queued tasks.
	NoWorker bool
	// Wire, when set, adjusts the assembled application before it starts
	// serving (a session clock, a worker option).
	Wire func(a *wiring.App, w *wiring.Web, worker *jobs.Worker)
	// Registry, when set, is the company registry's service URL (a
	// registry/gussim server's URL + gussim.Path), with RegistryKey as
	// the operator's key and RegistryLimit its budget (zero: GUS's).
	Registry, RegistryKey string
	RegistryLimit         redis_rate.Limit
}

// Stack is the whole application against a simulated portal, assembled as
// production assembles it (internal/wiring): the web routes over real HTTP,
// an asynq worker on the test's Redis (a real one in CI), and b24sim.
type Stack struct {
	T testing.TB
	*wiring.App
	Sim       *b24sim.Portal
	Web       *wiring.Web
	Worker    *jobs.Worker
	Server    *httptest.Server // the application's routes
	RDB       *redis.Client
	Inspector *asynq.Inspector
}

// NewStack starts a simulated portal and the application beside it; both
// stop when the test ends.
func NewStack(t testing.TB, o StackOptions) *Stack {
	t.Helper()
	rdb, _ := redistest.New(t)
	sim := b24sim.New(o.Sim)
	t.Cleanup(sim.Close)
	s := &Stack{T: t, Sim: sim, RDB: rdb, Inspector: asynq.NewInspectorFromRedisClient(rdb)}
	// The server starts first: the worker binds handlers to its URL.
	var handler http.Handler = http.NotFoundHandler()
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(s.Server.Close)
	cfg := wiring.Config{ClientID: sim.ClientID(), ClientSecret: sim.ClientSecret(), OAuthURL: sim.OAuthURL(),
		AllowHTTP: true, AppBaseURL: s.Server.URL, SecretKey: SecretKey, Clock: o.Clock, TaskCheck: 10 * time.Millisecond,
		RegistryURL: o.Registry, RegistryKey: o.RegistryKey, RegistryLimit: o.RegistryLimit}
	if o.Limits != nil {
		limits := *o.Limits
		cfg.Limits = func(context.Context, string) (bitrix.Profile, error) { return limits, nil }
	}
	a, err := wiring.New(rdb, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	s.App = a
	// A job's write that lost its answer is re-read at once, not after 30 s.
	a.Engine.InDoubtWait = time.Millisecond
	// Uninstall events are checked within a second, not at the end of 30 s.
	a.Queue.UninstallWindow = 100 * time.Millisecond
	if s.Web, err = a.Web(); err != nil {
		t.Fatal(err)
	}
	srv, mux, worker, err := a.Worker(QuietAsynq{})
	if err != nil {
		t.Fatal(err)
	}
	s.Worker = worker
	if o.Changes != nil {
		worker.Changes = o.Changes
	}
	if o.Wire != nil {
		o.Wire(a, s.Web, worker)
	}
	handler = a.Router(s.Web)
	if !o.NoWorker {
		worker.Register(mux)
		if err := srv.Start(mux); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(srv.Shutdown)
	}
	return s
}

// Install runs the installer as Bitrix24 does, waits for setup, then
// finishes the install as the page's BX24.installFinish does.
func (s *Stack) Install(opt b24sim.InstallOptions) *app.Portal {
	s.T.Helper()
	resp, err := s.Sim.Install(context.Background(), s.Server.URL+s.Manifest.Handlers.Install, opt)
	if err != nil {
		s.T.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		s.T.Fatalf("install page answered %d", resp.StatusCode)
	}
	p := s.WaitSetup()
	s.Sim.FinishInstall()
	return p
}

// WaitSetup waits until the portal's setup is done and returns the portal.
func (s *Stack) WaitSetup() *app.Portal {
	s.T.Helper()
	var p *app.Portal
	await.That(s.T, time.Minute, "setup to finish", func() bool {
		var err error
		p, err = s.Store.Portal(context.Background(), s.Sim.MemberID())
		if err == nil && p.Setup.Phase == "failed" {
			s.T.Fatalf("setup failed: %s", p.Setup.Error)
		}
		return err == nil && p.Setup.Phase == "done"
	})
	return p
}

// Backfill saves cfg as the portal's config, queues its backfill as saving
// in the settings page does, and waits for it to finish.
func (s *Stack) Backfill(cfg string, within time.Duration) *app.Progress {
	s.T.Helper()
	ctx := context.Background()
	cur, err := s.Store.Config(ctx, s.Sim.MemberID())
	if err != nil {
		s.T.Fatal(err)
	}
	if _, err := s.Store.PutConfig(ctx, s.Sim.MemberID(), cur.Version, json.RawMessage(cfg), 1); err != nil {
		s.T.Fatal(err)
	}
	if err := s.Life.Recompute(ctx, s.Sim.MemberID(), "test"); err != nil {
		s.T.Fatal(err)
	}
	return s.WaitBackfill(within)
}

// WaitBackfill waits for the portal's backfill or recompute to finish and
// returns its progress; one that fails fails the test.
func (s *Stack) WaitBackfill(within time.Duration) *app.Progress {
	s.T.Helper()
	var p *app.Progress
	await.That(s.T, within, "the backfill", func() bool {
		var err error
		p, err = s.Store.Progress(context.Background(), s.Sim.MemberID(), app.BackfillJob)
		if err == nil && p.State == "failed" {
			s.T.Fatalf("backfill failed: %s", p.Error)
		}
		return err == nil && p.State == "done"
	})
	return p
}

// Call runs a REST method on the simulator with plain HTTP, as its admin,
// outside the app: the test's own reading of the portal.
func (s *Stack) Call(method string, params map[string]any, out any) {
	s.T.Helper()
	if params == nil {
		params = map[string]any{}
	}
	params["auth"] = s.Sim.IssueTokens(1).AccessToken
	body, _ := json.Marshal(params)
	resp, err := http.Post(s.Sim.ClientEndpoint()+method, "application/json", bytes.NewReader(body))
	if err != nil {
		s.T.Fatal(err)
	}
	defer resp.Body.Close()
	var env struct {
		Result json.RawMessage `json:"result"`
		Error  any             `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil || env.Error != nil {
		s.T.Fatalf("%s: %v %v", method, err, env.Error)
	}
	if out != nil {
		if err := json.Unmarshal(env.Result, out); err != nil {
			s.T.Fatalf("%s: %v", method, err)
		}
	}
}

// Reply is an answer of the application's HTTP routes.
type Reply struct {
	Status int
	Header http.Header
	Body   map[string]any // a JSON object's decoding
	Raw    []byte
}

// Do sends a request to the application with a session token (when set)
// and a JSON or string body.
func (s *Stack) Do(method, path, token string, body any) Reply {
	s.T.Helper()
	return Request(s.T, s.Server.URL, method, path, token, body)
}

// Request sends body as JSON to base+path with token as its bearer and
// reads the answer, its JSON body decoded when it has one.
func Request(t testing.TB, base, method, path, token string, body any) Reply {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		raw, _ := json.Marshal(b)
		r = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, base+path, r)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return Send(t, req)
}

// Send sends req and reads the answer (its JSON body decoded when it is
// JSON).
func Send(t testing.TB, req *http.Request) Reply {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := Reply{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		_ = json.Unmarshal(raw, &out.Body)
	}
	return out
}

// Login starts a session as userID with a fresh token the portal issued,
// as the settings page does, and returns its API token.
func (s *Stack) Login(userID int) string {
	s.T.Helper()
	tok := s.Sim.IssueTokens(userID)
	r := s.Do("POST", "/api/v1/session", "", map[string]string{"member_id": s.Sim.MemberID(), "auth_id": tok.AccessToken})
	token, _ := r.Body["token"].(string)
	if r.Status != 200 || token == "" {
		s.T.Fatalf("session: %d %s", r.Status, r.Raw)
	}
	return token
}

// WaitIdle waits until every event the portal sent is delivered and no task
// is queued, aggregating or running, twice in a row (a write's echo may
// follow the task that made it).
func (s *Stack) WaitIdle(within time.Duration) {
	s.T.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	quiet := 0
	await.That(s.T, within, "the queues to empty", func() bool {
		if err := s.Sim.WaitEvents(ctx); err != nil {
			return false
		}
		if s.OpenTasks() > 0 {
			quiet = 0
			return false
		}
		quiet++
		return quiet >= 2
	})
}

// OpenTasks counts the tasks not done yet, in every queue, but for the
// history estimate (jobs.TypeEstimate): background work on the mirror
// alone, which a large portal's takes minutes and nothing waits for.
func (s *Stack) OpenTasks() int {
	open := 0
	for q := range jobs.Queues() {
		info, err := s.Inspector.GetQueueInfo(q)
		if err != nil {
			continue // a queue that never had a task does not exist yet
		}
		open += info.Pending + info.Active + info.Scheduled + info.Retry + info.Aggregating
		if q != jobs.QueueLow || info.Pending+info.Active == 0 {
			continue
		}
		for _, list := range []func(string, ...asynq.ListOption) ([]*asynq.TaskInfo, error){s.Inspector.ListPendingTasks, s.Inspector.ListActiveTasks} {
			tasks, err := list(q, asynq.PageSize(100))
			if err != nil {
				continue
			}
			for _, t := range tasks {
				if t.Type == jobs.TypeEstimate {
					open--
				}
			}
		}
	}
	return open
}
