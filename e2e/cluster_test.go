package e2e

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"

	"segmentor/internal/await"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"segmentor"
	"segmentor/app"
	"segmentor/bitrix/b24sim"
	"segmentor/internal/redistest"
	"segmentor/jobs"
)

// secretKey is APP_SECRET_KEY of every process; the test opens the same
// store with it.
var secretKey = bytes.Repeat([]byte{0x5e}, 32)

// needRedis skips a test that needs a real Redis outside CI; under CI a
// missing REDIS_URL fails in redistest.New instead.
func needRedis(t *testing.T) {
	t.Helper()
	if !redistest.Real() && os.Getenv("CI") == "" {
		t.Skip("needs a real Redis (REDIS_URL): the app's processes share it")
	}
}

// cluster is Segmentor run as separate processes (one web, any number of
// workers) on one Redis database, against one simulated portal served by
// the test over real HTTP.
type cluster struct {
	t        *testing.T
	ctx      context.Context
	sim      *b24sim.Portal
	gen      b24sim.GenStats
	rdb      *redis.Client // the app's database, as the test sees it
	redisURL string
	store    *app.Store
	insp     *asynq.Inspector
	manifest *segmentor.Manifest
	scratch  func() *redis.Client // an empty database for a fresh evaluation

	webAddr string
	web     *proc
	workers []*proc
	session string // an admin's API token
	extra   map[string]string
}

type clusterOptions struct {
	Sim b24sim.Options
	Gen b24sim.GenOptions
	// Redis, when set, is the app's database (a private server); otherwise
	// redistest leases one.
	Redis *redis.Options
	// Env is added to every process's environment.
	Env map[string]string
}

func newCluster(t *testing.T, o clusterOptions) *cluster {
	t.Helper()
	c := &cluster{t: t, ctx: context.Background(), extra: o.Env}
	var opt *redis.Options
	if o.Redis != nil {
		opt = o.Redis
		c.rdb = redis.NewClient(opt)
		t.Cleanup(func() { _ = c.rdb.Close() })
		scratchDB := opt.DB + 1
		c.scratch = func() *redis.Client {
			so := *opt
			so.DB = scratchDB
			scratchDB++
			r := redis.NewClient(&so)
			if err := r.FlushDB(c.ctx).Err(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = r.Close() })
			return r
		}
	} else {
		c.rdb, opt = redistest.New(t)
		c.scratch = func() *redis.Client { r, _ := redistest.New(t); return r }
	}
	c.redisURL = redisURL(opt)
	// The test holds the scheduler's lock: no periodic task (reconciliation
	// every few minutes, the nightly recompute, keep-alives) runs by the
	// clock in the middle of a proof; a test queues one when it means to.
	if err := c.rdb.Set(c.ctx, jobs.SchedulerLock, "held-by-the-test", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	seal, err := app.NewSealer(secretKey)
	if err != nil {
		t.Fatal(err)
	}
	c.store = app.NewStore(c.rdb, seal, nil)
	c.insp = asynq.NewInspectorFromRedisClient(c.rdb)
	if c.manifest, err = segmentor.LoadManifest(); err != nil {
		t.Fatal(err)
	}
	c.sim = b24sim.New(o.Sim)
	t.Cleanup(c.sim.Close)
	c.gen = c.sim.Seed(o.Gen)
	c.webAddr = freeAddr(t)
	return c
}

// newInstalledCluster starts a web process and the named workers, installs
// Segmentor as Bitrix24 does and opens an admin's API session.
func newInstalledCluster(t *testing.T, o clusterOptions, workers ...string) *cluster {
	t.Helper()
	c := newCluster(t, o)
	c.startWeb()
	for _, w := range workers {
		c.startWorker(w)
	}
	c.install()
	c.login()
	return c
}

// newBackfilledCluster is newInstalledCluster with the proofs' config saved
// and its backfill done.
func newBackfilledCluster(t *testing.T, o clusterOptions, workers ...string) (*cluster, jobProgress) {
	t.Helper()
	c := newInstalledCluster(t, o, workers...)
	c.saveConfig(c.premiumConfig())
	bf := c.waitBackfill(60 * time.Second)
	c.settle(30 * time.Second)
	return c, bf
}

