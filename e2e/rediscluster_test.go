package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"segmentor/app"
	"segmentor/bitrix/b24sim"
	"segmentor/internal/await"
	"segmentor/internal/keyspace"
	"segmentor/internal/redistest"
	"segmentor/internal/testkit"
	"segmentor/internal/wiring"
	"segmentor/jobs"
)

// Segmentor runs on a Redis Cluster of three masters unchanged: two
// portals, whose keys and whose live queues (jobs.EventsQueue) live on
// different masters, are installed, backfilled and edited live side by
// side; every record of both is then in its correct state (a fresh
// evaluation would write nothing). Both are uninstalled with "delete app
// data", and the purge leaves of each only its portal record, on every
// master. Any script, transaction or WATCH across slots fails it with
// CROSSSLOT. The cluster is REDIS_CLUSTER_TEST_ADDRS (.ci/run starts one) or
// one of the test's own from REDIS_SERVER_BIN; without either it skips.
func TestTwoPortalsOnRedisCluster(t *testing.T) {
	rdb := redistest.Cluster(t)
	ctx := context.Background()
	a, b := clusterMembers(t, rdb)
	t.Logf("portals %s (queue %s) and %s (queue %s)", a, jobs.EventsQueue(a), b, jobs.EventsQueue(b))

	sims := map[string]*b24sim.Portal{}
	gens := map[string]b24sim.GenStats{}
	now := time.Now().UTC()
	for i, m := range []string{a, b} {
		sim := b24sim.New(b24sim.Options{Seed: uint64(71 + i), MemberID: m, Domain: m + ".bitrix24.test"})
		t.Cleanup(sim.Close)
		gens[m] = sim.Seed(b24sim.GenOptions{Contacts: 40 + 10*i, Companies: 8, Deals: 140 + 30*i, Now: now})
		sims[m] = sim
	}
	seg := startClusterApp(t, rdb, sims[a], sims[b])
	insp := asynq.NewInspectorFromRedisClient(rdb)
	open := func() int {
		n := 0
		for q := range jobs.Queues() {
			if info, err := insp.GetQueueInfo(q); err == nil {
				n += info.Pending + info.Active + info.Scheduled + info.Retry + info.Aggregating
			}
		}
		return n
	}
	waitIdle := func(what string) {
		t.Helper()
		quiet := 0
		await.That(t, 2*time.Minute, what, func() bool {
			for _, sim := range sims {
				if err := sim.WaitEvents(ctx); err != nil {
					return false
				}
			}
			if open() > 0 {
				quiet = 0
				return false
			}
			quiet++
			return quiet >= 3
		})
	}
	processed := func(q string) int {
		info, err := insp.GetQueueInfo(q)
		if err != nil {
			return 0
		}
		return info.ProcessedTotal
	}
	check := func(when string) {
		t.Helper()
		for _, m := range []string{a, b} {
			scratch, _ := redistest.New(t)
			n := requireRight(t, when+" ("+m+")", evaluatePortal(t, ctx, sims[m], seg.Store, rdb, scratch, seg.Manifest))
			t.Logf("%s: all %d records of %s are right", when, n, m)
		}
	}

	// Installed and backfilled side by side.
	for _, m := range []string{a, b} {
		resp, err := sims[m].Install(ctx, seg.url+seg.Manifest.Handlers.Install, b24sim.InstallOptions{})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: the install page answered %d", m, resp.StatusCode)
		}
	}
	for _, m := range []string{a, b} {
		await.That(t, time.Minute, "setup of "+m, func() bool {
			p, err := seg.Store.Portal(ctx, m)
			if err == nil && p.Setup.Phase == "failed" {
				t.Fatalf("setup of %s failed: %s", m, p.Setup.Error)
			}
			return err == nil && p.Setup.Phase == "done"
		})
		sims[m].FinishInstall()
	}
	for _, m := range []string{a, b} {
		cur, err := seg.Store.Config(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := seg.Store.PutConfig(ctx, m, cur.Version, []byte(premiumConfigOf(gens[m])), 1); err != nil {
			t.Fatal(err)
		}
		if err := seg.Life.Recompute(ctx, m, "test"); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range []string{a, b} {
		await.That(t, 2*time.Minute, "the backfill of "+m, func() bool {
			p, err := seg.Store.Progress(ctx, m, app.BackfillJob)
			if err == nil && p.State == "failed" {
				t.Fatalf("backfill of %s failed: %s", m, p.Error)
			}
			return err == nil && p.State == "done"
		})
	}
	waitIdle("the queues to empty after the backfills")
	check("after the backfills")

	// Edited live, both at once: each portal's changes run in its own
	// queue, on its own master.
	before := map[string]int{jobs.EventsQueue(a): processed(jobs.EventsQueue(a)), jobs.EventsQueue(b): processed(jobs.EventsQueue(b))}
	var wg sync.WaitGroup
	for i, m := range []string{a, b} {
		ed := newEditor(t, sims[m], uint64(900+i))
		wg.Go(func() {
			for range 30 {
				if err := ed.try(); err != nil {
					t.Error(err)
					return
				}
				time.Sleep(30 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	waitIdle("the queues to empty after the live edits")
	for q, n := range before {
		if got := processed(q); got <= n {
			t.Errorf("queue %s processed no task during the edits (%d before, %d after)", q, n, got)
		}
	}
	check("after the live edits")

	// Uninstalled with "delete app data"; the purge finds every key of
	// each, whichever master holds it.
	for _, m := range []string{a, b} {
		if err := sims[m].Uninstall(ctx, true); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range []string{a, b} {
		await.That(t, time.Minute, m+" to be uninstalled", func() bool {
			p, err := seg.Store.Portal(ctx, m)
			return err == nil && p.State == app.StateUninstalled && !p.PurgeAt.IsZero()
		})
	}
	waitIdle("the queues to empty after the uninstalls")
	for _, m := range []string{a, b} {
		n := 0
		if err := keyspace.Scan(ctx, rdb, keyspace.PortalPrefix(m)+"*", func(keys []string) error { n += len(keys); return nil }); err != nil {
			t.Fatal(err)
		}
		if n < 20 {
			t.Fatalf("%s has %d keys before the purge: its data is not where the purge looks", m, n)
		}
		t.Logf("%s has %d keys before the purge", m, n)
	}
	if _, err := seg.Life.Purge(ctx); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{a, b} {
		p, err := seg.Store.Portal(ctx, m)
		if err != nil || p.PurgedAt.IsZero() {
			t.Fatalf("%s not purged: %+v %v", m, p, err)
		}
		var left []string
		err = keyspace.Scan(ctx, rdb, "*"+m+"*", func(keys []string) error {
			for _, k := range keys {
				if k == keyspace.Portal(m, "portal") {
					continue
				}
				// A request budget's state (redis_rate's "rate:" keys) is
				// not the portal's data: it expires within a minute, and
				// may expire between the scan and its PTTL (-2: gone, 0:
				// going).
				ttl, err := rdb.PTTL(ctx, k).Result()
				expiring := err == nil && (ttl == -2 || ttl >= 0 && ttl <= time.Hour)
				if !expiring || !strings.HasPrefix(k, "rate:") {
					left = append(left, fmt.Sprintf("%s (ttl %s)", k, ttl))
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(left)
		if len(left) > 0 {
			t.Errorf("after the purge %s keeps %d keys besides its record: %q", m, len(left), left)
		}
	}
}

// clusterMembers picks two new member_ids whose keys live on different
// masters, as do their live queues.
func clusterMembers(t *testing.T, rdb *redis.ClusterClient) (string, string) {
	t.Helper()
	ctx := context.Background()
	master := func(key string) string {
		n, err := rdb.MasterForKey(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		return n.Options().Addr
	}
	queueMaster := func(m string) string { return master("asynq:{" + jobs.EventsQueue(m) + "}:pending") }
	base := fmt.Sprintf("e2eclu%x", time.Now().UnixNano())
	a := base + "a"
	for i := range 500 {
		b := fmt.Sprintf("%sb%d", base, i)
		if master(keyspace.PortalPrefix(a)) != master(keyspace.PortalPrefix(b)) && queueMaster(a) != queueMaster(b) {
			return a, b
		}
	}
	t.Fatal("found no two portals apart on the cluster's masters")
	return "", ""
}

// clusterApp is Segmentor assembled as production assembles it, on a
// Redis Cluster, with its routes served over real HTTP.
type clusterApp struct {
	*wiring.App
	url string
}

// startClusterApp starts the web routes and a worker on rdb for the
// simulated portals, which share one OAuth server as Bitrix24's portals do.
func startClusterApp(t *testing.T, rdb redis.UniversalClient, sims ...*b24sim.Portal) *clusterApp {
	t.Helper()
	var handler http.Handler = http.NotFoundHandler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	oauth := httptest.NewServer(oauthOfPortals(sims))
	t.Cleanup(oauth.Close)
	cfg := wiring.Config{ClientID: sims[0].ClientID(), ClientSecret: sims[0].ClientSecret(), OAuthURL: oauth.URL,
		AllowHTTP: true, AppBaseURL: srv.URL, SecretKey: secretKey, TaskCheck: 10 * time.Millisecond,
		UninstallCleanGrace: time.Millisecond}
	a, err := wiring.New(rdb, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	a.Engine.InDoubtWait = time.Millisecond
	a.Queue.UninstallWindow = 100 * time.Millisecond
	web, err := a.Web()
	if err != nil {
		t.Fatal(err)
	}
	asrv, mux, worker, err := a.Worker(testkit.QuietAsynq{})
	if err != nil {
		t.Fatal(err)
	}
	handler = a.Router(web)
	worker.Register(mux)
	if err := asrv.Start(mux); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(asrv.Shutdown)
	t.Cleanup(func() {
		// A shared cluster keeps no record of the test's portals.
		for _, s := range sims {
			_ = a.Store.DeleteEverything(context.Background(), s.MemberID())
			_ = rdb.Del(context.Background(), keyspace.Portal(s.MemberID(), "portal")).Err()
			_ = rdb.SRem(context.Background(), keyspace.Portals, s.MemberID()).Err()
		}
	})
	return &clusterApp{App: a, url: srv.URL}
}

// oauthOfPortals is one OAuth server for several simulated portals: a
// token request goes to each portal's own server in turn and the first
// that grants it answers (a refresh token is one portal's only).
func oauthOfPortals(sims []*b24sim.Portal) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var status int
		var header http.Header
		var answer []byte
		for _, s := range sims {
			req, err := http.NewRequestWithContext(r.Context(), r.Method, s.OAuthURL()+r.URL.RequestURI(), bytes.NewReader(body))
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			req.Header = r.Header.Clone()
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			answer, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			status, header = resp.StatusCode, resp.Header
			if status == http.StatusOK {
				break
			}
		}
		for k, v := range header {
			w.Header()[k] = v
		}
		w.WriteHeader(status)
		_, _ = w.Write(answer)
	})
}
