package e2e

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"segmentor/bitrix/b24sim"
)

// editor is the portal's sales team: it wins, loses, re-prices and adds
// deals and changes their source, through the portal's UI (so Bitrix24
// sends its events). It never touches what Segmentor writes (types, the
// Segment field, pipelines), so every update the app makes answers a change.
type editor struct {
	t        *testing.T
	sim      *b24sim.Portal
	rng      *rand.Rand
	open     []int // open deals
	contacts [][2]int
	counts   map[string]int
}

func newEditor(t *testing.T, sim *b24sim.Portal, seed uint64) *editor {
	e := &editor{t: t, sim: sim, rng: rand.New(rand.NewPCG(seed, seed^0xed17)), counts: map[string]int{}}
	for d := range sim.Records("deal") {
		if fmt.Sprint(d["STAGE_SEMANTIC_ID"]) == "P" {
			e.open = append(e.open, atoi(d["ID"]))
		}
	}
	for ct := range sim.Records("contact") {
		e.contacts = append(e.contacts, [2]int{atoi(ct["ID"]), atoi(ct["COMPANY_ID"])})
	}
	if len(e.open) < 20 || len(e.contacts) == 0 {
		t.Fatalf("the seeded portal has %d open deals and %d contacts; the edits need more", len(e.open), len(e.contacts))
	}
	return e
}

func atoi(v any) int {
	n, _ := strconv.Atoi(fmt.Sprint(v))
	return n
}

// pickOpen takes a random open deal; remove drops it from the open ones.
func (e *editor) pickOpen(remove bool) int {
	i := e.rng.IntN(len(e.open))
	id := e.open[i]
	if remove {
		e.open = append(e.open[:i], e.open[i+1:]...)
	}
	return id
}

// edit makes one change, as a person in the CRM would.
func (e *editor) edit() {
	if err := e.try(); err != nil {
		e.t.Fatal(err)
	}
}

// try is edit for goroutines other than the test's: it returns its error.
func (e *editor) try() error {
	today := time.Now().Format("2006-01-02")
	var err error
	var what string
	switch r := e.rng.IntN(100); {
	case r < 35 && len(e.open) > 10:
		what = "win"
		id := e.pickOpen(true)
		amount := strconv.Itoa(20000 + e.rng.IntN(60000))
		if err = e.sim.UserUpdate("deal", id, map[string]any{"OPPORTUNITY": amount, "CLOSEDATE": today}, 1, false); err == nil {
			err = e.sim.WinDeal(id, 1)
		}
	case r < 45 && len(e.open) > 10:
		what = "lose"
		err = e.sim.LoseDeal(e.pickOpen(true), 1)
	case r < 70:
		what = "reprice"
		id := e.pickOpen(false)
		err = e.sim.UserUpdate("deal", id, map[string]any{"OPPORTUNITY": strconv.Itoa(1000 + e.rng.IntN(90000))}, 1, false)
	case r < 85:
		what = "add"
		_, err = e.addDeal(nil)
	default:
		what = "source"
		src := []string{"WEB", "CALL", "EMAIL", "PARTNER"}[e.rng.IntN(4)]
		err = e.sim.UserUpdate("deal", e.pickOpen(false), map[string]any{"SOURCE_ID": src}, 1, false)
	}
	if err != nil {
		return fmt.Errorf("edit (%s): %v", what, err)
	}
	e.counts[what]++
	return nil
}

// background edits every gap until the returned func is called; that func
// reports the first error.
func (e *editor) background(gap time.Duration) func() error {
	stop, done := make(chan struct{}), make(chan error, 1)
	go func() {
		t := time.NewTicker(gap)
		defer t.Stop()
		for {
			select {
			case <-stop:
				done <- nil
				return
			case <-t.C:
				if err := e.try(); err != nil {
					done <- err
					return
				}
			}
		}
	}()
	var once sync.Once
	var err error
	return func() error {
		once.Do(func() {
			close(stop)
			err = <-done
		})
		return err
	}
}

// addDeal adds an open deal for a random contact (and its company), with
// extra fields.
func (e *editor) addDeal(extra map[string]any) (int, error) {
	ct := e.contacts[e.rng.IntN(len(e.contacts))]
	f := map[string]any{"TITLE": "New order", "CONTACT_ID": ct[0], "OPPORTUNITY": strconv.Itoa(5000 + e.rng.IntN(50000))}
	if ct[1] != 0 {
		f["COMPANY_ID"] = ct[1]
	}
	for k, v := range extra {
		f[k] = v
	}
	id, err := e.sim.UserAdd("deal", f, 1, false)
	if err == nil {
		e.open = append(e.open, id)
	}
	return id, err
}

// stream makes n edits spread evenly over d.
func (e *editor) stream(n int, d time.Duration) {
	gap := d / time.Duration(n)
	for i := 0; i < n; i++ {
		e.edit()
		time.Sleep(gap)
	}
}

// summary is e.g. "add 12, lose 5, …".
func (e *editor) summary() string {
	keys := make([]string, 0, len(e.counts))
	for k := range e.counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, e.counts[k]))
	}
	return strings.Join(parts, ", ")
}