// redisURL writes go-redis options back as a REDIS_URL for a child process.
func redisURL(o *redis.Options) string {
	u := url.URL{Scheme: "redis", Host: o.Addr, Path: "/" + strconv.Itoa(o.DB)}
	switch {
	case o.Username != "":
		u.User = url.UserPassword(o.Username, o.Password)
	case o.Password != "":
		u.User = url.UserPassword("", o.Password)
	}
	return u.String()
}

// env is what every process of the cluster runs with.
func (c *cluster) env() map[string]string {
	env := map[string]string{
		"REDIS_URL":         c.redisURL,
		"APP_BASE_URL":      "http://" + c.webAddr,
		"LISTEN_ADDR":       c.webAddr,
		"B24_CLIENT_ID":     c.sim.ClientID(),
		"B24_CLIENT_SECRET": c.sim.ClientSecret(),
		"B24_OAUTH_URL":     c.sim.OAuthURL(),
		"B24_ALLOW_HTTP":    "true",
		"APP_SECRET_KEY":    hex.EncodeToString(secretKey),
	}
	maps.Copy(env, c.extra)
	return env
}

func (c *cluster) baseURL() string { return "http://" + c.webAddr }

// startWeb starts the web process and waits for /healthz.
func (c *cluster) startWeb() {
	c.t.Helper()
	c.web = startProc(c.t, "web", "web", c.env())
	c.web.waitHTTP(c.t, c.baseURL()+"/healthz", 30*time.Second)
}

// startWorker starts one more worker process and waits until it serves.
func (c *cluster) startWorker(name string) *proc {
	c.t.Helper()
	w := startProc(c.t, name, "worker", c.env())
	if !await.Poll(30*time.Second, func() bool { return w.CountLogged("worker started") > 0 || !w.Running() }) || !w.Running() {
		c.t.Fatalf("%s did not start (exited: %v):\n%s", name, !w.Running(), w.Tail(20))
	}
	c.workers = append(c.workers, w)
	return w
}

// install runs the installer as Bitrix24 does, waits for the worker's
// setup, then finishes the install as the page's BX24.installFinish does.
func (c *cluster) install() {
	c.t.Helper()
	resp, err := c.sim.Install(c.ctx, c.baseURL()+c.manifest.Handlers.Install, b24sim.InstallOptions{})
	if err != nil {
		c.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		c.t.Fatalf("install page answered %d", resp.StatusCode)
	}
	await.That(c.t, 60*time.Second, "setup to finish", func() bool {
		p, err := c.store.Portal(c.ctx, c.sim.MemberID())
		if err == nil && p.Setup.Phase == "failed" {
			c.t.Fatalf("setup failed: %s", p.Setup.Error)
		}
		return err == nil && p.Setup.Phase == "done"
	})
	c.sim.FinishInstall()
}

// login opens an admin's API session as the settings page does.
func (c *cluster) login() {
	c.t.Helper()
	tok := c.sim.IssueTokens(1)
	var out struct{ Token string }
	if st := c.api("POST", "/api/v1/session", map[string]string{"member_id": c.sim.MemberID(), "auth_id": tok.AccessToken}, &out); st != 200 || out.Token == "" {
		c.t.Fatalf("session: %d", st)
	}
	c.session = out.Token
}

// api calls the JSON API and decodes the answer into out (when not nil).
func (c *cluster) api(method, path string, body, out any) int {
	c.t.Helper()
	var r io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		r = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, c.baseURL()+path, r)
	req.Header.Set("Content-Type", "application/json")
	if c.session != "" {
		req.Header.Set("Authorization", "Bearer "+c.session)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			c.t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	}
	if resp.StatusCode >= 300 {
		c.t.Logf("%s %s answered %d: %s", method, path, resp.StatusCode, raw)
	}
	return resp.StatusCode
}

