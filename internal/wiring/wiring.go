// Package wiring assembles Segmentor from its parts over one Redis: the
// store, the Bitrix24 client, the engine, the queue, the web routes and the
// worker. cmd/segmentor runs what it builds; the tests run the same
// assembly against a simulated portal, so there is one wiring to keep right.
package wiring

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-redis/redis_rate/v10"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"segmentor"
	"segmentor/app"
	"segmentor/bitrix"
	"segmentor/engine"
	"segmentor/handlers"
	"segmentor/internal/keyspace"
	"segmentor/jobs"
)

// Config is what the application is told besides its Redis.
type Config struct {
	ClientID, ClientSecret string
	OAuthURL               string // "" for bitrix.DefaultOAuthURL
	AllowHTTP              bool   // http:// portal endpoints (simulators)
	AppBaseURL             string // where event and card-tab handlers are bound
	SecretKey              []byte // 32 bytes: seals tokens, signs sessions and links
	Embedded               bool   // Redis is in memory: nothing survives a restart
	OpsUser, OpsPassword   string // guard the queue view and the public /metrics; no password: neither
	Log                    *slog.Logger
	// OpsApart: the operator routes (/metrics, /ops/queues) are served by
	// OpsRouter on an address of their own (OPS_ADDR), so Router leaves
	// them out, credential or not.
	OpsApart bool
	// Limits is a portal's request budget; nil takes it from RateLimit,
	// or else from the portal's plan (bitrix.ProfileForLicense).
	Limits func(ctx context.Context, memberID string) (bitrix.Profile, error)
	// RateLimit and RateBurst, when RateLimit > 0, are every portal's
	// request budget whatever its plan, requests a second and the bucket
	// (B24_RATE_LIMIT: an on-premise Bitrix24, or portals whose limit was
	// raised); the profile ConfiguredProfile.
	RateLimit, RateBurst int
	// Clock is the time of the store, the engine and the lifecycle (the web
	// handlers keep the wall clock); nil is the wall clock.
	Clock func() time.Time
	// HTTPClient carries the Bitrix24 client's requests; nil: its default.
	HTTPClient *http.Client
	// TaskCheck is how often an idle worker looks for work; 0 keeps
	// jobs.ServerConfig's (tests look more often).
	TaskCheck time.Duration
	// UninstallGrace and UninstallCleanGrace: app.Lifecycle's Grace and
	// CleanGrace (0: their defaults).
	UninstallGrace, UninstallCleanGrace time.Duration
	// TrustedProxies are the addresses (IPs or CIDRs) of the reverse
	// proxies in front of the web role, whose X-Forwarded-For names the
	// client; none: the client is the connection's peer.
	TrustedProxies []string
	// RegistryURL is the company registry's service (GUS BIR); "" for
	// gus.ProductionURL. RegistryKey is the operator's key, used for
	// portals without one of their own; "" for none.
	RegistryURL, RegistryKey string
	// RegistryHTTP carries the registry's requests; nil: its default.
	RegistryHTTP *http.Client
	// RegistryLimit is the request budget per registry key; zero:
	// registry.DefaultLimit() (tests raise it).
	RegistryLimit redis_rate.Limit
}

// ConfiguredProfile is the request budget an operator gives every portal
// (B24_RATE_LIMIT): the portal's rate requests a second from a bucket of
// burst. As the plans' profiles do, the client keeps part of the bucket
// free for requests that reach the portal closer together than they were
// sent (one delayed while the next go): a second's drain, at least two
// requests and at most a fifth of the bucket; it takes at least 1. With
// the whole bucket, a 1,000,000-deal backfill at 50/250 met a
// QUERY_LIMIT_EXCEEDED.
func ConfiguredProfile(rate, burst int) bitrix.Profile {
	free := min(max(rate, 2), burst/5)
	return bitrix.Profile{Name: "configured", Rate: rate, Burst: max(burst-free, 1), Period: time.Second}
}

