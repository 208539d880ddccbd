package jobs

import (
	"encoding/json"
	"sort"
	"strconv"
	"time"

	"github.com/hibiken/asynq"

	"segmentor/engine"
)

// Task types.
const (
	TypeSetup      = "portal:setup" // bind events and card tabs, create the Segment field, cache reference data
	TypeCRMEvent   = "crm:event"    // one CRM change, held in a group of its portal's entity (tasks.go, eventLanes)
	TypeCRMChanges = "crm:changes"  // up to maxIDs distinct records of one entity, merged from crm:event
)

// Group aggregation: a burst of events for one portal and entity is merged
// into one task of at most maxIDs distinct records (queue.go dedups per
// record) once it has been quiet for the grace period, has waited maxDelay,
// or is full.
//
// maxIDs is engine.MaxChange, 250: the job re-reads its records in one
// batch. Re-reads cost 0.2 requests per 50 records instead of 1; writes stay
// ceil(changed/50), so larger jobs would save at most another 0.1 while
// holding the portal's changes lock longer. A full job's writes are 5
// requests, 2.5 s at 2/s.
//
// Size only ends a group early: a lone edit still waits the grace period
// (1–2 s, as the aggregator checks every second), a stream at most
// maxDelay, so live edits land within seconds as before.
const (
	maxIDs        = engine.MaxChange
	groupGrace    = time.Second
	groupMaxDelay = 5 * time.Second
)

// changesTimeout bounds a crm:changes job. At 2 requests/s a full job
// needs about 10 s (a re-read, 5 write batches, a settle or Segment items
// read), twice that beside a backfill sharing the budget; knock-on
// relabels of a big client's deals add a write request per 50 deals. Ten
// minutes fits 1,000 such requests; a limiter wait that would pass the
// deadline returns bitrix.RateLimitedError and the job comes back later
// (isFailure, retryDelay) rather than holding its worker.
const changesTimeout = 10 * time.Minute

// SetupPayload asks for a portal's setup to run (again).
type SetupPayload struct {
	MemberID string `json:"member_id"`
	Reason   string `json:"reason"`            // install, update, retry
	Version  string `json:"version,omitempty"` // the app version an update brought (ONAPPUPDATE's data[VERSION])
}

// CRMEventPayload is one change Bitrix24 reported.
type CRMEventPayload struct {
	MemberID string `json:"member_id"`
	Entity   string `json:"entity"` // contact, company, deal
	ID       int64  `json:"id"`
	Deleted  bool   `json:"deleted,omitempty"`
	// Seq orders events of the same second (the aggregator's own order is
	// only by whole seconds): nanoseconds of receipt.
	Seq int64 `json:"seq"`
}

// CRMChangesPayload is a merged burst: distinct record ids, newest first.
type CRMChangesPayload struct {
	MemberID string  `json:"member_id"`
	Entity   string  `json:"entity"`
	IDs      []int64 `json:"ids"`               // changed records to re-read
	Deleted  []int64 `json:"deleted,omitempty"` // records that are gone
}

// eventLanes is how many aggregation groups a portal's entity may fill at
// once. asynq's aggregator closes at most one set per group per check (a
// second; each worker process runs one), so a single group caps a flood of
// events at maxIDs records a second a worker: the echo of a
// 1,000,000-deal backfill's writes took 48 minutes at the cost curve's
// raised limit, with one worker, where the writes took 27.
//
// An event waits in the first lane unless that holds overflowAfter events
// or more (chooseLane). Below that, a burst waits there as it always did:
// a record edited again after its job read it is queued again, so a
// stream of repeated edits costs fewer re-reads and writes when it is
// taken one set a second (10,000 edits of 2,000 deals: 9 jobs, 12 to 37
// with every burst spread over the lanes, as the worker kept up). Beyond
// it (a backlog of 16 s and more with one worker, which only a mass
// change of thousands of records builds) events fill the overflow lanes,
// the fullest not yet full first, so that their sets stay full and a
// flood's end leaves one part-filled set, and the flood is taken
// eventLanes sets a second.
const (
	eventLanes    = 4
	overflowAfter = 16 * maxIDs
)

