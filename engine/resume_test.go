package engine_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"segmentor/app"
	"segmentor/app/segment"
	"segmentor/bitrix"
	"segmentor/bitrix/b24sim"
	"segmentor/engine"
	"segmentor/internal/testkit"
	"segmentor/jobs"
)

// killSwitch is the HTTP transport of a worker process that dies at its
// n-th write batch: before sending it ("between" batches), or after the
// portal ran it and before the answer reaches the process ("during" a
// batch, the answer is lost). Dying is kill(): the test stops the
// process's asynq server, which cancels the running task and puts it back
// in the queue. The request then waits for that cancellation.
type killSwitch struct {
	at     int32
	during bool
	kill   func()

	writes atomic.Int32
	fired  chan struct{} // closed when the switch fired
	once   sync.Once
}

func (k *killSwitch) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	if !recordUpdate.Match(body) {
		return http.DefaultTransport.RoundTrip(req)
	}
	n := k.writes.Add(1)
	if n < k.at {
		return http.DefaultTransport.RoundTrip(req)
	}
	if n == k.at && k.during {
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			return nil, err
		}
		_, _ = io.Copy(io.Discard, resp.Body) // the portal has run the batch
		resp.Body.Close()
	}
	k.once.Do(func() {
		close(k.fired)
		go k.kill()
	})
	<-req.Context().Done()
	return nil, req.Context().Err()
}

// recordUpdate finds a record update in a request body.
var recordUpdate = regexp.MustCompile(`crm\.(contact|company|deal|item)\.update\?`)

// finished wraps a Backfiller to tell when its call returned.
type finished struct {
	jobs.Backfiller
	done chan error
}

func (f *finished) Backfill(ctx context.Context, memberID, trigger string) (engine.BackfillStats, error) {
	st, err := f.Backfiller.Backfill(ctx, memberID, trigger)
	f.done <- err
	return st, err
}

// startWorker runs an asynq server like a worker process: the backfill
// task's handler with bf. stop is its shutdown (a kill in mid-task: the
// task's context is cancelled and the task re-queued).
func startWorker(t *testing.T, e *engineEnv, bf jobs.Backfiller) (stop func()) {
	t.Helper()
	cfg := jobs.ServerConfig(slog.New(slog.DiscardHandler))
	cfg.Logger = testkit.QuietAsynq{}
	cfg.ShutdownTimeout = 50 * time.Millisecond
	srv := asynq.NewServerFromRedisClient(e.rdb, cfg)
	mux := asynq.NewServeMux()
	w := &jobs.Worker{Store: e.store, Log: slog.New(slog.DiscardHandler), Backfill: bf, Redis: e.rdb}
	w.Register(mux)
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop = func() { once.Do(srv.Shutdown) }
	t.Cleanup(stop)
	return stop
}

