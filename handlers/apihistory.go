package handlers

import (
	"cmp"
	"context"
	"encoding/csv"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"segmentor/app"
	"segmentor/app/segment"
	"segmentor/chart"
)

// Insight over time: each scheme's daily figures (trends), where records
// went (the movement matrix) and one segment's page. All of it is read
// from Redis (the history, the moves log, the mirror): no REST request.

// trendPeriods are the periods the overview offers, in days.
var trendPeriods = []int{30, 90, 365}

// TrendSeries is one segment's figures, a value per day of the period
// (null on a day without a snapshot).
type TrendSeries struct {
	Key    string     `json:"key"`
	Name   string     `json:"name"`
	Color  string     `json:"color,omitempty"`
	Counts []*float64 `json:"counts"`
	Values []*float64 `json:"values"` // won in the last 365 days, base currency
}

// SegmentNow is a segment's figures in the latest snapshot.
type SegmentNow struct {
	Key   string  `json:"key"`
	Name  string  `json:"name"`
	Color string  `json:"color,omitempty"`
	Count int64   `json:"count"`
	Value int64   `json:"value"`
	Won   int64   `json:"won"`
	Open  int64   `json:"open"`
	Avg   float64 `json:"avg_deal"`
}

// Trends answers a scheme's segment sizes and values day by day over the
// last 30, 90 or 365 days, with the chart drawn (svg) and said (text); as
// CSV with format=csv.
func (a *API) Trends(c *gin.Context) {
	sess := sessionOf(c)
	ctx := c.Request.Context()
	e, ok := parseEntity(c.Query("entity"))
	if !ok {
		apiError(c, sess.Lang, badEntity(sess.Lang))
		return
	}
	days := 90
	if s := c.Query("days"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || !slices.Contains(trendPeriods, n) {
			apiError(c, sess.Lang, userError(app.EInvalid, sess.Lang, "bad_days"))
			return
		}
		days = n
	}
	to := app.DayOf(a.Store.Now())
	from := to - app.Day(days) + 1
	hist, err := a.Store.History(ctx, sess.MemberID, e, from, to)
	if err != nil {
		apiError(c, sess.Lang, err)
		return
	}
	cfg := a.savedConfig(ctx, sess.MemberID)
	t, _, _, err := a.teller(ctx, sess.MemberID, sess.Lang, cfg)
	if err != nil {
		apiError(c, sess.Lang, err)
		return
	}
	segs := segmentList(cfg, e, t, sess.Lang, func(yield func(string)) {
		for _, h := range hist {
			for _, f := range h.Segments {
				yield(f.Segment)
			}
		}
	})
	// The colour each band is drawn in, so the legend and the table match.
	for i := range segs {
		if segs[i].Color == "" {
			segs[i].Color = chart.PaletteColor(i)
		}
	}
	if c.Query("format") == "csv" {
		rows := [][]string{{say(sess.Lang, "csv_day"), say(sess.Lang, "csv_segment_key"), say(sess.Lang, "csv_segment"),
			say(sess.Lang, "csv_records"), say(sess.Lang, "csv_won"),
			say(sess.Lang, "csv_won_deals"), say(sess.Lang, "csv_open_deals"), say(sess.Lang, "csv_currency"),
			say(sess.Lang, "csv_estimated")}}
		for _, h := range hist {
			est := say(sess.Lang, "no")
			if h.Estimated {
				est = say(sess.Lang, "yes")
			}
			for _, s := range segs {
				f := figuresOf(h, s.Key)
				rows = append(rows, []string{h.Day.String(), s.Key, s.Name, itoa(f.Count), itoa(f.Value), itoa(f.Won), itoa(f.Open), h.Currency, est})
			}
		}
		writeCSV(c, fmt.Sprintf("segments-%s-%dd.csv", e, days), rows)
		return
	}
	byDay := map[app.Day]app.Snapshot{}
	for _, h := range hist {
		byDay[h.Day] = h
	}
	dates, labels := make([]string, 0, days), make([]string, 0, days)
	series := make([]TrendSeries, len(segs))
	chartSeries := make([]chart.Series, len(segs))
	for i, s := range segs {
		series[i] = TrendSeries{Key: s.Key, Name: s.Name, Color: s.Color, Counts: []*float64{}, Values: []*float64{}}
		chartSeries[i] = chart.Series{Key: s.Key, Name: s.Name, Color: s.Color}
	}
	estimated, leading := make([]bool, 0, days), 0
	for d := from; d <= to; d++ {
		dates, labels = append(dates, d.String()), append(labels, segment.DayLabel(segmentLang(sess.Lang), d.Time()))
		h, ok := byDay[d]
		estimated = append(estimated, ok && h.Estimated)
		if ok && h.Estimated && leading == len(estimated)-1 {
			leading++
		}
		for i, s := range segs {
			if !ok {
				series[i].Counts, series[i].Values = append(series[i].Counts, nil), append(series[i].Values, nil)
				chartSeries[i].Values = append(chartSeries[i].Values, math.NaN())
				continue
			}
			f := figuresOf(h, s.Key)
			cnt, val := float64(f.Count), float64(f.Value)
			series[i].Counts, series[i].Values = append(series[i].Counts, &cnt), append(series[i].Values, &val)
			chartSeries[i].Values = append(chartSeries[i].Values, cnt)
		}
	}
	currency := ""
	latest := []SegmentNow{}
	if n := len(hist); n > 0 {
		last := hist[n-1]
		currency = last.Currency
		for _, s := range segs {
			f := figuresOf(last, s.Key)
			v := SegmentNow{Key: s.Key, Name: s.Name, Color: s.Color, Count: f.Count, Value: f.Value, Won: f.Won, Open: f.Open}
			if f.Won > 0 {
				v.Avg = float64(f.Value) / float64(f.Won)
			}
			latest = append(latest, v)
		}
	}
	title := sayN(sess.Lang, "trend_title", days, entityPlural(e, sess.Lang), days)
	text := trendText(sess.Lang, hist, segs, days)
	svg := chart.Stacked{ID: "trend-" + string(e), Title: title, Desc: text, Labels: labels, Series: chartSeries,
		Format:    func(v float64) string { return segment.FormatAmount(v, segmentLang(sess.Lang)) },
		Estimated: leading, EstimatedLabel: say(sess.Lang, "estimated_label")}.SVG()
	c.JSON(http.StatusOK, gin.H{"entity": e, "days": days, "from": from, "to": to, "currency": currency, "dates": dates,
		"estimated": estimated, "series": series, "latest": latest, "snapshots": len(hist), "title": title, "text": text, "svg": svg})
}

