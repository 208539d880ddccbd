package engine

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"segmentor/app"
	"segmentor/app/segment"
	"segmentor/bitrix"
	"segmentor/registry"
)

// Company registry enrichment in the engine. The tax IDs come from the
// companies' requisites: all of them read by ReadTaxIDs (when lookups are
// turned on, and nightly), a requisite's change re-read with its addresses
// (applyRequisites). Enrich then asks the registry about each company due
// and classifies the companies whose registry facts changed. Lookups never
// block classification: a company the registry has not answered for yet
// has no registry facts, like one without a NIP.

// DefaultRegistryRefresh is how long a registry answer stands before the
// company is looked up again.
const DefaultRegistryRefresh = 30 * 24 * time.Hour

// companyTaxIDs picks each company's tax ID from its requisites: the first
// (lowest id) whose VAT ID is meant as a Polish NIP, valid or not, as its
// location comes from its first requisite. rows are crm.requisite.list
// rows; contacts' requisites are passed over.
func companyTaxIDs(rows []json.RawMessage, into map[int64]app.TaxID) error {
	for _, raw := range rows {
		var rq bitrix.Requisite
		if err := json.Unmarshal(raw, &rq); err != nil {
			return fmt.Errorf("requisite: %w", err)
		}
		if int(rq.OwnerType) != bitrix.EntityCompany.TypeID() || rq.OwnerID <= 0 || !registry.IsNIPCandidate(rq.VATID) {
			continue
		}
		id := int64(rq.OwnerID)
		if have, ok := into[id]; !ok || have.Value == "" || int64(rq.ID) < have.Requisite {
			into[id] = app.TaxID{Value: rq.VATID, Requisite: int64(rq.ID)}
		}
	}
	return nil
}

// ReadTaxIDs reads every company's requisites (a keyset scan, 50 pages a
// request) and records each company's tax ID; the mirror's entries of
// companies without one are removed. It returns the companies whose tax
// ID changed and the requests sent.
func (c *Classifier) ReadTaxIDs(ctx context.Context, memberID string) ([]int64, int, error) {
	p := c.Bitrix.Portal(memberID)
	ids := map[int64]app.TaxID{}
	ps := &packScan{p: p, now: c.now}
	ps.chains = []*chain{{name: "rq", est: -1, greedy: true,
		list: bitrix.Requisites.Lister(map[string]any{"ENTITY_TYPE_ID": bitrix.EntityCompany.TypeID()}),
		page: func(rows []json.RawMessage) error { return companyTaxIDs(rows, ids) }}}
	if err := ps.run(ctx); err != nil {
		return nil, ps.requests, fmt.Errorf("read tax IDs of %s: %w", memberID, err)
	}
	changed, err := c.Mirror.PutTaxIDs(ctx, memberID, ids, true)
	return changed, ps.requests, err
}

// rereadTaxIDs updates the tax IDs of the companies whose requisites
// changed (requisites is what crm.requisite.list said of the changed
// requisites that still exist): a company's entry comes from its first
// requisite with a NIP, so when the requisite it came from was deleted or
// lost its NIP, the company's remaining requisites are read (one more
// request, rarely needed). It returns the companies whose tax ID changed.
func (c *Classifier) rereadTaxIDs(ctx context.Context, memberID string, changedIDs []int64, requisites []json.RawMessage, owners map[int64]app.ClientRef) ([]int64, error) {
	if len(changedIDs) == 0 {
		return nil, nil
	}
	fresh := map[int64]app.TaxID{}
	if err := companyTaxIDs(requisites, fresh); err != nil {
		return nil, err
	}
	companies := map[int64]bool{}
	for id := range fresh {
		companies[id] = true
	}
	for _, ref := range owners {
		if ref.Entity == segment.EntityCompany {
			companies[ref.ID] = true
		}
	}
	if len(companies) == 0 {
		return nil, nil
	}
	ids := slices.Sorted(maps.Keys(companies))
	have, err := c.Mirror.RegistryEntries(ctx, memberID, ids)
	if err != nil {
		return nil, err
	}
	put := map[int64]app.TaxID{}
	var reread []int64
	for _, id := range ids {
		e, f := have[id], fresh[id]
		switch {
		case e != nil && slices.Contains(changedIDs, e.Requisite) && (f.Value == "" || f.Requisite != e.Requisite):
			reread = append(reread, id) // its NIP's requisite is gone or changed: which one is first now?
		case f.Value != "" && (e == nil || f.Requisite <= e.Requisite || e.TaxID == ""):
			put[id] = f
		}
	}
	if len(reread) > 0 {
		p := c.Bitrix.Portal(memberID)
		cmd := bitrix.Requisites.OfCompanies("rq", reread)
		pages, _, err := p.ListAll(ctx, []bitrix.ListCommand{cmd})
		if err != nil {
			return nil, fmt.Errorf("re-read requisites of %s: %w", memberID, c.reader().refused(ctx, p, cmd.Method, err))
		}
		again := map[int64]app.TaxID{}
		if err := companyTaxIDs(pages[cmd.Name], again); err != nil {
			return nil, err
		}
		for _, id := range reread {
			put[id] = again[id] // "" when none has a NIP now: the entry goes
		}
	}
	return c.Mirror.PutTaxIDs(ctx, memberID, put, false)
}

