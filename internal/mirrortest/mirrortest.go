// Package mirrortest fills a portal's mirror with generated records, for
// the benchmarks that need a large portal (previews, dry-runs, memory).
package mirrortest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"segmentor/app"
	"segmentor/app/segment"
)

// Portal sizes a generated portal.
type Portal struct {
	Contacts, Companies, Deals int
	// Now ends the 1,000 days the deals are spread over; default time.Now().
	Now time.Time
	// Classified gives every record a computed segment (item id and key),
	// as the mirror holds them after a backfill; without it only clients
	// carry a key.
	Classified bool
	// Sections gives each deal the catalog sections of its product rows:
	// one to three of the eight the simulator's catalog has.
	Sections bool
}

var (
	firstNames = []string{"Anna", "Boris", "Clara", "David", "Elena", "Felix", "Greta", "Hugo", "Irina", "Jonas", "Kira", "Lev", "Maria", "Nikolai", "Olga", "Pavel"}
	lastNames  = []string{"Ivanova", "Schmidt", "Petrov", "Müller", "Smirnova", "Weber", "Kuznetsov", "Fischer", "Popova", "Wagner", "Sokolov", "Becker"}
	coWords    = []string{"Acme", "Nord", "Baltic", "Orion", "Vega", "Polar", "Granit", "Helix", "Ural", "Delta", "Summit", "Atlas"}
	coKinds    = []string{"Logistics", "Systems", "Foods", "Motors", "Pharma", "Textiles", "Energy", "Media"}
	coForms    = []string{"LLC", "GmbH", "Ltd", "JSC", "Inc"}
	dealWords  = []string{"Order", "Contract", "Subscription", "Project", "Supply", "Renewal"}
)

// title names record i as the simulated portal does (bitrix/b24sim): a
// person's name, a company's, or a deal's word and number. It draws
// nothing from the random source, so sizes and seeds stay comparable.
func title(e segment.Entity, i int) string {
	switch e {
	case segment.EntityContact:
		return firstNames[i%len(firstNames)] + " " + lastNames[(i/len(firstNames))%len(lastNames)]
	case segment.EntityCompany:
		return coWords[i%len(coWords)] + " " + coKinds[(i/len(coWords))%len(coKinds)] + " " + coForms[i%len(coForms)]
	default:
		return dealWords[i%len(dealWords)] + " #" + strconv.Itoa(i)
	}
}

// Fill writes the portal into m under memberID through the mirror's own
// writes (PutClients, PutDeals): 2–3 years of deals in two pipelines, two
// currencies, most deals with a company and a contact, a source field on
// every client, and the currency rates.
func Fill(tb testing.TB, m *app.Mirror, memberID string, p Portal) {
	tb.Helper()
	ctx := context.Background()
	now := p.Now
	if now.IsZero() {
		now = time.Now()
	}
	rng := rand.New(rand.NewPCG(7, 8))
	sources := []string{"WEB", "PARTNER", "CALL"}
	for _, e := range []struct {
		entity segment.Entity
		n      int
	}{{segment.EntityContact, p.Contacts}, {segment.EntityCompany, p.Companies}} {
		rows := make([]*app.MirrorClient, e.n)
		for i := range rows {
			rows[i] = &app.MirrorClient{ID: int64(i + 1), TypeID: "CLIENT", Title: title(e.entity, i+1),
				Key: "regular", Fields: map[string]string{"SOURCE_ID": sources[rng.IntN(len(sources))]}}
			if p.Classified {
				rows[i].Segment = 101
			}
		}
		if err := m.PutClients(ctx, memberID, e.entity, rows); err != nil {
			tb.Fatal(err)
		}
	}
	deals := make([]*app.MirrorDeal, 0, 5000)
	for i := 1; i <= p.Deals; i++ {
		sem := []string{"S", "S", "F", "P"}[rng.IntN(4)]
		created := now.Add(-time.Duration(rng.IntN(1000)) * 24 * time.Hour).Unix()
		d := &app.MirrorDeal{ID: int64(i), Title: title(segment.EntityDeal, i), Semantic: sem, CategoryID: []int{0, 0, 1}[rng.IntN(3)],
			Amount: fmt.Sprintf("%d.50", 500+rng.IntN(60000)), Currency: []string{"USD", "USD", "EUR"}[rng.IntN(3)],
			Created: created, TypeID: "SALE", CompanyID: 1 + rng.Int64N(int64(max(p.Companies, 1))),
			ContactIDs: []int64{1 + rng.Int64N(int64(max(p.Contacts, 1)))}}
		d.StageID = map[int]string{0: "NEW", 1: "C1:NEW"}[d.CategoryID]
		if sem != "P" {
			d.Closed = created + int64(rng.IntN(60))*86400
		}
		if p.Classified {
			d.Segment, d.Key = 201, "standard"
		}
		if p.Sections {
			for range 1 + i%3 {
				d.Sections = append(d.Sections, 1+rng.IntN(8))
			}
			slices.Sort(d.Sections)
			d.Sections = slices.Compact(d.Sections)
		}
		deals = append(deals, d)
		if len(deals) == cap(deals) || i == p.Deals {
			if err := m.PutDeals(ctx, memberID, deals); err != nil {
				tb.Fatal(err)
			}
			deals = deals[:0]
		}
	}
	if err := m.SetRates(ctx, memberID, segment.Rates{Base: "USD", PerUnit: map[string]decimal.Decimal{"EUR": decimal.NewFromFloat(1.08)}}); err != nil {
		tb.Fatal(err)
	}
}
