package jobs

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"segmentor/internal/await"
	"segmentor/internal/redistest"
)

// The scheduler runs on a Redis Cluster: it takes the leader lock (a key of
// its own slot), asynq's scheduler registers its entries and enqueues the
// periodic task on time, and the lock is handed back when it stops.
func TestSchedulerOnRedisCluster(t *testing.T) {
	rdb := redistest.PrivateCluster(t)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var leading atomic.Bool
	done := make(chan error, 1)
	go func() {
		done <- RunScheduler(ctx, rdb, slog.New(slog.DiscardHandler), 3*time.Second,
			map[string]string{TypeReconcile: "@every 1s"}, func(l bool) { leading.Store(l) })
	}()
	insp := asynq.NewInspectorFromRedisClient(rdb)
	await.That(t, 20*time.Second, "the scheduler to lead and enqueue a reconciliation", func() bool {
		tasks, err := insp.ListPendingTasks(QueueLow)
		return leading.Load() && err == nil && len(tasks) > 0 && tasks[0].Type == TypeReconcile
	})
	// asynq's scheduler writes its entries with its heartbeat (every 5 s).
	await.That(t, 20*time.Second, "the scheduler's entry to be listed", func() bool {
		entries, err := insp.SchedulerEntries()
		return err == nil && len(entries) == 1 && entries[0].Spec == "@every 1s"
	})
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n, err := rdb.Exists(context.Background(), SchedulerLock).Result(); err != nil || n != 0 {
		t.Errorf("the leader lock is still held after the scheduler stopped: %d %v", n, err)
	}
}