// registryOn reports whether the portal has registry lookups turned on;
// settings that cannot be read count as off (logged): the registry is
// never worth failing a change.
func (c *Classifier) registryOn(ctx context.Context, memberID string) bool {
	rs, err := c.Store.RegistrySettings(ctx, memberID)
	if err != nil {
		c.log().Warn("registry settings unreadable", "member_id", memberID, "error", err)
		return false
	}
	return rs.Enabled
}

// EnrichOptions tune one Enrich run.
type EnrichOptions struct {
	// Refresh is how long an answer stands; default DefaultRegistryRefresh.
	Refresh time.Duration
	// MaxLookups bounds the companies looked up in one run, so that a job
	// gives its worker back now and then; 0 for no bound.
	MaxLookups int
	// WriteBack copies registry values into company fields (value name,
	// app.WriteBackValues → field).
	WriteBack map[string]string
	// RetryAfter is how long after an unavailable registry the lookups go
	// on; default DefaultRegistryRetry.
	RetryAfter time.Duration
}

// EnrichStats is what an Enrich run did.
type EnrichStats struct {
	Due         int `json:"due"`         // companies due for a lookup when the run began
	Asked       int `json:"asked"`       // looked up (answered from the shared cache or the registry)
	Found       int `json:"found"`       // … and found
	NotFound    int `json:"not_found"`   // … and not in the registry
	Unavailable int `json:"unavailable"` // … without an answer
	Changed     int `json:"changed"`     // companies whose registry facts changed
	Written     int `json:"written"`     // companies whose fields were written back
	Requests    int `json:"requests"`    // REST requests of the write-back
	// More says companies are still due: the run stopped at MaxLookups,
	// at the registry's budget or because the registry is unavailable;
	// RetryIn is when to go on.
	More    bool          `json:"more"`
	RetryIn time.Duration `json:"retry_in"`
}

// DefaultRegistryRetry is how long after an unavailable registry the
// lookups go on (each lookup has already been tried a few times, with
// backoff, by registry.Cached).
const DefaultRegistryRetry = 10 * time.Minute

