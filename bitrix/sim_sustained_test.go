package bitrix_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"segmentor/bitrix"
	"segmentor/bitrix/b24sim"
)

// Two clients (two processes) sharing one Redis drive one portal as hard as
// they can for 30 s at Bitrix24's real default limits (portal: 2/s, bucket
// 50; client profile: 2/s, burst 48). The portal must refuse nothing; the
// same load without the shared limiter is refused within seconds.
func TestSimSustainedAtDefaultCeiling(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 30 s")
	}
	t.Parallel()
	run := func(e *simEnv, profile bitrix.Profile, d time.Duration) (calls int64, refused int) {
		clients := []*bitrix.Client{e.newC(profile), e.newC(profile)}
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		var n atomic.Int64
		var wg sync.WaitGroup
		for _, c := range clients {
			p := c.Portal(e.sim.MemberID())
			for range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for ctx.Err() == nil {
						_, err := p.Call(ctx, "user.admin", nil, nil)
						switch {
						case err == nil:
							n.Add(1)
						case ctx.Err() != nil:
						case bitrix.IsQueryLimit(err):
							// only expected without the limiter
						default:
							var rl *bitrix.RateLimitedError
							if !isRateLimited(err, &rl) {
								t.Errorf("call: %v", err)
							}
						}
					}
				}()
			}
		}
		wg.Wait()
		return n.Load(), e.sim.Stats().QueryLimitRefusals
	}

	// The same load without the limiter runs beside it, on a portal of its own.
	limited, unlimited := newSim(t, b24sim.Options{}), newSim(t, b24sim.Options{}) // default plan limits
	var refusedOff int
	off := make(chan struct{})
	go func() {
		defer close(off)
		_, refusedOff = run(unlimited, bitrix.UnlimitedProfile(), 3*time.Second)
	}()
	calls, refused := run(limited, bitrix.StandardProfile(), 30*time.Second)
	<-off
	ceiling := 50 + 2*30 // the portal's bucket plus 30 s of drain
	t.Logf("with the shared limiter: %d calls in 30 s (portal ceiling ≈ %d), %d refused", calls, ceiling, refused)
	if refused != 0 {
		t.Errorf("with the shared limiter the portal refused %d requests", refused)
	}
	if calls < 80 {
		t.Errorf("only %d calls in 30 s: the limiter is far below the portal's budget", calls)
	}
	t.Logf("without the limiter: %d refused in 3 s", refusedOff)
	if refusedOff == 0 {
		t.Error("without the limiter nothing was refused: the test proves nothing")
	}
}

func isRateLimited(err error, target **bitrix.RateLimitedError) bool {
	return errors.As(err, target)
}
