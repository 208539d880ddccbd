package b24sim

import (
	"fmt"
	"iter"
)

// The methods below stand for what people (or, with automation, robots and
// workflows) do in the portal's UI. They go through the same code as REST,
// so they fire the same events. Entity names: "deal", "contact", "company"
// (any case). Fields use the UPPER_CASE names of crm.*.update, user fields
// their UF_CRM_* names; enumeration values are list item IDs.

func (p *Portal) uiEntity(name string) (*entity, error) {
	e := p.crm.entityByName(name)
	if e == nil || e.ufEntityID == "" {
		return nil, fmt.Errorf("b24sim: unknown CRM entity %q", name)
	}
	return e, nil
}

// UserAdd creates a record as userID would in the UI and fires ON…ADD.
func (p *Portal) UserAdd(entity string, fields map[string]any, userID int, automation bool) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e, err := p.uiEntity(entity)
	if err != nil {
		return 0, err
	}
	r, err := p.crmAdd(e, Params(fields), writer{mode: modeUI, userID: userID, automation: automation})
	if err != nil {
		return 0, err
	}
	return int(r.id), nil
}

// UserUpdate edits a record as userID would in the UI. An edit that changes
// nothing saves nothing and fires nothing; a STAGE_ID of another pipeline is
// ignored unless CATEGORY_ID moves the deal there (then only
// ONCRMDEALMOVETOCATEGORY fires).
func (p *Portal) UserUpdate(entity string, id int, fields map[string]any, userID int, automation bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	e, err := p.uiEntity(entity)
	if err != nil {
		return err
	}
	_, err = p.crmUpdate(e, id, Params(fields), writer{mode: modeUI, userID: userID, automation: automation})
	return err
}

// UserDelete deletes a record and fires ON…DELETE.
func (p *Portal) UserDelete(entity string, id int, userID int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	e, err := p.uiEntity(entity)
	if err != nil {
		return err
	}
	return p.crmDelete(e, id, writer{mode: modeUI, userID: userID})
}

// UserMoveDeal moves a deal to another pipeline and stage (stageID "" = the
// pipeline's first stage), firing only ONCRMDEALMOVETOCATEGORY.
func (p *Portal) UserMoveDeal(id, categoryID int, stageID string, userID int) error {
	f := map[string]any{"CATEGORY_ID": categoryID}
	if stageID != "" {
		f["STAGE_ID"] = stageID
	}
	return p.UserUpdate("deal", id, f, userID, false)
}

// WinDeal moves a deal to the success stage of its pipeline (ONCRMDEALUPDATE).
func (p *Portal) WinDeal(id, userID int) error { return p.closeDeal(id, userID, 'S') }

// LoseDeal moves a deal to the first failure stage of its pipeline.
func (p *Portal) LoseDeal(id, userID int) error { return p.closeDeal(id, userID, 'F') }

func (p *Portal) closeDeal(id, userID int, sem byte) error {
	p.mu.Lock()
	r := p.crm.deal.get(id)
	if r == nil {
		p.mu.Unlock()
		return errNotFound()
	}
	cat := int(r.n[p.crm.deal.f("CATEGORY_ID").slot])
	stage := ""
	bestSort := 0
	for sid, st := range p.crm.stages {
		if st.category == cat && st.semantics == sem && (stage == "" || st.sort < bestSort) {
			stage, bestSort = sid, st.sort
		}
	}
	p.mu.Unlock()
	return p.UserUpdate("deal", id, map[string]any{"STAGE_ID": stage}, userID, false)
}

// AddPipeline creates a deal pipeline with stages C{n}:<stage> for each of
// stages (default NEW, PREPARATION, EXECUTING) plus C{n}:WON and C{n}:LOSE,
// and returns its id.
func (p *Portal) AddPipeline(name string, stages ...string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.crm.addPipeline(name, stages)
}

// Record renders a record as crm.*.get does (entity "deal", "contact",
// "company" or "product"); false when it does not exist.
func (p *Portal) Record(entity string, id int) (map[string]any, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e := p.crm.entityByName(entity)
	if e == nil {
		return nil, false
	}
	r := e.get(id)
	if r == nil {
		return nil, false
	}
	return p.crm.renderV2(e, r, selectAll), true
}

// Count is the number of records of an entity.
func (p *Portal) Count(entity string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e := p.crm.entityByName(entity); e != nil {
		return e.count
	}
	return 0
}

// Records yields every record of an entity in ID order, rendered as
// crm.*.get does. The portal is not locked while the caller handles a record.
func (p *Portal) Records(entity string) iter.Seq[map[string]any] {
	return func(yield func(map[string]any) bool) {
		for id := 1; ; id++ {
			p.mu.Lock()
			e := p.crm.entityByName(entity)
			if e == nil || id > e.lastID {
				p.mu.Unlock()
				return
			}
			r := e.get(id)
			var m map[string]any
			if r != nil {
				m = p.crm.renderV2(e, r, selectAll)
			}
			p.mu.Unlock()
			if m != nil && !yield(m) {
				return
			}
		}
	}
}

// ProductRows renders a deal's product rows as crm.deal.productrows.get does.
func (p *Portal) ProductRows(dealID int) []map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.crm.deal.get(dealID)
	if r == nil {
		return nil
	}
	var out []map[string]any
	for i := r.rowLo; i < r.rowLo+r.rowN; i++ {
		out = append(out, p.crm.renderRow(&p.crm.rows[i], false))
	}
	return out
}

// DealContacts lists every contact bound to a deal, in order (crm.deal.get
// shows only the first, as CONTACT_ID); nil when the deal does not exist.
func (p *Portal) DealContacts(id int) []int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.crm.deal.get(id)
	if r == nil {
		return nil
	}
	out := make([]int64, len(r.contacts))
	for i, c := range r.contacts {
		out[i] = int64(c)
	}
	return out
}