func figuresOf(h app.Snapshot, key string) app.Figures {
	for _, f := range h.Segments {
		if f.Segment == key {
			return f
		}
	}
	return app.Figures{Segment: key}
}

// trendText says the chart in words: each segment's size at the first and
// the last snapshot of the period, or that there is none yet.
func trendText(lang string, hist []app.Snapshot, segs []segmentLabel, days int) string {
	if len(hist) == 0 {
		return say(lang, "trend_none")
	}
	first, last := hist[0], hist[len(hist)-1]
	s := sayN(lang, "trend_days", len(hist), len(hist), days, first.Day, last.Day)
	if kept := slices.IndexFunc(hist, func(h app.Snapshot) bool { return !h.Estimated }); kept != 0 {
		// Estimates precede the kept days (Store.PutEstimates).
		if kept < 0 {
			s += " " + say(lang, "trend_all_estimated")
		} else {
			s += " " + say(lang, "trend_estimated_before", hist[kept].Day)
		}
	}
	for _, seg := range segs {
		a, b := figuresOf(first, seg.Key).Count, figuresOf(last, seg.Key).Count
		if a == 0 && b == 0 {
			continue
		}
		s += " " + say(lang, "trend_change", seg.Name, a, b)
	}
	return s
}

// segmentLabel is a segment as a view names it.
type segmentLabel struct {
	Key   string `json:"key"`
	Name  string `json:"name"`
	Color string `json:"color,omitempty"`
}

