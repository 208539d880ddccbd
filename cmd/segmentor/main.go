// Command segmentor runs the Segmentor Bitrix24 app.
//
//	segmentor [serve|web|worker|demo]
//
// serve runs the web server and the worker in one process; web and worker
// run one role each so that either can be scaled out on one Redis. demo runs
// a simulated Bitrix24 portal with Segmentor installed; it is the default
// when nothing is configured, and serve otherwise. With no REDIS_URL an
// embedded in-memory Redis is started, which keeps nothing across restarts
// and requires web and worker to share the process.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"segmentor/app"
	"segmentor/internal/wiring"
	"segmentor/jobs"
	"segmentor/registry"
	"segmentor/registry/gus"
	"segmentor/registry/gussim"
)

const usage = `usage: segmentor [serve|web|worker|demo]

  serve   web server and worker in one process (the default once configured)
  web     only the HTTP server (Bitrix24 callbacks, settings page, API)
  worker  only the background jobs
  demo    a simulated portal with Segmentor installed, seeded and busy
          (the default with no configuration; segmentor demo -h for its flags)
  healthcheck
          exit 0 when this container's process answers /healthz (LISTEN_ADDR,
          or OPS_ADDR for ROLE=worker); for Docker's HEALTHCHECK

Configuration comes from the environment; see README.md.
`

