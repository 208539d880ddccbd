package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"segmentor/app"
	"segmentor/app/segment"
	"segmentor/bitrix"
)

// command is the REST update that carries out a plan.
func (wr *writer) command(name string, p *pending) bitrix.Command {
	uf := wr.field
	segValue := func() any {
		if *p.plan.Segment == 0 {
			return ""
		}
		return *p.plan.Segment
	}
	if p.entity == segment.EntityDeal && p.plan.Move != nil {
		fields := map[string]any{"categoryId": p.plan.Move.CategoryID, "stageId": p.plan.Move.StageID}
		if p.plan.Type != "" {
			fields["typeId"] = p.plan.Type
		}
		if p.plan.Segment != nil {
			fields[uf] = segValue()
		}
		return bitrix.ItemsOf(bitrix.EntityDeal).Update(name, p.id, fields)
	}
	fields := map[string]any{}
	if p.plan.Type != "" {
		if p.entity == segment.EntityCompany {
			fields["COMPANY_TYPE"] = p.plan.Type
		} else {
			fields["TYPE_ID"] = p.plan.Type
		}
	}
	if p.plan.Segment != nil {
		fields[uf] = segValue()
	}
	return bitrix.RecordsOf(bitrix.Entity(p.entity)).Update(name, p.id, fields)
}

// write sends ws, writes of r, 50 to a request, and records what was
// written in the mirror and the audit trail. Each batch is noted in the
// write journal before it is sent and settled after its answer is recorded
// (see app.InFlight and settleWrites), so a batch whose answer is lost to a
// crash is re-read, not re-sent. progress, if set, is called after each
// request with the records written so far and the last record of the batch.
func (wr *writer) write(ctx context.Context, r *run, ws []*pending, progress func(done int, last *pending)) (int, error) {
	p := wr.bitrix.Portal(r.memberID)
	written := 0
	var failed *commandsFailed
	for chunk := range slices.Chunk(ws, bitrix.MaxBatch) {
		err := r.fresher.hold(ctx, func(stale func(segment.Entity, int64) bool) error {
			// A backfill leaves out what live changes classified since
			// its snapshot (fresher).
			if r.fresher != nil {
				chunk = slices.DeleteFunc(slices.Clone(chunk), func(w *pending) bool { return stale(w.entity, w.id) })
				if len(chunk) == 0 {
					return nil
				}
			}
			cmds := make([]bitrix.Command, len(chunk))
			notes := make([]app.InFlight, len(chunk))
			sent, batch := wr.now().UTC(), strconv.FormatUint(rand.Uint64(), 36)
			for i, w := range chunk {
				cmds[i] = wr.command("w"+strconv.Itoa(i), w)
				notes[i] = app.InFlight{Entity: string(w.entity), ID: w.id, Batch: batch, By: r.kind, Sent: sent, Plan: w.plan,
					Audit: r.auditEntry(w), Act: r.action(w)}
			}
			if err := wr.store.BeginWrites(ctx, r.memberID, notes); err != nil {
				return err
			}
			res, _, err := p.Batch(ctx, cmds, false)
			if err != nil {
				err = fmt.Errorf("write %s: %w", r.memberID, err)
				if nerr := wr.unanswered(ctx, r.memberID, notes, err); nerr != nil {
					return errors.Join(err, nerr)
				}
				return err
			}
			out := wr.answered(r, chunk, cmds, res, &failed)
			written += out.written
			if err := wr.recordWrites(ctx, r.memberID, out); err != nil {
				return err
			}
			if _, err := wr.store.EndWrites(ctx, r.memberID, notes, out.ran); err != nil {
				return err
			}
			if progress != nil {
				progress(written, chunk[len(chunk)-1])
			}
			return nil
		})
		if err != nil {
			return written, err
		}
	}
	if failed != nil {
		return written, failed
	}
	return written, nil
}

// unanswered updates the notes of a write batch that failed as a whole.
// Refused before it ran, the batch wrote nothing: its notes end. Answered
// with the portal's own error, it is over: its notes may be settled at
// once. Cut off with no answer, it may still be running on the portal: its
// notes wait InDoubtWait before anyone re-reads them (settleWrites).
func (wr *writer) unanswered(ctx context.Context, memberID string, notes []app.InFlight, err error) error {
	ctx = context.WithoutCancel(ctx)
	switch {
	case bitrix.NotRun(err):
		_, err := wr.store.EndWrites(ctx, memberID, notes, make([]bool, len(notes)))
		return err
	case bitrix.Answered(err):
		return wr.store.AnsweredWrites(ctx, memberID, notes)
	}
	return nil
}

// batchOutcome is what one write batch's answers mean for the mirror.
type batchOutcome struct {
	written int
	ran     []bool // by command
	deals   []*app.MirrorDeal
	clients map[segment.Entity][]*app.MirrorClient
	gone    map[segment.Entity][]int64
}

