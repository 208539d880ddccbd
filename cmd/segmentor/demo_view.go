package main

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// progressLine is the backfill's line: a bar while it writes, the phase
// before that.
func progressLine(state, phase string, done, total int, eta *int) string {
	const width = 30
	if state == "queued" || state == "" {
		return "backfill: queued, waiting for a worker"
	}
	if phase != "write" {
		what := map[string]string{"sync": "reading the portal's records in bulk", "rfm": "computing RFM scores",
			"evaluate": "evaluating the rules"}[phase]
		return "backfill: " + cmp.Or(what, phase)
	}
	filled := width
	if total > 0 {
		filled = width * done / total
	}
	pct := 100
	if total > 0 {
		pct = 100 * done / total
	}
	line := fmt.Sprintf("backfill [%s%s] %3d%%  %s / %s records written", strings.Repeat("█", filled),
		strings.Repeat("░", width-filled), pct, thousands(done), thousands(total))
	if eta != nil && *eta > 0 {
		line += " · " + timeLeft(time.Duration(*eta)*time.Second)
	}
	return line
}

// timeLeft words an estimate as a person would say it, to the minute:
// "less than a minute left", "about 3 minutes left".
func timeLeft(eta time.Duration) string {
	if eta < time.Minute {
		return "less than a minute left"
	}
	m := int((eta + 30*time.Second) / time.Minute)
	switch {
	case m == 1:
		return "about a minute left"
	case m < 60:
		return fmt.Sprintf("about %d minutes left", m)
	case m%60 == 0:
		return fmt.Sprintf("about %s left", plural(m/60, "hour"))
	}
	return fmt.Sprintf("about %s %s left", plural(m/60, "hour"), plural(m%60, "minute"))
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}

// spoken writes a measured time as the README does: "0.04 s", "2.5 s",
// "42 s", "1 min 28 s", "2 h 5 min".
func spoken(d time.Duration) string {
	if r := d.Round(10 * time.Millisecond); r < time.Second {
		return fmt.Sprintf("%.2f s", r.Seconds())
	}
	if r := d.Round(100 * time.Millisecond); r < 10*time.Second {
		return fmt.Sprintf("%.1f s", r.Seconds())
	}
	s := int(d.Round(time.Second) / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%d s", s)
	case s%60 == 0 && s < 3600:
		return fmt.Sprintf("%d min", s/60)
	case s < 3600:
		return fmt.Sprintf("%d min %d s", s/60, s%60)
	}
	m := int(d.Round(time.Minute) / time.Minute)
	if m%60 == 0 {
		return fmt.Sprintf("%d h", m/60)
	}
	return fmt.Sprintf("%d h %d min", m/60, m%60)
}