// saveConfig saves the config through the API as the admin does; the
// save queues the backfill.
func (c *cluster) saveConfig(config string) {
	c.t.Helper()
	var cur struct{ Version int }
	if st := c.api("GET", "/api/v1/config", nil, &cur); st != 200 {
		c.t.Fatalf("GET config: %d", st)
	}
	var out struct {
		Version int
		JobID   string `json:"job_id"`
	}
	body := map[string]any{"base_version": cur.Version, "config": json.RawMessage(config)}
	if st := c.api("PUT", "/api/v1/config", body, &out); st != 200 || out.JobID == "" {
		c.t.Fatalf("PUT config: %d %+v", st, out)
	}
}

// jobProgress is GET /api/v1/jobs/backfill.
type jobProgress struct {
	State  string
	Phase  string
	Done   int
	Total  int
	Writes int
	Errors []string
}

func (c *cluster) backfill() jobProgress {
	c.t.Helper()
	var p jobProgress
	if st := c.api("GET", "/api/v1/jobs/backfill", nil, &p); st != 200 {
		c.t.Fatalf("GET job: %d", st)
	}
	return p
}

// waitBackfill waits until the backfill reports done.
func (c *cluster) waitBackfill(d time.Duration) jobProgress {
	c.t.Helper()
	var p jobProgress
	await.That(c.t, d, "the backfill to finish", func() bool {
		p = c.backfill()
		return p.State == "done"
	})
	return p
}

// ageLeases moves the asynq leases of tasks by back: to asynq's recoverer
// they look expired that much longer. The lease is an entry of the queue's
// sorted set asynq:{queue}:lease scored by its end in Unix seconds; a task
// missing from it fails the test, as a change of that layout would.
func (c *cluster) ageLeases(tasks []*asynq.TaskInfo, by time.Duration) {
	c.t.Helper()
	for _, ti := range tasks {
		key := "asynq:{" + ti.Queue + "}:lease"
		end, err := c.rdb.ZScore(c.ctx, key, ti.ID).Result()
		if err != nil {
			c.t.Fatalf("lease of task %s in %s: %v", ti.ID, key, err)
		}
		aged := float64(time.Unix(int64(end), 0).Add(-by).Unix())
		if err := c.rdb.ZAddXX(c.ctx, key, redis.Z{Score: aged, Member: ti.ID}).Err(); err != nil {
			c.t.Fatal(err)
		}
	}
}

// ageAggregations ages the event groups a dead worker was merging when it
// died, as ageLeases ages its tasks. asynq's aggregator moves a group's
// events into a staging set before it merges them into one task; a worker
// killed in between leaves them there, invisible to the queue's counts,
// until the set's deadline (two minutes) has passed and a recoverer puts
// them back in their group (at a worker's start, then each minute). The
// group is merged again at its next event. The test spares the wait.
func (c *cluster) ageAggregations(by time.Duration) {
	c.t.Helper()
	for q := range jobs.Queues() {
		key := "asynq:{" + q + "}:aggregation_sets"
		sets, err := c.rdb.ZRangeWithScores(c.ctx, key, 0, -1).Result()
		if err != nil {
			c.t.Fatalf("aggregation sets of %s: %v", q, err)
		}
		for _, z := range sets {
			c.t.Logf("the dead worker was merging events: %s", z.Member)
			aged := float64(time.Unix(int64(z.Score), 0).Add(-by).Unix())
			if err := c.rdb.ZAddXX(c.ctx, key, redis.Z{Score: aged, Member: z.Member}).Err(); err != nil {
				c.t.Fatal(err)
			}
		}
	}
}

// queueCounts sums asynq's queues: work not done yet, and work given up.
// Events staged for merging (ageAggregations) count as work not done.
func (c *cluster) queueCounts() (open, archived int) {
	c.t.Helper()
	for q := range jobs.Queues() {
		info, err := c.insp.GetQueueInfo(q)
		if err != nil {
			continue // a queue that never had a task does not exist yet
		}
		staged, err := c.rdb.ZCard(c.ctx, "asynq:{"+q+"}:aggregation_sets").Result()
		if err != nil {
			c.t.Fatalf("aggregation sets of %s: %v", q, err)
		}
		open += info.Pending + info.Active + info.Scheduled + info.Retry + info.Aggregating + int(staged)
		archived += info.Archived
	}
	return open, archived
}

