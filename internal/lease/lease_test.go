package lease_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"segmentor/internal/await"
	"segmentor/internal/lease"
)

func TestKeepRenewsUntilStopped(t *testing.T) {
	var n atomic.Int32
	stop := lease.Keep(context.Background(), time.Millisecond, func(context.Context) error { n.Add(1); return nil }, nil)
	await.That(t, 5*time.Second, "three renewals", func() bool { return n.Load() >= 3 })
	stop()
	stop() // twice is harmless
	after := n.Load()
	if after < 3 {
		t.Fatalf("renewed %d times", after)
	}
	time.Sleep(10 * time.Millisecond)
	if n.Load() != after {
		t.Errorf("renewed after stop: %d, then %d", after, n.Load())
	}
}

func TestKeepGivesUpWhenToldTo(t *testing.T) {
	var failures atomic.Int32
	gaveUp := make(chan struct{})
	stop := lease.Keep(context.Background(), time.Millisecond, func(context.Context) error { return errors.New("lost") },
		func(error) bool {
			if failures.Add(1) == 2 {
				close(gaveUp)
				return true
			}
			return false
		})
	defer stop()
	select {
	case <-gaveUp:
	case <-time.After(5 * time.Second):
		t.Fatal("the loop did not give the lease up")
	}
	time.Sleep(10 * time.Millisecond)
	if n := failures.Load(); n != 2 {
		t.Errorf("%d renewals after giving up, want it to stop at 2", n)
	}
}

func TestKeepEndsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	stop := lease.Keep(ctx, time.Hour, func(context.Context) error { return nil }, nil)
	cancel()
	done := make(chan struct{})
	go func() { stop(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("stop hung after the context ended")
	}
}
