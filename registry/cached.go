package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// DefaultLimit is the registry budget Cached keeps to by default: GUS BIR's
// published quota at its strictest (8:00–16:59: 3 requests a second, 120 a
// minute, 6,000 an hour; more in the evening and at night), taken from the
// quota table on api.stat.gov.pl/Home/RegonApi as quoted by two independent
// client write-ups (the page itself was not reachable from here). The
// hourly quota binds: 99 a minute is 5,940 an hour, leaving about 60 an
// hour for the logins and session checks the limiter does not see. A burst
// of 3 keeps any second at 3 or fewer when a lookup's requests go out
// together, and allows one lookup's 3 requests (LookupCost) at once.
func DefaultLimit() redis_rate.Limit {
	return redis_rate.Limit{Rate: 99, Period: time.Minute, Burst: 3}
}

// DefaultLookupCost is how many registry requests one lookup sends: a
// search, the full report and the PKD report (a company not found costs 1,
// and is charged 3 all the same).
const DefaultLookupCost = 3

// CacheConfig configures Cached. Redis and KeyPrefix are required.
type CacheConfig struct {
	Redis redis.UniversalClient
	// KeyPrefix starts every cache key; the NIP follows
	// ("seg:registry:nip:" → "seg:registry:nip:5261040828"). Keys are not
	// per portal: registry data is public, so portals share answers.
	KeyPrefix string
	// BudgetKey is the redis_rate key of the request budget every process
	// shares; default KeyPrefix+"budget".
	BudgetKey string

	// Refresh is how long an answer is served before the registry is asked
	// again; default 30 days. An entry is kept Stale longer (default
	// Refresh) to answer while the registry is unavailable.
	Refresh time.Duration
	Stale   time.Duration
	// NotFoundTTL is how long "no such company" is remembered; default 7
	// days (a new company appears in REGON within days).
	NotFoundTTL time.Duration

	// Limit is the registry budget; default DefaultLimit(). LookupCost units
	// (default DefaultLookupCost) are taken from it per lookup sent, retries
	// included; Limit.Burst must be at least LookupCost.
	Limit      redis_rate.Limit
	LookupCost int
	// MaxWait bounds the wait for the budget; past it Lookup returns a
	// *RateLimitedError instead of waiting (jobs reschedule rather than hold
	// a worker). 0 waits as long as ctx allows.
	MaxWait time.Duration

	// Attempts is how many times a lookup is tried while the registry is
	// unavailable (default 4); waits between them start at Backoff
	// (default 1s) and double up to MaxBackoff (default 30s), jittered.
	Attempts   int
	Backoff    time.Duration
	MaxBackoff time.Duration

	Clock Clock          // default SystemClock
	Rand  func() float64 // uniform in [0,1), for jitter; default math/rand/v2
}

// Cached is a Provider that answers from a Redis cache shared by every
// portal and process, and asks the wrapped Provider only on a miss, within a
// request budget shared by every process, retrying while the registry is
// unavailable. Invalid tax IDs are refused before anything is sent; an
// unavailable registry is never cached.
type Cached struct {
	next    Provider
	cfg     CacheConfig
	limiter *redis_rate.Limiter
}

// NewCached wraps next with the cache described by cfg.
func NewCached(next Provider, cfg CacheConfig) (*Cached, error) {
	if cfg.Redis == nil || cfg.KeyPrefix == "" {
		return nil, errors.New("registry: cache needs Redis and a KeyPrefix")
	}
	if cfg.BudgetKey == "" {
		cfg.BudgetKey = cfg.KeyPrefix + "budget"
	}
	if cfg.Refresh <= 0 {
		cfg.Refresh = 30 * 24 * time.Hour
	}
	if cfg.Stale <= 0 {
		cfg.Stale = cfg.Refresh
	}
	if cfg.NotFoundTTL <= 0 {
		cfg.NotFoundTTL = 7 * 24 * time.Hour
	}
	if cfg.Limit.IsZero() {
		cfg.Limit = DefaultLimit()
	}
	if cfg.LookupCost <= 0 {
		cfg.LookupCost = DefaultLookupCost
	}
	if cfg.Limit.Burst < cfg.LookupCost {
		return nil, fmt.Errorf("registry: budget burst %d is below the lookup cost %d: no lookup could start", cfg.Limit.Burst, cfg.LookupCost)
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = 4
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = SystemClock
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Float64
	}
	return &Cached{next: next, cfg: cfg, limiter: redis_rate.NewLimiter(cfg.Redis)}, nil
}

// RateLimitedError is returned instead of waiting longer than MaxWait for
// the request budget. It counts as ErrUnavailable.
type RateLimitedError struct {
	RetryIn time.Duration // when the budget allows the lookup
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("registry: request budget spent, retry in %s", e.RetryIn)
}

// Is makes a RateLimitedError match ErrUnavailable.
func (e *RateLimitedError) Is(target error) bool { return target == ErrUnavailable }

// entry is a cached answer: a company, or that there is none.
type entry struct {
	Company  *Company  `json:"company,omitempty"`
	NotFound bool      `json:"not_found,omitempty"`
	Checked  time.Time `json:"checked"`
}

