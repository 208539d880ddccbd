package engine

import (
	"context"
	"fmt"
	"regexp"

	"segmentor/app"
	"segmentor/app/segment"
)

// ListQueue queues the lists' work (jobs.Queue).
type ListQueue interface {
	MatchList(ctx context.Context, memberID, draftID string) error
	ReclassifyList(ctx context.Context, memberID, key string, e segment.Entity, ids []int64) error
}

// ListBook keeps a portal's static lists: an upload becomes a draft that a
// job matches and the admin confirms; a segment is frozen into a list; a
// list is renamed or deleted. Every change of members queues the records
// whose membership changed to be classified again.
type ListBook struct {
	Store   *app.Store
	Analyst *Analyst
	Jobs    ListQueue
}

// Upload is a list file and what to make of it.
type Upload struct {
	Data   []byte
	File   string
	Name   string         // the new list's name (a new list)
	Key    string         // an existing list whose members the upload replaces ("" for a new one)
	Entity segment.Entity // a new list's kind of records
	By     app.MatchBy
	UserID int64
}

var draftIDPattern = regexp.MustCompile(`^[0-9a-f]{16}$`)

// Upload reads a file, keeps it as a draft and queues its matching. A
// file it cannot read is an *app.ListFileError.
func (b *ListBook) Upload(ctx context.Context, memberID string, u Upload) (*app.ListDraft, error) {
	d := app.ListDraft{Name: u.Name, Entity: u.Entity, File: u.File, CreatedBy: u.UserID}
	if u.Key != "" {
		l, err := b.Store.List(ctx, memberID, u.Key)
		if err != nil {
			return nil, err
		}
		d.Key, d.Name, d.Entity = l.Key, l.Name, l.Entity
	} else {
		name, err := app.CheckListName(u.Name)
		if err != nil {
			return nil, err
		}
		d.Name = name
	}
	if d.Entity != segment.EntityContact && d.Entity != segment.EntityCompany {
		return nil, app.Errorf(app.EInvalid, "A list holds contacts or companies.")
	}
	p, err := app.ParseListCSV(u.Data, u.By)
	if err != nil {
		return nil, err
	}
	d.By = p.By
	draft, err := b.Store.NewListDraft(ctx, memberID, d, p)
	if err != nil {
		return nil, err
	}
	if err := b.Jobs.MatchList(ctx, memberID, draft.ID); err != nil {
		_ = b.Store.DeleteListDraft(ctx, memberID, draft.ID)
		return nil, err
	}
	return draft, nil
}

// Draft answers a draft and its report once matched.
func (b *ListBook) Draft(ctx context.Context, memberID, id string) (*app.ListDraft, error) {
	if !draftIDPattern.MatchString(id) {
		return nil, app.Errorf(app.ENotFound, "This upload's report has expired; upload the file again.")
	}
	return b.Store.ListDraft(ctx, memberID, id)
}

// Confirm writes a matched draft's records as its list: a new one, or the
// existing list's members replaced. Nothing is written before.
func (b *ListBook) Confirm(ctx context.Context, memberID, id string, userID int64) (*app.List, error) {
	d, err := b.Draft(ctx, memberID, id)
	if err != nil {
		return nil, err
	}
	if d.State != "done" || d.Report == nil {
		return nil, app.Errorf(app.EConflict, "The upload is still being matched; confirm it once its report is ready.")
	}
	ids, err := b.Store.ListDraftIDs(ctx, memberID, id)
	if err != nil {
		return nil, err
	}
	l := app.List{Key: d.Key, Name: d.Name, Entity: d.Entity, Source: app.ListImport, From: d.File, CreatedBy: userID}
	if l.Key == "" {
		if l.Key, err = b.newKey(ctx, memberID, d.Name); err != nil {
			return nil, err
		}
	}
	saved, err := b.put(ctx, memberID, l, ids)
	if err != nil {
		return nil, err
	}
	_ = b.Store.DeleteListDraft(ctx, memberID, id)
	return saved, nil
}

// Cancel forgets a draft.
func (b *ListBook) Cancel(ctx context.Context, memberID, id string) error {
	if !draftIDPattern.MatchString(id) {
		return nil
	}
	return b.Store.DeleteListDraft(ctx, memberID, id)
}

// Freeze makes a list of the records of e in segment key now, from the
// mirror: no REST request.
func (b *ListBook) Freeze(ctx context.Context, memberID string, e segment.Entity, key, name string, userID int64) (*app.List, error) {
	if e != segment.EntityContact && e != segment.EntityCompany {
		return nil, app.Errorf(app.EInvalid, "A list holds contacts or companies.")
	}
	name, err := app.CheckListName(name)
	if err != nil {
		return nil, err
	}
	ids, err := b.Analyst.SegmentIDs(ctx, memberID, e, key)
	if err != nil {
		return nil, err
	}
	lk, err := b.newKey(ctx, memberID, name)
	if err != nil {
		return nil, err
	}
	return b.put(ctx, memberID, app.List{Key: lk, Name: name, Entity: e, Source: app.ListFreeze, From: key, CreatedBy: userID}, ids)
}

// Delete removes a list; its members are classified again (a rule that
// names it now holds for none of them).
func (b *ListBook) Delete(ctx context.Context, memberID, key string) error {
	l, ids, err := b.Store.DeleteList(ctx, memberID, key)
	if err != nil {
		return err
	}
	return b.Jobs.ReclassifyList(ctx, memberID, key, l.Entity, ids)
}

func (b *ListBook) put(ctx context.Context, memberID string, l app.List, ids []int64) (*app.List, error) {
	before, err := b.Store.PutList(ctx, memberID, l, ids)
	if err != nil {
		return nil, err
	}
	saved, err := b.Store.List(ctx, memberID, l.Key)
	if err != nil {
		return nil, err
	}
	after, err := b.Store.ListIDs(ctx, memberID, l.Key)
	if err != nil {
		return nil, err
	}
	if err := b.Jobs.ReclassifyList(ctx, memberID, l.Key, l.Entity, ListChanged(before, after)); err != nil {
		return saved, fmt.Errorf("list %s saved; classifying its members again: %w", l.Key, err)
	}
	return saved, nil
}

func (b *ListBook) newKey(ctx context.Context, memberID, name string) (string, error) {
	lists, err := b.Store.Lists(ctx, memberID)
	if err != nil {
		return "", err
	}
	taken := map[string]bool{}
	for _, l := range lists {
		taken[l.Key] = true
	}
	return app.NewListKey(name, func(k string) bool { return taken[k] }), nil
}
