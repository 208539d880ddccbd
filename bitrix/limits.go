package bitrix

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// Profile is a portal's request budget. Bitrix24 refuses requests when a
// leaky bucket of Burst requests, draining Rate per Period, overflows; the
// client keeps its own GCRA limit in Redis a little under that, so every
// process of the application together stays inside it.
type Profile struct {
	Name   string
	Rate   int           // requests per Period; 0 disables the limiter
	Burst  int           // at most this many at once
	Period time.Duration // default one second
}

// StandardProfile is the budget of every plan but Enterprise: Bitrix24
// drains 2 requests/s from a bucket of 50. The client's burst keeps two
// requests of headroom for requests arriving closer together than they were
// sent; more headroom only slows every fresh start (each request kept back
// costs half a second: with 40, a 6,000-record backfill took 1.46× the least
// time the portal allows, with 48 1.10×; see jobs' BenchmarkBackfillWallTime).
func StandardProfile() Profile {
	return Profile{Name: "standard", Rate: 2, Burst: 48, Period: time.Second}
}

// EnterpriseProfile is the Enterprise budget: 5 requests/s, bucket of 250.
func EnterpriseProfile() Profile {
	return Profile{Name: "enterprise", Rate: 5, Burst: 200, Period: time.Second}
}

// UnlimitedProfile disables the client-side limiter (tests, on-premise).
func UnlimitedProfile() Profile { return Profile{Name: "unlimited"} }

// ProfileForLicense picks the profile from app.info's LICENSE_FAMILY.
func ProfileForLicense(family string) Profile {
	if strings.HasPrefix(strings.ToLower(strings.TrimSpace(family)), "ent") {
		return EnterpriseProfile()
	}
	return StandardProfile()
}

func (c *Client) profile(ctx context.Context, memberID string) (Profile, error) {
	if c.cfg.Profile == nil {
		return StandardProfile(), nil
	}
	p, err := c.cfg.Profile(ctx, memberID)
	if err != nil {
		return Profile{}, fmt.Errorf("bitrix: rate profile of portal %s: %w", memberID, err)
	}
	return p, nil
}

func (c *Client) opsKey(memberID string) string { return c.cfg.Key(memberID, "ops") }

// reserve takes one unit of a portal's shared request budget for a call
// with a user's token (AsUser): Bitrix24 counts every request to the portal
// in one bucket, whoever sends it. It waits for the budget and for a pause
// of method at most maxWait (0: as long as ctx allows), going first (see
// below); when the wait would be longer it takes nothing and returns a
// *RateLimitedError saying how long.
func (c *Client) reserve(ctx context.Context, memberID, method string, maxWait time.Duration) (time.Duration, error) {
	var until time.Time
	if maxWait > 0 {
		until = c.clock.Now().Add(maxWait)
	}
	return c.waitBudget(ctx, until, memberID, method, []string{method}, true)
}

// A reservation is someone waiting in front of a screen (a page or card tab
// opening); a job is not. While a reservation waits for the portal's budget it
// is listed among the portal's urgent waiters, and the client's own
// requests let it have the next free turn: otherwise a page opened during a
// backfill, which keeps the budget spent, would win a turn only by chance
// and often fail after its short wait. Going first is rationed
// (urgentTurns): a session start is unauthenticated until its token is
// checked, so a flood of them must not keep a portal's jobs from running.
func (c *Client) urgentKey(memberID string) string { return c.cfg.Key(memberID, "rl-urgent") }

func (c *Client) urgentTurnsKey(memberID string) string {
	return c.cfg.Key(memberID, "rl-urgent-turns")
}

// urgentTurns is how often reservations may go first on one portal: one turn in
// two seconds (a burst of three), a quarter of the standard budget at
// most; past it a reservation waits like any request.
var urgentTurns = redis_rate.Limit{Rate: 1, Period: 2 * time.Second, Burst: 3}

// urgentWait is how long a request yields to a waiting reservation before
// looking again.
const urgentWait = 50 * time.Millisecond