// segmentList lists e's segments in the saved config's order (the
// otherwise segment last; cfg may be nil), then the keys seen that it no
// longer has, then the records in no segment ("") if any were seen.
func segmentList(cfg *segment.Config, e segment.Entity, t *segment.Teller, lang string, seen func(yield func(string))) []segmentLabel {
	out := []segmentLabel{}
	have := map[string]bool{}
	if cfg != nil {
		for _, sc := range cfg.Schemes {
			if sc.Entity != e {
				continue
			}
			for _, s := range sc.All() {
				out = append(out, segmentLabel{Key: s.Key, Name: s.Name, Color: s.Color})
				have[s.Key] = true
			}
		}
	}
	none := false
	seen(func(k string) {
		switch {
		case k == "":
			none = true
		case !have[k]:
			have[k] = true
			out = append(out, segmentLabel{Key: k, Name: say(lang, "removed", t.SegmentName(e, k))})
		}
	})
	if none {
		out = append(out, segmentLabel{Key: "", Name: say(lang, "no_segment"), Color: "#c6cdd3"})
	}
	return out
}

// MovementCell is how many records went from one segment to another over
// the period.
type MovementCell struct {
	From  string `json:"from"`
	To    string `json:"to"`
	Count int    `json:"count"`
}

// maxMovePeriod bounds a movement period: the moves log keeps HistoryDays.
const maxMovePeriod = app.HistoryDays

// movePeriod reads from and to (days, both included; the last 30 days by
// default).
func (a *API) movePeriod(c *gin.Context, lang string) (app.Day, app.Day, bool) {
	to := app.DayOf(a.Store.Now())
	from := to - 29
	for _, p := range []struct {
		name string
		day  *app.Day
	}{{"from", &from}, {"to", &to}} {
		if s := c.Query(p.name); s != "" {
			d, err := app.ParseDay(s)
			if err != nil {
				apiError(c, lang, userError(app.EInvalid, lang, "bad_date", p.name))
				return 0, 0, false
			}
			*p.day = d
		}
	}
	if from > to || to-from >= maxMovePeriod {
		apiError(c, lang, userError(app.EInvalid, lang, "bad_period", maxMovePeriod))
		return 0, 0, false
	}
	return from, to, true
}

// netMoves reads the period's moves of e and keeps each record's net
// move: from the segment it had when the period began to the one it has
// at its end (a record that came back is not counted).
// With trigger set, only the moves it started count (change: those of
// edits in the CRM, not of recomputes).
func (a *API) netMoves(ctx context.Context, memberID string, e segment.Entity, from, to app.Day, trigger string) (map[int64]*app.Move, int, error) {
	net := map[int64]*app.Move{}
	changes := 0
	err := a.Store.Moves(ctx, memberID, from.Time(), (to + 1).Time(), func(m app.Move) bool {
		if m.Entity != e || (trigger != "" && m.Trigger != trigger) {
			return true
		}
		changes++
		if n := net[m.ID]; n != nil {
			n.From = m.From // older: the segment it came from
			return true
		}
		mm := m
		net[m.ID] = &mm
		return true
	})
	for id, m := range net {
		if m.From == m.To {
			delete(net, id)
		}
	}
	return net, changes, err
}

