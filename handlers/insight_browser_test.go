package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"

	"segmentor/app"
	"segmentor/app/segment"
	"segmentor/bitrix/b24sim"
	"segmentor/engine"
	"segmentor/handlers"
	"segmentor/internal/await"
	"segmentor/internal/browsertest"
	"segmentor/internal/keyspace"
)

// trendsShown is what the trends card shows: each band the chart drew
// (its key and values), the legend, the latest figures and the caption.
const trendsShown = `JSON.stringify({
	days: document.getElementById("tr-card").dataset.days,
	points: Number(document.querySelector("#tr-chart svg").dataset.points),
	estimated: Number(document.querySelector("#tr-chart svg").dataset.estimated),
	hatched: !!document.querySelector("#tr-chart g.chart__estimate rect"),
	series: Array.from(document.querySelectorAll("#tr-chart g.chart__series"), g => [g.dataset.key, g.dataset.values]),
	legend: Array.from(document.querySelectorAll("#tr-legend .legend__item"), li => [li.dataset.key, li.querySelector(".legend__name").textContent]),
	latest: Array.from(document.querySelectorAll("#tr-latest tbody tr"), tr => [tr.dataset.key, tr.children[0].textContent, tr.children[1].textContent.replace(/\D/g, "")]),
	text: document.getElementById("tr-text").textContent})`

// matrixShown is what the movement card shows: its period, the headers of
// the rows and columns, and each cell's number ("" for a blank one).
const matrixShown = `JSON.stringify({
	from: document.getElementById("mv-matrix").dataset.from, to: document.getElementById("mv-matrix").dataset.to,
	cols: Array.from(document.querySelectorAll("#mv-matrix thead th"), th => [th.dataset.key, th.textContent]),
	rows: Array.from(document.querySelectorAll("#mv-matrix tbody th"), th => [th.parentElement.dataset.key, th.textContent]),
	cells: Array.from(document.querySelectorAll("#mv-matrix td.mx-cell"), td => [td.dataset.from, td.dataset.to, td.textContent.replace(/\D/g, "")]),
	buttons: document.querySelectorAll("#mv-matrix .mx-btn").length})`

// segmentShown is what a segment's page shows.
const segmentShown = `JSON.stringify({
	key: document.getElementById("seg-page").dataset.key,
	name: document.getElementById("seg-title").textContent,
	count: document.querySelector("#seg-count [data-count]").dataset.count,
	countText: document.querySelector("#seg-count [data-count]").textContent.replace(/\D/g, ""),
	conditions: Array.from(document.querySelectorAll("#seg-conditions .outline__line"), li => li.textContent),
	entries: Array.from(document.querySelectorAll("#seg-entries tr.seg-change a"), a => a.href),
	exits: Array.from(document.querySelectorAll("#seg-exits tr.seg-change a"), a => a.href),
	dimmed: Array.from(document.querySelectorAll("#tr-chart g.chart__series.is-dim"), g => g.dataset.key),
	drawn: Array.from(document.querySelectorAll("#tr-chart g.chart__series"), g => g.dataset.key)})`

// rawKeys lists the words of the page that look like a text's key
// ("trTitle", "mvCaption"): a text t() did not find.
const rawKeys = `JSON.stringify(Array.from(new Set(document.body.innerText.match(/\b[a-z]+[A-Z][A-Za-z]*\b/g) || [])))`

// insightLatinWords is latinWords over the trends and the matrix only.
var insightLatinWords = strings.Replace(latinWords, "document.body.innerText", `document.getElementById("insight").innerText`, 1)

// sideways lists what overflows the page to the right: the page itself
// scrolling sideways, or a card past its edge (a wide matrix scrolls in its
// own box instead).
const sideways = `JSON.stringify((() => {
	const bad = [], doc = document.documentElement;
	if (doc.scrollWidth > doc.clientWidth) bad.push("the page scrolls sideways: " + doc.scrollWidth + " > " + doc.clientWidth);
	document.querySelectorAll("#app .card, #app table").forEach(el => {
		const r = el.getBoundingClientRect(), box = el.closest(".mx-wrap, .table-wrap");
		const right = box && box !== el ? Math.min(box.getBoundingClientRect().right, r.right) : r.right;
		if (right > doc.clientWidth + 0.5) bad.push((el.id || el.className) + " ends at " + Math.round(right) + " of " + doc.clientWidth);
	});
	return bad;
})())`

