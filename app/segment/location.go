package segment

import (
	"fmt"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
	"unsafe"

	"golang.org/x/text/language"
	"golang.org/x/text/language/display"
	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"

	"segmentor/registry"
)

// Location is where a contact or company is: the country, region, city and
// postal area of its address (the mirror chooses which address). Each part
// is normalised as NewLocation writes it; "" is unknown.
type Location struct {
	Country string `json:"c,omitempty"` // ISO 3166-1 alpha-2 ("PL") when recognised, else as written
	Region  string `json:"r,omitempty"` // voivodeship, state or province; a voivodeship as registry.Voivodeships writes it
	City    string `json:"t,omitempty"`
	Postal  string `json:"p,omitempty"` // the postal code's first PostalPrefixLen letters and digits
}

// IsZero reports whether nothing is known of the location.
func (l Location) IsZero() bool { return l == Location{} }

// PostalPrefixLen is how much of a postal code the mirror keeps: its area
// (in Poland the first two digits, 00–09 Warsaw, 30–34 Kraków; in Germany
// the Leitregion).
const PostalPrefixLen = 2

// NewLocation normalises an address as a portal holds it: the country
// from its code when that is an ISO one, else from its name in any of the
// languages names are known in ("Polska", "Poland", "Польша" → "PL"); the
// region from the province (Bitrix24's PROVINCE is the region, REGION the
// district), or from the district when it names a voivodeship; a
// voivodeship in any common spelling ("woj. mazowieckie", "MAZOWIECKIE",
// "Masovian" → "Mazowieckie"), which also says the country is Poland when
// the address does not; the city; the postal code's area. Whitespace is
// collapsed; case and diacritics are kept as written (matching ignores
// them).
func NewLocation(country, countryCode, province, district, city, postal string) Location {
	var l Location
	if c, ok := CountryCode(countryCode); ok {
		l.Country = c
	} else {
		l.Country = NormalizeCountry(country)
	}
	l.Region = NormalizeRegion(l.Country, province)
	if l.Region == "" {
		if v, ok := registry.Voivodeship(district); ok && (l.Country == "" || l.Country == "PL") {
			l.Region = v
		}
	}
	if l.Country == "" && isVoivodeship(l.Region) {
		l.Country = "PL"
	}
	l.City = NormalizeCity(city)
	l.Postal = PostalPrefix(postal)
	return l
}

func isVoivodeship(s string) bool {
	v, ok := registry.Voivodeship(s)
	return ok && v == s
}

// NormalizeCountry is a country's ISO 3166-1 alpha-2 code for its name or
// code as written ("Poland", "polska", "POL", "pl" → "PL"); a name it does
// not know is kept as written, whitespace collapsed.
func NormalizeCountry(s string) string {
	s = collapse(s)
	if c, ok := CountryCode(s); ok {
		return c
	}
	return s
}

// CountryCode finds the ISO 3166-1 alpha-2 code of a country's code
// (alpha-2, alpha-3 or numeric) or name in English, Russian, Polish,
// Italian and the languages of the countries around; false when s names
// none.
func CountryCode(s string) (string, bool) {
	k := fold(s)
	if k == "" {
		return "", false
	}
	c, ok := countries().byKey[k]
	return c, ok
}

// CountryName is a country's name in lang ("PL" → "Poland", "Polska",
// "Польша", "Polonia"); anything that is not a country's code is returned
// as it is.
func CountryName(lang Lang, code string) string {
	r, err := language.ParseRegion(code)
	if err != nil || len(code) != 2 || !countries().known[r.String()] {
		return code
	}
	if names := display.Regions(language.Make(string(lang))); names != nil {
		if n := names.Name(r); n != "" {
			return n
		}
	}
	if n := display.English.Regions().Name(r); n != "" {
		return n
	}
	return code
}

// countryTable indexes countries by their codes and names.
type countryTable struct {
	byKey map[string]string // folded code or name → alpha-2 code
	known map[string]bool   // alpha-2 codes
}

