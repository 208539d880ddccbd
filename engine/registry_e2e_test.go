package engine_test

import (
	"context"
	"fmt"
	"maps"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"

	"segmentor/app"
	"segmentor/bitrix/b24sim"
	"segmentor/internal/await"
	"segmentor/internal/testkit"
	"segmentor/internal/wiring"
	"segmentor/jobs"
	"segmentor/registry"
	"segmentor/registry/gus"
	"segmentor/registry/gussim"
)

// registryConfig segments companies by what the registry says of them.
const registryConfig = `{"schemes": [
 {"entity": "company", "segments": [
   {"key": "closed", "name": "Closed", "when": {"fact": "registry:status", "op": "=", "value": "closed"}, "set": {"label": true}},
   {"key": "retail", "name": "Retail", "when": {"fact": "registry:pkd_section", "op": "in", "value": ["G"]}, "set": {"label": true}},
   {"key": "young", "name": "Young", "when": {"fact": "registry:age_years", "op": "<", "value": 5}, "set": {"label": true}},
   {"key": "unknown", "name": "Not in the registry", "when": {"fact": "registry:status", "op": "empty"}, "set": {"label": true}}],
  "otherwise": {"key": "other", "name": "Other", "set": {"label": true}}}]}`

// registryPlan is what the test puts in the simulated registry for a
// company, by its id: closed, a shop, a young builder, or nothing (not
// found).
func registryPlan(id int, nip string, now time.Time) (registry.Company, string, bool) {
	c := registry.Company{TaxID: nip, Name: fmt.Sprintf("Firma %d sp. z o.o.", id), LegalForm: "sp. z o.o.",
		Region: "Mazowieckie", Status: registry.StatusActive, Registered: time.Date(2008, 3, 3, 0, 0, 0, 0, time.UTC)}
	switch id % 4 {
	case 0:
		c.PKD, c.Status = "47.11.Z", registry.StatusClosed
		return c, "closed", true
	case 1:
		c.PKD = "47.11.Z"
		return c, "retail", true
	case 2:
		c.PKD, c.Registered = "41.20.Z", now.AddDate(-2, 0, 0).Truncate(24*time.Hour)
		return c, "young", true
	}
	return c, "unknown", false
}

// validNIP makes the n-th valid NIP of a series no generator uses.
func validNIP(n int) string {
	for i := n; ; i += 1000 {
		first := fmt.Sprintf("999%06d", i)
		if d, ok := registry.NIPCheckDigit(first); ok {
			return first + string(d)
		}
	}
}