// The overview shows how a scheme's segments grew day by day (a gap where
// a day has no snapshot), where records moved over a period, and each
// segment's page; in English and Russian, as the API answers it, with no
// text missing, fitting 600 px. An administrator opens a cell's records; a
// sales rep sees the counts only.
func TestInsightViewsInBrowser(t *testing.T) {
	exe := chromium(t)
	s := newSettingsStack(t, "en")
	s.sim.Seed(b24sim.GenOptions{Contacts: 80, Companies: 10, Deals: 250})
	admin := s.login(1)
	applyConfig(t, s, admin, savedInsightConfig)
	keys := readSimBase(t, s).contactKeys(2, false)
	ctx := context.Background()
	member := s.sim.MemberID()
	today := app.DayOf(s.store.Now())
	// Today's snapshot, then the estimate of the year before it; the test
	// then lays out the history it checks: estimated days 100 to 61 days
	// ago, kept days 40, 3 and 2 days ago and today, gaps between.
	await.That(t, 20*time.Second, "today's snapshot and the year estimated before it", func() bool {
		h, _ := s.store.History(ctx, member, segment.EntityContact, 0, today)
		return len(h) == engine.EstimateDays+1 && h[0].Estimated
	})
	kept, err := s.store.History(ctx, member, segment.EntityContact, today, today)
	if err != nil || len(kept) != 1 {
		t.Fatalf("today's snapshot: %v %v", kept, err)
	}
	if err := s.rdb.Del(ctx, keyspace.Portal(member, "history:contact")).Err(); err != nil {
		t.Fatal(err)
	}
	figures := func(d app.Day, buyers int64) app.Snapshot {
		return app.Snapshot{Day: d, Entity: segment.EntityContact, Currency: "USD",
			Segments: []app.Figures{{Segment: "buyer", Count: buyers, Value: buyers * 1250, Won: buyers * 2}, {Segment: "rest", Count: 80 - buyers, Open: 3}}}
	}
	for _, snap := range []app.Snapshot{kept[0], figures(today-40, 1), figures(today-3, 2), figures(today-2, 5)} {
		if err := s.store.PutSnapshot(ctx, member, snap); err != nil {
			t.Fatal(err)
		}
	}
	var est []app.Snapshot
	for d := today - 100; d <= today-61; d++ {
		est = append(est, figures(d, 1))
	}
	if err := s.store.PutEstimates(ctx, member, segment.EntityContact, est); err != nil {
		t.Fatal(err)
	}
	// Ten days ago three of today's buyers left Rest for Buyer (the moves
	// log's oldest end): over 30 days they moved Rest → Buyer, over 7 from
	// no segment, as everyone the recompute classified today.
	var buyers []int64
	for id, k := range keys {
		if k == "buyer" {
			buyers = append(buyers, id)
		}
	}
	slices.Sort(buyers)
	if len(buyers) < 4 {
		t.Fatalf("the seeded base has %d buyers, want at least 4", len(buyers))
	}
	movedEarlier := buyers[:3]
	for _, id := range movedEarlier {
		line := fmt.Sprintf("%d contact %d rest buyer -", today.Time().Add(-10*24*time.Hour).Unix(), id)
		if err := s.rdb.RPush(ctx, keyspace.Portal(member, "moves"), line).Err(); err != nil {
			t.Fatal(err)
		}
	}

	t.Setenv("SCREENSHOT_DIR", browsertest.Artifacts(t))
	f := newFrames(t)
	b := newBrowser(t, exe, 180*time.Second)
	for _, lang := range []string{"en", "ru"} {
		token := loginIn(t, s, 1, lang)
		b.step("opens the overview in "+lang,
			chromedp.EmulateViewport(1280, 900),
			chromedp.Navigate(f.openIn(t, s, 1, lang)),
			chromedp.WaitVisible(chromedp.CSS(`body[data-ready="admin"]`)),
			waitFor(`!!document.querySelector('#tr-card[data-days="90"] #tr-chart g.chart__series') && !!document.getElementById("mv-matrix")`),
		)
		// The trends as the API gives them, for the default 90 days and 30.
		checkTrends(t, b, s, token, lang, 90)
		b.step("switches the trends to 30 days",
			chromedp.Click(chromedp.ID("tr-days-30")),
			waitFor(`!!document.querySelector('#tr-card[data-days="30"] #tr-chart g.chart__series')`),
		)
		checkTrends(t, b, s, token, lang, 30)

		// The matrix over 30 days (the default), then 7.
		cells := checkMatrix(t, b, s, token, lang, 30)
		if cells["rest>buyer"] != len(movedEarlier) {
			t.Errorf("%s: over 30 days %d records moved Rest → Buyer, want %d", lang, cells["rest>buyer"], len(movedEarlier))
		}
		b.step("switches the matrix to 7 days",
			chromedp.Click(chromedp.ID("mv-days-7")),
			waitFor(`!!document.querySelector('#mv-card[data-days="7"] #mv-matrix')`),
		)
		if cells := checkMatrix(t, b, s, token, lang, 7); cells["rest>buyer"] != 0 || cells[">buyer"] != len(buyers) {
			t.Errorf("%s: over 7 days the matrix reads %v, want all %d buyers from no segment", lang, cells, len(buyers))
		}
		b.step("goes back to 30 days", chromedp.Click(chromedp.ID("mv-days-30")), waitFor(`!!document.querySelector('#mv-card[data-days="30"] #mv-matrix')`))

		if u := b.eval(`JSON.stringify(Segmentor.untranslated)`); u != "[]" {
			t.Errorf("texts with no Russian translation: %s", u)
		}
		if k := b.eval(rawKeys); k != "[]" {
			t.Errorf("%s: the overview shows text keys: %s", lang, k)
		}
		// The Russian views say nothing in English (the rest of the overview
		// is TestOverviewLayoutInBrowser's).
		if lang == "ru" {
			if w := b.eval(insightLatinWords); w != "[]" {
				t.Errorf("the Russian trends and matrix show words in English: %s\n%s", w, b.eval(`document.getElementById("insight").innerText`))
			}
		}
		for _, width := range []int64{900, 1280} {
			b.step(fmt.Sprintf("lays the overview out at %d px", width), chromedp.EmulateViewport(width, 900))
			if bad := b.eval(overviewLayout); bad != "[]" {
				t.Errorf("%s at %d px: %s", lang, width, bad)
			}
		}
		b.step("lays the overview out at 600 px", chromedp.EmulateViewport(600, 900))
		if bad := b.eval(sideways); bad != "[]" {
			t.Errorf("%s at 600 px: %s", lang, bad)
		}
		b.shot("insight-overview-"+lang, 600)
		b.shot("insight-overview-"+lang, 1280)

		// An administrator lists the records behind a cell, with links.
		b.step("opens the records that moved Rest → Buyer",
			chromedp.EmulateViewport(1280, 900),
			chromedp.Click(chromedp.CSS(`#mv-matrix td[data-from="rest"][data-to="buyer"] .mx-btn`)),
			waitFor(`document.querySelectorAll("#mv-records .mv-list li").length > 0`),
		)
		var recs struct {
			Records []handlers.MovedRecord `json:"records"`
			Total   int                    `json:"total"`
		}
		shown := matrixOnPage(t, b)
		r := s.do("GET", "/api/v1/insight/movement/records?entity=contact&from="+shown.From+"&to="+shown.To+"&from_segment=rest&to_segment=buyer", token, nil)
		decodeJSON(t, r.Raw, &recs)
		// The three moved at the same second: the API lists them in no set
		// order.
		var want []string
		for _, rec := range recs.Records {
			want = append(want, strconv.FormatInt(rec.ID, 10)+" "+rec.URL)
		}
		var listed []string
		if err := json.Unmarshal([]byte(b.eval(`JSON.stringify(Array.from(document.querySelectorAll("#mv-records .mv-list li"), li => li.dataset.id + " " + li.querySelector("a").href))`)), &listed); err != nil {
			t.Fatal(err)
		}
		slices.Sort(want)
		slices.Sort(listed)
		if recs.Total != len(movedEarlier) || !cmp.Equal(listed, want) {
			t.Errorf("%s: the cell lists %v, the API %v (total %d, want %d)", lang, listed, want, recs.Total, len(movedEarlier))
		}

		// The figures download as the API's CSV.
		b.step("downloads the trends as CSV",
			chromedp.Evaluate[chromedp.Void](`window.csvText = null; (() => { const make = URL.createObjectURL;
				URL.createObjectURL = blob => { blob.text().then(x => { window.csvText = x; }); return make.call(URL, blob); }; })()`),
			chromedp.Click(chromedp.ID("tr-csv")),
			waitFor(`window.csvText !== null`),
		)
		csvWant := strings.TrimPrefix(string(s.do("GET", "/api/v1/insight/trends?entity=contact&days=30&format=csv", token, nil).Raw), "\ufeff")
		if got := strings.TrimPrefix(b.eval(`window.csvText`), "\ufeff"); got != csvWant || !strings.Contains(got, (today-3).String()) {
			t.Errorf("%s: the CSV downloaded is\n%s\nwant\n%s", lang, got, csvWant)
		}

		// A segment's page from today's table, then one from the legend.
		b.step("opens Buyer's page",
			chromedp.Click(chromedp.CSS(`.ov-scheme[data-entity="contact"] tr[data-key="buyer"] .seg-link`)),
			waitFor(`!!document.querySelector('#seg-page[data-key="buyer"] #seg-count [data-count]') && !!document.querySelector("#seg-page #tr-chart g.chart__series")`),
		)
		checkSegmentPage(t, b, s, token, lang, "buyer")
		if k := b.eval(rawKeys); k != "[]" {
			t.Errorf("%s: the segment's page shows text keys: %s", lang, k)
		}
		b.step("lays the segment's page out at 600 px", chromedp.EmulateViewport(600, 900))
		if bad := b.eval(sideways); bad != "[]" {
			t.Errorf("%s: the segment's page at 600 px: %s", lang, bad)
		}
		b.shot("insight-segment-"+lang, 600)
		b.shot("insight-segment-"+lang, 1280)
		b.step("goes back and opens Rest from the legend",
			chromedp.Click(chromedp.ID("seg-back")),
			waitFor(`!!document.querySelector("#tr-legend .seg-link[data-key='rest']")`),
			chromedp.Click(chromedp.CSS(`#tr-legend .seg-link[data-key="rest"]`)),
			waitFor(`!!document.querySelector('#seg-page[data-key="rest"] #seg-count [data-count]') && !!document.querySelector("#seg-page #tr-chart g.chart__series")`),
		)
		checkSegmentPage(t, b, s, token, lang, "rest")
	}

	// A sales rep sees how many moved, not which records.
	rep := b.tab()
	repToken := loginIn(t, s, s.rep.ID, "en")
	rep.step("rep opens the overview",
		chromedp.EmulateViewport(1280, 900),
		chromedp.Navigate(f.openIn(t, s, s.rep.ID, "en")),
		chromedp.WaitVisible(chromedp.CSS(`body[data-ready="readonly"]`)),
		waitFor(`!!document.getElementById("mv-matrix")`),
	)
	if m := checkMatrix(t, rep, s, repToken, "en", 30); m["rest>buyer"] != len(movedEarlier) {
		t.Errorf("the rep's matrix reads %v", m)
	}
	if n := rep.eval(`String(document.querySelectorAll("#mv-matrix .mx-btn").length)`); n != "0" {
		t.Errorf("the rep may open %s cells of the matrix", n)
	}
	rep.step("rep opens Buyer's page",
		chromedp.Click(chromedp.CSS(`.ov-scheme[data-entity="contact"] tr[data-key="buyer"] .seg-link`)),
		waitFor(`!!document.querySelector('#seg-page[data-key="buyer"] #seg-count [data-count]') && !!document.querySelector("#seg-page #tr-chart g.chart__series")`),
	)
	checkSegmentPage(t, rep, s, repToken, "en", "buyer")
	if got := rep.eval(`String(!!document.getElementById("seg-entries") || !!document.getElementById("seg-exits"))`); got != "false" {
		t.Errorf("the rep's segment page lists entries or exits")
	}
	b.noJSErrors("end")
	rep.noJSErrors("end")
}

