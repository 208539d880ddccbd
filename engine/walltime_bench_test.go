package engine_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"segmentor/app"
	"segmentor/bitrix"
	"segmentor/bitrix/b24sim"
)

// BenchmarkBackfillWallTime times a backfill at the default limits — the
// portal's leaky bucket of 50 draining 2 requests/s (b24sim's default) and
// the app's own limiter (bitrix.StandardProfile: 2/s, burst 48) — against
// the least time those limits allow for the HTTP requests it sent:
//
//   - fresh: the portal's bucket is empty at the start, so the first 50
//     requests may go at once: minimum max(0, N−50)/2 s;
//   - busy: the bucket is full at the start (the portal just served other
//     work): every request waits for its drain, minimum N/2 s.
//
// It prints both minimums and the ratio of the measured time to the
// portal's minimum (target ≤ 1.15), and the client's own floor: its burst
// keeps two requests of headroom, (N−48)/2 s from a fresh start.
//
//	REDIS_URL=redis://127.0.0.1:6390/0 go test -run XXX -bench BackfillWallTime -benchtime 1x ./jobs/
func BenchmarkBackfillWallTime(b *testing.B) {
	sizes := []b24sim.GenOptions{
		{Contacts: 500, Companies: 100, Deals: 1400},
		{Contacts: 1500, Companies: 300, Deals: 4200},
	}
	for _, size := range sizes {
		for _, busy := range []bool{false, true} {
			name := fmt.Sprintf("records=%d/fresh", size.Contacts+size.Companies+size.Deals)
			if busy {
				name = fmt.Sprintf("records=%d/busy", size.Contacts+size.Companies+size.Deals)
			}
			b.Run(name, func(b *testing.B) {
				for range b.N {
					backfillWallTime(b, size, busy)
				}
			})
		}
	}
}

func backfillWallTime(b *testing.B, size b24sim.GenOptions, busy bool) {
	ctx := context.Background()
	e := newLimitedEngineEnv(b, size, 0, bitrix.StandardProfile())
	// The setup above spent a request: let the bucket and the limiter empty.
	time.Sleep(2 * time.Second)
	if busy {
		// Fill both: calls through the app's client take its whole burst,
		// more from elsewhere fill the portal's bucket of 50.
		burst := e.profile.Burst
		for range burst {
			if _, err := e.portal.Call(ctx, "app.info", nil, nil); err != nil {
				b.Fatal(err)
			}
		}
		prof := e.profile
		e.profile = bitrix.UnlimitedProfile()
		other := e.client(b, nil).Portal(e.memberID)
		e.profile = prof
		for range 50 - burst {
			if _, err := other.Call(ctx, "app.info", nil, nil); err != nil {
				b.Fatal(err)
			}
		}
	}
	e.sim.ResetLog()
	start := time.Now()
	st, err := e.cls.Backfill(ctx, e.memberID, app.TriggerRecompute)
	took := time.Since(start)
	if err != nil {
		b.Fatal(err)
	}
	sim := e.sim.Stats()
	n := sim.HTTPRequests
	portalMin := float64(max(n-50, 0)) / 2
	clientMin := float64(max(n-e.profile.Burst, 0)) / 2
	if busy {
		portalMin, clientMin = float64(n)/2, float64(n)/2
	}
	ratio := took.Seconds() / portalMin
	verdict := fmt.Sprintf("%.2f× the portal's minimum, %+.2f s against the client's", ratio, took.Seconds()-clientMin)
	if portalMin == 0 {
		verdict = "all within the burst: no wait is due, the time is the work itself"
	}
	b.Logf("%d records: %d HTTP requests (%d sync, 1 Segment items, %d writes of %d records), %d refused; "+
		"took %.2f s; the portal's limits allow %.2f s, the client's profile %.2f s: %s",
		st.Evaluated, n, st.Sync.Requests, st.WriteRequests, st.Written, sim.QueryLimitRefusals,
		took.Seconds(), portalMin, clientMin, verdict)
	b.ReportMetric(took.Seconds(), "s")
	b.ReportMetric(portalMin, "min-s")
	if portalMin > 0 {
		b.ReportMetric(ratio, "x-min")
	}
	b.ReportMetric(float64(n), "requests")
}