// Lookup answers from the cache when it can and from the registry when it
// must. While the registry is unavailable a stale answer (older than
// Refresh, younger than Refresh+Stale) is served with a nil error; its
// FetchedAt says how old it is.
func (c *Cached) Lookup(ctx context.Context, taxID string) (*Company, error) {
	nip, ok := ValidNIP(taxID)
	if !ok {
		return nil, fmt.Errorf("registry: lookup %q: %w", taxID, ErrInvalidTaxID)
	}
	cached, err := c.read(ctx, nip)
	if err != nil {
		return nil, err
	}
	now := c.cfg.Clock.Now()
	if cached != nil {
		if cached.NotFound {
			return nil, fmt.Errorf("registry: lookup %s (cached %s): %w", nip, cached.Checked.Format(time.DateOnly), ErrNotFound)
		}
		if cached.Company != nil && now.Sub(cached.Company.FetchedAt) < c.cfg.Refresh {
			return cached.Company, nil
		}
	}
	co, err := c.fetch(ctx, nip)
	switch {
	case err == nil:
		c.write(ctx, nip, entry{Company: co, Checked: now}, c.cfg.Refresh+c.cfg.Stale)
		return co, nil
	case errors.Is(err, ErrNotFound):
		c.write(ctx, nip, entry{NotFound: true, Checked: now}, c.cfg.NotFoundTTL)
		return nil, err
	case errors.Is(err, ErrUnavailable) && ctx.Err() == nil && cached != nil && cached.Company != nil:
		return cached.Company, nil
	default:
		return nil, err
	}
}

// Forget drops what the cache holds on a tax ID, so that the next lookup
// asks the registry.
func (c *Cached) Forget(ctx context.Context, taxID string) error {
	nip, ok := ValidNIP(taxID)
	if !ok {
		return fmt.Errorf("registry: forget %q: %w", taxID, ErrInvalidTaxID)
	}
	if err := c.cfg.Redis.Del(ctx, c.cfg.KeyPrefix+nip).Err(); err != nil {
		return fmt.Errorf("registry: forget %s: %w", nip, err)
	}
	return nil
}

// fetch asks the registry within the budget, retrying while it is
// unavailable.
func (c *Cached) fetch(ctx context.Context, nip string) (*Company, error) {
	var err error
	for attempt := 1; ; attempt++ {
		if err = c.spend(ctx); err != nil {
			return nil, err
		}
		var co *Company
		co, err = c.next.Lookup(ctx, nip)
		if err == nil {
			return co, nil
		}
		if !errors.Is(err, ErrUnavailable) || ctx.Err() != nil || attempt >= c.cfg.Attempts {
			return nil, err
		}
		if serr := c.cfg.Clock.Sleep(ctx, c.backoff(attempt)); serr != nil {
			return nil, fmt.Errorf("%w (then %w)", err, serr)
		}
	}
}

// backoff is the wait after the attempt-th failure: Backoff doubled per
// attempt, capped at MaxBackoff, the upper half jittered so that processes
// failing together do not come back together.
func (c *Cached) backoff(attempt int) time.Duration {
	d := c.cfg.Backoff
	for i := 1; i < attempt && d < c.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, c.cfg.MaxBackoff)
	return d/2 + time.Duration(c.cfg.Rand()*float64(d/2))
}

// spend takes one lookup's requests from the shared budget, waiting for
// them (at most MaxWait, when set).
func (c *Cached) spend(ctx context.Context) error {
	var waited time.Duration
	for {
		res, err := c.limiter.AllowN(ctx, c.cfg.BudgetKey, c.cfg.Limit, c.cfg.LookupCost)
		if err != nil {
			return fmt.Errorf("registry: request budget: %w", err)
		}
		if res.Allowed > 0 {
			return nil
		}
		wait := max(res.RetryAfter, time.Millisecond)
		if c.cfg.MaxWait > 0 && waited+wait > c.cfg.MaxWait {
			return &RateLimitedError{RetryIn: wait}
		}
		if err := c.cfg.Clock.Sleep(ctx, wait); err != nil {
			return err
		}
		waited += wait
	}
}

func (c *Cached) read(ctx context.Context, nip string) (*entry, error) {
	raw, err := c.cfg.Redis.Get(ctx, c.cfg.KeyPrefix+nip).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("registry: read cache of %s: %w", nip, err)
	}
	var e entry
	if err := json.Unmarshal(raw, &e); err != nil {
		// An entry this version cannot read is a miss, not an outage.
		return nil, nil
	}
	return &e, nil
}

// write stores an answer. A failed write loses nothing but a later cache
// hit, so the answer in hand is returned all the same.
func (c *Cached) write(ctx context.Context, nip string, e entry, ttl time.Duration) {
	raw, err := json.Marshal(e)
	if err != nil {
		return
	}
	_ = c.cfg.Redis.Set(context.WithoutCancel(ctx), c.cfg.KeyPrefix+nip, raw, ttl).Err()
}
