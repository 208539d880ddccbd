package engine

import (
	"cmp"
	"context"
	"time"

	"segmentor/app"
	"segmentor/app/segment"
	"segmentor/bitrix"
)

// BackfillStats is what a backfill did.
type BackfillStats struct {
	Sync          SyncStats
	Evaluated     int // records evaluated
	Changed       int // records with a non-empty plan
	Written       int // records written
	WriteRequests int
	Settled       int // writes in doubt from an interrupted run, re-read
	SettledRan    int // of those, writes that had run
}

// ensureRFM gives live classification the portal's RFM quintiles. The
// first are built at once (a changes job has them built before it takes
// the changes lock: Prepare); quintiles older than RFMMaxAge are used while
// fresh ones are built in the background: building them streams the whole
// mirror, which on a large portal takes long enough to hold up the
// portal's other work waiting for the changes lock (a backfill's writes).
func (c *Classifier) ensureRFM(ctx context.Context, r *run) error {
	if len(r.pr.rules.RFMWindows()) == 0 {
		return nil
	}
	maxAge := c.RFMMaxAge
	if maxAge <= 0 {
		maxAge = 10 * time.Minute
	}
	c.mu.Lock()
	rfm, built, refreshing := r.pr.rfm, r.pr.rfmBuilt, r.pr.rfmRefreshing
	stale := rfm != nil && r.env.Now.Sub(built) > maxAge && !refreshing
	if stale {
		r.pr.rfmRefreshing = true
	}
	c.mu.Unlock()
	switch {
	case rfm == nil:
		var err error
		if rfm, err = c.streamRFM(ctx, r); err != nil {
			return err
		}
		c.mu.Lock()
		r.pr.rfm, r.pr.rfmBuilt = rfm, r.env.Now
		c.mu.Unlock()
	case stale:
		bg := &run{c: c, memberID: r.memberID, pr: r.pr, env: r.env}
		go func() {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rfmRefreshTimeout)
			defer cancel()
			fresh, err := c.streamRFM(ctx, bg)
			c.mu.Lock()
			if err == nil {
				bg.pr.rfm, bg.pr.rfmBuilt = fresh, bg.env.Now
			}
			bg.pr.rfmRefreshing = false
			c.mu.Unlock()
			if err != nil {
				c.log().Warn("RFM quintiles not refreshed", "portal", bg.memberID, "error", err)
			}
		}()
	}
	r.rfm = rfm
	return nil
}

// Prepare readies what classifying a portal's changes needs and is slow
// to build: the portal's first RFM quintiles in this process, which stream
// the whole mirror (a minute at 1,000,000 deals). A changes job calls it
// before it takes the portal's changes lock (jobs.ChangePreparer), so
// that the build holds up no other job of the portal, a backfill's writes
// least of all; Apply then finds them built.
func (c *Classifier) Prepare(ctx context.Context, memberID string) error {
	pr, err := c.rulesFor(ctx, memberID)
	if err != nil || pr == nil || len(pr.rules.RFMWindows()) == 0 {
		return err
	}
	c.mu.Lock()
	built := pr.rfm != nil
	c.mu.Unlock()
	if built {
		return nil
	}
	r, err := c.newRun(ctx, memberID, pr)
	if err != nil {
		return err
	}
	return c.ensureRFM(ctx, r)
}

// rfmRefreshTimeout bounds a background rebuild of a portal's RFM
// quintiles.
const rfmRefreshTimeout = 10 * time.Minute

// backfillJob is the name a backfill's progress is stored under.
const backfillJob = "backfill"

// defaultResumeWithin bounds how old an interrupted backfill's sync may be
// for the next run to trust the mirror instead of syncing again.
const defaultResumeWithin = time.Hour

// Backfill classifies a portal's whole base: a full sync, the RFM
// quintiles, every record evaluated (clients first, so deals see their
// clients' new segments), and the differences written 50 to a request.
// It streams the mirror (stream.go): what it holds for the whole run is
// the ids of the records to write, not the portal.
// Progress (phase, done, total, cursor) is kept under the job name
// "backfill" and is also its checkpoint.
//
// Resuming. A run that is killed or fails (asynq runs the task again)
// leaves its progress "running" or "failed" with SyncedAt set once its sync
// finished. The next run for the same config version within ResumeWithin
// skips the sync: the mirror already holds the portal, kept current since
// by events, and every write that landed is recorded in it batch by batch.
// It first settles the write journal (journal.go): the records of a batch
// whose answer was lost are re-read, so a write that ran is not sent again.
// Then it evaluates every record again — locally, no request — and writes
// only what still differs, which is exactly what the killed run had not
// written; done and total continue from the checkpoint. A run killed during
// the sync syncs again (reads only: nothing is written twice).
//
// trigger says what started it (app.TriggerSetup, TriggerConfig, …); the
// changes it writes say so in the record's history.
func (c *Classifier) Backfill(ctx context.Context, memberID, trigger string) (BackfillStats, error) {
	pr, err := c.rulesFor(ctx, memberID)
	if err != nil {
		return BackfillStats{}, err
	}
	if pr == nil {
		return BackfillStats{}, app.Errorf(app.EConflict, "Save a segmentation config first.")
	}
	b := &backfillRun{c: c, memberID: memberID, pr: pr, trigger: trigger}
	if err := b.start(ctx); err != nil {
		return b.st, err
	}
	b.set(ctx, func(*app.Progress) {})
	release, err := c.holdBackfillLease(ctx, memberID)
	if err != nil {
		return b.fail(ctx, err)
	}
	defer release()
	// Triggers are there before any record enters a segment, for admins to
	// pick; a refusal costs only that (SendActions tries again).
	if err := c.RegisterTriggers(ctx, memberID); err != nil {
		c.log().Warn("triggers not registered", "portal", memberID, "error", err)
	}
	if err := b.run(ctx); err != nil {
		return b.fail(ctx, err)
	}
	b.set(ctx, func(p *app.Progress) { p.State, p.Phase = "done", "done" })
	return b.st, nil
}

