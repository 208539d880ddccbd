package handlers_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"segmentor/app"
	"segmentor/app/segment"
	"segmentor/bitrix/b24sim"
)

// The Lists view takes an administrator from a CSV file to a saved list:
// upload, the report of matched, not found and ambiguous rows while
// nothing is written, then confirm, and the list is in the table.
func TestListUploadInBrowser(t *testing.T) {
	exe := chromium(t)
	s := newSettingsStack(t, "en")
	s.sim.Seed(b24sim.GenOptions{Contacts: 8, Companies: 2, Deals: 6})
	admin := s.login(1)
	applyConfig(t, s, admin, listBaseConfig)
	ctx, member := context.Background(), s.sim.MemberID()
	ids, err := app.NewMirror(s.rdb).IDs(ctx, member, segment.EntityContact)
	if err != nil || len(ids) < 4 {
		t.Fatalf("contacts: %v %v", ids, err)
	}
	slices.Sort(ids)
	for i, id := range ids[:2] {
		_ = s.sim.AddCommunication("contact", int(id), "EMAIL", fmt.Sprintf("visitor%d@expo.example", i))
	}
	_ = s.sim.AddCommunication("contact", int(ids[2]), "EMAIL", "team@expo.example")
	_ = s.sim.AddCommunication("contact", int(ids[3]), "EMAIL", "team@expo.example")
	file := filepath.Join(t.TempDir(), "expo.csv")
	if err := os.WriteFile(file, []byte("\uFEFFE-mail;Name\nvisitor0@expo.example;A\nVISITOR1@expo.example;B\nteam@expo.example;C\nghost@expo.example;D\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f := newFrames(t)
	b := newBrowser(t, exe, 120*time.Second)
	b.step("uploads a list",
		chromedp.EmulateViewport(1280, 900),
		chromedp.Navigate(f.openIn(t, s, 1, "en")),
		chromedp.WaitVisible(chromedp.CSS(`body[data-ready="admin"]`)),
		chromedp.Click(chromedp.ID("view-lists")),
		chromedp.WaitVisible(chromedp.ID("li-upload")),
		chromedp.SendKeys(chromedp.ID("li-up-name"), "Expo 2026"),
		chromedp.SetUploadFiles(chromedp.CSS(`#li-up-file`), []string{file}),
		chromedp.Click(chromedp.CSS(`[data-action="li-upload-go"]`)),
		waitFor(`!!document.getElementById('li-confirm')`),
	)
	for id, want := range map[string]string{"li-matched": "Matched records: 2", "li-notfound": "Not found: 1", "li-ambiguous": "Several records for one value (not added): 1"} {
		if got := b.eval(`document.getElementById("` + id + `").textContent`); got != want {
			t.Errorf("%s reads %q, want %q", id, got, want)
		}
	}
	if lists, _ := s.store.Lists(ctx, member); len(lists) != 0 {
		t.Fatalf("a list was written before confirming: %+v", lists)
	}
	b.step("confirms",
		chromedp.Click(chromedp.ID("li-confirm")),
		waitFor(`!!document.querySelector('#li-table tr[data-list="expo_2026"]')`),
	)
	got, err := s.store.ListIDs(ctx, member, "expo_2026")
	if err != nil || !slices.Equal(got, ids[:2]) {
		t.Errorf("list members %v, want %v (%v)", got, ids[:2], err)
	}
	if u := b.eval(`JSON.stringify(Segmentor.untranslated)`); u != "[]" {
		t.Errorf("untranslated texts: %s", u)
	}
	b.noJSErrors("end")
}
