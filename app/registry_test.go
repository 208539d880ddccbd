package app_test

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"segmentor/app"
	"segmentor/app/segment"
	"segmentor/internal/redistest"
	"segmentor/registry"
)

// A company's entry follows its tax ID: a new or changed one starts a
// pending (or invalid) entry, the same one keeps what the registry said,
// none removes it; a sync that read every company removes the others.
func TestPutTaxIDs(t *testing.T) {
	rdb, _ := redistest.New(t)
	m := app.NewMirror(rdb)
	ctx := context.Background()
	const member = "registry0000000000000000000000001"
	changed, err := m.PutTaxIDs(ctx, member, map[int64]app.TaxID{
		1: {"PL 526-104-08-28", 11}, 2: {"5261040827", 12}, 3: {"7740001454", 13}}, true)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(changed)
	if !slices.Equal(changed, []int64{1, 2, 3}) {
		t.Errorf("changed %v, want 1 2 3", changed)
	}
	es, err := m.RegistryEntries(ctx, member, []int64{1, 2, 3, 4})
	if err != nil {
		t.Fatal(err)
	}
	want := map[int64]*app.RegistryEntry{
		1: {TaxID: "PL 526-104-08-28", NIP: "5261040828", Requisite: 11, State: app.RegistryPending},
		2: {TaxID: "5261040827", Requisite: 12, State: app.RegistryInvalid},
		3: {TaxID: "7740001454", NIP: "7740001454", Requisite: 13, State: app.RegistryPending},
	}
	if diff := cmp.Diff(want, es); diff != "" {
		t.Fatalf("entries (-want +got):\n%s", diff)
	}

	// The registry answers for 1; then 1 keeps its tax ID (on another
	// requisite), 3 gets another one, and a sync no longer sees 2.
	found := *es[1]
	found.State, found.Name, found.Checked = app.RegistryFound, "GUS", 1_700_000_000
	found.Facts = &segment.RegistryFacts{PKD: "84.11.Z", PKDSection: "O", Status: registry.StatusActive}
	if ok, err := m.PutRegistryAnswer(ctx, member, 1, found); err != nil || !ok {
		t.Fatalf("answer for 1: %v, %v", ok, err)
	}
	changed, err = m.PutTaxIDs(ctx, member, map[int64]app.TaxID{1: {"PL 526-104-08-28", 21}, 3: {"5261040828", 13}}, true)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(changed)
	if !slices.Equal(changed, []int64{2, 3}) {
		t.Errorf("changed %v, want 2 (gone) and 3 (another tax ID)", changed)
	}
	es, _ = m.RegistryEntries(ctx, member, []int64{1, 2, 3})
	found.Requisite = 21
	want = map[int64]*app.RegistryEntry{1: &found,
		3: {TaxID: "5261040828", NIP: "5261040828", Requisite: 13, State: app.RegistryPending}}
	if diff := cmp.Diff(want, es); diff != "" {
		t.Fatalf("entries after the second sync (-want +got):\n%s", diff)
	}

	// An answer for the NIP 3 had before is about another company: dropped.
	stale := app.RegistryEntry{TaxID: "7740001454", NIP: "7740001454", State: app.RegistryFound, Name: "Orlen"}
	if ok, err := m.PutRegistryAnswer(ctx, member, 3, stale); err != nil || ok {
		t.Errorf("a stale answer was stored: %v, %v", ok, err)
	}
	// A live change names one company: the others stay.
	if changed, err = m.PutTaxIDs(ctx, member, map[int64]app.TaxID{3: {"", 0}}, false); err != nil || !slices.Equal(changed, []int64{3}) {
		t.Errorf("removing 3's tax ID: changed %v, %v", changed, err)
	}
	counts, err := m.RegistryCounts(ctx, member)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[app.RegistryState]int{app.RegistryFound: 1}, counts); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
}

