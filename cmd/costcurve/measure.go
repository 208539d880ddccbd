package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/hibiken/asynq"

	"segmentor/app"
	"segmentor/bitrix/b24sim"
	"segmentor/internal/apprig"
	"segmentor/internal/keyspace"
	"segmentor/internal/mirrortest"
	"segmentor/jobs"
)

// row is what one size measured.
type row struct {
	t0                         time.Time
	deals, contacts, companies int
	products, productRows      int
	seedTime                   time.Duration
	backfill, echo             *tally
	backfillTime, settleTime   time.Duration
	// opLeast is the least time the portal's operating-time limit allows
	// for the backfill's calls, set by opMethod's opTime in all.
	opLeast, opTime          time.Duration
	opMethod                 string
	mirrorBytes, mirrorKeys  int64
	changeLogBytes           int64
	usedMemory               int64 // used_memory growth from before the save to after the backfill settled
	workerRSS, webRSS        int64
	previewCold, previewWarm time.Duration
	dryCold, dryWarm         time.Duration
	insight                  *tally // requests during the previews and dry runs (0 expected)
	nightly, nightlyEcho     *tally
	nightlyTime              time.Duration
	queryLimit, operating    int // the portal's refusals over the whole size
	errorLines               int
}

func (r *row) records() int { return r.deals + r.contacts + r.companies }

// rowsRead is what a full sync reads: the records, the catalog and the
// product rows (the config's product_groups reads them).
func (r *row) rowsRead() int { return r.records() + r.products + r.productRows }

func (r *row) minReads() int  { return ceilDiv(r.rowsRead(), 2500) }
func (r *row) minWrites() int { return ceilDiv(len(r.backfill.changed), 50) }

