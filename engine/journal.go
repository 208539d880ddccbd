package engine

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"segmentor/app"
	"segmentor/app/segment"
	"segmentor/bitrix"
	"segmentor/internal/lease"
)

// Writes whose answer was lost.
//
// write notes every batch in the portal's write journal before sending it
// and settles the notes once the answer is recorded in the mirror. A note
// left behind means the process died, or its context was cancelled, while
// the batch was out: Bitrix24 may have run it or not, and the mirror does
// not know. Planning that record again from the mirror would send the same
// write a second time. So before anything is planned, settleWrites re-reads
// the records that have such notes (one request for up to 2,500 records),
// records in the mirror what the portal holds, and keeps the audit entry of
// each write that did run. Then the ordinary diff writes only what is still
// different: a write that ran is not repeated, one that did not is sent once.
//
// A note is settled only once it is InDoubtWait old: a batch cut off on our
// side may still be running on the portal, and a re-read before it ends
// would see the old values. A batch the portal answered with its own error
// is over: its notes are marked answered and settled at once; one it
// refused before it ran leaves no notes (writer.unanswered). A backfill
// waits for every note to ripen. A live change waits for the notes of live
// changes: it runs under the portal's changes lock (Worker.handleChanges),
// so such a note belongs to a run that died or was cancelled. It waits for
// a backfill's notes only when no backfill holds the portal's backfill
// lease (renewed while one runs, lost within backfillLeaseTTL of its
// process dying): a running backfill's notes are its batch in flight. Settling is atomic per note
// (app.Store.EndWrites): the process that gets the answer and one that
// re-reads after a crash cannot both record the audit entry.

// defaultInDoubtWait is how long a batch may still be running on the portal
// after its sender gave up on the answer.
const defaultInDoubtWait = 30 * time.Second

func (c *Classifier) inDoubtWait() time.Duration {
	if c.InDoubtWait != 0 {
		return max(c.InDoubtWait, 0)
	}
	return defaultInDoubtWait
}

func (c *Classifier) sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	if c.Sleep != nil {
		return c.Sleep(ctx, d)
	}
	return bitrix.SystemClock.Sleep(ctx, d)
}

// backfillLeaseTTL bounds how long a dead backfill still looks alive.
const backfillLeaseTTL = 10 * time.Second

// holdBackfillLease marks the portal's backfill as running until release,
// renewing the lease in the background.
func (c *Classifier) holdBackfillLease(ctx context.Context, memberID string) (release func(), err error) {
	if err := c.Store.SetLease(ctx, memberID, backfillJob, backfillLeaseTTL); err != nil {
		return nil, err
	}
	stop := lease.Keep(ctx, backfillLeaseTTL/3, func(ctx context.Context) error {
		return c.Store.SetLease(ctx, memberID, backfillJob, backfillLeaseTTL)
	}, func(err error) bool {
		c.log().Warn("backfill lease", "portal", memberID, "error", err)
		return false // a renewal may fail once; the next one may hold
	})
	return func() {
		stop()
		_ = c.Store.DropLease(context.WithoutCancel(ctx), memberID, backfillJob)
	}, nil
}

// Run kinds, as journal notes name them.
const (
	byBackfill = "backfill"
	byChanges  = "changes"
)

// settleWrites settles the portal's journal notes that are InDoubtWait old
// or answered, and those that wait says to wait for once they are. It
// returns how many notes it settled and how many of those writes had run.
func (wr *writer) settleWrites(ctx context.Context, memberID string, wait func(app.InFlight) bool) (settled, ran int, err error) {
	notes, err := wr.store.InFlightWrites(ctx, memberID)
	if err != nil || len(notes) == 0 {
		return 0, 0, err
	}
	grace, now := wr.inDoubt, wr.now()
	var ripe time.Time
	notes = slices.DeleteFunc(notes, func(n app.InFlight) bool {
		if n.Answered || now.Sub(n.Sent) >= grace {
			return false
		}
		if wait(n) {
			ripe = n.Sent.Add(grace) // notes are oldest first
			return false
		}
		return true
	})
	if len(notes) == 0 {
		return 0, 0, nil
	}
	if err := wr.sleep(ctx, ripe.Sub(now)); err != nil {
		return 0, 0, err
	}
	rows, err := wr.readOutcomes(ctx, memberID, notes)
	if err != nil {
		return 0, 0, err
	}
	m := wr.mirror
	byEntity := map[segment.Entity][]int64{}
	for _, n := range notes {
		byEntity[segment.Entity(n.Entity)] = append(byEntity[segment.Entity(n.Entity)], n.ID)
	}
	deals, err := m.Deals(ctx, memberID, byEntity[segment.EntityDeal])
	if err != nil {
		return 0, 0, err
	}
	clients := map[segment.Entity]map[int64]*app.MirrorClient{}
	for _, e := range []segment.Entity{segment.EntityContact, segment.EntityCompany} {
		if clients[e], err = m.Clients(ctx, memberID, e, byEntity[e]); err != nil {
			return 0, 0, err
		}
	}
	landed := make([]bool, len(notes))
	var putDeals []*app.MirrorDeal
	putClients := map[segment.Entity][]*app.MirrorClient{}
	for i, n := range notes {
		now, ok := rows[noteKey(n.Entity, n.ID)]
		if !ok {
			continue // gone from the portal: its delete event cleans up
		}
		landed[i] = now.has(n.Plan)
		if landed[i] {
			ran++
		}
		if d := deals[n.ID]; n.Entity == string(segment.EntityDeal) && d != nil {
			d.TypeID, d.Segment, d.CategoryID, d.StageID, d.Semantic = now.typeID, now.segment, now.category, now.stage, now.semantic
			if landed[i] {
				d.Key = n.Audit.To.Segment
			}
			putDeals = append(putDeals, d)
		} else if cl := clients[segment.Entity(n.Entity)][n.ID]; cl != nil {
			// Not its segment key, even when the write ran: the
			// knock-on to its deals may not have (see Apply). The run's
			// retry, or the next evaluation of the client, stores it.
			cl.TypeID, cl.Segment = now.typeID, now.segment
			putClients[segment.Entity(n.Entity)] = append(putClients[segment.Entity(n.Entity)], cl)
		}
	}
	if err := m.PutDeals(ctx, memberID, putDeals); err != nil {
		return 0, 0, err
	}
	for e, list := range putClients {
		if err := m.PutClients(ctx, memberID, e, list); err != nil {
			return 0, 0, err
		}
	}
	if _, err := wr.store.EndWrites(ctx, memberID, notes, landed); err != nil {
		return 0, 0, err
	}
	wr.log.Info("settled writes whose answer was lost", "portal", memberID, "records", len(notes), "ran", ran)
	return len(notes), ran, nil
}

