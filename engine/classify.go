package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"segmentor/app"
	"segmentor/app/segment"
	"segmentor/bitrix"
)

// Classifier is the classification engine: it re-reads the
// changed records in one batch, refreshes the mirror, evaluates the portal's
// rules on facts from the mirror and writes only the difference in batches
// of 50 (design.md §2); it also runs full syncs and backfills.
type Classifier struct {
	Store  *app.Store
	Mirror *app.Mirror
	Bitrix *bitrix.Client
	// FieldName is the Segment list field, e.g. UF_CRM_SEGMENTOR.
	FieldName string
	Clock     func() time.Time
	Log       *slog.Logger
	// RFMMaxAge is how long live classification reuses a portal's RFM
	// quintiles before rebuilding them from the mirror; default 10 minutes.
	RFMMaxAge time.Duration
	// InDoubtWait is how long after sending a write batch whose answer never
	// came the engine waits before re-reading its records (see journal.go);
	// default 30 s, negative for none.
	InDoubtWait time.Duration
	// ResumeWithin is how recent an interrupted backfill's sync must be for
	// the next run to resume from its checkpoint instead of syncing again;
	// default one hour.
	ResumeWithin time.Duration
	// Sleep waits (default: a timer); tests inject it with Clock.
	Sleep func(ctx context.Context, d time.Duration) error

	mu    sync.Mutex
	cache map[string]*portalRules
}

// Change is a burst of changes to records of one entity of a portal: the
// records to re-read (newest first) and those the portal deleted.
type Change struct {
	MemberID string
	Entity   string // contact, company, deal
	IDs      []int64
	Deleted  []int64
}

// MaxChange is the most records a Change should carry: they are re-read in
// one request of five 50-id list commands, leaving 45 of the batch's 50
// commands for the deals' product rows (whose filter then carries 250 ids,
// as a sync's row chunk does).
const MaxChange = 250

func (c *Classifier) now() time.Time {
	if c.Clock != nil {
		return c.Clock()
	}
	return time.Now()
}

func (c *Classifier) fieldName() string {
	if c.FieldName != "" {
		return c.FieldName
	}
	return "UF_CRM_SEGMENTOR"
}

func (c *Classifier) log() *slog.Logger {
	if c.Log != nil {
		return c.Log
	}
	return slog.New(slog.DiscardHandler)
}

// portalRules is a portal's compiled config version, cached until a new
// version is saved.
type portalRules struct {
	version int
	since   time.Time
	cfg     segment.Config
	rules   *segment.Rules
	rows    bool // product_groups is used: mirror product sections

	rfm      map[segment.Entity]*segment.RFM
	rfmBuilt time.Time
}

func (pr *portalRules) syncOptions() SyncOptions {
	o := SyncOptions{Fields: map[segment.Entity][]string{}, Rows: pr.rows}
	for _, e := range []segment.Entity{segment.EntityContact, segment.EntityCompany, segment.EntityDeal} {
		o.Fields[e] = pr.rules.Fields(e)
	}
	return o
}

// rulesFor returns the portal's compiled rules, nil when no config is saved.
func (c *Classifier) rulesFor(ctx context.Context, memberID string) (*portalRules, error) {
	sc, err := c.Store.Config(ctx, memberID)
	if err != nil {
		return nil, err
	}
	if sc.Version == 0 || len(sc.Config) == 0 {
		return nil, nil
	}
	c.mu.Lock()
	if pr := c.cache[memberID]; pr != nil && pr.version == sc.Version {
		c.mu.Unlock()
		return pr, nil
	}
	c.mu.Unlock()
	cfg, err := segment.ParseConfig(sc.Config)
	if err != nil {
		return nil, fmt.Errorf("config %s v%d: %w", memberID, sc.Version, err)
	}
	rules, err := segment.Compile(cfg)
	if err != nil {
		return nil, fmt.Errorf("config %s v%d: %w", memberID, sc.Version, err)
	}
	pr := &portalRules{version: sc.Version, since: sc.SavedAt, cfg: cfg, rules: rules, rows: usesFact(cfg, "product_groups")}
	c.mu.Lock()
	if c.cache == nil {
		c.cache = map[string]*portalRules{}
	}
	c.cache[memberID] = pr
	c.mu.Unlock()
	return pr, nil
}

