package handlers

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"segmentor"
)

// Deps is what the routes need; nil parts leave their routes out.
type Deps struct {
	Logger *slog.Logger
	Health *Health
	// Manifest gives the Bitrix24 handler paths; Bitrix24 handles them.
	Manifest *segmentor.Manifest
	Bitrix24 *Bitrix24
	// Metrics counts the requests; /metrics serves it only where operators
	// reach it (OpsRouter, or behind Ops's credential): its series name
	// portals.
	Metrics *Metrics
	// Page, Sessions and API are the settings page and its /api/v1.
	Page     *Page
	Sessions *Sessions
	API      *API
	// Ops is the operator's credential and read-only view of the queues.
	// On Router it guards /metrics and /ops/queues, which do not exist
	// without a password; leave it nil there when OpsRouter serves them on
	// an address of their own.
	Ops *OpsQueues
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client (TRUSTED_PROXIES); none: the connection's peer is. The
	// sign-in checks are budgeted per client address.
	TrustedProxies []string
}

// Router builds the app's public HTTP handler: what Bitrix24 and the
// pages call, the probes, and the operator routes only behind the
// operator's credential.
func Router(d Deps) http.Handler {
	r := newEngine(d)
	if d.Ops.hasCredential() {
		ops := r.Group("", private, d.Ops.authorize)
		if d.Metrics != nil {
			ops.GET("/metrics", d.Metrics.Handler())
		}
		if d.Ops.enabled() {
			ops.GET("/ops/queues", d.Ops.Show)
		}
	}
	if d.Bitrix24 != nil && d.Manifest != nil {
		h, b24 := d.Manifest.Handlers, r.Group("", private)
		b24.POST(h.Install, d.Bitrix24.Install)
		b24.GET(h.Install+"/status", d.Bitrix24.InstallStatus)
		b24.POST(h.Install+"/retry", d.Bitrix24.RetrySetup)
		b24.POST(h.Events, d.Bitrix24.Event)
		b24.POST(h.Robot, d.Bitrix24.Robot)
	}
	if d.Page != nil && d.Manifest != nil {
		pages := r.Group("", private)
		pages.GET(d.Manifest.Handlers.App, d.Page.App)
		pages.POST(d.Manifest.Handlers.App, d.Page.App)
		pages.POST(d.Manifest.Handlers.Placement, d.Page.Placement)
		r.GET("/static/*filepath", gin.WrapH(d.Page.Assets()))
	}
	if d.Sessions != nil && d.API != nil {
		apiRoutes(r.Group("/api/v1", private, logAPIErrors(logger(d.Logger))), d.Sessions, d.API)
	}
	return r
}

// OpsRouter builds the handler for OPS_ADDR, an address only operators
// reach: the probes, /metrics open to the scraper, and the queue view,
// still behind the operator's credential.
func OpsRouter(d Deps) http.Handler {
	r := newEngine(d)
	if d.Metrics != nil {
		r.GET("/metrics", d.Metrics.Handler())
	}
	if d.Ops.enabled() {
		r.GET("/ops/queues", private, d.Ops.authorize, d.Ops.Show)
	}
	return r
}

// newEngine is what both routers share: recovery, the access log, the
// request metrics, nosniff on every answer, the probes and the 404.
func newEngine(d Deps) *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(gin.Recovery(), accessLog(d.Logger), nosniff)
	if d.Metrics != nil {
		r.Use(d.Metrics.middleware())
	}
	if err := r.SetTrustedProxies(d.TrustedProxies); err != nil {
		panic(err) // checked when the configuration is read (ParseTrustedProxies)
	}
	if d.Health != nil {
		r.GET("/healthz", d.Health.Live)
		r.GET("/readyz", d.Health.Ready)
	}
	r.NoRoute(func(c *gin.Context) {
		c.JSON(http.StatusNotFound, gin.H{"error": "not_found", "message": "No such page."})
	})
	return r
}

func logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

func accessLog(l *slog.Logger) gin.HandlerFunc {
	l = logger(l)
	return func(c *gin.Context) {
		start := time.Now()
		id := requestID(c)
		c.Header(requestIDHeader, id)
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		// The route, never the URL: query strings may carry tokens.
		l.LogAttrs(c.Request.Context(), slog.LevelInfo, "http request",
			slog.String("request_id", id),
			slog.String("method", c.Request.Method),
			slog.String("route", route),
			slog.Int("status", c.Writer.Status()),
			slog.Duration("duration", time.Since(start)))
	}
}

// ParseTrustedProxies reads TRUSTED_PROXIES: IPs or CIDRs, separated by
// commas.
func ParseTrustedProxies(v string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if _, err := netip.ParsePrefix(f); err != nil {
			if _, err := netip.ParseAddr(f); err != nil {
				return nil, fmt.Errorf("%q is neither an IP address nor a CIDR", f)
			}
		}
		out = append(out, f)
	}
	return out, nil
}
