package handlers

import (
	"context"
	"sync"
	"time"

	"segmentor/app"
)

// portalCacheTTL bounds how stale the event path's view of a portal may be.
// A stale view is only ever used to accept: any refusal re-reads the store
// first, so a rotated application token is never refused.
const portalCacheTTL = 2 * time.Second

type cachedPortal struct {
	portal   *app.Portal
	appToken string
	loaded   time.Time
}

// portalCache keeps the portal record and application token the event
// handler needs, saving two Redis reads (and a decryption) per event.
type portalCache struct {
	mu sync.Mutex
	m  map[string]cachedPortal
}

func (c *portalCache) get(ctx context.Context, s *app.Store, memberID string, now time.Time, fresh bool) (cachedPortal, error) {
	c.mu.Lock()
	e, ok := c.m[memberID]
	c.mu.Unlock()
	if ok && !fresh && now.Sub(e.loaded) < portalCacheTTL {
		return e, nil
	}
	p, err := s.Portal(ctx, memberID)
	if err != nil {
		return cachedPortal{}, err
	}
	tok, err := s.ApplicationToken(ctx, memberID)
	if err != nil {
		return cachedPortal{}, err
	}
	e = cachedPortal{portal: p, appToken: tok, loaded: now}
	c.mu.Lock()
	if c.m == nil || len(c.m) > 10000 {
		c.m = map[string]cachedPortal{}
	}
	c.m[memberID] = e
	c.mu.Unlock()
	return e, nil
}

func (c *portalCache) forget(memberID string) {
	c.mu.Lock()
	delete(c.m, memberID)
	c.mu.Unlock()
}
