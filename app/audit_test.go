package app_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"segmentor/app"
	"segmentor/app/segment"
)

func TestWriteJournalSettlesEachWriteOnce(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	item := 7
	note := func(entity string, id int64, sent time.Time) app.InFlight {
		return app.InFlight{Entity: entity, ID: id, Sent: sent, Plan: segment.Plan{Type: "VIP", Segment: &item},
			Audit: app.AuditEntry{At: sent, Entity: entity, ID: id, ConfigVersion: 2, To: app.Outcome{Segment: "vip", Type: "VIP"}}}
	}
	notes := []app.InFlight{note("deal", 3, at.Add(time.Second)), note("contact", 1, at), note("contact", 2, at)}
	if err := s.BeginWrites(ctx, "m1", notes); err != nil {
		t.Fatal(err)
	}
	got, err := s.InFlightWrites(ctx, "m1")
	if err != nil || len(got) != 3 || got[0].ID != 1 || got[1].ID != 2 || got[2].ID != 3 {
		t.Fatalf("in flight = %+v, %v; want contact 1, contact 2, deal 3 (oldest first)", got, err)
	}
	if got[2].Plan.Type != "VIP" || *got[2].Plan.Segment != 7 || got[2].Audit.To.Segment != "vip" {
		t.Errorf("note round trip: %+v", got[2])
	}

	// Two settlers race for the same notes (the process that got the answer
	// and one re-reading after a crash): each audit entry lands once.
	var wg sync.WaitGroup
	added := make([]int, 8)
	for i := range added {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := s.EndWrites(ctx, "m1", notes[:2], []bool{true, false})
			if err != nil {
				t.Error(err)
			}
			added[i] = n
		}()
	}
	wg.Wait()
	total := 0
	for _, n := range added {
		total += n
	}
	if total != 1 {
		t.Errorf("8 settlers added %d audit entries for one write that ran, want 1", total)
	}
	if trail, _ := s.Audit(ctx, "m1", "deal", 3); len(trail) != 1 || trail[0].To.Segment != "vip" || trail[0].ConfigVersion != 2 {
		t.Errorf("deal 3 trail = %+v", trail)
	}
	if trail, _ := s.Audit(ctx, "m1", "contact", 1); len(trail) != 0 {
		t.Errorf("contact 1's write did not run, yet its trail is %+v", trail)
	}
	left, err := s.InFlightWrites(ctx, "m1")
	if err != nil || len(left) != 1 || left[0].ID != 2 {
		t.Fatalf("left in flight = %+v, %v; want contact 2", left, err)
	}
	if all, _ := s.PortalAudit(ctx, "m1", 10); len(all) != 1 {
		t.Errorf("portal trail has %d entries, want 1", len(all))
	}
	if other, _ := s.InFlightWrites(ctx, "m2"); len(other) != 0 {
		t.Errorf("another portal sees %d notes", len(other))
	}
}

func TestProgressETA(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		p    app.Progress
		eta  time.Duration
		ok   bool
	}{
		{"pace since the job started", app.Progress{State: "running", Done: 100, Total: 400, Started: t0, Updated: t0.Add(10 * time.Second)}, 30 * time.Second, true},
		{"pace since the phase started", app.Progress{State: "running", Done: 100, Total: 400, Started: t0,
			PhaseStarted: t0.Add(time.Hour), Updated: t0.Add(time.Hour + 10*time.Second)}, 30 * time.Second, true},
		{"a resumed phase counts only its own stretch", app.Progress{State: "running", Done: 300, Total: 400, Started: t0,
			PhaseStarted: t0.Add(time.Hour), PhaseDone: 250, Updated: t0.Add(time.Hour + 10*time.Second)}, 20 * time.Second, true},
		{"nothing done yet", app.Progress{State: "running", Done: 0, Total: 400, Started: t0, Updated: t0.Add(time.Second)}, 0, false},
		{"resumed, nothing done since", app.Progress{State: "running", Done: 250, Total: 400, PhaseStarted: t0, PhaseDone: 250, Updated: t0.Add(time.Second)}, 0, false},
		{"done", app.Progress{State: "done", Done: 400, Total: 400}, 0, true},
		{"failed", app.Progress{State: "failed", Done: 100, Total: 400, Started: t0, Updated: t0.Add(time.Second)}, 0, false},
		{"queued", app.Progress{State: "queued"}, 0, false},
		{"the recent pace wins over the average", app.Progress{State: "running", Done: 100, Total: 400, Started: t0,
			Updated: t0.Add(time.Second), Pace: 200 * time.Millisecond}, time.Minute, true},
		{"never faster than the portal's limit allows", app.Progress{State: "running", Done: 100, Total: 400, Started: t0,
			Updated: t0.Add(time.Second), Pace: time.Millisecond, MinPace: 10 * time.Millisecond}, 3 * time.Second, true},
		{"the limit gives an estimate before anything is done", app.Progress{State: "running", Done: 0, Total: 400,
			PhaseStarted: t0, Updated: t0, MinPace: 10 * time.Millisecond}, 4 * time.Second, true},
	}
	for _, c := range cases {
		eta, ok := c.p.ETA()
		if eta != c.eta || ok != c.ok {
			t.Errorf("%s: ETA = %v, %v; want %v, %v", c.name, eta, ok, c.eta, c.ok)
		}
	}
}