// countryLanguages are the languages whose country names NormalizeCountry
// reads: the app's, and those of the countries a Polish, Russian or
// Italian business meets most.
var countryLanguages = []string{"en", "ru", "pl", "it", "de", "fr", "es", "pt", "nl", "cs", "sk", "lt", "lv", "et",
	"uk", "be", "kk", "hu", "ro", "sv", "da", "fi", "no", "tr", "zh"}

// countryAliases are names people write that no language's table has.
var countryAliases = map[string]string{
	"czech republic": "CZ", "česká republika": "CZ", "ceska republika": "CZ", "чешская республика": "CZ",
	"russian federation": "RU", "рф": "RU", "российская федерация": "RU",
	"usa": "US", "u.s.a.": "US", "united states of america": "US", "сша": "US",
	"uk": "GB", "u.k.": "GB", "great britain": "GB", "england": "GB", "scotland": "GB", "wales": "GB",
	"holland": "NL", "republic of korea": "KR", "south korea": "KR", "byelorussia": "BY", "белоруссия": "BY",
	"moldova, republic of": "MD", "republic of moldova": "MD", "turkey": "TR", "türkiye": "TR",
}

var countries = sync.OnceValue(func() *countryTable {
	t := &countryTable{byKey: map[string]string{}, known: map[string]bool{}}
	var regions []language.Region
	for a := 'A'; a <= 'Z'; a++ {
		for b := 'A'; b <= 'Z'; b++ {
			code := string([]rune{a, b})
			r, err := language.ParseRegion(code)
			// Not: codes of a group of countries, reserved ones (UK), and
			// countries gone (DD, SU, YU: Canonicalize names their heir).
			if err != nil || !r.IsCountry() || r.String() != code || r.Canonicalize() != r || r.ISO3() == "ZZZ" ||
				display.English.Regions().Name(r) == "" {
				continue
			}
			regions = append(regions, r)
			t.known[code] = true
			t.byKey[fold(code)] = code
			t.byKey[fold(r.ISO3())] = code
			if m := r.M49(); m > 0 {
				t.byKey[fmt.Sprintf("%03d", m)] = code
			}
		}
	}
	for _, lang := range countryLanguages {
		names := display.Regions(language.Make(lang))
		if names == nil { // a language display has no names in
			continue
		}
		for _, r := range regions {
			if k := fold(names.Name(r)); k != "" {
				if _, taken := t.byKey[k]; !taken {
					t.byKey[k] = r.String()
				}
			}
		}
	}
	for _, r := range regions { // each country's name in its own language: Polska, Deutschland, Česko
		tag, err := language.Compose(r)
		if err != nil {
			continue
		}
		base, _ := tag.Base()
		names := display.Regions(language.Make(base.String()))
		if names == nil {
			continue
		}
		if k := fold(names.Name(r)); k != "" {
			if _, taken := t.byKey[k]; !taken {
				t.byKey[k] = r.String()
			}
		}
	}
	for name, code := range countryAliases {
		t.byKey[fold(name)] = code
	}
	return t
})

// NormalizeRegion writes a region: a voivodeship the one way
// registry.Voivodeships does, whatever the spelling, unless the country is
// known to be another; any other region as written, whitespace collapsed.
func NormalizeRegion(country, s string) string {
	s = collapse(s)
	if v, ok := registry.Voivodeship(s); ok && (country == "" || country == "PL") {
		return v
	}
	return s
}

// cityNames are cities' other names people write, folded, with the name
// the city gives itself.
var cityNames = map[string]string{
	"warsaw": "Warszawa", "warschau": "Warszawa", "varsavia": "Warszawa", "варшава": "Warszawa",
	"cracow": "Kraków", "cracovia": "Kraków", "krakau": "Kraków", "краков": "Kraków",
	"breslau": "Wrocław", "вроцлав": "Wrocław", "danzig": "Gdańsk", "danzica": "Gdańsk", "гданьск": "Gdańsk",
	"posen": "Poznań", "познань": "Poznań", "лодзь": "Łódź",
	"prague": "Praha", "prag": "Praha", "praga": "Praha", "прага": "Praha",
	"vienna": "Wien", "vienne": "Wien", "вена": "Wien",
	"munich": "München", "monaco di baviera": "München", "мюнхен": "München", "cologne": "Köln", "colonia": "Köln",
	"nuremberg": "Nürnberg", "vilna": "Vilnius", "wilno": "Vilnius", "вильнюс": "Vilnius",
	"moskva": "Moscow", "москва": "Moscow", "mosca": "Moscow", "moskwa": "Moscow",
	"st. petersburg": "Saint Petersburg", "st petersburg": "Saint Petersburg", "sankt-peterburg": "Saint Petersburg",
	"санкт-петербург": "Saint Petersburg", "pietroburgo": "Saint Petersburg",
}

