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

// Other names of the voivodeships: their own, English, Russian and Italian
// ones, with or without a word saying what they are; a city's name is a
// voivodeship's only with such a word.
func TestNormalizeRegionOtherNames(t *testing.T) {
	tests := map[string]string{
		"Masovian":             "Mazowieckie",
		"Masovian Voivodeship": "Mazowieckie",
		"mazowsze":             "Mazowieckie",
		"Мазовецкое воеводство": "Mazowieckie",
		"Lesser Poland":               "Małopolskie",
		"Lesser Poland Voivodeship":   "Małopolskie",
		"Malopolska":                  "Małopolskie",
		"Silesian Voivodeship":        "Śląskie",
		"Slesia":                      "Śląskie",
		"Greater Poland":              "Wielkopolskie",
		"West Pomeranian Voivodeship": "Zachodniopomorskie",
		"Warmian-Masurian":            "Warmińsko-Mazurskie",
		"Kuyavian-Pomeranian":         "Kujawsko-Pomorskie",
		"Lodz Voivodeship":            "Łódzkie",
		"Łódź province":               "Łódzkie",
		"woj. łódzkie":                "Łódzkie",
		"województwo lubelskie":       "Lubelskie",
		"Lublin Voivodeship":          "Lubelskie",
		"Lublin":                      "Lublin", // a city, said by no word to be a voivodeship
		"Opole":                       "Opole",
		"voivodato di Masovia":        "Mazowieckie",
		"Bayern":                      "Bayern",
		"hlavní město Praha":          "Hlavní město praha",
		"Region":                      "Region", // only the word: nothing to take off
		"woj.":                        "",
	}
	for in, want := range tests {
		if got := NormalizeRegion(in); got != want {
			t.Errorf("NormalizeRegion(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestVoivodeship(t *testing.T) {
	for in, want := range map[string]string{"woj. mazowieckie": "Mazowieckie", "Lesser Poland": "Małopolskie", "Bayern": "", "": "", "Lublin": ""} {
		got, ok := Voivodeship(in)
		if got != want || ok != (want != "") {
			t.Errorf("Voivodeship(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}