// urgentKeyTTL keeps the waiters' set from outliving them when a process
// dies; each waiter's own expiry is its score.
const urgentKeyTTL = 2 * time.Minute

// announce lists one urgent waiter until done is called, or until expires
// if the process dies first. It reports false, listing nothing, when the
// portal's urgent turns are used up.
func (c *Client) announce(ctx context.Context, memberID string, expires time.Time) (done func(), ok bool, err error) {
	res, err := c.limiter.Allow(ctx, c.urgentTurnsKey(memberID), urgentTurns)
	if err != nil {
		return nil, false, fmt.Errorf("bitrix: rate limiter: %w", err)
	}
	if res.Allowed == 0 {
		return nil, false, nil
	}
	key, id := c.urgentKey(memberID), strconv.FormatUint(rand.Uint64(), 36)
	_, err = c.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.ZAdd(ctx, key, redis.Z{Score: float64(expires.UnixMilli()), Member: id})
		p.PExpire(ctx, key, urgentKeyTTL)
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("bitrix: rate limiter: %w", err)
	}
	return func() {
		// Not ctx: the waiter must leave the list even when the caller
		// gave up; if this fails, its expiry takes it out.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		c.rdb.ZRem(dctx, key, id)
	}, true, nil
}

// urgentWaiting reports whether a reservation waits for the portal's budget,
// dropping waiters whose time is up.
func (c *Client) urgentWaiting(ctx context.Context, memberID string) (bool, error) {
	key := c.urgentKey(memberID)
	var n *redis.IntCmd
	_, err := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.ZRemRangeByScore(ctx, key, "-inf", strconv.FormatInt(c.clock.Now().UnixMilli(), 10))
		n = p.ZCard(ctx, key)
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("bitrix: rate limiter: %w", err)
	}
	return n.Val() > 0, nil
}

// waitBudget waits before one HTTP request: first for pauses and slowdowns
// of the methods it runs, then for one unit of the portal's shared budget,
// letting an urgent waiter (reserve) go first unless it is one. It waits
// past neither ctx's deadline nor until (when set).
func (c *Client) waitBudget(ctx context.Context, until time.Time, memberID, method string, methods []string, urgent bool) (time.Duration, error) {
	var waited time.Duration
	d, m, paused, err := c.methodDelay(ctx, memberID, methods)
	if err != nil {
		return 0, err
	}
	if d > 0 {
		reason := "operating"
		if !paused {
			reason = "operating_slowdown"
		}
		if err := c.sleepBefore(ctx, until, memberID, m, d, reason, nil); err != nil {
			return 0, err
		}
		waited += d
	}
	lim, on, err := c.limit(ctx, memberID)
	if err != nil || !on {
		return waited, err
	}
	key := c.budgetKey(memberID)
	announced, listed := false, false
	for {
		// Everyone not listed yields to those listed, reservations without an
		// urgent turn too: the same check before each try keeps the
		// draw among the rest fair.
		if !listed {
			yield, err := c.urgentWaiting(ctx, memberID)
			if err != nil {
				return waited, err
			}
			if yield {
				if err := c.sleepBefore(ctx, until, memberID, method, urgentWait, "budget", nil); err != nil {
					return waited, err
				}
				waited += urgentWait
				continue
			}
		}
		res, err := c.limiter.Allow(ctx, key, lim)
		if err != nil {
			return waited, fmt.Errorf("bitrix: rate limiter: %w", err)
		}
		if res.Allowed > 0 {
			return waited, nil
		}
		d := res.RetryAfter
		if d <= 0 {
			d = 10 * time.Millisecond
		}
		if urgent && !announced {
			announced = true                          // once: a reservation asks for one urgent turn
			expires := c.clock.Now().Add(time.Minute) // until done, at most this
			if !until.IsZero() {
				expires = until.Add(time.Second)
			}
			done, ok, err := c.announce(ctx, memberID, expires)
			if err != nil {
				return waited, err
			}
			if ok {
				listed = true
				defer done()
			}
		}
		if err := c.sleepBefore(ctx, until, memberID, method, d, "budget", nil); err != nil {
			return waited, err
		}
		waited += d
	}
}