// Movement answers the migration matrix of e over a period: how many
// records went from each segment to each other (net, per record), from the
// moves log (trigger=change: edits in the CRM only); as CSV with
// format=csv.
func (a *API) Movement(c *gin.Context) {
	sess := sessionOf(c)
	ctx := c.Request.Context()
	e, ok := parseEntity(c.Query("entity"))
	if !ok {
		apiError(c, sess.Lang, badEntity(sess.Lang))
		return
	}
	from, to, ok := a.movePeriod(c, sess.Lang)
	if !ok {
		return
	}
	start := time.Now()
	net, changes, err := a.netMoves(ctx, sess.MemberID, e, from, to, c.Query("trigger"))
	if err != nil {
		apiError(c, sess.Lang, err)
		return
	}
	counts := map[[2]string]int{}
	for _, m := range net {
		counts[[2]string{m.From, m.To}]++
	}
	cfg := a.savedConfig(ctx, sess.MemberID)
	t, _, _, err := a.teller(ctx, sess.MemberID, sess.Lang, cfg)
	if err != nil {
		apiError(c, sess.Lang, err)
		return
	}
	segs := segmentList(cfg, e, t, sess.Lang, func(yield func(string)) {
		for k := range counts {
			yield(k[0])
			yield(k[1])
		}
	})
	cells := []MovementCell{}
	for _, f := range segs {
		for _, to := range segs {
			if n := counts[[2]string{f.Key, to.Key}]; n > 0 {
				cells = append(cells, MovementCell{From: f.Key, To: to.Key, Count: n})
			}
		}
	}
	if c.Query("format") == "csv" {
		name := map[string]string{}
		for _, s := range segs {
			name[s.Key] = s.Name
		}
		rows := [][]string{{say(sess.Lang, "csv_from"), say(sess.Lang, "csv_to"), say(sess.Lang, "csv_records")}}
		for _, cl := range cells {
			rows = append(rows, []string{name[cl.From], name[cl.To], strconv.Itoa(cl.Count)})
		}
		writeCSV(c, fmt.Sprintf("movement-%s-%s-%s.csv", e, from, to), rows)
		return
	}
	c.JSON(http.StatusOK, gin.H{"entity": e, "from": from, "to": to, "segments": segs, "cells": cells,
		"moved": len(net), "changes": changes, "took_ms": time.Since(start).Milliseconds()})
}

// MovedRecord is one record of a movement cell.
type MovedRecord struct {
	ID    int64     `json:"id"`
	Title string    `json:"title"`
	URL   string    `json:"url"`
	At    time.Time `json:"at"` // its last change in the period
}

// maxMovedRecords bounds the records a cell lists.
const maxMovedRecords = 200

// MovedRecords lists the records behind one cell of the matrix (from and
// to segment, "" for none) with links to their cards: administrators only,
// as the list of changes.
func (a *API) MovedRecords(c *gin.Context) {
	sess := sessionOf(c)
	ctx := c.Request.Context()
	if !sess.Admin {
		apiError(c, sess.Lang, userError(app.EForbidden, sess.Lang, "moves_forbidden"))
		return
	}
	e, ok := parseEntity(c.Query("entity"))
	if !ok {
		apiError(c, sess.Lang, badEntity(sess.Lang))
		return
	}
	from, to, ok := a.movePeriod(c, sess.Lang)
	if !ok {
		return
	}
	fromSeg, toSeg := c.Query("from_segment"), c.Query("to_segment")
	net, _, err := a.netMoves(ctx, sess.MemberID, e, from, to, c.Query("trigger"))
	if err != nil {
		apiError(c, sess.Lang, err)
		return
	}
	var picked []*app.Move
	for _, m := range net {
		if m.From == fromSeg && m.To == toSeg {
			picked = append(picked, m)
		}
	}
	slices.SortFunc(picked, func(x, y *app.Move) int { return cmp.Or(y.At.Compare(x.At), cmp.Compare(x.ID, y.ID)) })
	total := len(picked)
	picked = picked[:min(total, maxMovedRecords)]
	refs := make([]app.ClientRef, len(picked))
	for i, m := range picked {
		refs[i] = app.ClientRef{Entity: e, ID: m.ID}
	}
	links, err := a.recordLinks(ctx, sess.MemberID, refs)
	if err != nil {
		apiError(c, sess.Lang, err)
		return
	}
	out := make([]MovedRecord, len(picked))
	for i, m := range picked {
		l := links[refs[i]]
		out[i] = MovedRecord{ID: m.ID, Title: l.Title, URL: l.URL, At: m.At}
	}
	c.JSON(http.StatusOK, gin.H{"records": out, "total": total})
}

