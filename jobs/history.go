package jobs

import (
	"context"
	"errors"
	"time"

	"github.com/hibiken/asynq"
)

// HistoryKeeper keeps a portal's daily segment figures and trims its moves
// log (engine.Analyst). It reads the mirror only: no REST request.
type HistoryKeeper interface {
	RecordHistory(ctx context.Context, memberID string) error
	// EstimatePast fills the days before a scheme's first snapshot with
	// figures estimated from the deals' dates, once; cheap when done.
	// It answers how many days it estimated.
	EstimatePast(ctx context.Context, memberID string) (int, error)
}

// TypeEstimate estimates a portal's segment figures before its first
// snapshot: a new portal's charts start with a year, marked as estimated.
const TypeEstimate = "history:estimate"

// handleSnapshot keeps the day's figures of every active portal, late in
// the day (UTC); the nightly recompute keeps them too, so a day the late
// run misses still has its morning's figures. A portal that fails is
// logged and the others go on: a missed day stays a gap in the charts.
func (w *Worker) handleSnapshot(ctx context.Context, _ *asynq.Task) error {
	if w.History == nil {
		return nil
	}
	portals, err := w.activePortals(ctx)
	if err != nil {
		return err
	}
	for _, p := range portals {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		w.recordHistory(ctx, p.MemberID)
	}
	return nil
}

// recordHistory keeps the portal's figures now; a failure is logged, not
// returned: the figures are an aside of the work that called it.
func (w *Worker) recordHistory(ctx context.Context, memberID string) {
	if w.History == nil {
		return
	}
	if err := w.History.RecordHistory(ctx, memberID); err != nil {
		w.Log.Warn("segment history", "portal", memberID, "error", err)
		return
	}
	if w.Queue == nil {
		return
	}
	// Apart from the work that called it, at low priority: a year of a
	// large portal takes a while, and does nothing once done.
	_, err := w.Queue.Client.EnqueueContext(ctx, asynq.NewTask(TypeEstimate, []byte(memberID)), asynq.Queue(QueueLow),
		asynq.TaskID("estimate:"+memberID), asynq.MaxRetry(2), asynq.Timeout(30*time.Minute))
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		w.Log.Warn("segment history estimate", "portal", memberID, "error", err)
	}
}

// handleEstimate runs a portal's estimate (HistoryKeeper.EstimatePast).
func (w *Worker) handleEstimate(ctx context.Context, t *asynq.Task) error {
	if w.History == nil {
		return nil
	}
	start := time.Now()
	days, err := w.History.EstimatePast(ctx, string(t.Payload()))
	if days > 0 {
		w.Log.Info("segment history estimated", "portal", string(t.Payload()), "days", days, "took", time.Since(start).Round(time.Millisecond).String())
	}
	return err
}