// written is what a record holds of the fields the engine writes.
type written struct {
	typeID   string
	segment  int
	category int
	stage    string
	semantic string
}

// has reports whether the record holds everything plan writes.
func (o written) has(plan segment.Plan) bool {
	if plan.Type != "" && o.typeID != plan.Type {
		return false
	}
	if plan.Segment != nil && o.segment != *plan.Segment {
		return false
	}
	if mv := plan.Move; mv != nil && (o.category != mv.CategoryID || o.stage != mv.StageID) {
		return false
	}
	return true
}

// readOutcomes reads the written fields of the noted records, 50 ids to a
// list command and 50 commands to a request, keyed "entity:id".
func (wr *writer) readOutcomes(ctx context.Context, memberID string, notes []app.InFlight) (map[string]written, error) {
	uf := wr.field
	ids := map[segment.Entity][]int64{}
	for _, n := range notes {
		ids[segment.Entity(n.Entity)] = append(ids[segment.Entity(n.Entity)], n.ID)
	}
	var cmds []bitrix.Command
	var entityOf []segment.Entity
	for _, e := range []segment.Entity{segment.EntityContact, segment.EntityCompany, segment.EntityDeal} {
		for chunk := range slices.Chunk(ids[e], bitrix.PageSize) {
			name := fmt.Sprintf("%s_%d", e, len(cmds))
			if e == segment.EntityDeal {
				cmds = append(cmds, bitrix.ItemsOf(bitrix.EntityDeal).List(name,
					[]string{"id", "typeId", "categoryId", "stageId", "stageSemanticId", uf}, map[string]any{"@id": chunk}, -1))
			} else {
				cmds = append(cmds, bitrix.RecordsOf(bitrix.Entity(e)).List(name, []string{"ID", typeFieldOf(e), uf}, map[string]any{"@ID": chunk}, -1))
			}
			entityOf = append(entityOf, e)
		}
	}
	res, err := wr.bitrix.Portal(memberID).BatchAll(ctx, cmds)
	if err != nil {
		return nil, fmt.Errorf("re-read writes in doubt of %s: %w", memberID, err)
	}
	out := map[string]written{}
	for i, cmd := range cmds {
		if err := res.Err(cmd.Name); err != nil {
			return nil, fmt.Errorf("re-read writes in doubt of %s: %w", memberID, err)
		}
		e := entityOf[i]
		key := ""
		if e == segment.EntityDeal {
			key = "items"
		}
		list, err := bitrix.PageRows(res.Results[cmd.Name], key)
		if err != nil {
			return nil, err
		}
		for _, raw := range list {
			if e == segment.EntityDeal {
				d, err := decodeDeal(raw, uf, nil)
				if err != nil {
					return nil, err
				}
				out[noteKey(string(e), d.ID)] = written{typeID: d.TypeID, segment: d.Segment, category: d.CategoryID, stage: d.StageID, semantic: d.Semantic}
				continue
			}
			cl, err := decodeClient(raw, typeFieldOf(e), uf, nil)
			if err != nil {
				return nil, err
			}
			out[noteKey(string(e), cl.ID)] = written{typeID: cl.TypeID, segment: cl.Segment}
		}
	}
	return out, nil
}

func noteKey(entity string, id int64) string { return entity + ":" + strconv.FormatInt(id, 10) }

func typeFieldOf(e segment.Entity) string {
	if e == segment.EntityCompany {
		return "COMPANY_TYPE"
	}
	return "TYPE_ID"
}
