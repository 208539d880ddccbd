package engine

import (
	"bytes"
	"context"
	"testing"
	"time"

	"segmentor/app"
	"segmentor/app/segment"
	"segmentor/internal/redistest"
)

// Live classification builds a portal's first RFM quintiles at once, but
// rebuilds stale ones in the background, using the stale ones meanwhile:
// a rebuild streams the whole mirror, and on a large portal it would hold
// the portal's changes lock (and a backfill's writes waiting for it) for
// a minute. One rebuild runs at a time.
func TestStaleRFMIsRebuiltInTheBackground(t *testing.T) {
	ctx := context.Background()
	rdb, _ := redistest.New(t)
	cfg, err := segment.ParseConfig([]byte(`{"schemes": [{"entity": "contact", "segments": [
		{"key": "champions", "name": "Champions", "when": {"all": [{"fact": "rfm", "op": "=", "value": "555", "window_days": 365}]}, "set": {"label": true}}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	rules, err := segment.Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := &Classifier{Mirror: app.NewMirror(rdb), RFMMaxAge: time.Minute}
	pr := &portalRules{cfg: cfg, rules: rules}
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	runAt := func(at time.Time) *run {
		return &run{c: c, memberID: "rfmrefresh", pr: pr, env: segment.Env{Now: at}}
	}
	first := runAt(now)
	if err := c.ensureRFM(ctx, first); err != nil || first.rfm == nil {
		t.Fatalf("first quintiles: %v %v", first.rfm, err)
	}
	if len(pr.rfm) == 0 || !pr.rfmBuilt.Equal(now) {
		t.Fatalf("the first quintiles are not kept: %v built %s", pr.rfm, pr.rfmBuilt)
	}
	// Stale: the old quintiles now, a rebuild under way.
	later := now.Add(2 * time.Minute)
	r := runAt(later)
	if err := c.ensureRFM(ctx, r); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	same := r.rfm[segment.EntityContact] == first.rfm[segment.EntityContact]
	c.mu.Unlock()
	if !same {
		t.Fatal("a stale RFM was rebuilt before the change could use it")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c.mu.Lock()
		built, refreshing := pr.rfmBuilt, pr.rfmRefreshing
		c.mu.Unlock()
		if built.Equal(later) && !refreshing {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the background rebuild did not land: built %s, refreshing %v", built, refreshing)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Fresh again: used as they are, nothing rebuilt.
	r = runAt(later.Add(time.Second))
	if err := c.ensureRFM(ctx, r); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	refreshing := pr.rfmRefreshing
	c.mu.Unlock()
	if refreshing || r.rfm == nil {
		t.Fatalf("fresh quintiles: refreshing %v, rfm %v", refreshing, r.rfm)
	}
}

// Prepare builds a portal's first RFM quintiles, for the changes job to
// call before it takes the portal's changes lock; once they are built it
// costs nothing, and a config without RFM has nothing to prepare.
func TestPrepareBuildsTheFirstRFMBeforeAChange(t *testing.T) {
	ctx := context.Background()
	rdb, _ := redistest.New(t)
	seal, _ := app.NewSealer(bytes.Repeat([]byte{7}, 32))
	store := app.NewStore(rdb, seal, nil)
	c := &Classifier{Store: store, Mirror: app.NewMirror(rdb)}
	const member = "prepare"
	if err := c.Prepare(ctx, member); err != nil {
		t.Fatalf("a portal without a config: %v", err)
	}
	if _, err := store.PutConfig(ctx, member, 0, []byte(`{"schemes": [{"entity": "contact", "segments": [
		{"key": "champions", "name": "Champions", "when": {"all": [{"fact": "rfm", "op": "=", "value": "555", "window_days": 365}]}, "set": {"label": true}}]}]}`), 1); err != nil {
		t.Fatal(err)
	}
	if err := c.Prepare(ctx, member); err != nil {
		t.Fatal(err)
	}
	pr, err := c.rulesFor(ctx, member)
	if err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	first, built := pr.rfm, pr.rfmBuilt
	c.mu.Unlock()
	if first == nil || first[segment.EntityContact] == nil || built.IsZero() {
		t.Fatalf("after Prepare: quintiles %v built %s; want the contacts' built", first, built)
	}
	if err := c.Prepare(ctx, member); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	again := pr.rfm[segment.EntityContact]
	c.mu.Unlock()
	if again != first[segment.EntityContact] {
		t.Fatal("a second Prepare rebuilt the quintiles")
	}
	r, err := c.newRun(ctx, member, pr)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ensureRFM(ctx, r); err != nil || r.rfm[segment.EntityContact] != first[segment.EntityContact] {
		t.Fatalf("the change after Prepare did not use its quintiles (%v)", err)
	}
}
