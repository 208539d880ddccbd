// Package apprig runs the real Segmentor app for the command-line tools
// that measure it (cmd/loadtest, cmd/costcurve): one web and some worker
// processes built from ./cmd/segmentor, over real HTTP against a b24sim
// Host and over a real Redis (the one at REDIS_URL, or a private
// redis-server), with the helpers to install portals as Bitrix24 does,
// call the app's API as the settings page does, wait for backfills and
// for quiet, and read the processes' CPU time and memory from /proc.
package apprig

import (
	"bytes"
	"cmp"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"segmentor"
	"segmentor/app"
	"segmentor/bitrix/b24sim"
	"segmentor/jobs"
)

// SecretKey is every process's APP_SECRET_KEY; the tools open the app's
// store with it to follow installs and backfills.
var SecretKey = bytes.Repeat([]byte{0x10}, 32)

// Rig is the app's processes and what observes them.
type Rig struct {
	Dir      string        // the processes' logs (and a private Redis's files)
	RDB      *redis.Client // the app's database
	Store    *app.Store
	Insp     *asynq.Inspector
	Manifest *segmentor.Manifest
	Host     *b24sim.Host
	WebAddr  string
	Env      map[string]string
	Web      *Proc
	Workers  []*Proc

	stopRedis func() // stops the private Redis (OpenRedis with own)
}

// OpenRedis connects to the app's database and empties it: a private
// redis-server (own; REDIS_SERVER_BIN, else redis-server on PATH) or
// database db of REDIS_URL's server. It returns the URL the app is given.
func (r *Rig) OpenRedis(own bool, db int) (string, error) {
	var url string
	if own {
		bin := cmp.Or(os.Getenv("REDIS_SERVER_BIN"), "redis-server")
		u, stop, err := OwnRedis(bin, r.Dir)
		if err != nil {
			return "", err
		}
		r.stopRedis, url = stop, u
	} else {
		url = os.Getenv("REDIS_URL")
		if url == "" {
			return "", errors.New("REDIS_URL is not set (or pass -own-redis)")
		}
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		return "", fmt.Errorf("REDIS_URL: %w", err)
	}
	if !own {
		opt.DB = db
	}
	r.RDB = redis.NewClient(opt)
	if err := r.RDB.FlushDB(context.Background()).Err(); err != nil {
		return "", fmt.Errorf("flush database %d: %w", opt.DB, err)
	}
	return "redis://" + opt.Addr + "/" + strconv.Itoa(opt.DB), nil
}

// StopRedis stops the private Redis, if OpenRedis started one.
func (r *Rig) StopRedis() {
	if r.stopRedis != nil {
		r.stopRedis()
		r.stopRedis = nil
	}
}

// Attach opens the app's store (sealed with SecretKey) and queue
// inspector over RDB, and reads the manifest.
func (r *Rig) Attach() error {
	var err error
	if r.Manifest, err = segmentor.LoadManifest(); err != nil {
		return err
	}
	seal, err := app.NewSealer(SecretKey)
	if err != nil {
		return err
	}
	r.Store = app.NewStore(r.RDB, seal, nil)
	r.Insp = asynq.NewInspectorFromRedisClient(r.RDB)
	return nil
}

// BaseEnv is the processes' environment for the app at redisURL, serving
// on WebAddr, its portals on Host; callers add to it.
func (r *Rig) BaseEnv(redisURL, logLevel string) map[string]string {
	return map[string]string{
		"REDIS_URL": redisURL, "APP_BASE_URL": "http://" + r.WebAddr, "LISTEN_ADDR": r.WebAddr,
		"B24_CLIENT_ID": r.Host.ClientID(), "B24_CLIENT_SECRET": r.Host.ClientSecret(), "B24_OAUTH_URL": r.Host.OAuthURL(),
		"B24_ALLOW_HTTP": "true", "APP_SECRET_KEY": hex.EncodeToString(SecretKey),
		"OPS_USER": "ops", "OPS_PASSWORD": "load-test-operator", "LOG_LEVEL": logLevel,
	}
}