// NormalizeCity writes a city: under its own name when it is one of a few
// large cities people also write in other languages ("Warsaw" →
// "Warszawa"); otherwise as written, whitespace collapsed, and with each
// word capitalised when it was written all in one case ("WARSZAWA",
// "zielona góra" → "Warszawa", "Zielona Góra").
func NormalizeCity(s string) string {
	s = collapse(s)
	if c, ok := cityNames[fold(s)]; ok {
		return c
	}
	if s != strings.ToLower(s) && s != strings.ToUpper(s) {
		return s
	}
	return titleWords(strings.ToLower(s))
}

func titleWords(s string) string {
	b := []rune(s)
	start := true
	for i, r := range b {
		if start {
			b[i] = unicode.ToUpper(r)
		}
		start = r == ' ' || r == '-'
	}
	return string(b)
}

// PostalPrefix is a postal code's area: its first PostalPrefixLen letters
// and digits, upper case, after a country prefix such as "LT-" or "D-"
// ("00-950" → "00", "LT-01100" → "01", "SW1A 1AA" → "SW").
func PostalPrefix(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '-'); i > 0 && i <= 2 && isLetters(s[:i]) {
		s = s[i+1:]
	}
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		if b.Len() >= PostalPrefixLen {
			break
		}
		if r < utf8.RuneSelf && (r >= '0' && r <= '9' || r >= 'A' && r <= 'Z') {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func isLetters(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i] | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	return s != ""
}

