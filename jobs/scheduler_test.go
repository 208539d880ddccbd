package jobs

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

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
			_ = RunScheduler(ctx, rdb, log, 600*time.Millisecond, func(on bool) {
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
	leaderOf := func() int {
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			mu.Lock()
			for i, l := range leading {
				if l {
					mu.Unlock()
					return i
				}
			}
			mu.Unlock()
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatal("no scheduler became leader")
		return -1
	}
	first := leaderOf()
	time.Sleep(1500 * time.Millisecond) // several lock refreshes
	cancels[first]()
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		took := false
		for i, l := range leading {
			if l && i != first {
				took = true
			}
		}
		mu.Unlock()
		if took {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no other scheduler took over after the leader stopped")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, c := range cancels {
		c()
	}
	wg.Wait()
	if maxAtOnce != 1 {
		t.Errorf("%d schedulers led at once, want exactly 1", maxAtOnce)
	}
	t.Logf("leader %d handed over; %d processes led in turn, never more than one at once", first, len(everLed))
}