// loginIn opens an API session for userID in lang, as the page does.
func loginIn(t *testing.T, s *settingsStack, userID int, lang string) string {
	t.Helper()
	tok := s.sim.IssueTokens(userID)
	r := s.do("POST", "/api/v1/session", "", map[string]string{"member_id": s.sim.MemberID(), "auth_id": tok.AccessToken, "lang": lang})
	token, _ := r.Body["token"].(string)
	if r.Status != 200 || token == "" {
		t.Fatalf("session: %d %s", r.Status, r.Raw)
	}
	return token
}

// checkTrends compares the trends card with the API's answer for days.
func checkTrends(t *testing.T, b *browser, s *settingsStack, token, lang string, days int) {
	t.Helper()
	r := s.do("GET", fmt.Sprintf("/api/v1/insight/trends?entity=contact&days=%d", days), token, nil)
	var api struct {
		Estimated []bool                 `json:"estimated"`
		Series    []handlers.TrendSeries `json:"series"`
		Latest    []handlers.SegmentNow  `json:"latest"`
		Text      string                 `json:"text"`
	}
	decodeJSON(t, r.Raw, &api)
	type shown struct {
		Days      string      `json:"days"`
		Points    int         `json:"points"`
		Estimated int         `json:"estimated"`
		Hatched   bool        `json:"hatched"`
		Series    [][2]string `json:"series"`
		Legend    [][2]string `json:"legend"`
		Latest    [][3]string `json:"latest"`
		Text      string      `json:"text"`
	}
	want := shown{Days: strconv.Itoa(days), Points: days, Series: [][2]string{}, Legend: [][2]string{}, Latest: [][3]string{}, Text: api.Text}
	for _, e := range api.Estimated {
		if !e {
			break
		}
		want.Estimated++
	}
	want.Hatched = want.Estimated > 0
	// 90 days: the 30 days from 89 to 61 days ago were estimated.
	if wantEst := map[int]int{90: 29, 30: 0}[days]; want.Estimated != wantEst {
		t.Errorf("%s, %d days: the API has %d leading estimated days, want %d", lang, days, want.Estimated, wantEst)
	}
	for _, ser := range api.Series {
		vals := make([]string, len(ser.Counts))
		for i, v := range ser.Counts {
			if v != nil {
				vals[i] = strconv.FormatFloat(*v, 'f', -1, 64)
			}
		}
		want.Series = append(want.Series, [2]string{ser.Key, strings.Join(vals, ",")})
		want.Legend = append(want.Legend, [2]string{ser.Key, ser.Name})
	}
	for _, l := range api.Latest {
		want.Latest = append(want.Latest, [3]string{l.Key, l.Name, strconv.FormatInt(l.Count, 10)})
	}
	var got shown
	if err := json.Unmarshal([]byte(b.eval(trendsShown)), &got); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("%s, %d days: the trends card differs from the API (-api +page):\n%s", lang, days, d)
	}
	if len(api.Series) != 2 || api.Series[0].Key != "buyer" || api.Series[0].Counts[days-2] != nil || api.Series[0].Counts[days-3] == nil {
		t.Errorf("%s, %d days: the API's series %+v lack the seeded days or the gap", lang, days, api.Series)
	}
}

