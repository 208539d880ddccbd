package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"segmentor/app"
	"segmentor/app/segment"
	"segmentor/bitrix"
	"segmentor/internal/keyspace"
	"segmentor/internal/redistest"
)

// clusterPortals picks two new member_ids whose keys live on different
// masters of the cluster.
func clusterPortals(t *testing.T, rdb *redis.ClusterClient) (string, string) {
	t.Helper()
	ctx := context.Background()
	base := fmt.Sprintf("clu%x", time.Now().UnixNano())
	first, err := rdb.MasterForKey(ctx, keyspace.PortalPrefix(base+"a"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		m := fmt.Sprintf("%sb%d", base, i)
		n, err := rdb.MasterForKey(ctx, keyspace.PortalPrefix(m))
		if err != nil {
			t.Fatal(err)
		}
		if n.Options().Addr != first.Options().Addr {
			return base + "a", m
		}
	}
	t.Fatal("100 member_ids all hashed to one master")
	return "", ""
}

// Every code path of the store and the mirror that sends several keys in
// one script, transaction or WATCH runs on a real Redis Cluster, for two
// portals on different masters. A key outside the portal's hash tag in any
// of them fails here with CROSSSLOT (go-redis refuses a cross-slot MULTI
// itself; the server refuses a script's or a WATCHed transaction's). Then
// deleting a portal's data finds its keys on whichever master holds them.
func TestStoreAndMirrorOnRedisCluster(t *testing.T) {
	rdb := redistest.Cluster(t)
	ctx := context.Background()
	seal, err := app.NewSealer(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	s := app.NewStore(rdb, seal, func() time.Time { return at })
	m := app.NewMirror(rdb)
	a, b := clusterPortals(t, rdb)
	for _, member := range []string{a, b} {
		// UpdatePortal: WATCH and MULTI on the portal's record; the list of
		// portals (no hash tag) is written apart.
		if err := s.Save(ctx, &bitrix.Token{MemberID: member, AccessToken: "at", RefreshToken: "rt", Domain: member + ".example"}); err != nil {
			t.Fatalf("save token: %v", err)
		}
		if err := s.SetState(ctx, member, app.StateActive, ""); err != nil {
			t.Fatalf("set state: %v", err)
		}
		if tok, err := s.Load(ctx, member); err != nil || tok.RefreshToken != "rt" {
			t.Fatalf("load token: %+v %v", tok, err)
		}
		// putConfig: a script over the config and its history.
		for base := range 2 {
			if v, err := s.PutConfig(ctx, member, base, json.RawMessage(`{"schemes":[]}`), 1); err != nil || v != base+1 {
				t.Fatalf("put config on version %d: %d %v", base, v, err)
			}
		}
		if _, err := s.PutConfig(ctx, member, 0, json.RawMessage(`{}`), 1); app.ErrorCode(err) != app.EConflict {
			t.Errorf("a stale save: %v, want a conflict", err)
		}
		// The write journal: answerWrites and endWrites, a script over the
		// journal, the audit, the outbox, the moves and each record's trail.
		item := 3
		var notes []app.InFlight
		for id := range int64(5) {
			notes = append(notes, app.InFlight{Entity: "deal", ID: id + 1, Batch: "b1", Sent: at,
				Plan:  segment.Plan{Type: "VIP", Segment: &item},
				Audit: app.AuditEntry{At: at, Entity: "deal", ID: id + 1, ConfigVersion: 2, To: app.Outcome{Segment: "vip"}},
				Act:   &app.Action{Entity: "deal", ID: id + 1, Segment: "vip", From: "regular"}})
		}
		if err := s.BeginWrites(ctx, member, notes); err != nil {
			t.Fatalf("begin writes: %v", err)
		}
		if err := s.AnsweredWrites(ctx, member, notes[4:]); err != nil {
			t.Fatalf("answered writes: %v", err)
		}
		if n, err := s.EndWrites(ctx, member, notes, []bool{true, true, true, false, false}); err != nil || n != 3 {
			t.Fatalf("end writes: %d audit entries, %v; want 3", n, err)
		}
		if trail, err := s.Audit(ctx, member, "deal", 2); err != nil || len(trail) != 1 {
			t.Errorf("deal 2's trail: %+v %v", trail, err)
		}
		if n, err := s.ActionsWaiting(ctx, member); err != nil || n != 3 {
			t.Errorf("actions waiting: %d %v, want 3", n, err)
		}
		// MULTI over one key; WATCHed read-modify-writes.
		if err := s.RecordReceived(ctx, member, map[string]any{"ids": []int{1}}); err != nil {
			t.Fatalf("record received: %v", err)
		}
		if err := s.SaveDirectory(ctx, member, &app.Directory{}); err != nil {
			t.Fatalf("save directory: %v", err)
		}
		if _, err := s.UpdateDirectory(ctx, member, func(d *app.Directory) {}); err != nil {
			t.Fatalf("update directory: %v", err)
		}
		if err := s.PutSnapshot(ctx, member, app.Snapshot{Day: app.DayOf(at), Entity: segment.EntityDeal, Currency: "EUR",
			Segments: []app.Figures{{Segment: "vip", Count: 3}}}); err != nil {
			t.Fatalf("put snapshot: %v", err)
		}
		// The mirror: each write ends with the change log's script, in the
		// same pipeline; a reader takes the log in one MULTI.
		if err := m.PutDeals(ctx, member, []*app.MirrorDeal{{ID: 1, ContactIDs: []int64{5}, Semantic: "S"}, {ID: 2, CompanyID: 9, Semantic: "P"}}); err != nil {
			t.Fatalf("put deals: %v", err)
		}
		if err := m.SetRates(ctx, member, segment.Rates{}); err != nil {
			t.Fatalf("set rates: %v", err)
		}
		if err := m.DeleteDeals(ctx, member, []int64{2}); err != nil {
			t.Fatalf("delete deals: %v", err)
		}
		ch, err := m.ChangesSince(ctx, member, 0)
		if err != nil || ch.Gen != 3 || !ch.Rates || !slices.Equal(ch.IDs[segment.EntityDeal], []int64{1, 2}) {
			t.Errorf("changes since 0: %+v %v; want generation 3, the rates and deals 1 and 2", ch, err)
		}
	}
	ids, err := s.Portals(ctx)
	if err != nil || !slices.Contains(ids, a) || !slices.Contains(ids, b) {
		t.Fatalf("portals %v (%v) lack %s or %s", ids, err, a, b)
	}

	// Deleting a's data walks every master: it finds a's keys on theirs and
	// leaves b's, on another, alone.
	keysOf := func(member string) []string {
		var keys []string
		if err := keyspace.Scan(ctx, rdb, "*{"+member+"}*", func(k []string) error { keys = append(keys, k...); return nil }); err != nil {
			t.Fatal(err)
		}
		slices.Sort(keys)
		return keys
	}
	before := keysOf(b)
	if n := len(keysOf(a)); n < 10 {
		t.Fatalf("portal %s has %d keys before the purge, want its config, journal, audit, mirror…", a, n)
	}
	if err := s.DeleteEverything(ctx, a); err != nil {
		t.Fatalf("delete everything: %v", err)
	}
	if left := keysOf(a); !slices.Equal(left, []string{keyspace.Portal(a, "portal")}) {
		t.Errorf("after the purge portal %s keeps %q, want only its record", a, left)
	}
	if after := keysOf(b); !slices.Equal(after, before) {
		t.Errorf("purging %s changed %s's keys: %d before, %d after", a, b, len(before), len(after))
	}
	for _, member := range []string{a, b} {
		if err := s.DeleteEverything(ctx, member); err != nil {
			t.Fatal(err)
		}
		_ = rdb.Del(ctx, keyspace.Portal(member, "portal")).Err()
		_ = rdb.SRem(ctx, keyspace.Portals, member).Err()
	}
}

// The one key scan helper walks every master of a cluster: keys spread over
// the slots are all found, each once.
func TestScanFindsKeysOnEveryMaster(t *testing.T) {
	rdb := redistest.Cluster(t)
	ctx := context.Background()
	prefix := fmt.Sprintf("scantest:%x:", time.Now().UnixNano())
	want := map[string]bool{}
	masters := map[string]bool{}
	for i := range 300 {
		k := prefix + fmt.Sprint(i)
		if err := rdb.Set(ctx, k, "1", time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		want[k] = true
		n, err := rdb.MasterForKey(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		masters[n.Options().Addr] = true
	}
	if len(masters) < 3 {
		t.Fatalf("300 keys fell on %d masters, want 3", len(masters))
	}
	found := map[string]int{}
	if err := keyspace.Scan(ctx, rdb, prefix+"*", func(keys []string) error {
		for _, k := range keys {
			found[k]++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for k := range want {
		if found[k] != 1 {
			t.Errorf("key %s found %d times, want once", k, found[k])
		}
	}
	if len(found) != len(want) {
		t.Errorf("found %d keys, want %d", len(found), len(want))
	}
	var plain []string
	for k := range found {
		if !strings.HasPrefix(k, prefix) {
			plain = append(plain, k)
		}
	}
	if len(plain) > 0 {
		t.Errorf("keys outside the pattern: %q", plain)
	}
}