// TestBackfillResumesAfterKill kills the worker running a backfill, once
// between two write batches and once while a batch is out (the portal runs
// it, the answer is lost), starts a new worker and checks, from the
// simulator's request log, that the backfill finished from where it
// stopped: no second sync, every record right, none updated twice.
func TestBackfillResumesAfterKill(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds and backfills a 4,200-record portal twice")
	}
	for _, during := range []bool{false, true} {
		name := "between batches"
		if during {
			name = "during a batch"
		}
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			e := newEngineEnv(t, b24sim.GenOptions{Contacts: 1000, Companies: 200, Deals: 3000})
			aq := asynq.NewClientFromRedisClient(e.rdb)
			t.Cleanup(func() { _ = aq.Close() })
			queue := &jobs.Queue{Client: aq, Redis: e.rdb}
			const at = 20 // the write batch the first worker dies at

			// Worker A runs the backfill and dies at its 20th write batch.
			ks := &killSwitch{at: at, during: during, fired: make(chan struct{})}
			a := &finished{Backfiller: e.classifier(e.client(t, ks)), done: make(chan error, 1)}
			stopA := startWorker(t, e, a)
			ks.kill = stopA
			e.sim.ResetLog()
			if err := queue.Backfill(ctx, e.memberID, "test"); err != nil {
				t.Fatal(err)
			}
			select {
			case <-ks.fired:
			case <-time.After(60 * time.Second):
				t.Fatal("worker A never reached its 20th write batch")
			}
			if err := <-a.done; !errors.Is(err, context.Canceled) {
				t.Fatalf("worker A's backfill ended with %v, want context.Canceled", err)
			}
			stopA()
			before := e.sim.Requests()
			prog, err := e.store.Progress(ctx, e.memberID, "backfill")
			if err != nil {
				t.Fatal(err)
			}
			if prog.State != "running" || prog.Phase != "write" || prog.Done != (at-1)*50 || prog.SyncedAt.IsZero() || prog.Cursor == "" {
				t.Fatalf("checkpoint after the kill: %+v; want running, write, %d done, a sync time and a cursor", prog, (at-1)*50)
			}
			lostRan := 0
			if during {
				lostRan = 50
			}
			if got := len(b24sim.UpdatesByRecord(before)); got != prog.Done+lostRan {
				t.Fatalf("worker A: the simulator ran updates of %d records, want %d", got, prog.Done+lostRan)
			}
			insp := asynq.NewInspectorFromRedisClient(e.rdb)
			if info, err := insp.GetQueueInfo(jobs.QueueLow); err != nil || info.Pending != 1 {
				t.Fatalf("after the kill the backfill should wait in the queue: %+v, %v", info, err)
			}

			// Worker B, a new process, takes the task up and finishes it.
			cls := e.classifier(e.client(t, nil))
			cls.InDoubtWait = time.Millisecond
			b := &finished{Backfiller: cls, done: make(chan error, 1)}
			startWorker(t, e, b)
			select {
			case err := <-b.done:
				if err != nil {
					t.Fatalf("worker B: %v", err)
				}
			case <-time.After(60 * time.Second):
				t.Fatal("worker B did not finish the backfill")
			}
			all := e.sim.Requests()
			after := all[len(before):]

			prog, err = e.store.Progress(ctx, e.memberID, "backfill")
			if err != nil {
				t.Fatal(err)
			}
			updates := b24sim.UpdatesByRecord(all)
			t.Logf("checkpoint at the end: %+v; %d records updated; worker B sent %d requests", prog, len(updates), len(after))
			if prog.State != "done" || prog.Resumes != 1 || prog.Done != prog.Total || prog.Done != len(updates) || prog.Writes != len(updates) {
				t.Errorf("progress %+v: want done after one resume, done = total = writes = %d records updated", prog, len(updates))
			}
			// Resumed where it stopped: one read of the 50 records in doubt,
			// no sync, then only the write batches still missing.
			reads := 0
			for _, rq := range after {
				for _, m := range rq.Commands {
					if strings.HasSuffix(m, ".list") {
						reads++
						break
					}
				}
			}
			wantBatches := (len(updates) - (at-1)*50 - lostRan + 49) / 50
			if reads != 1 || len(after) != 1+wantBatches {
				t.Errorf("worker B sent %d requests, %d with reads; want the one re-read and %d write batches", len(after), reads, wantBatches)
			}
			for rec, list := range updates {
				if len(list) != 1 {
					t.Errorf("%s was updated %d times: %v", rec, len(list), list)
				}
			}
			e.check(t, e.expect(t))
			// Every written record has exactly one audit entry, the lost
			// batch's included (worker B recorded those on re-reading).
			for rec := range updates {
				ent, id, _ := strings.Cut(rec, ":")
				trail, err := e.store.Audit(ctx, e.memberID, ent, testkit.Num(id))
				if err != nil || len(trail) != 1 {
					t.Errorf("%s: %d audit entries, %v; want 1", rec, len(trail), err)
				}
			}
			if left, err := e.store.InFlightWrites(ctx, e.memberID); err != nil || len(left) != 0 {
				t.Errorf("write journal after the backfill: %d notes, %v", len(left), err)
			}
		})
	}
}

