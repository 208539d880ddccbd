package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"segmentor"
	"segmentor/app"
	"segmentor/bitrix"
	"segmentor/engine"
)

// Worker runs Segmentor's tasks. It holds what the handlers need and
// nothing else; cmd/segmentor builds it.
type Worker struct {
	Store      *app.Store
	Bitrix     *bitrix.Client
	Manifest   *segmentor.Manifest
	AppBaseURL string // handler URLs given to event.bind and placement.bind
	Log        *slog.Logger
	Changes    ChangeSink            // receives merged CRM changes
	Backfill   Backfiller            // runs portal backfills; nil: backfill tasks are dropped
	Redis      redis.UniversalClient // pending markers of queued changes
	Queue      *Queue                // where periodic work fans out to
	Uninstall  Uninstaller           // checks uninstall events and purges; nil: such tasks are dropped
	Actions    ActionSender          // sends triggers, timeline entries, notifications; nil: none
	History    HistoryKeeper         // keeps each day's segment figures; nil: none
	Lists      ListWork              // matches list uploads, reclassifies list members; nil: such tasks are dropped
	Registry   RegistryWork          // company registry lookups; nil (or no Providers): such tasks are dropped
	Providers  *RegistryProviders    // the registry's providers, per key
	// RegistryRetry is how long after an unavailable registry lookups go
	// on; 0: engine.DefaultRegistryRetry.
	RegistryRetry time.Duration
	Clock         func() time.Time
}

func (w *Worker) now() time.Time {
	if w.Clock != nil {
		return w.Clock()
	}
	return time.Now()
}

// ChangeSink takes the merged CRM changes of a portal. The classification
// engine is one; Recorder keeps them for inspection.
type ChangeSink interface {
	Apply(ctx context.Context, c engine.Change) error
}

// ChangePreparer is a ChangeSink with slow reference data to build for a
// portal (the engine's first RFM quintiles): a changes job has it built
// before it takes the portal's changes lock, so that the build holds up
// no other job of the portal.
type ChangePreparer interface {
	Prepare(ctx context.Context, memberID string) error
}

// ServerConfig is the asynq configuration that goes with the Worker: the
// weighted queues and the event aggregation.
func ServerConfig(log *slog.Logger) asynq.Config {
	return asynq.Config{
		Queues:          Queues(),
		Concurrency:     concurrency(), // fairness.go
		ShutdownTimeout: 8 * time.Second,
		// An idle worker looks for work about once a second (asynq's default,
		// half to one and a half seconds): a look is one script call per
		// queue (three commands each), eleven queues, so looking four times
		// a second cost Redis about 125 commands a second per worker at
		// rest, more than everything else an idle worker and a thousand
		// idle portals do together (cmd/loadtest: 203–220 commands a second
		// at rest, 112 now). A lone edit's job waits about half a look
		// longer; a busy worker does not sleep between jobs.
		TaskCheckInterval: time.Second,
		// Retries and scheduled tasks are moved to their queues every second
		// (default 5 s): a job given back for a rate limit resumes on time.
		DelayedTaskCheckInterval: time.Second,
		GroupAggregator:          asynq.GroupAggregatorFunc(aggregate),
		GroupGracePeriod:         groupGrace,
		GroupMaxDelay:            groupMaxDelay,
		GroupMaxSize:             maxIDs,
		IsFailure:                isFailure,
		RetryDelayFunc:           retryDelay,
	}
}

// Register adds the Worker's handlers to mux.
func (w *Worker) Register(mux *asynq.ServeMux) {
	// This process's bulk slots, and the jobs that may wait for one (fairness.go).
	slots, waiting := make(chan struct{}, bulkSlots()), make(chan struct{}, bulkSlots())
	bulk := func(h asynq.HandlerFunc) asynq.HandlerFunc { return bulkLimit(slots, waiting, h) }
	mux.HandleFunc(TypeSetup, w.handleSetup)
	mux.HandleFunc(TypeCRMChanges, w.handleChanges)
	mux.HandleFunc(TypeBackfill, bulk(w.handleBackfill))
	mux.HandleFunc(TypeActions, w.handleActions)
	mux.HandleFunc(TypeRobot, w.handleRobot)
	mux.HandleFunc(TypeNightly, w.handleNightly)
	mux.HandleFunc(TypeNightlyPortal, w.handleNightlyPortal)
	mux.HandleFunc(TypeSnapshot, w.handleSnapshot)
	mux.HandleFunc(TypeEstimate, bulk(w.handleEstimate))
	mux.HandleFunc(TypeReconcile, w.handleReconcile)
	mux.HandleFunc(TypeKeepAlive, w.handleKeepAlive)
	mux.HandleFunc(TypeUninstall, w.handleUninstall)
	mux.HandleFunc(TypePurge, w.handlePurge)
	mux.HandleFunc(TypeListMatch, bulk(w.handleListMatch))
	mux.HandleFunc(TypeListReclassify, bulk(w.handleListReclassify))
	mux.HandleFunc(TypeRegistry, bulk(w.handleRegistry))
	// A single crm:event only runs if aggregation is not configured; treat
	// it as a group of one so that nothing is ever lost.
	mux.HandleFunc(TypeCRMEvent, func(ctx context.Context, t *asynq.Task) error {
		return w.handleChanges(ctx, aggregate("", []*asynq.Task{t}))
	})
}

