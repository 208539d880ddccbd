package engine_test

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"segmentor/bitrix/b24sim"
	"segmentor/internal/await"
	"segmentor/internal/testkit"
	"segmentor/registry"
)

// locationConfig segments companies by where they are: the two
// voivodeships around Warsaw and Kraków, abroad, and the rest; contacts by
// whether they are in Poland (written as people write it).
const locationConfig = `{"schemes": [
 {"entity": "company", "segments": [
   {"key": "central", "name": "Central Poland", "when": {"fact": "region", "op": "in", "value": ["Mazowieckie", "Małopolskie"]},
    "set": {"label": true}},
   {"key": "abroad", "name": "Abroad", "when": {"all": [{"fact": "country", "op": "not_empty"},
      {"fact": "country", "op": "!=", "value": "PL"}]}, "set": {"label": true}}],
  "otherwise": {"key": "rest", "name": "Rest", "set": {"label": true}}},
 {"entity": "contact", "segments": [
   {"key": "home", "name": "In Poland", "when": {"fact": "country", "op": "=", "value": "Polska"}, "set": {"label": true}}],
  "otherwise": {"key": "away", "name": "Elsewhere", "set": {"label": true}}}]}`

// simAddress is an address as the oracle reads it from the simulator.
type simAddress struct {
	requisite int
	b24sim.Address
}

// expectedLocations is the oracle: for each client, the address the rules
// should see — its first requisite's, the legal one before the others — read
// straight from the simulator, independent of the app's mirror.
func expectedLocations(sim *b24sim.Portal, requisites int) map[[2]int]simAddress {
	rank := func(t int) int {
		return slices.Index([]int{b24sim.AddressLegal, b24sim.AddressRegistered, b24sim.AddressPhysical,
			b24sim.AddressMailing, b24sim.AddressShipping, b24sim.AddressBeneficiary}, t)
	}
	out := map[[2]int]simAddress{}
	for id := 1; id <= requisites; id++ {
		rq, ok := sim.RequisiteRecord(id)
		if !ok {
			continue
		}
		var owner [2]int
		fmt.Sscan(fmt.Sprint(rq["ENTITY_TYPE_ID"]), &owner[0])
		fmt.Sscan(fmt.Sprint(rq["ENTITY_ID"]), &owner[1])
		if _, done := out[owner]; done {
			continue // a later requisite: a branch
		}
		addrs := sim.AddressesOf(id)
		if len(addrs) == 0 {
			continue
		}
		slices.SortFunc(addrs, func(a, b b24sim.Address) int { return cmp.Compare(rank(a.TypeID), rank(b.TypeID)) })
		out[owner] = simAddress{id, addrs[0]}
	}
	return out
}

func polish(country string) bool { return country == "Poland" || country == "Polska" }

