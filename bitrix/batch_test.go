package bitrix

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestBatchOrderRefsAndResults(t *testing.T) {
	e := setup(t)
	fb := newFakeBatch(t)
	e.handle("batch", fb.ServeHTTP)
	fb.methods["crm.deal.get"] = func(q url.Values) (any, *APIError) {
		return map[string]string{"ID": q.Get("id"), "COMPANY_ID": "77"}, nil
	}
	fb.methods["crm.company.get"] = func(q url.Values) (any, *APIError) {
		return map[string]string{"ID": q.Get("id"), "TITLE": "Acme & Co"}, nil
	}
	fb.methods["crm.status.list"] = func(q url.Values) (any, *APIError) {
		return []map[string]string{{"STATUS_ID": "NEW", "ENTITY_ID": q.Get("filter[ENTITY_ID]")}}, nil
	}
	cmds := []Command{
		Cmd("deal", "crm.deal.get", map[string]any{"id": 7405}),
		Cmd("company", "crm.company.get", map[string]any{"id": "$result[deal][COMPANY_ID]"}),
		Cmd("c10", "crm.status.list", map[string]any{"filter": map[string]string{"ENTITY_ID": "DEAL_STAGE"}}),
		Cmd("c2", "crm.deal.get", map[string]any{"id": 2}),
	}
	res, _, err := e.portal.Batch(context.Background(), cmds, true)
	if err != nil {
		t.Fatal(err)
	}
	// Commands must run in the order given, not sorted by name.
	want := []string{
		"crm.deal.get?id=7405",
		"crm.company.get?id=$result[deal][COMPANY_ID]",
		"crm.status.list?filter[ENTITY_ID]=DEAL_STAGE",
		"crm.deal.get?id=2",
	}
	if d := cmp.Diff(want, fb.request(0)); d != "" {
		t.Errorf("commands (-want +got):\n%s", d)
	}
	if !fb.halts[0] {
		t.Error("halt not sent")
	}
	var company struct{ ID ID }
	if err := res.Decode("company", &company); err != nil || company.ID != 77 {
		t.Errorf("company = %+v, %v", company, err)
	}
	if d := cmp.Diff([]string{"deal", "company", "c10", "c2"}, res.Executed()); d != "" {
		t.Errorf("Executed (-want +got):\n%s", d)
	}
	if len(res.Failed()) != 0 || len(res.Skipped()) != 0 {
		t.Errorf("Failed=%v Skipped=%v", res.Failed(), res.Skipped())
	}
	infos := e.requests()
	if len(infos) != 1 || infos[0].Method != "batch" || infos[0].Commands != 4 {
		t.Errorf("hook = %+v", infos)
	}
}

func TestBatchSections(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		executed []string
		failed   []string
		skipped  []string
		totals   map[string]int
		nexts    map[string]int
	}{
		{"empty arrays", `{"result":{"result":{"a":{"ID":"1"},"b":true},"result_error":[],"result_total":[],"result_next":[],"result_time":[]}}`,
			[]string{"a", "b"}, nil, nil, map[string]int{}, map[string]int{}},
		{"all failed, result []", `{"result":{"result":[],"result_error":{"a":{"error":"","error_description":"Not found"},"b":{"error":"ACCESS_DENIED","error_description":"Access denied"}},"result_total":[],"result_next":[],"result_time":[]}}`,
			nil, []string{"a", "b"}, nil, map[string]int{}, map[string]int{}},
		{"objects and totals", `{"result":{"result":{"a":[{"ID":"1"}]},"result_error":{},"result_total":{"a":"125"},"result_next":{"a":50},"result_time":{"a":{"start":1,"operating":2.5}}}}`,
			[]string{"a"}, nil, []string{"b"}, map[string]int{"a": 125}, map[string]int{"a": 50}},
		{"missing sections", `{"result":{"result":{"a":1}}}`,
			[]string{"a"}, nil, []string{"b"}, map[string]int{}, map[string]int{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t)
			e.handle("batch", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, tt.body) })
			res, _, err := e.portal.Batch(context.Background(), []Command{Cmd("a", "crm.deal.get", nil), Cmd("b", "crm.deal.get", nil)}, false)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.executed, res.Executed()); d != "" {
				t.Errorf("Executed (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.failed, res.Failed()); d != "" {
				t.Errorf("Failed (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.skipped, res.Skipped()); d != "" {
				t.Errorf("Skipped (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.totals, res.Totals); d != "" {
				t.Errorf("Totals (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.nexts, res.Nexts); d != "" {
				t.Errorf("Nexts (-want +got):\n%s", d)
			}
		})
	}
}