// chooseLane picks an event's lane from the lanes' sizes: the first while
// it holds fewer than overflowAfter; then the fullest overflow lane not yet
// full (the first of equals) or, all being full, the emptiest.
func chooseLane(sizes [eventLanes]int64) int {
	if sizes[0] < overflowAfter {
		return 0
	}
	open, least := -1, 1
	for lane := 1; lane < eventLanes; lane++ {
		n := sizes[lane]
		if n < maxIDs && (open < 0 || n > sizes[open]) {
			open = lane
		}
		if n < sizes[least] {
			least = lane
		}
	}
	if open >= 0 {
		return open
	}
	return least
}

// GroupKey is the aggregation group of a portal's entity: its first lane.
// It holds no '{' or '}' (a member_id is letters, digits, '_' and '-';
// bitrix checks it), so the group's keys keep their queue's hash tag.
func GroupKey(memberID, entity string) string { return laneGroup(memberID, entity, 0) }

// laneGroup is a portal entity's aggregation group of the given lane.
func laneGroup(memberID, entity string, lane int) string {
	if lane == 0 {
		return memberID + ":" + entity
	}
	return memberID + ":" + entity + ":" + strconv.Itoa(lane)
}

// NewCRMEventTask builds the grouped task for one event, in the given lane
// of its portal's entity (chooseLane: 0 unless a flood overflows it).
func NewCRMEventTask(p CRMEventPayload, lane int) (*asynq.Task, []asynq.Option, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, nil, err
	}
	return asynq.NewTask(TypeCRMEvent, b), []asynq.Option{asynq.Queue(EventsQueue(p.MemberID)), asynq.Group(laneGroup(p.MemberID, p.Entity, lane))}, nil
}

// NewSetupTask builds a setup task.
func NewSetupTask(p SetupPayload) (*asynq.Task, []asynq.Option, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, nil, err
	}
	opts := []asynq.Option{asynq.Queue(QueueCritical), asynq.MaxRetry(8), asynq.Timeout(5 * time.Minute)}
	if p.Version != "" {
		// One setup per version: an update announced twice (or replayed)
		// while its setup waits or runs is the same task.
		opts = append(opts, asynq.TaskID("setup:"+p.MemberID+":"+p.Version))
	}
	return asynq.NewTask(TypeSetup, b), opts, nil
}

// aggregate merges a group's events into one crm:changes task: each record
// once, in order of its newest event, newest first; a record whose newest
// event is a delete is listed as deleted.
func aggregate(group string, tasks []*asynq.Task) *asynq.Task {
	type last struct {
		seq     int64
		deleted bool
	}
	latest := map[int64]last{}
	var out CRMChangesPayload
	for _, t := range tasks {
		var p CRMEventPayload
		if err := json.Unmarshal(t.Payload(), &p); err != nil || p.ID <= 0 {
			continue // enqueued by us; a bad payload cannot be retried into shape
		}
		out.MemberID, out.Entity = p.MemberID, p.Entity
		if l, ok := latest[p.ID]; !ok || p.Seq >= l.seq {
			latest[p.ID] = last{p.Seq, p.Deleted}
		}
	}
	ids := make([]int64, 0, len(latest))
	for id := range latest {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool {
		a, b := latest[ids[i]], latest[ids[j]]
		if a.seq != b.seq {
			return a.seq > b.seq
		}
		return ids[i] > ids[j]
	})
	for _, id := range ids {
		if latest[id].deleted {
			out.Deleted = append(out.Deleted, id)
		} else {
			out.IDs = append(out.IDs, id)
		}
	}
	b, _ := json.Marshal(out) // plain struct: cannot fail
	return asynq.NewTask(TypeCRMChanges, b, asynq.Queue(EventsQueue(out.MemberID)), asynq.MaxRetry(10), asynq.Timeout(changesTimeout))
}
