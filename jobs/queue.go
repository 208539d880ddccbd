package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"segmentor/internal/keyspace"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// pendingTTL bounds how long a record's pending marker can suppress new
// events if its job was lost (say, a crash between marking and enqueuing):
// after it the next event enqueues again.
const pendingTTL = 10 * time.Minute

// Queue puts work on the asynq queues. CRM changes are deduplicated per
// record while a job for that record is waiting: the job reads the record
// when it runs, so later edits before that are already covered. This is
// what lets a group of maxIDs tasks be maxIDs distinct records, so a mass
// edit of 10,000 changes to 2,000 records becomes about 8 jobs.
type Queue struct {
	Client *asynq.Client
	Redis  redis.UniversalClient
	// UninstallWindow gathers a portal's uninstall events into one check
	// (DefaultUninstallWindow when 0).
	UninstallWindow time.Duration
	Clock           func() time.Time // nil: the wall clock
	Log             *slog.Logger

	outage outage // changes that could not be queued (outage.go)
}

// asynqGroupKey is the sorted set in which asynq keeps a group's waiting
// tasks (asynq:{queue}:g:group, asynq's internal/base.GroupKey): only its
// size is read, to choose an event's lane.
func asynqGroupKey(queue, group string) string { return "asynq:{" + queue + "}:g:" + group }

func pendingKey(memberID, entity string, id int64) string {
	return keyspace.Pending(memberID, entity, id)
}

// Change queues one CRM change. It reports whether a task was enqueued
// (false: the record already waits in a job that will see this change).
func (q *Queue) Change(ctx context.Context, p CRMEventPayload) (bool, error) {
	key := pendingKey(p.MemberID, p.Entity, p.ID)
	// One round trip: the record's marker, and how full the entity's first
	// lane is (tasks.go, eventLanes); the overflow lanes are read only when
	// it holds a flood's backlog. On a cluster the marker and the lanes live
	// on different nodes and each part fails alone: only the marker's
	// failure stops the event. A lane size that could not be read counts as
	// empty, and the enqueue below, which needs the queue's node, then
	// fails and clears the marker or succeeds; an error here with the
	// marker set would leave it swallowing the record's events for
	// pendingTTL with no job behind it.
	var mark *redis.BoolCmd
	var first *redis.IntCmd
	queue := EventsQueue(p.MemberID)
	_, _ = q.Redis.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		mark = pipe.SetNX(ctx, key, p.Seq, pendingTTL)
		first = pipe.ZCard(ctx, asynqGroupKey(queue, GroupKey(p.MemberID, p.Entity)))
		return nil
	})
	if err := mark.Err(); err != nil {
		q.NoteFailure(ctx, err)
		return false, fmt.Errorf("mark pending: %w", err)
	}
	if !mark.Val() && !p.Deleted {
		return false, nil
	}
	sizes := [eventLanes]int64{first.Val()} // 0 when it failed
	if sizes[0] >= overflowAfter {
		var waiting [eventLanes]*redis.IntCmd
		_, _ = q.Redis.Pipelined(ctx, func(pipe redis.Pipeliner) error {
			for lane := 1; lane < eventLanes; lane++ {
				waiting[lane] = pipe.ZCard(ctx, asynqGroupKey(queue, laneGroup(p.MemberID, p.Entity, lane)))
			}
			return nil
		})
		for lane := 1; lane < eventLanes; lane++ {
			sizes[lane] = waiting[lane].Val()
		}
	}
	t, opts, err := NewCRMEventTask(p, chooseLane(sizes))
	if err != nil {
		return false, err
	}
	if _, err := q.Client.EnqueueContext(ctx, t, opts...); err != nil {
		q.Redis.Del(ctx, key) // let the next event try again
		q.NoteFailure(ctx, err)
		return false, fmt.Errorf("enqueue change: %w", err)
	}
	return true, nil
}

// Setup queues a portal's setup (app.Jobs). An update's setup (version
// set) already queued or running is not queued twice.
func (q *Queue) Setup(ctx context.Context, memberID, reason, version string) error {
	t, opts, err := NewSetupTask(SetupPayload{MemberID: memberID, Reason: reason, Version: version})
	if err != nil {
		return err
	}
	if _, err = q.Client.EnqueueContext(ctx, t, opts...); errors.Is(err, asynq.ErrTaskIDConflict) {
		return nil
	}
	return err
}

// clearPending is called when a changes job holds its portal, before it
// reads the records: an edit arriving from now on enqueues a new job.
func clearPending(ctx context.Context, rdb redis.UniversalClient, c CRMChangesPayload) error {
	if rdb == nil {
		return nil
	}
	keys := make([]string, 0, len(c.IDs)+len(c.Deleted))
	for _, id := range c.IDs {
		keys = append(keys, pendingKey(c.MemberID, c.Entity, id))
	}
	for _, id := range c.Deleted {
		keys = append(keys, pendingKey(c.MemberID, c.Entity, id))
	}
	if len(keys) == 0 {
		return nil
	}
	return rdb.Del(ctx, keys...).Err()
}

// Backfill queues a portal's backfill. One already queued or running is
// not duplicated: it will see the latest config when it runs.
func (q *Queue) Backfill(ctx context.Context, memberID, reason string) error {
	t, opts, err := NewBackfillTask(BackfillPayload{MemberID: memberID, Reason: reason})
	if err != nil {
		return err
	}
	if _, err := q.Client.EnqueueContext(ctx, t, opts...); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("enqueue backfill: %w", err)
	}
	return nil
}