// App is Segmentor over one Redis.
type App struct {
	Config   Config
	Redis    redis.UniversalClient
	Manifest *segmentor.Manifest
	Store    *app.Store
	Mirror   *app.Mirror
	Bitrix   *bitrix.Client
	Queue    *jobs.Queue
	Life     *app.Lifecycle
	Engine   *engine.Classifier
	Analyst  *engine.Analyst
	Metrics  *handlers.Metrics
	Usage    *app.RESTUsage
	Health   *handlers.Health
	Ops      *handlers.OpsQueues

	asynq *asynq.Client
}

// New assembles the application over rdb.
func New(rdb redis.UniversalClient, cfg Config) (*App, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	manifest, err := segmentor.LoadManifest()
	if err != nil {
		return nil, err
	}
	seal, err := app.NewSealer(cfg.SecretKey)
	if err != nil {
		return nil, err
	}
	a := &App{Config: cfg, Redis: rdb, Manifest: manifest, asynq: asynq.NewClientFromRedisClient(rdb)}
	a.Store = app.NewStore(rdb, seal, cfg.Clock)
	a.Mirror = app.NewMirror(rdb)
	a.Metrics = handlers.NewMetrics(asynq.NewInspectorFromRedisClient(rdb))
	a.Usage = app.NewRESTUsage(rdb, cfg.Clock)
	limits := cfg.Limits
	if limits == nil && cfg.RateLimit > 0 {
		p := ConfiguredProfile(cfg.RateLimit, cfg.RateBurst)
		limits = func(context.Context, string) (bitrix.Profile, error) { return p, nil }
	}
	if limits == nil {
		limits = func(ctx context.Context, memberID string) (bitrix.Profile, error) {
			p, err := a.Store.Portal(ctx, memberID)
			if err != nil {
				return bitrix.StandardProfile(), nil
			}
			return bitrix.ProfileForLicense(p.License), nil
		}
	}
	a.Bitrix, err = bitrix.NewClient(bitrix.Config{
		OnRequest: func(ctx context.Context, info bitrix.RequestInfo) {
			a.Metrics.ObserveREST(ctx, info)
			a.Usage.Observe(ctx, info)
		},
		OnOperating: func(ctx context.Context, memberID, method string, seconds float64) {
			a.Metrics.ObserveOperating(ctx, memberID, method, seconds)
			a.Usage.ObserveOperating(ctx, memberID, method, seconds)
		},
		ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, OAuthURL: cfg.OAuthURL, HTTPClient: cfg.HTTPClient,
		Redis: rdb, Tokens: a.Store, AllowHTTP: cfg.AllowHTTP, Profile: limits, Key: keyspace.Bitrix,
	})
	if err != nil {
		_ = a.asynq.Close()
		return nil, err
	}
	a.Queue = &jobs.Queue{Client: a.asynq, Redis: rdb, Log: cfg.Log}
	a.Life = &app.Lifecycle{Store: a.Store, Bitrix: a.Bitrix, Jobs: a.Queue, Log: cfg.Log, Clock: cfg.Clock,
		Grace: cfg.UninstallGrace, CleanGrace: cfg.UninstallCleanGrace,
		Users: handlers.TokenCheck{Client: a.Bitrix, MaxWait: handlers.InstallWait}}
	a.Engine = &engine.Classifier{Store: a.Store, Mirror: a.Mirror, Bitrix: a.Bitrix, Clock: cfg.Clock,
		FieldName: "UF_CRM_" + manifest.SegmentField.FieldName, Log: cfg.Log, Exclusive: jobs.ChangesLock(rdb)}
	a.Engine.RegistryChanged = func(ctx context.Context, memberID string) {
		if err := a.Queue.LookUpCompanies(ctx, memberID, false); err != nil {
			cfg.Log.Warn("registry lookups not queued", "portal", memberID, "error", err)
		}
	}
	a.Analyst = &engine.Analyst{Store: a.Store, Mirror: a.Mirror, Clock: cfg.Clock}
	a.Health = &handlers.Health{Redis: rdb, Embedded: cfg.Embedded, NeedsReauth: a.Store.CountNeedsReauth}
	a.Ops = &handlers.OpsQueues{Queues: asynq.NewInspectorFromRedisClient(rdb), User: cfg.OpsUser, Password: cfg.OpsPassword, Log: cfg.Log}
	return a, nil
}

// Close releases what New opened (not Redis: the caller's).
func (a *App) Close() error {
	a.Queue.Close()
	return a.asynq.Close()
}