// Enrich looks up every company due (app.RegistryEntry.Due) through
// provider, stores the answers, writes back the chosen fields and
// classifies the companies whose registry facts changed when the rules
// read them. An unavailable registry stops the run (More, RetryIn): a
// company never answered for is marked unavailable, one answered before
// keeps its answer. A refused key stops it with registry.ErrUnauthorized.
func (c *Classifier) Enrich(ctx context.Context, memberID string, provider registry.Provider, opts EnrichOptions) (EnrichStats, error) {
	var st EnrichStats
	refresh := cmp.Or(opts.Refresh, DefaultRegistryRefresh)
	now := c.now()
	type due struct {
		id int64
		e  *app.RegistryEntry
	}
	var todo []due
	err := c.Mirror.EachRegistryEntry(ctx, memberID, func(id int64, e *app.RegistryEntry) error {
		if e.Due(now, refresh) {
			todo = append(todo, due{id, e})
		}
		return nil
	})
	if err != nil {
		return st, err
	}
	// Never asked first, then the oldest answers.
	slices.SortFunc(todo, func(a, b due) int {
		return cmp.Or(cmp.Compare(a.e.Checked, b.e.Checked), cmp.Compare(a.id, b.id))
	})
	st.Due = len(todo)
	var changed []int64
	answers := map[int64]*app.RegistryEntry{}
	for i, d := range todo {
		if opts.MaxLookups > 0 && i >= opts.MaxLookups {
			st.More = true
			break
		}
		got, lerr := provider.Lookup(ctx, d.e.NIP)
		if ctx.Err() != nil {
			return st, ctx.Err()
		}
		next := *d.e
		next.Checked = c.now().Unix()
		switch {
		case lerr == nil:
			next.State, next.Name, next.REGON, next.Facts = app.RegistryFound, got.Name, got.REGON, segment.RegistryFactsOf(got)
			st.Found++
		case errors.Is(lerr, registry.ErrNotFound):
			next.State, next.Name, next.REGON, next.Facts = app.RegistryNotFound, "", "", nil
			st.NotFound++
		case errors.Is(lerr, registry.ErrInvalidTaxID):
			next.State, next.NIP = app.RegistryInvalid, ""
		case errors.Is(lerr, registry.ErrUnauthorized):
			c.finishEnrich(ctx, memberID, changed, answers, opts, &st)
			return st, fmt.Errorf("registry lookups for %s: %w", memberID, lerr)
		case errors.Is(lerr, registry.ErrUnavailable):
			st.Unavailable++
			st.More, st.RetryIn = true, cmp.Or(opts.RetryAfter, DefaultRegistryRetry)
			var rl *registry.RateLimitedError
			if errors.As(lerr, &rl) {
				st.Unavailable-- // the budget, not the registry: nothing to mark
				st.RetryIn = max(rl.RetryIn, time.Second)
			} else if d.e.State == app.RegistryPending {
				next.State = app.RegistryUnavailable
				if _, err := c.Mirror.PutRegistryAnswer(ctx, memberID, d.id, next); err != nil {
					return st, err
				}
			}
			c.log().Info("registry lookups paused", "member_id", memberID, "asked", st.Asked, "due", st.Due, "retry_in", st.RetryIn, "cause", lerr)
			return st, c.finishEnrich(ctx, memberID, changed, answers, opts, &st)
		default:
			return st, fmt.Errorf("registry lookup for %s company %d: %w", memberID, d.id, lerr)
		}
		st.Asked++
		stored, err := c.Mirror.PutRegistryAnswer(ctx, memberID, d.id, next)
		if err != nil {
			return st, err
		}
		if stored && registryChanged(d.e, &next) {
			changed = append(changed, d.id)
			answers[d.id] = &next
		}
	}
	return st, c.finishEnrich(ctx, memberID, changed, answers, opts, &st)
}

// registryChanged reports whether an answer changes what rules or
// written-back fields read.
func registryChanged(before, after *app.RegistryEntry) bool {
	if before.Name != after.Name || before.REGON != after.REGON || (before.Facts == nil) != (after.Facts == nil) {
		return true
	}
	if before.Facts == nil {
		return false
	}
	b, a := *before.Facts, *after.Facts
	return b.PKD != a.PKD || b.PKDSection != a.PKDSection || b.Region != a.Region || b.LegalForm != a.LegalForm ||
		b.Status != a.Status || !b.Registered.Equal(a.Registered)
}

// finishEnrich writes back and classifies the companies whose registry
// facts changed.
func (c *Classifier) finishEnrich(ctx context.Context, memberID string, changed []int64, answers map[int64]*app.RegistryEntry, opts EnrichOptions, st *EnrichStats) error {
	st.Changed = len(changed)
	if len(changed) == 0 {
		return nil
	}
	if len(opts.WriteBack) > 0 {
		n, requests, err := c.writeRegistryFields(ctx, memberID, changed, answers, opts.WriteBack)
		st.Written += n
		st.Requests += requests
		if err != nil {
			return err
		}
	}
	return c.ReclassifyCompanies(ctx, memberID, changed, (*segment.Rules).UsesRegistry)
}

