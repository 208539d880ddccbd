package handlers_test

import (
	"encoding/json"
	"testing"
	"time"

	"segmentor/internal/await"

	"segmentor/bitrix/b24sim"
)

// Saving a config recomputes the base; the job's progress is readable until
// it reaches the end, and the portal's records then carry their segments.
func TestSaveRecomputesAndProgressReachesTheEnd(t *testing.T) {
	s := newSettingsStack(t, "en")
	s.sim.Seed(b24sim.GenOptions{Contacts: 200, Companies: 30, Deals: 600})
	admin, rep := s.login(1), s.login(s.rep.ID)

	if r := s.do("POST", "/api/v1/recompute", admin, map[string]any{}); r.Status != 409 {
		t.Fatalf("recompute before any config: %d %s", r.Status, r.Raw)
	}
	r := s.do("PUT", "/api/v1/config", admin, map[string]any{"base_version": 0, "config": json.RawMessage(vipConfig)})
	if r.Status != 200 || r.Body["job_id"] != "backfill" {
		t.Fatalf("save: %d %s", r.Status, r.Raw)
	}
	var last map[string]any
	await.That(t, 90*time.Second, "the backfill to end", func() bool {
		r = s.do("GET", "/api/v1/jobs/backfill", rep, nil) // any user may watch
		if r.Status != 200 {
			t.Fatalf("progress: %d %s", r.Status, r.Raw)
		}
		last = r.Body
		return last["state"] == "done" || last["state"] == "failed"
	})
	if last["state"] != "done" || last["done"] != last["total"] || last["total"].(float64) < 200 || len(last["errors"].([]any)) != 0 {
		t.Fatalf("final progress = %v", last)
	}
	labelled := 0
	for c := range s.sim.Records("contact") {
		if v, ok := c["UF_CRM_SEGMENTOR"]; ok && v != nil && v != "" {
			labelled++
		}
	}
	if labelled != 200 {
		t.Errorf("%d of 200 contacts carry a Segment after the recompute (VIP or Regular covers everyone)", labelled)
	}
	// A second recompute by hand; a rep may not start one; unknown jobs are 404.
	if r := s.do("POST", "/api/v1/recompute", admin, map[string]any{}); r.Status != 202 || r.Body["job_id"] != "backfill" {
		t.Errorf("recompute: %d %s", r.Status, r.Raw)
	}
	if r := s.do("POST", "/api/v1/recompute", rep, map[string]any{}); r.Status != 403 {
		t.Errorf("recompute by a rep: %d", r.Status)
	}
	if r := s.do("GET", "/api/v1/jobs/other", admin, nil); r.Status != 404 {
		t.Errorf("unknown job: %d", r.Status)
	}
	t.Logf("recompute of %v records: %v records written", last["total"], last["writes"])
}