type matrixPage struct {
	From    string      `json:"from"`
	To      string      `json:"to"`
	Cols    [][2]string `json:"cols"`
	Rows    [][2]string `json:"rows"`
	Cells   [][3]string `json:"cells"`
	Buttons int         `json:"buttons"`
}

func matrixOnPage(t *testing.T, b *browser) matrixPage {
	t.Helper()
	var m matrixPage
	if err := json.Unmarshal([]byte(b.eval(matrixShown)), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// checkMatrix compares the movement matrix with the API's answer for its
// period (the last days days) and returns its counts by "from>to".
func checkMatrix(t *testing.T, b *browser, s *settingsStack, token, lang string, days int) map[string]int {
	t.Helper()
	got := matrixOnPage(t, b)
	today := app.DayOf(s.store.Now())
	if got.To != today.String() || got.From != (today-app.Day(days)+1).String() {
		t.Errorf("%s: the matrix of %d days runs %s to %s", lang, days, got.From, got.To)
	}
	r := s.do("GET", "/api/v1/insight/movement?entity=contact&from="+got.From+"&to="+got.To, token, nil)
	var api struct {
		Segments []struct{ Key, Name string } `json:"segments"`
		Cells    []handlers.MovementCell      `json:"cells"`
	}
	decodeJSON(t, r.Raw, &api)
	counts := map[string]int{}
	for _, c := range api.Cells {
		counts[c.From+">"+c.To] = c.Count
	}
	want := matrixPage{From: got.From, To: got.To, Buttons: got.Buttons}
	for _, from := range api.Segments {
		want.Cols = append(want.Cols, [2]string{from.Key, from.Name})
		want.Rows = append(want.Rows, [2]string{from.Key, from.Name})
		for _, to := range api.Segments {
			n := ""
			if c := counts[from.Key+">"+to.Key]; c > 0 {
				n = strconv.Itoa(c)
			}
			want.Cells = append(want.Cells, [3]string{from.Key, to.Key, n})
		}
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("%s, %d days: the matrix differs from the API (-api +page):\n%s", lang, days, d)
	}
	if got.Buttons > 0 && got.Buttons != len(api.Cells) {
		t.Errorf("%s: %d cells open their records, want the %d with a count", lang, got.Buttons, len(api.Cells))
	}
	return counts
}

// checkSegmentPage compares a segment's page with the API's answer.
func checkSegmentPage(t *testing.T, b *browser, s *settingsStack, token, lang, key string) {
	t.Helper()
	r := s.do("GET", "/api/v1/segments/contact/"+key, token, nil)
	var api struct {
		Name    string `json:"name"`
		Figures struct {
			Figures app.Figures `json:"figures"`
		} `json:"figures"`
		Conditions []segment.Line        `json:"conditions"`
		Entries    []handlers.ChangeView `json:"entries"`
		Exits      []handlers.ChangeView `json:"exits"`
	}
	decodeJSON(t, r.Raw, &api)
	type shown struct {
		Key        string   `json:"key"`
		Name       string   `json:"name"`
		Count      string   `json:"count"`
		CountText  string   `json:"countText"`
		Conditions []string `json:"conditions"`
		Entries    []string `json:"entries"`
		Exits      []string `json:"exits"`
		Dimmed     []string `json:"dimmed"`
		Drawn      []string `json:"drawn"`
	}
	var got shown
	if err := json.Unmarshal([]byte(b.eval(segmentShown)), &got); err != nil {
		t.Fatal(err)
	}
	n := strconv.FormatInt(api.Figures.Figures.Count, 10)
	want := shown{Key: key, Name: api.Name, Count: n, CountText: n, Conditions: []string{}, Entries: []string{}, Exits: []string{},
		Drawn: got.Drawn, Dimmed: []string{}}
	for _, c := range api.Conditions {
		want.Conditions = append(want.Conditions, c.Text)
	}
	for _, e := range api.Entries {
		want.Entries = append(want.Entries, e.URL)
	}
	for _, e := range api.Exits {
		want.Exits = append(want.Exits, e.URL)
	}
	for _, k := range got.Drawn {
		if k != key {
			want.Dimmed = append(want.Dimmed, k)
		}
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("%s: %s's page differs from the API (-api +page):\n%s", lang, key, d)
	}
	if api.Figures.Figures.Count == 0 || len(api.Conditions) == 0 || !slices.Contains(got.Drawn, key) {
		t.Errorf("%s: %s's page has nothing to show: %+v", lang, key, api)
	}
}
