package handlers_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"segmentor/app"
	"segmentor/app/segment"
	"segmentor/bitrix/b24sim"
	"segmentor/internal/await"
	"segmentor/internal/testkit"
)

// uploadList posts a list file as the settings page does (multipart).
func uploadList(t *testing.T, s *settingsStack, token string, data []byte, fields map[string]string) testkit.Reply {
	t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	for k, v := range fields {
		_ = w.WriteField(k, v)
	}
	fw, _ := w.CreateFormFile("file", "fair.csv")
	_, _ = fw.Write(data)
	_ = w.Close()
	req, _ := http.NewRequest("POST", s.web.URL+"/api/v1/list-uploads", &body)
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	return testkit.Send(t, req)
}

// waitDraft polls an upload until its report is ready.
func waitDraft(t *testing.T, s *settingsStack, token, id string) map[string]any {
	t.Helper()
	var d map[string]any
	await.That(t, time.Minute, "the upload to be matched", func() bool {
		r := s.do("GET", "/api/v1/list-uploads/"+id, token, nil)
		if r.Status != 200 {
			t.Fatalf("draft: %d %s", r.Status, r.Raw)
		}
		d = r.Body
		if d["state"] == "failed" {
			t.Fatalf("matching failed: %v", d["error"])
		}
		return d["state"] == "done"
	})
	return d
}

const listBaseConfig = `{"schemes": [{"entity": "contact", "segments": [
  {"key": "big", "name": "Big", "when": {"all": [{"fact": "won_count", "op": ">=", "value": 1000}]}, "set": {"label": true}}],
  "otherwise": {"key": "rest", "name": "Rest", "set": {"label": true}}}]}`

func listConfig(key string) string {
	return `{"schemes": [{"entity": "contact", "segments": [
  {"key": "fair", "name": "Fair visitors", "when": {"all": [{"fact": "static_list", "op": "in", "value": ["` + key + `"]}]}, "set": {"label": true}}],
  "otherwise": {"key": "rest", "name": "Rest", "set": {"label": true}}}]}`
}