// settle waits until every event the portal sent is delivered and every
// task it caused is done, twice in a row (a write's echo event may follow
// the task that made it), failing after d. It fails if any task was given
// up (archived): that would be lost work.
func (c *cluster) settle(d time.Duration) time.Duration {
	c.t.Helper()
	start := time.Now()
	quiet := 0
	settled := await.Poll(d, func() bool {
		ctx, cancel := context.WithDeadline(c.ctx, start.Add(d))
		err := c.sim.WaitEvents(ctx)
		cancel()
		if open, _ := c.queueCounts(); err != nil || open > 0 {
			quiet = 0
			return false
		}
		quiet++
		return quiet >= 2
	})
	if !settled {
		open, _ := c.queueCounts()
		c.t.Fatalf("not settled after %s: %d tasks open", d, open)
	}
	if _, archived := c.queueCounts(); archived > 0 {
		for q := range jobs.Queues() {
			tasks, _ := c.insp.ListArchivedTasks(q)
			for _, ti := range tasks {
				c.t.Errorf("task given up: %s %s: %s", ti.Type, ti.Payload, ti.LastErr)
			}
		}
		c.t.Fatalf("%d tasks were archived: their work is lost", archived)
	}
	return time.Since(start)
}

// premiumConfig is the proofs' config: every output (type, label, pipeline
// move) and knock-on effects from deals to clients to deals. It uses no
// RFM fact: live work reuses quintiles for up to ten minutes by design, so
// a fresh evaluation could legitimately differ at a quintile's edge.
func (c *cluster) premiumConfig() string { return premiumConfigOf(c.gen) }

// premiumConfigOf is the proofs' config for a portal seeded as gen says.
func premiumConfigOf(gen b24sim.GenStats) string {
	p := gen.Pipelines[len(gen.Pipelines)-1]
	return fmt.Sprintf(`{"schemes": [
 {"entity": "contact", "segments": [
   {"key": "vip", "name": "VIP", "when": {"all": [{"fact": "won_amount", "window_days": 365, "op": ">=", "value": 50000}]},
    "set": {"type": "PARTNER", "label": true}},
   {"key": "active", "name": "Active", "when": {"all": [{"fact": "open_deals", "op": ">=", "value": 1}]},
    "set": {"label": true}}],
  "otherwise": {"key": "regular", "name": "Regular", "set": {"type": "CLIENT", "label": true}}},
 {"entity": "company", "segments": [
   {"key": "key", "name": "Key account", "when": {"all": [{"fact": "won_count", "window_days": 365, "op": ">=", "value": 3}]},
    "set": {"type": "PARTNER", "label": true}}],
  "otherwise": {"key": "small", "name": "Small", "set": {"type": "CUSTOMER", "label": true}}},
 {"entity": "deal", "segments": [
   {"key": "premium", "name": "Premium", "when": {"all": [{"fact": "client_segment", "op": "in", "value": ["vip", "key"]}]},
    "set": {"type": "COMPLEX", "label": true, "pipeline": {"category_id": %d, "stage_id": "C%d:NEW", "apply": "always"}}},
   {"key": "web", "name": "Web", "when": {"all": [{"fact": "field:SOURCE_ID", "op": "=", "value": "WEB"}]},
    "set": {"label": true}}]}
]}`, p, p)
}

// servingWorkers names the worker processes asynq lists as serving.
func (c *cluster) servingWorkers() []string {
	c.t.Helper()
	servers, err := c.insp.Servers()
	if err != nil {
		c.t.Fatal(err)
	}
	var out []string
	for _, w := range c.workers {
		for _, s := range servers {
			if s.PID == w.Cmd.Process.Pid && s.Status == "active" && w.Running() {
				out = append(out, w.Name)
			}
		}
	}
	return out
}
