package registry

import "testing"

func TestValidNIP(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"5261040828", "5261040828", true},       // GUS itself
		{"PL5261040828", "5261040828", true},     // VAT-EU form
		{"pl 526-104-08-28", "5261040828", true}, // as people type it
		{"526 10 40 828", "5261040828", true},
		{" 7740001454 ", "7740001454", true},
		{"5261040827", "", false},  // wrong check digit
		{"526104082", "", false},   // nine digits
		{"52610408281", "", false}, // eleven
		{"", "", false},
		{"PL", "", false},
		{"526104082A", "", false},
		{"DE5261040828", "", false}, // another country's prefix
		{"526.104.08.28", "", false},
		{"1234567890", "", false}, // sum mod 11 is 10: never valid
		{"0000000000", "0000000000", true},
	}
	for _, tt := range tests {
		got, ok := ValidNIP(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ValidNIP(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestNIPCheckDigitAgreesWithValidNIP(t *testing.T) {
	for _, first9 := range []string{"526104082", "774000145", "123456789", "000000000", "999999999"} {
		d, ok := NIPCheckDigit(first9)
		if !ok {
			if _, valid := ValidNIP(first9 + "0"); valid {
				t.Errorf("NIPCheckDigit(%q) says no digit fits, but %s0 is valid", first9, first9)
			}
			continue
		}
		if _, valid := ValidNIP(first9 + string(d)); !valid {
			t.Errorf("NIPCheckDigit(%q) = %c, which ValidNIP refuses", first9, d)
		}
	}
}

func TestIsNIPCandidate(t *testing.T) {
	for s, want := range map[string]bool{
		"5261040828": true, "PL 526-104-08-28": true, "5261040827": true, // a wrong check digit is still meant as a NIP
		"526.104.08.28": true, "123": true,
		"DE123456789": false, "ATU12345678": false, "CZ12345678": false, "": false, "PL": false, "n/a": false,
	} {
		if got := IsNIPCandidate(s); got != want {
			t.Errorf("IsNIPCandidate(%q) = %v, want %v", s, got, want)
		}
	}
}
