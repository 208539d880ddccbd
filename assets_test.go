package segmentor

import (
	"io/fs"
	"strings"
	"testing"

	"segmentor/app/i18n"
)

func TestManifest(t *testing.T) {
	m, err := LoadManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"crm", "placement", "user_brief"} {
		if !contains(m.Scopes, s) {
			t.Errorf("scope %q missing from app.json", s)
		}
	}
	for _, ev := range []string{"ONCRMDEALUPDATE", "ONCRMDEALMOVETOCATEGORY", "ONAPPUPDATE", "ONAPPUNINSTALL"} {
		if !contains(m.Events, ev) {
			t.Errorf("event %q missing from app.json", ev)
		}
	}
	if len(m.Placements) != 3 {
		t.Errorf("placements = %d, want the 3 CRM card tabs", len(m.Placements))
	}
	for _, lang := range i18n.All() {
		for _, p := range m.Placements {
			if p.Title[string(lang)] == "" {
				t.Errorf("placement %s has no title in %s", p.Code, lang)
			}
		}
		if m.SegmentField.Label[string(lang)] == "" {
			t.Errorf("the segment field has no label in %s", lang)
		}
		if m.Description[string(lang)] == "" {
			t.Errorf("the app has no description in %s", lang)
		}
	}
	if n := len("UF_CRM_" + m.SegmentField.FieldName); n > 20 {
		t.Errorf("segment field name is %d chars with prefix; old portals allow 20", n)
	}
	for _, e := range m.Env {
		if e.Meaning == "" || strings.TrimSpace(e.Name) == "" {
			t.Errorf("env var %+v needs a name and a meaning", e)
		}
	}
}

func TestStaticHasPages(t *testing.T) {
	if _, err := fs.Stat(Static(), "index.html"); err != nil {
		t.Fatalf("static/index.html: %v", err)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
