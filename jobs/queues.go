package jobs

import (
	"hash/fnv"
	"strconv"
	"strings"

	"github.com/hibiken/asynq"
)

// Queue names and their weights. Live events outrank backfills, so a large
// portal's backfill never starves another portal's edits.
const (
	QueueCritical = "critical" // install/setup, uninstall
	QueueEvents   = "events"   // live work of no one portal (the reconciliation after an outage); a portal's is in its shard (EventsQueue)
	QueueLow      = "low"      // backfills, scheduled recomputes, reconciliation
)

// EventShards is how many queues carry the portals' live work (events,
// their merged changes, actions, robot answers): "events-0" to "events-7",
// a portal's chosen by a hash of its member_id (EventsQueue).
//
// asynq keeps a queue's keys under one hash tag (asynq:{queue}:…), so on a
// Redis Cluster one queue, with its aggregation groups, lives on one node:
// shards spread the portals' live work over the nodes. They also keep one
// portal's mass edit from queueing ahead of every other portal's edits: the
// worker takes from the shards at random, and one shard's backlog holds up
// only the portals hashed to it. The number is fixed: a task waits in the
// queue it was put in, so changing it would strand the tasks of the shards
// no longer served. Each shard costs a worker one more script call per look
// for work, so more shards than masters of a large cluster buys nothing.
const EventShards = 8

// eventsWeight is the weight of the events queue and of each shard.
const eventsWeight = 3

// Queues is the weighted queue map for asynq.Config.Queues.
//
// Each shard weighs what the one events queue weighed: asynq picks among
// the queues that hold work in proportion to their weights, and live work
// is usually in a few shards at once, so a busy shard against the backfills
// keeps today's 3 to 1, whatever the number of shards. Splitting the weight
// evenly (3/8 each) would let one busy portal's edits lose to backfills.
// With every shard busy, live work takes more of the workers, and backfills
// and setups less: that is the order the app wants.
func Queues() map[string]int {
	q := map[string]int{QueueCritical: 6, QueueEvents: eventsWeight, QueueLow: 1}
	for i := range EventShards {
		q[eventShard(i)] = eventsWeight
	}
	return q
}

// EventsQueue is the queue of a portal's live work.
func EventsQueue(memberID string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(memberID))
	return eventShard(int(h.Sum32() % EventShards))
}

// EventQueues lists every queue of live work: the events queue and its
// shards.
func EventQueues() []string {
	out := []string{QueueEvents}
	for i := range EventShards {
		out = append(out, eventShard(i))
	}
	return out
}

// No '{' or '}': asynq's keys take the queue name as their hash tag.
func eventShard(i int) string { return QueueEvents + "-" + strconv.Itoa(i) }

// QueueClass is the queue a view shows a queue as: "events" for the events
// queue and each of its shards, the name itself for the others.
func QueueClass(name string) string {
	if rest, ok := strings.CutPrefix(name, QueueEvents+"-"); ok {
		if i, err := strconv.Atoi(rest); err == nil && i >= 0 && i < EventShards && eventShard(i) == name {
			return QueueEvents
		}
	}
	return name
}

// MergeQueueInfo sums asynq's figures of the queues of one class (the
// events queue and its shards) into one per class, in the order the
// classes first appear: counts and memory add up, the latency is the
// oldest, a class is paused when any of its queues is.
func MergeQueueInfo(infos []*asynq.QueueInfo) []*asynq.QueueInfo {
	var out []*asynq.QueueInfo
	byClass := map[string]*asynq.QueueInfo{}
	for _, in := range infos {
		if in == nil {
			continue
		}
		class := QueueClass(in.Queue)
		m, ok := byClass[class]
		if !ok {
			m = &asynq.QueueInfo{Queue: class}
			byClass[class] = m
			out = append(out, m)
		}
		m.MemoryUsage += in.MemoryUsage
		m.Latency = max(m.Latency, in.Latency)
		m.Size += in.Size
		m.Groups += in.Groups
		m.Pending += in.Pending
		m.Active += in.Active
		m.Scheduled += in.Scheduled
		m.Retry += in.Retry
		m.Archived += in.Archived
		m.Completed += in.Completed
		m.Aggregating += in.Aggregating
		m.Processed += in.Processed
		m.Failed += in.Failed
		m.ProcessedTotal += in.ProcessedTotal
		m.FailedTotal += in.FailedTotal
		m.Paused = m.Paused || in.Paused
		if in.Timestamp.After(m.Timestamp) {
			m.Timestamp = in.Timestamp
		}
	}
	return out
}