// Web is the web role's parts: Bitrix24's callbacks, the settings page and
// its API, the probes, metrics and the queue view.
type Web struct {
	Bitrix24 *handlers.Bitrix24
	Sessions *handlers.Sessions
	API      *handlers.API
	Page     *handlers.Page
}

// Web builds the web role's parts; Router serves them.
func (a *App) Web() (*Web, error) {
	page, err := handlers.NewPage(a.Store, segmentor.Static())
	if err != nil {
		return nil, err
	}
	check := handlers.TokenCheck{Client: a.Bitrix}
	return &Web{
		Page:     page,
		Sessions: &handlers.Sessions{Store: a.Store, Key: a.Config.SecretKey, Check: check},
		API: &handlers.API{Store: a.Store, Directories: app.Directories{Store: a.Store, Bitrix: a.Bitrix}, Life: a.Life,
			Insight: a.Analyst, Mirror: a.Mirror, Queues: asynq.NewInspectorFromRedisClient(a.Redis), Usage: a.Usage,
			Lists:    &engine.ListBook{Store: a.Store, Analyst: a.Analyst, Jobs: a.Queue},
			Registry: a.Queue, RegistryDefaultKey: a.Config.RegistryKey != ""},
		Bitrix24: &handlers.Bitrix24{Metrics: a.Metrics, Store: a.Store, Client: a.Bitrix, Queue: a.Queue, Life: a.Life,
			Manifest: a.Manifest, Key: a.Config.SecretKey, Log: a.Config.Log,
			Holders: handlers.TokenCheck{Client: a.Bitrix, MaxWait: handlers.InstallWait}},
	}, nil
}

// Router serves the web role on the public address.
func (a *App) Router(w *Web) http.Handler {
	ops := a.Ops
	if a.Config.OpsApart {
		ops = nil // OpsRouter serves the operator routes
	}
	return handlers.Router(handlers.Deps{Page: w.Page, Sessions: w.Sessions, API: w.API, Bitrix24: w.Bitrix24,
		Logger: a.Config.Log, Health: a.Health, Manifest: a.Manifest, Metrics: a.Metrics, Ops: ops,
		TrustedProxies: a.Config.TrustedProxies})
}

// OpsRouter serves the probes, metrics and queue view on the operator's
// address (OPS_ADDR), whatever the role.
func (a *App) OpsRouter() http.Handler {
	return handlers.OpsRouter(handlers.Deps{Logger: a.Config.Log, Health: a.Health, Metrics: a.Metrics, Ops: a.Ops})
}

// Worker builds the worker role: the asynq server with Segmentor's tasks,
// observed and logged. logger, when set, is asynq's own logger.
func (a *App) Worker(logger asynq.Logger) (*asynq.Server, *asynq.ServeMux, *jobs.Worker, error) {
	if a.Config.AppBaseURL == "" {
		return nil, nil, nil, errors.New("the worker binds handlers to APP_BASE_URL: set it")
	}
	cfg := jobs.ServerConfig(a.Config.Log)
	if logger != nil {
		cfg.Logger = logger
	}
	if a.Config.TaskCheck > 0 {
		cfg.TaskCheckInterval = a.Config.TaskCheck
	}
	srv := asynq.NewServerFromRedisClient(a.Redis, cfg)
	mux := asynq.NewServeMux()
	mux.Use(jobs.Observe(a.Metrics.ObserveJob), jobs.LogJobs(a.Config.Log))
	w := &jobs.Worker{Store: a.Store, Bitrix: a.Bitrix, Manifest: a.Manifest, AppBaseURL: a.Config.AppBaseURL,
		Log: a.Config.Log, Changes: a.Engine, Backfill: a.Engine, Actions: a.Engine, History: a.Analyst, Redis: a.Redis, Queue: a.Queue, Uninstall: a.Life,
		Lists: a.Engine, Registry: a.Engine,
		Providers: &jobs.RegistryProviders{Redis: a.Redis, Endpoint: a.Config.RegistryURL, DefaultKey: a.Config.RegistryKey,
			HTTP: a.Config.RegistryHTTP, Limit: a.Config.RegistryLimit}}
	return srv, mux, w, nil
}