func main() {
	flag.Usage = func() { fmt.Fprint(os.Stderr, usage) }
	flag.Parse()
	var level slog.Level // LOG_LEVEL: debug, info (default), warn or error
	if err := level.UnmarshalText([]byte(cmp.Or(os.Getenv("LOG_LEVEL"), "info"))); err != nil {
		fmt.Fprintln(os.Stderr, "LOG_LEVEL: use debug, info, warn or error")
		os.Exit(2)
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// After the first signal starts the graceful shutdown, a second one
	// stops the process at once.
	context.AfterFunc(ctx, stop)
	if err := run(ctx, flag.Args(), os.Getenv, log, nil); err != nil {
		log.Error("segmentor stopped", "error", err)
		os.Exit(1)
	}
}

// run starts the roles named by args and blocks until ctx ends. ready, when
// not nil, receives each HTTP server's address once it listens (for tests
// and the demo): LISTEN_ADDR's first (serve, web), then OPS_ADDR's.
func run(ctx context.Context, args []string, getenv func(string) string, log *slog.Logger, ready chan<- string) error {
	cmd := defaultCommand(getenv)
	if len(args) > 0 {
		cmd = args[0]
	}
	role := map[string]string{"serve": "all", "web": "web", "worker": "worker"}[cmd]
	if len(args) == 0 {
		role = "" // no subcommand: ROLE decides (default all)
	}
	switch cmd {
	case "healthcheck":
		return healthcheck(ctx, getenv)
	case "demo":
		opts, err := demoFlags(args[min(1, len(args)):], os.Stderr)
		if err != nil {
			return err
		}
		return runDemo(ctx, opts, os.Stdout, nil)
	case "serve", "web", "worker":
	default:
		return fmt.Errorf("unknown command %q\n%s", cmd, usage)
	}
	cfg, warns, err := loadConfig(getenv, role)
	for _, w := range warns {
		log.Warn(w)
	}
	if err != nil {
		return err
	}

	rdb, embedded, closeRedis, err := openRedis(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer closeRedis() // last: everything below uses Redis
	if embedded && cfg.Role != "all" {
		return errors.New("the embedded Redis lives inside one process: run `serve`, or set REDIS_URL (or REDIS_CLUSTER_ADDRS) to run web and worker apart")
	}

	if cfg.RegistrySim {
		sim := gussim.New(gussim.Options{Seed: 1})
		srv := httptest.NewServer(sim)
		defer srv.Close()
		defer sim.Close()
		cfg.RegistryURL, cfg.RegistryKey = srv.URL+gussim.Path, cmp.Or(cfg.RegistryKey, gus.TestKey)
	}
	a, err := wiring.New(rdb, wiring.Config{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, OAuthURL: cfg.OAuthURL,
		AllowHTTP: cfg.AllowHTTP, AppBaseURL: cfg.AppBaseURL, SecretKey: cfg.SecretKey, Embedded: embedded,
		OpsUser: cfg.OpsUser, OpsPassword: cfg.OpsPassword, OpsApart: cfg.OpsAddr != "", Log: log,
		UninstallGrace: cfg.UninstallGrace, UninstallCleanGrace: cfg.UninstallCleanGrace, TrustedProxies: cfg.TrustedProxies,
		RegistryURL: cfg.RegistryURL, RegistryKey: cfg.RegistryKey, RegistryLimit: registryLimit(cfg.RegistryRate),
		RateLimit: cfg.RateLimit, RateBurst: cfg.RateBurst})
	if err != nil {
		return err
	}
	defer a.Close()
	errc := make(chan error, 3)
	stops, quit, err := startRoles(ctx, cfg, a, rdb, log, ready, errc)
	if err != nil {
		for _, s := range stops {
			s()
		}
		return err
	}

	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err = <-errc:
	}
	// At once: the worker takes no new job. Then, side by side, the HTTP
	// servers drain (they stopped accepting) and running jobs finish or are
	// handed back, so the whole stays within the longest bound, not the
	// sum; Redis is closed by the caller after.
	for _, q := range quit {
		q()
	}
	var wg sync.WaitGroup
	for _, s := range stops {
		wg.Go(s)
	}
	wg.Wait()
	return err
}

// startRoles starts what cfg.Role asks for: the web server, the ops server
// on OPS_ADDR, the worker and its scheduler. It returns what to call at
// once on shutdown (quit) and what to call side by side after (stops); on
// error, stops holds what was already started.
func startRoles(ctx context.Context, cfg config, a *wiring.App, rdb redis.UniversalClient, log *slog.Logger, ready chan<- string, errc chan error) (stops, quit []func(), err error) {
	serve := func(c config, h http.Handler) error {
		srv, addr, err := startWeb(c, h, log, errc)
		if err != nil {
			return err
		}
		if ready != nil {
			ready <- addr
		}
		stops = append(stops, shutdownHTTP(srv, log))
		return nil
	}
	if cfg.Role == "all" || cfg.Role == "web" {
		web, err := a.Web()
		if err != nil {
			return stops, nil, err
		}
		if err := serve(cfg, a.Router(web)); err != nil {
			return stops, nil, err
		}
	}
	if cfg.OpsAddr != "" {
		// Every process counts its own work in its own registry, and the
		// series name portals: it serves them, the probes and the queue
		// view on OPS_ADDR, an address only operators reach.
		opsCfg := cfg
		opsCfg.ListenAddr = cfg.OpsAddr
		if err := serve(opsCfg, a.OpsRouter()); err != nil {
			return stops, nil, err
		}
	}
	if cfg.Role == "all" || cfg.Role == "worker" {
		w, mux, worker, err := a.Worker(asynqLogger{log})
		if err != nil {
			return stops, nil, err
		}
		worker.Register(mux)
		if err := w.Start(mux); err != nil {
			return stops, nil, fmt.Errorf("start worker: %w", err)
		}
		log.Info("worker started", "queues", jobs.Queues())
		quit = append(quit, w.Stop) // takes no new job from the signal on
		stops = append(stops, w.Shutdown)
		// Every worker competes for the scheduler lock; one schedules.
		sctx, stopScheduler := context.WithCancel(ctx)
		schedDone := make(chan struct{})
		go func() {
			defer close(schedDone)
			_ = jobs.RunScheduler(sctx, rdb, log, 0, jobs.Schedule(cfg.ReconcileEvery), nil)
		}()
		stops = append(stops, func() { stopScheduler(); <-schedDone })
		// Audit trails an older version kept one key a record move into
		// their buckets, once (app.Store.ConvertAuditTrails); they read
		// the same meanwhile.
		convDone := make(chan struct{})
		go func() {
			defer close(convDone)
			n, err := a.Store.ConvertAuditTrails(sctx)
			switch {
			case err != nil && sctx.Err() == nil:
				log.Warn("converting old audit trails stopped; the next start goes on", "moved", n, "err", err)
			case n > 0:
				log.Info("old audit trails converted", "moved", n)
			}
		}()
		stops = append(stops, func() { stopScheduler(); <-convDone })
	}
	return stops, quit, nil
}

func startWeb(cfg config, router http.Handler, log *slog.Logger, errc chan<- error) (*http.Server, string, error) {
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return nil, "", fmt.Errorf("listen on %s: %w", cfg.ListenAddr, err)
	}
	srv := &http.Server{Handler: router, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("http server: %w", err)
		}
	}()
	log.Info("http server listening", "addr", ln.Addr().String(), "app_base_url", cfg.AppBaseURL)
	return srv, ln.Addr().String(), nil
}

// shutdownHTTP stops a server from accepting and waits up to 10 s for the
// requests in flight.
func shutdownHTTP(srv *http.Server, log *slog.Logger) func() {
	return func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			log.Warn("http shutdown", "error", err)
		}
	}
}

