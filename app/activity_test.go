package app_test

import (
	"context"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"segmentor/app"
	"segmentor/app/segment"
	"segmentor/internal/redistest"
)

func contactOwner(id int64) app.ActivityOwner {
	return app.ActivityOwner{Entity: segment.EntityContact, ID: id}
}

func dealOwner(id int64) app.ActivityOwner {
	return app.ActivityOwner{Entity: segment.EntityDeal, ID: id}
}

func activity(id int64, owner app.ActivityOwner, at int64, typ segment.ActivityType, dir segment.Direction, open bool) app.Activity {
	return app.Activity{ID: id, Owner: owner, Activity: segment.Activity{At: at, Type: typ, Direction: dir, Open: open}}
}

// Activities live beside the rows: every load of a row brings its record's
// activities, a rewrite of the row keeps them, and a change of an activity
// is logged as its record's change and reported once, the record it left
// included; an echo changes nothing.
func TestMirrorActivities(t *testing.T) {
	ctx := context.Background()
	rdb, _ := redistest.New(t)
	m := app.NewMirror(rdb)
	const mid = "p1"
	if err := m.PutClients(ctx, mid, segment.EntityContact, []*app.MirrorClient{{ID: 5, TypeID: "CLIENT"}, {ID: 6}}); err != nil {
		t.Fatal(err)
	}
	if err := m.PutDeals(ctx, mid, []*app.MirrorDeal{{ID: 17, ContactIDs: []int64{5}, Semantic: "P"}}); err != nil {
		t.Fatal(err)
	}
	call := activity(301, contactOwner(5), 1_780_000_000, segment.ActivityCall, segment.Inbound, false)
	mail := activity(120, contactOwner(5), 1_779_000_000, segment.ActivityEmail, segment.Outbound, true)
	task := activity(302, dealOwner(17), 1_781_000_000, segment.ActivityTask, segment.NoDirection, true)
	gen, _ := m.Generation(ctx, mid)
	touched, err := m.PutActivities(ctx, mid, []app.Activity{call, mail, task})
	if err != nil {
		t.Fatal(err)
	}
	if want := []app.ActivityOwner{contactOwner(5), dealOwner(17)}; !cmp.Equal(touched, want) {
		t.Errorf("touched %v, want %v", touched, want)
	}
	ch, err := m.ChangesSince(ctx, mid, gen)
	if err != nil || !ch.Complete || !slices.Equal(ch.IDs[segment.EntityContact], []int64{5}) || !slices.Equal(ch.IDs[segment.EntityDeal], []int64{17}) {
		t.Errorf("logged %+v, %v; want contact 5 and deal 17", ch, err)
	}
	// Rows come with their activities, in id order, as the facts read them.
	if err := m.PutClients(ctx, mid, segment.EntityContact, []*app.MirrorClient{{ID: 5, TypeID: "VIP"}}); err != nil {
		t.Fatal(err)
	}
	clients, err := m.Clients(ctx, mid, segment.EntityContact, []int64{5, 6})
	if err != nil {
		t.Fatal(err)
	}
	if want := []segment.Activity{mail.Activity, call.Activity}; !cmp.Equal(clients[5].Activities, want) || clients[5].TypeID != "VIP" {
		t.Errorf("contact 5: %+v, want activities %v", clients[5], want)
	}
	if got := clients[5].Client(segment.EntityContact).Activities; len(got) != 2 {
		t.Errorf("Client() carries %d activities", len(got))
	}
	if len(clients[6].Activities) != 0 {
		t.Errorf("contact 6 has %v", clients[6].Activities)
	}
	deals, err := m.ClientDeals(ctx, mid, []app.ClientRef{{Entity: segment.EntityContact, ID: 5}})
	if err != nil {
		t.Fatal(err)
	}
	if d := deals[app.ClientRef{Entity: segment.EntityContact, ID: 5}]; len(d) != 1 || !cmp.Equal(d[0].Deal().Activities, []segment.Activity{task.Activity}) {
		t.Errorf("contact 5's deals: %+v", d)
	}
	var scanned []segment.Activity
	if err := m.EachClient(ctx, mid, segment.EntityContact, func(c *app.MirrorClient) error {
		scanned = append(scanned, c.Activities...)
		return nil
	}); err != nil || len(scanned) != 2 {
		t.Errorf("EachClient brought %d activities, %v", len(scanned), err)
	}

	// The echo of the same activities changes nothing.
	if touched, err := m.PutActivities(ctx, mid, []app.Activity{call, task}); err != nil || len(touched) != 0 {
		t.Errorf("echo touched %v, %v", touched, err)
	}
	// The call is done and moves to contact 6: both contacts change.
	moved := call
	moved.Owner, moved.Open = contactOwner(6), false
	moved.Type = 200 // a type the facts do not know: kept as "other"
	if touched, err := m.PutActivities(ctx, mid, []app.Activity{moved}); err != nil || !cmp.Equal(touched, []app.ActivityOwner{contactOwner(5), contactOwner(6)}) {
		t.Errorf("move touched %v, %v", touched, err)
	}
	got, err := m.Activities(ctx, mid, segment.EntityContact, []int64{5, 6})
	if err != nil {
		t.Fatal(err)
	}
	moved.Type = 15
	if want := map[int64][]app.Activity{5: {mail}, 6: {moved}}; !cmp.Equal(got, want) {
		t.Errorf("after the move: %v, want %v", got, want)
	}
	// A delete names only the id: the index finds its record.
	if touched, err := m.DeleteActivities(ctx, mid, []int64{120, 999}); err != nil || !cmp.Equal(touched, []app.ActivityOwner{contactOwner(5)}) {
		t.Errorf("delete touched %v, %v", touched, err)
	}
	if got, _ := m.Activities(ctx, mid, segment.EntityContact, []int64{5}); len(got) != 0 {
		t.Errorf("contact 5 keeps %v", got)
	}
	// A deleted record takes its activities with it.
	if err := m.DeleteDeals(ctx, mid, []int64{17}); err != nil {
		t.Fatal(err)
	}
	if n, err := m.ActivityCount(ctx, mid, segment.EntityDeal); n != 0 || err != nil {
		t.Errorf("deal activities after the deal's delete: %d, %v", n, err)
	}
}

