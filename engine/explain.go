package engine

import (
	"context"
	"errors"

	"segmentor/app"
	"segmentor/app/segment"
)

// RecordStanding is one record as the mirror has it, and how the saved
// config classifies it now.
type RecordStanding struct {
	Entity     segment.Entity
	ID         int64
	Title      string
	Key        string // the segment the record carries
	TypeID     string
	CategoryID int    // deals
	StageID    string // deals
	// ConfigVersion is the saved config's version; 0 before the first save.
	ConfigVersion int
	// Result is the saved config's verdict with its explanation; nil when
	// no config is saved or it has no scheme for the record's type.
	Result *segment.Result
	// Pending is true when the verdict differs from what the record
	// carries: a write the classifier has yet to make.
	Pending bool
}

// Explain classifies one record with the saved config exactly as the
// classifier does (its run, facts and planner), from the mirror: the
// record's row and deals, its clients' segments, and, when the rules use
// RFM, the quintiles over the whole base. An unknown record is ENotFound.
func (a *Analyst) Explain(ctx context.Context, memberID string, e segment.Entity, id int64) (*RecordStanding, error) {
	out := &RecordStanding{Entity: e, ID: id}
	var cl *app.MirrorClient
	var d *app.MirrorDeal
	if e == segment.EntityDeal {
		rows, err := a.Mirror.Deals(ctx, memberID, []int64{id})
		if err != nil {
			return nil, err
		}
		if d = rows[id]; d == nil {
			return nil, app.Errorf(app.ENotFound, "Segmentor has no deal %d of this portal: it was deleted or is not synced yet.", id)
		}
		out.Title, out.Key, out.TypeID, out.CategoryID, out.StageID = d.Title, d.Key, d.TypeID, d.CategoryID, d.StageID
	} else {
		rows, err := a.Mirror.Clients(ctx, memberID, e, []int64{id})
		if err != nil {
			return nil, err
		}
		if cl = rows[id]; cl == nil {
			return nil, app.Errorf(app.ENotFound, "Segmentor has no %s %d of this portal: it was deleted or is not synced yet.", e, id)
		}
		out.Title, out.Key, out.TypeID = cl.Title, cl.Key, cl.TypeID
	}

	c := a.classifier()
	pr, err := c.rulesFor(ctx, memberID)
	if err != nil || pr == nil {
		return out, err
	}
	out.ConfigVersion = pr.version
	if !pr.rules.Has(e) {
		return out, nil
	}
	r, err := c.newRun(ctx, memberID, pr)
	if err != nil {
		return nil, err
	}
	r.explain = true // the card tab shows why
	if len(pr.rules.RFMWindows()) > 0 {
		b, err := a.base(ctx, memberID)
		if err != nil {
			return nil, err
		}
		r.rfm = b.rfmFor(r, r.env.Now)
		b.mu.RUnlock()
	}
	var res segment.Result
	if d != nil {
		lookup, err := c.segmentLookup(ctx, memberID, nil, map[int64]*app.MirrorDeal{id: d})
		if err != nil {
			return nil, err
		}
		res, err = r.classifyDeal(segment.NewDealFacts(lookup, r.env.Now), d)
		if err = planned(err); err != nil {
			return nil, err
		}
	} else {
		ref := app.ClientRef{Entity: e, ID: id}
		dealsOf, err := a.Mirror.ClientDeals(ctx, memberID, []app.ClientRef{ref})
		if err != nil {
			return nil, err
		}
		deals := ruleDeals(make([]segment.Deal, 0, len(dealsOf[ref])), dealsOf[ref])
		res, err = r.classifyClient(e, segment.NewClientFacts(r.envFor(e)), cl, deals)
		if err = planned(err); err != nil {
			return nil, err
		}
	}
	out.Result = &res
	out.Pending = res.Key != out.Key || len(r.writes) > 0
	return out, nil
}

// planned drops the planner's complaint that a segment has no Segment item
// yet: the verdict stands, the write waits for the item.
func planned(err error) error {
	var missing *segment.MissingItemError
	if errors.As(err, &missing) {
		return nil
	}
	return err
}
