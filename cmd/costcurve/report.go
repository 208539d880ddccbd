package main

import (
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// report prints the table, one row a size, the notes on what each figure
// counts, and how each grows with the record count.
func report(w io.Writer, o options, rows []*row, total time.Duration) {
	fmt.Fprintf(w, "\n== Segmentor's cost curve: portals at %d requests/s, a bucket of %d (b24sim and B24_RATE_LIMIT); %s in all\n\n",
		o.rate, o.burst, total.Round(time.Second))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "deals\trecords\tbackfill reads (least)\twrites (least)\tbackfill time / least\tleast by operating time\tRedis B/record\tworker peak RSS\tweb peak RSS\tpreview cold / warm\tdry run cold / warm\tnightly time, requests\t")
	for _, r := range rows {
		ratio := "–"
		if least := r.minBackfill(o); least > 0 {
			ratio = fmt.Sprintf("%.2f×", r.backfillTime.Seconds()/least.Seconds())
		}
		opRatio := "–"
		if r.opLeast > 0 {
			opRatio = fmt.Sprintf("%s = %.2f×", secs(r.opLeast), r.backfillTime.Seconds()/r.opLeast.Seconds())
		}
		fmt.Fprintf(tw, "%s\t%s\t%s (%s)\t%s (%s)\t%s / %s = %s\t%s\t%.0f\t%s\t%s\t%s / %s\t%s / %s\t%s, %s\t\n",
			num(r.deals), num(r.records()), num(r.backfill.reads()), num(r.minReads()), num(r.backfill.writes()), num(r.minWrites()),
			secs(r.backfillTime), secs(r.minBackfill(o)), ratio, opRatio,
			float64(r.mirrorBytes)/float64(r.records()), mb(r.workerRSS), mb(r.webRSS),
			ms(r.previewCold), ms(r.previewWarm), ms(r.dryCold), ms(r.dryWarm),
			secs(r.nightlyTime), num(r.nightly.requests))
	}
	_ = tw.Flush()

	fmt.Fprintln(w, "\nWhat each size counted:")
	for _, r := range rows {
		fmt.Fprintf(w, "  %s deals (%s contacts, %s companies, %s product rows; seeded in %s):\n", num(r.deals), num(r.contacts),
			num(r.companies), num(r.productRows), secs(r.seedTime))
		fmt.Fprintf(w, "    backfill: %s requests = %s reads of %s rows (least ⌈%s/2,500⌉ = %s) + %s writes of %s changed records (least ⌈%s/50⌉ = %s) + %s others %s; %d refused for the limit\n",
			num(r.backfill.requests), num(r.backfill.reads()), num(r.rowsRead()), num(r.rowsRead()), num(r.minReads()),
			num(r.backfill.writes()), num(len(r.backfill.changed)), num(len(r.backfill.changed)), num(r.minWrites()),
			num(r.backfill.other()), kinds(r.backfill), r.backfill.refusals)
		fmt.Fprintf(w, "    operating time: %s %s in all (%s calls), the most of any method; Bitrix24 allows 480 s a method in any 10 minutes\n",
			r.opMethod, secs(r.opTime), num(r.backfill.calls[r.opMethod]))
		fmt.Fprintf(w, "    after it, until nothing was left to do (%s: the echo of its writes, the history's estimate): %s requests %s\n",
			secs(r.settleTime), num(r.echo.requests), kinds(r.echo))
		fmt.Fprintf(w, "    Redis: %.1f MB in %s mirror keys (the change log %.1f MB of it, capped; %.0f B a record without it); used_memory grew %.1f MB (%.0f B a record)\n",
			float64(r.mirrorBytes)/1e6, num(int(r.mirrorKeys)), float64(r.changeLogBytes)/1e6,
			float64(r.mirrorBytes-r.changeLogBytes)/float64(r.records()), float64(r.usedMemory)/1e6,
			float64(r.usedMemory)/float64(r.records()))
		fmt.Fprintf(w, "    nightly: %s requests %s, %s written records; then %s more until settled %s; previews and dry runs: %d requests\n",
			num(r.nightly.requests), kinds(r.nightly), num(len(r.nightly.changed)), num(r.nightlyEcho.requests), kinds(r.nightlyEcho), r.insight.requests)
		fmt.Fprintf(w, "    QUERY_LIMIT_EXCEEDED answers %d, OPERATION_TIME_LIMIT %d, ERROR lines in the app's logs %d\n",
			r.queryLimit, r.operating, r.errorLines)
	}
	fmt.Fprintln(w, "\nRequests are counted from the simulator's request log; the least is ⌈rows/2,500⌉ reads (a batch of 50 pages")
	fmt.Fprintln(w, "of 50) and ⌈changed/50⌉ writes. Backfill time is from the config's save to the backfill's end; its least is")
	fmt.Fprintf(w, "max(0, requests − %d)/%d s. Bitrix24 also limits each method's operating time (480 s in any 10 minutes; the\n", o.burst, o.rate)
	fmt.Fprintf(w, "simulator charged %s a call, -call-cost), summed in 1-minute buckets of the clock: a method that runs more than\n", o.callCost)
	fmt.Fprintf(w, "k whole 480 s (k = ⌈operating/480 s⌉ − 1) needs at least 10k − 1 minutes, for the one that runs longest. Redis B/record is MEMORY USAGE (SAMPLES 0) summed over the portal's mirror keys\n")
	fmt.Fprintln(w, "(seg:p:{member}:m:*) over its deals, contacts and companies. Peak RSS is VmHWM, over the whole size (the web's")
	fmt.Fprintln(w, "over both its processes). Preview and dry run: the first after the web process starts, and the median of the")
	fmt.Fprintf(w, "next %d. Nightly: from its turn queued to the end of the backfill it starts, and that stretch's requests.\n", o.warm)

	if len(rows) < 2 {
		return
	}
	fmt.Fprintf(w, "\nHow each figure grows with the record count (%s):\n", sizesOf(rows))
	figures := []struct {
		name string
		f    func(*row) float64
	}{
		{"backfill reads", func(r *row) float64 { return float64(r.backfill.reads()) }},
		{"backfill writes", func(r *row) float64 { return float64(r.backfill.writes()) }},
		{"backfill time", func(r *row) float64 { return r.backfillTime.Seconds() }},
		{"least by operating time", func(r *row) float64 { return r.opLeast.Seconds() }},
		{"backfill time / least", func(r *row) float64 {
			if l := r.minBackfill(o); l > 0 {
				return r.backfillTime.Seconds() / l.Seconds()
			}
			return math.NaN()
		}},
		{"Redis bytes per record", func(r *row) float64 { return float64(r.mirrorBytes) / float64(r.records()) }},
		{"  without the change log", func(r *row) float64 { return float64(r.mirrorBytes-r.changeLogBytes) / float64(r.records()) }},
		{"worker peak RSS", func(r *row) float64 { return float64(r.workerRSS) }},
		{"web peak RSS", func(r *row) float64 { return float64(r.webRSS) }},
		{"preview cold", func(r *row) float64 { return r.previewCold.Seconds() }},
		{"preview warm", func(r *row) float64 { return r.previewWarm.Seconds() }},
		{"dry run cold", func(r *row) float64 { return r.dryCold.Seconds() }},
		{"dry run warm", func(r *row) float64 { return r.dryWarm.Seconds() }},
		{"nightly time", func(r *row) float64 { return r.nightlyTime.Seconds() }},
		{"nightly requests", func(r *row) float64 { return float64(r.nightly.requests) }},
	}
	for _, fig := range figures {
		var steps []string
		for i := 1; i < len(rows); i++ {
			a, b := rows[i-1], rows[i]
			steps = append(steps, growth(fig.f(a), fig.f(b), float64(b.records())/float64(a.records())))
		}
		fmt.Fprintf(w, "  %-24s %s\n", fig.name+":", strings.Join(steps, "; "))
	}
}

