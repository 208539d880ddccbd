package handlers_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"segmentor/bitrix/b24sim"
)

// On a segment's page an administrator downloads its members: the button,
// in the page's language, hands over the API's CSV as a file; a sales rep
// has no such button.
func TestExportMembersButtonInBrowser(t *testing.T) {
	exe := chromium(t)
	s := newSettingsStack(t, "en")
	s.sim.Seed(b24sim.GenOptions{Contacts: 60, Companies: 10, Deals: 200})
	admin := s.login(1)
	applyConfig(t, s, admin, savedInsightConfig)
	f := newFrames(t)
	b := newBrowser(t, exe, 180*time.Second)
	labels := map[string]string{"en": "Download members (CSV)", "ru": "Скачать записи сегмента (CSV)",
		"pl": "Pobierz rekordy segmentu (CSV)", "it": "Scarica i record del segmento (CSV)"}
	for _, lang := range []string{"en", "ru", "pl", "it"} {
		token := loginIn(t, s, 1, lang)
		b.step("opens Buyer's page in "+lang,
			chromedp.EmulateViewport(1280, 900),
			chromedp.Navigate(f.openIn(t, s, 1, lang)),
			chromedp.WaitVisible(chromedp.CSS(`body[data-ready="admin"]`)),
			waitFor(`!!document.querySelector('.ov-scheme[data-entity="contact"] tr[data-key="buyer"] .seg-link')`),
			chromedp.Click(chromedp.CSS(`.ov-scheme[data-entity="contact"] tr[data-key="buyer"] .seg-link`)),
			waitFor(`!!document.querySelector('#seg-page[data-key="buyer"] #seg-export')`),
		)
		if got := b.eval(`document.getElementById("seg-export").textContent`); got != labels[lang] {
			t.Errorf("%s: the button reads %q, want %q", lang, got, labels[lang])
		}
		if u := b.eval(`JSON.stringify(Segmentor.untranslated)`); u != "[]" {
			t.Errorf("%s: untranslated texts: %s", lang, u)
		}
		b.step("downloads the members in "+lang,
			chromedp.Evaluate[chromedp.Void](`window.csvText = null; window.csvName = null; (() => { const make = URL.createObjectURL;
				URL.createObjectURL = blob => { blob.text().then(x => { window.csvText = x; }); return make.call(URL, blob); };
				const click = HTMLAnchorElement.prototype.click;
				HTMLAnchorElement.prototype.click = function () { if (this.download) window.csvName = this.download; return click.call(this); }; })()`),
			chromedp.Click(chromedp.ID("seg-export")),
			waitFor(`window.csvText !== null && window.csvName !== null && !document.getElementById("seg-export").disabled`),
		)
		want := s.do("GET", "/api/v1/segments/contact/buyer/members.csv", token, nil)
		if want.Status != 200 {
			t.Fatalf("%s: the API's export: %d %s", lang, want.Status, want.Raw)
		}
		got := b.eval(`window.csvText`)
		if strings.TrimPrefix(got, "\ufeff") != strings.TrimPrefix(string(want.Raw), "\ufeff") || strings.Count(got, "\n") < 2 {
			t.Errorf("%s: the file downloaded is\n%s\nthe API's\n%s", lang, got, want.Raw)
		}
		if name := b.eval(`window.csvName`); name != "members-contact-buyer.csv" {
			t.Errorf("%s: the file is named %q", lang, name)
		}
	}
	b.noJSErrors("end")

	rep := b.tab()
	rep.step("rep opens Buyer's page",
		chromedp.EmulateViewport(1280, 900),
		chromedp.Navigate(f.openIn(t, s, s.rep.ID, "en")),
		chromedp.WaitVisible(chromedp.CSS(`body[data-ready="readonly"]`)),
		waitFor(`!!document.querySelector('.ov-scheme[data-entity="contact"] tr[data-key="buyer"] .seg-link')`),
		chromedp.Click(chromedp.CSS(`.ov-scheme[data-entity="contact"] tr[data-key="buyer"] .seg-link`)),
		waitFor(`!!document.querySelector('#seg-page[data-key="buyer"] #seg-count [data-count]')`),
	)
	if got := rep.eval(`String(!!document.getElementById("seg-export"))`); got != "false" {
		t.Error("a sales rep is offered the members' download")
	}
	rep.noJSErrors("end")
}