// Procs is the web process and the workers.
func (r *Rig) Procs() []*Proc { return append([]*Proc{r.Web}, r.Workers...) }

// StartWeb starts the web process with Env and waits for its /healthz.
func (r *Rig) StartWeb(ctx context.Context, bin, name string) error {
	var err error
	if r.Web, err = StartProc(bin, r.Dir, name, "web", r.Env); err != nil {
		return err
	}
	return r.Web.WaitFor(ctx, time.Minute, "answer on /healthz", func() bool { return HTTPOK("http://" + r.WebAddr + "/healthz") })
}

// StartProcs starts the web process and n workers, each waited for.
func (r *Rig) StartProcs(ctx context.Context, bin string, n int) error {
	if err := r.StartWeb(ctx, bin, "web"); err != nil {
		return err
	}
	for i := range n {
		w, err := StartProc(bin, r.Dir, "worker-"+strconv.Itoa(i+1), "worker", r.Env)
		if err != nil {
			return err
		}
		r.Workers = append(r.Workers, w)
		// LOG_LEVEL warn hides "worker started": asynq's server lists
		// itself in Redis once it serves.
		if err := w.WaitFor(ctx, time.Minute, "serving", func() bool {
			servers, err := r.Insp.Servers()
			if err != nil {
				return false
			}
			for _, s := range servers {
				if s.PID == w.Cmd.Process.Pid && s.Status == "active" {
					return true
				}
			}
			return false
		}); err != nil {
			return err
		}
	}
	return nil
}

// StopProcs stops every process, each killed after 15 s.
func (r *Rig) StopProcs() {
	var wg sync.WaitGroup
	for _, p := range r.Procs() {
		if p != nil {
			wg.Go(func() { _ = p.Stop(15 * time.Second) })
		}
	}
	wg.Wait()
}

// Alive fails when a process has exited.
func (r *Rig) Alive() error {
	for _, p := range r.Procs() {
		if !p.Running() {
			return fmt.Errorf("%s exited:\n%s", p.Name, p.Tail(20))
		}
	}
	return nil
}

// Install runs the installer as Bitrix24 does (Setup) and saves config
// through the API, which queues the portal's backfill.
func (r *Rig) Install(ctx context.Context, p *b24sim.Portal, config string) error {
	token, err := r.Setup(ctx, p)
	if err != nil {
		return err
	}
	return r.SaveConfig(ctx, p, token, config)
}

// Setup runs the installer as Bitrix24 does, waits for the worker's setup,
// finishes the install as the page's BX24.installFinish does and opens an
// admin's API session, whose token it returns.
func (r *Rig) Setup(ctx context.Context, p *b24sim.Portal) (string, error) {
	base := "http://" + r.WebAddr
	resp, err := p.Install(ctx, base+r.Manifest.Handlers.Install, b24sim.InstallOptions{})
	if err != nil {
		return "", fmt.Errorf("%s: install: %w", p.Name(), err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: the install page answered %d", p.Name(), resp.StatusCode)
	}
	deadline := time.Now().Add(10 * time.Minute)
	for {
		pp, err := r.Store.Portal(ctx, p.MemberID())
		if err == nil && pp.Setup.Phase == "failed" {
			return "", fmt.Errorf("%s: setup failed: %s", p.Name(), pp.Setup.Error)
		}
		if err == nil && pp.Setup.Phase == "done" {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return "", fmt.Errorf("%s: setup did not finish in 10 minutes", p.Name())
		}
		time.Sleep(250 * time.Millisecond)
	}
	p.FinishInstall()
	return r.Session(ctx, p)
}

// Session opens an admin's API session on the portal, as the settings
// page does with the user's token, and returns its bearer token.
func (r *Rig) Session(ctx context.Context, p *b24sim.Portal) (string, error) {
	var sess struct{ Token string }
	tok := p.IssueTokens(1)
	if st, err := r.API(ctx, "", "POST", "/api/v1/session", map[string]string{"member_id": p.MemberID(), "auth_id": tok.AccessToken}, &sess); err != nil || st != 200 {
		return "", fmt.Errorf("%s: session: %d %v", p.Name(), st, err)
	}
	return sess.Token, nil
}

// SaveConfig saves config over the current one, as the settings page's
// Save does (which queues the backfill).
func (r *Rig) SaveConfig(ctx context.Context, p *b24sim.Portal, token, config string) error {
	var cur struct{ Version int }
	if st, err := r.API(ctx, token, "GET", "/api/v1/config", nil, &cur); err != nil || st != 200 {
		return fmt.Errorf("%s: GET config: %d %v", p.Name(), st, err)
	}
	body := map[string]any{"base_version": cur.Version, "config": json.RawMessage(config)}
	if st, err := r.API(ctx, token, "PUT", "/api/v1/config", body, nil); err != nil || st != 200 {
		return fmt.Errorf("%s: PUT config: %d %v", p.Name(), st, err)
	}
	return nil
}

// API calls the app's JSON API with a session token.
func (r *Rig) API(ctx context.Context, token, method, path string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+r.WebAddr+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return resp.StatusCode, fmt.Errorf("%s %s: %s", method, path, raw)
	}
	if out != nil {
		return resp.StatusCode, json.Unmarshal(raw, out)
	}
	return resp.StatusCode, nil
}

