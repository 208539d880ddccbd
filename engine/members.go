package engine

import (
	"context"

	"segmentor/app/segment"
)

// Member is one record of a segment, as an export lists it.
type Member struct {
	ID    int64
	Title string
	// Why is why the rules put the record where they do now, as the
	// caller's why told it; "" when the rules have no scheme for its type.
	Why string
}

// Members lists the records of e carrying key now (key "": the records in
// no segment), in id order, from the mirror: no REST request. With cfg
// (the saved config; nil: none) segmenting e, each record is evaluated by
// its rules as the card tab does, deals seeing the segments their clients
// carry, and why tells the reason (from several goroutines at once); its
// Segment differs from key while a write is pending, or when key is a
// removed segment's. The base is read-locked only while the list is
// built, so a slow download never holds up the classifier.
func (a *Analyst) Members(ctx context.Context, memberID string, e segment.Entity, key string, cfg *segment.Config, why func(segment.Reason) string) ([]Member, error) {
	var b *base
	var r *run
	var err error
	if cfg != nil && why != nil && hasScheme(*cfg, e) {
		b, r, err = a.draftRun(ctx, memberID, *cfg)
	} else {
		b, err = a.base(ctx, memberID)
	}
	if err != nil {
		return nil, err
	}
	defer b.mu.RUnlock()
	col := b.cols[e]
	if col == nil {
		return []Member{}, nil
	}
	var pos []int
	for i := range col.ids {
		if col.key(i) == key {
			pos = append(pos, i)
		}
	}
	out := make([]Member, len(pos))
	err = a.parallel(ctx, len(pos), func(_, lo, hi int) error {
		reason := b.memberReasons(r, e, col)
		for k := lo; k < hi; k++ {
			i := pos[k]
			m := &out[k]
			m.ID = col.ids[i]
			if col.rows != nil {
				m.Title = col.rows[i].row.Title
			} else {
				m.Title = col.clients[i].Title
			}
			if reason != nil {
				m.Why = why(reason(i))
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// hasScheme tells whether cfg segments e.
func hasScheme(cfg segment.Config, e segment.Entity) bool {
	for _, s := range cfg.Schemes {
		if s.Entity == e {
			return true
		}
	}
	return false
}

// memberReasons evaluates the i-th record of col with r's rules, with the
// trace, and picks its reason; one per chunk, as it keeps the facts it
// resets for each record. nil without rules. Deals see the segments their
// clients carry (as the classifier and the card tab do). Holds b.mu.RLock.
func (b *base) memberReasons(r *run, e segment.Entity, col *column) func(i int) segment.Reason {
	if r == nil {
		return nil
	}
	rules := r.pr.rules
	if e == segment.EntityDeal {
		contacts, companies := b.cols[segment.EntityContact], b.cols[segment.EntityCompany]
		lookup := func(ent segment.Entity, id int64) string {
			c := contacts
			if ent == segment.EntityCompany {
				c = companies
			}
			if p, ok := c.pos.at(id); ok {
				return c.views[p].key
			}
			return ""
		}
		f := segment.NewDealFacts(lookup, r.env.Now)
		return func(i int) segment.Reason {
			f.Reset(&col.rows[i].deal)
			res := rules.Evaluate(e, f)
			return res.Reason()
		}
	}
	f := segment.NewClientFacts(r.envFor(e))
	return func(i int) segment.Reason {
		f.Reset(col.views[i].client, col.deals[i])
		res := rules.Evaluate(e, f)
		return res.Reason()
	}
}