// An uploaded CSV of e-mails (Excel's: a byte-order mark, semicolons, a
// header) is matched by the CRM's duplicate search into a report of
// matched, not found, ambiguous and unreadable rows; nothing is written
// until the admin confirms; then a rule on the list puts exactly its
// members in their segment, the explanation names the list, a freeze makes
// a list of the segment, and deleting the list takes its members out.
func TestListUploadConfirmAndRule(t *testing.T) {
	s := newSettingsStack(t, "en")
	s.sim.Seed(b24sim.GenOptions{Contacts: 12, Companies: 2, Deals: 10})
	admin, rep := s.login(1), s.login(s.rep.ID)
	applyConfig(t, s, admin, listBaseConfig)
	ctx, member, mirror := context.Background(), s.sim.MemberID(), app.NewMirror(s.rdb)
	ids, err := mirror.IDs(ctx, member, segment.EntityContact)
	if err != nil || len(ids) < 6 {
		t.Fatalf("mirror contacts: %v %v", ids, err)
	}
	slices.Sort(ids)
	for i, id := range ids[:4] {
		if err := s.sim.AddCommunication("contact", int(id), "EMAIL", fmt.Sprintf("guest%d@fair.example", i)); err != nil {
			t.Fatal(err)
		}
	}
	// One e-mail two contacts share: ambiguous, neither added.
	for _, id := range ids[4:6] {
		if err := s.sim.AddCommunication("contact", int(id), "EMAIL", "office@shared.example"); err != nil {
			t.Fatal(err)
		}
	}
	file := "\uFEFFName;E-mail\r\n" +
		"Ann;GUEST0@fair.example\r\n" +
		"Bob;\"guest1@fair.example\"\r\n" +
		"Cid; guest2@fair.example \r\n" +
		"Dan;nobody@fair.example\r\n" +
		"Eve;office@shared.example\r\n" +
		"Fay;not-an-email\r\n" +
		"Ann again;guest0@FAIR.example\r\n" +
		";\r\n"

	if r := uploadList(t, s, rep, []byte(file), map[string]string{"name": "Trade fair 2026"}); r.Status != 403 {
		t.Fatalf("a rep uploaded a list: %d %s", r.Status, r.Raw)
	}
	if r := uploadList(t, s, admin, []byte{0xff, 0xfe, 'a'}, map[string]string{"name": "X"}); r.Status != 422 && r.Status != 400 ||
		!strings.Contains(fmt.Sprint(r.Body["message"]), "UTF-8") {
		t.Fatalf("a file not in UTF-8: %d %s", r.Status, r.Raw)
	}
	r := uploadList(t, s, admin, []byte(file), map[string]string{"name": "Trade fair 2026", "entity": "contact"})
	if r.Status != 202 {
		t.Fatalf("upload: %d %s", r.Status, r.Raw)
	}
	id, _ := r.Body["id"].(string)
	d := waitDraft(t, s, admin, id)
	for k, want := range map[string]float64{"not_found": 1, "ambiguous": 1, "invalid": 1, "total": 5} {
		if d[k] != want {
			t.Errorf("%s = %v, want %v (%v)", k, d[k], want, d)
		}
	}
	if d["by"] != "email" {
		t.Errorf("by = %v", d["by"])
	}
	if n, _ := d["requests"].(float64); n < 1 || n > 2 {
		t.Errorf("requests = %v, want 1 or 2 for 6 values", d["requests"])
	}
	samples, _ := d["samples"].(map[string]any)
	amb, _ := samples["ambiguous"].([]any)
	if len(amb) != 1 || !strings.Contains(fmt.Sprint(amb[0]), "office@shared.example") {
		t.Errorf("ambiguous samples: %v", amb)
	}

	// Nothing written yet.
	if r := s.do("GET", "/api/v1/lists", admin, nil); r.Status != 200 || len(r.Body["lists"].([]any)) != 0 {
		t.Fatalf("lists before confirm: %d %s", r.Status, r.Raw)
	}
	if keys, _ := s.rdb.Keys(ctx, "seg:p:{"+member+"}:list:*").Result(); len(keys) != 0 {
		t.Fatalf("members written before confirm: %v", keys)
	}

	// The rows left out, for the admin to fix.
	nf := s.do("GET", "/api/v1/list-uploads/"+id+"/not-found.csv", admin, nil)
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(string(nf.Raw), "\uFEFF"))).ReadAll()
	if nf.Status != 200 || err != nil || len(rows) != 4 {
		t.Fatalf("not-found download: %d %v %q", nf.Status, err, nf.Raw)
	}
	if rows[1][1] != "nobody@fair.example" || rows[1][0] != "5" || !strings.Contains(rows[2][2], "several records") || rows[3][1] != "not-an-email" {
		t.Errorf("not-found rows: %q", rows)
	}

	// Confirm: the list holds the three matched contacts.
	c := s.do("POST", "/api/v1/list-uploads/"+id+"/confirm", admin, nil)
	if c.Status != 201 || c.Body["count"] != float64(3) || c.Body["key"] != "trade_fair_2026" {
		t.Fatalf("confirm: %d %s", c.Status, c.Raw)
	}
	members, err := s.store.ListIDs(ctx, member, "trade_fair_2026")
	if err != nil || !slices.Equal(members, ids[:3]) {
		t.Fatalf("members %v, want %v (%v)", members, ids[:3], err)
	}
	if r := s.do("GET", "/api/v1/list-uploads/"+id, admin, nil); r.Status != 404 {
		t.Errorf("the draft outlived its confirmation: %d", r.Status)
	}

	// A rule naming an unknown list is refused; the list's rule classifies.
	bad := s.do("POST", "/api/v1/config/validate", admin, map[string]any{"config": json.RawMessage(listConfig("nosuch"))})
	if !strings.Contains(string(bad.Raw), "there is no list") {
		t.Errorf("unknown list not refused: %s", bad.Raw)
	}
	applyConfig(t, s, admin, listConfig("trade_fair_2026"))
	keys := contactKeys(t, s, ids)
	for i, id := range ids {
		want := "rest"
		if i < 3 {
			want = "fair"
		}
		if keys[id] != want {
			t.Errorf("contact %d: %q, want %q", id, keys[id], want)
		}
	}
	rec := s.do("GET", fmt.Sprintf("/api/v1/records/contact/%d", ids[0]), admin, nil)
	if !strings.Contains(string(rec.Raw), "In list Trade fair 2026") {
		t.Errorf("explanation does not name the list: %s", rec.Raw)
	}

	// Freeze the segment: a list of the same three.
	f := s.do("POST", "/api/v1/lists/freeze", admin, map[string]string{"entity": "contact", "segment": "fair", "name": "Fair frozen"})
	if f.Status != 201 || f.Body["count"] != float64(3) || f.Body["source"] != "freeze" {
		t.Fatalf("freeze: %d %s", f.Status, f.Raw)
	}
	if r := s.do("PATCH", "/api/v1/lists/trade_fair_2026", admin, map[string]string{"name": "Fair 2026"}); r.Status != 200 || r.Body["name"] != "Fair 2026" {
		t.Fatalf("rename: %d %s", r.Status, r.Raw)
	}

	// Deleting the list takes its members out of the segment.
	if r := s.do("DELETE", "/api/v1/lists/trade_fair_2026", admin, nil); r.Status != 204 {
		t.Fatalf("delete: %d %s", r.Status, r.Raw)
	}
	await.That(t, time.Minute, "the members to leave the segment", func() bool {
		keys := contactKeys(t, s, ids[:3])
		return keys[ids[0]] == "rest" && keys[ids[1]] == "rest" && keys[ids[2]] == "rest"
	})
}

// contactKeys reads the contacts' segment keys from the mirror.
func contactKeys(t *testing.T, s *settingsStack, ids []int64) map[int64]string {
	t.Helper()
	rows, err := app.NewMirror(s.rdb).Clients(context.Background(), s.sim.MemberID(), segment.EntityContact, ids)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int64]string{}
	for id, cl := range rows {
		out[id] = cl.Key
	}
	return out
}
