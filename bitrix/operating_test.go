package bitrix

import (
	"context"
	"net/http"
	"sort"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Every reported operating time reaches the OnOperating hook: a call's
// own, and inside a batch each method's largest (never the batch's).
func TestOperatingReportedToHook(t *testing.T) {
	type op struct {
		Member, Method string
		Seconds        float64
	}
	var mu sync.Mutex
	var got []op
	e := setup(t, func(c *Config) {
		c.OnOperating = func(_ context.Context, member, method string, s float64) {
			mu.Lock()
			got = append(got, op{member, method, s})
			mu.Unlock()
		}
	})
	e.handle("crm.deal.get", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `{"result":{},"time":{"operating":1.25,"operating_reset_at":1778747792}}`)
	})
	e.handle("batch", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `{"result":{"result":{"a":[],"b":[],"c":[]},"result_error":[],"result_total":[],"result_next":[],
			"result_time":{"a":{"operating":3.5,"operating_reset_at":1778747792},"b":{"operating":4,"operating_reset_at":1778747792},
			"c":{"operating":0.5,"operating_reset_at":1778747792}}},"time":{"operating":9,"operating_reset_at":1778747792}}`)
	})
	ctx := context.Background()
	if _, err := e.portal.Call(ctx, "crm.deal.get", map[string]any{"id": 1}, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.portal.Batch(ctx, []Command{Cmd("a", "crm.contact.list", nil), Cmd("b", "crm.contact.list", nil),
		Cmd("c", "crm.company.list", nil)}, false); err != nil {
		t.Fatal(err)
	}
	sort.Slice(got, func(i, j int) bool { return got[i].Method < got[j].Method })
	want := []op{{testMember, "crm.company.list", 0.5}, {testMember, "crm.contact.list", 4}, {testMember, "crm.deal.get", 1.25}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("OnOperating calls (-want +got):\n%s", d)
	}
}
