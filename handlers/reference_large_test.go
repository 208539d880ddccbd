package handlers_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"segmentor/bitrix/b24sim"
	"segmentor/handlers"
)

// A portal with 300 more sources and a pipeline of 14 stages, whose values
// sit far past crm.status.list's first 50-row page
// (api-reference/crm/status/crm-status-list.md): the pickers offer every
// one, and a config using the last of them validates.
func TestReferenceOfALargePortal(t *testing.T) {
	var bigPipe int
	s := newSettingsStackWith(t, "en", func(sim *b24sim.Portal) {
		tok := sim.IssueTokens(1).AccessToken
		cmds := map[string]string{}
		for i := range 300 {
			cmds[fmt.Sprintf("s%03d", i)] = fmt.Sprintf("crm.status.add?fields[ENTITY_ID]=SOURCE&fields[STATUS_ID]=SRC_%d&fields[NAME]=Source+%d&fields[SORT]=%d", i, i, 1000+i)
		}
		for start := 0; start < 300; start += 50 {
			part := map[string]string{}
			for i := start; i < start+50; i++ {
				k := fmt.Sprintf("s%03d", i)
				part[k] = cmds[k]
			}
			body, _ := json.Marshal(map[string]any{"halt": 1, "cmd": part, "auth": tok})
			resp, err := http.Post(sim.ClientEndpoint()+"batch", "application/json", bytes.NewReader(body))
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("add sources: %v %v", err, resp)
			}
			resp.Body.Close()
		}
		stages := make([]string, 12)
		for i := range stages {
			stages[i] = fmt.Sprintf("STEP_%d", i+1)
		}
		bigPipe = sim.AddPipeline("Long road", stages...)
	})
	admin := s.login(1)
	r := s.do("GET", "/api/v1/reference", admin, nil)
	if r.Status != 200 {
		t.Fatalf("reference: %d %s", r.Status, r.Raw)
	}
	var ref handlers.Pickers
	decodeJSON(t, r.Raw, &ref)
	sources := map[string]bool{}
	for _, v := range ref.Sources {
		sources[v.ID] = true
	}
	if len(ref.Sources) != 309 || !sources["SRC_0"] || !sources["SRC_299"] || !sources["CALL"] {
		t.Errorf("the picker offers %d sources (want 309 with SRC_0, SRC_299 and CALL)", len(ref.Sources))
	}
	var stages []handlers.RefValue
	for _, p := range ref.Pipelines {
		if p.ID == bigPipe {
			stages = p.Stages
		}
	}
	if len(stages) != 14 || stages[13].ID != fmt.Sprintf("C%d:LOSE", bigPipe) {
		t.Fatalf("pipeline %d offers %d stages: %v", bigPipe, len(stages), stages)
	}
	if len(ref.Types["contact"]) == 0 || len(ref.Types["company"]) == 0 || len(ref.Types["deal"]) == 0 {
		t.Errorf("types missing: %v", ref.Types)
	}
	cfg := fmt.Sprintf(`{"schemes": [
	  {"entity": "contact", "segments": [{"key": "late", "name": "Late source",
	    "when": {"all": [{"fact": "field:SOURCE_ID", "op": "in", "value": ["SRC_299", "SRC_150"]}]}, "set": {"type": "PARTNER", "label": true}}]},
	  {"entity": "deal", "segments": [{"key": "long", "name": "Long road",
	    "when": {"all": [{"fact": "field:STAGE_ID", "op": "=", "value": "C%[1]d:STEP_12"}, {"fact": "field:CATEGORY_ID", "op": "=", "value": %[1]d}]},
	    "set": {"type": "SERVICE", "pipeline": {"category_id": %[1]d, "stage_id": "C%[1]d:STEP_11", "apply": "always"}}}]}]}`, bigPipe)
	if r := s.do("POST", "/api/v1/config/validate", admin, map[string]any{"config": json.RawMessage(cfg)}); r.Status != 200 || len(r.Body["errors"].([]any)) != 0 {
		t.Fatalf("a config using values past the first page: %d %s", r.Status, r.Raw)
	}
}
