package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	"segmentor/app"
	"segmentor/app/segment"
	"segmentor/bitrix"
)

// ActivityEntity is the Change.Entity of the timeline's activities
// (ONCRMACTIVITYADD, UPDATE, DELETE): their changes refresh the mirror's
// activities and reclassify the records whose engagement they change.
const ActivityEntity = "activity"

// mirrorActivity converts a crm.activity.list row; false for an activity
// of a record the mirror does not keep (a lead's).
func mirrorActivity(a bitrix.Activity) (app.Activity, bool) {
	e := a.OwnerEntity()
	if e == "" || a.OwnerID <= 0 {
		return app.Activity{}, false
	}
	at := a.Start.Time
	if at.IsZero() {
		at = a.Created.Time
	}
	out := app.Activity{ID: int64(a.ID), Owner: app.ActivityOwner{Entity: segment.Entity(e), ID: int64(a.OwnerID)},
		Activity: segment.Activity{Type: segment.ActivityType(min(max(a.TypeID, 0), 255)),
			Direction: segment.Direction(min(max(a.Direction, 0), 3)), Open: !bool(a.Completed)}}
	if !at.IsZero() {
		out.At = at.Unix()
	}
	return out, true
}

func decodeActivity(raw json.RawMessage) (bitrix.Activity, error) {
	var a bitrix.Activity
	if err := json.Unmarshal(raw, &a); err != nil {
		return a, fmt.Errorf("activity row: %w", err)
	}
	return a, nil
}

// applyActivities handles a burst of activity changes: the changed
// activities are re-read in one request (a delete event names only the
// id, and the mirror's index knows whose it was), the mirror's lists
// updated, and, when the rules read engagement facts, the records whose
// lists changed are classified — contacts and companies with their
// deals' activities, so a deal's activity reaches its clients too.
func (c *Classifier) applyActivities(ctx context.Context, ch Change, pr *portalRules) error {
	if err := c.settleBeforeChange(ctx, ch.MemberID); err != nil {
		return err
	}
	fresh, gone, err := c.reader().rereadActivities(ctx, ch.MemberID, ch.IDs)
	if err != nil {
		return err
	}
	m := c.Mirror
	touched, err := m.PutActivities(ctx, ch.MemberID, fresh)
	if err != nil {
		return err
	}
	more, err := m.DeleteActivities(ctx, ch.MemberID, append(gone, ch.Deleted...))
	if err != nil {
		return err
	}
	touched = append(touched, more...)
	if len(touched) == 0 || !pr.rules.UsesActivities() {
		return nil
	}
	r, err := c.newRun(ctx, ch.MemberID, pr)
	if err != nil {
		return err
	}
	if err := c.ensureRFM(ctx, r); err != nil {
		return err
	}
	x := &changeRun{c: c, ch: ch, r: r}
	for _, o := range touched {
		switch o.Entity {
		case segment.EntityDeal:
			if !slices.Contains(x.dealIDs, o.ID) {
				x.dealIDs = append(x.dealIDs, o.ID)
			}
		default:
			x.addClient(app.ClientRef{Entity: o.Entity, ID: o.ID})
		}
	}
	deals, err := m.Deals(ctx, ch.MemberID, x.dealIDs)
	if err != nil {
		return err
	}
	for _, id := range x.dealIDs {
		if d := deals[id]; d != nil {
			for _, ref := range d.Clients() {
				x.addClient(ref)
			}
		}
	}
	if err := c.writer().ensureItems(ctx, r); err != nil {
		return err
	}
	if err := x.classifyClients(ctx); err != nil {
		return err
	}
	if err := x.classifyDeals(ctx); err != nil {
		return err
	}
	return x.writeAndStore(ctx)
}

// rereadActivities reads activities by id, a 50-id list command each, in
// one request for a change's up to MaxChange: the activities (of the
// records the mirror keeps) and the ids the portal no longer has.
func (rd *reader) rereadActivities(ctx context.Context, memberID string, ids []int64) ([]app.Activity, []int64, error) {
	var out []app.Activity
	var gone []int64
	for chunk := range slices.Chunk(ids, MaxChange) {
		acts, g, err := rd.rereadActivityBatch(ctx, memberID, chunk)
		if err != nil {
			return nil, nil, err
		}
		out, gone = append(out, acts...), append(gone, g...)
	}
	return out, gone, nil
}

func (rd *reader) rereadActivityBatch(ctx context.Context, memberID string, ids []int64) ([]app.Activity, []int64, error) {
	if len(ids) == 0 {
		return nil, nil, nil
	}
	p := rd.bitrix.Portal(memberID)
	var cmds []bitrix.Command
	for chunk := range slices.Chunk(ids, bitrix.PageSize) {
		cmds = append(cmds, bitrix.Activities.List("acts"+strconv.Itoa(len(cmds)), bitrix.ActivityFields,
			map[string]any{"@ID": chunk, "@OWNER_TYPE_ID": bitrix.ActivityOwners}, -1))
	}
	res, _, err := p.Batch(ctx, cmds, false)
	if err != nil {
		return nil, nil, fmt.Errorf("re-read activities of %s: %w", memberID, err)
	}
	seen := map[int64]bool{}
	var out []app.Activity
	for _, cmd := range cmds {
		if err := res.Err(cmd.Name); err != nil {
			return nil, nil, fmt.Errorf("re-read activities of %s: %w", memberID, rd.refused(ctx, p, cmd.Method, err))
		}
		rows, err := bitrix.PageRows(res.Results[cmd.Name], "")
		if err != nil {
			return nil, nil, err
		}
		for _, raw := range rows {
			a, err := decodeActivity(raw)
			if err != nil { // one odd row must not stop the rest: it counts as gone
				rd.log.Warn("activity row skipped", "portal", memberID, "error", err)
				continue
			}
			if ma, ok := mirrorActivity(a); ok {
				seen[ma.ID] = true
				out = append(out, ma)
			}
		}
	}
	var gone []int64
	for _, id := range ids {
		if !seen[id] {
			gone = append(gone, id) // deleted, or moved to a record the mirror does not keep
		}
	}
	return out, gone, nil
}

// activityChain scans every activity of the records the mirror keeps, by
// ID, 50 to a page, its pages packed into the sync's requests with the
// other lists'.
func (x *syncRun) activityChain() *chain {
	return &chain{name: "ac", list: bitrix.Activities.Lister(bitrix.ActivityFields, map[string]any{"@OWNER_TYPE_ID": bitrix.ActivityOwners}), est: -1,
		page: func(rows []json.RawMessage) error {
			for _, raw := range rows {
				a, err := decodeActivity(raw)
				if err != nil { // one odd row must not stop the sync
					x.c.log().Warn("activity row skipped", "portal", x.memberID, "error", err)
					continue
				}
				if ma, ok := mirrorActivity(a); ok {
					x.activities = append(x.activities, ma)
				}
			}
			return nil
		}}
}

// storeActivities replaces the mirror's activities with those the sync
// read of the records it read: an activity of a record since deleted
// stays out.
func (x *syncRun) storeActivities(ctx context.Context) error {
	kept := x.activities[:0]
	for _, a := range x.activities {
		if x.read(a.Owner.Entity, a.Owner.ID) {
			kept = append(kept, a)
		}
	}
	x.activities = kept
	return x.c.Mirror.ReplaceActivities(ctx, x.memberID, kept)
}
