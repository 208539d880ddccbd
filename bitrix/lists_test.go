package bitrix_test

import (
	"context"
	"fmt"
	"testing"

	"segmentor/bitrix"
	"segmentor/bitrix/b24sim"
)

// A portal with 300 values in one status list (and the lists every portal
// has besides): ListAll reads every 50-row page, in two requests, where a
// read of the first page alone would miss most of them.
func TestSimListAllReadsEveryPage(t *testing.T) {
	e := newSim(t, b24sim.Options{RatePerSecond: -1})
	p := e.newC(bitrix.UnlimitedProfile()).Portal(e.sim.MemberID())
	ctx := context.Background()
	var adds []bitrix.Command
	for i := range 300 {
		adds = append(adds, bitrix.Cmd(fmt.Sprintf("s%d", i), "crm.status.add", map[string]any{
			"fields": map[string]any{"ENTITY_ID": "SOURCE", "STATUS_ID": fmt.Sprintf("SRC_%d", i), "NAME": fmt.Sprintf("Source %d", i), "SORT": 1000 + i}}))
	}
	if res, err := p.BatchAll(ctx, adds); err != nil || len(res.Failed()) > 0 {
		t.Fatalf("add statuses: %v %v", err, res.Failed())
	}
	e.sim.ResetLog()

	pages, _, err := p.ListAll(ctx, []bitrix.ListCommand{
		{Name: "statuses", Method: "crm.status.list", Params: map[string]any{"order": map[string]string{"SORT": "ASC"}}},
		{Name: "sources", Method: "crm.status.list", Params: map[string]any{"filter": map[string]any{"ENTITY_ID": "SOURCE"}}},
		{Name: "categories", Method: "crm.category.list", Params: map[string]any{"entityTypeId": 2}, RowsKey: "categories"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var sources []struct {
		StatusID string `json:"STATUS_ID"`
	}
	if err := pages.Decode("sources", &sources); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, s := range sources {
		seen[s.StatusID] = true
	}
	// 9 default sources and the 300 added, each once.
	if len(sources) != 309 || len(seen) != 309 || !seen["SRC_0"] || !seen["SRC_299"] || !seen["CALL"] {
		t.Errorf("sources: %d rows, %d distinct", len(sources), len(seen))
	}
	if n := len(pages["statuses"]); n <= 309 {
		t.Errorf("every status: %d rows", n)
	}
	if n := len(pages["categories"]); n != 1 {
		t.Errorf("categories: %d", n)
	}
	if n := len(e.sim.Requests()); n != 2 {
		t.Errorf("requests = %d, want 2 (the first pages, then the rest)", n)
	}
}