// collapse trims s and makes every run of white space one space.
func collapse(s string) string {
	if !strings.ContainsFunc(s, unicode.IsSpace) {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}

// fold is the key location values are matched by: lower case, without
// diacritics (ł as l, ß as ss), hyphens, dots and commas as spaces,
// whitespace collapsed. "Kujawsko-Pomorskie" and "kujawsko pomorskie",
// "Kraków" and "KRAKOW" fold alike. It runs for every location condition a
// record is evaluated on, so it reads a table rather than normalising.
func fold(s string) string {
	b := appendFold(make([]byte, 0, len(s)), s)
	return unsafe.String(unsafe.SliceData(b), len(b)) // as strings.Builder does: b is not written again
}

// appendFold appends fold(s) to dst. Matching folds a record's value into
// a buffer on its stack with it, so a location condition allocates
// nothing per record.
func appendFold(dst []byte, s string) []byte {
	start := len(dst)
	space := true // at the start, or after a space written
	for _, r := range s {
		switch {
		case r < utf8.RuneSelf:
			c := byte(r)
			switch {
			case c >= 'A' && c <= 'Z':
				c += 'a' - 'A'
			case c == '-' || c == '.' || c == ',' || c == '_' || c == ' ' || c == '\t' || c == '\n' || c == '\r':
				c = ' '
			case c == '\'':
				continue
			}
			if c == ' ' {
				if !space {
					dst = append(dst, ' ')
				}
				space = true
				continue
			}
			dst = append(dst, c)
			space = false
			continue
		case r == '’':
			continue
		case unicode.IsSpace(r):
			if !space {
				dst = append(dst, ' ')
			}
			space = true
			continue
		}
		if f, ok := foldTable()[r]; ok {
			dst = append(dst, f...)
		} else {
			dst = utf8.AppendRune(dst, unicode.ToLower(r))
		}
		space = false
	}
	if len(dst) > start && dst[len(dst)-1] == ' ' {
		dst = dst[:len(dst)-1]
	}
	return dst
}

// foldTable maps letters with diacritics (Latin and Cyrillic) to their
// lower-case base letters: decomposed, the combining marks dropped; and
// the letters that do not decompose (ł, ß, ø, ...).
var foldTable = sync.OnceValue(func() map[rune]string {
	m := map[rune]string{}
	strip := transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
	for _, span := range [][2]rune{{0xC0, 0x24F}, {0x1E00, 0x1EFF}, {0x400, 0x4FF}} {
		for r := span[0]; r <= span[1]; r++ {
			lower := unicode.ToLower(r)
			if t, _, err := transform.String(strip, string(lower)); err == nil && t != string(r) {
				m[r] = t
			}
		}
	}
	for k, v := range map[rune]string{'ł': "l", 'Ł': "l", 'ß': "ss", 'ẞ': "ss", 'ø': "o", 'Ø': "o", 'đ': "d", 'Đ': "d",
		'æ': "ae", 'Æ': "ae", 'œ': "oe", 'Œ': "oe", 'ı': "i", 'þ': "th", 'Þ': "th", 'ð': "d", 'Ð': "d"} {
		m[k] = v
	}
	return m
})

// Location facts, of contacts and companies.
const (
	FactCountry      = "country"
	FactRegion       = "region"
	FactCity         = "city"
	FactPostalPrefix = "postal_prefix"
)

// isLocationFact reports whether a fact reads the client's location.
func (id factID) isLocationFact() bool { return id >= factCountry && id <= factPostalPrefix }

// locationPart is the part of a location a location fact reads.
func (l *Location) part(id factID) string {
	switch id {
	case factCountry:
		return l.Country
	case factRegion:
		return l.Region
	case factCity:
		return l.City
	case factPostalPrefix:
		return l.Postal
	}
	return ""
}

// locationKey is a condition's value for a location fact as matching
// compares it: normalised as the mirror's values are, then folded. A
// postal value is an area: a longer code is taken by its first
// PostalPrefixLen characters, a shorter one matches every area it starts
// ("0" is 00 to 09).
func locationKey(id factID, s string) string {
	switch id {
	case factCountry:
		s = NormalizeCountry(s)
	case factRegion, factRegistryRegion:
		s = NormalizeRegion("", s)
	case factCity:
		s = NormalizeCity(s)
	case factPostalPrefix:
		s = PostalPrefix(s)
	}
	return fold(s)
}

// MatchKey is the key a location fact's value is matched by (fact is
// FactCountry, FactRegion, FactCity or FactPostalPrefix): values with the
// same key are one place. Any other fact's value is only folded.
func MatchKey(fact, s string) string {
	spec, _, ok := lookupFact(fact)
	if !ok || !spec.id.matchesAsPlace() {
		return fold(s)
	}
	return locationKey(spec.id, s)
}

// matchLocation compares a location fact's value with the condition: by
// folded keys, an area by its start; no value meets only !=, not_in and
// empty, as for every fact.
func (l *leaf) matchLocation(v Value) bool {
	seen := ""
	var buf [64]byte // on the stack: seen is read only here
	if v.Kind == KindText {
		folded := appendFold(buf[:0], v.Text)
		seen = unsafe.String(unsafe.SliceData(folded), len(folded))
	}
	is := func(want string) bool {
		if seen == "" {
			return false
		}
		if l.fact == factPostalPrefix {
			return strings.HasPrefix(seen, want) && want != ""
		}
		return seen == want
	}
	in := func() bool {
		for _, it := range l.items {
			if is(it.text) {
				return true
			}
		}
		return false
	}
	switch l.op {
	case OpEq:
		return is(l.text)
	case OpNe:
		return !is(l.text)
	case OpIn:
		return in()
	case OpNotIn:
		return !in()
	case OpContains:
		return seen != "" && strings.Contains(seen, l.text)
	case OpEmpty:
		return seen == ""
	case OpNotEmpty:
		return seen != ""
	}
	return false
}

// UsesLocation reports whether the rules read a location fact, so a change
// of a client's addresses may change its segment.
func (r *Rules) UsesLocation() bool { return r.uses(factID.isLocationFact) }
