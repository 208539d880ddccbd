package gus

import (
	"errors"
	"testing"
	"time"

	"segmentor/registry"
)

func isNotFound(err error) bool { return errors.Is(err, registry.ErrNotFound) }

func TestStatus(t *testing.T) {
	tests := []struct {
		name   string
		search row
		detail row
		want   registry.Status
	}{
		{"nothing", row{}, row{}, registry.StatusActive},
		{"ended in the search", row{"datazakonczeniadzialalnosci": "2020-01-01"}, row{}, registry.StatusClosed},
		{"ended in the report", row{}, row{"praw_datazakonczeniadzialalnosci": "2020-01-01"}, registry.StatusClosed},
		{"struck off", row{}, row{"praw_dataskresleniazregon": "2020-01-01"}, registry.StatusClosed},
		{"suspended", row{}, row{"praw_datazawieszeniadzialalnosci": "2021-03-01"}, registry.StatusSuspended},
		{"suspended, resumed", row{}, row{"praw_datazawieszeniadzialalnosci": "2021-03-01", "praw_datawznowieniadzialalnosci": "2022-01-10"}, registry.StatusActive},
		{"resumed, suspended again", row{}, row{"praw_datazawieszeniadzialalnosci": "2023-03-01", "praw_datawznowieniadzialalnosci": "2022-01-10"}, registry.StatusSuspended},
		{"suspended and closed", row{}, row{"praw_datazawieszeniadzialalnosci": "2021-03-01", "praw_datazakonczeniadzialalnosci": "2022-01-10"}, registry.StatusClosed},
	}
	for _, tt := range tests {
		if got := status(tt.search, tt.detail, "praw_"); got != tt.want {
			t.Errorf("%s: status = %s, want %s", tt.name, got, tt.want)
		}
	}
}

func TestPickPrefersTheRunningMainEntity(t *testing.T) {
	rows := []row{
		{"regon": "1", "typ": "LF", "silosid": "1"},
		{"regon": "2", "typ": "F", "silosid": "3", "datazakonczeniadzialalnosci": "2019-01-01"},
		{"regon": "3", "typ": "F", "silosid": "2"},
		{"regon": "4", "typ": "F", "silosid": "1"},
	}
	if got := pick(rows).get("", "Regon"); got != "4" {
		t.Errorf("picked REGON %s, want 4 (the running CEIDG activity)", got)
	}
}

func TestMainPKD(t *testing.T) {
	legal := []row{
		{"praw_pkdkod": "7430Z", "praw_pkdprzewazajace": "0"},
		{"praw_pkdkod": "7410Z", "praw_pkdprzewazajace": "1"},
	}
	if got := mainPKD(legal, ""); got != "7410Z" {
		t.Errorf("legal person: main PKD %s, want 7410Z", got)
	}
	person := []row{
		{"fiz_pkd_kod": "0111Z", "fiz_pkd_przewazajace": "1", "fiz_silosid": "2"},
		{"fiz_pkd_kod": "6201Z", "fiz_pkd_przewazajace": "1", "fiz_silosid": "1"},
	}
	if got := mainPKD(person, "1"); got != "6201Z" {
		t.Errorf("sole trader: main PKD %s, want the CEIDG silo's 6201Z", got)
	}
	versions := []row{
		{"praw_pkdwersja": "2025", "praw_pkdkod": "6210B", "praw_pkdprzewazajace": "1"},
		{"praw_pkdwersja": "2007", "praw_pkdkod": "6201Z", "praw_pkdprzewazajace": "1"},
	}
	if got := mainPKD(versions, ""); got != "6201Z" {
		t.Errorf("two versions: main PKD %s, want PKD 2007's 6201Z", got)
	}
	if got := mainPKD([]row{{"praw_pkdkod": "4711Z", "praw_pkdprzewazajace": "0"}}, ""); got != "4711Z" {
		t.Errorf("none marked main: %s, want the first", got)
	}
}

func TestLegalForm(t *testing.T) {
	legal := kindOf(row{"typ": "P"})
	tests := []struct {
		k               kind
		detailed, basic string
		want            string
	}{
		{legal, "SPÓŁKI Z OGRANICZONĄ ODPOWIEDZIALNOŚCIĄ", "OSOBA PRAWNA", "sp. z o.o."},
		{legal, "SPÓŁKI KOMANDYTOWO-AKCYJNE", "", "S.K.A."},
		{legal, "SPÓŁKI CYWILNE PROWADZĄCE DZIAŁALNOŚĆ NA PODSTAWIE UMOWY ZAWARTEJ NA MOCY KODEKSU CYWILNEGO", "", "s.c."},
		{legal, "KOŚCIOŁY", "OSOBA PRAWNA", "kościoły"},
		{legal, "", "OSOBA PRAWNA", "osoba prawna"},
		{kindOf(row{"typ": "F", "silosid": "1"}), "", "", "JDG"},
		{kindOf(row{"typ": "F", "silosid": "2"}), "", "", "gospodarstwo rolne"},
	}
	for _, tt := range tests {
		if got := legalForm(tt.k, tt.detailed, tt.basic); got != tt.want {
			t.Errorf("legalForm(%q, %q) = %q, want %q", tt.detailed, tt.basic, got, tt.want)
		}
	}
}

func TestDate(t *testing.T) {
	if got := date("2014-11-08"); !got.Equal(time.Date(2014, 11, 8, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("date = %s", got)
	}
	for _, s := range []string{"", "08-11-2014", "nie"} {
		if got := date(s); !got.IsZero() {
			t.Errorf("date(%q) = %s, want zero", s, got)
		}
	}
}
