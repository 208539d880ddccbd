package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"segmentor/app"
	"segmentor/app/segment"
	"segmentor/internal/redistest"
)

// auditRecords is how many records BenchmarkAuditMemory100k classifies: a
// 100,000-deal portal's deals and their clients.
const auditRecords = 100_000 + 33_333 + 10_000

// BenchmarkAuditMemory100k settles one backfill's writes (a first
// classification of every record of a 100,000-deal portal) through the
// write journal, as the engine does, and reports what the audit trail takes
// in Redis: B/record is the sum of MEMORY USAGE over the per-record trails
// divided by the records written; the portal-wide list and the moves log,
// bounded whatever the portal's size, are reported apart. Needs a real
// Redis (REDIS_URL).
func BenchmarkAuditMemory100k(b *testing.B) {
	if !redistest.Real() {
		b.Skip("BenchmarkAuditMemory100k measures a real Redis's memory: set REDIS_URL (the in-memory stand-in reports none)")
	}
	rdb, _ := redistest.New(b)
	seal, err := app.NewSealer(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		b.Fatal(err)
	}
	at := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	s := app.NewStore(rdb, seal, func() time.Time { return at })
	ctx := context.Background()
	const member = "audit000000000000000000000000001"
	notes := auditNotes(b, at)
	ran := make([]bool, len(notes))
	for i := range ran {
		ran[i] = true
	}
	var trails, bounded int64
	for b.Loop() {
		b.StopTimer()
		if err := rdb.FlushDB(ctx).Err(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		for chunk := range slices.Chunk(notes, 50) { // a batch's writes at a time
			if err := s.BeginWrites(ctx, member, chunk); err != nil {
				b.Fatal(err)
			}
			if _, err := s.EndWrites(ctx, member, chunk, ran[:len(chunk)]); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		trails, bounded = auditMemory(b, rdb)
		b.StartTimer()
	}
	if trail, err := s.Audit(ctx, member, "deal", 1); err != nil || len(trail) != 1 || trail[0].To.Segment != "key" {
		b.Fatalf("deal 1's trail = %+v, %v", trail, err)
	}
	b.ReportMetric(float64(trails)/float64(len(notes)), "B/record")
	b.ReportMetric(float64(bounded)/1e6, "MB-portal-lists")
	b.Logf("%d records written: trails %.1f MB, the portal's list and moves log %.1f MB", len(notes), float64(trails)/1e6, float64(bounded)/1e6)
}

// auditNotes are a backfill's writes: every deal moves to a stage and
// takes a type, every client takes a type and a segment, each with the
// reason the engine gives (a sales value over a year).
func auditNotes(b *testing.B, at time.Time) []app.InFlight {
	b.Helper()
	var reason segment.Reason
	if err := json.Unmarshal([]byte(`{"segment":"key","held":[{"fact":"sales_value","window_days":365,"op":"gte","value":100000,"seen":184250.5}]}`), &reason); err != nil {
		b.Fatal(err)
	}
	item := 41
	notes := make([]app.InFlight, 0, auditRecords)
	add := func(entity string, n int, to app.Outcome) {
		for id := 1; id <= n; id++ {
			e := app.AuditEntry{At: at, Entity: entity, ID: int64(id), ConfigVersion: 3,
				From: app.Outcome{Type: "CLIENT"}, To: to, Trigger: app.TriggerSetup, Reason: &reason}
			notes = append(notes, app.InFlight{Entity: entity, ID: int64(id), Batch: "b1", By: "backfill", Sent: at,
				Plan: segment.Plan{Type: to.Type, Segment: &item}, Audit: e})
		}
	}
	add("deal", 100_000, app.Outcome{Segment: "key", Name: "Key accounts", Type: "SALE", Pipeline: "3:C3:PREPARATION"})
	add("contact", 33_333, app.Outcome{Segment: "key", Name: "Key accounts", Type: "CUSTOMER"})
	add("company", 10_000, app.Outcome{Segment: "key", Name: "Key accounts", Type: "CUSTOMER"})
	return notes
}

// auditMemory sums MEMORY USAGE over the database's audit keys: the
// per-record trails, and apart the portal's bounded lists (its latest
// changes, its moves).
func auditMemory(b *testing.B, rdb *redis.Client) (trails, bounded int64) {
	b.Helper()
	keys := redistest.KeyMemory(b, rdb, "*")
	for k, n := range keys {
		switch {
		case strings.HasSuffix(k, ":audit"), strings.HasSuffix(k, ":moves"):
			bounded += n
		case strings.Contains(k, ":audit:"), strings.Contains(k, ":a:"):
			trails += n
		}
	}
	if trails == 0 {
		b.Fatalf("no audit trail among the %d keys written", len(keys))
	}
	return trails, bounded
}