// thousands writes n with comma separators: 20000 → "20,000".
func thousands(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// segmentOrder is the sample config's order of segments, for the summary.
var segmentOrder = map[string][]string{
	"contact": {"VIP", "Loyal", "New", "Sleeping", "Lost", "Prospect", "Active"},
	"company": {"Key account", "Broad buyer", "Buying", "Dormant"},
	"deal":    {"Premium", "Engaged", "Cooling", "Silent"},
}

// summaries prints the live summary every Refresh until ctx ends.
func (d *demoRun) summaries(ctx context.Context) {
	lines := 0
	t := time.NewTicker(d.opts.Refresh)
	defer t.Stop()
	for {
		text := d.summary(ctx)
		if d.tty && lines > 0 {
			fmt.Fprintf(d.out, "\x1b[%dA\x1b[J", lines) // redraw the previous summary in place
		}
		fmt.Fprint(d.out, text)
		lines = strings.Count(text, "\n")
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// summary is one live summary: segments as the CRM shows them (read from
// the portal's records), events the app received, and the REST requests
// the portal answered against what its limit allows.
func (d *demoRun) summary(ctx context.Context) string {
	var b strings.Builder
	fmt.Fprintf(&b, "── %s · %s since the backfill · users: %s ──\n", time.Now().Format("15:04:05"), spoken(time.Since(d.started)), d.users.String())
	field := "UF_CRM_" + d.manifest.SegmentField.FieldName
	for _, e := range []string{"contact", "company", "deal"} {
		counts := d.sim.CountBy(e, field)
		fmt.Fprintf(&b, "%-10s %s", map[string]string{"contact": "contacts", "company": "companies", "deal": "deals"}[e],
			segmentCounts(counts, segmentOrder[e]))
		if e == "deal" {
			fmt.Fprintf(&b, " · pipeline \"Premium\" holds %s", thousands(d.sim.CountBy("deal", "CATEGORY_ID")[strconv.Itoa(d.premium)]))
		}
		b.WriteByte('\n')
	}
	if ev, err := scrapeCounter(ctx, d.front+"/metrics", "segmentor_events_total", "result"); err == nil {
		total := 0
		for _, v := range ev {
			total += int(v)
		}
		fmt.Fprintf(&b, "%-10s %s received: %s queued as jobs, %s merged into a waiting job, %s refused\n", "events",
			thousands(total), thousands(int(ev["queued"])), thousands(int(ev["coalesced"])), thousands(int(ev["refused"])))
	} else {
		fmt.Fprintf(&b, "%-10s metrics unavailable: %v\n", "events", err)
	}
	// What segment changes set off: Premium deals fire their automation
	// trigger, every change goes on the record's timeline, a client who
	// falls asleep is reported to their manager; the robot waits in the
	// deals' automation rules.
	fmt.Fprintf(&b, "%-10s %s triggers fired · %s timeline entries · %s notifications · robot %s\n", "actions",
		thousands(len(d.sim.TriggerRuns())), thousands(d.sim.TimelineCount()), thousands(len(d.sim.Notifications())),
		map[bool]string{true: "\"Segmentor: classify\" registered", false: "not registered"}[len(d.sim.Robots()) > 0])
	fmt.Fprintf(&b, "%-10s %s\n", "movement", d.movement(ctx))
	st := d.sim.Stats()
	up := time.Since(d.simStart)
	allowed := demoBurst + int(demoRate*up.Seconds())
	fmt.Fprintf(&b, "%-10s %s requests in %s; the portal's limit (%d/s, burst %d) allows %s · %d refused with QUERY_LIMIT_EXCEEDED\n",
		"REST", thousands(st.HTTPRequests), spoken(up), demoRate, demoBurst, thousands(allowed), st.QueryLimitRefusals)
	return b.String()
}

// segmentCounts lists counts in the config's order, then any other
// segment, then the records without one.
func segmentCounts(counts map[string]int, order []string) string {
	var parts []string
	seen := map[string]bool{"": true}
	for _, name := range order {
		seen[name] = true
		parts = append(parts, fmt.Sprintf("%s %s", name, thousands(counts[name])))
	}
	var rest []string
	for name := range counts {
		if !seen[name] {
			rest = append(rest, name)
		}
	}
	slices.Sort(rest)
	for _, name := range rest {
		parts = append(parts, fmt.Sprintf("%s %s", name, thousands(counts[name])))
	}
	if n := counts[""]; n > 0 {
		parts = append(parts, fmt.Sprintf("(none) %s", thousands(n)))
	}
	return strings.Join(parts, " · ")
}

// scrapeCounter reads one counter family from a Prometheus text page, by
// the value of one label.
func scrapeCounter(ctx context.Context, url, name, label string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %d", url, resp.StatusCode)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, name+"{")
		if !ok {
			continue
		}
		labels, value, ok := strings.Cut(rest, "} ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			continue
		}
		for _, l := range strings.Split(labels, ",") {
			if k, val, ok := strings.Cut(l, "="); ok && k == label {
				out[strings.Trim(val, `"`)] += v
			}
		}
	}
	return out, sc.Err()
}

// movement is the day's moves between segments as the overview's matrix
// counts them (GET /insight/movement), of edits in the CRM only (the
// backfill's first classification left out): "contacts Regular → VIP 2 ·
// deals Engaged → No segment 5".
func (d *demoRun) movement(ctx context.Context) string {
	var parts []string
	today := time.Now().UTC().Format(time.DateOnly)
	for _, e := range []string{"contact", "company", "deal"} {
		var m struct {
			Segments []struct{ Key, Name string }
			Cells    []struct {
				From, To string
				Count    int
			}
		}
		if _, err := d.api.do(ctx, http.MethodGet, "/api/v1/insight/movement?entity="+e+"&trigger=change&from="+today, nil, &m); err != nil {
			return "unavailable: " + err.Error()
		}
		name := map[string]string{}
		for _, s := range m.Segments {
			name[s.Key] = s.Name
		}
		slices.SortStableFunc(m.Cells, func(x, y struct {
			From, To string
			Count    int
		}) int {
			return y.Count - x.Count
		})
		shown := 0
		for _, c := range m.Cells {
			if shown == 2 {
				break
			}
			parts = append(parts, fmt.Sprintf("%s %s → %s %s", map[string]string{"contact": "contacts", "company": "companies", "deal": "deals"}[e],
				name[c.From], name[c.To], thousands(c.Count)))
			shown++
		}
	}
	if len(parts) == 0 {
		return "no edit has moved a record between segments yet (the Overview tab draws the matrix)"
	}
	return strings.Join(parts, " · ") + " (today; the Overview tab draws the matrix)"
}
