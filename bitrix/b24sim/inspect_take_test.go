package b24sim

import (
	"testing"
	"time"
)

// TakeRequests hands over the log and empties it, the counters going on:
// a tool following a long run takes it now and then and misses nothing.
// OperatingCost and OperatingLimit tell what the portal charges; CallCost
// changes what the methods OperatingCost does not name cost.
func TestTakeRequests(t *testing.T) {
	p, tok := newStrictPortal(t, Options{Seed: 12, OperatingCost: map[string]time.Duration{"crm.deal.get": 40 * time.Millisecond}})
	p.ResetLog()
	mustOK(t, callJSON(t, p, "crm.contact.get", tok, `{"id": 3}`), "contact get")
	mustOK(t, callJSON(t, p, "batch", tok, `{"halt": 0, "cmd": {"a": "crm.deal.get?id=5", "b": "crm.deal.get?id=6"}}`), "batch")
	got := p.TakeRequests()
	if len(got) != 2 || got[0].Method != "crm.contact.get" || got[1].Method != "batch" || len(got[1].Commands) != 2 {
		t.Fatalf("taken: %+v", got)
	}
	if left := p.Requests(); len(left) != 0 {
		t.Errorf("%d requests left in the log after TakeRequests", len(left))
	}
	mustOK(t, callJSON(t, p, "crm.contact.get", tok, `{"id": 4}`), "contact get")
	if got := p.TakeRequests(); len(got) != 1 {
		t.Errorf("the next take: %d requests, want the 1 since", len(got))
	}
	if st := p.Stats(); st.HTTPRequests != 3 || st.Methods["crm.deal.get"] != 2 {
		t.Errorf("counters after the takes: %d requests, %d crm.deal.get; want 3 and 2", st.HTTPRequests, st.Methods["crm.deal.get"])
	}
	if c, b, l := p.OperatingCost("crm.deal.get"), p.OperatingCost("batch"), p.OperatingLimit(); c != 40*time.Millisecond || b != 0 || l != 480*time.Second {
		t.Errorf("OperatingCost(crm.deal.get) %s, (batch) %s, OperatingLimit %s; want 40ms, 0, 8m0s", c, b, l)
	}
	if c := p.OperatingCost("crm.contact.get"); c != 10*time.Millisecond {
		t.Errorf("OperatingCost(crm.contact.get) = %s, want the default 10ms", c)
	}
	q, _ := newStrictPortal(t, Options{Seed: 12, CallCost: time.Millisecond, OperatingCost: map[string]time.Duration{"crm.deal.get": 40 * time.Millisecond}})
	if c, d := q.OperatingCost("crm.contact.update"), q.OperatingCost("crm.deal.get"); c != time.Millisecond || d != 40*time.Millisecond {
		t.Errorf("with CallCost 1ms: crm.contact.update costs %s, crm.deal.get %s; want 1ms and the 40ms named", c, d)
	}
}
