package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"segmentor/app/i18n"
)

// progressLine is the backfill's line in lang: a bar while it writes, the
// phase before that.
func progressLine(lang i18n.Lang, state, phase string, done, total int, eta *int) string {
	const width = 30
	if state == "queued" || state == "" {
		return say(lang, "queued")
	}
	if phase != "write" {
		what := phase
		switch phase {
		case "sync", "rfm", "evaluate":
			what = say(lang, "phase_"+phase)
		}
		return say(lang, "phase", what)
	}
	filled := width
	if total > 0 {
		filled = width * done / total
	}
	pct := 100
	if total > 0 {
		pct = 100 * done / total
	}
	line := say(lang, "written", strings.Repeat("█", filled)+strings.Repeat("░", width-filled), pct, num(lang, done), num(lang, total))
	if eta != nil && *eta > 0 {
		line += " · " + timeLeft(lang, time.Duration(*eta)*time.Second)
	}
	return line
}

// timeLeft words an estimate as a person would say it in lang, to the
// minute: "less than a minute left", "about 3 minutes left", "jeszcze
// około 3 minut".
func timeLeft(lang i18n.Lang, eta time.Duration) string {
	if eta < time.Minute {
		return say(lang, "left_soon")
	}
	m := int((eta + 30*time.Second) / time.Minute)
	switch {
	case m == 1:
		return say(lang, "left_minute")
	case m < 60:
		return say(lang, "left", sayN(lang, "minutes", m, m))
	case m%60 == 0:
		return say(lang, "left", sayN(lang, "hours", m/60, m/60))
	}
	return say(lang, "left", sayN(lang, "hours", m/60, m/60)+" "+sayN(lang, "minutes", m%60, m%60))
}

// spoken writes a measured time as the README does, in lang's numbers:
// "0.04 s", "2.5 s", "42 s", "1 min 28 s", "2 h 5 min"; "2,5 s".
func spoken(lang i18n.Lang, d time.Duration) string {
	if r := d.Round(10 * time.Millisecond); r < time.Second {
		return say(lang, "s", i18n.Number(lang, r.Seconds()))
	}
	if r := d.Round(100 * time.Millisecond); r < 10*time.Second {
		return say(lang, "s", i18n.Number(lang, r.Seconds()))
	}
	s := int(d.Round(time.Second) / time.Second)
	switch {
	case s < 60:
		return say(lang, "s", strconv.Itoa(s))
	case s%60 == 0 && s < 3600:
		return say(lang, "min", s/60)
	case s < 3600:
		return say(lang, "min_s", s/60, s%60)
	}
	m := int(d.Round(time.Minute) / time.Minute)
	if m%60 == 0 {
		return say(lang, "h", m/60)
	}
	return say(lang, "h_min", m/60, m%60)
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
	"contact": {"VIP", "Loyal", "New", "Sleeping", "Lost", "Prospect", "Met at the fair", "Active"},
	"company": {"Closed or suspended", "Key account", "Broad buyer", "Buying abroad", "Buying", "Dormant"},
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
	lang := d.opts.Lang
	// The rows' labels line up, ten characters wide at least.
	keys := []string{"row_contact", "row_company", "row_deal", "row_events", "row_actions", "row_movement", "row_trend", "row_registry", "row_rest"}
	labels := make([]string, len(keys), len(keys)+1)
	for i, k := range keys {
		labels[i] = d.say(k)
	}
	labels = padded(append(labels, strings.Repeat(" ", 10))...)
	label := map[string]string{}
	for i, k := range keys {
		label[strings.TrimPrefix(k, "row_")] = labels[i]
	}
	fmt.Fprintln(&b, d.say("summary", time.Now().Format("15:04:05"), spoken(lang, time.Since(d.started)), d.users.In(lang)))
	field := "UF_CRM_" + d.manifest.SegmentField.FieldName
	for _, e := range []string{"contact", "company", "deal"} {
		counts := d.sim.CountBy(e, field)
		fmt.Fprintf(&b, "%s %s", label[e], segmentCounts(lang, counts, segmentOrder[e]))
		if e == "deal" {
			b.WriteString(d.say("premium", d.num(d.sim.CountBy("deal", "CATEGORY_ID")[strconv.Itoa(d.premium)])))
		}
		b.WriteByte('\n')
	}
	if ev, err := scrapeCounter(ctx, d.front+"/metrics", "segmentor_events_total", "result"); err == nil {
		total := 0
		for _, v := range ev {
			total += int(v)
		}
		fmt.Fprintf(&b, "%s %s\n", label["events"],
			d.say("events", d.num(total), d.num(int(ev["queued"])), d.num(int(ev["coalesced"])), d.num(int(ev["refused"]))))
	} else {
		fmt.Fprintf(&b, "%s %s\n", label["events"], d.say("unavailable", err))
	}
	// What segment changes set off: Premium deals fire their automation
	// trigger, every change goes on the record's timeline, a client who
	// falls asleep is reported to their manager; the robot waits in the
	// deals' automation rules.
	robot := d.say("no_robot")
	if len(d.sim.Robots()) > 0 {
		robot = d.say("robot")
	}
	fmt.Fprintf(&b, "%s %s\n", label["actions"],
		d.say("actions", d.num(len(d.sim.TriggerRuns())), d.num(d.sim.TimelineCount()), d.num(len(d.sim.Notifications())), robot))
	fmt.Fprintf(&b, "%s %s\n", label["movement"], d.movement(ctx))
	fmt.Fprintf(&b, "%s %s\n", label["trend"], d.trend(ctx))
	fmt.Fprintf(&b, "%s %s\n", label["registry"], d.registryLine(ctx))
	st := d.sim.Stats()
	up := time.Since(d.simStart)
	allowed := demoBurst + int(demoRate*up.Seconds())
	fmt.Fprintf(&b, "%s %s\n", label["rest"],
		d.say("rest", d.num(st.HTTPRequests), spoken(lang, up), demoRate, demoBurst, d.num(allowed), st.QueryLimitRefusals))
	return b.String()
}

