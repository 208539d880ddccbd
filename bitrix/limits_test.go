package bitrix

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"segmentor/internal/await"
)

// leakyBucket imitates Bitrix24's request limit: each request adds one to
// a level that drains at rate per second; over capacity it answers 503.
type leakyBucket struct {
	mu           sync.Mutex
	capacity     float64
	rate         float64
	level        float64
	last         time.Time
	ok, rejected int
}

func (b *leakyBucket) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	now := time.Now()
	if !b.last.IsZero() {
		b.level = max(0, b.level-now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
	over := b.level+1 > b.capacity
	if over {
		b.rejected++
	} else {
		b.level++
		b.ok++
	}
	b.mu.Unlock()
	if over {
		writeJSON(w, 503, `{"error":"QUERY_LIMIT_EXCEEDED","error_description":"Too many requests"}`)
		return
	}
	writeJSON(w, 200, `{"result":true}`)
}

func (b *leakyBucket) counts() (ok, rejected int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ok, b.rejected
}

// Two clients (two processes) hammer one portal whose bucket holds 20 and
// drains 20/s. Without the limiter the portal refuses requests; with the
// shared Redis limiter (20/s, burst 5) it refuses none. The gap between
// burst and bucket absorbs up to 750 ms of scheduling delay.
func TestLimiterHoldsSharedBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("takes about two seconds")
	}
	for _, limited := range []bool{false, true} {
		name := "limiter off"
		if limited {
			name = "limiter on"
		}
		t.Run(name, func(t *testing.T) {
			profile := UnlimitedProfile()
			if limited {
				profile = Profile{Name: "test", Rate: 20, Burst: 5, Period: time.Second}
			}
			mod := func(c *Config) {
				c.Clock = realClock{} // the limiter waits in real time
				c.MaxLimitRetries = -1
				c.Profile = func(context.Context, string) (Profile, error) { return profile, nil }
			}
			e := setup(t, mod)
			bucket := &leakyBucket{capacity: 20, rate: 20}
			e.handle("crm.deal.update", bucket.ServeHTTP)
			clients := []*Client{e.client, e.newClient(realClock{}, mod)}

			const workers, calls = 4, 5 // 40 calls: about 1.75 s at 20/s after the burst
			var wg sync.WaitGroup
			var mu sync.Mutex
			var failed int
			for _, c := range clients {
				p := c.Portal(testMember)
				for range workers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for range calls {
							if _, err := p.Call(context.Background(), "crm.deal.update", nil, nil); err != nil {
								if !IsQueryLimit(err) {
									t.Errorf("unexpected error: %v", err)
								}
								mu.Lock()
								failed++
								mu.Unlock()
							}
						}
					}()
				}
			}
			wg.Wait()
			ok, rejected := bucket.counts()
			t.Logf("%s: portal accepted %d, refused %d", name, ok, rejected)
			if ok+rejected != 2*workers*calls || failed != rejected {
				t.Errorf("accepted %d + refused %d, client failures %d", ok, rejected, failed)
			}
			if limited && rejected != 0 {
				t.Errorf("with the limiter the portal refused %d requests", rejected)
			}
			if !limited && rejected == 0 {
				t.Error("without the limiter nothing was refused: the test proves nothing")
			}
		})
	}
}