// answered reads a write batch's answers: what ran, what the portal no
// longer has (its record is forgotten, a deal's clients reclassified), and
// what it refused (marked failed, counted into *failed).
func (wr *writer) answered(r *run, chunk []*pending, cmds []bitrix.Command, res *bitrix.BatchResult, failed **commandsFailed) batchOutcome {
	out := batchOutcome{ran: make([]bool, len(chunk)), clients: map[segment.Entity][]*app.MirrorClient{}, gone: map[segment.Entity][]int64{}}
	for i, w := range chunk {
		if err := res.Err(cmds[i].Name); err != nil {
			if bitrix.IsRecordNotFound(err) {
				// Deleted, its event lost or not yet handled: the mirror
				// forgets it, as the event would.
				wr.log.Info("write of a deleted record", "portal", r.memberID, "entity", w.entity, "id", w.id)
				out.gone[w.entity] = append(out.gone[w.entity], w.id)
				if w.deal != nil {
					r.orphans = append(r.orphans, w.deal.Clients()...)
				}
				continue
			}
			wr.log.Warn("write failed", "portal", r.memberID, "entity", w.entity, "id", w.id, "error", err)
			w.failed = true
			if *failed == nil {
				*failed = &commandsFailed{first: fmt.Errorf("write %s %d: %w", w.entity, w.id, err)}
			}
			(*failed).n++
			continue
		}
		out.written++
		out.ran[i] = true
		if w.deal != nil {
			applyPlan(w.deal, w.plan, w.res.Key)
			out.deals = append(out.deals, w.deal)
			continue
		}
		// The client's key is not advanced here: a backfill set it when it
		// evaluated; a change stores it after all its writes (Apply).
		if w.plan.Type != "" {
			w.client.TypeID = w.plan.Type
		}
		if w.plan.Segment != nil {
			w.client.Segment = *w.plan.Segment
		}
		out.clients[w.entity] = append(out.clients[w.entity], w.client)
	}
	return out
}

// recordWrites puts a batch's outcome into the mirror.
func (wr *writer) recordWrites(ctx context.Context, memberID string, out batchOutcome) error {
	m := wr.mirror
	if err := m.PutDeals(ctx, memberID, out.deals); err != nil {
		return err
	}
	for e, rows := range out.clients {
		if err := m.PutClients(ctx, memberID, e, rows); err != nil {
			return err
		}
	}
	if err := m.DeleteDeals(ctx, memberID, out.gone[segment.EntityDeal]); err != nil {
		return err
	}
	for _, e := range []segment.Entity{segment.EntityContact, segment.EntityCompany} {
		if err := m.DeleteClients(ctx, memberID, e, out.gone[e]); err != nil {
			return err
		}
	}
	return nil
}

// commandsFailed is write's error when every batch was answered but the
// portal refused some of their commands (each such pending is marked
// failed): the job runs again for them.
type commandsFailed struct {
	first error
	n     int
}

func (e *commandsFailed) Error() string {
	if e.n == 1 {
		return e.first.Error()
	}
	return fmt.Sprintf("%v (and %d more writes refused)", e.first, e.n-1)
}

func (e *commandsFailed) Unwrap() error { return e.first }

// applyPlan records a deal's write in its mirror row.
func applyPlan(d *app.MirrorDeal, plan segment.Plan, key string) {
	d.Key = key
	if plan.Type != "" {
		d.TypeID = plan.Type
	}
	if plan.Segment != nil {
		d.Segment = *plan.Segment
	}
	if mv := plan.Move; mv != nil {
		d.CategoryID, d.StageID = mv.CategoryID, mv.StageID
	}
}

// auditEntry is the trail entry a write leaves when it lands.
func (r *run) auditEntry(w *pending) app.AuditEntry {
	to := w.from
	to.Segment = w.res.Key
	if w.plan.Type != "" {
		to.Type = w.plan.Type
	}
	if mv := w.plan.Move; mv != nil {
		to.Pipeline = pipelineOf(mv.CategoryID, mv.StageID)
	}
	to.Name = w.res.Name
	from := w.from // its name too: the rules may drop the segment later
	from.Name = r.pr.segmentName(w.entity, from.Segment)
	reason := w.res.Reason()
	return app.AuditEntry{At: r.env.Now.UTC(), Entity: string(w.entity), ID: w.id,
		ConfigVersion: r.pr.version, From: from, To: to, Trigger: r.trigger, Reason: &reason}
}

