package jobs

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"segmentor/app"
	"segmentor/bitrix"
	"segmentor/engine"
	"segmentor/internal/await"
	"segmentor/internal/redistest"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// A bulk job runs only in a free bulk slot. With every slot taken, as
// many jobs as there are slots wait for one (and take it the moment it is
// free); the next is given back at once, for later, without counting a
// failure, holding no worker; a waiter whose job ends meanwhile gives its
// wait back.
func TestBulkJobsWaitForAFreeSlot(t *testing.T) {
	slots, waiting := make(chan struct{}, 1), make(chan struct{}, 1)
	release, running := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	ran := 0
	h := bulkLimit(slots, waiting, func(ctx context.Context, _ *asynq.Task) error {
		mu.Lock()
		ran++
		first := ran == 1
		mu.Unlock()
		if first {
			close(running)
			<-release
		}
		return nil
	})
	task := asynq.NewTask(TypeBackfill, nil)
	first, second := make(chan error, 1), make(chan error, 1)
	go func() { first <- h(context.Background(), task) }()
	<-running
	go func() { second <- h(context.Background(), task) }() // waits for the slot
	await.That(t, 5*time.Second, "the second job to wait", func() bool { return len(waiting) == 1 })
	start := time.Now()
	err := h(context.Background(), task)
	var busy *busyError
	if !errors.As(err, &busy) {
		t.Fatalf("a bulk job with every slot taken and a job waiting returned %v; want it given back", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("giving the job back took %s; want at once", d)
	}
	if isFailure(err) {
		t.Error("a job given back for want of a slot counts as a failure")
	}
	if d := retryDelay(0, err, task); d < bulkWait || d >= 2*bulkWait {
		t.Errorf("tried again in %s; want %s plus up to as much jitter", d, bulkWait)
	}
	if got := outcome(err); got != "busy" {
		t.Errorf("outcome %q, want busy", got)
	}
	close(release)
	for _, ch := range []chan error{first, second} {
		if err := <-ch; err != nil {
			t.Fatal(err)
		}
	}
	if ran != 2 || len(slots) != 0 || len(waiting) != 0 {
		t.Errorf("%d runs, %d slots and %d waits held; want the waiting job run and everything given back", ran, len(slots), len(waiting))
	}
	// A waiter whose job ends meanwhile (its deadline) gives its wait back.
	slots <- struct{}{}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := h(ctx, task); !errors.Is(err, context.DeadlineExceeded) || len(waiting) != 0 {
		t.Errorf("a waiter whose job was cancelled: %v, %d waits held; want the context's error and its wait given back", err, len(waiting))
	}
}

// The worker runs many jobs at once, and more than it has bulk slots: live
// work always finds a free one.
func TestWorkerKeepsSlotsForLiveWork(t *testing.T) {
	cfg := ServerConfig(nil)
	if cfg.Concurrency < 32 || cfg.Concurrency < 4*bulkSlots() {
		t.Errorf("concurrency %d with %d bulk slots; want at least four times as many", cfg.Concurrency, bulkSlots())
	}
}

type countingSink struct{ applied int }

func (s *countingSink) Apply(context.Context, engine.Change) error { s.applied++; return nil }

// changesWorker is a Worker for changes jobs of one active portal, m1,
// handing its changes to sink.
func changesWorker(t *testing.T, sink ChangeSink) (*Worker, *redis.Client) {
	t.Helper()
	ctx := context.Background()
	rdb, _ := redistest.New(t)
	seal, _ := app.NewSealer(bytes.Repeat([]byte{5}, 32))
	store := app.NewStore(rdb, seal, nil)
	if err := store.Save(ctx, &bitrix.Token{MemberID: "m1", AccessToken: "a"}); err != nil {
		t.Fatal(err)
	}
	_ = store.SetState(ctx, "m1", app.StateActive, "")
	return &Worker{Store: store, Changes: sink, Redis: rdb, Log: slog.New(slog.DiscardHandler)}, rdb
}

// preparingSink notes whether its portal's changes lock was held when it
// prepared and when it applied.
type preparingSink struct {
	rdb                      *redis.Client
	order                    []string
	lockedPrepare, lockedRun bool
}

func (s *preparingSink) held(ctx context.Context, memberID string) bool {
	return s.rdb.Exists(ctx, changesLockKey(memberID)).Val() == 1
}

func (s *preparingSink) Prepare(ctx context.Context, memberID string) error {
	s.order, s.lockedPrepare = append(s.order, "prepare"), s.held(ctx, memberID)
	return nil
}

func (s *preparingSink) Apply(ctx context.Context, c engine.Change) error {
	s.order, s.lockedRun = append(s.order, "apply"), s.held(ctx, c.MemberID)
	return nil
}

// A changes job has its sink's slow reference data (the engine's first RFM
// quintiles) built before it takes its portal's changes lock, and applies
// the changes under it: the build holds up no other job of the portal.
func TestChangesJobPreparesBeforeItTakesItsPortalsLock(t *testing.T) {
	ctx := context.Background()
	sink := &preparingSink{}
	w, rdb := changesWorker(t, sink)
	sink.rdb = rdb
	if err := w.handleChanges(ctx, aggregate("m1:deal", []*asynq.Task{event(t, 7, 1, false)})); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sink.order, []string{"prepare", "apply"}) || sink.lockedPrepare || !sink.lockedRun {
		t.Fatalf("calls %v, lock held while preparing %v, while applying %v; want prepare without the lock, then apply with it",
			sink.order, sink.lockedPrepare, sink.lockedRun)
	}
}

