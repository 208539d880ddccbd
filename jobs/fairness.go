package jobs

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"time"

	"github.com/hibiken/asynq"
)

// concurrency is how many jobs one worker process runs at once: 32, or
// four times its bulk slots on a larger machine. Most of a job's time is
// spent waiting: on a portal's request budget (2 a second),
// on Bitrix24's answers, on the second an actions batch waits for the rest
// of its burst. asynq's default, one job per CPU, let two long jobs (a
// large portal's backfill and a history estimate) hold every slot while a
// thousand portals' edits queued behind them; the load test (cmd/loadtest)
// measured live edits waiting over a minute so. The CPU-heavy jobs are
// held to bulkSlots (bulkLimit), so most slots are always free for live
// work.
func concurrency() int { return max(32, 4*bulkSlots()) }

// bulkSlots is how many bulk jobs one worker process runs at once: about
// one per CPU, as they mostly compute. The bulk jobs are the long ones of
// the low queue (Worker.Register): a portal's backfill (a full sync, the
// evaluation of every record, its writes), the history estimate, and the
// lists' matching and reclassification.
func bulkSlots() int { return max(2, runtime.NumCPU()) }

// bulkWait is how long a bulk job given back for want of a slot waits
// before it is tried again, plus up to as much again of jitter, so that a
// backlog comes back spread out rather than all at once: a backlog of a
// thousand backfills (a thousand portals saving configs) costs about 130
// looks a second, and the few jobs waiting in their slots (bulkSlotWait)
// take a slot the moment it frees.
const bulkWait = 5 * time.Second

// busyError gives a task back for later without counting a failure: what
// it needed (a bulk slot, its portal's changes lock) was taken.
type busyError struct {
	what    string
	retryIn time.Duration
}

func (e *busyError) Error() string {
	return fmt.Sprintf("%s: tried again in %s", e.what, e.retryIn.Round(100*time.Millisecond))
}

// bulkSlotWait is how long a bulk job may wait in its worker slot for a
// bulk slot to free, when it is one of the few allowed to (as many as
// there are bulk slots): a slot freed is taken at once, however the
// others given back are timed, while most worker slots stay free.
const bulkSlotWait = 5 * time.Second

// bulkLimit runs a bulk job only in a free bulk slot of the process. With
// none free it waits up to bulkSlotWait for one if fewer than cap(waiting)
// jobs wait already; otherwise, or when the wait runs out, the task is
// given back (busyError), holding no worker.
func bulkLimit(slots, waiting chan struct{}, h asynq.HandlerFunc) asynq.HandlerFunc {
	return func(ctx context.Context, t *asynq.Task) error {
		busy := &busyError{what: "every bulk slot of this worker is taken", retryIn: bulkWait + rand.N(bulkWait)}
		select {
		case slots <- struct{}{}:
		default:
			select {
			case waiting <- struct{}{}:
			default:
				return busy
			}
			timer := time.NewTimer(bulkSlotWait)
			defer timer.Stop()
			select {
			case slots <- struct{}{}:
				<-waiting
			case <-timer.C:
				<-waiting
				return busy
			case <-ctx.Done():
				<-waiting
				return ctx.Err()
			}
		}
		defer func() { <-slots }()
		return h(ctx, t)
	}
}
