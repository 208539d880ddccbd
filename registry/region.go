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

// voivodeshipNames are other names of the voivodeships, lower case: the
// regions' own (Mazowsze), English, Russian and Italian exonyms. Those in
// byPlace are a city's name too, so they name a voivodeship only with a
// word saying so ("Lublin Voivodeship", "woj. lublin").
var voivodeshipNames = map[string][]string{
	"Dolnośląskie":        {"lower silesian", "lower silesia", "dolny śląsk", "нижнесилезское", "bassa slesia"},
	"Kujawsko-Pomorskie":  {"kuyavian-pomeranian", "kuyavia-pomerania", "куявско-поморское", "cuiavia-pomerania"},
	"Lubelskie":           {"люблинское"},
	"Lubuskie":            {"lubusz", "любушское"},
	"Łódzkie":             {"лодзинское"},
	"Małopolskie":         {"lesser poland", "małopolska", "малопольское", "piccola polonia"},
	"Mazowieckie":         {"masovian", "masovia", "mazovia", "mazovian", "mazowsze", "мазовецкое"},
	"Opolskie":            {"опольское"},
	"Podkarpackie":        {"subcarpathian", "subcarpathia", "podkarpacie", "подкарпатское", "precarpazia"},
	"Podlaskie":           {"podlachian", "podlachia", "podlasie", "подляское"},
	"Pomorskie":           {"pomeranian", "pomerania", "pomorze", "поморское"},
	"Śląskie":             {"silesian", "silesia", "śląsk", "силезское", "slesia"},
	"Świętokrzyskie":      {"holy cross", "свентокшиское", "santa croce"},
	"Warmińsko-Mazurskie": {"warmian-masurian", "warmia-masuria", "warmia-mazury", "варминско-мазурское", "varmia-masuria"},
	"Wielkopolskie":       {"greater poland", "wielkopolska", "великопольское", "grande polonia"},
	"Zachodniopomorskie":  {"west pomeranian", "west pomerania", "западно-поморское", "pomerania occidentale"},
}

// byPlace are names of voivodeships that are also a city's.
var byPlace = map[string]string{"lublin": "Lubelskie", "lublino": "Lubelskie", "łódź": "Łódzkie", "lodz": "Łódzkie",
	"opole": "Opolskie"}

var voivodeshipByName = func() map[string]string {
	m := map[string]string{}
	for v, names := range voivodeshipNames {
		for _, n := range names {
			m[n] = v
			m[foldPolish(n)] = v
		}
	}
	return m
}()

// What people write around a voivodeship's name.
var (
	regionPrefixes = []string{"województwo ", "wojewodztwo ", "woj. ", "woj.", "woj ", "voivodato di ", "voivodato della ", "voivodato del ", "voivodato "}
	regionSuffixes = []string{" voivodeship", " voivodship", " province", " region", " воеводство", " województwo", " wojewodztwo"}
)

// NormalizeRegion writes a voivodeship the one way Region holds it
// ("MAZOWIECKIE", "woj. mazowieckie", "Województwo Mazowieckie",
// "Masovian Voivodeship", "Mazowsze", "Мазовецкое воеводство" →
// "Mazowieckie"). A name it does not know is title-cased, each
// hyphen-separated part capitalised, the way Polish writes voivodeships in
// a heading.
func NormalizeRegion(s string) string {
	v, k := voivodeship(s)
	if v != "" || k == "" {
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

// Voivodeship is the voivodeship s names, written as Region holds it, in
// any of the spellings NormalizeRegion knows; false when s names none.
func Voivodeship(s string) (string, bool) {
	v, _ := voivodeship(s)
	return v, v != ""
}

// voivodeship finds the voivodeship s names; k is s in lower case without
// the words around a voivodeship's name.
func voivodeship(s string) (v, k string) {
	k = strings.ToLower(strings.Join(strings.Fields(s), " "))
	named := false // a word says it is a voivodeship
	for _, p := range regionPrefixes {
		if t, ok := strings.CutPrefix(k, p); ok {
			k, named = strings.TrimSpace(t), true
			break
		}
	}
	for _, sfx := range regionSuffixes {
		if t, ok := strings.CutSuffix(k, sfx); ok && t != "" {
			k, named = t, true
			break
		}
	}
	for _, key := range []string{k, foldPolish(k)} {
		if v, ok := voivodeshipByKey[key]; ok {
			return v, k
		}
		if v, ok := voivodeshipByName[key]; ok {
			return v, k
		}
		if v, ok := byPlace[key]; ok && named {
			return v, k
		}
	}
	return "", k
}

var polishFold = strings.NewReplacer("ą", "a", "ć", "c", "ę", "e", "ł", "l", "ń", "n", "ó", "o", "ś", "s", "ź", "z", "ż", "z")

func foldPolish(s string) string { return polishFold.Replace(s) }