func TestRegistryEntryDue(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	const refresh = 30 * 24 * time.Hour
	for _, tt := range []struct {
		e    app.RegistryEntry
		want bool
	}{
		{app.RegistryEntry{State: app.RegistryPending}, true},
		{app.RegistryEntry{State: app.RegistryUnavailable, Checked: now.Unix()}, true},
		{app.RegistryEntry{State: app.RegistryInvalid}, false},
		{app.RegistryEntry{State: app.RegistryFound, Checked: now.Add(-refresh + time.Hour).Unix()}, false},
		{app.RegistryEntry{State: app.RegistryNotFound, Checked: now.Add(-refresh).Unix()}, true},
	} {
		if got := tt.e.Due(now, refresh); got != tt.want {
			t.Errorf("%+v due: %v, want %v", tt.e, got, tt.want)
		}
	}
}

// The settings, key included, are sealed at rest and read back.
func TestRegistrySettingsSealed(t *testing.T) {
	rdb, _ := redistest.New(t)
	seal, err := app.NewSealer(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	st := app.NewStore(rdb, seal, nil)
	ctx := context.Background()
	const member = "registry0000000000000000000000002"
	if rs, err := st.RegistrySettings(ctx, member); err != nil || rs.Enabled || rs.Key != "" {
		t.Fatalf("no settings yet: %+v, %v", rs, err)
	}
	in := app.RegistrySettings{Enabled: true, Key: "abcde12345abcde12345", WriteBack: map[string]string{"pkd": "UF_CRM_PKD"}}
	if err := st.SetRegistrySettings(ctx, member, in); err != nil {
		t.Fatal(err)
	}
	got, err := st.RegistrySettings(ctx, member)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(in, got); diff != "" {
		t.Errorf("settings (-want +got):\n%s", diff)
	}
	keys, _ := rdb.Keys(ctx, "*registry*").Result()
	for _, k := range keys {
		if raw, _ := rdb.Get(ctx, k).Result(); raw != "" && (strings.Contains(raw, in.Key) || strings.Contains(raw, "UF_CRM_PKD")) {
			t.Errorf("key %s holds the settings in clear", k)
		}
	}
	if len(keys) == 0 {
		t.Error("no registry settings key found")
	}
}

// A company's registry facts come with it from the mirror, whichever way
// it is loaded, once the registry found it; a deleted company's entry
// goes with it.
func TestClientsCarryRegistryFacts(t *testing.T) {
	rdb, _ := redistest.New(t)
	m := app.NewMirror(rdb)
	ctx := context.Background()
	const member = "registry0000000000000000000000003"
	if err := m.PutClients(ctx, member, segment.EntityCompany, []*app.MirrorClient{{ID: 1, Title: "Found"}, {ID: 2, Title: "Pending"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.PutTaxIDs(ctx, member, map[int64]app.TaxID{1: {"5261040828", 10}, 2: {"7740001454", 20}}, true); err != nil {
		t.Fatal(err)
	}
	facts := &segment.RegistryFacts{PKD: "84.11.Z", PKDSection: "O", Region: "Mazowieckie", Status: registry.StatusActive,
		Registered: time.Date(1975, 1, 1, 0, 0, 0, 0, time.UTC)}
	if ok, err := m.PutRegistryAnswer(ctx, member, 1, app.RegistryEntry{TaxID: "5261040828", NIP: "5261040828", State: app.RegistryFound, Facts: facts}); err != nil || !ok {
		t.Fatalf("answer: %v, %v", ok, err)
	}
	got, err := m.Clients(ctx, member, segment.EntityCompany, []int64{1, 2})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(facts, got[1].Client(segment.EntityCompany).Registry); diff != "" {
		t.Errorf("Clients: company 1's registry facts (-want +got):\n%s", diff)
	}
	if got[2].Registry != nil {
		t.Errorf("company 2, not looked up yet, has registry facts %+v", got[2].Registry)
	}
	seen := map[int64]*segment.RegistryFacts{}
	if err := m.EachClient(ctx, member, segment.EntityCompany, func(c *app.MirrorClient) error { seen[c.ID] = c.Registry; return nil }); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[int64]*segment.RegistryFacts{1: facts, 2: nil}, seen); diff != "" {
		t.Errorf("EachClient (-want +got):\n%s", diff)
	}
	if err := m.DeleteClients(ctx, member, segment.EntityCompany, []int64{1}); err != nil {
		t.Fatal(err)
	}
	if e, err := m.RegistryEntry(ctx, member, 1); err != nil || e != nil {
		t.Errorf("deleted company's entry: %+v, %v", e, err)
	}
}
