package handlers_test

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"testing"

	"segmentor/app"
	"segmentor/jobs"
	"segmentor/registry"
)

// newRegistryStack is the settings stack on a portal whose companies have
// a text field (UF_CRM_PKD), a number field (UF_CRM_STAFF) and a multiple
// text field (UF_CRM_TAGS). Its worker has no registry to ask: lookups an
// admin turns on are queued and do nothing, so what a test seeds stays.
func newRegistryStack(t *testing.T, lang string) *settingsStack {
	t.Helper()
	return newSettingsStackWired(t, lang, func(s *stack) {
		for _, f := range []map[string]any{
			{"FIELD_NAME": "PKD", "USER_TYPE_ID": "string", "EDIT_FORM_LABEL": "PKD code"},
			{"FIELD_NAME": "STAFF", "USER_TYPE_ID": "double", "EDIT_FORM_LABEL": "Staff"},
			{"FIELD_NAME": "TAGS", "USER_TYPE_ID": "string", "MULTIPLE": "Y", "EDIT_FORM_LABEL": "Tags"},
		} {
			s.Call("crm.company.userfield.add", map[string]any{"fields": f}, nil)
		}
	}, func(w *jobs.Worker) { w.Providers = nil })
}

// validNIP is the n-th valid NIP of a series the simulator's generator
// does not use.
func validNIP(n int) string {
	for i := n; ; i += 1000 {
		first := fmt.Sprintf("999%06d", i)
		if d, ok := registry.NIPCheckDigit(first); ok {
			return first + string(d)
		}
	}
}

// The registry settings API refuses, in the user's words and without
// changing anything, a key that is not the letters and digits GUS issues,
// a value or a field it cannot write to, and lookups turned on with no key
// to use; it never answers the key itself, and only administrators change
// the settings.
func TestRegistrySettingsAPI(t *testing.T) {
	s := newRegistryStack(t, "en")
	ctx, member := context.Background(), s.sim.MemberID()
	admin, rep := s.login(1), s.login(s.rep.ID)

	r := s.do("GET", "/api/v1/registry", rep, nil)
	if r.Status != 200 || r.Body["enabled"] != false || r.Body["has_key"] != false || r.Body["default_key"] != false {
		t.Fatalf("a rep reads the settings: %d %s", r.Status, r.Raw)
	}
	var fields []string
	for _, f := range r.Body["fields"].([]any) {
		f := f.(map[string]any)
		fields = append(fields, fmt.Sprint(f["id"], "=", f["name"]))
	}
	if got := strings.Join(fields, ","); got != "UF_CRM_PKD=PKD code" {
		t.Errorf("the fields offered for writing are %s, want the company text field only", got)
	}
	values := map[string]string{}
	for _, v := range r.Body["values"].([]any) {
		v := v.(map[string]any)
		values[v["id"].(string)] = v["name"].(string)
	}
	if len(values) != len(app.WriteBackValues) || values["pkd"] != "Main activity (PKD code)" || values["regon"] != "REGON" {
		t.Errorf("the values offered: %v", values)
	}

	for _, c := range []struct {
		name string
		body any
		says string
	}{
		{"a key with other characters", map[string]any{"key": "abc-123!"}, "letters and digits only"},
		{"a key too long", map[string]any{"key": strings.Repeat("a", 65)}, "at most 64"},
		{"an unknown value", map[string]any{"write_back": map[string]string{"nope": "UF_CRM_PKD"}}, "“nope” is not a registry value"},
		{"a standard field", map[string]any{"write_back": map[string]string{"pkd": "TITLE"}}, "TITLE is not a text field of companies"},
		{"a number field", map[string]any{"write_back": map[string]string{"pkd": "UF_CRM_STAFF"}}, "UF_CRM_STAFF is not a text field"},
		{"a multiple field", map[string]any{"write_back": map[string]string{"pkd": "UF_CRM_TAGS"}}, "UF_CRM_TAGS is not a text field"},
		{"a field the portal has not", map[string]any{"write_back": map[string]string{"pkd": "UF_CRM_GONE"}}, "UF_CRM_GONE is not a text field"},
		{"lookups on without a key", map[string]any{"enabled": true}, "Enter your GUS API key"},
		{"lookups on with a blank key", map[string]any{"enabled": true, "key": "   "}, "Enter your GUS API key"},
		{"not JSON", "enabled=1", ""},
	} {
		r := s.do("PUT", "/api/v1/registry", admin, c.body)
		if r.Status != 400 || r.Body["error"] != app.EInvalid || !strings.Contains(fmt.Sprint(r.Body["message"]), c.says) {
			t.Errorf("%s: %d %s, want 400 saying %q", c.name, r.Status, r.Raw, c.says)
		}
	}
	if rs, err := s.store.RegistrySettings(ctx, member); err != nil || rs.Enabled || rs.Key != "" || len(rs.WriteBack) != 0 {
		t.Fatalf("refused requests changed the settings: %+v %v", rs, err)
	}
	if r := s.do("PUT", "/api/v1/registry", rep, map[string]any{"enabled": false}); r.Status != 403 {
		t.Errorf("a rep changed the settings: %d %s", r.Status, r.Raw)
	}

	const key = "Abc123def456GHI789jk"
	r = s.do("PUT", "/api/v1/registry", admin, map[string]any{"enabled": true, "key": " " + key + " ",
		"write_back": map[string]string{"pkd": "UF_CRM_PKD", "name": ""}})
	if r.Status != 200 || r.Body["enabled"] != true || r.Body["has_key"] != true || fmt.Sprint(r.Body["write_back"]) != "map[pkd:UF_CRM_PKD]" {
		t.Fatalf("turning lookups on: %d %s", r.Status, r.Raw)
	}
	if strings.Contains(string(r.Raw), key) {
		t.Errorf("the answer holds the key: %s", r.Raw)
	}
	rs, err := s.store.RegistrySettings(ctx, member)
	if err != nil || !rs.Enabled || rs.Key != key || !maps.Equal(rs.WriteBack, map[string]string{"pkd": "UF_CRM_PKD"}) {
		t.Fatalf("saved %+v %v", rs, err)
	}
	// The key stays while absent; "" removes it, which lookups that are on
	// cannot do without.
	if r := s.do("PUT", "/api/v1/registry", admin, map[string]any{"write_back": map[string]string{}}); r.Status != 200 || r.Body["has_key"] != true {
		t.Errorf("a PUT without a key: %d %s", r.Status, r.Raw)
	}
	if r := s.do("PUT", "/api/v1/registry", admin, map[string]any{"key": ""}); r.Status != 400 || !strings.Contains(fmt.Sprint(r.Body["message"]), "Enter your GUS API key") {
		t.Errorf("removing the key of lookups that are on: %d %s", r.Status, r.Raw)
	}
	if r := s.do("PUT", "/api/v1/registry", admin, map[string]any{"enabled": false, "key": ""}); r.Status != 200 || r.Body["has_key"] != false || r.Body["enabled"] != false {
		t.Errorf("turning lookups off and removing the key: %d %s", r.Status, r.Raw)
	}

	// The editor's choices of the registry facts come with the reference.
	ref := s.do("GET", "/api/v1/reference", rep, nil)
	regions, _ := ref.Body["registry_regions"].([]any)
	status := ref.Body["words"].(map[string]any)["values"].(map[string]any)["registry:status"].(map[string]any)
	if len(regions) != 16 || regions[6] != "Mazowieckie" || status["closed"] != "closed (struck off)" {
		t.Errorf("the reference's registry choices: regions %v, status %v", regions, status)
	}
}