// backfillRun is one Backfill under way, with its progress as the settings
// page shows it.
type backfillRun struct {
	c        *Classifier
	memberID string
	pr       *portalRules
	trigger  string
	st       BackfillStats
	prog     app.Progress
	prev     *app.Progress // the interrupted run resumed, if any
	resume   bool
	// minPace is the least time per row (sync) and per record (write) the
	// portal's request budget allows: the ETA never promises faster.
	minPace map[string]time.Duration
}

// start decides whether the run resumes an interrupted one's checkpoint.
func (b *backfillRun) start(ctx context.Context) error {
	c := b.c
	now := c.now().UTC()
	b.prog = app.Progress{State: "running", Phase: "sync", Started: now, Version: b.pr.version}
	prev, err := c.Store.Progress(ctx, b.memberID, backfillJob)
	if err != nil && app.ErrorCode(err) != app.ENotFound {
		return err
	}
	b.prev = prev
	if b.resume, err = c.canResume(ctx, b.memberID, prev, b.pr, now); err != nil {
		return err
	}
	if b.resume {
		b.prog = *prev
		b.prog.State, b.prog.Error, b.prog.Started = "running", "", now // Started: this run's start
		b.prog.Resumes++
	}
	var perRequest time.Duration
	if prof, err := c.Bitrix.RateProfile(ctx, b.memberID); err == nil && prof.Rate > 0 {
		perRequest = cmp.Or(prof.Period, time.Second) / time.Duration(prof.Rate)
	}
	b.minPace = map[string]time.Duration{
		"sync":  perRequest / (bitrix.MaxBatch * bitrix.PageSize),
		"write": perRequest / bitrix.MaxBatch,
	}
	return nil
}

func (b *backfillRun) set(ctx context.Context, mut func(*app.Progress)) {
	mut(&b.prog)
	b.prog.Updated = b.c.now().UTC()
	if err := b.c.Store.SetProgress(ctx, b.memberID, backfillJob, b.prog); err != nil {
		b.c.log().Warn("backfill progress", "portal", b.memberID, "error", err)
	}
}

func (b *backfillRun) phase(ctx context.Context, name string, done, total int) {
	b.set(ctx, func(p *app.Progress) { p.StartPhase(name, done, total, b.minPace[name], b.c.now().UTC()) })
}

func (b *backfillRun) fail(ctx context.Context, err error) (BackfillStats, error) {
	if ctx.Err() == nil {
		b.set(ctx, func(p *app.Progress) { p.State, p.Error = "failed", err.Error() })
	}
	return b.st, err
}

// run settles a killed run's writes, syncs (unless resuming), builds RFM,
// evaluates every record and writes the differences.
func (b *backfillRun) run(ctx context.Context) error {
	c := b.c
	var err error
	all := func(app.InFlight) bool { return true }
	if b.st.Settled, b.st.SettledRan, err = c.writer().settleWrites(ctx, b.memberID, all); err != nil {
		return err
	}
	if !b.resume {
		if err := b.sync(ctx); err != nil {
			return err
		}
	}
	r, err := c.newRun(ctx, b.memberID, b.pr)
	if err != nil {
		return err
	}
	r.kind, r.trigger = byBackfill, b.trigger
	// The generation first: any row written after it is in the log, so a
	// live change that lands after the run reads a record is seen
	// (fresher).
	gen, err := c.Mirror.Generation(ctx, b.memberID)
	if err != nil {
		return err
	}
	r.fresher = &fresher{c: c, memberID: b.memberID, since: gen, touched: map[app.ClientRef]bool{}}
	total := 0
	for _, e := range []segment.Entity{segment.EntityContact, segment.EntityCompany, segment.EntityDeal} {
		n, err := c.Mirror.Count(ctx, b.memberID, e)
		if err != nil {
			return err
		}
		total += n
	}
	// A resumed write phase keeps counting from what was written before,
	// the writes whose answer was lost and that turned out to have run
	// included.
	base := 0
	if b.resume && b.prev.Phase == "write" {
		base = b.prev.Done + b.st.SettledRan
		b.prog.Writes += b.st.SettledRan
	}
	b.phase(ctx, "rfm", 0, total)
	if len(b.pr.rules.RFMWindows()) > 0 {
		if r.rfm, err = c.streamRFM(ctx, r); err != nil {
			return err
		}
		c.mu.Lock()
		b.pr.rfm, b.pr.rfmBuilt = r.rfm, r.env.Now
		c.mu.Unlock()
	}
	if err := c.writer().ensureItems(ctx, r); err != nil {
		return err
	}
	b.phase(ctx, "evaluate", 0, total)
	due, err := c.evaluateAll(ctx, r, &b.st, func(done int) {
		b.set(ctx, func(p *app.Progress) { p.Advance(done, c.now().UTC()) })
	})
	if err != nil {
		return err
	}
	b.st.Changed = due.count()
	return b.write(ctx, r, due, base)
}

