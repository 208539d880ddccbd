package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"segmentor/app"
	"segmentor/bitrix"
	"segmentor/internal/redistest"
)

// The nightly task gives each of 1,000 portals its own turn in the night,
// spread over NightlyWindow: no portal's backfill is queued at once, every
// turn falls inside the window, no quarter hour holds much more than its
// share, and a portal keeps its turn from night to night. A second run the
// same night gives no portal a second turn; an uninstalled portal gets none.
func TestNightlySpreadsPortalsOverTheNight(t *testing.T) {
	ctx := context.Background()
	rdb, _ := redistest.New(t)
	seal, _ := app.NewSealer(bytes.Repeat([]byte{7}, 32))
	store := app.NewStore(rdb, seal, nil)
	const portals = 1000
	for i := range portals {
		m := fmt.Sprintf("%032x", uint64(i)*0x9e3779b97f4a7c15)
		if err := store.Save(ctx, &bitrix.Token{MemberID: m, AccessToken: "a"}); err != nil {
			t.Fatal(err)
		}
		state := app.StateActive
		if i == 0 {
			state = app.StateUninstalled
		}
		if err := store.SetState(ctx, m, state, ""); err != nil {
			t.Fatal(err)
		}
	}
	// An hour ahead of the wall clock, as asynq schedules by it: 03:00.
	now := time.Now().UTC().Add(time.Hour).Truncate(time.Second)
	q := &Queue{Client: asynq.NewClientFromRedisClient(rdb), Redis: rdb}
	w := &Worker{Store: store, Queue: q, Log: slog.New(slog.DiscardHandler), Clock: func() time.Time { return now }}
	for range 2 {
		if err := w.handleNightly(ctx, asynq.NewTask(TypeNightly, nil)); err != nil {
			t.Fatal(err)
		}
	}
	insp := asynq.NewInspectorFromRedisClient(rdb)
	if pending, _ := insp.ListPendingTasks(QueueLow); len(pending) != 0 {
		t.Errorf("%d tasks queued at once; want every portal's turn scheduled", len(pending))
	}
	var tasks []*asynq.TaskInfo
	for page := 1; ; page++ {
		got, err := insp.ListScheduledTasks(QueueLow, asynq.Page(page), asynq.PageSize(500))
		if err != nil {
			t.Fatal(err)
		}
		tasks = append(tasks, got...)
		if len(got) < 500 {
			break
		}
	}
	if len(tasks) != portals-1 {
		t.Fatalf("two nightly runs scheduled %d turns; want one for each of the %d active portals", len(tasks), portals-1)
	}
	const slot = 15 * time.Minute
	perSlot := make([]int, NightlyWindow/slot)
	seen := map[string]bool{}
	for _, ti := range tasks {
		var p NightlyPortalPayload
		if ti.Type != TypeNightlyPortal || json.Unmarshal(ti.Payload, &p) != nil || seen[p.MemberID] {
			t.Fatalf("task %s: type %s, payload %s; want one %s per portal", ti.ID, ti.Type, ti.Payload, TypeNightlyPortal)
		}
		seen[p.MemberID] = true
		at := ti.NextProcessAt.Sub(now)
		if at < 0 || at >= NightlyWindow {
			t.Fatalf("%s's turn is %s after the nightly task; want within %s", p.MemberID, at, NightlyWindow)
		}
		if at != nightlyTurn(p.MemberID) {
			t.Errorf("%s's turn is %s, want its own %s every night", p.MemberID, at, nightlyTurn(p.MemberID))
		}
		perSlot[at/slot]++
	}
	share := float64(portals-1) / float64(len(perSlot))
	for i, n := range perSlot {
		if float64(n) > 1.6*share || float64(n) < 0.4*share {
			t.Errorf("quarter hour %d holds %d turns; want about %.0f each: %v", i, n, share, perSlot)
			break
		}
	}
	if seen[fmt.Sprintf("%032x", 0)] {
		t.Error("the uninstalled portal got a turn")
	}
}

// At its turn a portal's backfill is queued, unless the portal is gone.
func TestNightlyTurnQueuesTheBackfill(t *testing.T) {
	ctx := context.Background()
	rdb, _ := redistest.New(t)
	seal, _ := app.NewSealer(bytes.Repeat([]byte{7}, 32))
	store := app.NewStore(rdb, seal, nil)
	for _, m := range []string{"active", "gone"} {
		if err := store.Save(ctx, &bitrix.Token{MemberID: m, AccessToken: "a"}); err != nil {
			t.Fatal(err)
		}
		if _, err := store.PutConfig(ctx, m, 0, json.RawMessage(`{"schemes": []}`), 1); err != nil {
			t.Fatal(err)
		}
	}
	_ = store.SetState(ctx, "active", app.StateActive, "")
	_ = store.SetState(ctx, "gone", app.StateUninstalled, "")
	w := &Worker{Store: store, Queue: &Queue{Client: asynq.NewClientFromRedisClient(rdb), Redis: rdb}, Log: slog.New(slog.DiscardHandler)}
	turn := func(m string) error {
		b, _ := json.Marshal(NightlyPortalPayload{MemberID: m})
		return w.handleNightlyPortal(ctx, asynq.NewTask(TypeNightlyPortal, b))
	}
	if err := turn("active"); err != nil {
		t.Fatal(err)
	}
	if err := turn("gone"); err == nil {
		t.Error("an uninstalled portal's turn ran; want it revoked")
	}
	pending, err := asynq.NewInspectorFromRedisClient(rdb).ListPendingTasks(QueueLow)
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != 1 || pending[0].ID != "backfill:active" {
		t.Fatalf("queued %d tasks (%v); want the active portal's backfill", len(pending), pending)
	}
	var p BackfillPayload
	if err := json.Unmarshal(pending[0].Payload, &p); err != nil || p.Reason != app.TriggerNightly {
		t.Errorf("backfill payload %s; want reason %q", pending[0].Payload, app.TriggerNightly)
	}
}