// The whole app with the company registry: a backfill classifies the
// companies before lookups are on (none has registry facts); an admin
// turns them on; every company's requisites are read in bulk, the valid
// NIPs looked up in the simulated GUS registry over real HTTP, and the
// companies move to the segments their registry data give — closed, a
// shop (PKD section G), young — while one whose NIP is not in the
// registry, one with an invalid NIP (never sent) and one without a NIP
// stay "not in the registry". Chosen values are written back into a
// company field. The card tab says why an invalid NIP was not sent. Then
// the registry goes down while a requisite with a NIP is added: nothing
// blocks, the company waits, the settings page says the registry did not
// answer; once it is back, the company moves.
func TestRegistryRulesEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole app")
	}
	sim := gussim.New(gussim.Options{Seed: 3, Companies: 5})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	t.Cleanup(sim.Close)
	k := testkit.NewStack(t, testkit.StackOptions{Sim: b24sim.Options{Seed: 21, RatePerSecond: -1},
		Registry: srv.URL + gussim.Path, RegistryKey: gus.TestKey,
		RegistryLimit: redis_rate.Limit{Rate: 1000, Period: time.Second, Burst: 100},
		Wire: func(_ *wiring.App, _ *wiring.Web, w *jobs.Worker) {
			if w != nil {
				w.RegistryRetry = time.Second
			}
		}})
	st := k.Sim.Seed(b24sim.GenOptions{Contacts: 20, Companies: 160, Deals: 40, Requisites: true})
	k.Call("crm.company.userfield.add", map[string]any{"fields": map[string]any{"FIELD_NAME": "PKD", "USER_TYPE_ID": "string",
		"EDIT_FORM_LABEL": "PKD"}}, nil)

	// The oracle: each company's first requisite with a Polish tax ID,
	// read straight from the simulator.
	now := time.Now().UTC()
	taxID := map[int]string{}
	for id := 1; id <= st.Requisites; id++ {
		rq, ok := k.Sim.RequisiteRecord(id)
		if !ok || b24sim.Scalar(rq["ENTITY_TYPE_ID"]) != "4" {
			continue
		}
		owner, _ := strconv.Atoi(b24sim.Scalar(rq["ENTITY_ID"]))
		if v := b24sim.Scalar(rq["RQ_VAT_ID"]); taxID[owner] == "" && registry.IsNIPCandidate(v) {
			taxID[owner] = v
		}
	}
	want := map[int]string{}
	var invalid, missing, noNIP []int
	for id := 1; id <= 160; id++ {
		nip, ok := registry.ValidNIP(taxID[id])
		switch {
		case taxID[id] == "":
			want[id] = "unknown"
			noNIP = append(noNIP, id)
			continue
		case !ok:
			want[id] = "unknown"
			invalid = append(invalid, id)
			continue
		}
		c, seg, known := registryPlan(id, nip, now)
		if known {
			sim.Add(c)
		} else {
			missing = append(missing, id)
		}
		want[id] = seg
	}
	t.Logf("%d companies: %d with a valid NIP, %d invalid, %d not in the registry, %d without a NIP",
		160, 160-len(invalid)-len(noNIP), len(invalid), len(missing), len(noNIP))
	if len(invalid) == 0 || len(missing) == 0 || len(noNIP) == 0 {
		t.Fatalf("the seed must give every case: invalid %v, missing %v, none %v", invalid, missing, noNIP)
	}

	k.Install(b24sim.InstallOptions{})
	k.WaitSetup()
	k.WaitIdle(time.Minute)
	k.Backfill(registryConfig, 3*time.Minute)
	k.WaitIdle(time.Minute)
	keyOf := segmentKeys(k)
	segmentOf := func(id int) string {
		r, _ := k.Sim.Record("company", id)
		return keyOf["company"][b24sim.Scalar(r["UF_CRM_SEGMENTOR"])]
	}
	for id := 1; id <= 160; id++ {
		if got := segmentOf(id); got != "unknown" {
			t.Fatalf("before lookups are on, company %d is in %q, want unknown", id, got)
		}
	}

	admin := k.Login(1)
	if r := k.Do("PUT", "/api/v1/registry", admin, map[string]any{"enabled": true, "write_back": map[string]string{"pkd": "UF_CRM_PKD", "nope": "UF_CRM_PKD"}}); r.Status != 400 || !strings.Contains(string(r.Raw), "nope") {
		t.Fatalf("write-back of an unknown value: %d %s", r.Status, r.Raw)
	}
	if r := k.Do("PUT", "/api/v1/registry", admin, map[string]any{"enabled": true}); r.Status != 200 || r.Body["enabled"] != true {
		t.Fatalf("turning lookups on: %d %s", r.Status, r.Raw)
	}
	if r := k.Do("PUT", "/api/v1/registry", k.Login(2), map[string]any{"enabled": false}); r.Status != 403 {
		t.Errorf("a user who is not an admin turned lookups off: %d %s", r.Status, r.Raw)
	}
	k.WaitIdle(2 * time.Minute)
	for id := 1; id <= 160; id++ {
		if got := segmentOf(id); got != want[id] {
			t.Errorf("company %d (tax ID %q): segment %q, want %q", id, taxID[id], got, want[id])
		}
	}
	// The admin has the main activity written into a company field: every
	// company the registry answered for gets it.
	if r := k.Do("PUT", "/api/v1/registry", admin, map[string]any{"write_back": map[string]string{"pkd": "UF_CRM_PKD"}}); r.Status != 200 {
		t.Fatalf("write-back: %d %s", r.Status, r.Raw)
	}
	k.WaitIdle(2 * time.Minute)
	for id := 1; id <= 160; id++ {
		r, _ := k.Sim.Record("company", id)
		if wantPKD := map[string]string{"closed": "47.11.Z", "retail": "47.11.Z", "young": "41.20.Z"}[want[id]]; b24sim.Scalar(r["UF_CRM_PKD"]) != wantPKD {
			t.Errorf("company %d: UF_CRM_PKD %q, want %q written back", id, b24sim.Scalar(r["UF_CRM_PKD"]), wantPKD)
		}
	}
	if stats := sim.Stats(); stats.ByOperation["DaneSzukajPodmioty"] != 160-len(invalid)-len(noNIP) {
		t.Errorf("the registry was searched %d times, want once per valid NIP (%d): invalid NIPs are never sent",
			stats.ByOperation["DaneSzukajPodmioty"], 160-len(invalid)-len(noNIP))
	}
	r := k.Do("GET", "/api/v1/registry", admin, nil)
	counts, _ := r.Body["counts"].(map[string]any)
	if counts["invalid"] != float64(len(invalid)) || counts["not_found"] != float64(len(missing)) || r.Body["used_by_rules"] != true {
		t.Errorf("registry settings view: %s", r.Raw)
	}

	// The card tab of a company with an invalid NIP says so, and why it
	// was not looked up; a found one shows its registry data in words.
	card := k.Do("GET", fmt.Sprintf("/api/v1/records/company/%d", invalid[0]), admin, nil)
	reg, _ := card.Body["registry"].(map[string]any)
	if reg["state"] != "invalid" || !strings.Contains(fmt.Sprint(reg["note"]), taxID[invalid[0]]) || !strings.Contains(fmt.Sprint(reg["note"]), "not a valid NIP") {
		t.Errorf("card tab of company %d with an invalid NIP: %s", invalid[0], card.Raw)
	}
	closed := slices.IndexFunc(slices.Sorted(maps.Keys(want)), func(id int) bool { return want[id] == "closed" }) + 1
	card = k.Do("GET", fmt.Sprintf("/api/v1/records/company/%d", closed), k.Login(1), nil)
	if !strings.Contains(string(card.Raw), "closed (struck off)") || !strings.Contains(string(card.Raw), "Firma "+strconv.Itoa(closed)) {
		t.Errorf("card tab of closed company %d: %s", closed, card.Raw)
	}

	// The registry goes down; a company without a NIP gets a requisite with
	// one. Nothing blocks: the company waits, not in the registry, and the
	// settings page says why.
	sim.SetOutage(gussim.Refused)
	late := noNIP[0]
	nip := validNIP(late)
	c, _, _ := registryPlan(0, nip, now) // id 0: closed
	sim.Add(c)
	if _, err := k.Sim.AddRequisite(b24sim.Requisite{OwnerType: 4, OwnerID: late, PresetID: 1,
		Fields: map[string]string{"NAME": "Firma", "RQ_VAT_ID": "PL" + nip}}, 1); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	member := k.Sim.MemberID()
	await.That(t, time.Minute, "the registry's outage to be noticed", func() bool {
		e, err := k.Mirror.RegistryEntry(ctx, member, int64(late))
		run, _ := k.Store.RegistryRun(ctx, member)
		return err == nil && e != nil && e.State == app.RegistryUnavailable && run != nil && run.Problem == app.RegistryDown
	})
	if r := k.Do("GET", "/api/v1/registry", admin, nil); !strings.Contains(fmt.Sprint(r.Body["problem"]), "did not answer") {
		t.Errorf("settings during the outage: %s", r.Raw)
	}
	if got := segmentOf(late); got != "unknown" {
		t.Errorf("company %d during the outage: %q, want unknown", late, got)
	}
	sim.SetOutage(gussim.Up)
	await.That(t, time.Minute, "the company to move once the registry answers", func() bool { return segmentOf(late) == "closed" })
	k.WaitIdle(time.Minute)
}
