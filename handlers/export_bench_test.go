package handlers_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"segmentor"
	"segmentor/app"
	"segmentor/bitrix"
	"segmentor/engine"
	"segmentor/handlers"
	"segmentor/internal/mirrortest"
	"segmentor/internal/redistest"
)

// exportBenchMembers is the size of the segment exported.
const exportBenchMembers = 100000

// BenchmarkExportMembers100k times the CSV export of a segment of 100,000
// contacts (GET /segments/contact/regular/members.csv) over a mirror of
// 100,000 contacts, 5,000 companies and 100,000 deals, with the saved
// rules of the insight benchmarks: every row's why is the rules' reason,
// evaluated and told. The figure is ms for the whole file, read by the
// client, warm; the first export (the mirror decoded) and the time to the
// first byte are logged and reported. Run with REDIS_URL for the real
// figure.
func BenchmarkExportMembers100k(b *testing.B) {
	rdb, _ := redistest.New(b)
	ctx := context.Background()
	seal, _ := app.NewSealer(bytes.Repeat([]byte{1}, 32))
	store := app.NewStore(rdb, seal, nil)
	const member = "export00000000000000000000000000"
	if err := store.Save(ctx, &bitrix.Token{MemberID: member, AccessToken: "a", ClientEndpoint: "https://bench.bitrix24.com/rest/"}); err != nil {
		b.Fatal(err)
	}
	if err := store.SetState(ctx, member, app.StateActive, ""); err != nil {
		b.Fatal(err)
	}
	dir, err := app.ParseDirectory(benchDirectory)
	if err != nil {
		b.Fatal(err)
	}
	if err := store.SaveDirectory(ctx, member, dir); err != nil {
		b.Fatal(err)
	}
	if _, err := store.PutConfig(ctx, member, 0, json.RawMessage(benchInsightConfig), 1); err != nil {
		b.Fatal(err)
	}
	mirror := app.NewMirror(rdb)
	fill := time.Now()
	// Every contact carries regular, the contacts' otherwise segment.
	mirrortest.Fill(b, mirror, member, mirrortest.Portal{Contacts: exportBenchMembers, Companies: 5000, Deals: 100000})
	b.Logf("mirror of %d contacts, 5,000 companies, 100,000 deals written in %v", exportBenchMembers, time.Since(fill).Round(time.Millisecond))

	manifest, _ := segmentor.LoadManifest()
	sessions := &handlers.Sessions{Store: store, Key: sessionKey}
	// No Bitrix24 client at all: the export cannot call the portal.
	api := &handlers.API{Store: store, Insight: &engine.Analyst{Store: store, Mirror: mirror}, Mirror: mirror}
	srv := httptest.NewServer(handlers.Router(handlers.Deps{Manifest: manifest, Sessions: sessions, API: api}))
	b.Cleanup(srv.Close)
	admin := sessions.Issue(handlers.Session{MemberID: member, UserID: 1, Admin: true, Expires: time.Now().Add(time.Hour).Unix()})

	// export reads the whole file; it answers the time to its first byte,
	// to its end, and its size.
	export := func() (first, all time.Duration, size int64) {
		req, _ := http.NewRequest("GET", srv.URL+"/api/v1/segments/contact/regular/members.csv", nil)
		req.Header.Set("Authorization", "Bearer "+admin)
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			raw, _ := io.ReadAll(resp.Body)
			b.Fatalf("export: %d %s", resp.StatusCode, raw)
		}
		br := bufio.NewReaderSize(resp.Body, 64<<10)
		if _, err := br.Peek(1); err != nil {
			b.Fatal(err)
		}
		first = time.Since(start)
		size, err = io.Copy(io.Discard, br)
		if err != nil {
			b.Fatal(err)
		}
		return first, time.Since(start), size
	}

	// The first export decodes the mirror; its file is checked row by row.
	coldFirst, cold, size := export()
	req, _ := http.NewRequest("GET", srv.URL+"/api/v1/segments/contact/regular/members.csv", nil)
	req.Header.Set("Authorization", "Bearer "+admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	rows, err := csv.NewReader(resp.Body).ReadAll()
	resp.Body.Close()
	if err != nil || len(rows) != 1+exportBenchMembers {
		b.Fatalf("the export has %d rows (%v); want a header and %d members", len(rows), err, exportBenchMembers)
	}
	for i, row := range rows[1:] {
		if len(row) != 5 || row[1] == "" || row[2] == "" || row[3] != "Regular" || row[4] == "" {
			b.Fatalf("row %d: %q", i+1, row)
		}
	}

	var firstSum time.Duration
	cpu0 := cpuTime()
	b.ResetTimer()
	for b.Loop() {
		f, _, _ := export()
		firstSum += f
	}
	warm := ms(b.Elapsed()) / float64(b.N)
	cpu := ms(cpuTime()-cpu0) / float64(b.N)
	b.StopTimer()
	firstByte := ms(firstSum) / float64(b.N)
	b.ReportMetric(warm, "ms/export")
	b.ReportMetric(cpu, "cpu-ms/export")
	b.ReportMetric(firstByte, "first-byte-ms")
	b.ReportMetric(ms(cold), "cold-ms")
	b.ReportMetric(float64(size)/1e6, "MB")
	b.ReportMetric(0, "ns/op") // ms/export is the figure
	b.Logf("export of %d members: %.0f ms warm (first byte after %.0f ms; %.0f ms of CPU, the process's, client included), %.0f ms first (mirror decoded; first byte after %.0f ms); %.1f MB on %d cores",
		exportBenchMembers, warm, firstByte, cpu, ms(cold), ms(coldFirst), float64(size)/1e6, runtime.GOMAXPROCS(0))
}