// WaitBackfills waits until every portal's backfill is done, looking every
// poll.
func (r *Rig) WaitBackfills(ctx context.Context, portals []*b24sim.Portal, d, poll time.Duration) error {
	deadline := time.Now().Add(d)
	left := portals
	for len(left) > 0 {
		var still []*b24sim.Portal
		for _, p := range left {
			pr, err := r.Store.Progress(ctx, p.MemberID(), app.BackfillJob)
			if err == nil && pr.State == "failed" {
				return fmt.Errorf("%s: backfill failed: %s", p.Name(), pr.Error)
			}
			if err != nil || pr.State != "done" {
				still = append(still, p)
			}
		}
		left = still
		if len(left) == 0 {
			break
		}
		if err := r.Alive(); err != nil {
			return err
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%d backfills not done after %s", len(left), d)
		}
		time.Sleep(poll)
	}
	return nil
}

// Settle waits until every portal's events are delivered and no task is
// open, twice in a row a second apart.
func (r *Rig) Settle(ctx context.Context, d time.Duration) error {
	deadline := time.Now().Add(d)
	quiet := 0
	for quiet < 2 {
		if err := r.Alive(); err != nil {
			return err
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("not settled after %s: %d tasks open", d, r.OpenTasks())
		}
		ectx, cancel := context.WithDeadline(ctx, deadline)
		var err error
		for _, p := range r.Host.Portals() {
			if err = p.WaitEvents(ectx); err != nil {
				break
			}
		}
		cancel()
		if err == nil && r.OpenTasks() == 0 {
			quiet++
		} else {
			quiet = 0
		}
		time.Sleep(time.Second)
	}
	return nil
}

// OpenTasks counts the tasks not done yet over every queue.
func (r *Rig) OpenTasks() int {
	open := 0
	for q := range jobs.Queues() {
		info, err := r.Insp.GetQueueInfo(q)
		if err != nil {
			continue // a queue that never had a task does not exist yet
		}
		open += info.Pending + info.Active + info.Scheduled + info.Retry + info.Aggregating
	}
	return open
}

// WaitTask waits until the task id on queue has completed; an archived
// task (its retries spent) fails.
func (r *Rig) WaitTask(ctx context.Context, queue, id, what string) error {
	for {
		ti, err := r.Insp.GetTaskInfo(queue, id)
		if err == nil && ti.State == asynq.TaskStateCompleted {
			return nil
		}
		if err == nil && ti.State == asynq.TaskStateArchived {
			return fmt.Errorf("%s failed: %s", what, ti.LastErr)
		}
		if err := r.Alive(); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// SegField is the Segment field's name on a portal.
func (r *Rig) SegField() string { return "UF_CRM_" + r.Manifest.SegmentField.FieldName }
