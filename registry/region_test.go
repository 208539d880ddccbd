package registry

import "testing"

func TestNormalizeRegion(t *testing.T) {
	tests := map[string]string{
		"MAZOWIECKIE":             "Mazowieckie",
		"mazowieckie":             "Mazowieckie",
		"woj. mazowieckie":        "Mazowieckie",
		"Województwo Mazowieckie": "Mazowieckie",
		"ŁÓDZKIE":                 "Łódzkie",
		"lodzkie":                 "Łódzkie",
		"ŚLĄSKIE":                 "Śląskie",
		"slaskie":                 "Śląskie",
		"ŚWIĘTOKRZYSKIE":          "Świętokrzyskie",
		"KUJAWSKO-POMORSKIE":      "Kujawsko-Pomorskie",
		"warminsko-mazurskie":     "Warmińsko-Mazurskie",
		"  zachodniopomorskie ":   "Zachodniopomorskie",
		"":                        "",
		"nowe-takie":              "Nowe-Takie", // not a voivodeship: title-cased
		"a--b":                    "A--B",
	}
	for in, want := range tests {
		if got := NormalizeRegion(in); got != want {
			t.Errorf("NormalizeRegion(%q) = %q, want %q", in, got, want)
		}
	}
	for _, v := range Voivodeships {
		if got := NormalizeRegion(v); got != v {
			t.Errorf("NormalizeRegion(%q) = %q, want it unchanged", v, got)
		}
	}
}
