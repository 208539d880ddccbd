package handlers

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"
)

// Health answers the operator probes.
type Health struct {
	Redis    redis.UniversalClient
	Embedded bool // the in-memory Redis: nothing survives a restart
	// NeedsReauth counts portals whose tokens died and that need an admin to
	// open the app again; nil when the tenancy store is not wired.
	NeedsReauth func(ctx context.Context) (int, error)
	// ReauthTTL is how long a count from NeedsReauth is reused: counting
	// reads every portal, and every replica is probed every few seconds.
	// Default 30 s.
	ReauthTTL time.Duration
	// Clock reads the time; nil is time.Now.
	Clock func() time.Time

	mu       sync.Mutex
	reauthN  int
	reauthAt time.Time
}

// needsReauth counts portals needing re-authorization, at most once per
// ReauthTTL; a failed count is not kept.
func (h *Health) needsReauth(ctx context.Context) (int, error) {
	ttl := h.ReauthTTL
	if ttl <= 0 {
		ttl = 30 * time.Second
	}
	now := time.Now
	if h.Clock != nil {
		now = h.Clock
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.reauthAt.IsZero() && now().Sub(h.reauthAt) < ttl {
		return h.reauthN, nil
	}
	n, err := h.NeedsReauth(ctx)
	if err != nil {
		return 0, err
	}
	h.reauthN, h.reauthAt = n, now()
	return n, nil
}

// Live reports that the process is up.
func (h *Health) Live(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// Ready reports whether the app can serve: Redis must answer.
func (h *Health) Ready(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	body := gin.H{"embedded_redis": h.Embedded}
	if err := h.Redis.Ping(ctx).Err(); err != nil {
		body["status"] = "unavailable"
		body["redis"] = err.Error()
		c.JSON(http.StatusServiceUnavailable, body)
		return
	}
	body["redis"] = "ok"
	if h.NeedsReauth != nil {
		n, err := h.needsReauth(ctx)
		if err != nil {
			body["status"] = "unavailable"
			body["portals_needing_reauth"] = err.Error()
			c.JSON(http.StatusServiceUnavailable, body)
			return
		}
		body["portals_needing_reauth"] = n
	}
	body["status"] = "ready"
	if h.Embedded {
		body["warning"] = "embedded in-memory Redis: queued jobs, tokens and configs are lost on restart"
	}
	c.JSON(http.StatusOK, body)
}