// action is what the record's entry into its new segment sets off, nil
// when it enters none, stays where it was, or the segment sets nothing
// off; a recompute of the whole base sets things off only where the
// scheme asks for it.
func (r *run) action(w *pending) *app.Action {
	acts := w.res.Acts
	// The nightly recompute is time passing (a client falls asleep): its
	// changes are live ones. A recompute after a save or an install
	// reclassifies the base and sets off only where asked.
	mass := r.kind == byBackfill && r.trigger != app.TriggerNightly
	if w.res.Key == "" || w.res.Key == w.from.Segment || !acts.Any() || mass && !acts.InBackfill {
		return nil
	}
	reason := w.res.Reason()
	a := &app.Action{Entity: string(w.entity), ID: w.id, Segment: w.res.Key, From: w.from.Segment,
		Trigger: acts.Trigger, Timeline: acts.Timeline, Live: !mass,
		Version: r.pr.version, At: r.env.Now.UTC(), Reason: &reason}
	if acts.Notify {
		var fields map[string]string
		switch {
		case w.client != nil:
			fields = w.client.Fields
		case w.deal != nil:
			fields = w.deal.Fields
		}
		a.Notify, _ = strconv.Atoi(fields[segment.AssignedField])
	}
	return a
}

// segmentItems reads the Segment field of each entity from the directory:
// its id and its items by segment key.
func segmentItems(dir *app.Directory) (map[segment.Entity]map[string]int, map[segment.Entity]int) {
	items := map[segment.Entity]map[string]int{}
	ids := map[segment.Entity]int{}
	for _, e := range []segment.Entity{segment.EntityContact, segment.EntityCompany, segment.EntityDeal} {
		items[e] = map[string]int{}
		sf := dir.Segment[string(e)]
		if sf.ID == 0 {
			continue
		}
		ids[e] = sf.ID
		for _, it := range sf.Items {
			items[e][it.Key] = it.ID
		}
	}
	return items, ids
}

// ensureItems keeps each Segment field's items in step with the config:
// a labelled segment without an item (by XML_ID = key) gets one, a renamed
// segment's item is renamed; nothing is ever deleted. It costs a request
// only when something changed, and refreshes the cached reference.
func (wr *writer) ensureItems(ctx context.Context, r *run) error {
	dir, err := wr.store.Directory(ctx, r.memberID)
	if err != nil {
		return err
	}
	var cmds []bitrix.Command
	for _, s := range r.pr.cfg.Schemes {
		e := s.Entity
		segs := s.All()
		values := map[string]string{}
		for _, it := range dir.Segment[string(e)].Items {
			values[it.Key] = it.Name
		}
		var list []map[string]any
		for i, seg := range segs {
			if !seg.Set.Label {
				continue
			}
			id, ok := r.items[e][seg.Key]
			switch {
			case !ok:
				list = append(list, map[string]any{"VALUE": seg.Name, "XML_ID": seg.Key, "SORT": 10 * (i + 1)})
			case values[seg.Key] != seg.Name:
				list = append(list, map[string]any{"ID": id, "VALUE": seg.Name})
			}
		}
		if len(list) == 0 {
			continue
		}
		fid := r.fieldIDs[e]
		if fid == 0 {
			return fmt.Errorf("portal %s has no Segment field for %s: setup has not run", r.memberID, e)
		}
		ufs := bitrix.RecordsOf(bitrix.Entity(e)).UserFields()
		cmds = append(cmds,
			ufs.Update("set_"+string(e), fid, map[string]any{"LIST": list}),
			ufs.Named("segment_field_"+string(e), wr.field))
	}
	if len(cmds) == 0 {
		return nil
	}
	res, _, err := wr.bitrix.Portal(r.memberID).Batch(ctx, cmds, false)
	if err != nil {
		return fmt.Errorf("segment items of %s: %w", r.memberID, err)
	}
	fields := map[string]app.SegmentField{}
	for _, cmd := range cmds {
		e, ok := strings.CutPrefix(cmd.Name, "segment_field_")
		if !ok {
			continue
		}
		if err := res.Err(cmd.Name); err != nil {
			return fmt.Errorf("segment items of %s: %w", r.memberID, err)
		}
		if fields[e], err = app.ParseSegmentField(res.Results[cmd.Name]); err != nil {
			return fmt.Errorf("segment items of %s: %w", r.memberID, err)
		}
	}
	dir, err = wr.store.UpdateDirectory(ctx, r.memberID, func(d *app.Directory) { maps.Copy(d.Segment, fields) })
	if err != nil {
		return err
	}
	r.items, r.fieldIDs = segmentItems(dir)
	// An update refused because another worker added the same item is fine
	// when the re-read shows every item.
	for _, cmd := range cmds {
		if err := res.Err(cmd.Name); err != nil && strings.HasPrefix(cmd.Name, "set_") {
			e := segment.Entity(strings.TrimPrefix(cmd.Name, "set_"))
			for _, s := range r.pr.cfg.Schemes {
				if s.Entity != e {
					continue
				}
				for _, seg := range s.All() {
					if _, ok := r.items[e][seg.Key]; seg.Set.Label && !ok {
						return fmt.Errorf("segment items of %s %s: %w", r.memberID, e, err)
					}
				}
			}
		}
	}
	return nil
}