// isFailure keeps rate-limit waits, and jobs given back for want of a bulk
// slot or of their portal's changes lock (busyError), from counting as
// failures: nothing ran, the task simply comes back later.
func isFailure(err error) bool {
	var rl *bitrix.RateLimitedError
	var busy *busyError
	return !errors.As(err, &rl) && !errors.As(err, &busy)
}

func retryDelay(n int, err error, t *asynq.Task) time.Duration {
	var rl *bitrix.RateLimitedError
	if errors.As(err, &rl) && rl.RetryIn > 0 {
		return rl.RetryIn
	}
	var busy *busyError
	if errors.As(err, &busy) {
		return busy.retryIn
	}
	// The task's worker died (asynq noticed a minute after the crash): the
	// task did nothing wrong, so it runs again at once.
	if errors.Is(err, asynq.ErrLeaseExpired) {
		return time.Second
	}
	// A portal's 500 or a dropped connection is usually over within
	// seconds: the first retries come soon, so that a user's edit still
	// lands promptly. A lasting outage falls back to asynq's growing
	// back-off, which spreads a task's retries over hours.
	if n < quickRetries {
		base := quickRetry << n
		return base + rand.N(base/2+1)
	}
	return asynq.DefaultRetryDelayFunc(n, err, t)
}

// The first quickRetries retries of a failed task wait quickRetry, then
// twice and four times that, each plus up to half again of jitter.
const (
	quickRetries = 3
	quickRetry   = 3 * time.Second
)

// activePortal loads the portal for a task and decides whether the task
// may run: tasks of an uninstalled portal, or one whose tokens died, are
// revoked rather than retried.
func (w *Worker) activePortal(ctx context.Context, memberID string, allowInstalling bool) (*app.Portal, error) {
	p, err := w.Store.Portal(ctx, memberID)
	if app.ErrorCode(err) == app.ENotFound {
		return nil, fmt.Errorf("portal %s is unknown: %w", memberID, asynq.RevokeTask)
	}
	if err != nil {
		return nil, err
	}
	switch {
	case p.State == app.StateActive, p.State == app.StateInstalling && allowInstalling:
		return p, nil
	default:
		return nil, fmt.Errorf("portal %s is %s: %w", memberID, p.State, asynq.RevokeTask)
	}
}

func (w *Worker) handleChanges(ctx context.Context, t *asynq.Task) error {
	var c CRMChangesPayload
	if err := json.Unmarshal(t.Payload(), &c); err != nil {
		return fmt.Errorf("crm:changes payload: %v: %w", err, asynq.SkipRetry)
	}
	if _, err := w.activePortal(ctx, c.MemberID, false); err != nil {
		// Clear the markers even when the task is revoked: a marker left
		// behind would swallow the record's next edits.
		_ = clearPending(ctx, w.Redis, c)
		return err
	}
	if p, ok := w.Changes.(ChangePreparer); ok {
		if err := p.Prepare(ctx, c.MemberID); err != nil {
			return err
		}
	}
	if w.Redis != nil {
		// One job of a portal at a time. A job that finds its portal's
		// lock held for a second (a mass edit's jobs queue behind each other)
		// is given back rather than waiting in a worker slot: a portal's
		// burst never holds every slot while other portals' edits wait, nor
		// draws against a backfill waiting for the lock.
		unlock, err := lockChangesLive(ctx, w.Redis, c.MemberID)
		if errors.Is(err, errChangesBusy) {
			return &busyError{what: "the portal's changes lock is held", retryIn: changesBusyWait + rand.N(changesBusyWait)}
		}
		if err != nil {
			return err
		}
		defer unlock()
	}
	// The markers are cleared once the job holds its portal, just before
	// it reads its records: while it waited, later edits of them were left
	// to it (Queue.Change), so a burst becomes few jobs; an edit from now
	// on queues a new one.
	if err := clearPending(ctx, w.Redis, c); err != nil {
		return err
	}
	err := w.Changes.Apply(ctx, engine.Change{MemberID: c.MemberID, Entity: c.Entity, IDs: c.IDs, Deleted: c.Deleted})
	w.kickActions(ctx, c.MemberID) // what landed set things off, even if a later part failed
	return err
}

// wrapReauth turns a dead-token error into a revoked task (the portal is
// already marked; retrying cannot help until an admin opens the app).
func wrapReauth(err error) error {
	if errors.Is(err, bitrix.ErrNeedsReauth) {
		return fmt.Errorf("%v: %w", err, asynq.RevokeTask)
	}
	return err
}
