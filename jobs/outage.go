package jobs

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// Bitrix24 never sends an event again. When a change cannot be queued
// (Redis unreachable), the Queue remembers the outage and, as soon as
// Redis takes tasks again, queues a reconciliation of every portal at
// once: it re-reads the records modified since each portal's last scan,
// which began before the outage did. The scheduled reconciliation covers
// the rest (a process that died meanwhile, an event lost on the way).

// outagePoll is how often a Queue tries to queue the reconciliation while
// Redis is unreachable.
const outagePoll = 500 * time.Millisecond

// outage is what a Queue knows of an outage in progress.
type outage struct {
	mu       sync.Mutex
	since    time.Time // zero: none
	watching bool
	stop     chan struct{}
	stopped  bool
}

// NoteFailure is told of every failure to take a change: queueing it, or
// reading its portal before. A Redis that cannot be reached opens an
// outage: the queue waits for Redis to come back, once per outage. Other
// errors, and a caller that gave up (its request cancelled), prove nothing
// about Redis and are not counted.
func (q *Queue) NoteFailure(ctx context.Context, err error) {
	if ctx.Err() != nil || !unreachable(err) {
		return
	}
	o := &q.outage
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.stopped {
		return
	}
	if o.since.IsZero() {
		o.since = time.Now()
	}
	if o.watching {
		return
	}
	if o.stop == nil {
		o.stop = make(chan struct{})
	}
	o.watching = true
	go q.awaitRecovery(o.stop)
}

// unreachable reports an error of a Redis that cannot be reached: no
// connection, a connection lost, or none free in time.
func unreachable(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, redis.ErrPoolTimeout)
}

// awaitRecovery queues the reconciliation once Redis takes it.
func (q *Queue) awaitRecovery(stop <-chan struct{}) {
	t := time.NewTicker(outagePoll)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		o := &q.outage
		o.mu.Lock()
		since := o.since
		o.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		// One reconciliation per minute in which outages began, whatever
		// the number of processes and outages.
		err := q.ReconcileNow(ctx, "outage:"+strconv.FormatInt(since.Truncate(time.Minute).Unix(), 10))
		cancel()
		if err != nil {
			continue
		}
		o.mu.Lock()
		o.since, o.watching = time.Time{}, false
		o.mu.Unlock()
		q.log().Warn("changes could not be queued for a while; every portal is being reconciled",
			"outage_began", since.UTC(), "lasted_at_least", time.Since(since).Round(time.Millisecond))
		return
	}
}

// ReconcileNow queues a reconciliation of every portal at once; id makes
// it one task however many processes ask for the same reason.
func (q *Queue) ReconcileNow(ctx context.Context, id string) error {
	_, err := q.Client.EnqueueContext(ctx, asynq.NewTask(TypeReconcile, nil), asynq.Queue(QueueEvents),
		asynq.TaskID("reconcile:"+id), asynq.MaxRetry(3), asynq.Timeout(30*time.Minute))
	if errors.Is(err, asynq.ErrTaskIDConflict) {
		return nil
	}
	return err
}

// Close stops waiting for an outage to end.
func (q *Queue) Close() {
	o := &q.outage
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.stopped && o.stop != nil {
		close(o.stop)
	}
	o.stopped = true
}

func (q *Queue) log() *slog.Logger {
	if q.Log != nil {
		return q.Log
	}
	return slog.New(slog.DiscardHandler)
}
