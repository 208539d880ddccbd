package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	"segmentor/engine"
)

// TypeActions sends a portal's queued actions: automation triggers,
// timeline entries and notifications of records that entered a segment.
const TypeActions = "portal:actions"

// ActionsPayload names the portal.
type ActionsPayload struct {
	MemberID string `json:"member_id"`
}

// actionsDelay gathers the actions of a burst of changes into full batches.
const actionsDelay = 2 * time.Second

// NewActionsTask builds an actions task; one per portal waits at a time.
func NewActionsTask(p ActionsPayload) (*asynq.Task, []asynq.Option, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, nil, err
	}
	// Unique for a while rather than by task ID: an archived task keeps its
	// ID for months, and every later kick would be refused.
	return asynq.NewTask(TypeActions, b), []asynq.Option{
		asynq.Queue(EventsQueue(p.MemberID)), asynq.Unique(time.Minute), asynq.ProcessIn(actionsDelay),
		asynq.MaxRetry(20), asynq.Timeout(30 * time.Minute),
	}, nil
}

// Actions queues the portal's actions task unless one already waits.
func (q *Queue) Actions(ctx context.Context, memberID string) error {
	t, opts, err := NewActionsTask(ActionsPayload{MemberID: memberID})
	if err != nil {
		return err
	}
	if _, err := q.Client.EnqueueContext(ctx, t, opts...); err != nil && !errors.Is(err, asynq.ErrDuplicateTask) {
		return fmt.Errorf("enqueue actions: %w", err)
	}
	return nil
}

// ActionSender sends a portal's queued actions (engine.Classifier).
type ActionSender interface {
	SendActions(ctx context.Context, memberID string) (engine.ActionStats, error)
}

func (w *Worker) handleActions(ctx context.Context, t *asynq.Task) error {
	var p ActionsPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("actions payload: %v: %w", err, asynq.SkipRetry)
	}
	if _, err := w.activePortal(ctx, p.MemberID, false); err != nil {
		return err
	}
	if w.Actions == nil {
		return fmt.Errorf("actions are not configured in this worker: %w", asynq.SkipRetry)
	}
	// Until the outbox stays empty (a kick refused while this task ran, the
	// task being unique, left its actions to it), a few rounds at most.
	for range 5 {
		st, err := w.Actions.SendActions(ctx, p.MemberID)
		if err != nil {
			return wrapReauth(err)
		}
		w.Log.Info("actions sent", "portal", p.MemberID, "stats", fmt.Sprintf("%+v", st))
		if n, err := w.Store.ActionsWaiting(ctx, p.MemberID); err != nil || n == 0 {
			return err
		}
	}
	w.kickActions(ctx, p.MemberID)
	return nil
}

// kickActions queues the actions task when a change or backfill left
// actions waiting. A failure to queue is logged: the next change, or the
// reconciliation, queues it again.
func (w *Worker) kickActions(ctx context.Context, memberID string) {
	if w.Queue == nil || w.Actions == nil {
		return
	}
	n, err := w.Store.ActionsWaiting(ctx, memberID)
	if err == nil && n > 0 {
		err = w.Queue.Actions(ctx, memberID)
	}
	if err != nil {
		w.Log.Warn("actions not queued", "portal", memberID, "error", err)
	}
}

// TypeRobot answers a call of the robot "Segmentor: classify".
const TypeRobot = "portal:robot"

// RobotPayload is a robot call to answer: the deal (0: a document the
// robot does not classify) and the workflow's event token.
type RobotPayload struct {
	MemberID   string `json:"member_id"`
	DealID     int64  `json:"deal_id"`
	EventToken string `json:"event_token"`
}

// Robot queues a robot call's answer; live work, ahead of recomputes.
func (q *Queue) Robot(ctx context.Context, p RobotPayload) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	if _, err := q.Client.EnqueueContext(ctx, asynq.NewTask(TypeRobot, b), asynq.Queue(EventsQueue(p.MemberID)), asynq.MaxRetry(10),
		asynq.Timeout(2*time.Minute)); err != nil {
		return fmt.Errorf("enqueue robot: %w", err)
	}
	return nil
}

// RobotAnswerer classifies a robot's deal and replies (engine.Classifier).
type RobotAnswerer interface {
	AnswerRobot(ctx context.Context, memberID string, dealID int64, eventToken string) error
}

func (w *Worker) handleRobot(ctx context.Context, t *asynq.Task) error {
	var p RobotPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("robot payload: %v: %w", err, asynq.SkipRetry)
	}
	if _, err := w.activePortal(ctx, p.MemberID, false); err != nil {
		return err
	}
	r, ok := w.Actions.(RobotAnswerer)
	if !ok {
		return fmt.Errorf("robots are not configured in this worker: %w", asynq.SkipRetry)
	}
	if w.Redis != nil { // one classification of a portal's records at a time, as for changes
		unlock, err := lockChanges(ctx, w.Redis, p.MemberID)
		if err != nil {
			return err
		}
		defer unlock()
	}
	err := r.AnswerRobot(ctx, p.MemberID, p.DealID, p.EventToken)
	w.kickActions(ctx, p.MemberID) // the fresh classification may have set things off
	return wrapReauth(err)
}