// minBackfill is the least time the portal's limit allows for the
// backfill's requests: those beyond the bucket at the rate.
func (r *row) minBackfill(o options) time.Duration {
	return time.Duration(float64(max(0, r.backfill.requests-o.burst)) / float64(o.rate) * float64(time.Second))
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

func measure(ctx context.Context, o options, bin, dir string, deals int) (*row, error) {
	r := &row{t0: time.Now()}
	rig := &apprig.Rig{Dir: dir}
	redisURL, err := rig.OpenRedis(o.ownRedis, o.db)
	defer rig.StopRedis()
	if err != nil {
		return nil, err
	}
	defer rig.RDB.Close()
	if !o.ownRedis {
		defer rig.RDB.FlushDB(context.Background())
	}
	if err := rig.Attach(); err != nil {
		return nil, err
	}

	// The portal, at the raised limit.
	rig.Host = b24sim.NewHost(b24sim.HostOptions{})
	defer rig.Host.Close()
	t0 := time.Now()
	p := rig.Host.AddPortal(b24sim.Options{RatePerSecond: float64(o.rate), Burst: o.burst, CallCost: o.callCost})
	gen := p.Seed(b24sim.GenOptions{Deals: deals, Contacts: deals / 3, Companies: deals / 10, Years: 3})
	r.deals, r.contacts, r.companies, r.productRows = gen.Deals, gen.Contacts, gen.Companies, gen.ProductRows
	r.products = p.Count("product")
	r.seedTime = time.Since(t0)
	printf("%d deals: seeded %d records and %d product rows in %s\n", deals, r.records(), r.productRows, since(t0))

	// The tool holds the scheduler's lock: the periodic work runs when the
	// tool queues it (the nightly recompute below), never in the middle of
	// a measurement.
	if err := rig.RDB.Set(ctx, jobs.SchedulerLock, "held-by-the-cost-curve", 48*time.Hour).Err(); err != nil {
		return nil, err
	}
	if rig.WebAddr, err = apprig.FreeAddr(); err != nil {
		return nil, err
	}
	rig.Env = rig.BaseEnv(redisURL, o.logLevel)
	rig.Env["B24_RATE_LIMIT"] = fmt.Sprintf("%d/%d", o.rate, o.burst)
	if err := rig.StartProcs(ctx, bin, 1); err != nil {
		return nil, err
	}
	defer rig.StopProcs()
	token, err := rig.Setup(ctx, p)
	if err != nil {
		return nil, err
	}
	if err := rig.Settle(ctx, 5*time.Minute); err != nil {
		return nil, err
	}
	f := follow(p)
	defer f.close()
	f.cut() // the install's requests

	// The backfill: from the config's save to its end, then its echo
	// (every write comes back as an event) and the history's estimate,
	// until nothing is left to do.
	used0, err := apprig.UsedMemory(ctx, rig.RDB)
	if err != nil {
		return nil, err
	}
	t0 = time.Now()
	if err := rig.SaveConfig(ctx, p, token, mirrortest.CostConfig); err != nil {
		return nil, err
	}
	if _, err := waitBackfill(ctx, rig, p.MemberID(), t0, o.timeout); err != nil {
		return nil, err
	}
	r.backfillTime = time.Since(t0)
	r.backfill = f.cut()
	r.opLeast, r.opMethod, r.opTime = r.backfill.operatingLeast(p)
	printf("%d deals: backfill done in %s: %d requests (%d reads, %d writes, %d others)\n", deals, since(t0),
		r.backfill.requests, r.backfill.reads(), r.backfill.writes(), r.backfill.other())
	t0 = time.Now()
	if err := rig.Settle(ctx, o.timeout); err != nil {
		return nil, err
	}
	r.settleTime = time.Since(t0)
	r.echo = f.cut()
	printf("%d deals: settled in %s (%d requests meanwhile)\n", deals, since(t0), r.echo.requests)

	// Redis: the portal's mirror keys, and the server's growth.
	if err := mirrorMemory(ctx, rig, p.MemberID(), r); err != nil {
		return nil, err
	}
	used1, err := apprig.UsedMemory(ctx, rig.RDB)
	if err != nil {
		return nil, err
	}
	r.usedMemory = used1 - used0

	// Preview and dry run as the settings page calls them: the first after
	// the web process starts decodes the mirror; the dry run gets a fresh
	// web process of its own so that its first is cold too. A large
	// portal's backfill and echo outlast the install's session, so the
	// page opens a new one, as an admin coming back would.
	if token, err = rig.Session(ctx, p); err != nil {
		return nil, err
	}
	if r.previewCold, r.previewWarm, err = timeDraft(ctx, rig, token, "/api/v1/preview", o.warm); err != nil {
		return nil, err
	}
	webRSS := rig.Web.PeakRSSBytes()
	_ = rig.Web.Stop(15 * time.Second)
	if err := rig.StartWeb(ctx, bin, "web-2"); err != nil {
		return nil, err
	}
	if r.dryCold, r.dryWarm, err = timeDraft(ctx, rig, token, "/api/v1/dryrun", o.warm); err != nil {
		return nil, err
	}
	r.webRSS = max(webRSS, rig.Web.PeakRSSBytes())
	r.insight = f.cut()
	printf("%d deals: preview %s cold, %s warm; dry run %s cold, %s warm\n", deals,
		ms(r.previewCold), ms(r.previewWarm), ms(r.dryCold), ms(r.dryWarm))

	// The nightly recompute: the portal's turn, queued as the nightly task
	// queues it, then its backfill to the end.
	t0 = time.Now()
	if err := nightly(ctx, rig, p.MemberID(), o.timeout); err != nil {
		return nil, err
	}
	r.nightlyTime = time.Since(t0)
	r.nightly = f.cut()
	if err := rig.Settle(ctx, o.timeout); err != nil {
		return nil, err
	}
	r.nightlyEcho = f.cut()
	printf("%d deals: nightly recompute in %s: %d requests (%d reads, %d writes, %d others); %d more until settled (%s)\n", deals,
		secs(r.nightlyTime), r.nightly.requests, r.nightly.reads(), r.nightly.writes(), r.nightly.other(), r.nightlyEcho.requests, since(t0))

	r.workerRSS = rig.Workers[0].PeakRSSBytes()
	st := p.Stats()
	r.queryLimit, r.operating = st.QueryLimitRefusals, st.OperatingRefusals
	for _, pr := range rig.Procs() {
		r.errorLines += pr.CountLogged(`"level":"ERROR"`)
	}
	return r, rig.Alive()
}

// waitBackfill waits for the portal's backfill started after t0 to end,
// and returns it.
func waitBackfill(ctx context.Context, rig *apprig.Rig, memberID string, t0 time.Time, d time.Duration) (*app.Progress, error) {
	deadline := time.Now().Add(d)
	for {
		pr, err := rig.Store.Progress(ctx, memberID, app.BackfillJob)
		if err == nil && !pr.Started.Before(t0.Add(-time.Second)) {
			switch pr.State {
			case "done":
				return pr, nil
			case "failed":
				return nil, fmt.Errorf("backfill failed: %s", pr.Error)
			}
		}
		if err := rig.Alive(); err != nil {
			return nil, err
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("backfill not done after %s", d)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// nightly queues the portal's nightly turn as jobs' nightly task does (its
// type, queue, id, retries and timeout), at once instead of at its turn in
// the night, and waits for the backfill it starts to end.
func nightly(ctx context.Context, rig *apprig.Rig, memberID string, d time.Duration) error {
	t0 := time.Now()
	payload, err := json.Marshal(jobs.NightlyPortalPayload{MemberID: memberID})
	if err != nil {
		return err
	}
	client := asynq.NewClientFromRedisClient(rig.RDB)
	night := time.Now().UTC().Format("2006-01-02")
	info, err := client.EnqueueContext(ctx, asynq.NewTask(jobs.TypeNightlyPortal, payload), asynq.Queue(jobs.QueueLow),
		asynq.TaskID("nightly:"+memberID+":"+night), asynq.MaxRetry(3), asynq.Timeout(time.Minute), asynq.Retention(time.Hour))
	if err != nil {
		return fmt.Errorf("queue the nightly recompute: %w", err)
	}
	if err := rig.WaitTask(ctx, jobs.QueueLow, info.ID, "the nightly turn"); err != nil {
		return err
	}
	_, err = waitBackfill(ctx, rig, memberID, t0, d)
	return err
}

// timeDraft posts the draft config to path as the settings page does: the
// first call's time and the median of warm more.
func timeDraft(ctx context.Context, rig *apprig.Rig, token, path string, warm int) (first, median time.Duration, err error) {
	body := map[string]any{"config": json.RawMessage(mirrortest.CostDraft)}
	var times []time.Duration
	for i := range warm + 1 {
		var out struct {
			TookMS int64 `json:"took_ms"`
		}
		t0 := time.Now()
		st, err := rig.API(ctx, token, "POST", path, body, &out)
		if err != nil || st != 200 {
			return 0, 0, fmt.Errorf("POST %s (%d of %d): %d %v", path, i+1, warm+1, st, err)
		}
		times = append(times, time.Since(t0))
	}
	first, rest := times[0], slices.Clone(times[1:])
	slices.Sort(rest)
	if len(rest) > 0 {
		median = rest[len(rest)/2]
	}
	return first, median, nil
}

// mirrorMemory sums MEMORY USAGE (SAMPLES 0: every element) over the
// portal's mirror keys, as app's BenchmarkMirrorMemory100k does over its
// database; the change log apart (it is capped, so it does not grow with
// the portal).
func mirrorMemory(ctx context.Context, rig *apprig.Rig, memberID string, r *row) error {
	prefix := keyspace.Portal(memberID, "m:")
	return keyspace.Scan(ctx, rig.RDB, prefix+"*", func(keys []string) error {
		cmds := make([]interface{ Val() int64 }, len(keys))
		pipe := rig.RDB.Pipeline()
		for i, k := range keys {
			cmds[i] = pipe.MemoryUsage(ctx, k, 0)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return fmt.Errorf("MEMORY USAGE: %w", err)
		}
		for i, k := range keys {
			n := cmds[i].Val()
			r.mirrorBytes += n
			r.mirrorKeys++
			if k == prefix+"changes" {
				r.changeLogBytes += n
			}
		}
		return nil
	})
}

func ms(d time.Duration) string {
	if d >= 10*time.Second {
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + " s"
	}
	if d >= time.Second {
		return strconv.FormatFloat(d.Seconds(), 'f', 2, 64) + " s"
	}
	return strconv.FormatInt(d.Milliseconds(), 10) + " ms"
}
