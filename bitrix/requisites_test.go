package bitrix_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"segmentor/bitrix"
	"segmentor/bitrix/b24sim"
)

// A keyset scan of crm.requisite.list
// (api-reference/crm/requisites/universal/crm-requisite-list.md) reads
// every requisite once in ID order; ListAll reads every address
// (api-reference/crm/requisites/addresses/crm-address-list.md) past the
// first 50-row page.
func TestSimRequisitesAndAddresses(t *testing.T) {
	t.Parallel()
	e := newSim(t, b24sim.Options{RatePerSecond: -1, Seed: 12})
	st := e.sim.Seed(b24sim.GenOptions{Contacts: 40, Companies: 120, Requisites: true})
	p := e.newC(bitrix.UnlimitedProfile()).Portal(e.sim.MemberID())
	ctx := context.Background()

	var got []bitrix.Requisite
	_, err := p.Scan(ctx, bitrix.ScanOptions{List: bitrix.Requisites.Lister(nil)}, func(pg *bitrix.ScanPage) error {
		rows, err := bitrix.DecodeRows[bitrix.Requisite](pg)
		got = append(got, rows...)
		return err
	})
	if err != nil || len(got) != st.Requisites {
		t.Fatalf("scanned %d of %d requisites: %v", len(got), st.Requisites, err)
	}
	polish := 0
	for i, r := range got {
		want, _ := e.sim.RequisiteRecord(int(r.ID))
		if i > 0 && r.ID <= got[i-1].ID {
			t.Fatalf("requisite %d after %d", r.ID, got[i-1].ID)
		}
		if fmt.Sprint(r.OwnerID) != want["ENTITY_ID"] || fmt.Sprint(r.OwnerType) != want["ENTITY_TYPE_ID"] || !bool(r.Active) {
			t.Errorf("row %+v, want %v", r, want)
		}
		if v, _ := want["RQ_VAT_ID"].(string); r.VATID != v {
			t.Errorf("RQ_VAT_ID %q, want %q", r.VATID, v)
		}
		if r.OwnerType == 4 && r.INN == "" && len(r.VATID) >= 10 && r.VATID[0] != 'D' && r.VATID[0] != 'C' && r.VATID[0] != 'A' && r.VATID[0] != 'L' {
			polish++
		}
	}
	if polish == 0 {
		t.Error("no Polish company")
	}

	pages, _, err := p.ListAll(ctx, []bitrix.ListCommand{bitrix.Addresses.All("addr")})
	if err != nil {
		t.Fatal(err)
	}
	var addrs []bitrix.Address
	if err := pages.Decode("addr", &addrs); err != nil {
		t.Fatal(err)
	}
	if len(addrs) != st.Addresses || st.Addresses <= 50 {
		t.Fatalf("read %d of %d addresses", len(addrs), st.Addresses)
	}
	byReq := map[bitrix.ID]bitrix.Requisite{}
	for _, r := range got {
		byReq[r.ID] = r
	}
	for _, a := range addrs {
		r, ok := byReq[a.EntityID]
		if !ok || a.EntityType != bitrix.AddressOfRequisite || a.AnchorType != r.OwnerType || a.AnchorID != r.OwnerID || a.City == "" {
			t.Errorf("address %+v of requisite %+v", a, r)
		}
	}
}

// crm.duplicate.findbycomm
// (api-reference/crm/duplicates/crm-duplicate-find-by-comm.md) reads 20
// values a call: 45 values go in 3 calls in one batch, and the values of
// the calls that found something are asked again one by one to say which
// matched what.
func TestSimFindByComm(t *testing.T) {
	t.Parallel()
	e := newSim(t, b24sim.Options{RatePerSecond: -1, Seed: 13})
	e.sim.Seed(b24sim.GenOptions{Contacts: 10, Companies: 5})
	for _, c := range []struct {
		entity string
		id     int
		phone  string
	}{{"contact", 1, "+48 600 100 200"}, {"contact", 2, "+48 600 100 300"}, {"company", 3, "48600100300"}, {"contact", 9, "601 000 045"}} {
		if err := e.sim.AddCommunication(c.entity, c.id, "PHONE", c.phone); err != nil {
			t.Fatal(err)
		}
	}
	p := e.newC(bitrix.UnlimitedProfile()).Portal(e.sim.MemberID())
	var values []string
	for i := range 45 {
		values = append(values, fmt.Sprintf("+49 170 000 %03d", i))
	}
	values[3], values[44] = "48-600-100-200", "601000045"
	values = append(values, "+48600100300 ext. 7", values[3])
	before := e.sim.Stats().HTTPRequests
	got, err := p.FindByComm(context.Background(), bitrix.CommPhone, values)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("matched %v", got)
	}
	if m := got["48-600-100-200"]; !slices.Equal(m.Contacts, []bitrix.ID{1}) || m.Companies != nil || m.Ambiguous() {
		t.Errorf("48-600-100-200 = %+v", m)
	}
	if m := got["+48600100300 ext. 7"]; !slices.Equal(m.Contacts, []bitrix.ID{2}) || !slices.Equal(m.Companies, []bitrix.ID{3}) || !m.Ambiguous() {
		t.Errorf("+48600100300 = %+v", m)
	}
	if m := got["601000045"]; !slices.Equal(m.Contacts, []bitrix.ID{9}) {
		t.Errorf("601000045 = %+v", m)
	}
	// 46 distinct values: 3 calls in one batch, then the 26 values of the
	// two calls that found something, one per call: 1 batch.
	if reqs := e.sim.Stats().HTTPRequests - before; reqs != 2 {
		t.Errorf("%d requests, want 2", reqs)
	}
}
