package engine

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"segmentor/app"
	"segmentor/app/segment"
	"segmentor/bitrix"
)

// Static lists in the engine: every run loads the members of the lists its
// rules name (newRun), an upload's values are matched with the portal's
// records (MatchList), and a list's changed members are classified again
// (ReclassifyList).

// listMembers loads the members of the lists rules name.
func (c *Classifier) listMembers(ctx context.Context, memberID string, rules *segment.Rules) (segment.ListMembers, error) {
	if rules == nil {
		return nil, nil
	}
	keys := rules.ListKeys()
	if len(keys) == 0 {
		return nil, nil
	}
	return c.Store.ListMembers(ctx, memberID, keys)
}

// withListNames gives names the portal's list names, so a timeline entry
// says "In list Trade fair 2026"; without them it says the list's key.
func (c *Classifier) withListNames(ctx context.Context, memberID string, names *segment.Names) *segment.Names {
	if _, byKey, err := c.Store.ListVocabulary(ctx, memberID); err == nil {
		names.Lists = byKey
	}
	return names
}

// MatchList matches a draft's upload: ids against the mirror (no REST
// request), e-mails and phones with crm.duplicate.findbycomm
// (bitrix.PortalClient.MatchComm), saving its progress after each
// request, then its report. The draft's list is not touched: the admin
// confirms it (ConfirmList). A draft already finished is left as it is.
func (c *Classifier) MatchList(ctx context.Context, memberID, draftID string) error {
	d, err := c.Store.ListDraft(ctx, memberID, draftID)
	if app.ErrorCode(err) == app.ENotFound {
		return nil // expired or cancelled: nothing to do
	}
	if err != nil {
		return err
	}
	if d.State != "queued" && d.State != "running" {
		return nil
	}
	entries, invalid, dups, rows, err := c.Store.ListDraftValues(ctx, memberID, draftID)
	if err != nil {
		return err
	}
	d.State, d.Done = "running", 0
	if err := c.Store.SaveListDraft(ctx, memberID, d, nil); err != nil {
		return err
	}
	found, requests, err := c.matchValues(ctx, memberID, d, entries)
	if err != nil {
		d.State, d.Error = "failed", err.Error()
		if serr := c.Store.SaveListDraft(ctx, memberID, d, nil); serr != nil {
			return serr
		}
		return err
	}
	rep := &app.ListReport{Rows: rows, Duplicates: dups, Invalid: invalid,
		NotFound: []app.ListEntry{}, Ambiguous: []app.AmbiguousRow{}}
	if rep.Invalid == nil {
		rep.Invalid = []app.BadRow{}
	}
	var ids []int64
	for _, en := range entries {
		switch got := found[en.Value]; {
		case len(got) == 0:
			rep.NotFound = append(rep.NotFound, en)
		case len(got) > 1:
			rep.Ambiguous = append(rep.Ambiguous, app.AmbiguousRow{ListEntry: en, IDs: got})
		default:
			ids = append(ids, got[0])
		}
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	rep.Matched = len(ids)
	d.State, d.Done, d.Requests, d.Report = "done", len(entries), requests, rep
	if ids == nil {
		ids = []int64{}
	}
	return c.Store.SaveListDraft(ctx, memberID, d, ids)
}

// matchValues finds, for each value, the ids of the records of the
// draft's kind it names.
func (c *Classifier) matchValues(ctx context.Context, memberID string, d *app.ListDraft, entries []app.ListEntry) (map[string][]int64, int, error) {
	out := make(map[string][]int64, len(entries))
	if d.By == app.ByID {
		ids, err := c.Mirror.IDs(ctx, memberID, d.Entity)
		if err != nil {
			return nil, 0, err
		}
		slices.Sort(ids)
		for _, en := range entries {
			id, err := strconv.ParseInt(en.Value, 10, 64)
			if _, ok := slices.BinarySearch(ids, id); err == nil && ok {
				out[en.Value] = []int64{id}
			}
		}
		return out, 0, nil
	}
	typ, entityType := bitrix.CommEmail, "CONTACT"
	if d.By == app.ByPhone {
		typ = bitrix.CommPhone
	}
	if d.Entity == segment.EntityCompany {
		entityType = "COMPANY"
	}
	values := make([]string, len(entries))
	for i, en := range entries {
		values[i] = en.Value
	}
	requests := 0
	matches, err := c.Bitrix.Portal(memberID).MatchComm(ctx, typ, entityType, values, func(done, n int) {
		requests = n
		d.Done, d.Requests = done, n
		_ = c.Store.SaveListDraft(ctx, memberID, d, nil) // progress only: the next save carries it
	})
	if err != nil {
		return nil, requests, fmt.Errorf("match the list's %ss: %w", d.By, err)
	}
	for v, m := range matches {
		ids := m.Contacts
		if d.Entity == segment.EntityCompany {
			ids = m.Companies
		}
		for _, id := range ids {
			out[v] = append(out[v], int64(id))
		}
	}
	return out, requests, nil
}

// ReclassifyList classifies again the records whose membership of list
// key changed, from the mirror (no REST read), when the saved rules read
// the list; their deals follow when deal rules read client_segment. ids
// go MaxChange at a time, each part written before the next.
func (c *Classifier) ReclassifyList(ctx context.Context, memberID, key string, e segment.Entity, ids []int64) error {
	pr, err := c.rulesFor(ctx, memberID)
	if err != nil || pr == nil || !slices.Contains(pr.rules.ListKeys(), key) || !pr.rules.Has(e) && !pr.rules.UsesClientSegment() {
		return err
	}
	if err := c.settleBeforeChange(ctx, memberID); err != nil {
		return err
	}
	for start := 0; start < len(ids); start += MaxChange {
		part := ids[start:min(start+MaxChange, len(ids))]
		r, err := c.newRun(ctx, memberID, pr)
		if err != nil {
			return err
		}
		if err := c.ensureRFM(ctx, r); err != nil {
			return err
		}
		x := &changeRun{c: c, ch: Change{MemberID: memberID, Entity: string(e), IDs: part}, entity: e, r: r}
		for _, id := range part {
			x.addClient(app.ClientRef{Entity: e, ID: id})
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
		if err := x.writeAndStore(ctx); err != nil {
			return err
		}
	}
	return nil
}

// ListChanged is the records whose membership differs between two sorted
// member lists: those to classify again.
func ListChanged(before, after []int64) []int64 {
	var out []int64
	i, j := 0, 0
	for i < len(before) || j < len(after) {
		switch {
		case j == len(after) || i < len(before) && before[i] < after[j]:
			out = append(out, before[i])
			i++
		case i == len(before) || after[j] < before[i]:
			out = append(out, after[j])
			j++
		default:
			i++
			j++
		}
	}
	return out
}

// SegmentIDs answers the ids of the records of e carrying segment key now,
// from the mirror (a list frozen from the segment).
func (a *Analyst) SegmentIDs(ctx context.Context, memberID string, e segment.Entity, key string) ([]int64, error) {
	members, err := a.Members(ctx, memberID, e, key, nil, nil)
	if err != nil {
		return nil, err
	}
	ids := make([]int64, len(members))
	for i, m := range members {
		ids[i] = m.ID
	}
	return ids, nil
}
