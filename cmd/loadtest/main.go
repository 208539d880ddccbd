// Command loadtest runs Segmentor against many simulated portals on one
// b24sim Host and prints what it costs and how fast live changes land:
//
//	go run ./cmd/loadtest [flags]
//
// It starts a b24sim Host with -portals small portals (a few hundred
// records each) and, later, one large portal of -large deals; runs the real
// app as separate processes (one web, -workers workers, built from
// ./cmd/segmentor) on the Redis at REDIS_URL (database -db, flushed before
// and after) or on a private redis-server (-own-redis); installs every
// small portal as Bitrix24 does and saves a config through the API, which
// backfills it. Then, in phases:
//
//   - idle: nothing happens for -idle; Redis commands per second at rest,
//     with /metrics scraped every -scrape as Prometheus would, and the cost
//     of one reconciliation over every portal (the scheduler's periodic
//     work, every 5 minutes; the load test holds the scheduler's lock and
//     runs it once itself, so that it falls in no other window);
//   - live: -rate edits a second across the small portals for -live:
//     event→write latency, worker CPU-seconds and Redis commands per 1,000
//     events;
//   - busy: the large portal is installed and its backfill starts; the
//     same stream of edits runs for -busy meanwhile: the small portals'
//     latency beside a large backfill, and the QUERY_LIMIT_EXCEEDED answers
//     any portal gave.
//
// The large portal is on the Enterprise plan (5 requests a second, a
// bucket of 250; -large-standard: 2 and 50): the app paces each portal by
// the plan app.info reports, so a simulator at a raised limit would still
// be sent 5 a second. Its backfill need not finish within -busy: what
// counts is the other portals' latency while it runs.
//
// The app's processes are apart from the load test's (which holds the
// simulated portals), so their CPU times (/proc/<pid>/stat) are their own.
// Redis's counters are the server's: with a shared server (REDIS_URL) they
// hold whatever else runs on it. The goals are printed beside the figures;
// the load test exits non-zero only when it cannot run (a process dies, an
// install or backfill fails), never because a goal is missed.
package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hibiken/asynq"

	"segmentor/app"
	"segmentor/bitrix/b24sim"
	"segmentor/internal/apprig"
	"segmentor/internal/keyspace"
	"segmentor/jobs"
)

type options struct {
	portals                    int
	deals, contacts, companies int
	large                      int
	largeStandard              bool
	rate                       float64
	idle, live, busy           time.Duration
	scrape                     time.Duration
	workers                    int
	parallel                   int
	db                         int
	ownRedis                   bool
	bin                        string
	keep                       bool
	timeout                    time.Duration
	logLevel                   string
}

