package jobs

import (
	"context"

	"github.com/hibiken/asynq"
)

// HistoryKeeper keeps a portal's daily segment figures and trims its moves
// log (engine.Analyst). It reads the mirror only: no REST request.
type HistoryKeeper interface {
	RecordHistory(ctx context.Context, memberID string) error
}

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
	}
}
