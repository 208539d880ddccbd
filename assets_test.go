package segmentor

import (
	"io/fs"
	"strings"
	"testing"
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
	for _, p := range m.Placements {
		if p.Title["en"] == "" || p.Title["ru"] == "" {
			t.Errorf("placement %s needs EN and RU titles", p.Code)
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
