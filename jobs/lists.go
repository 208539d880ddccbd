package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	"segmentor/app/segment"
)

// Static lists' work: matching an upload (a 100,000-row list of e-mails
// takes ⌈100,000/50⌉ requests, over a quarter of an hour at 2 requests/s,
// so never inside the page's request) and classifying again the records
// whose membership a confirmed upload, a freeze or a delete changed.
const (
	TypeListMatch      = "list:match"      // match a draft's values with the portal's records
	TypeListReclassify = "list:reclassify" // classify the records whose membership changed
)

// listReclassifyIDs is how many records one reclassify task carries.
const listReclassifyIDs = 5000

// ListMatchPayload names the draft to match.
type ListMatchPayload struct {
	MemberID string `json:"member_id"`
	DraftID  string `json:"draft_id"`
}

// ListReclassifyPayload names records of one list to classify again.
type ListReclassifyPayload struct {
	MemberID string         `json:"member_id"`
	List     string         `json:"list"`
	Entity   segment.Entity `json:"entity"`
	IDs      []int64        `json:"ids"`
}

// ListWork is what the list tasks run (engine.Classifier).
type ListWork interface {
	MatchList(ctx context.Context, memberID, draftID string) error
	ReclassifyList(ctx context.Context, memberID, key string, e segment.Entity, ids []int64) error
}

// MatchList queues the matching of a draft (app's list book calls it).
func (q *Queue) MatchList(ctx context.Context, memberID, draftID string) error {
	b, err := json.Marshal(ListMatchPayload{MemberID: memberID, DraftID: draftID})
	if err != nil {
		return err
	}
	t := asynq.NewTask(TypeListMatch, b, asynq.Queue(QueueLow), asynq.TaskID("listmatch:"+memberID+":"+draftID),
		asynq.MaxRetry(5), asynq.Timeout(2*time.Hour))
	if _, err := q.Client.EnqueueContext(ctx, t); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("enqueue list match: %w", err)
	}
	return nil
}

// ReclassifyList queues the records of list key whose membership changed,
// listReclassifyIDs to a task.
func (q *Queue) ReclassifyList(ctx context.Context, memberID, key string, e segment.Entity, ids []int64) error {
	for start := 0; start < len(ids); start += listReclassifyIDs {
		b, err := json.Marshal(ListReclassifyPayload{MemberID: memberID, List: key, Entity: e,
			IDs: ids[start:min(start+listReclassifyIDs, len(ids))]})
		if err != nil {
			return err
		}
		t := asynq.NewTask(TypeListReclassify, b, asynq.Queue(QueueLow), asynq.MaxRetry(10), asynq.Timeout(time.Hour))
		if _, err := q.Client.EnqueueContext(ctx, t); err != nil {
			return fmt.Errorf("enqueue list reclassify: %w", err)
		}
	}
	return nil
}

func (w *Worker) handleListMatch(ctx context.Context, t *asynq.Task) error {
	var p ListMatchPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("list:match payload: %v: %w", err, asynq.SkipRetry)
	}
	if w.Lists == nil {
		return nil
	}
	if _, err := w.activePortal(ctx, p.MemberID, false); err != nil {
		return err
	}
	return wrapReauth(w.Lists.MatchList(ctx, p.MemberID, p.DraftID))
}

func (w *Worker) handleListReclassify(ctx context.Context, t *asynq.Task) error {
	var p ListReclassifyPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("list:reclassify payload: %v: %w", err, asynq.SkipRetry)
	}
	if w.Lists == nil {
		return nil
	}
	if _, err := w.activePortal(ctx, p.MemberID, false); err != nil {
		return err
	}
	if w.Redis != nil {
		unlock, err := lockChanges(ctx, w.Redis, p.MemberID)
		if err != nil {
			return err
		}
		defer unlock()
	}
	err := w.Lists.ReclassifyList(ctx, p.MemberID, p.List, p.Entity, p.IDs)
	w.kickActions(ctx, p.MemberID)
	return wrapReauth(err)
}
