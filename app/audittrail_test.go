package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"segmentor/app"
	"segmentor/app/segment"
	"segmentor/internal/redistest"
)

// reasonOf reads a reason from its JSON, as the engine's would marshal.
func reasonOf(t testing.TB, js string) *segment.Reason {
	t.Helper()
	var r segment.Reason
	if err := json.Unmarshal([]byte(js), &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

// Every field of an entry reads back as written, through a record's trail
// and through the portal's list, for each shape of reason: conditions that
// held, the otherwise segment with its nearest miss, a reason whose
// segment is not the entry's.
func TestAuditEntriesReadBackWhole(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	at := time.Date(2026, 12, 6, 9, 30, 15, 250_000_000, time.UTC)
	entries := []app.AuditEntry{
		{At: at, Entity: "deal", ID: 7, ConfigVersion: 4, From: app.Outcome{Type: "SALE", Pipeline: "0:NEW"},
			To:      app.Outcome{Segment: "key", Name: "Key accounts", Type: "COMPLEX", Pipeline: "3:C3:PREPARATION"},
			Trigger: app.TriggerChange,
			Reason:  reasonOf(t, `{"segment":"key","held":[{"fact":"sales_value","window_days":365,"op":"gte","value":100000,"seen":184250.5},{"fact":"field:UF_CRM_REGION","op":"in","value":["north","east"],"seen":"north","not":true}]}`)},
		{At: at.Add(time.Minute), Entity: "contact", ID: 1_500_000, ConfigVersion: 4, From: app.Outcome{Segment: "key", Name: "Key accounts"},
			To: app.Outcome{Segment: "rest", Name: "Everyone else", Type: "CLIENT"}, Trigger: app.TriggerNightly,
			Reason: reasonOf(t, `{"segment":"rest","otherwise":true,"nearest":{"segment":"key","name":"Key accounts","check":{"fact":"purchases","window_days":90,"op":"gte","value":3,"seen":1}}}`)},
		{At: at.Add(2 * time.Minute), Entity: "company", ID: 3, To: app.Outcome{Type: "CUSTOMER"},
			Reason: reasonOf(t, `{"segment":"","nearest":{"segment":"key","name":"Key accounts","check":{"fact":"recency_days","op":"lte","value":30,"seen":null}}}`)},
		{At: at.Add(3 * time.Minute), Entity: "company", ID: 4, To: app.Outcome{Segment: "key"},
			Reason: reasonOf(t, `{"segment":"vip"}`), Why: "an entry of an older version"},
		{At: at.Add(4 * time.Minute), Entity: "deal", ID: 8, Trigger: app.TriggerSetup}, // no reason at all
	}
	if err := s.AddAudit(ctx, "m1", entries); err != nil {
		t.Fatal(err)
	}
	for _, want := range entries {
		want.At = want.At.Truncate(time.Millisecond)
		trail, err := s.Audit(ctx, "m1", want.Entity, want.ID)
		if err != nil || len(trail) != 1 {
			t.Fatalf("%s %d's trail = %+v, %v", want.Entity, want.ID, trail, err)
		}
		if !reflect.DeepEqual(trail[0], want) {
			t.Errorf("%s %d reads back\n%s\nwant\n%s", want.Entity, want.ID, dump(trail[0]), dump(want))
		}
	}
	all, err := s.PortalAudit(ctx, "m1", 10)
	if err != nil || len(all) != len(entries) {
		t.Fatalf("the portal's list = %+v, %v", all, err)
	}
	for i, got := range all {
		want := entries[len(entries)-1-i]
		want.At = want.At.Truncate(time.Millisecond)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("the portal's list, entry %d:\n%s\nwant\n%s", i, dump(got), dump(want))
		}
	}
}

func dump(e app.AuditEntry) string {
	b, _ := json.Marshal(e)
	return string(b)
}

// A record's trail keeps its 20 latest entries, newest first, whether they
// come one call at a time or many in one.
func TestAuditTrailKeepsTheLatest(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	at := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	entry := func(i int) app.AuditEntry {
		return app.AuditEntry{At: at.Add(time.Duration(i) * time.Minute), Entity: "deal", ID: 2049, ConfigVersion: i,
			To: app.Outcome{Segment: fmt.Sprint("s", i)}}
	}
	for i := range 15 {
		if err := s.AddAudit(ctx, "m1", []app.AuditEntry{entry(i)}); err != nil {
			t.Fatal(err)
		}
	}
	var batch []app.AuditEntry
	for i := 15; i < 30; i++ {
		batch = append(batch, entry(i))
	}
	if err := s.AddAudit(ctx, "m1", batch); err != nil {
		t.Fatal(err)
	}
	trail, err := s.Audit(ctx, "m1", "deal", 2049)
	if err != nil || len(trail) != 20 {
		t.Fatalf("trail of %d entries, %v; want 20", len(trail), err)
	}
	for i, e := range trail {
		if e.ConfigVersion != 29-i {
			t.Fatalf("entry %d is version %d, want %d (newest first)", i, e.ConfigVersion, 29-i)
		}
	}
	// Its neighbours in the bucket keep their own.
	if other, _ := s.Audit(ctx, "m1", "deal", 2048); len(other) != 0 {
		t.Errorf("deal 2048 has %d entries", len(other))
	}
}

// A trail written by the first layout (one list a record, AuditEntry JSON)
// reads as before; the record's next entry moves it into its bucket behind
// the new one, and ConvertAuditTrails moves the rest, once: no entry is
// lost, none doubled, on a single Redis and on a cluster.
func TestOldAuditTrailsMoveIntoBuckets(t *testing.T) {
	t.Run("single", func(t *testing.T) {
		rdb, _ := redistest.New(t)
		oldTrailsMove(t, rdb, "m1", "m2")
	})
	t.Run("cluster", func(t *testing.T) {
		// A cluster of its own: the conversion's mark is global.
		rdb := redistest.PrivateCluster(t)
		m1, m2 := clusterPortals(t, rdb)
		oldTrailsMove(t, rdb, m1, m2)
	})
}

func oldTrailsMove(t *testing.T, rdb redis.UniversalClient, m1, m2 string) {
	ctx := context.Background()
	seal, err := app.NewSealer(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	s := app.NewStore(rdb, seal, func() time.Time { return at })
	old := func(member string, id int64, versions ...int) {
		for _, v := range versions { // oldest first: LPUSH puts the newest at the head
			b, _ := json.Marshal(app.AuditEntry{At: at.Add(time.Duration(v) * time.Hour), Entity: "contact", ID: id,
				ConfigVersion: v, To: app.Outcome{Segment: "vip", Name: "VIP"}, Why: "sales over 1,000 EUR"})
			key := fmt.Sprintf("seg:p:{%s}:audit:contact:%d", member, id)
			if err := rdb.LPush(ctx, key, b).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	old(m1, 5, 1, 2, 3)
	old(m1, 6, 1)
	old(m2, 5, 1, 2)
	versions := func(member string, id int64) []int {
		trail, err := s.Audit(ctx, member, "contact", id)
		if err != nil {
			t.Fatal(err)
		}
		var v []int
		for _, e := range trail {
			if e.Entity != "contact" || e.ID != id {
				t.Errorf("%s contact %d's trail holds %s %d", member, id, e.Entity, e.ID)
			}
			v = append(v, e.ConfigVersion)
		}
		return v
	}
	if v := versions(m1, 5); !reflect.DeepEqual(v, []int{3, 2, 1}) {
		t.Fatalf("old trail reads %v, want [3 2 1]", v)
	}
	// The record's next entry.
	note := app.InFlight{Entity: "contact", ID: 5, Batch: "b", Sent: at,
		Audit: app.AuditEntry{At: at.Add(4 * time.Hour), Entity: "contact", ID: 5, ConfigVersion: 4, To: app.Outcome{Segment: "vip"}}}
	if err := s.BeginWrites(ctx, m1, []app.InFlight{note}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.EndWrites(ctx, m1, []app.InFlight{note}, []bool{true}); err != nil || n != 1 {
		t.Fatalf("end writes: %d, %v", n, err)
	}
	if v := versions(m1, 5); !reflect.DeepEqual(v, []int{4, 3, 2, 1}) {
		t.Fatalf("after its next entry the trail reads %v, want [4 3 2 1]", v)
	}
	if n := rdb.Exists(ctx, "seg:p:{"+m1+"}:audit:contact:5").Val(); n != 0 {
		t.Errorf("the old trail of m1's contact 5 is still there")
	}
	// The rest, at a worker's start; a second start finds it done.
	moved, err := s.ConvertAuditTrails(ctx)
	if err != nil || moved != 2 {
		t.Fatalf("converted %d, %v; want the 2 trails left", moved, err)
	}
	if moved, err := s.ConvertAuditTrails(ctx); err != nil || moved != 0 {
		t.Errorf("a second conversion moved %d, %v", moved, err)
	}
	for _, c := range []struct {
		member string
		id     int64
		want   []int
	}{{m1, 5, []int{4, 3, 2, 1}}, {m1, 6, []int{1}}, {m2, 5, []int{2, 1}}} {
		if v := versions(c.member, c.id); !reflect.DeepEqual(v, c.want) {
			t.Errorf("%s contact %d reads %v after the conversion, want %v", c.member, c.id, v, c.want)
		}
		if n := rdb.Exists(ctx, fmt.Sprintf("seg:p:{%s}:audit:contact:%d", c.member, c.id)).Val(); n != 0 {
			t.Errorf("%s contact %d's old trail is still there", c.member, c.id)
		}
	}
	if trail, _ := s.Audit(ctx, m2, "contact", 5); len(trail) != 2 || trail[0].Why != "sales over 1,000 EUR" {
		t.Errorf("m2 contact 5's moved trail lost its text: %+v", trail)
	}
}
