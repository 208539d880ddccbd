package main

import (
	"sync"
	"time"

	"segmentor/bitrix/b24sim"
	"segmentor/internal/testkit"
)

// tally is what a portal was asked over one stretch of a run, counted from
// the simulator's request log: HTTP requests by what the engine sent them
// for (testkit.KindOf: sync, write, reread, items, settle, or a single
// call's method), the refusals for the portal's limits (each sent again),
// and the records written.
type tally struct {
	requests int
	kinds    map[string]int
	refusals int
	changed  map[uint64]struct{} // entity<<40 | id of every record an update wrote
	// calls counts the method calls the portal ran and charged to the
	// method's operating time (a batch's commands each; not those refused
	// for the limits).
	calls map[string]int
}

func newTally() *tally {
	return &tally{kinds: map[string]int{}, changed: map[uint64]struct{}{}, calls: map[string]int{}}
}

var entityCode = map[string]uint64{"lead": 1, "deal": 2, "contact": 3, "company": 4}

func (t *tally) add(reqs []b24sim.Request) {
	for _, rq := range reqs {
		t.requests++
		t.kinds[testkit.KindOf(rq)]++
		t.refusals += testkit.Refusals([]b24sim.Request{rq})
		for _, u := range rq.Updates() {
			t.changed[entityCode[u.Entity]<<40|uint64(u.ID)] = struct{}{}
		}
		switch {
		case rq.Method == "batch":
			for i, m := range rq.Commands {
				if i >= len(rq.CommandErrors) || !limited(rq.CommandErrors[i]) {
					t.calls[m]++
				}
			}
		case rq.UserID != 0 && !limited(rq.ErrorCode):
			t.calls[rq.Method]++
		}
	}
}

func limited(code string) bool {
	return code == "QUERY_LIMIT_EXCEEDED" || code == "OPERATION_TIME_LIMIT"
}

// operatingLeast is the least time the portal's operating-time limit
// allows for the tally's calls. Bitrix24 sums a method's time in ten
// 1-minute buckets of the clock and refuses the method while the ten hold
// limit (480 s): whatever a run spends in the minute it starts in stays
// counted until ten minutes later. So a method whose calls cost o in all,
// more than k whole limits' worth (k = ⌈o/limit⌉ − 1), cannot finish
// before its k-th limit's worth is freed: 10k minutes after the first
// bucket began, at least 10k − 1 minutes after the run did (it may begin
// at a bucket's end). It returns the method that binds, and its operating
// time.
func (t *tally) operatingLeast(p *b24sim.Portal) (least time.Duration, method string, op time.Duration) {
	limit := p.OperatingLimit()
	for m, n := range t.calls {
		o := time.Duration(n) * p.OperatingCost(m)
		if o > op {
			op, method = o, m
		}
	}
	return operatingBound(op, limit), method, op
}

// operatingBound is operatingLeast's bound for a method's operating time
// op under limit in any ten minutes.
func operatingBound(op, limit time.Duration) time.Duration {
	if limit <= 0 || op <= limit {
		return 0
	}
	k := (op - 1) / limit // ⌈op/limit⌉ − 1
	return time.Duration(10*k-1) * time.Minute
}

// reads are the full sync's requests, writes the write batches; other is
// everything else (the echo's re-reads, Segment field items, settling
// re-reads, single calls).
func (t *tally) reads() int  { return t.kinds["sync"] }
func (t *tally) writes() int { return t.kinds["write"] }
func (t *tally) other() int  { return t.requests - t.reads() - t.writes() }

// follower drains a portal's request log into the current tally: every
// second in the background, so that the log never holds a long run, and
// at each cut, which ends a stretch and starts the next.
type follower struct {
	p    *b24sim.Portal
	mu   sync.Mutex
	cur  *tally
	stop chan struct{}
	done chan struct{}
}

func follow(p *b24sim.Portal) *follower {
	f := &follower{p: p, cur: newTally(), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(f.done)
		for {
			select {
			case <-f.stop:
				return
			case <-time.After(time.Second):
				f.mu.Lock()
				f.cur.add(f.p.TakeRequests())
				f.mu.Unlock()
			}
		}
	}()
	return f
}

// cut returns the stretch so far and starts a new one.
func (f *follower) cut() *tally {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cur.add(f.p.TakeRequests())
	t := f.cur
	f.cur = newTally()
	return t
}

func (f *follower) close() {
	close(f.stop)
	<-f.done
}
