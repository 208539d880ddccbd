package jobs

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hibiken/asynq"
)

// A portal's live work has one queue, chosen by its member_id, and the
// portals spread over every shard; the worker serves each shard at the
// events queue's weight.
func TestEventsQueueShardsPortals(t *testing.T) {
	counts := map[string]int{}
	for i := range 4000 {
		m := fmt.Sprintf("%032x", uint64(i)*0x9e3779b97f4a7c15)
		q := EventsQueue(m)
		if q != EventsQueue(m) {
			t.Fatalf("EventsQueue(%s) is not stable", m)
		}
		counts[q]++
	}
	if len(counts) != EventShards {
		t.Fatalf("4,000 portals fell into %d shards, want all %d: %v", len(counts), EventShards, counts)
	}
	for q, n := range counts {
		// 500 expected each; a fair hash stays well inside ±30 %.
		if n < 350 || n > 650 {
			t.Errorf("shard %s holds %d of 4,000 portals", q, n)
		}
	}
	queues := Queues()
	for _, q := range EventQueues() {
		if queues[q] != queues[QueueEvents] || queues[q] == 0 {
			t.Errorf("queue %s weighs %d, want the events weight %d", q, queues[q], queues[QueueEvents])
		}
		if QueueClass(q) != QueueEvents {
			t.Errorf("QueueClass(%s) = %s, want events", q, QueueClass(q))
		}
	}
	if len(queues) != 3+EventShards || queues[QueueCritical] != 6 || queues[QueueLow] != 1 {
		t.Errorf("queues = %v", queues)
	}
	for _, q := range []string{QueueCritical, QueueLow, "events-x", "events-08", "events-" + fmt.Sprint(EventShards)} {
		if QueueClass(q) != q {
			t.Errorf("QueueClass(%s) = %s, want itself", q, QueueClass(q))
		}
	}
}

// On a Redis Cluster asynq's keys take the queue's name as their hash tag
// (asynq:{queue}:…): a '{' or '}' in a queue name, group key or task id
// would split a queue's keys over slots (CROSSSLOT). Every name the app
// builds from a portal is free of them.
func TestQueueNamesGroupsAndTaskIDsHaveNoBraces(t *testing.T) {
	member := "abcXYZ0189_-" // every character bitrix accepts in a member_id
	var names []string
	for q := range Queues() {
		names = append(names, q)
	}
	for lane := range eventLanes {
		names = append(names, laneGroup(member, "deal", lane))
	}
	task, opts, err := NewSetupTask(SetupPayload{MemberID: member, Version: "1.2-b_3+x"})
	if err != nil {
		t.Fatal(err)
	}
	_, bopts, err := NewBackfillTask(BackfillPayload{MemberID: member})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range append(opts, bopts...) {
		names = append(names, fmt.Sprint(o.Value()))
	}
	for _, n := range names {
		if strings.ContainsAny(n, "{}") {
			t.Errorf("%q holds a brace", n)
		}
	}
	if task.Type() != TypeSetup {
		t.Errorf("setup task type %s", task.Type())
	}
}

func TestMergeQueueInfoSumsTheShards(t *testing.T) {
	in := []*asynq.QueueInfo{
		{Queue: "critical", Pending: 1, Latency: time.Second},
		{Queue: "events-3", Pending: 2, Active: 1, Aggregating: 5, Groups: 2, Latency: 4 * time.Second, ProcessedTotal: 10},
		{Queue: "low", Pending: 7},
		{Queue: "events", Pending: 1, Latency: time.Second, Paused: true},
		{Queue: "events-0", Retry: 3, Scheduled: 1, Size: 9, ProcessedTotal: 5, FailedTotal: 1},
	}
	got := MergeQueueInfo(in)
	want := []*asynq.QueueInfo{
		{Queue: "critical", Pending: 1, Latency: time.Second},
		{Queue: "events", Pending: 3, Active: 1, Aggregating: 5, Groups: 2, Retry: 3, Scheduled: 1, Size: 9,
			Latency: 4 * time.Second, Paused: true, ProcessedTotal: 15, FailedTotal: 1},
		{Queue: "low", Pending: 7},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("merged (-want +got):\n%s", d)
	}
}