func TestBudgetWaitBeyondDeadline(t *testing.T) {
	e := setup(t, func(c *Config) {
		c.Profile = func(context.Context, string) (Profile, error) {
			return Profile{Rate: 1, Burst: 1, Period: time.Minute}, nil
		}
	})
	hits := &counter{}
	e.handle("crm.deal.get", func(w http.ResponseWriter, r *http.Request) {
		hits.inc()
		writeJSON(w, 200, `{"result":{}}`)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := e.portal.Call(ctx, "crm.deal.get", nil, nil); err != nil {
		t.Fatal(err)
	}
	_, err := e.portal.Call(ctx, "crm.deal.get", nil, nil)
	var rl *RateLimitedError
	if !errors.As(err, &rl) || rl.Reason != "budget" || rl.RetryIn < 50*time.Second || rl.MemberID != testMember {
		t.Fatalf("err = %v", err)
	}
	if hits.get() != 1 {
		t.Errorf("hits = %d", hits.get())
	}
}

func TestBudgetWaitRecordedInHook(t *testing.T) {
	e := setup(t, func(c *Config) {
		c.Profile = func(context.Context, string) (Profile, error) {
			return Profile{Rate: 1, Burst: 1, Period: 50 * time.Millisecond}, nil
		}
		c.Clock = realClock{}
	})
	e.handle("crm.deal.get", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, `{"result":{}}`) })
	for range 3 {
		if _, err := e.portal.Call(context.Background(), "crm.deal.get", nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	var waited time.Duration
	for _, i := range e.requests() {
		waited += i.LimiterWait
	}
	if waited < 50*time.Millisecond {
		t.Errorf("limiter wait reported %v, want at least 50ms", waited)
	}
}

func TestProfiles(t *testing.T) {
	if p := ProfileForLicense("ent"); p.Rate != 5 || p.Burst >= 250 {
		t.Errorf("enterprise = %+v", p)
	}
	if p := ProfileForLicense("project"); p.Rate != 2 || p.Burst >= 50 {
		t.Errorf("standard = %+v", p)
	}
	if p := ProfileForLicense(" ENT "); p.Name != "enterprise" {
		t.Errorf("ENT = %+v", p)
	}
}

// Reserve spends the budget the client's own calls spend, and waits for it
// no longer than asked.
func TestReserve(t *testing.T) {
	e := setup(t, func(c *Config) {
		c.Profile = func(context.Context, string) (Profile, error) {
			return Profile{Rate: 10, Burst: 2, Period: time.Second}, nil
		}
		c.Clock = realClock{}
	})
	e.handle("crm.deal.get", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, `{"result":{}}`) })
	ctx := context.Background()
	// A call of the client's and a reservation take the burst of two.
	if _, err := e.portal.Call(ctx, "crm.deal.get", nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.reserve(ctx, testMember, "profile", time.Second); err != nil {
		t.Fatal(err)
	}
	// The next unit is 100 ms away: more than 10 ms...
	_, err := e.client.reserve(ctx, testMember, "profile", 10*time.Millisecond)
	var rl *RateLimitedError
	if !errors.As(err, &rl) || rl.Reason != "budget" || rl.RetryIn <= 10*time.Millisecond || rl.RetryIn > 100*time.Millisecond ||
		rl.MemberID != testMember || rl.Method != "profile" {
		t.Fatalf("reserve over its bound: %v", err)
	}
	// ... and within a second, which it waits.
	start := time.Now()
	if _, err := e.client.reserve(ctx, testMember, "profile", time.Second); err != nil {
		t.Fatal(err)
	}
	if w := time.Since(start); w < 20*time.Millisecond {
		t.Errorf("reserve on a spent budget returned after %v", w)
	}
	// The refused reservation took nothing: the client's next call waits
	// for one unit, not two.
	resp, err := e.portal.Call(ctx, "crm.deal.get", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.LimiterWait <= 0 || resp.LimiterWait > 150*time.Millisecond {
		t.Errorf("call after the reservations waited %v, want one unit (100 ms)", resp.LimiterWait)
	}
}

// A page waiting in Reserve gets the next free turn while the client's own
// calls keep the budget spent: four callers in a loop, as a backfill and
// live jobs do, would otherwise win most turns and the page would often
// give up after its short wait. Going first is rationed, so a flood of
// Reserves (session starts are unauthenticated until their token is
// checked) does not stop the jobs.
func TestReserveGoesBeforeTheClientsCalls(t *testing.T) {
	if testing.Short() {
		t.Skip("runs callers against a real-time budget for a few seconds")
	}
	e := setup(t, func(c *Config) {
		c.Profile = func(context.Context, string) (Profile, error) {
			return Profile{Rate: 4, Burst: 1, Period: time.Second}, nil
		}
		c.Clock = realClock{}
	})
	e.handle("crm.deal.get", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, `{"result":{}}`) })
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var calls atomic.Int64
	for range 4 {
		wg.Go(func() {
			for ctx.Err() == nil {
				if _, err := e.portal.Call(ctx, "crm.deal.get", nil, nil); err == nil {
					calls.Add(1)
				} else if ctx.Err() == nil {
					t.Logf("call: %v", err)
				}
			}
		})
	}
	defer func() { cancel(); wg.Wait() }()
	await.That(t, 10*time.Second, "the callers to spend the budget", func() bool { return calls.Load() >= 2 })

	const opens = 3 // the urgent turns' burst
	var worst time.Duration
	for i := range opens {
		start := time.Now()
		// 600 ms: more than one turn (250 ms), less than the five turns a
		// fair draw among five would take on average.
		if _, err := e.client.reserve(ctx, testMember, "profile", 600*time.Millisecond); err != nil {
			t.Fatalf("page open %d of %d gave up: %v", i+1, opens, err)
		}
		worst = max(worst, time.Since(start))
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("%d page opens beside 4 busy callers (%d calls): the longest waited %v", opens, calls.Load(), worst.Round(time.Millisecond))
	if calls.Load() == 0 {
		t.Error("the callers made no call: the budget was never contended")
	}
	if n, _ := e.client.rdb.ZCard(context.Background(), e.client.urgentKey(testMember)).Result(); n != 0 {
		t.Errorf("%d urgent waiters listed after they all returned", n)
	}

	// A flood: a caller Reserves without pause beside one job caller. With
	// every Reserve going first the job would get no turn; rationed, it
	// gets about half of those the Reserves do not take first.
	cancel()
	wg.Wait()
	ctx, cancel = context.WithCancel(context.Background())
	var jobCalls, reserves atomic.Int64
	wg.Go(func() {
		for ctx.Err() == nil {
			if _, err := e.portal.Call(ctx, "crm.deal.get", nil, nil); err == nil {
				jobCalls.Add(1)
			}
		}
	})
	wg.Go(func() {
		for ctx.Err() == nil {
			if _, err := e.client.reserve(ctx, testMember, "profile", 600*time.Millisecond); err == nil {
				reserves.Add(1)
			}
		}
	})
	const turns = 16 // 4 s at 4/s
	await.That(t, 30*time.Second, "16 turns of flood", func() bool { return reserves.Load()+jobCalls.Load() >= turns })
	cancel()
	wg.Wait()
	t.Logf("%d turns of flood: %d reserves, %d job calls", turns, reserves.Load(), jobCalls.Load())
	if jobCalls.Load() < 3 {
		t.Errorf("the job made %d calls of %d turns beside a flood of reserves; want it to keep a share of the 4/s", jobCalls.Load(), turns)
	}
}
