package handlers_test

import (
	"context"
	"encoding/csv"
	"slices"
	"strings"
	"testing"
	"time"

	"segmentor/app"
	"segmentor/app/segment"
	"segmentor/bitrix/b24sim"
	"segmentor/engine"
	"segmentor/handlers"
	"segmentor/internal/await"
)

// The recompute after a save keeps the day's figures and logs every
// record's move from "no segment" to its segment: the trends show today,
// days kept before (a missed day stays a gap), the matrix the moves, a
// cell its records, a segment's page its figures, conditions and entries.
func TestSegmentTrendsMovementAndPage(t *testing.T) {
	s := newSettingsStack(t, "en")
	s.sim.Seed(b24sim.GenOptions{Contacts: 80, Companies: 10, Deals: 250})
	admin, rep := s.login(1), s.login(s.rep.ID)
	applyConfig(t, s, admin, savedInsightConfig)
	keys := readSimBase(t, s).contactKeys(2, false)
	want := map[string]int64{}
	for _, k := range keys {
		want[k]++
	}
	ctx := context.Background()
	member := s.sim.MemberID()
	today := app.DayOf(s.store.Now())
	// Today's snapshot, then the estimate of the year before it.
	await.That(t, 20*time.Second, "today's snapshot and the year estimated before it", func() bool {
		h, _ := s.store.History(ctx, member, segment.EntityContact, today-app.Day(engine.EstimateDays), today)
		return len(h) == engine.EstimateDays+1 && !h[len(h)-1].Estimated && h[0].Estimated
	})
	// Two days kept before today replace their estimates.
	for d, buyers := range map[app.Day]int64{today - 3: 2, today - 2: 5} {
		err := s.store.PutSnapshot(ctx, member, app.Snapshot{Day: d, Entity: segment.EntityContact, Currency: "USD",
			Segments: []app.Figures{{Segment: "buyer", Count: buyers, Value: buyers * 100, Won: buyers}, {Segment: "rest", Count: 80 - buyers}}})
		if err != nil {
			t.Fatal(err)
		}
	}

	r := s.do("GET", "/api/v1/insight/trends?entity=contact&days=30", rep, nil)
	if r.Status != 200 {
		t.Fatalf("trends: %d %s", r.Status, r.Raw)
	}
	var tr struct {
		Dates     []string               `json:"dates"`
		Estimated []bool                 `json:"estimated"`
		Series    []handlers.TrendSeries `json:"series"`
		Latest    []handlers.SegmentNow  `json:"latest"`
		Snapshots int                    `json:"snapshots"`
		SVG       string                 `json:"svg"`
		Text      string                 `json:"text"`
	}
	decodeJSON(t, r.Raw, &tr)
	if len(tr.Dates) != 30 || tr.Dates[29] != today.String() || tr.Snapshots != 30 || len(tr.Series) != 2 || len(tr.Estimated) != 30 {
		t.Fatalf("trends: %d dates ending %v, %d snapshots, %d series", len(tr.Dates), tr.Dates[len(tr.Dates)-1:], tr.Snapshots, len(tr.Series))
	}
	for i, est := range tr.Estimated {
		if est != (i < 26 || i == 28) {
			t.Errorf("day %d (%s) estimated=%v", i, tr.Dates[i], est)
		}
	}
	buyer := tr.Series[0]
	if buyer.Key != "buyer" || buyer.Name != "Buyer" || buyer.Color != "#d4380d" || buyer.Counts[26] == nil || *buyer.Counts[26] != 2 ||
		*buyer.Counts[27] != 5 || buyer.Counts[28] == nil || *buyer.Counts[29] != float64(want["buyer"]) || buyer.Counts[0] == nil {
		t.Errorf("buyer series %+v", buyer)
	}
	if total := *buyer.Counts[0] + *tr.Series[1].Counts[0]; total != 80 {
		t.Errorf("an estimated day counts %v contacts, want 80", total)
	}
	if tr.Latest[0].Key != "buyer" || tr.Latest[0].Count != want["buyer"] || tr.Latest[1].Count != want["rest"] {
		t.Errorf("latest %+v, want %v", tr.Latest, want)
	}
	// The chart carries the data it drew, hatches the leading estimated
	// days and says it all in words.
	if !strings.Contains(tr.SVG, `data-key="buyer"`) || !strings.Contains(tr.SVG, `role="img"`) || !strings.Contains(tr.SVG, "<desc") ||
		!strings.Contains(tr.SVG, `data-estimated="26"`) || !strings.Contains(tr.Text, "Buyer: ") ||
		!strings.Contains(tr.Text, "estimated from deal dates") {
		t.Errorf("chart: %s\ntext: %s", tr.SVG[:min(300, len(tr.SVG))], tr.Text)
	}

	// A missed day stays a gap: the deals have no scheme, so no estimate,
	// only the days kept when they had one.
	for _, d := range []app.Day{today - 3, today - 1} {
		if err := s.store.PutSnapshot(ctx, member, app.Snapshot{Day: d, Entity: segment.EntityDeal, Currency: "USD",
			Segments: []app.Figures{{Segment: "big", Count: 4}}}); err != nil {
			t.Fatal(err)
		}
	}
	r = s.do("GET", "/api/v1/insight/trends?entity=deal&days=30", rep, nil)
	var dt struct {
		Estimated []bool                 `json:"estimated"`
		Series    []handlers.TrendSeries `json:"series"`
		Snapshots int                    `json:"snapshots"`
		SVG       string                 `json:"svg"`
	}
	decodeJSON(t, r.Raw, &dt)
	if r.Status != 200 || dt.Snapshots != 2 || len(dt.Series) != 1 || dt.Series[0].Counts[26] == nil || dt.Series[0].Counts[27] != nil ||
		dt.Series[0].Counts[28] == nil || dt.Series[0].Counts[29] != nil || slices.Contains(dt.Estimated, true) || !strings.Contains(dt.SVG, `data-estimated="0"`) {
		t.Errorf("deal trends: %d %s", r.Status, r.Raw)
	}
	if r := s.do("GET", "/api/v1/insight/trends?entity=contact&days=7", rep, nil); r.Status != 400 {
		t.Errorf("days=7: %d", r.Status)
	}

	// The CSV has a row per day with figures and segment.
	r = s.do("GET", "/api/v1/insight/trends?entity=contact&days=30&format=csv", admin, nil)
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(string(r.Raw), "\ufeff"))).ReadAll()
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Errorf("csv content type %q", ct)
	}
	if err != nil || len(rows) != 1+30*2 || rows[0][0] != "day" || rows[0][8] != "estimated" || rows[1][0] != (today-29).String() || rows[1][8] != "yes" ||
		rows[53][0] != (today-3).String() || rows[53][2] != "Buyer" || rows[53][3] != "2" || rows[53][8] != "no" {
		t.Fatalf("csv %v (%v)", rows, err)
	}

	// The movement matrix: every contact came from no segment today.
	r = s.do("GET", "/api/v1/insight/movement?entity=contact", rep, nil)
	if r.Status != 200 {
		t.Fatalf("movement: %d %s", r.Status, r.Raw)
	}
	var mv struct {
		Cells []handlers.MovementCell `json:"cells"`
		Moved int                     `json:"moved"`
	}
	decodeJSON(t, r.Raw, &mv)
	got := map[string]int{}
	for _, c := range mv.Cells {
		got[c.From+">"+c.To] = c.Count
	}
	if got[">buyer"] != int(want["buyer"]) || got[">rest"] != int(want["rest"]) || mv.Moved != 80 {
		t.Errorf("movement %v (moved %d), want %v", got, mv.Moved, want)
	}
	// The recompute's moves are not edits in the CRM.
	r = s.do("GET", "/api/v1/insight/movement?entity=contact&trigger=change", rep, nil)
	if r.Status != 200 || len(r.Body["cells"].([]any)) != 0 {
		t.Errorf("moves of edits: %d %s", r.Status, r.Raw)
	}
	// A cell's records: for administrators, with links to their cards.
	if r := s.do("GET", "/api/v1/insight/movement/records?entity=contact&from_segment=&to_segment=buyer", rep, nil); r.Status != 403 {
		t.Errorf("a rep reads the moved records: %d", r.Status)
	}
	r = s.do("GET", "/api/v1/insight/movement/records?entity=contact&from_segment=&to_segment=buyer", admin, nil)
	var recs struct {
		Records []handlers.MovedRecord `json:"records"`
		Total   int                    `json:"total"`
	}
	decodeJSON(t, r.Raw, &recs)
	if r.Status != 200 || recs.Total != int(want["buyer"]) || len(recs.Records) != recs.Total {
		t.Fatalf("records: %d %s", r.Status, r.Raw)
	}
	for _, rec := range recs.Records {
		if keys[rec.ID] != "buyer" || rec.Title == "" || !strings.Contains(rec.URL, "/crm/contact/details/") {
			t.Errorf("record %+v (is %q)", rec, keys[rec.ID])
		}
	}
	if r := s.do("GET", "/api/v1/insight/movement?entity=contact&from=2026-13-01", rep, nil); r.Status != 400 {
		t.Errorf("bad date: %d", r.Status)
	}

	// The segment's page.
	r = s.do("GET", "/api/v1/segments/contact/buyer", admin, nil)
	if r.Status != 200 {
		t.Fatalf("segment page: %d %s", r.Status, r.Raw)
	}
	var pg struct {
		Name       string                        `json:"name"`
		Figures    struct{ Figures app.Figures } `json:"figures"`
		Conditions []segment.Line                `json:"conditions"`
		Entries    []handlers.ChangeView         `json:"entries"`
	}
	decodeJSON(t, r.Raw, &pg)
	if pg.Name != "Buyer" || pg.Figures.Figures.Count != want["buyer"] || len(pg.Conditions) != 1 ||
		pg.Conditions[0].Text != "Won deals: at least 2" || len(pg.Entries) != min(20, int(want["buyer"])) {
		t.Errorf("segment page %+v", pg)
	}
	for _, e := range pg.Entries {
		if e.To.Segment != "buyer" || e.Why.Summary == "" || e.URL == "" {
			t.Errorf("entry %+v", e)
		}
	}
	r = s.do("GET", "/api/v1/segments/contact/buyer", rep, nil)
	if r.Status != 200 || r.Body["entries"] != nil {
		t.Errorf("a rep's segment page: %d %s", r.Status, r.Raw)
	}
	if r := s.do("GET", "/api/v1/segments/contact/nosuch", admin, nil); r.Status != 404 {
		t.Errorf("unknown segment: %d", r.Status)
	}
}
