package engine

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"segmentor/internal/fakeclock"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"
	"github.com/shopspring/decimal"

	"segmentor/app"
	"segmentor/app/segment"
	"segmentor/bitrix"
	"segmentor/internal/redistest"
)

// analystConfig uses money, windows, RFM, open deals, fields and
// client_segment, so that every kind of change in the mirror matters.
const analystConfig = `{"schemes": [
 {"entity": "contact", "segments": [
   {"key": "vip", "name": "VIP", "when": {"all": [{"fact": "won_amount", "window_days": 365, "op": ">=", "value": 30000}]}, "set": {"type": "PARTNER", "label": true}},
   {"key": "champ", "name": "Champions", "when": {"fact": "rfm_m", "op": ">=", "value": 4}, "set": {"label": true}},
   {"key": "busy", "name": "Busy", "when": {"any": [{"fact": "open_deals", "op": ">", "value": 1}, {"fact": "field:SOURCE_ID", "op": "=", "value": "WEB"}]}, "set": {"label": true}}],
  "otherwise": {"key": "rest", "name": "Rest", "set": {"label": true}}},
 {"entity": "company", "segments": [
   {"key": "big", "name": "Big", "when": {"fact": "won_count", "op": ">=", "value": 4}, "set": {"type": "CUSTOMER"}}]},
 {"entity": "deal", "segments": [
   {"key": "premium", "name": "Premium", "when": {"fact": "client_segment", "op": "in", "value": ["vip", "big"]},
    "set": {"label": true, "pipeline": {"category_id": 2, "stage_id": "C2:NEW", "apply": "always"}}}]}]}`

// analystPortal is a portal whose mirror a test writes directly.
type analystPortal struct {
	rdb    redis.UniversalClient
	store  *app.Store
	mirror *app.Mirror
	rng    *rand.Rand
	clk    *fakeclock.Clock
	nextID int64
}

const analystMember = "analyst0000000000000000000000000"

func newAnalystPortal(t testing.TB) *analystPortal {
	t.Helper()
	ctx := context.Background()
	rdb, _ := redistest.New(t)
	seal, _ := app.NewSealer([]byte(strings.Repeat("k", 32)))
	p := &analystPortal{rdb: rdb, store: app.NewStore(rdb, seal, nil), mirror: app.NewMirror(rdb),
		rng: rand.New(rand.NewPCG(3, 4)), clk: fakeclock.At(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)), nextID: 1}
	if err := p.store.Save(ctx, &bitrix.Token{MemberID: analystMember, AccessToken: "x", ClientEndpoint: "https://a.bitrix24.com/rest/"}); err != nil {
		t.Fatal(err)
	}
	if err := p.mirror.SetRates(ctx, analystMember, segment.Rates{Base: "USD", PerUnit: map[string]decimal.Decimal{"EUR": decimal.NewFromFloat(1.1)}}); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *analystPortal) client(id int64) *app.MirrorClient {
	sources := []string{"WEB", "CALL", "EMAIL"}
	keys := []string{"", "vip", "rest", "busy"}
	return &app.MirrorClient{ID: id, TypeID: "CLIENT", Title: fmt.Sprintf("Client %d", id), Key: keys[p.rng.IntN(len(keys))],
		Fields: map[string]string{"SOURCE_ID": sources[p.rng.IntN(len(sources))]}}
}

func (p *analystPortal) deal(id int64, contacts, companies int64) *app.MirrorDeal {
	sem := []string{"S", "S", "F", "P"}[p.rng.IntN(4)]
	d := &app.MirrorDeal{ID: id, Title: fmt.Sprintf("Deal %d", id), Semantic: sem, CategoryID: p.rng.IntN(3),
		Amount: fmt.Sprintf("%d.25", 100+p.rng.IntN(20000)), Currency: []string{"USD", "EUR"}[p.rng.IntN(2)],
		Created: p.clk.Now().Add(-time.Duration(p.rng.IntN(700)) * 24 * time.Hour).Unix()}
	d.StageID = "NEW"
	if d.CategoryID > 0 {
		d.StageID = fmt.Sprintf("C%d:NEW", d.CategoryID)
	}
	if sem != "P" {
		d.Closed = d.Created + int64(p.rng.IntN(30))*86400
	}
	if p.rng.IntN(3) > 0 {
		d.CompanyID = 1 + p.rng.Int64N(companies)
	}
	for range p.rng.IntN(3) {
		d.ContactIDs = append(d.ContactIDs, 1+p.rng.Int64N(contacts))
	}
	return d
}

