package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
)

// Task types of a portal's uninstall.
const (
	TypeUninstall = "portal:uninstall" // check an uninstall event with the portal, then act on it
	TypePurge     = "schedule:purge"   // delete the data of portals whose uninstall grace has ended
)

// DefaultUninstallWindow is how long uninstall events of one portal are
// gathered into one check. Anyone who can open the app holds the token an
// uninstall event carries; however many such events arrive, a portal's
// budget pays at most two app.info calls per window (with and without
// CLEAN), and a genuine event is checked at the end of its window, after
// any forged one before it.
const DefaultUninstallWindow = 30 * time.Second

// UninstallPayload asks for an uninstall event to be checked.
type UninstallPayload struct {
	MemberID string `json:"member_id"`
	Clean    bool   `json:"clean,omitempty"` // the admin asked to delete the app's data
}

// Uninstaller acts on uninstalls (app.Lifecycle).
type Uninstaller interface {
	ConfirmUninstall(ctx context.Context, memberID string, clean bool) error
	Purge(ctx context.Context) (int, error)
}

// ConfirmUninstall queues the check of an uninstall event (app.Jobs): one
// task per portal, CLEAN and window, run when the window ends.
func (q *Queue) ConfirmUninstall(ctx context.Context, memberID string, clean bool) error {
	w := q.UninstallWindow
	if w <= 0 {
		w = DefaultUninstallWindow
	}
	now := time.Now()
	if q.Clock != nil {
		now = q.Clock()
	}
	end := now.Truncate(w).Add(w)
	b, err := json.Marshal(UninstallPayload{MemberID: memberID, Clean: clean})
	if err != nil {
		return err
	}
	id := "uninstall:" + memberID + ":" + strconv.FormatInt(end.UnixMilli(), 10) + ":" + strconv.FormatBool(clean)
	_, err = q.Client.EnqueueContext(ctx, asynq.NewTask(TypeUninstall, b), asynq.Queue(QueueCritical),
		asynq.TaskID(id), asynq.ProcessAt(end), asynq.MaxRetry(8), asynq.Timeout(time.Minute))
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("enqueue uninstall check: %w", err)
	}
	return nil
}

func (w *Worker) handleUninstall(ctx context.Context, t *asynq.Task) error {
	var p UninstallPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("uninstall payload: %v: %w", err, asynq.SkipRetry)
	}
	if w.Uninstall == nil {
		return fmt.Errorf("no uninstaller: %w", asynq.SkipRetry)
	}
	return w.Uninstall.ConfirmUninstall(ctx, p.MemberID, p.Clean)
}

func (w *Worker) handlePurge(ctx context.Context, _ *asynq.Task) error {
	if w.Uninstall == nil {
		return nil
	}
	n, err := w.Uninstall.Purge(ctx)
	if n > 0 {
		w.Log.Info("purged portals whose uninstall grace ended", "portals", n)
	}
	return err
}
