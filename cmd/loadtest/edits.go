package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"time"

	"segmentor/bitrix/b24sim"
)

// editStream is the small portals' sales teams: a steady stream of edits,
// each of one deal's source (WEB to CALL or back), made through the
// portal's UI so that Bitrix24 sends its event. The load test's config
// labels a deal Web or Other by its source alone, so every edit changes
// the deal's Segment label: the app must write it, and the edit's latency
// is from the edit to the moment the portal holds the new label.
type editStream struct {
	portals  []*b24sim.Portal
	deals    [][]int // each portal's deal ids
	segField string  // the Segment field's name on the portal (UF_CRM_…)
	timeout  time.Duration
	rng      *rand.Rand

	mu       sync.Mutex
	inflight map[string]*edit // by portal name + deal id
	lat      []time.Duration  // the latencies of the edits that landed
	lost     int              // edits whose label did not change within timeout
	made     int
	failed   int // edits the portal refused (the stream's own fault)
	firstErr error
}

type edit struct {
	p      *b24sim.Portal
	id     int
	before string // the Segment field's value before the edit
	at     time.Time
}

func newEditStream(portals []*b24sim.Portal, segField string, timeout time.Duration, seed uint64) *editStream {
	s := &editStream{portals: portals, segField: segField, timeout: timeout, inflight: map[string]*edit{},
		rng: rand.New(rand.NewPCG(seed, seed^0x10ad))}
	for _, p := range portals {
		var ids []int
		for d := range p.Records("deal") {
			id, _ := strconv.Atoi(fmt.Sprint(d["ID"]))
			ids = append(ids, id)
		}
		slices.Sort(ids)
		s.deals = append(s.deals, ids)
	}
	return s
}

// run edits rate times a second, spread over the portals at random, and
// watches the edits in flight, until ctx ends; then it waits up to the
// timeout for the edits still in flight.
func (s *editStream) run(ctx context.Context, rate float64) {
	var wg sync.WaitGroup
	watchCtx, stopWatch := context.WithCancel(context.Background())
	wg.Go(func() { s.watch(watchCtx) })
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	for {
		select {
		case <-ctx.Done():
			tick.Stop()
			deadline := time.Now().Add(s.timeout)
			for time.Now().Before(deadline) && s.pending() > 0 {
				time.Sleep(50 * time.Millisecond)
			}
			stopWatch()
			wg.Wait()
			return
		case <-tick.C:
			s.editOne()
		}
	}
}

func (s *editStream) pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.inflight)
}

// editOne edits one deal not already in flight.
func (s *editStream) editOne() {
	s.mu.Lock()
	var i, id int
	var key string
	for range 20 {
		i = s.rng.IntN(len(s.portals))
		if len(s.deals[i]) == 0 {
			continue
		}
		id = s.deals[i][s.rng.IntN(len(s.deals[i]))]
		key = s.portals[i].Name() + ":" + strconv.Itoa(id)
		if s.inflight[key] == nil {
			break
		}
		key = ""
	}
	s.mu.Unlock()
	if key == "" {
		return
	}
	p := s.portals[i]
	rec, ok := p.Record("deal", id)
	if !ok {
		return
	}
	src := "WEB"
	if fmt.Sprint(rec["SOURCE_ID"]) == "WEB" {
		src = "CALL"
	}
	e := &edit{p: p, id: id, before: fieldValue(rec, s.segField), at: time.Now()}
	s.mu.Lock()
	s.inflight[key] = e
	s.made++
	s.mu.Unlock()
	if err := p.UserUpdate("deal", id, map[string]any{"SOURCE_ID": src}, 1, false); err != nil {
		s.mu.Lock()
		delete(s.inflight, key)
		s.failed++
		if s.firstErr == nil {
			s.firstErr = fmt.Errorf("%s: edit deal %d: %w", p.Name(), id, err)
		}
		s.mu.Unlock()
	}
}

// watch looks at the deals in flight every 50 ms: a deal whose label
// changed has landed.
func (s *editStream) watch(ctx context.Context) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			s.mu.Lock()
			s.lost += len(s.inflight)
			clear(s.inflight)
			s.mu.Unlock()
			return
		case <-tick.C:
		}
		s.mu.Lock()
		batch := make(map[string]*edit, len(s.inflight))
		for k, e := range s.inflight {
			batch[k] = e
		}
		s.mu.Unlock()
		now := time.Now()
		for k, e := range batch {
			rec, ok := e.p.Record("deal", e.id)
			landed := ok && fieldValue(rec, s.segField) != e.before
			if !landed && now.Sub(e.at) < s.timeout {
				continue
			}
			s.mu.Lock()
			delete(s.inflight, k)
			if landed {
				s.lat = append(s.lat, now.Sub(e.at))
			} else {
				s.lost++
			}
			s.mu.Unlock()
		}
	}
}

func fieldValue(rec map[string]any, field string) string {
	v, ok := rec[field]
	if !ok || v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

// latencies is what the stream measured: the percentiles of the edits that
// landed, and how many did not.
type latencies struct {
	made, landed, lost, failed int
	p50, p95, p99, max         time.Duration
	firstErr                   error
}

func (s *editStream) result() latencies {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := slices.Clone(s.lat)
	slices.Sort(l)
	r := latencies{made: s.made, landed: len(l), lost: s.lost, failed: s.failed, firstErr: s.firstErr}
	if len(l) > 0 {
		r.p50, r.p95, r.p99, r.max = pct(l, 50), pct(l, 95), pct(l, 99), l[len(l)-1]
	}
	return r
}

// pct is the nearest-rank percentile of sorted durations.
func pct(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p + 99) / 100
	return sorted[max(0, min(len(sorted)-1, i-1))]
}
