package app_test

import (
	"context"
	"slices"
	"testing"

	"segmentor/app"
	"segmentor/app/segment"
	"segmentor/internal/redistest"
)

// Lists live under the portal's prefix: written whole, read back packed,
// replaced keeping who made them, renamed, deleted, and gone with the
// portal's data; a draft waits at most a day.
func TestListStore(t *testing.T) {
	rdb, _ := redistest.New(t)
	store := app.NewStore(rdb, nil, nil)
	ctx := context.Background()
	prev, err := store.PutList(ctx, "m1", app.List{Key: "fair", Name: " Fair ", Entity: segment.EntityContact, Source: app.ListImport, CreatedBy: 3}, []int64{9, 2, 5, 2})
	if err != nil || prev != nil {
		t.Fatalf("put: %v %v", prev, err)
	}
	prev, err = store.PutList(ctx, "m1", app.List{Key: "fair", Name: "Fair", Entity: segment.EntityContact, CreatedBy: 4}, []int64{5, 11})
	if err != nil || !slices.Equal(prev, []int64{2, 5, 9}) {
		t.Fatalf("replace: %v %v", prev, err)
	}
	if _, err := store.PutList(ctx, "m1", app.List{Key: "fair", Name: "Fair", Entity: segment.EntityCompany}, nil); app.ErrorCode(err) != app.EConflict {
		t.Errorf("a contact list turned into companies: %v", err)
	}
	l, err := store.RenameList(ctx, "m1", "fair", "Trade fair")
	if err != nil || l.Name != "Trade fair" || l.Count != 2 || l.CreatedBy != 3 {
		t.Fatalf("rename: %+v %v", l, err)
	}
	m, err := store.ListMembers(ctx, "m1", []string{"fair", "gone"})
	if err != nil || len(m) != 1 || !m.Has("fair", segment.EntityContact, 11) || m.Has("fair", segment.EntityContact, 2) || m.Has("fair", segment.EntityCompany, 5) {
		t.Fatalf("members: %+v %v", m, err)
	}
	d, err := store.NewListDraft(ctx, "m1", app.ListDraft{Name: "x", Entity: segment.EntityContact}, &app.ParsedList{Entries: []app.ListEntry{{Line: 1, Raw: "a@b.c", Value: "a@b.c"}}})
	if err != nil {
		t.Fatal(err)
	}
	if ttl := rdb.TTL(ctx, "seg:p:{m1}:listdraft:"+d.ID).Val(); ttl <= 0 || ttl > app.ListDraftTTL {
		t.Errorf("draft ttl %v", ttl)
	}
	if err := store.DeleteEverything(ctx, "m1"); err != nil {
		t.Fatal(err)
	}
	if keys := rdb.Keys(ctx, "seg:p:{m1}:*").Val(); len(keys) != 0 {
		t.Errorf("left after the purge: %v", keys)
	}
	if _, err := store.List(ctx, "m1", "fair"); app.ErrorCode(err) != app.ENotFound {
		t.Errorf("list after purge: %v", err)
	}
}