// A full sync replaces the mirror's activities: lists that differ are
// rewritten and logged, records left without any lose their list, and the
// index follows, so later events find what the sync stored.
func TestMirrorReplaceActivities(t *testing.T) {
	ctx := context.Background()
	rdb, _ := redistest.New(t)
	m := app.NewMirror(rdb)
	const mid = "p2"
	a := func(id, owner int64, at int64) app.Activity {
		return activity(id, contactOwner(owner), at, segment.ActivityCall, segment.Outbound, false)
	}
	if _, err := m.PutActivities(ctx, mid, []app.Activity{a(1, 1, 100), a(2, 2, 200), a(3, 3, 300)}); err != nil {
		t.Fatal(err)
	}
	gen, _ := m.Generation(ctx, mid)
	// Contact 1 as it was; 2's activity went to contact 4; 3's was deleted.
	if err := m.ReplaceActivities(ctx, mid, []app.Activity{a(1, 1, 100), a(2, 4, 200), a(5, 4, 500)}); err != nil {
		t.Fatal(err)
	}
	ch, _ := m.ChangesSince(ctx, mid, gen)
	if got := ch.IDs[segment.EntityContact]; !cmp.Equal(got, []int64{2, 3, 4}) {
		t.Errorf("logged %v, want contacts 2, 3 and 4", got)
	}
	got, err := m.Activities(ctx, mid, segment.EntityContact, []int64{1, 2, 3, 4})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[int64][]app.Activity{1: {a(1, 1, 100)}, 4: {a(2, 4, 200), a(5, 4, 500)}}; !cmp.Equal(got, want) {
		t.Errorf("after the sync: %v, want %v", got, want)
	}
	if touched, err := m.DeleteActivities(ctx, mid, []int64{5, 3}); err != nil || !cmp.Equal(touched, []app.ActivityOwner{contactOwner(4)}) {
		t.Errorf("a delete after the sync touched %v, %v; want contact 4 (3 is gone)", touched, err)
	}
	if n, _ := m.ActivityCount(ctx, mid, segment.EntityContact); n != 2 {
		t.Errorf("%d activities left, want 2", n)
	}
}