// TestLiveChangeSettlesWritesInDoubt: a live change whose knock-on reaches
// a record with a write in doubt (a crashed run's batch, answer lost)
// re-reads it first instead of writing it again. A live run's fresh note
// (its run died: live changes run one at a time) is waited for and
// settled; a backfill's fresh note is left alone while the backfill holds
// its lease, and settled once it does not (its process died).
func TestLiveChangeSettlesWritesInDoubt(t *testing.T) {
	ctx := context.Background()
	e := newEngineEnv(t, b24sim.GenOptions{Contacts: 300, Companies: 60, Deals: 900})
	if _, err := e.cls.Backfill(ctx, e.memberID, app.TriggerRecompute); err != nil {
		t.Fatal(err)
	}
	ex := e.expect(t)
	want := map[string]string{"vip": "PARTNER", "regular": "CLIENT"}
	// Contact x has a deal of its own; its type was written by a batch
	// whose answer was lost: the portal has it, the mirror does not.
	var x, y, z, deal int64
	for r := range e.sim.Records("deal") {
		c := testkit.Num(r["CONTACT_ID"])
		if testkit.Num(r["COMPANY_ID"]) == 0 && c != 0 && want[ex.key["contact"][c]] != "" && len(e.sim.DealContacts(int(testkit.Num(r["ID"])))) == 1 {
			switch {
			case x == 0:
				x, deal = c, testkit.Num(r["ID"])
			case y == 0 && c != x:
				y = c
			case c != x && c != y:
				z = c
			}
		}
	}
	if z == 0 {
		t.Fatal("no three contacts with deals of their own")
	}
	e.cls.InDoubtWait = time.Millisecond
	m := app.NewMirror(e.rdb)
	rows, err := m.Clients(ctx, e.memberID, "contact", []int64{x})
	if err != nil || rows[x] == nil {
		t.Fatalf("mirror row of contact %d: %v", x, err)
	}
	typ := want[ex.key["contact"][x]]
	rows[x].TypeID = "OTHER"
	if err := m.PutClients(ctx, e.memberID, "contact", []*app.MirrorClient{rows[x]}); err != nil {
		t.Fatal(err)
	}
	note := func(id int64, sent time.Time, typ, by string) app.InFlight {
		return app.InFlight{Entity: "contact", ID: id, Sent: sent, Plan: segment.Plan{Type: typ}, By: by, Batch: by,
			Audit: app.AuditEntry{At: sent, Entity: "contact", ID: id, ConfigVersion: 1, From: app.Outcome{Type: "OTHER"},
				To: app.Outcome{Segment: ex.key["contact"][id], Type: typ}}}
	}
	notes := []app.InFlight{note(x, e.now.Add(-time.Minute), typ, "changes"), note(y, e.now, "SUPPLIER", "backfill"), note(z, e.now, "SUPPLIER", "changes")}
	if err := e.store.BeginWrites(ctx, e.memberID, notes); err != nil {
		t.Fatal(err)
	}
	before, _ := e.store.Audit(ctx, e.memberID, "contact", x)
	beforeZ, _ := e.store.Audit(ctx, e.memberID, "contact", z)
	if err := e.store.SetLease(ctx, e.memberID, "backfill", time.Minute); err != nil { // a backfill runs
		t.Fatal(err)
	}

	e.sim.ResetLog()
	if err := e.cls.Apply(ctx, engine.Change{MemberID: e.memberID, Entity: "deal", IDs: []int64{deal}}); err != nil {
		t.Fatal(err)
	}
	s := e.sim.Stats()
	if s.HTTPRequests != 2 || updates(s) != 0 {
		t.Errorf("change of deal %d: %d requests, %d updates; want the re-read in doubt, the deal's re-read, no write", deal, s.HTTPRequests, updates(s))
	}
	rows, _ = m.Clients(ctx, e.memberID, "contact", []int64{x})
	if rows[x].TypeID != typ {
		t.Errorf("mirror of contact %d has type %q after settling, want %q", x, rows[x].TypeID, typ)
	}
	after, _ := e.store.Audit(ctx, e.memberID, "contact", x)
	if len(after) != len(before)+1 || after[0].From.Type != "OTHER" || after[0].To.Type != typ {
		t.Errorf("contact %d trail: %d → %d entries, newest %+v; want the lost write's entry added", x, len(before), len(after), after[0])
	}
	if afterZ, _ := e.store.Audit(ctx, e.memberID, "contact", z); len(afterZ) != len(beforeZ) {
		t.Errorf("contact %d: the write in doubt did not run, yet its trail grew from %d to %d", z, len(beforeZ), len(afterZ))
	}
	left, err := e.store.InFlightWrites(ctx, e.memberID)
	if err != nil || len(left) != 1 || left[0].ID != y {
		t.Errorf("notes left: %+v, %v; want only contact %d's, of a running backfill", left, err, y)
	}
	// The backfill's process dies: its lease lapses, the next change
	// settles its note.
	if err := e.store.DropLease(ctx, e.memberID, "backfill"); err != nil {
		t.Fatal(err)
	}
	if err := e.cls.Apply(ctx, engine.Change{MemberID: e.memberID, Entity: "deal", IDs: []int64{deal}}); err != nil {
		t.Fatal(err)
	}
	if left, err := e.store.InFlightWrites(ctx, e.memberID); err != nil || len(left) != 0 {
		t.Errorf("notes left after the backfill's lease lapsed: %+v, %v", left, err)
	}
}

