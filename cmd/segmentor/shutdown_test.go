package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"segmentor/app/segment"
	"segmentor/internal/await"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"segmentor/app"
	"segmentor/bitrix"
	"segmentor/internal/keyspace"
	"segmentor/internal/redistest"
	"segmentor/jobs"
)

// workerProcess is one `segmentor worker` run in this test process, with
// the real wiring: run() builds the asynq server from jobs.ServerConfig and
// stops it on the context's end as the process does on SIGTERM.
type workerProcess struct {
	cancel context.CancelFunc
	done   chan struct{} // closed when run returns, with err set
	err    error
}

func startWorker(t *testing.T, opt *redis.Options) *workerProcess {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	getenv := env(map[string]string{"ROLE": "worker", "REDIS_URL": "redis://" + opt.Addr + "/" + strconv.Itoa(opt.DB),
		"OPS_ADDR": "127.0.0.1:0", "APP_BASE_URL": "https://seg.example.com", "B24_CLIENT_ID": "app.1", "B24_CLIENT_SECRET": "s",
		"APP_SECRET_KEY": strings.Repeat("ab", 32)})
	w := &workerProcess{cancel: cancel, done: make(chan struct{})}
	ready := make(chan string, 1)
	go func() {
		defer close(w.done)
		w.err = run(ctx, nil, getenv, slog.New(slog.DiscardHandler), ready)
	}()
	select {
	case <-ready:
	case <-w.done:
		t.Fatalf("worker stopped: %v", w.err)
	case <-time.After(30 * time.Second):
		t.Fatal("worker did not start within 30s")
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-w.done:
		case <-time.After(30 * time.Second):
		}
	})
	return w
}

// stop is SIGTERM: it ends the run and says how long the shutdown took.
func (w *workerProcess) stop(t *testing.T) time.Duration {
	t.Helper()
	start := time.Now()
	w.cancel()
	select {
	case <-w.done:
		if w.err != nil {
			t.Errorf("worker stopped with %v", w.err)
		}
	case <-time.After(40 * time.Second):
		t.Fatal("worker did not stop within 40s of SIGTERM")
	}
	return time.Since(start)
}

// On SIGTERM a worker gives a running job up to ShutdownTimeout (8 s). A job
// still running then is handed back to the queue — pending, not lost, not
// archived, its retries untouched — and another worker completes it; a job
// that finishes within the bound is completed once and not run again.
func TestWorkerShutdownHandsBackUnfinishedJobs(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out the 8 s shutdown bound")
	}
	t.Parallel()
	rdb, opt := redistest.New(t)
	ctx := context.Background()
	bound := jobs.ServerConfig(nil).ShutdownTimeout
	if bound <= 0 {
		t.Fatalf("jobs.ServerConfig has no ShutdownTimeout: running jobs would be cut at once")
	}

	// An active portal without a config: a job that classifies a list's
	// members again, once it holds the portal's changes lock, has nothing
	// to do and succeeds. It waits for that lock up to a minute (a live
	// changes job gives its worker back after a second instead), so
	// holding the lock keeps it running for as long as the test likes.
	const member = "shutdown0000000000000000000000001"
	seal, err := app.NewSealer([]byte(strings.Repeat("\xab", 32)))
	if err != nil {
		t.Fatal(err)
	}
	store := app.NewStore(rdb, seal, nil)
	if err := store.Save(ctx, &bitrix.Token{MemberID: member, AccessToken: "a", RefreshToken: "r",
		ClientEndpoint: "https://shutdown.bitrix24.com/rest/"}); err != nil {
		t.Fatal(err)
	}
	if err := store.SetState(ctx, member, app.StateActive, ""); err != nil {
		t.Fatal(err)
	}
	lockKey := keyspace.ChangesLock(member)
	hold := func() {
		if err := rdb.Set(ctx, lockKey, "held-by-the-test", time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
	}
	release := func() {
		if err := rdb.Del(ctx, lockKey).Err(); err != nil {
			t.Fatal(err)
		}
	}
	queue := asynq.NewClientFromRedisClient(rdb)
	defer queue.Close()
	insp := asynq.NewInspectorFromRedisClient(rdb)
	enqueue := func(id int64) string {
		b, _ := json.Marshal(jobs.ListReclassifyPayload{MemberID: member, List: "fair", Entity: segment.EntityContact, IDs: []int64{id}})
		info, err := queue.Enqueue(asynq.NewTask(jobs.TypeListReclassify, b), asynq.Queue(jobs.QueueLow), asynq.MaxRetry(5))
		if err != nil {
			t.Fatal(err)
		}
		return info.ID
	}
	lowQueue := func() *asynq.QueueInfo {
		t.Helper()
		qi, err := insp.GetQueueInfo(jobs.QueueLow)
		if err != nil {
			t.Fatal(err)
		}
		return qi
	}
	waitFor := func(what string, ok func(*asynq.QueueInfo) bool) {
		t.Helper()
		start := time.Now()
		defer func() { t.Logf("%s: %v", what, time.Since(start)) }()
		if !await.Poll(30*time.Second, func() bool { return ok(lowQueue()) }) {
			t.Fatalf("%s: not within 30s; queue %+v", what, lowQueue())
		}
	}

	// 1. A job that outlives the bound is handed back.
	hold()
	first := startWorker(t, opt)
	a := enqueue(1)
	waitFor("the job starts", func(q *asynq.QueueInfo) bool { return q.Active == 1 })
	took := first.stop(t)
	t.Logf("first stop %v", took)
	if took < bound-time.Second || took > bound+10*time.Second {
		t.Errorf("shutdown with a job running took %v, want about the %v bound", took, bound)
	}
	q := lowQueue()
	if q.Pending != 1 || q.Active != 0 || q.Retry != 0 || q.Archived != 0 || q.Processed != 0 || q.Failed != 0 {
		t.Fatalf("after the shutdown the queue is %+v, want the job back in pending, nothing failed", q)
	}
	info, err := insp.GetTaskInfo(jobs.QueueLow, a)
	if err != nil {
		t.Fatalf("the running job is lost: %v", err)
	}
	if info.State != asynq.TaskStatePending || info.Retried != 0 || info.LastErr != "" {
		t.Errorf("handed-back job = state %v, retried %d, last error %q; want pending, untouched", info.State, info.Retried, info.LastErr)
	}

	// 2. Another worker completes it.
	release()
	second := startWorker(t, opt)
	waitFor("the handed-back job completes", func(q *asynq.QueueInfo) bool { return q.Processed == 1 })
	if _, err := insp.GetTaskInfo(jobs.QueueLow, a); !errors.Is(err, asynq.ErrTaskNotFound) {
		t.Errorf("the handed-back job is still there after it completed: %v", err)
	}

	// 3. A job that finishes within the bound is completed, once.
	hold()
	b := enqueue(2)
	waitFor("the second job starts", func(q *asynq.QueueInfo) bool { return q.Active == 1 })
	time.AfterFunc(time.Second, release) // finishes a second into the shutdown
	took = second.stop(t)
	t.Logf("second stop %v", took)
	if took >= bound {
		t.Errorf("shutdown took %v though the job finished a second in; want it to end with the job", took)
	}
	q = lowQueue()
	if q.Size != 0 || q.Processed != 2 || q.Failed != 0 {
		t.Errorf("after the second shutdown the queue is %+v, want empty with 2 processed, 0 failed", q)
	}
	if _, err := insp.GetTaskInfo(jobs.QueueLow, b); !errors.Is(err, asynq.ErrTaskNotFound) {
		t.Errorf("the job that finished within the bound was handed back too: %v", err)
	}
}
