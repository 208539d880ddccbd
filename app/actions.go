package app

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"segmentor/app/segment"
)

// Action is what a record's entry into a segment sets off besides the
// writes: the segment's automation trigger, a timeline entry and a
// notification to the responsible user. A write's journal note carries it
// and EndWrites queues it in the portal's outbox exactly when the write is
// known to have run; the actions job (jobs) sends the outbox in batches.
type Action struct {
	Entity   string          `json:"e"`
	ID       int64           `json:"i"`
	Segment  string          `json:"s"`           // the segment entered
	From     string          `json:"f,omitempty"` // the segment left
	Trigger  bool            `json:"t,omitempty"` // fire the segment's trigger
	Timeline bool            `json:"l,omitempty"` // write the change on the record's timeline
	Notify   int             `json:"n,omitempty"` // the responsible user to notify; 0: nobody
	Live     bool            `json:"v,omitempty"` // a live change (not a recompute of the base)
	Version  int             `json:"cv"`          // the rules version that made the change
	At       time.Time       `json:"at"`
	Reason   *segment.Reason `json:"r,omitempty"`
}

// maxOutbox bounds a portal's outbox: a portal whose actions cannot be
// sent (its automation scope revoked, say) does not grow it forever; the
// oldest actions are dropped first.
const maxOutbox = 100000

func outboxKey(memberID string) string { return portalKey(memberID, "actions") }

// Actions returns up to n of the portal's queued actions, oldest first,
// without taking them: DropActions takes them once they are sent. An
// entry that does not decode stays in its place as an empty Action (no
// Entity), so that counts taken from the answer drop exactly what was read.
func (s *Store) Actions(ctx context.Context, memberID string, n int) ([]Action, error) {
	raw, err := s.rdb.LRange(ctx, outboxKey(memberID), 0, int64(n)-1).Result()
	if err != nil {
		return nil, fmt.Errorf("actions of %s: %w", memberID, err)
	}
	out := make([]Action, 0, len(raw))
	for _, r := range raw {
		var a Action
		if err := json.Unmarshal([]byte(r), &a); err != nil {
			a = Action{} // unreadable: dropped with its batch
		}
		out = append(out, a)
	}
	return out, nil
}

// ActionsWaiting counts the portal's queued actions.
func (s *Store) ActionsWaiting(ctx context.Context, memberID string) (int, error) {
	n, err := s.rdb.LLen(ctx, outboxKey(memberID)).Result()
	return int(n), err
}

// DropActions removes the n oldest queued actions (those just sent).
func (s *Store) DropActions(ctx context.Context, memberID string, n int) error {
	return s.rdb.LTrim(ctx, outboxKey(memberID), int64(n), -1).Err()
}

// QueueActions appends actions to the portal's outbox (tests and callers
// outside the write journal).
func (s *Store) QueueActions(ctx context.Context, memberID string, actions []Action) error {
	if len(actions) == 0 {
		return nil
	}
	vals := make([]any, len(actions))
	for i, a := range actions {
		b, err := json.Marshal(a)
		if err != nil {
			return err
		}
		vals[i] = b
	}
	key := outboxKey(memberID)
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.RPush(ctx, key, vals...)
		p.LTrim(ctx, key, -maxOutbox, -1)
		return nil
	})
	return err
}

func notifiedKey(memberID, entity string, id int64) string {
	return portalKey(memberID, "notified:"+entity+":"+strconv.FormatInt(id, 10))
}

// Notified reports whether the record's responsible user was told about
// it within the last day: at most one notification a day per record.
func (s *Store) Notified(ctx context.Context, memberID, entity string, id int64) (bool, error) {
	n, err := s.rdb.Exists(ctx, notifiedKey(memberID, entity, id)).Result()
	return n > 0, err
}

// MarkNotified records a notification sent about the record, for a day.
func (s *Store) MarkNotified(ctx context.Context, memberID, entity string, id int64) error {
	return s.rdb.Set(ctx, notifiedKey(memberID, entity, id), "1", 24*time.Hour).Err()
}

// MissingScopes lists the scopes the portal's admin did not grant that an
// action needed (im for notifications): the settings page says so, and
// such actions are skipped until the app is reinstalled with them.
func (s *Store) MissingScopes(ctx context.Context, memberID string) ([]string, error) {
	return s.rdb.SMembers(ctx, portalKey(memberID, "scopes:missing")).Result()
}

// NoteMissingScope remembers a scope the portal refused.
func (s *Store) NoteMissingScope(ctx context.Context, memberID, scope string) error {
	return s.rdb.SAdd(ctx, portalKey(memberID, "scopes:missing"), scope).Err()
}

// ClearMissingScopes forgets them, and the triggers registered: a
// reinstall grants the app's scopes anew, and the portal dropped the app's
// triggers when it was uninstalled.
func (s *Store) ClearMissingScopes(ctx context.Context, memberID string) error {
	return s.rdb.Del(ctx, portalKey(memberID, "scopes:missing"), portalKey(memberID, "triggers")).Err()
}

// ForgetTrigger drops a trigger the portal no longer has.
func (s *Store) ForgetTrigger(ctx context.Context, memberID, code string) error {
	return s.rdb.HDel(ctx, portalKey(memberID, "triggers"), code).Err()
}

// Triggers are the automation triggers the app registered on the portal,
// code → name.
func (s *Store) Triggers(ctx context.Context, memberID string) (map[string]string, error) {
	return s.rdb.HGetAll(ctx, portalKey(memberID, "triggers")).Result()
}

// SetTriggers records triggers registered on the portal.
func (s *Store) SetTriggers(ctx context.Context, memberID string, triggers map[string]string) error {
	if len(triggers) == 0 {
		return nil
	}
	return s.rdb.HSet(ctx, portalKey(memberID, "triggers"), triggers).Err()
}

// TimelineComments reports whether the portal lacks timeline log messages,
// so that timeline entries go as comments.
func (s *Store) TimelineComments(ctx context.Context, memberID string) (bool, error) {
	n, err := s.rdb.Exists(ctx, portalKey(memberID, "timeline:comments")).Result()
	return n > 0, err
}

// UseTimelineComments remembers that the portal lacks log messages.
func (s *Store) UseTimelineComments(ctx context.Context, memberID string) error {
	return s.rdb.Set(ctx, portalKey(memberID, "timeline:comments"), "1", 0).Err()
}
