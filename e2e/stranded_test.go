package e2e

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"segmentor/internal/await"

	"segmentor/bitrix/b24sim"
)

// A refused call must never leave work stranded. A portal whose bucket is
// tight (10 requests draining 2/s, where the app's budget assumes the usual
// 50) refuses the app at least once; then every access token expires; then
// a sales rep adds a contact. Its event is accepted, and the contact is
// classified within 30 s by the web and worker processes, with exactly one
// token refresh and no task given up. The tokens expire both ways: by the
// portal's word while the app still trusts them (expired_token), and by
// their time (a portal issuing 10-second tokens, which the app renews
// shortly before their end).
func TestNoWorkStrandedAfterARefusal(t *testing.T) {
	needRedis(t)
	t.Parallel()
	for _, tc := range []struct {
		name   string
		ttl    time.Duration
		expire func(c *cluster)
	}{
		{"expired_token", 0, func(c *cluster) { c.sim.ExpireAccessTokens() }},
		// The access token's whole lifetime passes with no call.
		{"expired by time", 10 * time.Second, func(c *cluster) { time.Sleep(11 * time.Second) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, _ := newBackfilledCluster(t, clusterOptions{
				Sim: b24sim.Options{Seed: 61, RatePerSecond: 2, Burst: 10, AccessTokenTTL: tc.ttl},
				Gen: b24sim.GenOptions{Contacts: 150, Companies: 30, Deals: 400, Years: 2},
			}, "worker-1")
			// The backfill fitted the bucket: a bucket of one refuses the
			// next two requests sent together (an edit's read and write).
			ed := newEditor(t, c.sim, 61)
			for round := 0; round < 5 && c.sim.Stats().QueryLimitRefusals == 0; round++ {
				c.sim.LimitBurst(1)
				for range 3 {
					ed.edit()
				}
				c.settle(time.Minute)
			}
			if c.sim.Stats().QueryLimitRefusals == 0 {
				t.Fatal("the portal refused nothing: the bucket is not tight")
			}
			items := c.segmentItems("contact")

			tc.expire(c)
			refreshes := c.sim.Refreshes()
			added := time.Now()
			id, err := c.sim.UserAdd("contact", map[string]any{"NAME": "Nora", "LAST_NAME": "Newcomer"}, 1, false)
			if err != nil {
				t.Fatal(err)
			}
			await.That(c.t, 30*time.Second, fmt.Sprintf("contact %d to be classified", id), func() bool {
				r, _ := c.sim.Record("contact", id)
				return fmt.Sprint(r["UF_CRM_SEGMENTOR"]) == items["regular"]
			})
			t.Logf("contact %d classified %s after it was added", id, time.Since(added).Round(time.Millisecond))
			if ev := c.sim.EventStats(); ev.Failed != 0 {
				t.Errorf("the app refused %d events", ev.Failed)
			}
			if n := c.sim.Refreshes() - refreshes; n != 1 {
				t.Errorf("%d token refreshes after the expiry, want exactly 1", n)
			}
			c.settle(time.Minute) // fails if a task was given up
		})
	}
}

// segmentItems maps the Segment field's items (segment keys) to their ids
// on the entity, from the directory the app keeps.
func (c *cluster) segmentItems(entity string) map[string]string {
	c.t.Helper()
	dir, err := c.store.Directory(c.ctx, c.sim.MemberID())
	if err != nil {
		c.t.Fatal(err)
	}
	out := map[string]string{}
	for _, it := range dir.Segment[entity].Items {
		out[it.Key] = strconv.Itoa(it.ID)
	}
	if len(out) == 0 {
		c.t.Fatalf("%s has no Segment items", entity)
	}
	return out
}