// A write phase that bursts while the portal's bucket has room and then
// runs at its limit: the estimate follows the limit, not the burst.
func TestProgressPaceFollowsTheRecentStretch(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	var p app.Progress
	p.State = "running"
	p.StartPhase("write", 0, 7000, 0, t0)
	at := t0
	for done := 50; done <= 2400; done += 50 { // the burst: 48 batches in 0.5 s
		at = at.Add(10 * time.Millisecond)
		p.Advance(done, at)
	}
	p.Updated = at
	burst, ok := p.ETA()
	if !ok || burst > 10*time.Second {
		t.Fatalf("after the burst: ETA %v, %v; want a few seconds at the burst's pace", burst, ok)
	}
	for done := 2450; done <= 3400; done += 50 { // then one batch a second
		at = at.Add(time.Second)
		p.Advance(done, at)
	}
	p.Updated = at
	eta, ok := p.ETA()
	// The last 20 s wrote 1,000 records: 3,600 left at 20 ms a record.
	if !ok || eta != 72*time.Second {
		t.Fatalf("at the limit: ETA %v, %v; want about 72 s", eta, ok)
	}
	if p.Done != 3400 || p.Phase != "write" || p.PhaseDone != 0 {
		t.Errorf("progress %+v", p)
	}

	p.StartPhase("write", 3400, 7000, 10*time.Millisecond, at)
	if p.Pace != 0 {
		t.Errorf("a new phase keeps the old pace %v", p.Pace)
	}
	if eta, ok := p.ETA(); !ok || eta != 36*time.Second {
		t.Errorf("a new phase at 10 ms a record, 3,600 left: ETA %v, %v; want 36s", eta, ok)
	}
	p.Advance(3400, at.Add(time.Second)) // no progress: no sample
	if p.Pace != 0 {
		t.Errorf("an update without progress set the pace to %v", p.Pace)
	}
}

// A batch the portal answered with an error is over: its notes are marked
// so, and a note someone settled meanwhile is not brought back.
func TestAnsweredWritesMarksOnlyOpenNotes(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	notes := []app.InFlight{{Entity: "deal", ID: 1, Batch: "b", Sent: at}, {Entity: "deal", ID: 2, Batch: "b", Sent: at}}
	if err := s.BeginWrites(ctx, "m1", notes); err != nil {
		t.Fatal(err)
	}
	if _, err := s.EndWrites(ctx, "m1", notes[1:], []bool{false}); err != nil {
		t.Fatal(err)
	}
	if err := s.AnsweredWrites(ctx, "m1", notes); err != nil {
		t.Fatal(err)
	}
	got, err := s.InFlightWrites(ctx, "m1")
	if err != nil || len(got) != 1 || got[0].ID != 1 || !got[0].Answered || !got[0].Sent.Equal(at) {
		t.Fatalf("notes after AnsweredWrites = %+v, %v; want deal 1 alone, answered, sent at %s", got, err, at)
	}
}