func TestBatchPartialFailure(t *testing.T) {
	e := setup(t)
	fb := newFakeBatch(t)
	e.handle("batch", fb.ServeHTTP)
	fb.methods["crm.deal.get"] = func(q url.Values) (any, *APIError) {
		if q.Get("id") == "2" {
			return nil, &APIError{Code: "", Description: "Not found"}
		}
		return map[string]string{"ID": q.Get("id")}, nil
	}
	cmds := []Command{Cmd("d1", "crm.deal.get", map[string]int{"id": 1}), Cmd("d2", "crm.deal.get", map[string]int{"id": 2}), Cmd("d3", "crm.deal.get", map[string]int{"id": 3})}

	res, _, err := e.portal.Batch(context.Background(), cmds, false)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"d1", "d3"}, res.Executed()); d != "" {
		t.Errorf("Executed: %s", d)
	}
	if err := res.Err("d2"); !IsNotFound(err) {
		t.Errorf("d2 err = %v", err)
	}
	var v struct{ ID ID }
	if err := res.Decode("d2", &v); !IsNotFound(err) {
		t.Errorf("Decode(d2) = %v", err)
	}
	if ae := res.Errors["d2"]; ae.Status != 200 || ae.Method != "crm.deal.get" {
		t.Errorf("APIError = %+v", ae)
	}

	// With halt, d3 never runs.
	res, _, err = e.portal.Batch(context.Background(), cmds, true)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"d3"}, res.Skipped()); d != "" {
		t.Errorf("Skipped: %s", d)
	}
	if err := res.Err("d3"); !errors.Is(err, ErrNotRun) {
		t.Errorf("d3 err = %v", err)
	}
	if fb.requestCount() != 2 {
		t.Errorf("requests = %d: a real failure must not be retried", fb.requestCount())
	}
}

func TestBatchWriteRetryRules(t *testing.T) {
	qle := &APIError{Code: "QUERY_LIMIT_EXCEEDED", Description: "Too many requests"}
	otl := &APIError{Code: "OPERATION_TIME_LIMIT", Description: "Method is blocked due to operation time limit."}
	ise := &APIError{Code: "INTERNAL_SERVER_ERROR", Description: "Internal server error"}
	tests := []struct {
		name string
		cmds []Command
		halt bool
		// fail returns the error for a command on a given request (0-based).
		fail     func(name string, req int) *APIError
		requests [][]string // command names sent per request
		executed []string
		failed   []string
	}{
		{
			name: "only the refused command is resent",
			cmds: []Command{Cmd("a", "crm.deal.update", nil), Cmd("b", "crm.deal.update", nil), Cmd("c", "crm.deal.update", nil)},
			fail: func(n string, req int) *APIError {
				if n == "b" && req == 0 {
					return qle
				}
				return nil
			},
			requests: [][]string{{"a", "b", "c"}, {"b"}},
			executed: []string{"a", "b", "c"},
		},
		{
			name: "a failure that may have run is not resent",
			cmds: []Command{Cmd("a", "crm.deal.update", nil), Cmd("b", "crm.deal.update", nil)},
			fail: func(n string, req int) *APIError {
				if n == "b" {
					return ise
				}
				return nil
			},
			requests: [][]string{{"a", "b"}},
			executed: []string{"a"},
			failed:   []string{"b"},
		},
		{
			name: "halt after a refused command resends it and the skipped ones",
			cmds: []Command{Cmd("a", "crm.deal.update", nil), Cmd("b", "crm.contact.update", nil), Cmd("c", "crm.deal.update", nil)},
			halt: true,
			fail: func(n string, req int) *APIError {
				if n == "b" && req == 0 {
					return otl
				}
				return nil
			},
			requests: [][]string{{"a", "b", "c"}, {"b", "c"}},
			executed: []string{"a", "b", "c"},
		},
		{
			name: "a command referring to one that already ran is not resent",
			cmds: []Command{Cmd("a", "crm.deal.add", nil), Cmd("b", "crm.deal.update", map[string]string{"id": "$result[a]"})},
			fail: func(n string, req int) *APIError {
				if n == "b" {
					return qle
				}
				return nil
			},
			requests: [][]string{{"a", "b"}},
			executed: []string{"a"},
			failed:   []string{"b"},
		},
		{
			name: "refused chain is resent whole",
			cmds: []Command{Cmd("a", "crm.deal.add", nil), Cmd("b", "crm.deal.update", map[string]string{"id": "$result[a]"})},
			halt: true,
			fail: func(n string, req int) *APIError {
				if n == "a" && req == 0 {
					return qle
				}
				return nil
			},
			requests: [][]string{{"a", "b"}, {"a", "b"}},
			executed: []string{"a", "b"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t)
			fb := newFakeBatch(t)
			e.handle("batch", fb.ServeHTTP)
			for _, c := range tt.cmds {
				fb.methods[c.Method] = func(url.Values) (any, *APIError) { return true, nil }
			}
			fb.fail = tt.fail
			res, _, err := e.portal.Batch(context.Background(), tt.cmds, tt.halt)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.requests, fb.sentNames()); d != "" {
				t.Errorf("requests (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.executed, res.Executed()); d != "" {
				t.Errorf("Executed (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.failed, res.Failed()); d != "" {
				t.Errorf("Failed (-want +got):\n%s", d)
			}
			if len(tt.requests) > 1 && len(e.clock.Sleeps()) == 0 {
				t.Error("resent without waiting")
			}
		})
	}
}