// A backfill waiting for its portal's changes lock goes first: a changes
// job that finds it waiting gives its turn back at once, without drawing
// for the lock, and the backfill takes the lock when its holder lets go.
// Once the backfill holds it, changes jobs draw again (they run in the
// gaps between its write batches).
func TestBackfillGoesFirstForTheChangesLock(t *testing.T) {
	ctx := context.Background()
	sink := &countingSink{}
	w, rdb := changesWorker(t, sink)
	task := aggregate("m1:deal", []*asynq.Task{event(t, 7, 1, false)})

	unlock, err := lockChanges(ctx, rdb, "m1") // a live change runs
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan func(), 1)
	go func() {
		release, err := ChangesLock(rdb)(ctx, "m1") // the backfill's next batch
		if err != nil {
			t.Error(err)
		}
		got <- release
	}()
	await.That(t, 5*time.Second, "the backfill to wait for the lock", func() bool { return changesWanted(ctx, rdb, "m1") })
	start := time.Now()
	err = w.handleChanges(ctx, task)
	var busy *busyError
	if !errors.As(err, &busy) || sink.applied != 0 {
		t.Fatalf("with a backfill waiting: %v, applied %d; want the job given back", err, sink.applied)
	}
	if d := time.Since(start); d > changesLockWait/2 {
		t.Errorf("giving the job back took %s; want at once, not a draw for the lock", d)
	}
	unlock()
	var release func()
	select {
	case release = <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("the backfill did not take the lock its holder let go")
	}
	if changesWanted(ctx, rdb, "m1") {
		t.Error("the lock is still marked wanted after the backfill took it")
	}
	release()
	if err := w.handleChanges(ctx, task); err != nil || sink.applied != 1 {
		t.Fatalf("after the backfill's batch: %v, applied %d; want the job run", err, sink.applied)
	}
}

// A changes job whose portal's lock stays held is given back, not kept
// waiting in a worker slot, and its records' pending markers stay: edits
// meanwhile are left to it. Once it holds the lock it clears them and runs.
func TestChangesJobGivenBackWhileItsPortalIsBusy(t *testing.T) {
	ctx := context.Background()
	sink := &countingSink{}
	w, rdb := changesWorker(t, sink)
	q := &Queue{Client: asynq.NewClientFromRedisClient(rdb), Redis: rdb}
	if _, err := q.Change(ctx, CRMEventPayload{MemberID: "m1", Entity: "deal", ID: 7, Seq: 1}); err != nil {
		t.Fatal(err)
	}
	task := aggregate("m1:deal", []*asynq.Task{event(t, 7, 1, false)})
	unlock, err := lockChanges(ctx, rdb, "m1") // another job of the portal runs
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = w.handleChanges(ctx, task)
	var busy *busyError
	if !errors.As(err, &busy) || isFailure(err) {
		t.Fatalf("with the portal's lock held: %v; want the job given back without a failure", err)
	}
	if d := time.Since(start); d > changesLockWait+2*time.Second {
		t.Errorf("the job held its slot %s; want about %s", d, changesLockWait)
	}
	if d := retryDelay(0, err, task); d < changesBusyWait || d >= 2*changesBusyWait {
		t.Errorf("tried again in %s; want %s plus up to as much", d, changesBusyWait)
	}
	if fresh, err := q.Change(ctx, CRMEventPayload{MemberID: "m1", Entity: "deal", ID: 7, Seq: 2}); err != nil || fresh {
		t.Errorf("an edit while the job waits queued a new job (%v, %v); want it left to the waiting one", fresh, err)
	}
	if sink.applied != 0 {
		t.Fatal("the job ran without its portal's lock")
	}
	unlock()
	if err := w.handleChanges(ctx, task); err != nil || sink.applied != 1 {
		t.Fatalf("with the lock free: %v, applied %d times; want it run once", err, sink.applied)
	}
	if fresh, err := q.Change(ctx, CRMEventPayload{MemberID: "m1", Entity: "deal", ID: 7, Seq: 3}); err != nil || !fresh {
		t.Errorf("an edit after the job read its records was not queued (%v, %v)", fresh, err)
	}
}