// A backfill resumes without a sync only from an interrupted run of the
// same config version whose sync is recent; otherwise it starts over.
func TestBackfillResumesOnlyFromAFreshCheckpoint(t *testing.T) {
	ctx := context.Background()
	e := newEngineEnv(t, b24sim.GenOptions{Contacts: 100, Companies: 20, Deals: 300})
	if _, err := e.cls.Backfill(ctx, e.memberID, app.TriggerRecompute); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		cp     app.Progress
		resume bool
	}{
		{"interrupted while writing", app.Progress{State: "running", Phase: "write", Version: 1, SyncedAt: e.now, Done: 100, Total: 400}, true},
		{"failed, to be retried", app.Progress{State: "failed", Phase: "write", Version: 1, SyncedAt: e.now}, true},
		{"interrupted while evaluating", app.Progress{State: "running", Phase: "evaluate", Version: 1, SyncedAt: e.now}, true},
		{"interrupted while syncing", app.Progress{State: "running", Phase: "sync", Version: 1}, false},
		{"another config version", app.Progress{State: "running", Phase: "write", Version: 2, SyncedAt: e.now}, false},
		{"a sync too old to trust", app.Progress{State: "running", Phase: "write", Version: 1, SyncedAt: e.now.Add(-2 * time.Hour)}, false},
		{"finished", app.Progress{State: "done", Phase: "done", Version: 1, SyncedAt: e.now}, false},
		{"queued by a recompute", app.Progress{State: "queued"}, false},
	}
	for _, c := range cases {
		if err := e.store.SetProgress(ctx, e.memberID, "backfill", c.cp); err != nil {
			t.Fatal(err)
		}
		e.sim.ResetLog()
		st, err := e.cls.Backfill(ctx, e.memberID, app.TriggerRecompute)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		syncs := 0
		for _, rq := range e.sim.Requests() {
			if testkit.KindOf(rq) == "sync" {
				syncs++
			}
		}
		p, _ := e.store.Progress(ctx, e.memberID, "backfill")
		if resumed := syncs == 0; resumed != c.resume || (p.Resumes == c.cp.Resumes+1) != c.resume || p.State != "done" {
			t.Errorf("%s: %d sync requests, progress %+v; want resumed = %v", c.name, syncs, p, c.resume)
		}
		if st.Written != 0 {
			t.Errorf("%s: wrote %d records after a finished backfill", c.name, st.Written)
		}
		if c.resume && c.cp.Phase == "write" && (p.Done != c.cp.Done || p.PhaseDone != c.cp.Done) {
			t.Errorf("%s: done %d (phase from %d), want the checkpoint's %d carried on", c.name, p.Done, p.PhaseDone, c.cp.Done)
		}
	}
}

// A backfill's progress carries the least time per record the portal's
// budget allows, so its ETA never promises the pace of the bucket's burst.
func TestBackfillProgressKnowsThePortalLimit(t *testing.T) {
	ctx := context.Background()
	profile := bitrix.Profile{Name: "test", Rate: 4, Burst: 1000, Period: time.Second}
	e := newLimitedEngineEnv(t, b24sim.GenOptions{Contacts: 200, Companies: 40, Deals: 600}, -1, profile)
	var ticks atomic.Int64 // a clock that moves a second each time it is read
	e.cls.Clock = func() time.Time { return e.now.Add(time.Duration(ticks.Add(1)) * time.Second) }
	st, err := e.cls.Backfill(ctx, e.memberID, app.TriggerRecompute)
	if err != nil {
		t.Fatal(err)
	}
	if st.Written == 0 {
		t.Fatal("the backfill wrote nothing: the test needs a write phase")
	}
	p, err := e.store.Progress(ctx, e.memberID, "backfill")
	if err != nil {
		t.Fatal(err)
	}
	// 4 requests a second, 50 records a request: 5 ms a record.
	if want := 5 * time.Millisecond; p.MinPace != want {
		t.Errorf("write phase MinPace %v, want %v", p.MinPace, want)
	}
	if p.Pace <= 0 {
		t.Errorf("write phase Pace %v: the writes' stretches were not measured", p.Pace)
	}
}
