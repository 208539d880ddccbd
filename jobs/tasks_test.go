package jobs

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hibiken/asynq"

	"segmentor/engine"
	"segmentor/internal/redistest"
)

func event(t *testing.T, id int64, seq int64, deleted bool) *asynq.Task {
	t.Helper()
	task, opts, err := NewCRMEventTask(CRMEventPayload{MemberID: "m1", Entity: "deal", ID: id, Seq: seq, Deleted: deleted})
	if err != nil {
		t.Fatal(err)
	}
	if len(opts) != 2 {
		t.Fatalf("event task options = %v, want queue and group", opts)
	}
	return task
}

func TestAggregateMergesNewestFirstWithoutDuplicates(t *testing.T) {
	tasks := []*asynq.Task{
		event(t, 7, 100, false),
		event(t, 8, 105, false),
		event(t, 7, 110, false), // 7 again, newer
		event(t, 9, 90, false),
		event(t, 8, 120, true), // 8 deleted last
		asynq.NewTask(TypeCRMEvent, []byte("{broken")),
	}
	got := aggregate("m1:deal", tasks)
	if got.Type() != TypeCRMChanges {
		t.Fatalf("type = %s", got.Type())
	}
	var p CRMChangesPayload
	if err := json.Unmarshal(got.Payload(), &p); err != nil {
		t.Fatal(err)
	}
	want := CRMChangesPayload{MemberID: "m1", Entity: "deal", IDs: []int64{7, 9}, Deleted: []int64{8}}
	if diff := cmp.Diff(want, p); diff != "" {
		t.Errorf("merged (-want +got):\n%s", diff)
	}
}

func TestAggregateOfAFullGroupKeepsAll(t *testing.T) {
	var tasks []*asynq.Task
	for i := int64(1); i <= maxIDs; i++ {
		tasks = append(tasks, event(t, i, i, false))
	}
	var p CRMChangesPayload
	_ = json.Unmarshal(aggregate("g", tasks).Payload(), &p)
	if len(p.IDs) != maxIDs || p.IDs[0] != maxIDs || p.IDs[maxIDs-1] != 1 {
		t.Errorf("ids = %v, want %d..1", p.IDs, maxIDs)
	}
}

// A group holds as many events as one change of the engine re-reads in one
// request.
func TestGroupSizeIsOneChange(t *testing.T) {
	if cfg := ServerConfig(nil); cfg.GroupMaxSize != engine.MaxChange {
		t.Errorf("GroupMaxSize = %d, want engine.MaxChange = %d", cfg.GroupMaxSize, engine.MaxChange)
	}
}

func TestGroupKeyIsPerPortalAndEntity(t *testing.T) {
	if GroupKey("a", "deal") == GroupKey("a", "contact") || GroupKey("a", "deal") == GroupKey("b", "deal") {
		t.Error("group keys must separate portals and entities")
	}
}

// A merged job carries its own timeout, sized for maxIDs records at the
// portal's 2 requests/s (see changesTimeout), not asynq's default.
func TestChangesTaskHasItsTimeout(t *testing.T) {
	rdb, _ := redistest.New(t)
	c := asynq.NewClientFromRedisClient(rdb)
	info, err := c.Enqueue(aggregate("m1:deal", []*asynq.Task{event(t, 1, 1, false)}))
	if err != nil {
		t.Fatal(err)
	}
	if info.Type != TypeCRMChanges || info.Queue != EventsQueue("m1") || info.Timeout != changesTimeout || info.MaxRetry != 10 {
		t.Errorf("changes task: type %s, queue %s, timeout %s, max retry %d; want %s, %s, %s, 10",
			info.Type, info.Queue, info.Timeout, info.MaxRetry, TypeCRMChanges, EventsQueue("m1"), changesTimeout)
	}
}
