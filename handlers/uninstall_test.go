package handlers_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"segmentor/app"
	"segmentor/bitrix/b24sim"
	"segmentor/internal/await"
)

// uninstallForm is ONAPPUNINSTALL as Bitrix24 posts it, with the portal's
// application token, which every user who opens the app has seen.
func uninstallForm(s *stack, clean bool) string {
	f := eventForm(s.sim.MemberID(), s.sim.ApplicationToken(), "0")
	f.Del("data[FIELDS][ID]")
	f.Set("event", "ONAPPUNINSTALL")
	f.Set("data[CLEAN]", map[bool]string{false: "0", true: "1"}[clean])
	return f.Encode()
}

// installedWithConfig is a stack with Segmentor installed and a config
// (version 1) saved, and the portal's member_id.
func installedWithConfig(t *testing.T, seed uint64) (*stack, string) {
	t.Helper()
	s := newStack(t, b24sim.Options{Seed: seed})
	s.install(b24sim.InstallOptions{})
	m := s.sim.MemberID()
	if _, err := s.store.PutConfig(context.Background(), m, 0, []byte(`{"schemes":[]}`), 1); err != nil {
		t.Fatal(err)
	}
	return s, m
}

// appInfoCalls counts app.info calls the app made, batched or not.
func appInfoCalls(s *stack) int { return s.commands()["app.info"] }

// An employee who forges an uninstall with the application token their
// browser was given changes nothing: the portal still answers the app's
// tokens, so the event is not confirmed. A flood of them costs the portal
// one check per window.
func TestForgedUninstallIsNotConfirmed(t *testing.T) {
	s, m := installedWithConfig(t, 21)
	ctx := context.Background()
	s.WaitIdle(30 * time.Second)
	before := appInfoCalls(s)
	for range 20 {
		if got := postEvent(t, s, uninstallForm(s, true)); got != http.StatusOK {
			t.Fatalf("uninstall event: status %d", got)
		}
	}
	s.WaitIdle(30 * time.Second)
	checks := appInfoCalls(s) - before
	if checks < 1 || checks > 4 {
		t.Errorf("20 uninstall events within a few windows cost %d app.info checks, want 1 to 4", checks)
	}
	p, _ := s.store.Portal(ctx, m)
	if p.State != app.StateActive || !p.PurgeAt.IsZero() {
		t.Errorf("portal after forged uninstalls: state %s, purge at %v", p.State, p.PurgeAt)
	}
	if _, err := s.store.Load(ctx, m); err != nil {
		t.Errorf("forged uninstalls lost the tokens: %v", err)
	}
	if cfg, _ := s.store.Config(ctx, m); cfg.Version != 1 {
		t.Errorf("forged uninstalls lost the config (version %d)", cfg.Version)
	}
}

// A real uninstall is confirmed by the portal (it revoked the tokens), and
// keeps the portal's data for the grace period, a shorter one with CLEAN;
// the purge after it deletes the data; a reinstall within it finds the
// config again.
func TestUninstallKeepsDataForTheGracePeriod(t *testing.T) {
	for _, clean := range []bool{false, true} {
		s, m := installedWithConfig(t, 4)
		ctx := context.Background()
		if err := s.sim.Uninstall(ctx, clean); err != nil {
			t.Fatal(err)
		}
		var p *app.Portal
		await.That(t, 30*time.Second, "the uninstall to be confirmed", func() bool {
			p, _ = s.store.Portal(ctx, m)
			return p != nil && p.State == app.StateUninstalled
		})
		grace := map[bool]time.Duration{false: app.DefaultGrace, true: app.DefaultCleanGrace}[clean]
		if got := p.PurgeAt.Sub(p.UninstalledAt); got != grace {
			t.Errorf("clean=%v: data kept for %s, want %s", clean, got, grace)
		}
		if _, err := s.store.Load(ctx, m); err == nil {
			t.Errorf("clean=%v: tokens survived uninstall", clean)
		}
		if cfg, _ := s.store.Config(ctx, m); cfg.Version != 1 {
			t.Errorf("clean=%v: the config is gone before the grace period ended (version %d)", clean, cfg.Version)
		}
		// The hourly purge leaves it alone until the grace ends.
		at := p.PurgeAt
		purge := func(now time.Time) int {
			l := &app.Lifecycle{Store: s.store, Clock: func() time.Time { return now }}
			n, err := l.Purge(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		if n := purge(at.Add(-time.Minute)); n != 0 {
			t.Errorf("clean=%v: purged %d portals before the grace ended", clean, n)
		}
		if q, _ := s.store.Portal(ctx, m); !q.UpdatedAt.Equal(p.UpdatedAt) {
			t.Errorf("clean=%v: a purge with nothing due rewrote the portal (updated %s, was %s)", clean, q.UpdatedAt, p.UpdatedAt)
		}
		if clean {
			if n := purge(at); n != 1 {
				t.Fatalf("purged %d portals when the grace ended, want 1", n)
			}
			if cfg, _ := s.store.Config(ctx, m); cfg.Version != 0 {
				t.Errorf("the purge kept the config (version %d)", cfg.Version)
			}
			if p, _ := s.store.Portal(ctx, m); p.State != app.StateUninstalled || p.PurgedAt.IsZero() {
				t.Errorf("portal after the purge: %+v", p)
			}
			continue
		}
		// A reinstall within the grace finds the config; no purge follows.
		s.install(b24sim.InstallOptions{})
		if p, _ := s.store.Portal(ctx, m); p.State != app.StateActive || !p.PurgeAt.IsZero() {
			t.Errorf("portal after the reinstall: state %s, purge at %v", p.State, p.PurgeAt)
		}
		if cfg, _ := s.store.Config(ctx, m); cfg.Version != 1 {
			t.Errorf("the reinstall did not find the config (version %d)", cfg.Version)
		}
		if n := purge(at.Add(time.Hour)); n != 0 {
			t.Errorf("purged %d reinstalled portals", n)
		}
	}
}