// The whole app against the simulated portal with real Redis: the
// backfill reads every requisite's address in bulk (crm.address.list, 50
// a page, 50 pages a request, the first page riding with the sync's first
// request), and a rule "region in (Mazowieckie, Małopolskie)" and one
// "country ≠ PL" classify the seeded companies — whose voivodeships are
// written "woj. mazowieckie", "MAZOWIECKIE", "Malopolskie" as much as
// "Mazowieckie" — as their addresses say; an older portal's company with
// only its own address fields too. Then an address changed in a card
// (ONCRMADDRESSREGISTER), a requisite deleted (ONCRMREQUISITEDELETE) and
// one added with its address arrive as events and move their companies.
func TestLocationRulesEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole app")
	}
	k := testkit.NewStack(t, testkit.StackOptions{Sim: b24sim.Options{Seed: 16, RatePerSecond: -1}})
	st := k.Sim.Seed(b24sim.GenOptions{Contacts: 60, Companies: 1500, Deals: 100, Requisites: true})
	// A company of an older portal: no requisites, its own legal address.
	oldStyle, err := k.Sim.UserAdd("company", map[string]any{"TITLE": "Stara Firma", "REG_ADDRESS_COUNTRY": "Polska",
		"REG_ADDRESS_PROVINCE": "MAZOWIECKIE", "REG_ADDRESS_CITY": "radom", "REG_ADDRESS_POSTAL_CODE": "26-600"}, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	k.Install(b24sim.InstallOptions{})
	k.WaitSetup()
	k.WaitIdle(time.Minute)
	k.Sim.ResetLog()
	k.Backfill(locationConfig, 3*time.Minute)
	k.WaitIdle(time.Minute)

	// What the backfill spent on addresses: their first page rode with
	// the sync's first request; the rest came 50 pages a request.
	addrRequests := 0
	for _, rq := range k.Sim.Requests() {
		if slices.ContainsFunc(rq.CommandNames, func(n string) bool { return strings.HasPrefix(n, "addresses.from") }) {
			addrRequests++
		}
	}
	want := (st.Addresses - 50 + 50*50 - 1) / (50 * 50) // the pages past the first, 50 to a request
	t.Logf("backfill: %d requisites, %d addresses read in %d requests of their own (%d HTTP requests in all)",
		st.Requisites, st.Addresses, addrRequests, len(k.Sim.Requests()))
	if st.Addresses <= 50 || addrRequests != want {
		t.Errorf("%d addresses read in %d requests of their own, want %d", st.Addresses, addrRequests, want)
	}

	keyOf := segmentKeys(k)
	segmentOf := func(entity string, id int) string {
		r, _ := k.Sim.Record(entity, id)
		return keyOf[entity][b24sim.Scalar(r["UF_CRM_SEGMENTOR"])]
	}
	expected := expectedLocations(k.Sim, st.Requisites)
	expect := func(a simAddress, ok bool) string {
		switch {
		case !ok || a.Country == "":
			return "rest"
		case !polish(a.Country):
			return "abroad"
		}
		if v, _ := registry.Voivodeship(a.Province); v == "Mazowieckie" || v == "Małopolskie" {
			return "central"
		}
		return "rest"
	}
	counts := map[string]int{}
	variants := 0
	for r := range k.Sim.Records("company") {
		id := int(testkit.Num(r["ID"]))
		if id == oldStyle {
			continue
		}
		a, ok := expected[[2]int{b24sim.OwnerCompany, id}]
		want := expect(a, ok)
		if got := segmentOf("company", id); got != want {
			t.Errorf("company %d at %+v: segment %q, want %q", id, a.Address, got, want)
		}
		counts[want]++
		if want == "central" && a.Province != "Mazowieckie" && a.Province != "Małopolskie" {
			variants++
		}
	}
	t.Logf("companies by segment %v; %d central ones with their voivodeship spelt otherwise", counts, variants)
	if counts["central"] < 50 || counts["abroad"] < 50 || counts["rest"] < 50 || variants == 0 {
		t.Errorf("the seed does not test much: %v, %d variants", counts, variants)
	}
	if got := segmentOf("company", oldStyle); got != "central" {
		t.Errorf("the company with only its own address fields in Mazowieckie: %q", got)
	}
	for r := range k.Sim.Records("contact") {
		id := int(testkit.Num(r["ID"]))
		a, ok := expected[[2]int{b24sim.OwnerContact, id}]
		want := "away"
		if ok && polish(a.Country) {
			want = "home"
		}
		if got := segmentOf("contact", id); got != want {
			t.Errorf("contact %d at %+v: segment %q, want %q", id, a.Address, got, want)
		}
	}

	// The editor offers the portal's values; the card tab tells why.
	admin := k.Login(1)
	r := k.Do("GET", "/api/v1/reference/locations", admin, nil)
	var locs map[string]map[string][]struct {
		ID, Name string
		Count    int
	}
	if err := json.Unmarshal(r.Raw, &locs); err != nil || r.Status != 200 {
		t.Fatalf("locations: %d %s", r.Status, r.Raw)
	}
	regions := map[string]int{}
	for _, v := range locs["company"]["region"] {
		regions[v.ID] = v.Count
	}
	if regions["Mazowieckie"] == 0 || regions["Małopolskie"] == 0 || regions["mazowieckie"] != 0 || regions["woj. mazowieckie"] != 0 {
		t.Errorf("regions offered: %v", regions)
	}
	if c := locs["company"]["country"]; len(c) == 0 || c[0].ID != "PL" || c[0].Name != "Poland (PL)" {
		t.Errorf("countries offered: %+v", c)
	}
	var central, restPL int
	for id := range 1500 {
		a, ok := expected[[2]int{b24sim.OwnerCompany, id + 1}]
		switch {
		case central == 0 && expect(a, ok) == "central" && a.TypeID == b24sim.AddressLegal:
			central = id + 1
		case restPL == 0 && expect(a, ok) == "rest" && ok && polish(a.Country) && a.TypeID == b24sim.AddressLegal:
			restPL = id + 1
		}
	}
	if central == 0 || restPL == 0 {
		t.Fatal("no company to move")
	}
	why := k.Do("GET", fmt.Sprintf("/api/v1/records/company/%d", central), admin, nil)
	if !strings.Contains(string(why.Raw), "Region (voivodeship, state): ") || !strings.Contains(string(why.Raw), "is one of Mazowieckie, Małopolskie") {
		t.Errorf("the card tab of company %d does not tell its region: %s", central, why.Raw)
	}

	// Live: an address changed in the card moves its company in...
	k.Sim.ResetLog()
	a := expected[[2]int{b24sim.OwnerCompany, restPL}]
	k.Call("crm.address.update", map[string]any{"fields": map[string]any{"TYPE_ID": a.TypeID, "ENTITY_TYPE_ID": 8,
		"ENTITY_ID": a.requisite, "PROVINCE": "woj. małopolskie"}}, nil)
	await.That(t, time.Minute, "the company whose address moved to Małopolska to turn central", func() bool {
		return segmentOf("company", restPL) == "central"
	})
	k.WaitIdle(time.Minute)
	reads := 0
	for _, rq := range k.Sim.Requests() {
		if slices.ContainsFunc(rq.CommandNames, func(n string) bool { return strings.HasPrefix(n, "addr") }) {
			reads++
		}
	}
	if reads != 1 {
		t.Errorf("the address event cost %d re-reads of addresses, want 1", reads)
	}
	// ... a requisite deleted takes its addresses and the company out ...
	b := expected[[2]int{b24sim.OwnerCompany, central}]
	if err := k.Sim.DeleteRequisite(b.requisite, 2); err != nil {
		t.Fatal(err)
	}
	await.That(t, time.Minute, "the company without its requisite to leave central", func() bool {
		return segmentOf("company", central) == "rest" || segmentOf("company", central) == "abroad"
	})
	// ... and one added with an address in Germany puts it abroad.
	var rq int
	k.Call("crm.requisite.add", map[string]any{"fields": map[string]any{"ENTITY_TYPE_ID": 4, "ENTITY_ID": central, "PRESET_ID": 1,
		"NAME": "GmbH"}}, &rq)
	k.Call("crm.address.add", map[string]any{"fields": map[string]any{"TYPE_ID": 6, "ENTITY_TYPE_ID": 8, "ENTITY_ID": rq,
		"COUNTRY": "Deutschland", "CITY": "Berlin", "PROVINCE": "Berlin", "POSTAL_CODE": "10115"}}, nil)
	await.That(t, time.Minute, "the company with a German address to turn abroad", func() bool {
		return segmentOf("company", central) == "abroad"
	})
	if st := k.Sim.EventStats(); st.Failed != 0 {
		t.Errorf("event deliveries: %+v", st)
	}
}

// segmentKeys maps each client entity's Segment field items to segment
// keys.
func segmentKeys(k *testkit.Stack) map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, e := range []string{"contact", "company"} {
		var items []struct {
			LIST []struct{ ID, XML_ID string }
		}
		k.Call("crm."+e+".userfield.list", map[string]any{"filter": map[string]any{"FIELD_NAME": "UF_CRM_SEGMENTOR"}}, &items)
		out[e] = map[string]string{}
		for _, it := range items[0].LIST {
			out[e][it.ID] = it.XML_ID
		}
	}
	return out
}