// growth says how a figure grew from a to b while the records grew by n
// times: the ratio and its exponent, log(b/a)/log(n): about 0 is flat,
// about 1 linear.
func growth(a, b, n float64) string {
	if math.IsNaN(a) || math.IsNaN(b) || a <= 0 || b <= 0 || n <= 1 {
		return "not comparable"
	}
	e := math.Log(b/a) / math.Log(n)
	var kind string
	switch {
	case e < -0.15:
		kind = "falling"
	case e < 0.15:
		kind = "flat"
	case e < 0.85:
		kind = "sublinear"
	case e < 1.15:
		kind = "linear"
	default:
		kind = "superlinear"
	}
	return fmt.Sprintf("×%.2f for ×%.1f records: %s (exponent %.2f)", b/a, n, kind, e)
}

func sizesOf(rows []*row) string {
	var s []string
	for _, r := range rows {
		s = append(s, num(r.records()))
	}
	return strings.Join(s, " → ") + " records"
}

// kinds lists a tally's requests by kind, the reads and writes left out
// when counted apart.
func kinds(t *tally) string {
	var parts []string
	for _, k := range sortedKeys(t.kinds) {
		if k == "sync" || k == "write" {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %d", k, t.kinds[k]))
	}
	if len(parts) == 0 {
		return ""
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

func sortedKeys(m map[string]int) []string { return slices.Sorted(maps.Keys(m)) }

// num writes n with thousands separated by commas.
func num(n int) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + num(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func secs(d time.Duration) string {
	switch {
	case d >= 100*time.Second:
		return fmt.Sprintf("%.0f s", d.Seconds())
	case d >= 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	default:
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
}

func mb(b int64) string { return fmt.Sprintf("%d MB", b>>20) }