func (c *Client) budgetKey(memberID string) string { return c.cfg.Key(memberID, "rl") }

// limit is the shared limiter's setting for a portal; on is false when its
// profile disables the limiter.
func (c *Client) limit(ctx context.Context, memberID string) (lim redis_rate.Limit, on bool, err error) {
	prof, err := c.profile(ctx, memberID)
	if err != nil || prof.Rate <= 0 {
		return lim, false, err
	}
	if prof.Period <= 0 {
		prof.Period = time.Second
	}
	if prof.Burst <= 0 {
		prof.Burst = 1
	}
	return redis_rate.Limit{Rate: prof.Rate, Burst: prof.Burst, Period: prof.Period}, true, nil
}

// fillBudget takes what is left of a portal's shared budget after the
// portal refused a request with QUERY_LIMIT_EXCEEDED: its bucket is full, so
// the next request anyone may send is one drain interval away. It returns
// that interval (0 when the limiter is off).
func (c *Client) fillBudget(ctx context.Context, memberID string) (time.Duration, error) {
	lim, on, err := c.limit(ctx, memberID)
	if err != nil || !on {
		return 0, err
	}
	if _, err := c.limiter.AllowAtMost(ctx, c.budgetKey(memberID), lim, lim.Burst); err != nil {
		return 0, fmt.Errorf("bitrix: rate limiter: %w", err)
	}
	return lim.Period / time.Duration(lim.Rate), nil
}

// MethodBudget is what the client knows of a method's time budget on a
// portal, shared by all processes through Redis.
type MethodBudget struct {
	Operating   float64   // seconds used in the last 10 minutes, as last reported
	ResetAt     time.Time // when the oldest minute of Operating drops out
	PausedUntil time.Time // OPERATION_TIME_LIMIT pause; zero when none
}

// MethodBudget returns the recorded time budget of method.
func (p *PortalClient) MethodBudget(ctx context.Context, method string) (MethodBudget, error) {
	method = strings.ToLower(method)
	vals, err := p.c.rdb.HMGet(ctx, p.c.opsKey(p.memberID), "p:"+method, "o:"+method).Result()
	if err != nil {
		return MethodBudget{}, fmt.Errorf("bitrix: method budget: %w", err)
	}
	var b MethodBudget
	if ms, ok := parseInt(vals[0]); ok {
		b.PausedUntil = time.UnixMilli(ms)
	}
	b.Operating, b.ResetAt, _ = parseOperating(vals[1])
	return b, nil
}

