package i18n

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	for code, want := range map[string]Lang{
		"en": EN, "ru": RU, "RU": RU, "ua": RU, "by": RU, "kz": RU, "pl": PL, "pl_PL": PL, "it": IT, "it-IT": IT,
		"de": EN, "": EN, "la": EN, " pl ": PL, "plx": EN,
	} {
		if got := Parse(code); got != want {
			t.Errorf("Parse(%q) = %s, want %s", code, got, want)
		}
	}
	if Lang("de").Known() != EN || PL.Known() != PL {
		t.Error("Known does not fall back to English")
	}
}

func TestPlural(t *testing.T) {
	const (
		pl = "%d kontakt|%d kontakty|%d kontaktów"
		ru = "%d контакт|%d контакта|%d контактов"
		it = "%d contatto|%d contatti"
		en = "%d contact|%d contacts"
	)
	cases := []struct {
		lang Lang
		text string
		n    float64
		want string
	}{
		{PL, pl, 0, "0 kontaktów"}, {PL, pl, 1, "1 kontakt"}, {PL, pl, 2, "2 kontakty"}, {PL, pl, 4, "4 kontakty"},
		{PL, pl, 5, "5 kontaktów"}, {PL, pl, 11, "11 kontaktów"}, {PL, pl, 12, "12 kontaktów"}, {PL, pl, 14, "14 kontaktów"},
		{PL, pl, 21, "21 kontaktów"}, {PL, pl, 22, "22 kontakty"}, {PL, pl, 101, "101 kontaktów"}, {PL, pl, 112, "112 kontaktów"},
		{PL, pl, 122, "122 kontakty"}, {PL, pl, 1004, "1004 kontakty"},
		{RU, ru, 1, "1 контакт"}, {RU, ru, 21, "21 контакт"}, {RU, ru, 11, "11 контактов"}, {RU, ru, 3, "3 контакта"},
		{RU, ru, 13, "13 контактов"}, {RU, ru, 111, "111 контактов"}, {RU, ru, 0, "0 контактов"},
		{IT, it, 1, "1 contatto"}, {IT, it, 0, "0 contatti"}, {IT, it, 2, "2 contatti"},
		{EN, en, 1, "1 contact"}, {EN, en, 21, "21 contacts"}, {"de", en, 1, "1 contact"},
	}
	for _, c := range cases {
		if got := strings.Replace(Plural(c.lang, c.n, c.text), "%d", fmtInt(c.n), 1); got != c.want {
			t.Errorf("%s %v: %q, want %q", c.lang, c.n, got, c.want)
		}
	}
	if got := Plural(PL, 1.5, "%s godzina|%s godziny|%s godzin"); got != "%s godziny" {
		t.Errorf("1.5 hours in Polish: %q", got)
	}
	if got := Plural(PL, 7, "no forms"); got != "no forms" {
		t.Errorf("a text without forms: %q", got)
	}
	if got := Plural(PL, 7, "two|forms"); got != "forms" {
		t.Errorf("too few forms take the last: %q", got)
	}
}

func fmtInt(n float64) string { return strconv.FormatFloat(n, 'f', -1, 64) }

func TestNumber(t *testing.T) {
	cases := []struct {
		lang Lang
		f    float64
		want string
	}{
		{EN, 125000.5, "125,000.5"}, {RU, 125000.5, "125\u00a0000,5"}, {PL, 125000.5, "125\u00a0000,5"}, {IT, 125000.5, "125.000,5"},
		{EN, 1234, "1,234"}, {RU, 1234, "1\u00a0234"}, {PL, 1234, "1234"}, {PL, 12345, "12\u00a0345"}, {IT, 1234, "1.234"},
		{EN, -1234567.891, "-1,234,567.89"}, {IT, 0.5, "0,5"}, {EN, -0.001, "0"}, {"de", 1000, "1,000"},
	}
	for _, c := range cases {
		if got := Number(c.lang, c.f); got != c.want {
			t.Errorf("Number(%s, %v) = %q, want %q", c.lang, c.f, got, c.want)
		}
	}
}

func TestDates(t *testing.T) {
	d := time.Date(2026, time.March, 3, 12, 0, 0, 0, time.UTC)
	for lang, want := range map[Lang][2]string{
		EN: {"3 March 2026", "3 Mar"}, RU: {"3 марта 2026", "3 мар"}, PL: {"3 marca 2026", "3 mar"}, IT: {"3 marzo 2026", "3 mar"},
	} {
		if got := Date(lang, d); got != want[0] {
			t.Errorf("Date in %s: %q, want %q", lang, got, want[0])
		}
		if got := DayMonth(lang, d); got != want[1] {
			t.Errorf("DayMonth in %s: %q, want %q", lang, got, want[1])
		}
	}
	if got := Date(PL, time.Date(2026, time.September, 1, 0, 0, 0, 0, time.UTC)); got != "1 września 2026" {
		t.Errorf("Date in Polish: %q", got)
	}
	if got := DayMonth(IT, time.Date(2026, time.December, 5, 0, 0, 0, 0, time.UTC)); got != "5 dic" {
		t.Errorf("DayMonth in Italian: %q", got)
	}
}

func TestCatalogCheck(t *testing.T) {
	c := Catalog[string]{
		EN: {"a": "%d days|%d day", "b": "Hello %s", "c": "{n} left", "only": "x"},
		RU: {"a": "%d дней|%d день|%d дня", "b": "Привет %s", "c": "осталось {n}", "only": "x"},
		PL: {"a": "%d dni|%d dzień", "b": "Cześć", "c": "zostało {m}", "only": "x", "extra": "y"},
		IT: {"a": "un giorno|%d giorni", "b": "Ciao %q", "c": "{n} rimasti", "only": ""},
	}
	got := strings.Join(c.Check(), "\n")
	for _, want := range []string{
		"pl: a has 2 plural forms, want 3",
		`pl: b says "Cześć", with [] where English has [%s]`,
		`pl: c says "zostało {m}"`,
		"pl: extra is not in English",
		"it: only is empty",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("Check misses %q:\n%s", want, got)
		}
	}
	for _, bad := range []string{"ru:", "it: a", "it: b", "it: c", "en:"} {
		if strings.Contains(got, bad) {
			t.Errorf("Check finds fault with a good translation (%s):\n%s", bad, got)
		}
	}
	if miss := (Catalog[int]{EN: {1: "x"}}).Check(); len(miss) != 3 {
		t.Errorf("a catalogue with only English: %v", miss)
	}
	if got := c.Text("de", "b"); got != "Hello %s" {
		t.Errorf("another language reads %q", got)
	}
	if got := c.Text(IT, "missing"); got != "" {
		t.Errorf("a missing key reads %q", got)
	}
	if got := c.Count(RU, "a", 2, 2); got != "2 день" {
		t.Errorf("Count: %q", got)
	}
	if got := c.Format(PL, "b"); got != "Cześć" {
		t.Errorf("Format: %q", got)
	}
}