// segmentMoves is how many entries and exits a segment's page lists.
const segmentMoves = 20

// SegmentPage answers one segment: its size and worth now, the top
// product sections of its won deals, its conditions in words, its daily
// figures, and (administrators) its 20 latest entries and exits with why.
func (a *API) SegmentPage(c *gin.Context) {
	sess := sessionOf(c)
	ctx := c.Request.Context()
	e, ok := parseEntity(c.Param("entity"))
	if !ok {
		apiError(c, sess.Lang, badEntity(sess.Lang))
		return
	}
	if !a.insight(c, sess) {
		return
	}
	key := c.Param("key")
	cfg := a.savedConfig(ctx, sess.MemberID)
	seg := savedSegment(cfg, e, key)
	t, names, dir, err := a.teller(ctx, sess.MemberID, sess.Lang, cfg)
	if err != nil {
		apiError(c, sess.Lang, err)
		return
	}
	fig, err := a.Insight.Segment(ctx, sess.MemberID, e, key)
	if err != nil {
		apiError(c, sess.Lang, err)
		return
	}
	if seg == nil && fig.Figures.Count == 0 {
		apiError(c, sess.Lang, userError(app.ENotFound, sess.Lang, "no_such_segment"))
		return
	}
	for i := range fig.Sections {
		fig.Sections[i].Name = names.Sections[fig.Sections[i].ID]
		if fig.Sections[i].Name == "" {
			fig.Sections[i].Name = say(sess.Lang, "section", fig.Sections[i].ID)
		}
	}
	out := gin.H{"entity": e, "key": key, "name": t.SegmentName(e, key), "figures": fig, "removed": seg == nil}
	conditions := []segment.Line{}
	if seg != nil {
		out["name"], out["color"] = seg.Name, seg.Color
		conditions = t.Conditions(e, seg.When)
		if seg.When == nil {
			conditions = append(conditions, segment.Line{Text: say(sess.Lang, "otherwise_rule")})
		}
	}
	out["conditions"] = conditions
	if sess.Admin {
		entries, err := a.Store.FindAudit(ctx, sess.MemberID, app.AuditFilter{Entity: string(e), Segment: key}, 10*segmentMoves)
		if err != nil {
			apiError(c, sess.Lang, err)
			return
		}
		links, err := a.recordLinks(ctx, sess.MemberID, auditRefs(entries))
		if err != nil {
			apiError(c, sess.Lang, err)
			return
		}
		in, outs := []ChangeView{}, []ChangeView{}
		for _, en := range entries {
			if en.From.Segment == en.To.Segment {
				continue
			}
			v := tellChange(t, dir, sess.Lang, en)
			l := links[app.ClientRef{Entity: e, ID: en.ID}]
			v.Title, v.URL = l.Title, l.URL
			if en.To.Segment == key && len(in) < segmentMoves {
				in = append(in, v)
			} else if en.From.Segment == key && len(outs) < segmentMoves {
				outs = append(outs, v)
			}
		}
		out["entries"], out["exits"] = in, outs
	}
	c.JSON(http.StatusOK, out)
}

func writeCSV(c *gin.Context, name string, rows [][]string) {
	c.Header("Content-Type", "text/csv; charset=utf-8")
	c.Header("Content-Disposition", `attachment; filename="`+name+`"`)
	c.Status(http.StatusOK)
	// A byte-order mark, so that spreadsheet programs read UTF-8 names.
	_, _ = c.Writer.WriteString("\ufeff")
	w := csv.NewWriter(c.Writer)
	_ = w.WriteAll(rows)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func entityPlural(e segment.Entity, lang string) string {
	switch e {
	case segment.EntityContact:
		return say(lang, "contacts")
	case segment.EntityCompany:
		return say(lang, "companies")
	}
	return say(lang, "deals")
}
