package jobs

import (
	"cmp"
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"segmentor/internal/await"
	"segmentor/internal/redistest"
)

// Any number of workers run RunScheduler; exactly one leads at a time, and
// when it stops another takes over.
func TestSchedulerHasExactlyOneLeader(t *testing.T) {
	rdb, _ := redistest.New(t)
	log := slog.New(slog.DiscardHandler)
	var mu sync.Mutex
	leading := map[int]bool{}
	maxAtOnce, everLed := 0, map[int]bool{}
	cancels := make([]context.CancelFunc, 3)
	var wg sync.WaitGroup
	for i := range 3 {
		ctx, cancel := context.WithCancel(context.Background())
		cancels[i] = cancel
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = RunScheduler(ctx, rdb, log, 600*time.Millisecond, nil, func(on bool) {
				mu.Lock()
				defer mu.Unlock()
				leading[i] = on
				if on {
					everLed[i] = true
				}
				n := 0
				for _, l := range leading {
					if l {
						n++
					}
				}
				if n > maxAtOnce {
					maxAtOnce = n
				}
			})
		}()
	}
	leader := func(other func(int) bool) func() bool {
		return func() bool {
			mu.Lock()
			defer mu.Unlock()
			for i, l := range leading {
				if l && other(i) {
					return true
				}
			}
			return false
		}
	}
	await.That(t, 10*time.Second, "a scheduler to lead", leader(func(int) bool { return true }))
	first := -1
	mu.Lock()
	for i, l := range leading {
		if l {
			first = i
		}
	}
	mu.Unlock()
	// The leader keeps its lock across refreshes: its TTL rises twice while
	// nobody else leads (maxAtOnce checks that below).
	last, refreshed := rdb.PTTL(context.Background(), leaderKey).Val(), 0
	await.That(t, 10*time.Second, "the leader to refresh its lock twice", func() bool {
		ttl := rdb.PTTL(context.Background(), leaderKey).Val()
		if ttl > last {
			refreshed++
		}
		last = ttl
		return refreshed >= 2
	})
	cancels[first]()
	await.That(t, 10*time.Second, "another scheduler to take over after the leader stopped",
		leader(func(i int) bool { return i != first }))
	for _, c := range cancels {
		c()
	}
	wg.Wait()
	if maxAtOnce != 1 {
		t.Errorf("%d schedulers led at once, want exactly 1", maxAtOnce)
	}
	t.Logf("leader %d handed over; %d processes led in turn, never more than one at once", first, len(everLed))
}

// Every periodic task's schedule is one asynq accepts, the
// reconciliation's at the period asked for.
func TestScheduleIsValid(t *testing.T) {
	rdb, _ := redistest.New(t)
	s := asynq.NewSchedulerFromRedisClient(rdb, nil)
	for _, every := range []time.Duration{0, 30 * time.Second, 2 * time.Hour} {
		sched := Schedule(every)
		for typ, spec := range sched {
			if _, err := s.Register(spec, asynq.NewTask(typ, nil)); err != nil {
				t.Errorf("schedule of %s %q: %v", typ, spec, err)
			}
		}
		want := "@every " + cmp.Or(every, DefaultReconcileEvery).String()
		if sched[TypeReconcile] != want || sched[TypePurge] == "" {
			t.Errorf("Schedule(%s): reconcile %q, purge %q; want %q and an hourly purge", every, sched[TypeReconcile], sched[TypePurge], want)
		}
	}
}
