package bitrix

import (
	"context"
	"errors"
	"testing"
	"time"
)

func scanEnv(t testing.TB, n int) (*testEnv, *fakeBatch, *dealTable) {
	e := setup(t)
	fb := newFakeBatch(t)
	e.handle("batch", fb.ServeHTTP)
	d := newDealTable(n)
	fb.methods["crm.deal.list"] = d.dealList
	fb.methods["crm.item.list"] = d.itemList
	return e, fb, d
}

func TestScanAll(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, 49, 50, 51, 2500, 2501, 10000} {
		for _, method := range []string{"crm.deal.list", "crm.item.list"} {
			e, fb, d := scanEnv(t, n)
			var got []ID
			cursor, err := e.portal.Scan(context.Background(), ScanOptions{Method: method, EntityTypeID: entityFor(method)}, func(p *ScanPage) error {
				if len(p.Rows) > PageSize {
					t.Errorf("page of %d rows", len(p.Rows))
				}
				for _, r := range p.Rows {
					id, err := RowID(r, idFieldFor(method))
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, id)
				}
				return nil
			})
			if err != nil {
				t.Fatalf("%s n=%d: %v", method, n, err)
			}
			checkIDs(t, d, got)
			if n > 0 && cursor != ID(d.ids[n-1]) {
				t.Errorf("%s n=%d: cursor %d, want %d", method, n, cursor, d.ids[n-1])
			}
			// 2,500 rows per request; one more request sees the end unless the
			// last page was short.
			want := n/2500 + 1
			if fb.requestCount() != want {
				t.Errorf("%s n=%d: %d requests, want %d", method, n, fb.requestCount(), want)
			}
		}
	}
}

func entityFor(method string) int {
	if method == "crm.item.list" {
		return 2
	}
	return 0
}

func idFieldFor(method string) string {
	if method == "crm.item.list" {
		return "id"
	}
	return "ID"
}

func checkIDs(t *testing.T, d *dealTable, got []ID) {
	t.Helper()
	if len(got) != len(d.ids) {
		t.Fatalf("got %d rows, want %d", len(got), len(d.ids))
	}
	for i, id := range got {
		if int64(id) != d.ids[i] {
			t.Fatalf("row %d: id %d, want %d (gap or repeat)", i, id, d.ids[i])
		}
	}
}

func TestScan10000DealsAtMost5Requests(t *testing.T) {
	e, fb, _ := scanEnv(t, 10000)
	rows := 0
	_, err := e.portal.Scan(context.Background(), ScanOptions{Method: "crm.deal.list"}, func(p *ScanPage) error {
		rows += len(p.Rows)
		return nil
	})
	if err != nil || rows != 10000 || fb.requestCount() > 5 {
		t.Errorf("rows=%d requests=%d err=%v", rows, fb.requestCount(), err)
	}
	t.Logf("%d rows in %d HTTP requests (%.0f rows/request)", rows, fb.requestCount(), float64(rows)/float64(fb.requestCount()))
}

func TestScanResume(t *testing.T) {
	e, _, d := scanEnv(t, 7000)
	errStop := errors.New("stop")
	var got []ID
	take := func(p *ScanPage) error {
		for _, r := range p.Rows {
			id, _ := RowID(r, "ID")
			got = append(got, id)
		}
		return nil
	}
	pages := 0
	cursor, err := e.portal.Scan(context.Background(), ScanOptions{Method: "crm.deal.list"}, func(p *ScanPage) error {
		pages++
		if pages == 63 { // mid-request: the worker is told to stop
			return errStop
		}
		return take(p)
	})
	if !errors.Is(err, errStop) {
		t.Fatalf("err = %v", err)
	}
	if len(got) != 62*PageSize || cursor != got[len(got)-1] {
		t.Fatalf("stopped with %d rows, cursor %d", len(got), cursor)
	}
	cursor, err = e.portal.Scan(context.Background(), ScanOptions{Method: "crm.deal.list", After: cursor}, take)
	if err != nil {
		t.Fatal(err)
	}
	checkIDs(t, d, got)
	if cursor != ID(d.ids[len(d.ids)-1]) {
		t.Errorf("final cursor %d", cursor)
	}
}