func usesFact(cfg segment.Config, fact string) bool {
	var walk func(*segment.Condition) bool
	walk = func(cd *segment.Condition) bool {
		if cd == nil {
			return false
		}
		if cd.Fact == fact {
			return true
		}
		for i := range cd.All {
			if walk(&cd.All[i]) {
				return true
			}
		}
		for i := range cd.Any {
			if walk(&cd.Any[i]) {
				return true
			}
		}
		return walk(cd.Not)
	}
	for _, s := range cfg.Schemes {
		for _, seg := range s.Segments {
			if walk(seg.When) {
				return true
			}
		}
	}
	return false
}

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
	r := &run{c: c, memberID: memberID, pr: pr, env: segment.Env{Now: c.now(), Rates: rates}, kind: byChanges}
	r.items, r.fieldIDs = segmentItems(dir)
	r.pipes = dir.Pipelines
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

// Apply classifies a merged burst of changes (jobs.ChangeSink).
func (c *Classifier) Apply(ctx context.Context, ch Change) error {
	pr, err := c.rulesFor(ctx, ch.MemberID)
	if err != nil || pr == nil {
		return err
	}
	e := segment.Entity(ch.Entity)
	if e != segment.EntityContact && e != segment.EntityCompany && e != segment.EntityDeal {
		return nil
	}
	// Writes left in doubt by a run that died are re-read before anything
	// is planned from the mirror (journal.go).
	var backfillAlive *bool
	waitFor := func(n app.InFlight) bool {
		if n.By != byBackfill {
			return true
		}
		if backfillAlive == nil {
			alive, err := c.Store.Leased(ctx, ch.MemberID, backfillJob)
			if err != nil {
				alive = true // unknown: do not wait on a backfill that may be running
			}
			backfillAlive = &alive
		}
		return !*backfillAlive
	}
	if _, _, err := c.settleWrites(ctx, ch.MemberID, waitFor); err != nil {
		return err
	}
	r, err := c.newRun(ctx, ch.MemberID, pr)
	if err != nil {
		return err
	}
	if err := c.ensureRFM(ctx, r); err != nil {
		return err
	}
	m := c.Mirror
	var clientRefs []app.ClientRef
	var dealIDs []int64
	addClient := func(ref app.ClientRef) {
		if !slices.Contains(clientRefs, ref) {
			clientRefs = append(clientRefs, ref)
		}
	}

	// 1. Re-read the changed records in one request; drop deleted ones.
	fresh, gone, err := c.reread(ctx, ch.MemberID, e, ch.IDs, pr)
	if err != nil {
		return err
	}
	gone = append(gone, ch.Deleted...)
	if e == segment.EntityDeal {
		ids := append(slices.Clone(ch.IDs), ch.Deleted...)
		old, err := m.Deals(ctx, ch.MemberID, ids)
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
			dealIDs = append(dealIDs, d.ID)
			for _, ref := range d.Clients() {
				addClient(ref)
			}
		}
		for _, o := range old {
			for _, ref := range o.Clients() {
				addClient(ref) // a client the deal left loses its facts
			}
		}
		if err := m.PutDeals(ctx, ch.MemberID, rows); err != nil {
			return err
		}
		if err := m.DeleteDeals(ctx, ch.MemberID, gone); err != nil {
			return err
		}
	} else {
		old, err := m.Clients(ctx, ch.MemberID, e, ch.IDs)
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
			addClient(app.ClientRef{Entity: e, ID: cl.ID})
		}
		if err := m.PutClients(ctx, ch.MemberID, e, rows); err != nil {
			return err
		}
		if err := m.DeleteClients(ctx, ch.MemberID, e, gone); err != nil {
			return err
		}
	}
	if err := c.ensureItems(ctx, r); err != nil {
		return err
	}

	// 2–4. Clients first: their segments feed their deals' client_segment.
	clients := map[app.ClientRef]*app.MirrorClient{}
	for _, ce := range []segment.Entity{segment.EntityContact, segment.EntityCompany} {
		var ids []int64
		for _, ref := range clientRefs {
			if ref.Entity == ce {
				ids = append(ids, ref.ID)
			}
		}
		if len(ids) == 0 {
			continue
		}
		rows, err := m.Clients(ctx, ch.MemberID, ce, ids)
		if err != nil {
			return err
		}
		for id, cl := range rows {
			clients[app.ClientRef{Entity: ce, ID: id}] = cl
		}
	}
	var refs []app.ClientRef
	for _, ref := range clientRefs {
		if clients[ref] != nil && r.pr.rules.Has(ref.Entity) {
			refs = append(refs, ref)
		}
	}
	dealsOf, err := m.ClientDeals(ctx, ch.MemberID, refs)
	if err != nil {
		return err
	}
	// A client's segment key is stored only once every write its change
	// implies has run (storeKeys, after write): the mirror's key is the
	// segment whose knock-on is done. A run that fails part-way leaves the
	// old key, so its retry sees the change again and re-labels the
	// client's deals that the failure left behind; the writes that did run
	// plan nothing the second time.
	newKeys := map[app.ClientRef]string{}
	var changedClients []app.ClientRef
	knock := map[int64]bool{}
	facts := map[segment.Entity]*segment.ClientFacts{}
	for _, ref := range refs {
		cl := clients[ref]
		f := facts[ref.Entity]
		if f == nil {
			f = segment.NewClientFacts(r.envFor(ref.Entity))
			facts[ref.Entity] = f
		}
		deals := make([]segment.Deal, len(dealsOf[ref]))
		for i, d := range dealsOf[ref] {
			deals[i] = d.Deal()
		}
		res, err := r.classifyClient(ref.Entity, f, cl, deals)
		if err != nil {
			return err
		}
		newKeys[ref] = res.Key
		if res.Key != cl.Key {
			changedClients = append(changedClients, ref)
			if r.pr.rules.UsesClientSegment() {
				// Its deals read client_segment: reclassify them. Open
				// deals may move pipeline; closed ones get their Segment
				// and type relabelled but are never moved (the planner).
				// Leaving closed deals out would only defer the same
				// writes to the nightly recompute, which evaluates every
				// record, and leave them unlike a fresh evaluation until
				// then. No loop: a deal's segment is no fact of a client.
				for _, d := range dealsOf[ref] {
					knock[d.ID] = true
				}
			}
		}
	}
	for id := range knock {
		if !slices.Contains(dealIDs, id) {
			dealIDs = append(dealIDs, id)
		}
	}
	if len(dealIDs) > 0 && r.pr.rules.Has(segment.EntityDeal) {
		deals, err := m.Deals(ctx, ch.MemberID, dealIDs)
		if err != nil {
			return err
		}
		lookup, err := c.segmentLookup(ctx, ch.MemberID, newKeys, deals)
		if err != nil {
			return err
		}
		df := segment.NewDealFacts(lookup)
		for _, id := range dealIDs {
			d := deals[id]
			if d == nil {
				continue
			}
			res, err := r.classifyDeal(df, d)
			if err != nil {
				return err
			}
			if res.Key != d.Key {
				d.Key = res.Key
				if !slices.ContainsFunc(r.writes, func(p *pending) bool { return p.deal == d }) {
					if err := m.PutDeals(ctx, ch.MemberID, []*app.MirrorDeal{d}); err != nil {
						return err
					}
				}
			}
		}
	}
	// 5–6. Writes in batches of 50, then the mirror and the audit trail,
	// then the new keys of the clients whose writes, their own and their
	// deals', all ran. When the portal refuses a command, the others still
	// count: only the clients it concerns keep their old keys for the retry.
	_, err = c.write(ctx, r, nil)
	var refused *commandsFailed
	if err != nil && !errors.As(err, &refused) {
		return err
	}
	if refused != nil {
		changedClients = slices.DeleteFunc(changedClients, func(ref app.ClientRef) bool {
			return slices.ContainsFunc(r.writes, func(p *pending) bool {
				return p.failed && (p.client == clients[ref] || p.deal != nil && slices.Contains(p.deal.Clients(), ref))
			})
		})
	}
	if serr := c.storeKeys(ctx, ch.MemberID, clients, changedClients, newKeys); serr != nil {
		return serr
	}
	if oerr := c.applyOrphans(ctx, ch.MemberID, r.orphans); oerr != nil {
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

// storeKeys saves the changed clients' new segment keys, with what write
// recorded of the written ones.
func (c *Classifier) storeKeys(ctx context.Context, memberID string, clients map[app.ClientRef]*app.MirrorClient, changed []app.ClientRef, keys map[app.ClientRef]string) error {
	rows := map[segment.Entity][]*app.MirrorClient{}
	for _, ref := range changed {
		cl := clients[ref]
		cl.Key = keys[ref]
		rows[ref.Entity] = append(rows[ref.Entity], cl)
	}
	for e, list := range rows {
		if err := c.Mirror.PutClients(ctx, memberID, e, list); err != nil {
			return err
		}
	}
	return nil
}

// reread fetches the records of one entity by id, one request for a job's
// up to MaxChange records: the rows (mirror form) and the ids the portal no
// longer has.
func (c *Classifier) reread(ctx context.Context, memberID string, e segment.Entity, ids []int64, pr *portalRules) ([]any, []int64, error) {
	var out []any
	var gone []int64
	for chunk := range slices.Chunk(ids, MaxChange) {
		rows, g, err := c.rereadBatch(ctx, memberID, e, chunk, pr)
		if err != nil {
			return nil, nil, err
		}
		out, gone = append(out, rows...), append(gone, g...)
	}
	return out, gone, nil
}

// rereadBatch is reread's one request for at most MaxChange records. A list
// page holds 50 rows, so the batch has one list command per 50 ids (at most
// MaxChange / 50 = 5), and for deals the first pages of their product rows.
func (c *Classifier) rereadBatch(ctx context.Context, memberID string, e segment.Entity, ids []int64, pr *portalRules) ([]any, []int64, error) {
	p := c.Bitrix.Portal(memberID)
	uf := c.fieldName()
	fields := pr.rules.Fields(e)
	var cmds []bitrix.Command
	var names []string
	for chunk := range slices.Chunk(ids, bitrix.PageSize) {
		name := "rows" + strconv.Itoa(len(names))
		names = append(names, name)
		if e == segment.EntityDeal {
			cmds = append(cmds, bitrix.ItemsOf(bitrix.EntityDeal).List(name, dealSelect(uf, fields), map[string]any{"@id": chunk}, -1))
		} else {
			cmds = append(cmds, bitrix.RecordsOf(bitrix.Entity(e)).List(name, clientSelect(typeFieldOf(e), uf, fields), map[string]any{"@ID": chunk}, -1))
		}
	}
	listMethod := cmds[0].Method
	pages := 0
	if e == segment.EntityDeal && pr.rows {
		// Product rows of these deals, a few chained pages over all of
		// them (at most MaxChange ids in the filter, as sync's rowChunk).
		pages = min(rowPages*len(names), bitrix.MaxBatch-len(names))
		rows := bitrix.ProductRows.OfDeals(ids)
		for k := range pages {
			var after any = 0
			if k > 0 {
				after = rows.LastID("pr" + strconv.Itoa(k-1))
			}
			cmds = append(cmds, rows.Page("pr"+strconv.Itoa(k), after, false))
		}
	}
	res, _, err := p.Batch(ctx, cmds, false)
	if err != nil {
		return nil, nil, fmt.Errorf("re-read %s of %s: %w", e, memberID, err)
	}
	key := ""
	if e == segment.EntityDeal {
		key = "items"
	}
	var out []any
	seen := map[int64]bool{}
	var deals []*app.MirrorDeal
	for _, name := range names {
		if err := res.Err(name); err != nil {
			return nil, nil, fmt.Errorf("re-read %s of %s: %w", e, memberID, c.refused(ctx, p, listMethod, err))
		}
		rows, err := bitrix.PageRows(res.Results[name], key)
		if err != nil {
			return nil, nil, err
		}
		for _, raw := range rows {
			if e == segment.EntityDeal {
				d, err := decodeDeal(raw, uf, fields)
				if err != nil {
					return nil, nil, err
				}
				seen[d.ID] = true
				deals = append(deals, d)
				out = append(out, d)
				continue
			}
			cl, err := decodeClient(raw, typeFieldOf(e), uf, fields)
			if err != nil {
				return nil, nil, err
			}
			seen[cl.ID] = true
			out = append(out, cl)
		}
	}
	if pages > 0 {
		if err := c.dealSections(ctx, p, memberID, res, pages, ids, deals); err != nil {
			return nil, nil, err
		}
	}
	var gone []int64
	for _, id := range ids {
		if !seen[id] {
			gone = append(gone, id)
		}
	}
	return out, gone, nil
}

// refused turns a command the portal refused for a limit, still refused
// after the client's own rounds, into a *bitrix.RateLimitedError (see
// refusedPage): the job runs again when the limit has passed, not counted
// failed, and is never archived for it with its records' changes.
func (c *Classifier) refused(ctx context.Context, p *bitrix.PortalClient, method string, err error) error {
	if bitrix.IsQueryLimit(err) || bitrix.IsOperationLimit(err) {
		return refusedPage(ctx, p, method, err, c.now())
	}
	return err
}

// rowPages is how many pages of product rows a re-read asks for in its
// batch per 50 deals (four rows a deal); more are read only if the last one
// is full. A re-read of MaxChange deals has 5 list commands and 20 pages, well
// inside a batch's 50 commands.
const rowPages = 4

// dealSections fills the deals' product sections from the re-read's pages
// of product rows, reading further pages and unknown products when needed.
func (c *Classifier) dealSections(ctx context.Context, p *bitrix.PortalClient, memberID string, res *bitrix.BatchResult, pages int, ids []int64, deals []*app.MirrorDeal) error {
	products := map[int64][]int64{}
	var cursor int64
	full := false
	list := bitrix.ProductRows.OfDeals(ids)
	for k := range pages {
		name := "pr" + strconv.Itoa(k)
		if err := res.Err(name); err != nil {
			return fmt.Errorf("re-read product rows: %w", c.refused(ctx, p, list.Method, err))
		}
		rows, err := bitrix.PageRows(res.Results[name], list.RowsKey)
		if err != nil {
			return err
		}
		if err := addRows(rows, products, &cursor); err != nil {
			return err
		}
		full = len(rows) == bitrix.PageSize
		if !full {
			break
		}
	}
	if full {
		_, err := p.Scan(ctx, bitrix.ScanOptions{List: list, After: bitrix.ID(cursor)}, func(pg *bitrix.ScanPage) error {
			return addRows(pg.Rows, products, &cursor)
		})
		if err != nil {
			return err
		}
	}
	var all []int64
	for _, ps := range products {
		for _, pid := range ps {
			if !slices.Contains(all, pid) {
				all = append(all, pid)
			}
		}
	}
	sections, err := c.Mirror.ProductSections(ctx, memberID, all)
	if err != nil {
		return err
	}
	var unknown []int64
	for _, pid := range all {
		if _, ok := sections[pid]; !ok {
			unknown = append(unknown, pid)
		}
	}
	if len(unknown) > 0 {
		dir, err := c.Store.Directory(ctx, memberID)
		if err != nil {
			return err
		}
		add, err := productSource{catalogs: dir.ProductCatalogs()}.lookup(ctx, p, unknown)
		if err != nil {
			return err
		}
		for id, s := range add {
			sections[id] = s
		}
		if err := c.Mirror.SetProductSections(ctx, memberID, add); err != nil {
			return err
		}
	}
	for _, d := range deals {
		d.Sections = sectionsOf(products[d.ID], sections)
	}
	return nil
}

func addRows(rows []json.RawMessage, products map[int64][]int64, cursor *int64) error {
	for _, r := range rows {
		var pr struct {
			ID      bitrix.ID `json:"id"`
			Owner   bitrix.ID `json:"ownerId"`
			Product bitrix.ID `json:"productId"`
		}
		if err := json.Unmarshal(r, &pr); err != nil {
			return err
		}
		products[int64(pr.Owner)] = append(products[int64(pr.Owner)], int64(pr.Product))
		*cursor = max(*cursor, int64(pr.ID))
	}
	return nil
}

// command is the REST update that carries out a plan.
func (c *Classifier) command(name string, p *pending) bitrix.Command {
	uf := c.fieldName()
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

// write sends the run's writes, 50 to a request, and records what was
// written in the mirror and the audit trail. Each batch is noted in the
// write journal before it is sent and settled after its answer is recorded
// (see app.InFlight and settleWrites), so a batch whose answer is lost to a
// crash is re-read, not re-sent. progress, if set, is called after each
// request with the records written so far and the last record of the batch.
func (c *Classifier) write(ctx context.Context, r *run, progress func(done int, last *pending)) (int, error) {
	p := c.Bitrix.Portal(r.memberID)
	written := 0
	var failed *commandsFailed
	for start := 0; start < len(r.writes); start += bitrix.MaxBatch {
		chunk := r.writes[start:min(start+bitrix.MaxBatch, len(r.writes))]
		cmds := make([]bitrix.Command, len(chunk))
		notes := make([]app.InFlight, len(chunk))
		sent, batch := c.now().UTC(), strconv.FormatUint(rand.Uint64(), 36)
		for i, w := range chunk {
			cmds[i] = c.command("w"+strconv.Itoa(i), w)
			notes[i] = app.InFlight{Entity: string(w.entity), ID: w.id, Batch: batch, By: r.kind, Sent: sent, Plan: w.plan, Audit: r.auditEntry(w)}
		}
		if err := c.Store.BeginWrites(ctx, r.memberID, notes); err != nil {
			return written, err
		}
		res, _, err := p.Batch(ctx, cmds, false)
		if err != nil {
			// Whether the batch ran is unknown: its notes stay for settleWrites.
			return written, fmt.Errorf("write %s: %w", r.memberID, err)
		}
		var deals []*app.MirrorDeal
		clients := map[segment.Entity][]*app.MirrorClient{}
		gone := map[segment.Entity][]int64{}
		ran := make([]bool, len(chunk))
		for i, w := range chunk {
			if err := res.Err(cmds[i].Name); err != nil {
				if bitrix.IsRecordNotFound(err) {
					// Deleted, its event lost or not yet handled: the
					// mirror forgets it, as the event would.
					c.log().Info("write of a deleted record", "portal", r.memberID, "entity", w.entity, "id", w.id)
					gone[w.entity] = append(gone[w.entity], w.id)
					if w.deal != nil {
						r.orphans = append(r.orphans, w.deal.Clients()...)
					}
					continue
				}
				c.log().Warn("write failed", "portal", r.memberID, "entity", w.entity, "id", w.id, "error", err)
				w.failed = true
				if failed == nil {
					failed = &commandsFailed{first: fmt.Errorf("write %s %d: %w", w.entity, w.id, err)}
				}
				failed.n++
				continue
			}
			written++
			ran[i] = true
			if w.deal != nil {
				applyPlan(w.deal, w.plan, w.res.Key)
				deals = append(deals, w.deal)
			} else {
				// The client's key is not advanced here: a backfill set
				// it when it evaluated; a change stores it after all
				// its writes (Apply).
				if w.plan.Type != "" {
					w.client.TypeID = w.plan.Type
				}
				if w.plan.Segment != nil {
					w.client.Segment = *w.plan.Segment
				}
				clients[w.entity] = append(clients[w.entity], w.client)
			}
		}
		if err := c.Mirror.PutDeals(ctx, r.memberID, deals); err != nil {
			return written, err
		}
		for e, rows := range clients {
			if err := c.Mirror.PutClients(ctx, r.memberID, e, rows); err != nil {
				return written, err
			}
		}
		if err := c.Mirror.DeleteDeals(ctx, r.memberID, gone[segment.EntityDeal]); err != nil {
			return written, err
		}
		for _, e := range []segment.Entity{segment.EntityContact, segment.EntityCompany} {
			if err := c.Mirror.DeleteClients(ctx, r.memberID, e, gone[e]); err != nil {
				return written, err
			}
		}
		if _, err := c.Store.EndWrites(ctx, r.memberID, notes, ran); err != nil {
			return written, err
		}
		if progress != nil {
			progress(written, chunk[len(chunk)-1])
		}
	}
	if failed != nil {
		return written, failed
	}
	return written, nil
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
	return app.AuditEntry{At: r.env.Now.UTC(), Entity: string(w.entity), ID: w.id,
		ConfigVersion: r.pr.version, From: w.from, To: to, Why: w.res.Explanation.Text(segment.EN)}
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
func (c *Classifier) ensureItems(ctx context.Context, r *run) error {
	dir, err := c.Store.Directory(ctx, r.memberID)
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
			ufs.Named("segment_field_"+string(e), c.fieldName()))
	}
	if len(cmds) == 0 {
		return nil
	}
	res, _, err := c.Bitrix.Portal(r.memberID).Batch(ctx, cmds, false)
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
	dir, err = c.Store.UpdateDirectory(ctx, r.memberID, func(d *app.Directory) { maps.Copy(d.Segment, fields) })
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