func TestBatchWholeRequestRetry(t *testing.T) {
	tests := []struct {
		name     string
		method   string
		status   int
		body     string
		wantHits int
		wantErr  bool
	}{
		{"write batch after 500", "crm.deal.update", 500, `{"error":"INTERNAL_SERVER_ERROR","error_description":"x"}`, 1, true},
		{"read batch after 500", "crm.deal.get", 500, `{"error":"INTERNAL_SERVER_ERROR","error_description":"x"}`, 2, false},
		{"write batch after query limit", "crm.deal.update", 503, `{"error":"QUERY_LIMIT_EXCEEDED","error_description":"Too many requests"}`, 2, false},
		{"write batch after expired token", "crm.deal.update", 401, `{"error":"expired_token","error_description":"expired"}`, 2, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t)
			e.oauth()
			hits := &counter{}
			e.handle("batch", func(w http.ResponseWriter, r *http.Request) {
				if hits.inc() == 1 {
					writeJSON(w, tt.status, tt.body)
					return
				}
				writeJSON(w, 200, `{"result":{"result":{"a":true},"result_error":[]}}`)
			})
			_, _, err := e.portal.Batch(context.Background(), []Command{Cmd("a", tt.method, nil)}, false)
			if (err != nil) != tt.wantErr {
				t.Errorf("err = %v", err)
			}
			if hits.get() != tt.wantHits {
				t.Errorf("hits = %d, want %d", hits.get(), tt.wantHits)
			}
		})
	}
}

func TestBatchAll(t *testing.T) {
	e := setup(t)
	fb := newFakeBatch(t)
	e.handle("batch", fb.ServeHTTP)
	fb.methods["crm.deal.update"] = func(q url.Values) (any, *APIError) { return true, nil }
	var cmds []Command
	for i := range 120 {
		cmds = append(cmds, Cmd(fmt.Sprintf("u%d", i), "crm.deal.update", map[string]any{"id": i, "fields": map[string]string{"TYPE_ID": "SALE"}}))
	}
	res, err := e.portal.BatchAll(context.Background(), cmds)
	if err != nil {
		t.Fatal(err)
	}
	if fb.requestCount() != 3 || len(res.Executed()) != 120 || len(res.Names) != 120 || res.Names[119] != "u119" {
		t.Errorf("requests = %d, executed = %d", fb.requestCount(), len(res.Executed()))
	}
	for i := range 3 {
		if fb.halts[i] {
			t.Error("BatchAll halts")
		}
	}
	if _, err := e.portal.BatchAll(context.Background(), []Command{Cmd("a", "crm.deal.get", map[string]string{"id": "$result[b][ID]"})}); err == nil {
		t.Error("BatchAll accepted a reference")
	}
}

func TestBatchValidation(t *testing.T) {
	e := setup(t)
	e.handle("batch", func(w http.ResponseWriter, r *http.Request) { t.Error("invalid batch sent") })
	many := make([]Command, 51)
	for i := range many {
		many[i] = Cmd(fmt.Sprintf("c%d", i), "crm.deal.get", nil)
	}
	tests := map[string][]Command{
		"too many":   many,
		"duplicate":  {Cmd("a", "crm.deal.get", nil), Cmd("a", "crm.deal.get", nil)},
		"bad name":   {Cmd("a]b", "crm.deal.get", nil)},
		"empty name": {Cmd("", "crm.deal.get", nil)},
		"nested":     {Cmd("a", "batch", nil)},
		"bad method": {Cmd("a", "crm.deal.get?x=1", nil)},
		"bad params": {Cmd("a", "crm.deal.get", []int{1})},
	}
	for name, cmds := range tests {
		if _, _, err := e.portal.Batch(context.Background(), cmds, false); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	res, _, err := e.portal.Batch(context.Background(), nil, false)
	if err != nil || len(res.Names) != 0 {
		t.Errorf("empty batch: %v", err)
	}
}
