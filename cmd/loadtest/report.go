package main

import (
	"fmt"
	"io"
	"time"

	"segmentor/app"
	"segmentor/internal/apprig"
)

// report is what a run measured.
type report struct {
	o options

	idle          apprig.Delta // Redis while the installed portals idle
	idleWorkerCPU float64
	scrapes       int
	reconcile     apprig.Delta // one reconciliation of every portal
	reconcileTime time.Duration

	live          latencies // edits alone
	liveEvents    int       // events the portals delivered meanwhile (edits and the app's echoes)
	liveRedis     apprig.Delta
	liveWorkerCPU float64
	liveWebCPU    float64

	busy          latencies // edits beside the large portal's backfill
	busyWorkerCPU float64
	busyTime      time.Duration
	workerPeakRSS int64
	largeRecords  int
	largeHeap     int64
	largeProgress app.Progress

	queryLimit, operating int // refusals, over every portal and the whole run
	errorLines            int // ERROR lines in the app's logs
	total                 time.Duration
}

func (r *report) print(w io.Writer) {
	o := r.o
	fmt.Fprintf(w, "\n== Segmentor load test: %d portals of %d deals, %d contacts, %d companies", o.portals, o.deals, o.contacts, o.companies)
	if o.large > 0 && o.busy > 0 {
		plan := "Enterprise, 5/s"
		if o.largeStandard {
			plan = "standard, 2/s"
		}
		fmt.Fprintf(w, "; a large portal of %d deals (%d records, %s)", o.large, r.largeRecords, plan)
	}
	fmt.Fprintf(w, "; %d worker(s); %s in all\n\n", o.workers, r.total.Round(time.Second))
	row := func(what, goal, measured string) { fmt.Fprintf(w, "%-52s %-14s %s\n", what, goal, measured) }
	row("figure", "goal", "measured")
	idleRate := r.idle.PerSecond()
	row(fmt.Sprintf("Redis commands/s at rest (%d idle portals)", o.portals), "< 200/s",
		fmt.Sprintf("%.1f/s over %.0f s, %d /metrics scrapes (%s)", idleRate, r.idle.Secs, r.scrapes, r.idle.Top(6)))
	recPer := float64(r.reconcile.Total) / float64(max(o.portals, 1))
	recAvg := float64(r.reconcile.Total) / 300
	row("  one reconciliation of every portal", "", fmt.Sprintf("%d commands in %s (%.1f a portal; %.1f/s averaged over its 5 minutes)",
		r.reconcile.Total, r.reconcileTime.Round(100*time.Millisecond), recPer, recAvg))
	row("  at rest with the reconciliation", "< 200/s", fmt.Sprintf("%.1f/s", idleRate+recAvg))
	row("  worker CPU at rest", "", fmt.Sprintf("%.2f s over %.0f s (%.1f%% of a core)", r.idleWorkerCPU, r.idle.Secs, 100*r.idleWorkerCPU/max(r.idle.Secs, 1e-9)))
	if o.live > 0 {
		l := r.live
		row("live edits alone: event→write p50 / p95 / p99", "p95 < 10 s", fmt.Sprintf("%s / %s / %s (max %s; %d edits, %d landed, %d lost)",
			d(l.p50), d(l.p95), d(l.p99), d(l.max), l.made, l.landed, l.lost))
		k := float64(max(r.liveEvents, 1)) / 1000
		row("  worker CPU-seconds per 1,000 events", "", fmt.Sprintf("%.2f (%.1f s for %d events from %d edits; web %.2f per 1,000)",
			r.liveWorkerCPU/k, r.liveWorkerCPU, r.liveEvents, l.made, r.liveWebCPU/k))
		perEvent := (float64(r.liveRedis.Total) - idleRate*r.liveRedis.Secs) / float64(max(r.liveEvents, 1))
		per := fmt.Sprintf("%.1f above rest", perEvent)
		if perEvent <= 0 {
			per = "not measurable (the server was busier at rest than now: other clients on it; -own-redis)"
		}
		row("  Redis commands per event", "", fmt.Sprintf("%s (%.1f/s over %.0f s: %s)", per,
			r.liveRedis.PerSecond(), r.liveRedis.Secs, r.liveRedis.Top(6)))
	}
	if o.large > 0 && o.busy > 0 {
		l := r.busy
		row("edits beside the backfill: p50 / p95 / p99", "p95 < 10 s", fmt.Sprintf("%s / %s / %s (max %s; %d edits, %d landed, %d lost)",
			d(l.p50), d(l.p95), d(l.p99), d(l.max), l.made, l.landed, l.lost))
		pr := r.largeProgress
		row("  the large portal's backfill meanwhile", "", fmt.Sprintf("%s, phase %s, %d of %d, %d written, in %s",
			pr.State, pr.Phase, pr.Done, pr.Total, pr.Writes, r.busyTime.Round(time.Second)))
		row("  worker CPU meanwhile, peak RSS", "", fmt.Sprintf("%.1f s (%.0f%% of a core), %d MB",
			r.busyWorkerCPU, 100*r.busyWorkerCPU/max(r.busyTime.Seconds(), 1e-9), r.workerPeakRSS>>20))
		row("  the large portal in the simulator", "", fmt.Sprintf("%d MB of heap", r.largeHeap>>20))
	}
	row("QUERY_LIMIT_EXCEEDED answers (every portal)", "0", fmt.Sprint(r.queryLimit))
	row("OPERATION_TIME_LIMIT answers", "0", fmt.Sprint(r.operating))
	row("ERROR lines in the app's logs", "", fmt.Sprint(r.errorLines))
	fmt.Fprintln(w, "\nRedis figures are the server's (INFO total_commands_processed: a script's commands count too);")
	fmt.Fprintln(w, "on a shared server they include whatever else ran on it (-own-redis gives a private one).")
}

func d(x time.Duration) string {
	if x >= time.Second {
		return x.Round(10 * time.Millisecond).String()
	}
	return x.Round(time.Millisecond).String()
}