// Edits made through the mirror's own writes — new, changed, relinked and
// deleted deals and clients, new rates — reach a long-lived Analyst by
// its change log alone, and it answers exactly what a fresh one (which
// decodes the whole mirror) answers.
func TestAnalystCatchesUpThroughTheChangeLog(t *testing.T) {
	ctx := context.Background()
	p := newAnalystPortal(t)
	const contacts, companies, deals = 400, 60, 1500
	var cl []*app.MirrorClient
	for i := int64(1); i <= contacts; i++ {
		cl = append(cl, p.client(i))
	}
	var co []*app.MirrorClient
	for i := int64(1); i <= companies; i++ {
		co = append(co, p.client(i))
	}
	var ds []*app.MirrorDeal
	for i := int64(1); i <= deals; i++ {
		ds = append(ds, p.deal(i, contacts, companies))
	}
	if err := p.mirror.PutClients(ctx, analystMember, segment.EntityContact, cl); err != nil {
		t.Fatal(err)
	}
	if err := p.mirror.PutClients(ctx, analystMember, segment.EntityCompany, co); err != nil {
		t.Fatal(err)
	}
	if err := p.mirror.PutDeals(ctx, analystMember, ds); err != nil {
		t.Fatal(err)
	}
	cfg, err := segment.ParseConfig([]byte(analystConfig))
	if err != nil {
		t.Fatal(err)
	}
	long := &Analyst{Store: p.store, Mirror: p.mirror, Clock: p.clk.Now, Workers: 3}
	compare := func(round int) {
		t.Helper()
		fresh := &Analyst{Store: p.store, Mirror: p.mirror, Clock: p.clk.Now, Workers: 1}
		for name, f := range map[string]func(a *Analyst) (any, error){
			"preview": func(a *Analyst) (any, error) {
				return a.Preview(ctx, analystMember, cfg, PreviewOptions{RevenueWindowDays: 180})
			},
			"standing": func(a *Analyst) (any, error) { return a.Standing(ctx, analystMember, cfg, PreviewOptions{}) },
			"dry-run":  func(a *Analyst) (any, error) { return a.DryRun(ctx, analystMember, cfg) },
		} {
			got, err := f(long)
			if err != nil {
				t.Fatal(err)
			}
			want, err := f(fresh)
			if err != nil {
				t.Fatal(err)
			}
			opts := cmp.Options{cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".TookMS" }, cmp.Ignore()),
				cmp.Comparer(func(a, b float64) bool { return a == b || abs(a-b) < 1e-6*max(abs(a), abs(b)) })}
			if d := cmp.Diff(want, got, opts); d != "" {
				t.Fatalf("round %d, %s: the long-lived analyst differs from a fresh one (-fresh +long):\n%s", round, name, d)
			}
		}
	}
	compare(0)
	snap := long.bases[analystMember].snap

	for round := 1; round <= 6; round++ {
		var put []*app.MirrorDeal
		for range 40 {
			put = append(put, p.deal(1+p.rng.Int64N(deals+200), contacts, companies)) // changed, relinked or new
		}
		if err := p.mirror.PutDeals(ctx, analystMember, put); err != nil {
			t.Fatal(err)
		}
		if err := p.mirror.DeleteDeals(ctx, analystMember, []int64{1 + p.rng.Int64N(deals), 1 + p.rng.Int64N(deals)}); err != nil {
			t.Fatal(err)
		}
		var cs []*app.MirrorClient
		for range 15 {
			cs = append(cs, p.client(1+p.rng.Int64N(contacts+20)))
		}
		if err := p.mirror.PutClients(ctx, analystMember, segment.EntityContact, cs); err != nil {
			t.Fatal(err)
		}
		if err := p.mirror.DeleteClients(ctx, analystMember, segment.EntityCompany, []int64{1 + p.rng.Int64N(companies)}); err != nil {
			t.Fatal(err)
		}
		if round == 3 {
			if err := p.mirror.SetRates(ctx, analystMember, segment.Rates{Base: "USD", PerUnit: map[string]decimal.Decimal{"EUR": decimal.NewFromFloat(0.9)}}); err != nil {
				t.Fatal(err)
			}
		}
		p.clk.Advance(2 * time.Minute) // past rfmReuse: both build their quintiles now
		compare(round)
	}
	// Changes of records the base has, none new and none deleted, are
	// swapped into the columns in place: no column is laid out again.
	cols := maps.Clone(long.bases[analystMember].cols)
	keptColumns := func(round int, what string) {
		t.Helper()
		for e, col := range long.bases[analystMember].cols {
			if col != cols[e] {
				t.Errorf("round %d: the %s column was laid out again for %s", round, e, what)
			}
		}
	}
	for round := 7; round <= 9; round++ {
		var put []*app.MirrorDeal
		b := long.bases[analystMember]

		for _, id := range b.cols[segment.EntityDeal].ids[:40] {
			d := p.deal(id, contacts, companies)
			d.CompanyID, d.ContactIDs = 0, nil // relinked or not, to clients the base has
			if p.rng.IntN(2) == 0 {
				d.CompanyID = b.cols[segment.EntityCompany].ids[0]
			}
			put = append(put, d)
		}
		if err := p.mirror.PutDeals(ctx, analystMember, put); err != nil {
			t.Fatal(err)
		}
		var cs []*app.MirrorClient
		for _, id := range b.cols[segment.EntityContact].ids[:15] {
			cs = append(cs, p.client(id))
		}
		if err := p.mirror.PutClients(ctx, analystMember, segment.EntityContact, cs); err != nil {
			t.Fatal(err)
		}
		p.clk.Advance(2 * time.Minute)
		compare(round)
		keptColumns(round, "changes of records it has")
	}
	// New records numbered after their column's last, as Bitrix24 numbers
	// them, are appended: no column is laid out again.
	for round := 10; round <= 12; round++ {
		b := long.bases[analystMember]
		lastContact := b.cols[segment.EntityContact].ids[len(b.cols[segment.EntityContact].ids)-1]
		lastDeal := b.cols[segment.EntityDeal].ids[len(b.cols[segment.EntityDeal].ids)-1]
		var cs []*app.MirrorClient
		for i := range int64(3) {
			cs = append(cs, p.client(lastContact+1+i))
		}
		if err := p.mirror.PutClients(ctx, analystMember, segment.EntityContact, cs); err != nil {
			t.Fatal(err)
		}
		var put []*app.MirrorDeal
		for i := range int64(20) {
			d := p.deal(lastDeal+1+2*i, contacts, companies)              // every other id: deals created and deleted between
			d.CompanyID, d.ContactIDs = 0, []int64{lastContact + 1 + i%3} // the new contacts
			if i%2 == 0 {
				d.ContactIDs = append(d.ContactIDs, b.cols[segment.EntityContact].ids[i])
			}
			put = append(put, d)
		}
		if err := p.mirror.PutDeals(ctx, analystMember, put); err != nil {
			t.Fatal(err)
		}
		p.clk.Advance(2 * time.Minute)
		compare(round)
		keptColumns(round, "records that came after its last")
		if n := len(b.cols[segment.EntityDeal].ids); b.cols[segment.EntityDeal].ids[n-1] != lastDeal+39 {
			t.Errorf("round %d: the deal column ends at %d, want %d", round, b.cols[segment.EntityDeal].ids[n-1], lastDeal+39)
		}
	}
	// One that comes among the others lays its column out again.
	if err := p.mirror.DeleteDeals(ctx, analystMember, []int64{long.bases[analystMember].cols[segment.EntityDeal].ids[5]}); err != nil {
		t.Fatal(err)
	}
	compare(13)
	gap := long.bases[analystMember].cols[segment.EntityDeal].ids[5] - 1 // deleted just now
	if err := p.mirror.PutDeals(ctx, analystMember, []*app.MirrorDeal{p.deal(gap, contacts, companies)}); err != nil {
		t.Fatal(err)
	}
	compare(14)
	if long.bases[analystMember].snap != snap {
		t.Error("the long-lived analyst reloaded the whole mirror instead of catching up")
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// A base nobody used for a while, or beyond MaxPortals, is dropped.
func TestAnalystEvictsIdleBases(t *testing.T) {
	p := newAnalystPortal(t)
	a := &Analyst{Store: p.store, Mirror: p.mirror, Clock: p.clk.Now, MaxPortals: 2, Idle: time.Minute}
	ctx := context.Background()
	for _, m := range []string{"m1", "m2", "m3"} {
		b, err := a.base(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		b.mu.RUnlock()
		p.clk.Advance(time.Second)
	}
	if _, ok := a.bases["m1"]; ok || len(a.bases) != 2 {
		t.Errorf("after three portals with room for two: %d bases, m1 kept %v", len(a.bases), ok)
	}
	p.clk.Advance(2 * time.Minute)
	b, _ := a.base(ctx, "m4")
	b.mu.RUnlock()
	if len(a.bases) != 1 {
		t.Errorf("idle bases kept: %d", len(a.bases))
	}
}

// A column finds a record by id whether its ids are dense (Bitrix24's,
// numbered from 1) or sparse, and finds no record it does not have.
func TestIDIndexFindsEveryRecordAndNoOther(t *testing.T) {
	for _, tc := range []struct {
		name  string
		ids   []int64
		dense bool
	}{
		{"dense", []int64{1, 2, 3, 5, 8, 13}, true},
		{"from zero", []int64{0, 1, 2}, true},
		{"sparse", []int64{1, 100_000, 9_000_000_000}, false},
		{"negative", []int64{-4, 1, 2}, false},
		{"empty", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := newIDIndex(tc.ids)
			if got := x.sparse == nil; got != tc.dense {
				t.Errorf("dense = %v, want %v", got, tc.dense)
			}
			for i, id := range tc.ids {
				if p, ok := x.at(id); !ok || p != i {
					t.Errorf("at(%d) = %d, %v; want %d", id, p, ok, i)
				}
			}
			for _, id := range []int64{-1, 4, 7, 14, 99_999, 1 << 40} {
				if slices.Contains(tc.ids, id) {
					continue
				}
				if p, ok := x.at(id); ok {
					t.Errorf("at(%d) = %d for an id it does not have", id, p)
				}
			}
		})
	}
}

// An index grown by records after its last finds every record, dense or
// sparse, and turns sparse when a slice would be too large.
func TestIDIndexGrows(t *testing.T) {
	for _, tc := range []struct {
		name       string
		ids, added []int64
		dense      bool
	}{
		{"dense stays dense", []int64{1, 2, 3}, []int64{4, 9}, true},
		{"empty grows", nil, []int64{5, 6}, true},
		{"dense turns sparse", []int64{1, 2, 3}, []int64{1 << 40}, false},
		{"sparse stays sparse", []int64{1, 1 << 40}, []int64{1<<40 + 7}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := newIDIndex(tc.ids)
			all := append(slices.Clone(tc.ids), tc.added...)
			x.grow(all, len(tc.ids))
			if got := x.sparse == nil; got != tc.dense {
				t.Errorf("dense = %v, want %v", got, tc.dense)
			}
			for i, id := range all {
				if p, ok := x.at(id); !ok || p != i {
					t.Errorf("at(%d) = %d, %v; want %d", id, p, ok, i)
				}
			}
			if p, ok := x.at(8); ok {
				t.Errorf("at(8) = %d for an id it does not have", p)
			}
		})
	}
}
