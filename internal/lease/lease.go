// Package lease keeps a lease (a lock with a time to live in Redis) renewed
// while its holder works: the one renewal loop of the changes lock, the
// backfill's lease and the scheduler's leadership.
package lease

import (
	"context"
	"sync"
	"time"
)

// Keep calls renew every interval, in the background, until the returned
// stop is called or ctx ends. A renewal that fails is given to failed: it
// returns whether to give the lease up (end the loop); nil keeps trying.
// stop waits for the loop to end; calling it twice is harmless.
func Keep(ctx context.Context, every time.Duration, renew func(context.Context) error, failed func(error) bool) (stop func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				if err := renew(ctx); err != nil && failed != nil && failed(err) {
					return
				}
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() { close(quit) })
		<-done
	}
}
