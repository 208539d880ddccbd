package e2e

import (
	"testing"
	"time"

	"segmentor/bitrix/b24sim"
)

// Three portals served by one b24sim Host (one listener, one shared OAuth
// server), one web and one worker process: Segmentor installs on each
// through the shared OAuth server, backfills each within its own bucket
// (the default 2 requests/s, 50), and every record of every portal ends in
// its correct state; no portal refuses a request for its limit.
func TestThreePortalsOnOneHost(t *testing.T) {
	needRedis(t)
	t.Parallel()
	start := time.Now()
	h := b24sim.NewHost(b24sim.HostOptions{})
	t.Cleanup(h.Close)
	// newCluster starts a portal of its own; the processes are pointed at
	// the Host's instead (B24_OAUTH_URL is the Host's shared OAuth server).
	base := newCluster(t, clusterOptions{})
	gen := b24sim.GenOptions{Contacts: 60, Companies: 15, Deals: 200, Years: 2}
	var cs []*cluster
	for i := 0; i < 3; i++ {
		c := *base
		c.sim = h.AddPortal(b24sim.Options{})
		c.gen = c.sim.Seed(gen)
		cs = append(cs, &c)
	}
	base.sim = cs[0].sim
	base.startWeb()
	base.startWorker("worker-1")
	for _, c := range cs {
		c.web, c.workers = base.web, base.workers
		c.install()
		c.login()
		c.saveConfig(c.premiumConfig())
	}
	for _, c := range cs {
		bf := c.waitBackfill(90 * time.Second)
		c.settle(60 * time.Second)
		st := c.sim.Stats()
		t.Logf("%s (%s): backfill wrote %d of %d records; %d HTTP requests, %d refreshes",
			c.sim.Name(), c.sim.ClientEndpoint(), bf.Writes, bf.Total, st.HTTPRequests, st.Refreshes)
	}
	for _, c := range cs {
		evaluated := c.requireCorrect("after the backfill of " + c.sim.Name())
		if st := c.sim.Stats(); st.QueryLimitRefusals != 0 || st.OperatingRefusals != 0 {
			t.Errorf("%s refused %d requests with QUERY_LIMIT_EXCEEDED and %d with OPERATION_TIME_LIMIT; want none",
				c.sim.Name(), st.QueryLimitRefusals, st.OperatingRefusals)
		}
		t.Logf("%s: fresh evaluation of %d records: all correct", c.sim.Name(), evaluated)
	}
	t.Logf("3 portals on one Host, installed and backfilled in %s", time.Since(start).Round(time.Millisecond))
}
