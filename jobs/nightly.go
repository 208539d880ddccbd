package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/hibiken/asynq"

	"segmentor/app"
)

// TypeNightlyPortal starts one portal's nightly recompute at its turn in
// the night (nightlyTurn).
const TypeNightlyPortal = "schedule:nightly-portal"

// NightlyWindow is the part of the night the portals' nightly recomputes
// are spread over, from the nightly task's start (03:00 UTC): a thousand
// portals' backfills do not all start at once, and each runs within its own
// portal's request budget, so their work is spread over the worker's night
// instead of queued behind each other at 03:00.
const NightlyWindow = 4 * time.Hour

// NightlyPortalPayload names the portal whose turn it is.
type NightlyPortalPayload struct {
	MemberID string `json:"member_id"`
}

// nightlyTurn is how long after the nightly task a portal's recompute
// starts: a hash of its member_id over NightlyWindow, to the second. A
// portal keeps its turn from night to night, and turns spread evenly
// however many portals there are.
func nightlyTurn(memberID string) time.Duration {
	h := fnv.New64a()
	_, _ = h.Write([]byte(memberID))
	return time.Duration(h.Sum64()%uint64(NightlyWindow/time.Second)) * time.Second
}

// handleNightly gives every active portal its turn in the night: a task
// scheduled nightlyTurn from now, which queues the portal's backfill when
// it comes. Its id names the portal and the night, so a nightly task run
// twice (a retry, a second scheduler) gives no portal two turns.
func (w *Worker) handleNightly(ctx context.Context, _ *asynq.Task) error {
	if w.Queue == nil {
		return nil
	}
	portals, err := w.activePortals(ctx)
	if err != nil {
		return err
	}
	night := w.now().UTC().Format("2006-01-02")
	for _, p := range portals {
		b, err := json.Marshal(NightlyPortalPayload{MemberID: p.MemberID})
		if err != nil {
			return err
		}
		_, err = w.Queue.Client.EnqueueContext(ctx, asynq.NewTask(TypeNightlyPortal, b), asynq.Queue(QueueLow),
			asynq.ProcessAt(w.now().Add(nightlyTurn(p.MemberID))), asynq.TaskID("nightly:"+p.MemberID+":"+night),
			asynq.MaxRetry(3), asynq.Timeout(time.Minute))
		if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
			return fmt.Errorf("schedule the nightly recompute of %s: %w", p.MemberID, err)
		}
	}
	return nil
}

// handleNightlyPortal queues a portal's nightly backfill at its turn, and
// its company registry lookups when they are on. A backfill already queued
// or running (a config saved meanwhile) is the same work and is not
// doubled (Queue.Backfill).
func (w *Worker) handleNightlyPortal(ctx context.Context, t *asynq.Task) error {
	var p NightlyPortalPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("nightly payload: %v: %w", err, asynq.SkipRetry)
	}
	if _, err := w.activePortal(ctx, p.MemberID, false); err != nil {
		return err
	}
	if err := w.startBackfill(ctx, p.MemberID, app.TriggerNightly); err != nil {
		return err
	}
	w.nightlyRegistry(ctx, p.MemberID)
	return nil
}
