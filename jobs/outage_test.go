package jobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"segmentor/internal/await"
)

// A change that cannot be queued because Redis is down is lost for good
// (Bitrix24 never sends it again): the queue remembers the outage and,
// once Redis is back, queues one reconciliation of every portal at once.
// A caller that gave up proves nothing and queues none.
func TestOutageQueuesAReconciliationWhenRedisIsBack(t *testing.T) {
	m := miniredis.RunT(t) // stopped and started again on its address
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr(), MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	t.Cleanup(func() { _ = rdb.Close() })
	q := &Queue{Client: asynq.NewClientFromRedisClient(rdb), Redis: rdb}
	t.Cleanup(q.Close)
	insp := asynq.NewInspectorFromRedisClient(rdb)
	reconciles := func() int {
		tasks, err := insp.ListPendingTasks(QueueEvents)
		if err != nil {
			return 0
		}
		n := 0
		for _, ti := range tasks {
			if ti.Type == TypeReconcile {
				n++
			}
		}
		return n
	}
	change := CRMEventPayload{MemberID: "m1", Entity: "deal", ID: 7, Seq: 1}

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := q.Change(cancelled, change); err == nil {
		t.Fatal("a cancelled caller's change was queued")
	}
	m.Close()
	for range 5 {
		if _, err := q.Change(context.Background(), change); err == nil {
			t.Fatal("a change was queued with Redis down")
		}
	}
	time.Sleep(3 * outagePoll) // the queue tries while Redis is still down
	if err := m.Restart(); err != nil {
		t.Fatal(err)
	}
	if !await.Poll(10*time.Second, func() bool { return reconciles() > 0 }) {
		t.Fatal("no reconciliation was queued after Redis came back")
	}
	time.Sleep(3 * outagePoll)
	if n := reconciles(); n != 1 {
		t.Errorf("one outage queued %d reconciliations, want 1", n)
	}
	if _, err := q.Change(context.Background(), change); err != nil {
		t.Errorf("a change after the outage: %v", err)
	}
}

// Without an outage, nothing is reconciled out of turn: not for a caller
// that gave up, nor for a failure that is not Redis out of reach.
func TestNoOutageNoReconciliation(t *testing.T) {
	m := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	q := &Queue{Client: asynq.NewClientFromRedisClient(rdb), Redis: rdb}
	t.Cleanup(q.Close)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	_, _ = q.Change(cancelled, CRMEventPayload{MemberID: "m1", Entity: "deal", ID: 7, Seq: 1})
	q.NoteFailure(context.Background(), errors.New("decode portal m1: invalid character"))
	time.Sleep(3 * outagePoll)
	for _, q := range EventQueues() {
		if tasks, _ := asynq.NewInspectorFromRedisClient(rdb).ListPendingTasks(q); len(tasks) != 0 {
			t.Errorf("a cancelled caller queued %d tasks in %s", len(tasks), q)
		}
	}
}

// Only an error of a Redis out of reach counts as an outage.
func TestUnreachable(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	for _, c := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("mark pending: %w", refused), true},
		{fmt.Errorf("read portal: %w", io.EOF), true},
		{redis.ErrPoolTimeout, true},
		{errors.New("decode portal m1: invalid character"), false},
		{context.Canceled, false},
		{redis.Nil, false},
	} {
		if got := unreachable(c.err); got != c.want {
			t.Errorf("unreachable(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