// openRedis connects to REDIS_URL or to the Redis Cluster at
// REDIS_CLUSTER_ADDRS, or starts the embedded in-memory Redis.
func openRedis(ctx context.Context, cfg config, log *slog.Logger) (redis.UniversalClient, bool, func(), error) {
	url := cfg.RedisURL
	if len(cfg.RedisClusterAddrs) > 0 {
		// What asynq.RedisClusterClientOpt builds, shared by the app and
		// asynq alike (their New*FromRedisClient).
		rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cfg.RedisClusterAddrs,
			Username: cfg.RedisUsername, Password: cfg.RedisPassword})
		return rdb, false, func() { _ = rdb.Close() }, checkRedis(ctx, rdb, "the Redis Cluster at REDIS_CLUSTER_ADDRS", log)
	}
	if url == "" {
		mr := miniredis.NewMiniRedis()
		if err := mr.StartAddr("127.0.0.1:0"); err != nil {
			return nil, false, nil, fmt.Errorf("start embedded redis: %w", err)
		}
		stopTTLs := expireTTLs(mr, ttlTick)
		log.Warn("REDIS_URL is not set: using an embedded in-memory Redis at " + mr.Addr() +
			"; portals, tokens, configs and queued jobs are LOST when this process stops. Set REDIS_URL for real use.")
		rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
		return rdb, true, func() { _ = rdb.Close(); stopTTLs(); mr.Close() }, nil
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, false, nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	rdb := redis.NewClient(opt)
	return rdb, false, func() { _ = rdb.Close() }, checkRedis(ctx, rdb, "redis at REDIS_URL", log)
}

// checkRedis fails when Redis does not answer (closing rdb) and warns when
// it would lose data; on a cluster every master is checked.
func checkRedis(ctx context.Context, rdb redis.UniversalClient, what string, log *slog.Logger) error {
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := ping(pctx, rdb); err != nil {
		_ = rdb.Close()
		return fmt.Errorf("%s does not answer: %w", what, err)
	}
	if warns, err := app.RedisWarnings(pctx, rdb); err != nil {
		log.Warn("could not check redis persistence settings", "error", err)
	} else {
		for _, w := range warns {
			log.Warn(w)
		}
	}
	return nil
}

// ping checks that Redis answers: on a cluster every master, and that the
// cluster serves every slot.
func ping(ctx context.Context, rdb redis.UniversalClient) error {
	cc, ok := rdb.(*redis.ClusterClient)
	if !ok {
		return rdb.Ping(ctx).Err()
	}
	info, err := cc.ClusterInfo(ctx).Result()
	if err != nil {
		return err
	}
	if !strings.Contains(info, "cluster_state:ok") {
		return errors.New("the cluster's state is not ok (CLUSTER INFO): are all its slots served?")
	}
	return cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return c.Ping(ctx).Err() })
}

// ttlTick is how often the embedded Redis expires keys: locks, leases and
// heartbeats may outlive their TTL by this much.
const ttlTick = 250 * time.Millisecond

// expireTTLs makes the embedded Redis's TTLs run on the wall clock, as a
// real Redis's do; without it keys never expire. It advances them every
// tick rather than with miniredis's ClockTTL, which walks (and sorts) every
// key on every command: with a mirrored portal of 20,000 deals that took
// almost all of the process's CPU.
func expireTTLs(mr *miniredis.Miniredis, tick time.Duration) (stop func()) {
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(tick)
		defer t.Stop()
		last := time.Now()
		for {
			select {
			case <-done:
				return
			case now := <-t.C:
				mr.FastForward(now.Sub(last))
				last = now
			}
		}
	}()
	return func() { close(done); <-stopped }
}

// asynqLogger adapts slog to asynq's logger interface.
type asynqLogger struct{ l *slog.Logger }

func (a asynqLogger) Debug(args ...any) { a.l.Debug(fmt.Sprint(args...), "component", "asynq") }
func (a asynqLogger) Info(args ...any)  { a.l.Info(fmt.Sprint(args...), "component", "asynq") }
func (a asynqLogger) Warn(args ...any)  { a.l.Warn(fmt.Sprint(args...), "component", "asynq") }
func (a asynqLogger) Error(args ...any) { a.l.Error(fmt.Sprint(args...), "component", "asynq") }
func (a asynqLogger) Fatal(args ...any) {
	a.l.Error(fmt.Sprint(args...), "component", "asynq")
	os.Exit(1)
}

// registryLimit is the budget of REGISTRY_RATE requests a minute per
// registry key, in bursts of at most a second's worth (at least one
// lookup's requests); zero for registry.DefaultLimit.
func registryLimit(perMinute int) redis_rate.Limit {
	if perMinute <= 0 {
		return redis_rate.Limit{}
	}
	return redis_rate.Limit{Rate: perMinute, Period: time.Minute, Burst: max(registry.DefaultLookupCost, perMinute/60)}
}
