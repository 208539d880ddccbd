package jobs

import (
	"context"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"segmentor/internal/redistest"
)

// However many uninstall events a portal gets in a window, one check runs
// for each CLEAN value, at the window's end; another portal and the next
// window get their own.
func TestUninstallChecksCoalescePerWindow(t *testing.T) {
	rdb, _ := redistest.New(t)
	// An hour ahead, so that asynq schedules the checks rather than
	// queueing them at once; 10 s into a window.
	now := time.Now().Add(time.Hour).Truncate(time.Minute).Add(10 * time.Second)
	q := &Queue{Client: asynq.NewClientFromRedisClient(rdb), Redis: rdb, Clock: func() time.Time { return now }}
	ctx := context.Background()
	for i := range 50 {
		if err := q.ConfirmUninstall(ctx, "m1", i%5 == 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.ConfirmUninstall(ctx, "m2", false); err != nil {
		t.Fatal(err)
	}
	now = now.Add(DefaultUninstallWindow)
	if err := q.ConfirmUninstall(ctx, "m1", false); err != nil {
		t.Fatal(err)
	}
	tasks, err := asynq.NewInspectorFromRedisClient(rdb).ListScheduledTasks(QueueCritical)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, ti := range tasks {
		got[ti.ID]++
		if ti.Type != TypeUninstall || ti.NextProcessAt.Second()%30 != 0 {
			t.Errorf("task %s: type %s, runs at %s; want %s at a window's end", ti.ID, ti.Type, ti.NextProcessAt, TypeUninstall)
		}
	}
	if len(tasks) != 4 {
		t.Errorf("51 events in one window and 1 in the next queued %d checks (%v), want 4: m1 with and without CLEAN, m2, m1 again", len(tasks), got)
	}
}
