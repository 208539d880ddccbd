package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"time"

	"segmentor/app/i18n"
	"segmentor/bitrix/b24sim"
)

// demoActivity counts what the simulated users did.
type demoActivity struct {
	edits, calls, wins, losses, added, failed atomic.Int64
}

func (a *demoActivity) String() string { return a.In(i18n.EN) }

// In says what the users did in lang.
func (a *demoActivity) In(lang i18n.Lang) string {
	s := say(lang, "activity", num(lang, int(a.edits.Load())), num(lang, int(a.calls.Load())),
		num(lang, int(a.wins.Load())), num(lang, int(a.losses.Load())), num(lang, int(a.added.Load())))
	if n := a.failed.Load(); n > 0 {
		s += say(lang, "refused", n)
	}
	return s
}

// simulateUsers has the portal's sales reps work in the CRM, one action per
// Pace, until ctx ends: they change amounts of open deals, log calls on
// them, win and lose them, and open new deals for existing contacts. Each goes through the
// portal like a UI edit, so Bitrix24 sends its event to the app.
func (d *demoRun) simulateUsers(ctx context.Context) {
	rng := rand.New(rand.NewPCG(d.opts.Seed, 0xde30))
	t := time.NewTicker(d.opts.Pace)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := d.act(rng); err != nil {
			d.users.failed.Add(1)
		}
	}
}

func (d *demoRun) act(rng *rand.Rand) error {
	rep := 2 + rng.IntN(demoReps) // the seeded sales reps are users 2..1+demoReps
	deal := d.openDeal(rng)
	roll := rng.IntN(100)
	switch {
	case deal == 0 || roll >= 75:
		return d.addDeal(rng, rep)
	case roll < 20:
		// A call with the client, in or out: the deal's engagement moves.
		dir := b24sim.DirectionOutgoing
		if rng.IntN(2) == 0 {
			dir = b24sim.DirectionIncoming
		}
		if _, err := d.sim.UserAddActivity(b24sim.Activity{Type: b24sim.ActivityCall, Direction: dir, Completed: true,
			OwnerType: "deal", OwnerID: deal, Subject: "Call about the order"}, rep); err != nil {
			return err
		}
		d.users.calls.Add(1)
	case roll < 40:
		rec, _ := d.sim.Record("deal", deal)
		amount := strconv.Itoa((1 + rng.IntN(200)) * 500)
		if err := d.sim.UserUpdate("deal", deal, map[string]any{"OPPORTUNITY": amount, "CURRENCY_ID": rec["CURRENCY_ID"]}, rep, false); err != nil {
			return err
		}
		d.users.edits.Add(1)
	case roll < 65:
		today := time.Now().Format("2006-01-02")
		if err := d.sim.UserUpdate("deal", deal, map[string]any{"CLOSEDATE": today}, rep, false); err != nil {
			return err
		}
		if err := d.sim.WinDeal(deal, rep); err != nil {
			return err
		}
		d.users.wins.Add(1)
	default:
		if err := d.sim.LoseDeal(deal, rep); err != nil {
			return err
		}
		d.users.losses.Add(1)
	}
	return nil
}

// openDeal picks a random open deal (0 when a few tries find none).
func (d *demoRun) openDeal(rng *rand.Rand) int {
	n := d.sim.Count("deal")
	for range 10 {
		id := 1 + rng.IntN(max(n, 1))
		if rec, ok := d.sim.Record("deal", id); ok && rec["STAGE_SEMANTIC_ID"] == "P" {
			return id
		}
	}
	return 0
}

// addDeal opens a deal for a random contact (and the contact's company) in
// the default pipeline.
func (d *demoRun) addDeal(rng *rand.Rand, rep int) error {
	contact := 1 + rng.IntN(max(d.sim.Count("contact"), 1))
	c, ok := d.sim.Record("contact", contact)
	if !ok {
		return fmt.Errorf("no contact %d", contact)
	}
	fields := map[string]any{
		"TITLE":          "Order from " + fmt.Sprint(c["NAME"], " ", c["LAST_NAME"]),
		"CONTACT_ID":     contact,
		"OPPORTUNITY":    strconv.Itoa((1 + rng.IntN(100)) * 1000),
		"CURRENCY_ID":    "USD",
		"CATEGORY_ID":    0,
		"ASSIGNED_BY_ID": rep,
	}
	if co := c["COMPANY_ID"]; co != nil && co != "" && co != "0" {
		fields["COMPANY_ID"] = co
	}
	if _, err := d.sim.UserAdd("deal", fields, rep, false); err != nil {
		return err
	}
	d.users.added.Add(1)
	return nil
}
