package jobs_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"segmentor/bitrix"
	"segmentor/bitrix/b24sim"
	"segmentor/internal/await"
)

const strandedConfig = `{"schemes": [{"entity": "contact", "segments": [
  {"key": "buyer", "name": "Buyer", "when": {"all": [{"fact": "won_count", "op": ">=", "value": 1}]}, "set": {"label": true}}],
  "otherwise": {"key": "prospect", "name": "Prospect", "set": {"label": true}}}]}`

// A refused call must never leave work stranded (issue: a portal whose
// bucket was tight saw a new contact unclassified for minutes after one
// QUERY_LIMIT_EXCEEDED and an access-token expiry). On a portal with a
// bucket of 10 requests draining 2/s, where the app's own budget assumes the
// usual 50: the backfill is refused at least once, then every access token
// expires, then a sales rep adds a contact. The contact is classified
// within 30 s, with exactly one token refresh, and no job failed.
func TestNoWorkStrandedAfterARefusalAndExpiredTokens(t *testing.T) {
	t.Parallel()
	now := time.Now().UTC().Truncate(time.Second)
	s := newAppStack(t, b24sim.Options{Seed: 31, RatePerSecond: 2, Burst: 10}, bitrix.StandardProfile(), now)
	s.sim.Seed(b24sim.GenOptions{Contacts: 60, Companies: 10, Deals: 150, Now: now})
	s.install(t)
	s.backfill(t, strandedConfig, 2*time.Minute)
	s.waitIdle(t, time.Minute)
	// The portal refuses the app's next request, as a bucket shared with
	// other apps does: a sales rep's edit meets QUERY_LIMIT_EXCEEDED.
	refused := s.sim.Stats().QueryLimitRefusals
	s.sim.LimitBurst(1)
	if err := s.sim.UserUpdate("contact", 1, map[string]any{"SOURCE_ID": "WEB"}, 1, false); err != nil {
		t.Fatal(err)
	}
	s.waitIdle(t, time.Minute)
	if s.sim.Stats().QueryLimitRefusals == refused {
		t.Fatal("the portal refused nothing: the test did not limit the app")
	}
	items := s.segmentItems(t)

	s.sim.ExpireAccessTokens()
	refreshes := s.sim.Refreshes()
	added := time.Now()
	id, err := s.sim.UserAdd("contact", map[string]any{"NAME": "Nora", "LAST_NAME": "Newcomer"}, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.sim.WaitEvents(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := s.sim.EventStats(); st.Failed != 0 {
		t.Fatalf("the app refused events: %+v", st)
	}
	await.That(t, 30*time.Second, fmt.Sprintf("contact %d to be classified after its event", id), func() bool {
		r, _ := s.sim.Record("contact", id)
		return b24sim.Scalar(r["UF_CRM_SEGMENTOR"]) == items["contact"]["prospect"]
	})
	t.Logf("contact %d classified %s after it was added", id, time.Since(added).Round(time.Millisecond))
	if n := s.sim.Refreshes() - refreshes; n != 1 {
		t.Errorf("%d token refreshes after the expiry, want exactly 1", n)
	}
	insp := asynq.NewInspectorFromRedisClient(s.rdb)
	for _, q := range mustQueues(t, insp) {
		info, err := insp.GetQueueInfo(q)
		if err != nil {
			t.Fatal(err)
		}
		if info.Archived != 0 || info.FailedTotal != 0 {
			t.Errorf("queue %s: %d archived, %d failed", q, info.Archived, info.FailedTotal)
		}
	}
}

func mustQueues(t testing.TB, insp *asynq.Inspector) []string {
	t.Helper()
	qs, err := insp.Queues()
	if err != nil {
		t.Fatal(err)
	}
	if len(qs) == 0 {
		t.Fatal(fmt.Errorf("no queues"))
	}
	return qs
}
