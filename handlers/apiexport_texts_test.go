package handlers

import (
	"testing"

	"segmentor/app/i18n"
)

// The export's words are in every language, with the same verbs.
func TestExportTextsInEveryLanguage(t *testing.T) {
	for _, f := range exportTexts.Check() {
		t.Error(f)
	}
	for _, lang := range i18n.All() {
		if got := exportText(string(lang), "pending", "X"); got == "" || got == exportText("en", "pending", "X") && lang != i18n.EN {
			t.Errorf("%s: pending reads %q", lang, got)
		}
	}
}

// A cell a spreadsheet would read as a formula gets a leading apostrophe;
// any other is left as it is.
func TestExportCSVCellEscapesFormulas(t *testing.T) {
	for in, want := range map[string]string{
		`=HYPERLINK("https://evil.example/")`: `'=HYPERLINK("https://evil.example/")`,
		"+7 495 123-45-67":                    "'+7 495 123-45-67",
		"-2+3":                                "'-2+3",
		"@SUM(A1:A9)":                         "'@SUM(A1:A9)",
		"\t=1":                                "'\t=1",
		"\r=1":                                "'\r=1",
		"Anna Ivanova":                        "Anna Ivanova",
		"Order #12":                           "Order #12",
		"a=b":                                 "a=b",
		"":                                    "",
		"Ölwerk GmbH":                         "Ölwerk GmbH",
	} {
		if got := csvCell(in); got != want {
			t.Errorf("csvCell(%q) = %q, want %q", in, got, want)
		}
	}
}
