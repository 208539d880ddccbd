package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	"segmentor/app"
	"segmentor/engine"
)

// TypeBackfill classifies a portal's whole base: sync, RFM, evaluation,
// writes of the differences. It runs on the low queue so that live events
// of every portal go first.
const TypeBackfill = "portal:backfill"

// BackfillPayload names the portal to backfill.
type BackfillPayload struct {
	MemberID string `json:"member_id"`
	Reason   string `json:"reason"` // config, recompute, nightly
}

// NewBackfillTask builds a backfill task. Its ID is per portal, so a second
// request while one is queued or running is refused (asynq.ErrTaskIDConflict)
// instead of doing the work twice.
func NewBackfillTask(p BackfillPayload) (*asynq.Task, []asynq.Option, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, nil, err
	}
	return asynq.NewTask(TypeBackfill, b), []asynq.Option{
		asynq.Queue(QueueLow), asynq.TaskID("backfill:" + p.MemberID),
		asynq.MaxRetry(10), asynq.Timeout(2 * time.Hour),
	}, nil
}

// Backfiller runs a portal's backfill (engine.Classifier).
type Backfiller interface {
	Backfill(ctx context.Context, memberID, trigger string) (engine.BackfillStats, error)
}

func (w *Worker) handleBackfill(ctx context.Context, t *asynq.Task) error {
	var p BackfillPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("backfill payload: %v: %w", err, asynq.SkipRetry)
	}
	if _, err := w.activePortal(ctx, p.MemberID, false); err != nil {
		return err
	}
	if w.Backfill == nil {
		return fmt.Errorf("backfill is not configured in this worker: %w", asynq.SkipRetry)
	}
	st, err := w.Backfill.Backfill(ctx, p.MemberID, p.Reason)
	w.kickActions(ctx, p.MemberID)
	if app.ErrorCode(err) == app.EConflict {
		return fmt.Errorf("%v: %w", err, asynq.SkipRetry) // nothing to do until a config is saved
	}
	if err != nil {
		return wrapReauth(err)
	}
	w.Log.Info("backfill done", "portal", p.MemberID, "reason", p.Reason, "stats", fmt.Sprintf("%+v", st))
	w.recordHistory(ctx, p.MemberID)
	return nil
}
