package handlers_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"segmentor/internal/await"

	"segmentor/app"
	"segmentor/bitrix/b24sim"
	"segmentor/jobs"
)

// ONAPPUPDATE brings a new application token: it is stored once the
// event's access token proves valid at the stored endpoint, and setup runs
// again because Bitrix24 dropped the bindings.
func TestAppUpdateRotatesTokenAndRebinds(t *testing.T) {
	s := newStack(t, b24sim.Options{Seed: 8})
	s.install(b24sim.InstallOptions{})
	ctx := context.Background()
	old := s.sim.ApplicationToken()
	s.sim.ResetLog()
	if err := s.store.SetState(ctx, s.sim.MemberID(), app.StateActive, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.store.UpdatePortal(ctx, s.sim.MemberID(), func(p *app.Portal, _ bool) error {
		p.Setup.Phase = "pending"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.store.PutConfig(ctx, s.sim.MemberID(), 0, []byte(`{"schemes":[]}`), 1); err != nil {
		t.Fatal(err)
	}
	if err := s.sim.TriggerAppUpdate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.sim.WaitEvents(ctx); err != nil {
		t.Fatal(err)
	}
	s.waitSetup()
	tok, _ := s.store.ApplicationToken(ctx, s.sim.MemberID())
	if tok == old || tok != s.sim.ApplicationToken() {
		t.Errorf("application token after update = %q (old %q, portal's %q)", tok, old, s.sim.ApplicationToken())
	}
	if n := s.commands()["event.bind"]; n != len(s.manifest.Events) {
		t.Errorf("after update %d events were bound again, want %d", n, len(s.manifest.Events))
	}
	// The portal has a config, so its backfill is queued after setup (the
	// portal may read setup done a moment before that enqueue lands).
	if !await.Poll(5*time.Second, func() bool {
		_, err := s.insp.GetTaskInfo(jobs.QueueLow, "backfill:"+s.sim.MemberID())
		return err == nil
	}) {
		_, err := s.insp.GetTaskInfo(jobs.QueueLow, "backfill:"+s.sim.MemberID())
		t.Errorf("no backfill queued within 5 s of the update's setup: %v", err)
	}
	// Events carrying the old token are now refused.
	if got := postEvent(t, s, eventForm(s.sim.MemberID(), old, "1").Encode()); got != 403 {
		t.Errorf("event with the pre-update token: status %d, want 403", got)
	}
}

// An older portal's installer sends no APPLICATION_TOKEN; the first event
// that carries a valid access token establishes it, and a forged one does not.
func TestLegacyInstallLearnsTheApplicationTokenSafely(t *testing.T) {
	s := newStack(t, b24sim.Options{Seed: 9})
	s.sim.Seed(b24sim.GenOptions{Contacts: 5, Companies: 2, Deals: 5})
	s.install(b24sim.InstallOptions{Legacy: true})
	ctx := context.Background()
	if tok, _ := s.store.ApplicationToken(ctx, s.sim.MemberID()); tok != "" {
		t.Fatalf("legacy install stored an application token %q", tok)
	}
	// A forger without a valid access token cannot plant a token.
	if got := postEvent(t, s, eventForm(s.sim.MemberID(), "0123456789abcdef0123456789abcdef", "1").Encode()); got != 403 {
		t.Errorf("forged first event: status %d, want 403", got)
	}
	if tok, _ := s.store.ApplicationToken(ctx, s.sim.MemberID()); tok != "" {
		t.Fatalf("a forged event planted application token %q", tok)
	}
	// A user's real edit carries the portal's token and a live access token.
	if err := s.sim.UserUpdate("deal", 1, map[string]any{"TITLE": "x"}, 1, false); err != nil {
		t.Fatal(err)
	}
	if err := s.sim.WaitEvents(ctx); err != nil {
		t.Fatal(err)
	}
	if tok, _ := s.store.ApplicationToken(ctx, s.sim.MemberID()); tok != s.sim.ApplicationToken() {
		t.Errorf("application token after a genuine event = %q, want %q", tok, s.sim.ApplicationToken())
	}
	if ids, _ := waitReceived(t, s, "deal", 1); ids[1] == 0 {
		t.Error("the genuine event was not queued")
	}
}

// api-reference/common/events/on-app-update.md sends the versions as
// strings ("2.1.0"): such an update is accepted and runs setup once for the
// new version; the same update announced again runs nothing; a malformed
// one gets 400 and changes nothing.
func TestAppUpdateWithAStringVersionRunsSetupOnce(t *testing.T) {
	s := newStack(t, b24sim.Options{Seed: 18})
	s.install(b24sim.InstallOptions{})
	ctx := context.Background()
	m := s.sim.MemberID()
	s.sim.ResetLog()
	if err := s.sim.TriggerAppUpdateTo(ctx, "2.1.0"); err != nil {
		t.Fatal(err)
	}
	if err := s.sim.WaitEvents(ctx); err != nil {
		t.Fatal(err)
	}
	await.That(t, 60*time.Second, "a setup for version 2.1.0", func() bool {
		p := s.waitSetup()
		return p != nil && p.Setup.Version == "2.1.0"
	})
	if n := s.commands()["event.bind"]; n != len(s.manifest.Events) {
		t.Fatalf("the update's setup bound %d events, want %d", n, len(s.manifest.Events))
	}
	appToken := s.sim.ApplicationToken()
	if tok, _ := s.store.ApplicationToken(ctx, m); tok != appToken {
		t.Fatalf("application token %q after the update, the portal's is %q", tok, appToken)
	}

	update := func(version string) url.Values {
		return url.Values{"event": {"ONAPPUPDATE"}, "data[VERSION]": {version}, "data[PREVIOUS_VERSION]": {"1"},
			"data[LANGUAGE_ID]": {"en"}, "ts": {"1736405807"}, "auth[access_token]": {s.sim.IssueTokens(1).AccessToken},
			"auth[member_id]": {m}, "auth[application_token]": {appToken}, "auth[domain]": {"x.bitrix24.com"},
			"auth[client_endpoint]": {s.sim.ClientEndpoint()}, "auth[server_endpoint]": {s.sim.ClientEndpoint()}}
	}
	s.sim.ResetLog()
	if got := postEvent(t, s, update("2.1.0").Encode()); got != 200 {
		t.Fatalf("the same update again: %d", got)
	}
	if got := postEvent(t, s, update("2.1.0<script>").Encode()); got != 400 {
		t.Errorf("a malformed version: %d, want 400", got)
	}
	s.WaitIdle(30 * time.Second) // a queued setup would run before the queues empty
	if n := s.commands()["event.bind"] + s.commands()["event.get"]; n != 0 {
		t.Errorf("the repeated update ran setup again (%d binding calls)", n)
	}
	p, err := s.store.Portal(ctx, m)
	if err != nil || p.Setup.Version != "2.1.0" || p.Setup.Phase != "done" {
		t.Errorf("setup after the repeat: %+v, %v", p.Setup, err)
	}
	if tok, _ := s.store.ApplicationToken(ctx, m); tok != appToken {
		t.Errorf("the application token changed: %q", tok)
	}
}
