package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"segmentor/app"
	"segmentor/app/segment"
)

// Change is a burst of changes to records of one entity of a portal: the
// records to re-read (newest first) and those the portal deleted.
type Change struct {
	MemberID string
	Entity   string // contact, company, deal, ActivityEntity or RequisiteEntity
	IDs      []int64
	Deleted  []int64
}

// MaxChange is the most records a Change should carry: they are re-read in
// one request of five 50-id list commands, leaving 45 of the batch's 50
// commands for the deals' product rows (whose filter then carries 250 ids,
// as a sync's row chunk does).
const MaxChange = 250

// Apply classifies a merged burst of changes (jobs.ChangeSink): writes left
// in doubt are settled, the changed records re-read into the mirror, their
// clients classified, then the deals they and their clients' changes reach,
// and the differences written.
func (c *Classifier) Apply(ctx context.Context, ch Change) error {
	pr, err := c.rulesFor(ctx, ch.MemberID)
	if err != nil || pr == nil {
		return err
	}
	switch ch.Entity {
	case ActivityEntity:
		return c.applyActivities(ctx, ch, pr)
	case RequisiteEntity:
		return c.applyRequisites(ctx, ch, pr)
	}
	e := segment.Entity(ch.Entity)
	if e != segment.EntityContact && e != segment.EntityCompany && e != segment.EntityDeal {
		return nil
	}
	if err := c.settleBeforeChange(ctx, ch.MemberID); err != nil {
		return err
	}
	r, err := c.newRun(ctx, ch.MemberID, pr)
	if err != nil {
		return err
	}
	if err := c.ensureRFM(ctx, r); err != nil {
		return err
	}
	x := &changeRun{c: c, ch: ch, entity: e, r: r}
	if err := x.refresh(ctx); err != nil {
		return err
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

// settleBeforeChange re-reads writes left in doubt by a run that died
// before anything is planned from the mirror (journal.go), except a
// running backfill's, which it settles itself.
func (c *Classifier) settleBeforeChange(ctx context.Context, memberID string) error {
	var backfillAlive *bool
	waitFor := func(n app.InFlight) bool {
		if n.By != byBackfill {
			return true
		}
		if backfillAlive == nil {
			alive, err := c.Store.Leased(ctx, memberID, backfillJob)
			if err != nil {
				alive = true // unknown: do not wait on a backfill that may be running
			}
			backfillAlive = &alive
		}
		return !*backfillAlive
	}
	_, _, err := c.writer().settleWrites(ctx, memberID, waitFor)
	return err
}

// changeRun is one Apply under way: the records it reaches and what it
// decided for them.
type changeRun struct {
	c      *Classifier
	ch     Change
	entity segment.Entity
	r      *run

	clientRefs []app.ClientRef // clients whose facts may have changed
	dealIDs    []int64         // deals to classify
	clients    map[app.ClientRef]*app.MirrorClient
	newKeys    map[app.ClientRef]string
	changed    []app.ClientRef // clients whose segment changed
}

func (x *changeRun) addClient(ref app.ClientRef) {
	if !slices.Contains(x.clientRefs, ref) {
		x.clientRefs = append(x.clientRefs, ref)
	}
}

// refresh re-reads the changed records in one request into the mirror and
// drops the deleted ones, keeping their segment keys; it notes whose facts
// the change reaches.
func (x *changeRun) refresh(ctx context.Context) error {
	c, ch, m := x.c, x.ch, x.c.Mirror
	fresh, gone, err := c.reader().reread(ctx, ch.MemberID, x.entity, ch.IDs, x.r.pr)
	if err != nil {
		return err
	}
	gone = append(gone, ch.Deleted...)
	if x.entity != segment.EntityDeal {
		old, err := m.Clients(ctx, ch.MemberID, x.entity, ch.IDs)
		if err != nil {
			return err
		}
		var rows []*app.MirrorClient
		for _, raw := range fresh {
			cl := raw.(*app.MirrorClient)
			if o := old[cl.ID]; o != nil {
				cl.Key = o.Key
			}
			rows = append(rows, cl)
			x.addClient(app.ClientRef{Entity: x.entity, ID: cl.ID})
		}
		if err := m.PutClients(ctx, ch.MemberID, x.entity, rows); err != nil {
			return err
		}
		return m.DeleteClients(ctx, ch.MemberID, x.entity, gone)
	}
	old, err := m.Deals(ctx, ch.MemberID, append(slices.Clone(ch.IDs), ch.Deleted...))
	if err != nil {
		return err
	}
	var rows []*app.MirrorDeal
	for _, raw := range fresh {
		d := raw.(*app.MirrorDeal)
		if o := old[d.ID]; o != nil {
			d.Key = o.Key
		}
		rows = append(rows, d)
		x.dealIDs = append(x.dealIDs, d.ID)
		for _, ref := range d.Clients() {
			x.addClient(ref)
		}
	}
	for _, o := range old {
		for _, ref := range o.Clients() {
			x.addClient(ref) // a client the deal left loses its facts
		}
	}
	if err := m.PutDeals(ctx, ch.MemberID, rows); err != nil {
		return err
	}
	return m.DeleteDeals(ctx, ch.MemberID, gone)
}

// classifyClients classifies the clients the change reaches, first: their
// segments feed their deals' client_segment. A client whose segment changed
// has its deals classified too when the rules read client_segment.
//
// A client's segment key is stored only once every write its change implies
// has run (storeKeys, after write): the mirror's key is the segment whose
// knock-on is done. A run that fails part-way leaves the old key, so its
// retry sees the change again and re-labels the client's deals that the
// failure left behind; the writes that did run plan nothing the second time.
func (x *changeRun) classifyClients(ctx context.Context) error {
	r, m := x.r, x.c.Mirror
	x.clients = map[app.ClientRef]*app.MirrorClient{}
	for _, ce := range []segment.Entity{segment.EntityContact, segment.EntityCompany} {
		var ids []int64
		for _, ref := range x.clientRefs {
			if ref.Entity == ce {
				ids = append(ids, ref.ID)
			}
		}
		if len(ids) == 0 {
			continue
		}
		rows, err := m.Clients(ctx, x.ch.MemberID, ce, ids)
		if err != nil {
			return err
		}
		for id, cl := range rows {
			x.clients[app.ClientRef{Entity: ce, ID: id}] = cl
		}
	}
	var refs []app.ClientRef
	for _, ref := range x.clientRefs {
		if x.clients[ref] != nil && r.pr.rules.Has(ref.Entity) {
			refs = append(refs, ref)
		}
	}
	dealsOf, err := m.ClientDeals(ctx, x.ch.MemberID, refs)
	if err != nil {
		return err
	}
	x.newKeys = map[app.ClientRef]string{}
	facts := map[segment.Entity]*segment.ClientFacts{}
	for _, ref := range refs {
		cl := x.clients[ref]
		if facts[ref.Entity] == nil {
			facts[ref.Entity] = segment.NewClientFacts(r.envFor(ref.Entity))
		}
		deals := ruleDeals(make([]segment.Deal, 0, len(dealsOf[ref])), dealsOf[ref])
		res, err := r.classifyClient(ref.Entity, facts[ref.Entity], cl, deals)
		if err != nil {
			return err
		}
		x.newKeys[ref] = res.Key
		if res.Key == cl.Key {
			continue
		}
		x.changed = append(x.changed, ref)
		if !r.pr.rules.UsesClientSegment() {
			continue
		}
		// Its deals read client_segment: reclassify them. Open deals may
		// move pipeline; closed ones get their Segment and type relabelled
		// but are never moved (the planner). Leaving closed deals out would
		// only defer the same writes to the nightly recompute and leave them
		// unlike a fresh evaluation until then. No loop: a deal's segment is
		// no fact of a client.
		for _, d := range dealsOf[ref] {
			if !slices.Contains(x.dealIDs, d.ID) {
				x.dealIDs = append(x.dealIDs, d.ID)
			}
		}
	}
	return nil
}

// classifyDeals classifies the changed deals and those whose clients'
// segments changed, with those new segments.
func (x *changeRun) classifyDeals(ctx context.Context) error {
	c, r, m := x.c, x.r, x.c.Mirror
	if len(x.dealIDs) == 0 || !r.pr.rules.Has(segment.EntityDeal) {
		return nil
	}
	deals, err := m.Deals(ctx, x.ch.MemberID, x.dealIDs)
	if err != nil {
		return err
	}
	lookup, err := c.segmentLookup(ctx, x.ch.MemberID, x.newKeys, deals)
	if err != nil {
		return err
	}
	df := segment.NewDealFacts(lookup, r.env.Now)
	for _, id := range x.dealIDs {
		d := deals[id]
		if d == nil {
			continue
		}
		res, err := r.classifyDeal(df, d)
		if err != nil {
			return err
		}
		if res.Key == d.Key {
			continue
		}
		d.Key = res.Key
		if !slices.ContainsFunc(r.writes, func(p *pending) bool { return p.deal == d }) {
			if err := m.PutDeals(ctx, x.ch.MemberID, []*app.MirrorDeal{d}); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeAndStore writes in batches of 50, then the mirror and the audit
// trail, then the new keys of the clients whose writes, their own and their
// deals', all ran. When the portal refuses a command, the others still
// count: only the clients it concerns keep their old keys for the retry.
// The clients of deals the writes found deleted are classified last.
func (x *changeRun) writeAndStore(ctx context.Context) error {
	c, r := x.c, x.r
	_, err := c.writer().write(ctx, r, r.writes, nil)
	var refused *commandsFailed
	if err != nil && !errors.As(err, &refused) {
		return err
	}
	if refused != nil {
		x.changed = slices.DeleteFunc(x.changed, func(ref app.ClientRef) bool {
			return slices.ContainsFunc(r.writes, func(p *pending) bool {
				return p.failed && (p.client == x.clients[ref] || p.deal != nil && slices.Contains(p.deal.Clients(), ref))
			})
		})
	}
	if serr := c.writer().storeKeys(ctx, x.ch.MemberID, x.clients, x.changed, x.newKeys); serr != nil {
		return serr
	}
	if oerr := c.applyOrphans(ctx, x.ch.MemberID, r.orphans); oerr != nil {
		return errors.Join(err, oerr)
	}
	return err
}

// applyOrphans classifies the clients of deals found deleted while writing,
// as the deals' delete events would have had them: each entity's clients
// are re-read and classified as a change of their own.
func (c *Classifier) applyOrphans(ctx context.Context, memberID string, orphans []app.ClientRef) error {
	ids := map[segment.Entity][]int64{}
	for _, ref := range orphans {
		if !slices.Contains(ids[ref.Entity], ref.ID) {
			ids[ref.Entity] = append(ids[ref.Entity], ref.ID)
		}
	}
	for _, e := range []segment.Entity{segment.EntityContact, segment.EntityCompany} {
		if len(ids[e]) == 0 {
			continue
		}
		if err := c.Apply(ctx, Change{MemberID: memberID, Entity: string(e), IDs: ids[e]}); err != nil {
			return fmt.Errorf("clients of deleted deals: %w", err)
		}
	}
	return nil
}

// storeKeys saves the changed clients' new segment keys, with what write
// recorded of the written ones.
func (wr *writer) storeKeys(ctx context.Context, memberID string, clients map[app.ClientRef]*app.MirrorClient, changed []app.ClientRef, keys map[app.ClientRef]string) error {
	rows := map[segment.Entity][]*app.MirrorClient{}
	for _, ref := range changed {
		cl := clients[ref]
		cl.Key = keys[ref]
		rows[ref.Entity] = append(rows[ref.Entity], cl)
	}
	for e, list := range rows {
		if err := wr.mirror.PutClients(ctx, memberID, e, list); err != nil {
			return err
		}
	}
	return nil
}