// ReclassifyCompanies classifies the companies given from the mirror,
// with their deals when those read client_segment, MaxChange at a time,
// each chunk under the portal's changes lock; nothing when uses says the
// rules do not read what changed.
func (c *Classifier) ReclassifyCompanies(ctx context.Context, memberID string, ids []int64, uses func(*segment.Rules) bool) error {
	pr, err := c.rulesFor(ctx, memberID)
	if err != nil || pr == nil || !uses(pr.rules) || !pr.rules.Has(segment.EntityCompany) && !pr.rules.UsesClientSegment() {
		return err
	}
	for part := range slices.Chunk(ids, MaxChange) {
		if err := c.reclassifyCompanies(ctx, memberID, pr, part); err != nil {
			return err
		}
	}
	return nil
}

func (c *Classifier) reclassifyCompanies(ctx context.Context, memberID string, pr *portalRules, ids []int64) error {
	if c.Exclusive != nil {
		release, err := c.Exclusive(ctx, memberID)
		if err != nil {
			return err
		}
		defer release()
	}
	if err := c.settleBeforeChange(ctx, memberID); err != nil {
		return err
	}
	r, err := c.newRun(ctx, memberID, pr)
	if err != nil {
		return err
	}
	if err := c.ensureRFM(ctx, r); err != nil {
		return err
	}
	x := &changeRun{c: c, ch: Change{MemberID: memberID, Entity: string(segment.EntityCompany), IDs: ids}, entity: segment.EntityCompany, r: r}
	for _, id := range ids {
		x.addClient(app.ClientRef{Entity: segment.EntityCompany, ID: id})
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

// WriteRegistryFields copies the chosen registry values of every company
// the registry answered for into their fields (the admin chose other
// fields): 50 companies a request. It returns how many were written.
func (c *Classifier) WriteRegistryFields(ctx context.Context, memberID string, fields map[string]string) (int, error) {
	if len(fields) == 0 {
		return 0, nil
	}
	answers := map[int64]*app.RegistryEntry{}
	var ids []int64
	err := c.Mirror.EachRegistryEntry(ctx, memberID, func(id int64, e *app.RegistryEntry) error {
		if e.State == app.RegistryFound {
			answers[id] = e
			ids = append(ids, id)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	slices.Sort(ids)
	n, _, err := c.writeRegistryFields(ctx, memberID, ids, answers, fields)
	return n, err
}

// writeRegistryFields copies the chosen registry values of the companies
// given into their fields, 50 companies a request. A company the registry
// does not know gets its fields cleared: what they said is no longer so.
func (c *Classifier) writeRegistryFields(ctx context.Context, memberID string, ids []int64, answers map[int64]*app.RegistryEntry, fields map[string]string) (int, int, error) {
	var cmds []bitrix.Command
	for _, id := range ids {
		e := answers[id]
		if e == nil {
			continue
		}
		set := map[string]any{}
		for value, field := range fields {
			set[field] = registryValue(e, value)
		}
		cmds = append(cmds, bitrix.Command{Name: "co" + strconv.FormatInt(id, 10), Method: "crm.company.update",
			Params: map[string]any{"id": id, "fields": set}})
	}
	if len(cmds) == 0 {
		return 0, 0, nil
	}
	p := c.Bitrix.Portal(memberID)
	res, err := p.BatchAll(ctx, cmds)
	requests := (len(cmds) + bitrix.MaxBatch - 1) / bitrix.MaxBatch
	if err != nil {
		return 0, requests, fmt.Errorf("write registry fields of %s: %w", memberID, err)
	}
	written := 0
	for _, cmd := range cmds {
		if err := res.Err(cmd.Name); err != nil {
			c.log().Warn("registry field write refused", "member_id", memberID, "command", cmd.Name, "error", err)
			continue
		}
		written++
	}
	return written, requests, nil
}

// registryValue is a registry value as written into a company field: text
// as people read it in Polish, the registry's language.
func registryValue(e *app.RegistryEntry, value string) string {
	f := e.Facts
	if f == nil {
		f = &segment.RegistryFacts{}
	}
	switch value {
	case "name":
		return e.Name
	case "regon":
		return e.REGON
	case "pkd":
		return f.PKD
	case "pkd_section":
		return f.PKDSection
	case "region":
		return f.Region
	case "legal_form":
		return f.LegalForm
	case "status":
		if f.Status == "" {
			return ""
		}
		return segment.WordsIn(segment.PL).Values[segment.FactRegistryStatus][string(f.Status)]
	case "registered":
		if f.Registered.IsZero() {
			return ""
		}
		return f.Registered.Format(time.DateOnly)
	}
	return ""
}