func (b *backfillRun) sync(ctx context.Context) error {
	b.phase(ctx, "sync", 0, 0)
	opts := b.pr.syncOptions()
	opts.Progress = func(done, total int) {
		b.set(ctx, func(p *app.Progress) { p.Total = total; p.Advance(done, b.c.now().UTC()) })
	}
	var err error
	if b.st.Sync, err = b.c.Sync(ctx, b.memberID, opts); err != nil {
		return err
	}
	b.set(ctx, func(p *app.Progress) { p.SyncedAt = b.c.now().UTC() })
	return nil
}

func (b *backfillRun) write(ctx context.Context, r *run, due *dueWrites, base int) error {
	b.phase(ctx, "write", base, base+due.count())
	writes := b.prog.Writes
	var err error
	b.st.Written, err = b.c.writeDue(ctx, r, due, func(done int, last *pending) {
		b.st.WriteRequests++
		b.set(ctx, func(p *app.Progress) {
			p.Writes, p.Cursor = writes+done, noteKey(string(last.entity), last.id)
			p.Advance(base+done, b.c.now().UTC())
		})
	})
	return err
}

// canResume decides whether a backfill continues from prev's checkpoint:
// an interrupted run of the same config version whose sync is recent, and
// a mirror that still holds a sync (nothing evicted it since).
func (c *Classifier) canResume(ctx context.Context, memberID string, prev *app.Progress, pr *portalRules, now time.Time) (bool, error) {
	within := c.ResumeWithin
	if within <= 0 {
		within = defaultResumeWithin
	}
	if prev == nil || prev.State != "running" && prev.State != "failed" || prev.Version != pr.version ||
		prev.SyncedAt.IsZero() || now.Sub(prev.SyncedAt) > within {
		return false, nil
	}
	meta, err := c.Mirror.Meta(ctx, memberID)
	if err != nil {
		return false, err
	}
	return !meta.SyncedAt.IsZero(), nil
}

// fresher follows what the mirror saw change after a backfill began
// reading it (or a sync began scanning). A backfill evaluates every record
// and then writes for minutes; meanwhile live changes re-read records and
// classify them (and their knock-ons) from fresher rows. Writing the
// backfill's plan for such a record, or storing its key, would undo a
// newer result. So each write batch, under the changes lock when the
// Classifier has one, first reads the mirror's log since the last look and
// leaves out the records named there: the live change that named them has
// classified them, or will. The run's own writes enter the log too, for
// records it has written.
type fresher struct {
	c        *Classifier
	memberID string
	since    int64
	touched  map[app.ClientRef]bool
}

// hold runs fn under the changes lock (when there is one), with stale
// telling the records changed since f.since. When the log no longer
// reaches back that far, nothing is left out: the run writes its
// plan as before. A nil fresher leaves nothing out.
func (f *fresher) hold(ctx context.Context, fn func(stale func(segment.Entity, int64) bool) error) error {
	if f == nil {
		return fn(func(segment.Entity, int64) bool { return false })
	}
	if f.c.Exclusive != nil {
		release, err := f.c.Exclusive(ctx, f.memberID)
		if err != nil {
			return err
		}
		defer release()
	}
	ch, err := f.c.Mirror.ChangesSince(ctx, f.memberID, f.since)
	if err != nil {
		return err
	}
	if !ch.Complete {
		f.touched = map[app.ClientRef]bool{}
		return fn(func(segment.Entity, int64) bool { return false })
	}
	f.since = ch.Gen
	for e, ids := range ch.IDs {
		for _, id := range ids {
			f.touched[app.ClientRef{Entity: e, ID: id}] = true
		}
	}
	return fn(func(e segment.Entity, id int64) bool { return f.touched[app.ClientRef{Entity: e, ID: id}] })
}
