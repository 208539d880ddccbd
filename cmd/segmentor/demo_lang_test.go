package main

import (
	"context"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"segmentor/app/i18n"
	"segmentor/bitrix/b24sim"
	"segmentor/internal/await"
)

// The demo with -lang pl: its portal is installed in Polish, so what the
// demo prints, the card tabs' title it names, the trigger the app
// registers in the portal and the settings page it links to are in
// Polish, with Polish numbers; and it says it stopped in Polish.
func TestDemoInPolish(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole demo")
	}
	t.Parallel()
	var out, logs syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	live := make(chan *demoRun, 1)
	done := make(chan error, 1)
	opts := demoOptions{Listen: "127.0.0.1:0", listenSet: true, Contacts: 80, Companies: 20, Deals: 600,
		Pace: 25 * time.Millisecond, Refresh: 300 * time.Millisecond, Seed: 5, Lang: i18n.PL,
		Log: slog.New(slog.NewJSONHandler(&logs, nil))}
	go func() { done <- runDemo(ctx, opts, &out, func(d *demoRun) { live <- d }) }()
	var d *demoRun
	select {
	case d = <-live:
	case err := <-done:
		t.Fatalf("demo stopped before it was live: %v\n%s", err, out.String())
	case <-time.After(90 * time.Second):
		t.Fatalf("demo not live within 90s:\n%s", out.String())
	}

	text := out.String()
	for _, want := range []string{
		"Demo Segmentor: symulowany portal Bitrix24",
		"instalacja Segmentor jako administrator portalu … zdarzenia zasubskrybowane",
		"przeliczenie [", "100%", "pierwsze przeliczenie zakończone w",
		"Strona ustawień, zalogowany administrator portalu:  " + d.front + "/\n",
		"Zakładka „Segment” w karcie kontaktu, firmy lub deala",
		"kontakt VIP:", d.front + "/card/contact\n", d.front + "/card/deal\n",
		"Podsumowanie co 300ms:",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the Polish demo's output lacks %q:\n%s", want, text)
		}
	}
	for _, english := range []string{"records written", "Settings page", "installing Segmentor", "backfill done"} {
		if strings.Contains(text, english) {
			t.Errorf("the Polish demo's output says %q:\n%s", english, text)
		}
	}
	// The trigger premium deals fire is named in Polish in the portal.
	if !slices.ContainsFunc(d.sim.Triggers(), func(tr b24sim.TriggerInfo) bool {
		return tr.Name == "Segmentor: deal trafił do segmentu Premium"
	}) {
		t.Errorf("the portal's triggers: %+v", d.sim.Triggers())
	}

	// The live summary, row by row, lined up under the longest label.
	n := `[\d\x{a0}]+`
	patterns := []*regexp.Regexp{
		regexp.MustCompile(`(?m)^kontakty +VIP ` + n + ` · Loyal ` + n + ` · New ` + n),
		regexp.MustCompile(`(?m)^deale +Premium ` + n + ` · .* · w lejku „Premium”: ` + n + `$`),
		regexp.MustCompile(`(?m)^zdarzenia +odebrane: ` + n + `; do kolejki: ` + n + `, dołączone do czekającego zadania: ` + n + `, odrzucone: 0$`),
		regexp.MustCompile(`(?m)^działania +uruchomione wyzwalacze: ` + n + ` · wpisy na osi czasu: ` + n + ` · powiadomienia: ` + n +
			` · reguła automatyzacji „Segmentor: określ segment” zarejestrowana$`),
		regexp.MustCompile(`(?m)^REST +żądania: ` + n + ` w .+; limit portalu \(2/s, chwilowo 50\) pozwala na ` + n + ` · odrzucone z QUERY_LIMIT_EXCEEDED: 0$`),
		regexp.MustCompile(`(?m)^── \d\d:\d\d:\d\d · .+ od pierwszego przeliczenia · użytkownicy: edycje: ` + n),
	}
	var missing []*regexp.Regexp
	if !await.Poll(30*time.Second, func() bool {
		text, missing = out.String(), nil
		for _, re := range patterns {
			if !re.MatchString(text) {
				missing = append(missing, re)
			}
		}
		return len(missing) == 0
	}) {
		t.Errorf("no Polish summary with %v:\n%s", missing, out.String())
	}
	labels := regexp.MustCompile(`(?m)^(kontakty|firmy|deale|zdarzenia|działania|przejścia|trend|REST) +\S`).FindAllStringIndex(out.String(), -1)
	if len(labels) < 8 {
		t.Errorf("the summary has %d labelled rows, want 8", len(labels))
	}
	for _, at := range labels {
		// The labels are ten characters wide, then a space, then the text.
		row := []rune(out.String()[at[0]:at[1]])
		if len(row) != 10+1+1 {
			t.Errorf("the row %q does not line up under the longest label", string(row))
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("demo stopped with %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("demo did not stop within 30s of Ctrl-C")
	}
	if text := out.String(); !strings.Contains(text, "Zatrzymywanie:") || !strings.HasSuffix(text, "\nZatrzymano.\n") {
		t.Errorf("no Polish stop messages:\n%s", text)
	}
}
