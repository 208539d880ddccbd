package jobs

import (
	"context"
	"maps"
	"slices"
	"time"

	"segmentor/app"
	"segmentor/app/segment"
)

// BackfillStats is what a backfill did.
type BackfillStats struct {
	Sync          SyncStats
	Evaluated     int // records evaluated
	Changed       int // records with a non-empty plan
	Written       int // records written
	WriteRequests int
}

// snapshot is the whole mirror of a portal in memory, for RFM and backfill.
type snapshot struct {
	clients map[segment.Entity]map[int64]*app.MirrorClient
	deals   []*app.MirrorDeal
	dealsOf map[app.ClientRef][]segment.Deal
}

func (c *Classifier) loadSnapshot(ctx context.Context, memberID string) (*snapshot, error) {
	s := &snapshot{clients: map[segment.Entity]map[int64]*app.MirrorClient{}, dealsOf: map[app.ClientRef][]segment.Deal{}}
	for _, e := range []segment.Entity{segment.EntityContact, segment.EntityCompany} {
		rows := map[int64]*app.MirrorClient{}
		if err := c.Mirror.EachClient(ctx, memberID, e, func(cl *app.MirrorClient) error {
			rows[cl.ID] = cl
			return nil
		}); err != nil {
			return nil, err
		}
		s.clients[e] = rows
	}
	err := c.Mirror.EachDeal(ctx, memberID, func(d *app.MirrorDeal) error {
		s.deals = append(s.deals, d)
		sd := d.Deal()
		for _, ref := range d.Clients() {
			s.dealsOf[ref] = append(s.dealsOf[ref], sd)
		}
		return nil
	})
	return s, err
}

// buildRFM ranks every client of each kind among its kind.
func buildRFM(r *run, s *snapshot) map[segment.Entity]*segment.RFM {
	windows := r.pr.rules.RFMWindows()
	out := map[segment.Entity]*segment.RFM{}
	for e, rows := range s.clients {
		b := segment.NewRFMBuilder(r.env, windows)
		for id, cl := range rows {
			b.Add(cl.Client(e), s.dealsOf[app.ClientRef{Entity: e, ID: id}])
		}
		out[e] = b.Build()
	}
	return out
}

// ensureRFM gives live classification the portal's RFM quintiles, rebuilt
// from the mirror when older than RFMMaxAge.
func (c *Classifier) ensureRFM(ctx context.Context, r *run) error {
	if len(r.pr.rules.RFMWindows()) == 0 {
		return nil
	}
	maxAge := c.RFMMaxAge
	if maxAge <= 0 {
		maxAge = 10 * time.Minute
	}
	c.mu.Lock()
	rfm, built := r.pr.rfm, r.pr.rfmBuilt
	c.mu.Unlock()
	if rfm == nil || r.env.Now.Sub(built) > maxAge {
		s, err := c.loadSnapshot(ctx, r.memberID)
		if err != nil {
			return err
		}
		rfm = buildRFM(r, s)
		c.mu.Lock()
		r.pr.rfm, r.pr.rfmBuilt = rfm, r.env.Now
		c.mu.Unlock()
	}
	r.rfm = rfm
	return nil
}

// Backfill classifies a portal's whole base: a full sync, the RFM
// quintiles, every record evaluated (clients first, so deals see their
// clients' new segments), and the differences written 50 to a request.
// Progress (phase, done, total) is kept under the job name "backfill".
// It is idempotent: run again after a crash, it writes only what is still
// different, since every write is recorded in the mirror as it lands.
func (c *Classifier) Backfill(ctx context.Context, memberID string) (BackfillStats, error) {
	var st BackfillStats
	pr, err := c.rulesFor(ctx, memberID)
	if err != nil {
		return st, err
	}
	if pr == nil {
		return st, app.Errorf(app.EConflict, "Save a segmentation config first.")
	}
	prog := app.Progress{State: "running", Phase: "sync", Started: c.now().UTC()}
	set := func(mut func(*app.Progress)) {
		mut(&prog)
		prog.Updated = c.now().UTC()
		if err := c.Store.SetProgress(ctx, memberID, "backfill", prog); err != nil {
			c.log().Warn("backfill progress", "portal", memberID, "error", err)
		}
	}
	fail := func(err error) (BackfillStats, error) {
		set(func(p *app.Progress) { p.State, p.Error = "failed", err.Error() })
		return st, err
	}
	set(func(*app.Progress) {})

	st.Sync, err = c.Sync(ctx, memberID, pr.syncOptions())
	if err != nil {
		return fail(err)
	}
	r, err := c.newRun(ctx, memberID, pr)
	if err != nil {
		return fail(err)
	}
	s, err := c.loadSnapshot(ctx, memberID)
	if err != nil {
		return fail(err)
	}
	total := len(s.deals) + len(s.clients[segment.EntityContact]) + len(s.clients[segment.EntityCompany])
	set(func(p *app.Progress) { p.Phase, p.Total = "rfm", total })
	if len(pr.rules.RFMWindows()) > 0 {
		r.rfm = buildRFM(r, s)
		c.mu.Lock()
		pr.rfm, pr.rfmBuilt = r.rfm, r.env.Now
		c.mu.Unlock()
	}
	if err := c.ensureItems(ctx, r); err != nil {
		return fail(err)
	}

	set(func(p *app.Progress) { p.Phase = "evaluate" })
	keyOnly := map[segment.Entity][]*app.MirrorClient{}
	for _, e := range []segment.Entity{segment.EntityContact, segment.EntityCompany} {
		if !pr.rules.Has(e) {
			continue
		}
		f := segment.NewClientFacts(r.envFor(e))
		for _, id := range sortedIDs(s.clients[e]) {
			cl := s.clients[e][id]
			n := len(r.writes)
			res, err := r.classifyClient(e, f, cl, s.dealsOf[app.ClientRef{Entity: e, ID: id}])
			if err != nil {
				return fail(err)
			}
			st.Evaluated++
			if res.Key != cl.Key {
				cl.Key = res.Key
				if len(r.writes) == n {
					keyOnly[e] = append(keyOnly[e], cl)
				}
			}
		}
	}
	var dealKeys []*app.MirrorDeal
	if pr.rules.Has(segment.EntityDeal) {
		lookup := func(e segment.Entity, id int64) string {
			if cl := s.clients[e][id]; cl != nil {
				return cl.Key
			}
			return ""
		}
		f := segment.NewDealFacts(lookup)
		for _, d := range s.deals {
			n := len(r.writes)
			res, err := r.classifyDeal(f, d)
			if err != nil {
				return fail(err)
			}
			st.Evaluated++
			if res.Key != d.Key {
				d.Key = res.Key
				if len(r.writes) == n {
					dealKeys = append(dealKeys, d)
				}
			}
		}
	}
	for e, rows := range keyOnly {
		if err := c.Mirror.PutClients(ctx, memberID, e, rows); err != nil {
			return fail(err)
		}
	}
	if err := c.Mirror.PutDeals(ctx, memberID, dealKeys); err != nil {
		return fail(err)
	}
	st.Changed = len(r.writes)

	set(func(p *app.Progress) { p.Phase, p.Done, p.Total = "write", 0, len(r.writes) })
	st.Written, err = c.write(ctx, r, func(done int) {
		st.WriteRequests++
		set(func(p *app.Progress) { p.Done, p.Writes = done, done })
	})
	if err != nil {
		return fail(err)
	}
	set(func(p *app.Progress) { p.State, p.Phase = "done", "done" })
	return st, nil
}

func sortedIDs[T any](m map[int64]*T) []int64 {
	return slices.Sorted(maps.Keys(m))
}
