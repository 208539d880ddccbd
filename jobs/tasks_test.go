package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"segmentor/engine"
	"segmentor/internal/redistest"
)

func event(t *testing.T, id int64, seq int64, deleted bool) *asynq.Task {
	t.Helper()
	task, opts, err := NewCRMEventTask(CRMEventPayload{MemberID: "m1", Entity: "deal", ID: id, Seq: seq, Deleted: deleted}, 0)
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
	seen := map[string]bool{}
	for lane := range eventLanes {
		seen[laneGroup("a", "deal", lane)] = true
	}
	if len(seen) != eventLanes || !seen[GroupKey("a", "deal")] || seen[laneGroup("a", "contact", 1)] {
		t.Errorf("lanes of a's deals: %v; want %d groups, the first GroupKey's, none of contacts", seen, eventLanes)
	}
}

// Events wait in their entity's first lane until it holds a backlog of
// overflowAfter; beyond that they fill the overflow lanes one after the
// other, in full sets, so that the aggregator, which closes one set per
// group a second, takes a flood eventLanes sets a second. An overflow
// event joins the fullest lane that is not full, so that a flood's end
// leaves one part-filled set, not one a lane.
func TestAFloodOfEventsFillsTheLanesInTurn(t *testing.T) {
	ctx := context.Background()
	rdb, _ := redistest.New(t)
	q := &Queue{Client: asynq.NewClientFromRedisClient(rdb), Redis: rdb}
	const member = "m1"
	records := int64(overflowAfter + (eventLanes-1)*maxIDs + 90)
	for id := int64(1); id <= records; id++ {
		if fresh, err := q.Change(ctx, CRMEventPayload{MemberID: member, Entity: "deal", ID: id, Seq: id}); err != nil || !fresh {
			t.Fatalf("event of deal %d: %v, queued %v", id, err, fresh)
		}
	}
	insp := asynq.NewInspectorFromRedisClient(rdb)
	groups, err := insp.Groups(EventsQueue(member))
	if err != nil {
		t.Fatal(err)
	}
	sizes := map[string]int{}
	for _, g := range groups {
		sizes[g.Group] = g.Size
	}
	// The overflow lanes all full, the last 90 spread over the emptiest.
	want := map[string]int{GroupKey(member, "deal"): overflowAfter}
	for lane := 1; lane < eventLanes; lane++ {
		want[laneGroup(member, "deal", lane)] = maxIDs + 90/(eventLanes-1)
	}
	if d := cmp.Diff(want, sizes); d != "" {
		t.Errorf("events waiting per group (-want +got):\n%s", d)
	}
	// The lane is chosen by the size of asynq's own key for the group.
	if n := rdb.ZCard(ctx, asynqGroupKey(EventsQueue(member), GroupKey(member, "deal"))).Val(); n != overflowAfter {
		t.Errorf("asynqGroupKey's set holds %d, want the first lane's %d: asynq's key layout changed", n, overflowAfter)
	}

	// The aggregator took the first two overflow lanes' sets: the next
	// events fill one of them, not both by halves.
	for lane := 1; lane <= 2; lane++ {
		if err := rdb.Del(ctx, asynqGroupKey(EventsQueue(member), laneGroup(member, "deal", lane))).Err(); err != nil {
			t.Fatal(err)
		}
	}
	for id := records + 1; id <= records+10; id++ {
		if _, err := q.Change(ctx, CRMEventPayload{MemberID: member, Entity: "deal", ID: id, Seq: id}); err != nil {
			t.Fatal(err)
		}
	}
	for lane, want := range map[int]int64{1: 10, 2: 0} {
		if n := rdb.ZCard(ctx, asynqGroupKey(EventsQueue(member), laneGroup(member, "deal", lane))).Val(); n != want {
			t.Errorf("after lanes 1 and 2 were taken, 10 events left lane %d holding %d, want %d", lane, n, want)
		}
	}

	for _, c := range []struct {
		sizes [eventLanes]int64
		want  int
	}{
		{[eventLanes]int64{0, 0, 0, 0}, 0},
		{[eventLanes]int64{overflowAfter - 1, 0, 0, 0}, 0},                    // a burst waits in one set a second
		{[eventLanes]int64{3, 0, 7, 0}, 0},                                    // and so does a lone edit after a flood
		{[eventLanes]int64{overflowAfter, 0, 0, 0}, 1},                        // a flood overflows
		{[eventLanes]int64{overflowAfter, 0, 7, 0}, 2},                        // into the fullest open lane
		{[eventLanes]int64{overflowAfter, maxIDs, maxIDs - 1, 9}, 2},          // not a full one
		{[eventLanes]int64{overflowAfter, maxIDs + 4, maxIDs, maxIDs + 1}, 2}, // all full: the emptiest
		{[eventLanes]int64{overflowAfter, maxIDs + 1, maxIDs, maxIDs}, 2},     // the first of equals
	} {
		if got := chooseLane(c.sizes); got != c.want {
			t.Errorf("chooseLane(%v) = %d, want %d", c.sizes, got, c.want)
		}
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

// failZCard fails every ZCARD of a pipeline, as a Redis Cluster does when
// the node of the events queue is down while the portal's is up.
type failZCard struct{}

func (failZCard) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (failZCard) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (failZCard) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		for _, c := range cmds {
			if c.Name() == "zcard" {
				c.SetErr(errors.New("the queue's node is down"))
				err = c.Err()
			}
		}
		return err
	}
}

// A lane size that cannot be read does not stop the event: it waits in the
// first lane. Failing there would leave its pending marker set with no job
// behind it, swallowing the record's next events for pendingTTL.
func TestAnUnreadableLaneSizeStillQueuesTheEvent(t *testing.T) {
	ctx := context.Background()
	rdb, opt := redistest.New(t)
	marks := redis.NewClient(opt)
	t.Cleanup(func() { _ = marks.Close() })
	marks.AddHook(failZCard{})
	q := &Queue{Client: asynq.NewClientFromRedisClient(rdb), Redis: marks}
	fresh, err := q.Change(ctx, CRMEventPayload{MemberID: "m1", Entity: "deal", ID: 7, Seq: 1})
	if err != nil || !fresh {
		t.Fatalf("with the lane sizes unreadable: queued %v, %v; want the event queued", fresh, err)
	}
	if n := rdb.ZCard(ctx, asynqGroupKey(EventsQueue("m1"), GroupKey("m1", "deal"))).Val(); n != 1 {
		t.Errorf("the first lane holds %d events, want the one", n)
	}
	if n := rdb.Exists(ctx, pendingKey("m1", "deal", 7)).Val(); n != 1 {
		t.Error("the record's pending marker is not set")
	}
}
