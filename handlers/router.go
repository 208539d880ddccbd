package handlers

import (
	"log/slog"
	"net/http"
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
	Metrics  *Metrics
	// Page, Sessions and API are the settings page and its /api/v1.
	Page     *Page
	Sessions *Sessions
	API      *API
	// Ops is the operator's read-only view of the queues; its route exists
	// only when it has a password.
	Ops *OpsQueues
}

// Router builds the app's HTTP handler.
func Router(d Deps) http.Handler {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(gin.Recovery(), accessLog(d.Logger))
	if d.Metrics != nil {
		r.Use(d.Metrics.middleware())
		r.GET("/metrics", d.Metrics.Handler())
	}
	if err := r.SetTrustedProxies(nil); err != nil {
		panic(err) // nil is always accepted
	}
	if d.Health != nil {
		r.GET("/healthz", d.Health.Live)
		r.GET("/readyz", d.Health.Ready)
	}
	if d.Ops.enabled() {
		r.GET("/ops/queues", d.Ops.authorize, d.Ops.Show)
	}
	if d.Bitrix24 != nil && d.Manifest != nil {
		h := d.Manifest.Handlers
		r.POST(h.Install, d.Bitrix24.Install)
		r.GET(h.Install+"/status", d.Bitrix24.InstallStatus)
		r.POST(h.Install+"/retry", d.Bitrix24.RetrySetup)
		r.POST(h.Events, d.Bitrix24.Event)
	}
	if d.Page != nil && d.Manifest != nil {
		r.GET(d.Manifest.Handlers.App, d.Page.App)
		r.POST(d.Manifest.Handlers.App, d.Page.App)
		r.POST(d.Manifest.Handlers.Placement, d.Page.Placement)
		r.GET("/static/*filepath", gin.WrapH(d.Page.Assets()))
	}
	if d.Sessions != nil && d.API != nil {
		apiRoutes(r.Group("/api/v1", logAPIErrors(logger(d.Logger))), d.Sessions, d.API)
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
