package engine

import (
	"context"
	"errors"
	"slices"

	"segmentor/app"
	"segmentor/app/segment"
	"segmentor/bitrix"
)

// A backfill or recompute streams the mirror rather than holding it: the
// clients a chunk at a time with their deals (the mirror's client → deals
// index), then the deals. What it keeps for the whole run grows with the
// records it has to write, not with the portal: their ids, and, when the
// deal rules read client_segment, every client's key.

// streamChunk is how many clients a stream reads at once with their deals.
const streamChunk = 1000

// eachClientWithDeals streams every contact or company with its deals, in
// no particular order. deals is reused between calls.
func (c *Classifier) eachClientWithDeals(ctx context.Context, memberID string, e segment.Entity, fn func(cl *app.MirrorClient, deals []segment.Deal) error) error {
	var chunk []*app.MirrorClient
	var deals []segment.Deal
	flush := func() error {
		if len(chunk) == 0 {
			return nil
		}
		refs := make([]app.ClientRef, len(chunk))
		for i, cl := range chunk {
			refs[i] = app.ClientRef{Entity: e, ID: cl.ID}
		}
		of, err := c.Mirror.ClientDeals(ctx, memberID, refs)
		if err != nil {
			return err
		}
		for i, cl := range chunk {
			deals = ruleDeals(deals[:0], of[refs[i]])
			if err := fn(cl, deals); err != nil {
				return err
			}
		}
		chunk = chunk[:0]
		return nil
	}
	err := c.Mirror.EachClient(ctx, memberID, e, func(cl *app.MirrorClient) error {
		if chunk = append(chunk, cl); len(chunk) == streamChunk {
			return flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	return flush()
}

// streamRFM ranks every client of each kind among its kind, streaming the
// mirror.
func (c *Classifier) streamRFM(ctx context.Context, r *run) (map[segment.Entity]*segment.RFM, error) {
	windows := r.pr.rules.RFMWindows()
	out := map[segment.Entity]*segment.RFM{}
	for _, e := range []segment.Entity{segment.EntityContact, segment.EntityCompany} {
		b := segment.NewRFMBuilder(r.env, windows)
		err := c.eachClientWithDeals(ctx, r.memberID, e, func(cl *app.MirrorClient, deals []segment.Deal) error {
			b.Add(cl.Client(e), deals)
			return nil
		})
		if err != nil {
			return nil, err
		}
		out[e] = b.Build()
	}
	return out, nil
}

// dueWrites are what a backfill's evaluation found: the records that need
// a write, and every client's new key when the deals need them.
type dueWrites struct {
	ids  map[segment.Entity][]int64
	keys map[segment.Entity]map[int64]string // nil unless the deal rules read client_segment
}

func (d *dueWrites) count() int {
	n := 0
	for _, ids := range d.ids {
		n += len(ids)
	}
	return n
}

// lookup gives a deal its clients' keys as this run classified them.
func (d *dueWrites) lookup(e segment.Entity, id int64) string { return d.keys[e][id] }

// keyStore stores the segment keys that changed without a write (the
// record's Type and Segment stay as they are), a thousand rows at a time,
// leaving out the records live changes classified since the run began.
type keyStore struct {
	c       *Classifier
	r       *run
	clients map[segment.Entity][]*app.MirrorClient
	deals   []*app.MirrorDeal
	n       int
}

func (k *keyStore) client(ctx context.Context, e segment.Entity, cl *app.MirrorClient) error {
	if k.clients == nil {
		k.clients = map[segment.Entity][]*app.MirrorClient{}
	}
	k.clients[e] = append(k.clients[e], cl)
	return k.added(ctx)
}

func (k *keyStore) deal(ctx context.Context, d *app.MirrorDeal) error {
	k.deals = append(k.deals, d)
	return k.added(ctx)
}

func (k *keyStore) added(ctx context.Context) error {
	if k.n++; k.n < streamChunk {
		return nil
	}
	return k.flush(ctx)
}

func (k *keyStore) flush(ctx context.Context) error {
	if k.n == 0 {
		return nil
	}
	m, memberID := k.c.Mirror, k.r.memberID
	err := k.r.fresher.hold(ctx, func(stale func(segment.Entity, int64) bool) error {
		for e, rows := range k.clients {
			rows = slices.DeleteFunc(rows, func(cl *app.MirrorClient) bool { return stale(e, cl.ID) })
			if err := m.PutClients(ctx, memberID, e, rows); err != nil {
				return err
			}
		}
		deals := slices.DeleteFunc(k.deals, func(d *app.MirrorDeal) bool { return stale(segment.EntityDeal, d.ID) })
		return m.PutDeals(ctx, memberID, deals)
	})
	clear(k.clients)
	k.deals, k.n = k.deals[:0], 0
	return err
}

// evaluateAll classifies every record of the mirror, clients first (so
// deals see their clients' new keys), matching each without its
// explanation. It stores the keys that change without a write and returns
// the records to write, each kind in id order. advance is told how many
// records it has evaluated now and then.
func (c *Classifier) evaluateAll(ctx context.Context, r *run, st *BackfillStats, advance func(done int)) (*dueWrites, error) {
	rules := r.pr.rules
	due := &dueWrites{ids: map[segment.Entity][]int64{}}
	if rules.Has(segment.EntityDeal) && rules.UsesClientSegment() {
		due.keys = map[segment.Entity]map[int64]string{}
	}
	ks := &keyStore{c: c, r: r}
	counted := func() {
		if st.Evaluated++; st.Evaluated%10000 == 0 && advance != nil {
			advance(st.Evaluated)
		}
	}
	for _, e := range []segment.Entity{segment.EntityContact, segment.EntityCompany} {
		var keys map[int64]string
		if due.keys != nil {
			keys = map[int64]string{}
			due.keys[e] = keys
		}
		if !rules.Has(e) {
			if keys == nil {
				continue
			}
			err := c.Mirror.EachClient(ctx, r.memberID, e, func(cl *app.MirrorClient) error {
				keys[cl.ID] = cl.Key
				return nil
			})
			if err != nil {
				return nil, err
			}
			continue
		}
		f := segment.NewClientFacts(r.envFor(e))
		err := c.eachClientWithDeals(ctx, r.memberID, e, func(cl *app.MirrorClient, deals []segment.Deal) error {
			f.Reset(cl.Client(e), deals)
			res, plan, err := r.match(e, f, cl.Current())
			if err != nil {
				return err
			}
			counted()
			if keys != nil {
				keys[cl.ID] = res.Key
			}
			switch {
			case !plan.Empty():
				due.ids[e] = append(due.ids[e], cl.ID)
			case res.Key != cl.Key:
				cl.Key = res.Key
				return ks.client(ctx, e, cl)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if rules.Has(segment.EntityDeal) {
		f := segment.NewDealFacts(due.lookup, r.env.Now)
		err := c.Mirror.EachDeal(ctx, r.memberID, func(d *app.MirrorDeal) error {
			sd := d.Deal()
			f.Reset(&sd)
			res, plan, err := r.match(segment.EntityDeal, f, d.Current())
			if err != nil {
				return err
			}
			counted()
			switch {
			case !plan.Empty():
				due.ids[segment.EntityDeal] = append(due.ids[segment.EntityDeal], d.ID)
			case res.Key != d.Key:
				d.Key = res.Key
				return ks.deal(ctx, d)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	for _, ids := range due.ids {
		slices.Sort(ids)
	}
	return due, ks.flush(ctx)
}

// writeDue writes what evaluateAll found, 50 to a request: each record is
// read again, a thousand at a time, evaluated in full (its history tells
// why) and planned from its row as it is now; a record that no longer
// needs a write is left out. progress is told after each request how many
// records were written so far and the last of the batch.
func (c *Classifier) writeDue(ctx context.Context, r *run, due *dueWrites, progress func(done int, last *pending)) (int, error) {
	written := 0
	var failed *commandsFailed
	// send writes the run's full batches, and the rest when all.
	send := func(all bool) error {
		n := len(r.writes)
		if !all {
			n -= n % bitrix.MaxBatch
		}
		if n == 0 {
			return nil
		}
		before := written
		w, err := c.writer().write(ctx, r, r.writes[:n], func(done int, last *pending) {
			if progress != nil {
				progress(before+done, last)
			}
		})
		written += w
		r.writes = append(r.writes[:0], r.writes[n:]...)
		var cf *commandsFailed
		switch {
		case errors.As(err, &cf) && failed == nil:
			failed = cf
		case errors.As(err, &cf):
			failed.n += cf.n
		case err != nil:
			return err
		}
		return nil
	}
	for _, e := range []segment.Entity{segment.EntityContact, segment.EntityCompany} {
		f := segment.NewClientFacts(r.envFor(e))
		for ids := range slices.Chunk(due.ids[e], streamChunk) {
			rows, err := c.Mirror.Clients(ctx, r.memberID, e, ids)
			if err != nil {
				return written, err
			}
			refs := make([]app.ClientRef, len(ids))
			for i, id := range ids {
				refs[i] = app.ClientRef{Entity: e, ID: id}
			}
			of, err := c.Mirror.ClientDeals(ctx, r.memberID, refs)
			if err != nil {
				return written, err
			}
			for i, id := range ids {
				cl := rows[id]
				if cl == nil {
					continue // deleted meanwhile
				}
				deals := ruleDeals(make([]segment.Deal, 0, len(of[refs[i]])), of[refs[i]])
				n := len(r.writes)
				res, err := r.classifyClient(e, f, cl, deals)
				if err != nil {
					return written, err
				}
				if len(r.writes) > n {
					cl.Key = res.Key // the row the write stores (recordWrites)
				}
			}
			if err := send(false); err != nil {
				return written, err
			}
		}
	}
	f := segment.NewDealFacts(due.lookup, r.env.Now)
	for ids := range slices.Chunk(due.ids[segment.EntityDeal], streamChunk) {
		rows, err := c.Mirror.Deals(ctx, r.memberID, ids)
		if err != nil {
			return written, err
		}
		for _, id := range ids {
			if d := rows[id]; d != nil {
				if _, err := r.classifyDeal(f, d); err != nil {
					return written, err
				}
			}
		}
		if err := send(false); err != nil {
			return written, err
		}
	}
	if err := send(true); err != nil {
		return written, err
	}
	if failed != nil {
		return written, failed
	}
	return written, nil
}
