package registry

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Voivodeships are Poland's sixteen voivodeships, written as Region holds
// them.
var Voivodeships = []string{
	"Dolnośląskie", "Kujawsko-Pomorskie", "Lubelskie", "Lubuskie", "Łódzkie",
	"Małopolskie", "Mazowieckie", "Opolskie", "Podkarpackie", "Podlaskie",
	"Pomorskie", "Śląskie", "Świętokrzyskie", "Warmińsko-Mazurskie",
	"Wielkopolskie", "Zachodniopomorskie",
}

// voivodeshipByKey finds a voivodeship by its lower-case name with or
// without Polish letters ("łódzkie", "lodzkie").
var voivodeshipByKey = func() map[string]string {
	m := make(map[string]string, 2*len(Voivodeships))
	for _, v := range Voivodeships {
		k := strings.ToLower(v)
		m[k] = v
		m[foldPolish(k)] = v
	}
	return m
}()

// NormalizeRegion writes a voivodeship the one way Region holds it
// ("MAZOWIECKIE", "woj. mazowieckie", "Województwo Mazowieckie" →
// "Mazowieckie"). A name it does not know is title-cased, each
// hyphen-separated part capitalised, the way Polish writes voivodeships in
// a heading.
func NormalizeRegion(s string) string {
	k := strings.ToLower(strings.Join(strings.Fields(s), " "))
	for _, p := range []string{"województwo ", "wojewodztwo ", "woj. ", "woj "} {
		k = strings.TrimPrefix(k, p)
	}
	if k == "" {
		return ""
	}
	if v, ok := voivodeshipByKey[k]; ok {
		return v
	}
	if v, ok := voivodeshipByKey[foldPolish(k)]; ok {
		return v
	}
	parts := strings.Split(k, "-")
	for i, p := range parts {
		if p == "" {
			continue
		}
		r, n := utf8.DecodeRuneInString(p)
		parts[i] = string(unicode.ToUpper(r)) + p[n:]
	}
	return strings.Join(parts, "-")
}

var polishFold = strings.NewReplacer("ą", "a", "ć", "c", "ę", "e", "ł", "l", "ń", "n", "ó", "o", "ś", "s", "ź", "z", "ż", "z")

func foldPolish(s string) string { return polishFold.Replace(s) }
