package handlers_test

import (
	"context"
	"testing"
	"time"

	"segmentor/internal/await"

	"segmentor/bitrix/b24sim"
)

// When the portal's tokens die, setup cannot succeed by retrying: the
// install page must say it failed instead of polling "running" forever.
func TestSetupWithDeadTokensReportsFailure(t *testing.T) {
	s := newStack(t, b24sim.Options{Seed: 17})
	s.install(b24sim.InstallOptions{})
	ctx := context.Background()
	s.sim.RevokeAll()
	if err := s.worker.Queue.Setup(ctx, s.sim.MemberID(), "retry", ""); err != nil {
		t.Fatal(err)
	}
	await.That(t, 60*time.Second, "setup with dead tokens to fail with a reason", func() bool {
		p, err := s.store.Portal(ctx, s.sim.MemberID())
		if err != nil {
			t.Fatal(err)
		}
		return p.Setup.Phase == "failed" && p.Setup.Error != ""
	})
}