func parseInt(v any) (int64, bool) {
	s, ok := v.(string)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// operating values are stored as "seconds;reset_unix" or
// "seconds;reset_unix;request_seconds", the last what one request of the
// method spent (a batch's commands of it together), when known.
func parseOperating(v any) (op float64, reset time.Time, perRequest float64) {
	s, ok := v.(string)
	if !ok {
		return 0, time.Time{}, 0
	}
	a, rest, _ := strings.Cut(s, ";")
	b, c, _ := strings.Cut(rest, ";")
	op, err1 := strconv.ParseFloat(a, 64)
	r, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil {
		return 0, time.Time{}, 0
	}
	perRequest, _ = strconv.ParseFloat(c, 64)
	return op, time.Unix(r, 0), max(perRequest, 0)
}

// operatingWindow is what a method's operating time is summed over.
const operatingWindow = 10 * time.Minute

// slowFrom is the share of the operating budget after which calls of a
// method are spaced out.
const slowFrom = 0.8

// methodDelay returns how long to wait before running methods: the longest
// pause left by OPERATION_TIME_LIMIT, or a slowdown that grows as a method's
// operating time nears its budget (none at 80 %, quadratic above).
//
// Where what one request of the method spends is known (a batch tells it),
// the slowdown at 100 % spaces requests so that the method spends its
// budget as fast as the sliding window frees it (budget per 10 minutes):
// a large backfill writes on at that pace. Otherwise it is the whole time
// to the reset at 100 %. A slowdown that ignored the request's cost held a
// backfill of cheap updates to one batch in tens of seconds once 80 % was
// spent (28 records a second at 1 ms a call, where the budget allows 800).
func (c *Client) methodDelay(ctx context.Context, memberID string, methods []string) (d time.Duration, method string, paused bool, err error) {
	uniq := make([]string, 0, len(methods))
	seen := make(map[string]bool, len(methods))
	for _, m := range methods {
		m = strings.ToLower(m)
		if !seen[m] {
			seen[m] = true
			uniq = append(uniq, m)
		}
	}
	fields := make([]string, 0, 2*len(uniq))
	for _, m := range uniq {
		fields = append(fields, "p:"+m, "o:"+m)
	}
	if len(fields) == 0 {
		return 0, "", false, nil
	}
	vals, err := c.rdb.HMGet(ctx, c.opsKey(memberID), fields...).Result()
	if err != nil {
		return 0, "", false, fmt.Errorf("bitrix: method pauses: %w", err)
	}
	now := c.clock.Now()
	budget := c.cfg.OperatingBudget.Seconds()
	var slow time.Duration
	var slowM string
	for i, m := range uniq {
		if ms, ok := parseInt(vals[2*i]); ok {
			if w := time.UnixMilli(ms).Sub(now); w > d {
				d, method = w, m
			}
		}
		op, reset, perRequest := parseOperating(vals[2*i+1])
		left := reset.Sub(now)
		if op < slowFrom*budget || left <= 0 {
			continue
		}
		f := min((op-slowFrom*budget)/((1-slowFrom)*budget), 1)
		full := left
		if perRequest > 0 {
			// The pace the window sustains: a request's spend per
			// budget/window seconds of it a second.
			full = min(left, time.Duration(perRequest*float64(operatingWindow)/budget))
		}
		if w := time.Duration(f * f * float64(full)); w > slow {
			slow, slowM = w, m
		}
	}
	if d > 0 {
		return d, method, true, nil
	}
	return slow, slowM, false, nil
}

// recordTiming keeps a method's operating time where every process sees it,
// with what the request spent of it (perRequest, seconds; 0 when unknown).
// Low values are not written: they cannot cause a slowdown.
func (c *Client) recordTiming(ctx context.Context, memberID, method string, t Timing, perRequest float64) {
	if c.cfg.OnOperating != nil {
		c.cfg.OnOperating(ctx, memberID, method, t.Operating)
	}
	if t.OperatingResetAt <= 0 || t.Operating < 0.25*c.cfg.OperatingBudget.Seconds() {
		return
	}
	key := c.opsKey(memberID)
	v := strconv.FormatFloat(t.Operating, 'f', 3, 64) + ";" + strconv.FormatInt(t.OperatingResetAt, 10)
	if perRequest > 0 {
		v += ";" + strconv.FormatFloat(perRequest, 'f', 4, 64)
	}
	_, _ = c.rdb.TxPipelined(ctx, func(pp redis.Pipeliner) error {
		pp.HSet(ctx, key, "o:"+strings.ToLower(method), v)
		pp.Expire(ctx, key, 11*time.Minute)
		return nil
	})
}

// pauseMethod stops calls of method on the portal, in every process, until
// the last known operating_reset_at, or for OperatingPause when none is
// known.
func (c *Client) pauseMethod(ctx context.Context, memberID, method string) error {
	method = strings.ToLower(method)
	key := c.opsKey(memberID)
	now := c.clock.Now()
	until := now.Add(c.cfg.OperatingPause)
	if v, err := c.rdb.HGet(ctx, key, "o:"+method).Result(); err == nil {
		if _, reset, _ := parseOperating(v); reset.After(now) {
			until = reset
		}
	}
	_, err := c.rdb.TxPipelined(ctx, func(pp redis.Pipeliner) error {
		pp.HSet(ctx, key, "p:"+method, strconv.FormatInt(until.UnixMilli(), 10))
		pp.Expire(ctx, key, 11*time.Minute+until.Sub(now))
		return nil
	})
	if err != nil {
		return fmt.Errorf("bitrix: pause %s: %w", method, err)
	}
	return nil
}