func main() {
	var o options
	flag.IntVar(&o.portals, "portals", 1000, "small portals")
	flag.IntVar(&o.deals, "deals", 200, "deals of each small portal")
	flag.IntVar(&o.contacts, "contacts", 60, "contacts of each small portal")
	flag.IntVar(&o.companies, "companies", 15, "companies of each small portal")
	flag.IntVar(&o.large, "large", 1_000_000, "deals of the large portal (a third as many contacts, a tenth as many companies); 0: none")
	flag.BoolVar(&o.largeStandard, "large-standard", false, "the large portal on the standard plan (2/s, 50) instead of Enterprise (5/s, 250)")
	flag.Float64Var(&o.rate, "rate", 10, "edits a second across the small portals")
	flag.DurationVar(&o.idle, "idle", time.Minute, "how long the installed portals stay idle")
	flag.DurationVar(&o.live, "live", time.Minute, "how long the edits run alone")
	flag.DurationVar(&o.busy, "busy", 2*time.Minute, "how long the edits run beside the large portal's backfill")
	flag.DurationVar(&o.scrape, "scrape", 15*time.Second, "how often /metrics is scraped while idle; 0: never")
	flag.IntVar(&o.workers, "workers", 1, "worker processes")
	flag.IntVar(&o.parallel, "parallel", 16, "portals installed at once")
	flag.IntVar(&o.db, "db", 1000, "the Redis database of REDIS_URL's server the app uses (flushed before and after)")
	flag.BoolVar(&o.ownRedis, "own-redis", false, "start a private redis-server (REDIS_SERVER_BIN, else redis-server on PATH) instead of using REDIS_URL")
	flag.StringVar(&o.bin, "bin", "", "the segmentor binary; default: go build ./cmd/segmentor")
	flag.BoolVar(&o.keep, "keep", false, "keep the processes' logs (their directory is printed)")
	flag.DurationVar(&o.timeout, "timeout", 2*time.Minute, "an edit whose label has not changed by then counts as lost")
	flag.StringVar(&o.logLevel, "log-level", "warn", "the app's LOG_LEVEL (debug logs every job with its duration)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

// loadConfig labels every record: contacts and companies by their deals,
// deals by their source alone, so that an edit of a deal's source always
// changes its label (editStream).
const loadConfig = `{"schemes": [
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
   {"key": "web", "name": "Web", "when": {"all": [{"fact": "field:SOURCE_ID", "op": "=", "value": "WEB"}]},
    "set": {"label": true}}],
  "otherwise": {"key": "other", "name": "Other", "set": {"label": true}}}
]}`

// bench is one run: the portals, the app's processes and what observes them.
type bench struct {
	*apprig.Rig
	o     options
	small []*b24sim.Portal
	out   io.Writer
}

func run(ctx context.Context, o options) error {
	start := time.Now()
	b := &bench{Rig: &apprig.Rig{}, o: o, out: os.Stdout}
	dir, err := os.MkdirTemp("", "segmentor-loadtest-")
	if err != nil {
		return err
	}
	b.Dir = dir
	if o.keep {
		b.printf("logs in %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	redisURL, err := b.OpenRedis(o.ownRedis, o.db)
	defer b.StopRedis()
	if err != nil {
		return err
	}
	defer b.RDB.Close()
	defer b.RDB.FlushDB(context.Background())
	if err := b.Attach(); err != nil {
		return err
	}
	bin := o.bin
	if bin == "" {
		b.printf("building ./cmd/segmentor\n")
		if bin, err = apprig.BuildBinary(dir); err != nil {
			return err
		}
	}

	// The portals: one Host, the small ones seeded now, the large one
	// added (and seeded) before its phase.
	b.Host = b24sim.NewHost(b24sim.HostOptions{LogLimit: -1})
	defer b.Host.Close()
	t0 := time.Now()
	gen := b24sim.GenOptions{Deals: o.deals, Contacts: o.contacts, Companies: o.companies, Years: 2}
	records := 0
	for range o.portals {
		p := b.Host.AddPortal(b24sim.Options{})
		st := p.Seed(gen)
		records += st.Deals + st.Contacts + st.Companies
		b.small = append(b.small, p)
	}
	b.printf("seeded %d small portals (%d records) in %s\n", o.portals, records, since(t0))

	// The test holds the scheduler's lock: the periodic work (the
	// reconciliation every 5 minutes, the nightly recompute) runs when the
	// load test queues it, not in the middle of a window.
	if err := b.RDB.Set(ctx, jobs.SchedulerLock, "held-by-the-load-test", 48*time.Hour).Err(); err != nil {
		return err
	}
	if b.WebAddr, err = apprig.FreeAddr(); err != nil {
		return err
	}
	b.Env = b.BaseEnv(redisURL, b.o.logLevel)
	if err := b.StartProcs(ctx, bin, b.o.workers); err != nil {
		return err
	}
	defer b.StopProcs()

	// Install every small portal, save the config, wait for the backfills.
	t0 = time.Now()
	if err := b.installAll(ctx, b.small); err != nil {
		return err
	}
	b.printf("installed %d portals in %s\n", len(b.small), since(t0))
	t0 = time.Now()
	if err := b.WaitBackfills(ctx, b.small, 30*time.Minute, time.Second); err != nil {
		return err
	}
	if err := b.Settle(ctx, 10*time.Minute); err != nil {
		return err
	}
	b.printf("backfilled %d portals in %s\n", len(b.small), since(t0))

	var r report
	r.o = o
	if err := b.idlePhase(ctx, &r); err != nil {
		return err
	}
	if err := b.livePhase(ctx, &r); err != nil {
		return err
	}
	if err := b.busyPhase(ctx, &r); err != nil {
		return err
	}
	for _, p := range b.Host.Portals() {
		st := p.Stats()
		r.queryLimit += st.QueryLimitRefusals
		r.operating += st.OperatingRefusals
	}
	for _, p := range b.Procs() {
		if !p.Running() {
			return fmt.Errorf("%s exited during the run:\n%s", p.Name, p.Tail(20))
		}
		r.errorLines += p.CountLogged(`"level":"ERROR"`)
	}
	r.total = time.Since(start)
	r.print(b.out)
	return nil
}

func (b *bench) printf(format string, args ...any) {
	fmt.Fprintf(b.out, "%s  "+format, append([]any{time.Now().Format("15:04:05")}, args...)...)
}

func since(t time.Time) time.Duration { return time.Since(t).Round(100 * time.Millisecond) }

// cpu sums the CPU seconds of the web process and of the workers.
func (b *bench) cpu() (web, workers float64) {
	web, _ = b.Web.CPUSeconds()
	for _, w := range b.Workers {
		s, _ := w.CPUSeconds()
		workers += s
	}
	return web, workers
}

// installAll installs portals, o.parallel at a time.
func (b *bench) installAll(ctx context.Context, portals []*b24sim.Portal) error {
	sem := make(chan struct{}, max(1, b.o.parallel))
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	var done atomic.Int64
	t0 := time.Now()
	for _, p := range portals {
		sem <- struct{}{}
		mu.Lock()
		failed := first != nil
		mu.Unlock()
		if failed || ctx.Err() != nil {
			<-sem
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := b.Install(ctx, p, loadConfig); err != nil {
				mu.Lock()
				first = cmp.Or(first, err)
				mu.Unlock()
				return
			}
			if n := done.Add(1); n%100 == 0 {
				b.printf("  %d of %d installed (%s)\n", n, len(portals), since(t0))
			}
		})
	}
	wg.Wait()
	return cmp.Or(first, ctx.Err())
}

// events sums the events the portals delivered to the app.
func events(portals []*b24sim.Portal) int {
	n := 0
	for _, p := range portals {
		n += p.EventStats().Delivered
	}
	return n
}

// idlePhase measures Redis at rest: the installed portals idle, /metrics
// scraped as Prometheus would; then one reconciliation over every portal.
func (b *bench) idlePhase(ctx context.Context, r *report) error {
	b.printf("idle for %s\n", b.o.idle)
	_, w0 := b.cpu()
	c0, err := apprig.ReadCounts(ctx, b.RDB)
	if err != nil {
		return err
	}
	end := time.Now().Add(b.o.idle)
	for time.Now().Before(end) && ctx.Err() == nil {
		if b.o.scrape > 0 {
			if err := b.scrapeMetrics(ctx); err != nil {
				return err
			}
			r.scrapes++
		}
		step := b.o.scrape
		if step <= 0 {
			step = time.Until(end)
		}
		time.Sleep(min(step, time.Until(end)))
	}
	c1, err := apprig.ReadCounts(ctx, b.RDB)
	if err != nil {
		return err
	}
	_, w1 := b.cpu()
	r.idle = c0.To(c1)
	r.idleWorkerCPU = w1 - w0

	// One reconciliation of every portal, as the scheduler queues it every
	// 5 minutes. The first after the backfills re-reads every record they
	// wrote (the scan looks 5 minutes back past its last one, and the
	// first looks a day back); then each portal's last-scan mark is moved
	// on by those 5 minutes, as on a portal quiet since its last scan, and
	// the second run is measured: what a reconciliation costs at rest.
	if _, err := b.reconcile(ctx); err != nil {
		return err
	}
	if err := b.Settle(ctx, 10*time.Minute); err != nil {
		return err
	}
	quiet := time.Now().UTC().Add(reconcileOverlap).Format(time.RFC3339)
	for _, p := range b.small {
		if err := b.RDB.Set(ctx, keyspace.Reconciled(p.MemberID()), quiet, 0).Err(); err != nil {
			return err
		}
	}
	c0, _ = apprig.ReadCounts(ctx, b.RDB)
	if r.reconcileTime, err = b.reconcile(ctx); err != nil {
		return err
	}
	c1, _ = apprig.ReadCounts(ctx, b.RDB)
	r.reconcile = c0.To(c1)
	return b.Settle(ctx, 5*time.Minute)
}

// reconcileOverlap is how far back past its last scan a reconciliation
// looks (jobs' reconcileOverlap).
const reconcileOverlap = 5 * time.Minute

// reconcile runs one reconciliation of every portal and waits for it.
func (b *bench) reconcile(ctx context.Context) (time.Duration, error) {
	t0 := time.Now()
	client := asynq.NewClientFromRedisClient(b.RDB)
	info, err := client.Enqueue(asynq.NewTask(jobs.TypeReconcile, nil), asynq.Queue(jobs.QueueLow), asynq.MaxRetry(0), asynq.Retention(time.Hour))
	if err != nil {
		return 0, fmt.Errorf("queue a reconciliation: %w", err)
	}
	if err := b.WaitTask(ctx, jobs.QueueLow, info.ID, "the reconciliation"); err != nil {
		return 0, err
	}
	return time.Since(t0), nil
}

// scrapeMetrics reads /metrics as an operator's Prometheus does.
func (b *bench) scrapeMetrics(ctx context.Context) error {
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+b.WebAddr+"/metrics", nil)
	req.SetBasicAuth(b.Env["OPS_USER"], b.Env["OPS_PASSWORD"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("scrape /metrics: %w", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("scrape /metrics: %d", resp.StatusCode)
	}
	return nil
}

// livePhase runs the edits alone: latency, and the app's cost per event.
func (b *bench) livePhase(ctx context.Context, r *report) error {
	if b.o.live <= 0 {
		return nil
	}
	b.printf("live edits, %.0f a second, for %s\n", b.o.rate, b.o.live)
	s := newEditStream(b.small, b.SegField(), b.o.timeout, 1)
	web0, w0 := b.cpu()
	e0 := events(b.small)
	c0, err := apprig.ReadCounts(ctx, b.RDB)
	if err != nil {
		return err
	}
	lctx, cancel := context.WithTimeout(ctx, b.o.live)
	s.run(lctx, b.o.rate)
	cancel()
	if err := b.Settle(ctx, 5*time.Minute); err != nil {
		return err
	}
	c1, err := apprig.ReadCounts(ctx, b.RDB)
	if err != nil {
		return err
	}
	web1, w1 := b.cpu()
	r.live = s.result()
	r.liveEvents = events(b.small) - e0
	r.liveRedis = c0.To(c1)
	r.liveWorkerCPU, r.liveWebCPU = w1-w0, web1-web0
	return r.live.firstErr
}

// busyPhase installs the large portal and runs the edits beside its backfill.
func (b *bench) busyPhase(ctx context.Context, r *report) error {
	if b.o.large <= 0 || b.o.busy <= 0 {
		return nil
	}
	t0 := time.Now()
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	large := b.Host.AddPortal(b24sim.Options{Enterprise: !b.o.largeStandard})
	st := large.Seed(b24sim.GenOptions{Deals: b.o.large, Contacts: b.o.large / 3, Companies: b.o.large / 10, Years: 3})
	runtime.GC()
	runtime.ReadMemStats(&m1)
	r.largeRecords = st.Deals + st.Contacts + st.Companies
	r.largeHeap = int64(m1.HeapAlloc) - int64(m0.HeapAlloc)
	b.printf("seeded the large portal (%d deals, %d records, %d MB of the load test's heap) in %s\n",
		st.Deals, r.largeRecords, r.largeHeap>>20, since(t0))
	if err := b.Install(ctx, large, loadConfig); err != nil {
		return err
	}
	b.printf("installed the large portal; its backfill runs; edits, %.0f a second, for %s\n", b.o.rate, b.o.busy)
	s := newEditStream(b.small, b.SegField(), b.o.timeout, 2)
	_, w0 := b.cpu()
	t0 = time.Now()
	lctx, cancel := context.WithTimeout(ctx, b.o.busy)
	peak := int64(0)
	var wg sync.WaitGroup
	wg.Go(func() {
		for lctx.Err() == nil {
			for _, w := range b.Workers {
				peak = max(peak, w.RSSBytes())
			}
			time.Sleep(time.Second)
		}
	})
	s.run(lctx, b.o.rate)
	cancel()
	wg.Wait()
	_, w1 := b.cpu()
	r.busy = s.result()
	r.busyWorkerCPU, r.busyTime, r.workerPeakRSS = w1-w0, time.Since(t0), peak
	if pr, err := b.Store.Progress(ctx, large.MemberID(), app.BackfillJob); err == nil {
		r.largeProgress = *pr
	}
	if err := b.Alive(); err != nil {
		return err
	}
	return r.busy.firstErr
}