// segmentCounts lists counts in the config's order, then any other
// segment, then the records without one.
func segmentCounts(lang i18n.Lang, counts map[string]int, order []string) string {
	var parts []string
	seen := map[string]bool{"": true}
	for _, name := range order {
		seen[name] = true
		parts = append(parts, fmt.Sprintf("%s %s", name, num(lang, counts[name])))
	}
	var rest []string
	for name := range counts {
		if !seen[name] {
			rest = append(rest, name)
		}
	}
	slices.Sort(rest)
	for _, name := range rest {
		parts = append(parts, fmt.Sprintf("%s %s", name, num(lang, counts[name])))
	}
	if n := counts[""]; n > 0 {
		parts = append(parts, say(lang, "none", num(lang, n)))
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
			return d.say("unavailable", err)
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
			parts = append(parts, fmt.Sprintf("%s %s → %s %s", d.say("row_"+e), name[c.From], name[c.To], d.num(c.Count)))
			shown++
		}
	}
	if len(parts) == 0 {
		return d.say("not_moved")
	}
	return d.say("moved", strings.Join(parts, " · "))
}

// trend is how the contacts' segments grew over the year, as the
// overview's chart draws them (GET /insight/trends): "contacts over 365
// days: VIP 4 → 9 · Loyal 30 → 41 (before 2026-12-05 estimated from deal
// dates)". A new portal's year before its first snapshot is estimated by
// a background job after the backfill.
func (d *demoRun) trend(ctx context.Context) string {
	var t struct {
		Dates     []string `json:"dates"`
		Estimated []bool   `json:"estimated"`
		Series    []struct {
			Name   string     `json:"name"`
			Counts []*float64 `json:"counts"`
		} `json:"series"`
	}
	if _, err := d.api.do(ctx, http.MethodGet, "/api/v1/insight/trends?entity=contact&days=365", nil, &t); err != nil {
		return d.say("unavailable", err)
	}
	first := slices.IndexFunc(t.Series, func(s struct {
		Name   string     `json:"name"`
		Counts []*float64 `json:"counts"`
	}) bool {
		return len(s.Counts) > 0 && s.Counts[0] != nil
	})
	if first < 0 || len(t.Dates) == 0 {
		return d.say("no_trend")
	}
	var parts []string
	for _, s := range t.Series {
		a, b := s.Counts[0], s.Counts[len(s.Counts)-1]
		if a == nil || b == nil || (*a == 0 && *b == 0) {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %s → %s", s.Name, d.num(int(*a)), d.num(int(*b))))
	}
	out := sayN(d.opts.Lang, "trend", len(t.Dates), len(t.Dates), strings.Join(parts, " · "))
	if kept := slices.Index(t.Estimated, false); kept > 0 {
		out += d.say("trend_before", t.Dates[kept])
	}
	return out
}

// registryLine says how far the company registry lookups are, from the
// settings page's view of them (GET /api/v1/registry), and how many
// companies the registry says are closed or suspended, from the portal.
func (d *demoRun) registryLine(ctx context.Context) string {
	var v struct {
		Enabled bool           `json:"enabled"`
		Counts  map[string]int `json:"counts"`
		Problem string         `json:"problem"`
	}
	if _, err := d.api.do(ctx, http.MethodGet, "/api/v1/registry", nil, &v); err != nil {
		return d.say("unavailable", err)
	}
	if !v.Enabled {
		return d.say("registry_off")
	}
	c := v.Counts
	all := c["found"] + c["not_found"] + c["invalid"] + c["pending"] + c["unavailable"]
	struck := d.sim.CountBy("company", "UF_CRM_"+d.manifest.SegmentField.FieldName)["Closed or suspended"]
	line := d.say("registry", d.num(all), d.num(c["found"]), d.num(struck), d.num(c["not_found"]), d.num(c["invalid"]),
		d.num(c["pending"]+c["unavailable"]))
	if v.Problem != "" {
		line += " · " + v.Problem
	}
	return line
}
