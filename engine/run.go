package engine

import (
	"context"
	"maps"
	"slices"
	"strconv"

	"segmentor/app"
	"segmentor/app/segment"
)

// run is one classification pass over a portal: its rules, reference data
// and environment, and the writes it plans.
type run struct {
	c        *Classifier
	memberID string
	pr       *portalRules
	env      segment.Env
	rfm      map[segment.Entity]*segment.RFM
	items    map[segment.Entity]map[string]int
	fieldIDs map[segment.Entity]int
	pipes    []segment.Pipeline
	writes   []*pending
	kind     string // byChanges (default) or byBackfill, for the write journal
	trigger  string // what started the run, for the records' history (app.Trigger…)
	// fresher, in a backfill, tells the records the mirror saw change
	// after the run began reading it (backfill.go): live changes classified them
	// from fresher rows, so the run neither writes them nor stores its keys.
	fresher *fresher
	// orphans are the clients of deals a write found deleted (their event
	// lost or not yet handled): their facts changed as a delete event
	// would have told.
	orphans []app.ClientRef
	// explain keeps every result's explanation (a record's why). Otherwise
	// a record is matched without one (Rules.Match, no allocation) and
	// evaluated in full only when it has a write to make, whose history
	// tells why: most records of a backfill or a recompute have none.
	explain bool
}

// pending is one record's planned write.
type pending struct {
	entity segment.Entity
	id     int64
	plan   segment.Plan
	res    segment.Result
	from   app.Outcome
	client *app.MirrorClient
	deal   *app.MirrorDeal
	failed bool // the portal refused the command (write)
}

func (c *Classifier) newRun(ctx context.Context, memberID string, pr *portalRules) (*run, error) {
	rates, err := c.Mirror.Rates(ctx, memberID)
	if err != nil {
		return nil, err
	}
	dir, err := c.Store.Directory(ctx, memberID)
	if err != nil {
		return nil, err
	}
	r := &run{c: c, memberID: memberID, pr: pr, env: segment.Env{Now: c.now(), Rates: rates}, kind: byChanges, trigger: app.TriggerChange}
	r.items, r.fieldIDs = segmentItems(dir)
	r.pipes = dir.Pipelines
	if r.env.Lists, err = c.listMembers(ctx, memberID, pr.rules); err != nil {
		return nil, err
	}
	return r, nil
}

// envFor is the environment of an entity's facts: RFM is ranked among
// clients of the same kind.
func (r *run) envFor(e segment.Entity) segment.Env {
	env := r.env
	if r.rfm != nil {
		env.RFM = r.rfm[e]
	}
	return env
}

func (r *run) opts(e segment.Entity) segment.PlanOptions {
	return segment.PlanOptions{SegmentItems: r.items[e], RulesSince: r.pr.since, Pipelines: r.pipes}
}

// classifyClient evaluates a contact or company and queues its write.
func (r *run) classifyClient(e segment.Entity, f *segment.ClientFacts, cl *app.MirrorClient, deals []segment.Deal) (segment.Result, error) {
	f.Reset(cl.Client(e), deals)
	res, w, err := r.plan(e, f, cl.Current())
	if w != nil {
		w.id, w.from, w.client = cl.ID, app.Outcome{Segment: cl.Key, Type: cl.TypeID}, cl
		r.writes = append(r.writes, w)
	}
	return res, err
}

func (r *run) classifyDeal(f *segment.DealFacts, d *app.MirrorDeal) (segment.Result, error) {
	sd := d.Deal()
	f.Reset(&sd)
	res, w, err := r.plan(segment.EntityDeal, f, d.Current())
	if w != nil {
		w.id, w.deal = d.ID, d
		w.from = app.Outcome{Segment: d.Key, Type: d.TypeID, Pipeline: pipelineOf(d.CategoryID, d.StageID)}
		r.writes = append(r.writes, w)
	}
	return res, err
}

// plan classifies the record f holds and plans its write from cur: nil
// when it has none.
func (r *run) plan(e segment.Entity, f segment.Facts, cur segment.Current) (segment.Result, *pending, error) {
	res, plan, err := r.match(e, f, cur)
	if err != nil || plan.Empty() {
		return res, nil, err
	}
	if !r.explain {
		res = r.pr.rules.Evaluate(e, f) // the same segment, with its why
	}
	return res, &pending{entity: e, plan: plan, res: res}, nil
}

// match classifies the record f holds, without its explanation unless the
// run explains, and plans its write from cur.
func (r *run) match(e segment.Entity, f segment.Facts, cur segment.Current) (segment.Result, segment.Plan, error) {
	var res segment.Result
	if r.explain {
		res = r.pr.rules.Evaluate(e, f)
	} else {
		res = r.pr.rules.Match(e, f)
	}
	plan, err := segment.NewPlan(e, cur, res, r.opts(e))
	return res, plan, err
}

// ruleDeals appends deal rows, converted for the rule engine, to dst.
func ruleDeals(dst []segment.Deal, rows []*app.MirrorDeal) []segment.Deal {
	for _, d := range rows {
		dst = append(dst, d.Deal())
	}
	return dst
}

func pipelineOf(cat int, stage string) string { return strconv.Itoa(cat) + ":" + stage }

// segmentLookup gives deals the segment keys of their clients, from this
// run's fresh results (known) or the mirror.
func (c *Classifier) segmentLookup(ctx context.Context, memberID string, known map[app.ClientRef]string, deals map[int64]*app.MirrorDeal) (segment.SegmentLookup, error) {
	keys := make(map[app.ClientRef]string, len(known))
	maps.Copy(keys, known)
	need := map[segment.Entity][]int64{}
	for _, d := range deals {
		for _, ref := range d.Clients() {
			if _, ok := keys[ref]; !ok && !slices.Contains(need[ref.Entity], ref.ID) {
				need[ref.Entity] = append(need[ref.Entity], ref.ID)
			}
		}
	}
	for e, ids := range need {
		rows, err := c.Mirror.Clients(ctx, memberID, e, ids)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			if cl := rows[id]; cl != nil {
				keys[app.ClientRef{Entity: e, ID: id}] = cl.Key
			}
		}
	}
	return func(e segment.Entity, id int64) string { return keys[app.ClientRef{Entity: e, ID: id}] }, nil
}
