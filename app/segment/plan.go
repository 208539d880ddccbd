package segment

import (
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"time"
)

// Current is a record's state as the mirror last saw it in the portal.
type Current struct {
	TypeID      string // TYPE_ID, or COMPANY_TYPE for a company
	SegmentItem int    // the Segment list field's item id; 0 = empty
	// Deals only.
	CategoryID int
	StageID    string
	Semantic   Semantic
	Created    time.Time
}

// PlanOptions is what planning needs beyond the record and its result.
type PlanOptions struct {
	// SegmentItems maps a segment key to its item id in the portal's Segment
	// list field for the record's entity.
	SegmentItems map[string]int
	// RulesSince is when the config version took effect: new_only moves
	// deals created after it.
	RulesSince time.Time
	// Pipelines are the portal's deal pipelines, for first_stage.
	Pipelines []Pipeline
}

// Plan is the minimal set of writes that brings a record to its desired
// state. The zero Plan writes nothing.
type Plan struct {
	Type    string `json:"type,omitempty"`    // type id to write; "" leaves the type alone
	Segment *int   `json:"segment,omitempty"` // Segment item id to write, 0 to clear; nil leaves it (shared: never written through)
	Move    *Move  `json:"move,omitempty"`    // deals: crm.item.update categoryId + stageId
}

// Move is a deal's pipeline move.
type Move struct {
	CategoryID int    `json:"category_id"`
	StageID    string `json:"stage_id"`
}

// Empty reports whether the plan writes nothing, as for the echo of the
// app's own write.
func (p Plan) Empty() bool { return p.Type == "" && p.Segment == nil && p.Move == nil }

// MissingItemError says the Segment field has no item for a segment yet; the
// field's items must be synced with the config before writing.
type MissingItemError struct {
	Key string
}

func (e *MissingItemError) Error() string {
	return fmt.Sprintf("segment %q has no item in the Segment field", e.Key)
}

// NewPlan diffs a record's desired state (res) against its current one.
//
//   - Type is written when the segment sets one and it differs; a segment
//     without a type, or no segment, leaves the type as it is.
//   - The Segment field holds the winning segment when it has label: true,
//     else it is cleared, so a stale label never stays behind.
//   - A deal moves to the segment's pipeline when it is in another one, is
//     still open (won and lost deals are never reopened by a move), and the
//     apply policy allows it.
func NewPlan(e Entity, cur Current, res Result, opts PlanOptions) (Plan, error) {
	var p Plan
	if res.Set.Type != "" && res.Set.Type != cur.TypeID {
		p.Type = res.Set.Type
	}
	want := 0
	if res.Key != "" && res.Set.Label {
		id, ok := opts.SegmentItems[res.Key]
		if !ok || id == 0 {
			return Plan{}, &MissingItemError{Key: res.Key}
		}
		want = id
	}
	if want != cur.SegmentItem {
		p.Segment = itemRef(want)
	}
	if t := res.Set.Pipeline; t != nil && e == EntityDeal && shouldMove(cur, t, opts) {
		p.Move = &Move{CategoryID: t.CategoryID, StageID: t.StageID}
	}
	return p, nil
}

// itemRefs holds one *int per Segment item id, shared by every plan that
// writes it: a dry run or a backfill plans every record, and a pointer of
// its own each cost an allocation. Plans never write through it. Readers
// load a shard's map without locking (a read-write mutex's reader count,
// written by every plan on every core, cost a dry run a tenth of its
// time); a new id copies its shard's map, under the shard's lock. Ids
// spread over the shards, so a worker meeting the items of a thousand
// portals copies small maps, each new id once.
var itemRefs [64]struct {
	m  atomic.Pointer[map[int]*int]
	mu sync.Mutex
}

func itemRef(id int) *int {
	sh := &itemRefs[uint(id)%uint(len(itemRefs))]
	if m := sh.m.Load(); m != nil {
		if p := (*m)[id]; p != nil {
			return p
		}
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	old := map[int]*int{}
	if m := sh.m.Load(); m != nil {
		old = *m
	}
	if p := old[id]; p != nil {
		return p
	}
	p := new(int) // not &id: id would move to the heap on every call
	*p = id
	m := maps.Clone(old)
	m[id] = p
	sh.m.Store(&m)
	return p
}

func shouldMove(cur Current, t *Target, opts PlanOptions) bool {
	if cur.CategoryID == t.CategoryID || cur.Semantic == Won || cur.Semantic == Lost {
		return false
	}
	switch t.Apply {
	case ApplyAlways:
		return true
	case ApplyNewOnly:
		return cur.Created.After(opts.RulesSince)
	case ApplyFirstStage:
		for _, p := range opts.Pipelines {
			if p.ID == cur.CategoryID {
				return p.FirstStage() != "" && p.FirstStage() == cur.StageID
			}
		}
	}
	return false
}
