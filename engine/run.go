package engine

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"time"

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
	// after the run's snapshot (backfill.go): live changes classified them
	// from fresher rows, so the run neither writes them nor stores its keys.
	fresher *fresher
	// asOf, when set, evaluates the base as it stood then, as far as the
	// deals' dates tell (estimate.go); env.Now is then too.
	asOf time.Time
	// orphans are the clients of deals a write found deleted (their event
	// lost or not yet handled): their facts changed as a delete event
	// would have told.
	orphans []app.ClientRef
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
	res := r.pr.rules.Evaluate(e, f)
	plan, err := segment.NewPlan(e, cl.Current(), res, r.opts(e))
	if err != nil {
		return res, err
	}
	if !plan.Empty() {
		r.writes = append(r.writes, &pending{entity: e, id: cl.ID, plan: plan, res: res,
			from: app.Outcome{Segment: cl.Key, Type: cl.TypeID}, client: cl})
	}
	return res, nil
}

func (r *run) classifyDeal(f *segment.DealFacts, d *app.MirrorDeal) (segment.Result, error) {
	sd := d.Deal()
	f.Reset(&sd)
	res := r.pr.rules.Evaluate(segment.EntityDeal, f)
	plan, err := segment.NewPlan(segment.EntityDeal, d.Current(), res, r.opts(segment.EntityDeal))
	if err != nil {
		return res, err
	}
	if !plan.Empty() {
		r.writes = append(r.writes, &pending{entity: segment.EntityDeal, id: d.ID, plan: plan, res: res,
			from: app.Outcome{Segment: d.Key, Type: d.TypeID, Pipeline: pipelineOf(d.CategoryID, d.StageID)}, deal: d})
	}
	return res, nil
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
