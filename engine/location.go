package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	"segmentor/app"
	"segmentor/app/segment"
	"segmentor/bitrix"
)

// RequisiteEntity is the Change.Entity of requisites: their events
// (ONCRMREQUISITEADD, UPDATE, DELETE: the requisite's ID) and their
// addresses' (ONCRMADDRESSREGISTER, UNREGISTER: the address's requisite).
// Their changes refresh the mirror's addresses and reclassify the clients
// whose location they change.
//
// Nothing else tells of an address: a change that no event reaches (an
// event lost, or an address changed where Bitrix24 sends none) is read by
// the nightly recompute's full sync.
const RequisiteEntity = "requisite"

// mirrorAddress converts a crm.address.list row; false for an address of
// anything but a contact's or company's requisite (a lead's).
func mirrorAddress(a bitrix.Address) (app.Address, bool) {
	var e segment.Entity
	switch a.AnchorType {
	case bitrix.ID(bitrix.EntityContact.TypeID()):
		e = segment.EntityContact
	case bitrix.ID(bitrix.EntityCompany.TypeID()):
		e = segment.EntityCompany
	default:
		return app.Address{}, false
	}
	if a.EntityType != bitrix.AddressOfRequisite || a.EntityID <= 0 || a.AnchorID <= 0 {
		return app.Address{}, false
	}
	return app.Address{Requisite: int64(a.EntityID), Type: int(a.TypeID), Owner: app.ClientRef{Entity: e, ID: int64(a.AnchorID)},
		Location: segment.NewLocation(a.Country, a.CountryCode, a.Province, a.Region, a.City, a.PostalCode)}, true
}

// decodeAddresses converts address rows; a row that does not decode is
// skipped (one odd row must not stop the rest).
func (rd *reader) decodeAddresses(memberID string, rows []json.RawMessage) []app.Address {
	var out []app.Address
	for _, raw := range rows {
		var a bitrix.Address
		if err := json.Unmarshal(raw, &a); err != nil {
			rd.log.Warn("address row skipped", "portal", memberID, "error", err)
			continue
		}
		if ma, ok := mirrorAddress(a); ok {
			out = append(out, ma)
		}
	}
	return out
}

// requisitesPerList is how many requisites' addresses one list command
// asks for: at most six each, about one and a third in practice, so a
// command's first page of 50 holds them nearly always.
const requisitesPerList = 25

// rereadAddresses reads the addresses of the requisites given: one
// request for a change's up to MaxChange requisites (ten list commands),
// and one more in the rare case a command's addresses pass a page.
// With requisites, the requisites themselves are read in the same request
// too (their tax IDs, for the company registry), 50 to a command.
func (rd *reader) rereadAddresses(ctx context.Context, memberID string, ids []int64, requisites bool) ([]app.Address, []json.RawMessage, error) {
	if len(ids) == 0 {
		return nil, nil, nil
	}
	p := rd.bitrix.Portal(memberID)
	var cmds, rqs []bitrix.ListCommand
	for chunk := range slices.Chunk(ids, requisitesPerList) {
		cmds = append(cmds, bitrix.Addresses.OfRequisites("addr"+strconv.Itoa(len(cmds)), chunk))
	}
	if requisites {
		for chunk := range slices.Chunk(ids, bitrix.PageSize) {
			rqs = append(rqs, bitrix.Requisites.ByID("rq"+strconv.Itoa(len(rqs)), chunk))
		}
	}
	pages, _, err := p.ListAll(ctx, append(slices.Clone(cmds), rqs...))
	if err != nil {
		return nil, nil, fmt.Errorf("re-read addresses of %s: %w", memberID, rd.refused(ctx, p, cmds[0].Method, err))
	}
	var out []app.Address
	for _, c := range cmds {
		out = append(out, rd.decodeAddresses(memberID, pages[c.Name])...)
	}
	var rows []json.RawMessage
	for _, c := range rqs {
		rows = append(rows, pages[c.Name]...)
	}
	return out, rows, nil
}

// applyRequisites handles a burst of requisite and address changes: the
// requisites' addresses are re-read in one request (a deleted requisite
// took its addresses with it, and the mirror's index knows whose it was),
// the mirror's addresses updated, and, when the rules read location facts,
// the clients whose location changed classified, with their deals when
// those read client_segment.
func (c *Classifier) applyRequisites(ctx context.Context, ch Change, pr *portalRules) error {
	if err := c.settleBeforeChange(ctx, ch.MemberID); err != nil {
		return err
	}
	var live []int64
	for _, id := range ch.IDs {
		if !slices.Contains(ch.Deleted, id) {
			live = append(live, id)
		}
	}
	regOn := c.registryOn(ctx, ch.MemberID)
	fresh, requisites, err := c.reader().rereadAddresses(ctx, ch.MemberID, live, regOn)
	if err != nil {
		return err
	}
	all := append(slices.Clone(ch.IDs), ch.Deleted...)
	owners, err := c.Mirror.RequisiteOwners(ctx, ch.MemberID, all)
	if err != nil {
		return err
	}
	touched, err := c.Mirror.PutRequisites(ctx, ch.MemberID, all, fresh)
	if err != nil {
		return err
	}
	if !pr.rules.UsesLocation() {
		touched = nil
	}
	if regOn {
		// A company whose tax ID changed has no registry facts until the
		// registry answers for the new one (RegistryChanged queues that).
		nips, err := c.rereadTaxIDs(ctx, ch.MemberID, all, requisites, owners)
		if err != nil {
			return err
		}
		if len(nips) > 0 && c.RegistryChanged != nil {
			c.RegistryChanged(ctx, ch.MemberID)
		}
		if pr.rules.UsesRegistry() {
			for _, id := range nips {
				touched = append(touched, app.ClientRef{Entity: segment.EntityCompany, ID: id})
			}
		}
	}
	if len(touched) == 0 {
		return nil
	}
	r, err := c.newRun(ctx, ch.MemberID, pr)
	if err != nil {
		return err
	}
	if err := c.ensureRFM(ctx, r); err != nil {
		return err
	}
	x := &changeRun{c: c, ch: ch, r: r}
	for _, ref := range touched {
		x.addClient(ref)
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

// storeAddresses replaces the mirror's addresses with those the sync read
// of the clients it read.
func (x *syncRun) storeAddresses(ctx context.Context, rows []json.RawMessage) error {
	var kept []app.Address
	for _, a := range x.c.reader().decodeAddresses(x.memberID, rows) {
		if x.read(a.Owner.Entity, a.Owner.ID) {
			kept = append(kept, a)
		}
	}
	x.st.Addresses = len(kept)
	return x.c.Mirror.ReplaceAddresses(ctx, x.memberID, kept)
}