func TestScanPassesSelectAndFilter(t *testing.T) {
	e, _, d := scanEnv(t, 10)
	_, err := e.portal.Scan(context.Background(), ScanOptions{
		Method:          "crm.deal.list",
		Select:          []string{"TITLE", "OPPORTUNITY"},
		Filter:          map[string]any{"CATEGORY_ID": 3, "!STAGE_SEMANTIC_ID": "F"},
		Params:          map[string]any{"useOriginalUfNames": "Y"},
		PagesPerRequest: 2,
	}, func(*ScanPage) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	d.mu.Lock()
	q, last := d.args[0], d.args[len(d.args)-1]
	d.mu.Unlock()
	// The second chained page refers to the first one's 50th row, which a
	// table of 10 rows lacks: the portal passes the text through, and Scan
	// must have stopped at the short first page anyway.
	if got := last.Get("filter[>ID]"); got != "$result[p00][49][ID]" {
		t.Errorf("chained filter = %q", got)
	}
	for k, want := range map[string]string{
		"select[0]": "TITLE", "select[1]": "OPPORTUNITY", "select[2]": "ID",
		"filter[CATEGORY_ID]": "3", "filter[!STAGE_SEMANTIC_ID]": "F", "filter[>ID]": "0",
		"useOriginalUfNames": "Y", "start": "-1", "order[ID]": "ASC",
	} {
		if q.Get(k) != want {
			t.Errorf("%s = %q, want %q (all: %v)", k, q.Get(k), want, q)
		}
	}
}

func TestScanStalledCursor(t *testing.T) {
	e, _, d := scanEnv(t, 500)
	d.ignoreFilter = true
	pages := 0
	_, err := e.portal.Scan(context.Background(), ScanOptions{Method: "crm.deal.list", PagesPerRequest: 3}, func(*ScanPage) error {
		pages++
		return nil
	})
	if !errors.Is(err, ErrStalledCursor) || pages != 1 {
		t.Errorf("err = %v after %d pages", err, pages)
	}
}

func TestScanErrors(t *testing.T) {
	e, fb, _ := scanEnv(t, 120)
	ctx := context.Background()
	noop := func(*ScanPage) error { return nil }
	if _, err := e.portal.Scan(ctx, ScanOptions{Method: "crm.deal.list", Filter: map[string]any{">ID": 5}}, noop); err == nil {
		t.Error("filter on >ID accepted")
	}
	if _, err := e.portal.Scan(ctx, ScanOptions{Method: "crm.deal.list", PagesPerRequest: 51}, noop); err == nil {
		t.Error("51 pages per request accepted")
	}
	// A failing page stops the scan and keeps the cursor of the last good page.
	fb.fail = func(name string, req int) *APIError {
		if name == "p01" {
			return &APIError{Code: "ACCESS_DENIED", Description: "Access denied"}
		}
		return nil
	}
	cursor, err := e.portal.Scan(ctx, ScanOptions{Method: "crm.deal.list"}, noop)
	if !IsAccessDenied(err) || cursor == 0 {
		t.Errorf("cursor=%d err=%v", cursor, err)
	}
}

func TestScanRetriesRefusedPage(t *testing.T) {
	e, fb, d := scanEnv(t, 300)
	fb.fail = func(name string, req int) *APIError {
		if name == "p02" && req == 0 {
			return &APIError{Code: "OPERATION_TIME_LIMIT", Description: "Method is blocked due to operation time limit."}
		}
		return nil
	}
	var got []ID
	_, err := e.portal.Scan(context.Background(), ScanOptions{Method: "crm.deal.list"}, func(p *ScanPage) error {
		for _, r := range p.Rows {
			id, _ := RowID(r, "ID")
			got = append(got, id)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	checkIDs(t, d, got)
	if len(e.clock.Sleeps()) == 0 {
		t.Error("no pause after OPERATION_TIME_LIMIT")
	}
}

func TestDecodeRows(t *testing.T) {
	e, _, _ := scanEnv(t, 3)
	var titles []string
	_, err := e.portal.Scan(context.Background(), ScanOptions{Method: "crm.deal.list"}, func(p *ScanPage) error {
		rows, err := DecodeRows[struct {
			ID    ID
			TITLE string
		}](p)
		for _, r := range rows {
			titles = append(titles, r.TITLE)
		}
		return err
	})
	if err != nil || len(titles) != 3 || titles[0] != "Deal 1" {
		t.Errorf("titles = %v, %v", titles, err)
	}
}

func TestPageRows(t *testing.T) {
	tests := []struct {
		in, key string
		n       int
		wantErr bool
	}{
		{`[{"ID":"1"}]`, "", 1, false},
		{`[]`, "", 0, false},
		{`{}`, "", 0, false},
		{`null`, "", 0, false},
		{`{"items":[{"id":1},{"id":2}]}`, "items", 2, false},
		{`{"items":[]}`, "items", 0, false},
		{`[]`, "items", 0, false},
		{`{"other":1}`, "items", 0, false},
		{`{"1":{"ID":"1"}}`, "", 0, true},
		{`"x"`, "", 0, true},
	}
	for _, tt := range tests {
		rows, err := PageRows([]byte(tt.in), tt.key)
		if (err != nil) != tt.wantErr || len(rows) != tt.n {
			t.Errorf("PageRows(%s, %q) = %d rows, %v", tt.in, tt.key, len(rows), err)
		}
	}
}

// BenchmarkScan reports rows per HTTP request and rows per second of a
// keyset scan against the in-process fake portal (no limiter). Against the
// real limits the ceiling is 2 requests/s × 2,500 rows = 5,000 rows/s.
func BenchmarkScan(b *testing.B) {
	e, fb, _ := scanEnv(b, 10000)
	rows := 0
	b.ResetTimer()
	for range b.N {
		_, err := e.portal.Scan(context.Background(), ScanOptions{Method: "crm.deal.list"}, func(p *ScanPage) error {
			rows += len(p.Rows)
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(rows)/float64(fb.requestCount()), "rows/request")
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}

// A page refused past the retries ends the scan with a *RateLimitedError of
// the method's pause, keeping the cursor of the last good page.
func TestScanRefusedPastRetries(t *testing.T) {
	e, fb, _ := scanEnv(t, 300)
	// The first request's first page runs; every page after it is refused.
	fb.fail = func(name string, req int) *APIError {
		if req > 0 || name != "p00" {
			return &APIError{Code: "OPERATION_TIME_LIMIT", Description: "Method is blocked due to operation time limit."}
		}
		return nil
	}
	pages := 0
	cursor, err := e.portal.Scan(context.Background(), ScanOptions{Method: "crm.deal.list"}, func(*ScanPage) error {
		pages++
		return nil
	})
	var rl *RateLimitedError
	if !errors.As(err, &rl) || rl.Reason != "operating" || rl.RetryIn < time.Minute-time.Second || !IsOperationLimit(err) {
		t.Fatalf("err = %v, want RateLimitedError of the method's pause", err)
	}
	if pages != 1 || cursor == 0 {
		t.Errorf("cursor %d after %d pages, want the first page's", cursor, pages)
	}
}
