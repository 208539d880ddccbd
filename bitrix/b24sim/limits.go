package b24sim

import (
	"maps"
	"time"
)

// defaultOperatingCost is what one call of a method adds to its operating
// time unless Options.OperatingCost or CallCost says otherwise.
const defaultOperatingCost = 10 * time.Millisecond

// limitState is the portal's leaky bucket and per-method operating meters.
type limitState struct {
	rate     float64 // drain per second; <0 disables the bucket
	burst    float64
	level    float64
	last     time.Time
	meters   map[string]*opMeter
	refusedQ int // QUERY_LIMIT_EXCEEDED answers (bucket and fault bursts)
	refusedO int // OPERATION_TIME_LIMIT answers
}

// opMeter sums a method's operating time in ten 1-minute buckets.
type opMeter struct {
	minute [10]int64 // unix minute each bucket belongs to
	sum    [10]time.Duration
}

func (p *Portal) initLimits() {
	rate, burst := 2.0, 50
	if p.opts.Enterprise {
		rate, burst = 5, 250
	}
	if p.opts.RatePerSecond != 0 {
		rate = p.opts.RatePerSecond
	}
	if p.opts.Burst > 0 {
		burst = p.opts.Burst
	}
	p.limit = limitState{rate: rate, burst: float64(burst), meters: map[string]*opMeter{}}
}

// SetRateLimit changes the leaky bucket at run time (rate<0 disables it).
func (p *Portal) SetRateLimit(ratePerSecond float64, burst int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.limit.rate, p.limit.burst = ratePerSecond, float64(burst)
}

// SetOperating changes the per-method operating budget at run time: the
// limit over the sliding 10 minutes and what one call of a method costs
// (methods not in cost keep theirs).
func (p *Portal) SetOperating(limit time.Duration, cost map[string]time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.opts.OperatingLimit = limit
	merged := maps.Clone(p.opts.OperatingCost)
	if merged == nil {
		merged = map[string]time.Duration{}
	}
	maps.Copy(merged, cost)
	p.opts.OperatingCost = merged
}

// OperatingCost is what one call of method adds to its operating time
// (Options.OperatingCost, else 10 ms; a batch's own call nothing).
func (p *Portal) OperatingCost(method string) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.costOf(method)
}

// OperatingLimit is each method's operating-time budget over the sliding
// 10 minutes (Options.OperatingLimit, default 480 s).
func (p *Portal) OperatingLimit() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.opts.OperatingLimit
}

// admitRequest runs one HTTP REST request (a batch counts once) through the
// leaky bucket. Called without p.mu.
func (p *Portal) admitRequest() *Error {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := &p.limit
	if l.rate < 0 {
		return nil
	}
	now := p.now()
	if !l.last.IsZero() {
		if el := now.Sub(l.last).Seconds(); el > 0 {
			l.level -= el * l.rate
			if l.level < 0 {
				l.level = 0
			}
		}
	}
	if l.last.IsZero() || now.After(l.last) {
		l.last = now
	}
	if l.level+1 > l.burst {
		l.refusedQ++
		return errQueryLimit()
	}
	l.level++
	return nil
}

func errQueryLimit() *Error {
	return errorf(503, "QUERY_LIMIT_EXCEEDED", "Too many requests")
}

// costOf is one call's operating cost. Caller holds p.mu.
func (p *Portal) costOf(method string) time.Duration {
	if d, ok := p.opts.OperatingCost[method]; ok {
		return d
	}
	if method == "batch" { // the outer batch is not counted, its commands are
		return 0
	}
	if p.opts.CallCost > 0 {
		return p.opts.CallCost
	}
	return defaultOperatingCost
}

// meterSum is a method's operating time over the last ten minutes and the
// unix time its oldest bucket drops out. Caller holds p.mu.
func (p *Portal) meterSum(method string) (time.Duration, int64) {
	now := p.now()
	cur := now.Unix() / 60
	m := p.limit.meters[method]
	var sum time.Duration
	oldest := int64(-1)
	if m != nil {
		for i := range m.minute {
			if m.minute[i] > cur-10 && m.minute[i] <= cur && m.sum[i] > 0 {
				sum += m.sum[i]
				if oldest < 0 || m.minute[i] < oldest {
					oldest = m.minute[i]
				}
			}
		}
	}
	if oldest < 0 {
		return sum, now.Add(10 * time.Minute).Unix()
	}
	return sum, (oldest + 10) * 60
}

// admitMethod refuses a method whose operating time is over the limit.
// Called without p.mu.
func (p *Portal) admitMethod(method string) *Error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if sum, _ := p.meterSum(method); sum > p.opts.OperatingLimit {
		p.limit.refusedO++
		return errorf(429, "OPERATION_TIME_LIMIT", "Method is blocked due to operation time limit.")
	}
	return nil
}

// chargeMethod adds one call's cost to the method's current minute bucket.
// Called without p.mu.
func (p *Portal) chargeMethod(method string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	cost := p.costOf(method)
	if cost <= 0 {
		return
	}
	m := p.limit.meters[method]
	if m == nil {
		m = &opMeter{}
		p.limit.meters[method] = m
	}
	cur := p.now().Unix() / 60
	i := int(cur % 10)
	if m.minute[i] != cur {
		m.minute[i], m.sum[i] = cur, 0
	}
	m.sum[i] += cost
}

// operating is time.operating (seconds) and time.operating_reset_at for a method.
// Called without p.mu.
func (p *Portal) operating(method string) (float64, int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	sum, reset := p.meterSum(method)
	return sum.Seconds(), reset
}

// Operating reports a method's operating time over the sliding ten minutes.
func (p *Portal) Operating(method string) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	sum, _ := p.meterSum(method)
	return sum
}
