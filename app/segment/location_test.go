package segment

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Addresses as people type them normalise to one Location: the country
// as its ISO code from a code or a name in several languages, a
// voivodeship in one spelling, which also says the country is Poland when
// the address does not, a few large cities under their own names, and the
// postal code's area.
func TestNewLocation(t *testing.T) {
	tests := []struct {
		name                                            string
		country, code, province, district, city, postal string
		want                                            Location
	}{
		{"Polish, as most type it", "Poland", "", "Mazowieckie", "", "Warszawa", "00-950",
			Location{"PL", "Mazowieckie", "Warszawa", "00"}},
		{"Polish, in Polish, variant spellings", " Polska ", "", "woj. mazowieckie", "", "WARSZAWA", "00950",
			Location{"PL", "Mazowieckie", "Warszawa", "00"}},
		{"the code wins over the name", "Polen", "pl", "MAŁOPOLSKIE", "", "Krakow", "30-001",
			Location{"PL", "Małopolskie", "Krakow", "30"}},
		{"English exonyms", "Poland", "", "Masovian Voivodeship", "", "Warsaw", "02-495",
			Location{"PL", "Mazowieckie", "Warszawa", "02"}},
		{"no diacritics", "polska", "", "slaskie", "", "Katowice", "40-001",
			Location{"PL", "Śląskie", "Katowice", "40"}},
		{"a voivodeship says Poland", "", "", "Lodzkie", "", "Łódź", "",
			Location{"PL", "Łódzkie", "Łódź", ""}},
		{"the voivodeship in the district field", "Poland", "", "", "woj. pomorskie", "Gdańsk", "80-001",
			Location{"PL", "Pomorskie", "Gdańsk", "80"}},
		{"a district that is no voivodeship is no region", "Poland", "", "", "powiat krakowski", "Wieliczka", "32-020",
			Location{"PL", "", "Wieliczka", "32"}},
		{"Germany, a Land kept as written", "Deutschland", "", "Bayern", "", "München", "80331",
			Location{"DE", "Bayern", "München", "80"}},
		{"Czech, old English name, spaced code", "Czech Republic", "", "Hlavní město Praha", "", "Praha", "110 00",
			Location{"CZ", "Hlavní město Praha", "Praha", "11"}},
		{"Russian, Cyrillic", "Россия", "", "Москва", "", "Москва", "101000",
			Location{"RU", "Москва", "Moscow", "10"}},
		{"Lithuania, prefixed postal code", "Lithuania", "", "Vilniaus apskritis", "", "Vilnius", "LT-01100",
			Location{"LT", "Vilniaus apskritis", "Vilnius", "01"}},
		{"another country's Silesia is not a voivodeship", "Czechia", "", "Silesia", "", "Opava", "746 01",
			Location{"CZ", "Silesia", "Opava", "74"}},
		{"a country nobody knows is kept", "Atlantis  ", "", "", "", "", "",
			Location{Country: "Atlantis"}},
		{"nothing", "", "", " ", "", "", "", Location{}},
		{"UK postcode", "United Kingdom", "", "", "", "london", "SW1A 1AA",
			Location{"GB", "", "London", "SW"}},
		{"ISO alpha-3 and numeric codes", "POL", "", "", "", "", "",
			Location{Country: "PL"}},
	}
	for _, tt := range tests {
		got := NewLocation(tt.country, tt.code, tt.province, tt.district, tt.city, tt.postal)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestCountryCodeAndName(t *testing.T) {
	for in, want := range map[string]string{
		"Poland": "PL", "POLSKA": "PL", "Polonia": "PL", "Польша": "PL", "Polen": "PL", "pl": "PL", "POL": "PL", "616": "PL",
		"Germany": "DE", "Niemcy": "DE", "Deutschland": "DE", "Германия": "DE", "Czechia": "CZ", "Česko": "CZ",
		"Czech Republic": "CZ", "Lietuva": "LT", "Россия": "RU", "Russian Federation": "RU", "United Kingdom": "GB",
		"UK": "GB", "USA": "US", "Österreich": "AT", "Ukraine": "UA", "Україна": "UA", "Italia": "IT",
	} {
		if got, ok := CountryCode(in); got != want || !ok {
			t.Errorf("CountryCode(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "Atlantis", "EU", "XX", "ZZ", "  "} {
		if got, ok := CountryCode(in); ok {
			t.Errorf("CountryCode(%q) = %q: not a country", in, got)
		}
	}
	for _, c := range []struct {
		lang       Lang
		code, want string
	}{
		{EN, "PL", "Poland"}, {PL, "PL", "Polska"}, {RU, "PL", "Польша"}, {IT, "PL", "Polonia"},
		{EN, "DE", "Germany"}, {PL, "DE", "Niemcy"}, {"xx", "DE", "Germany"},
		{EN, "Atlantis", "Atlantis"}, {EN, "", ""}, {EN, "EU", "EU"},
	} {
		if got := CountryName(c.lang, c.code); got != c.want {
			t.Errorf("CountryName(%s, %q) = %q, want %q", c.lang, c.code, got, c.want)
		}
	}
}

func TestFoldAndParts(t *testing.T) {
	for in, want := range map[string]string{
		"Kujawsko-Pomorskie": "kujawsko pomorskie", "ŁÓDŹ": "lodz", "Kraków": "krakow", "  Zielona   Góra ": "zielona gora",
		"Straße": "strasse", "Praha": "praha", "Москва": "москва", "St. Petersburg": "st petersburg", "": "",
	} {
		if got := fold(in); got != want {
			t.Errorf("fold(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"zielona góra": "Zielona Góra", "BIELSKO-BIAŁA": "Bielsko-Biała",
		"Nowy Targ": "Nowy Targ", "Warsaw": "Warszawa", "vienna": "Wien", "": ""} {
		if got := NormalizeCity(in); got != want {
			t.Errorf("NormalizeCity(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"00-950": "00", "0": "0", "D-10115": "10", "LT-01100": "01", "sw1a 1aa": "SW",
		"  ": "", "-": "", "ab-12": "12", "1": "1"} {
		if got := PostalPrefix(in); got != want {
			t.Errorf("PostalPrefix(%q) = %q, want %q", in, got, want)
		}
	}
}

// locationFactCases are the location facts of a client in Warsaw, and of
// one whose address is not known.
func locationFactCases() []clientFactCase {
	return []clientFactCase{
		{"country", 0, text("PL")},
		{"region", 0, text("Mazowieckie")},
		{"city", 0, text("Warszawa")},
		{"postal_prefix", 0, text("00")},
	}
}

func TestLocationFacts(t *testing.T) {
	f := NewClientFacts(Env{Now: testNow, Rates: testRates()})
	f.Reset(Client{ID: 5, Entity: EntityCompany, Location: Location{"PL", "Mazowieckie", "Warszawa", "00"}}, nil)
	for _, tt := range locationFactCases() {
		if diff := cmp.Diff(tt.want, factValue(f, tt.fact, 0)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.fact, diff)
		}
	}
	f.Reset(Client{ID: 6, Entity: EntityContact}, nil)
	for _, tt := range locationFactCases() {
		if got := factValue(f, tt.fact, 0); got.Kind != KindNone {
			t.Errorf("%s of a client without an address = %+v, want no value", tt.fact, got)
		}
	}
}

// Rules on location compare normalised values: a condition written in any
// spelling meets the mirror's values in theirs.
func TestLocationRules(t *testing.T) {
	warsaw := Location{"PL", "Mazowieckie", "Warszawa", "00"}
	krakow := Location{"PL", "Małopolskie", "Kraków", "30"}
	gdansk := Location{"PL", "Pomorskie", "Gdańsk", "80"}
	berlin := Location{"DE", "Berlin", "Berlin", "10"}
	tests := []struct {
		when string
		in   []Location // meet the condition
		out  []Location // do not
	}{
		{`{"fact": "region", "op": "in", "value": ["Mazowieckie", "Małopolskie"]}`, []Location{warsaw, krakow}, []Location{gdansk, berlin, {}}},
		{`{"fact": "region", "op": "in", "value": ["woj. mazowieckie", "MALOPOLSKIE"]}`, []Location{warsaw, krakow}, []Location{gdansk}},
		{`{"fact": "region", "op": "=", "value": "Masovian"}`, []Location{warsaw}, []Location{krakow}},
		{`{"fact": "region", "op": "not_in", "value": ["Pomorskie"]}`, []Location{warsaw, berlin, {}}, []Location{gdansk}},
		{`{"fact": "country", "op": "!=", "value": "PL"}`, []Location{berlin, {}}, []Location{warsaw, krakow}},
		{`{"fact": "country", "op": "!=", "value": "Polska"}`, []Location{berlin}, []Location{warsaw}},
		{`{"fact": "country", "op": "=", "value": "Niemcy"}`, []Location{berlin}, []Location{warsaw, {}}},
		{`{"fact": "country", "op": "in", "value": ["pl", "DEU"]}`, []Location{warsaw, berlin}, []Location{{Country: "CZ"}}},
		{`{"fact": "city", "op": "=", "value": "krakow"}`, []Location{krakow}, []Location{warsaw}},
		{`{"fact": "city", "op": "=", "value": "Warsaw"}`, []Location{warsaw}, []Location{krakow}},
		{`{"fact": "city", "op": "contains", "value": "GDA"}`, []Location{gdansk}, []Location{warsaw, {}}},
		{`{"fact": "postal_prefix", "op": "in", "value": ["00", "30"]}`, []Location{warsaw, krakow}, []Location{gdansk, {}}},
		{`{"fact": "postal_prefix", "op": "=", "value": "0"}`, []Location{warsaw}, []Location{krakow}},      // an area's start
		{`{"fact": "postal_prefix", "op": "=", "value": "80-288"}`, []Location{gdansk}, []Location{warsaw}}, // a code's area
		{`{"fact": "postal_prefix", "op": "=", "value": "-"}`, nil, []Location{warsaw, {}}},
		{`{"fact": "region", "op": "empty"}`, []Location{{}, {Country: "PL"}}, []Location{warsaw}},
		{`{"fact": "country", "op": "not_empty"}`, []Location{berlin}, []Location{{}}},
	}
	for _, tt := range tests {
		r, err := Compile(mustParse(t, oneSegment(EntityCompany, tt.when, "")))
		if err != nil {
			t.Fatalf("%s: %v", tt.when, err)
		}
		if !r.UsesLocation() {
			t.Errorf("%s: UsesLocation is false", tt.when)
		}
		f := NewClientFacts(Env{Now: testNow})
		check := func(l Location, want bool) {
			f.Reset(Client{ID: 1, Entity: EntityCompany, Location: l}, nil)
			if got := r.Match(EntityCompany, f).Key == "test"; got != want {
				t.Errorf("%s on %+v: %v, want %v", tt.when, l, got, want)
			}
			if ev := r.Evaluate(EntityCompany, f); (ev.Key == "test") != want {
				t.Errorf("%s on %+v: Evaluate and Match disagree", tt.when, l)
			}
		}
		for _, l := range tt.in {
			check(l, true)
		}
		for _, l := range tt.out {
			check(l, false)
		}
	}
	if r, _ := Compile(mustParse(t, oneSegment(EntityCompany, `{"fact": "won_count", "op": ">", "value": 1}`, ""))); r.UsesLocation() {
		t.Error("UsesLocation without a location fact")
	}
}

// Location facts are the client's: a deal's rule reaches them through
// client_segment. Their values are text; they compare, never order.
func TestLocationValidation(t *testing.T) {
	const w = "schemes[1].segments[0].when"
	tests := []struct {
		entity Entity
		when   string
		want   Problems
	}{
		{EntityContact, `{"fact": "city", "op": "in", "value": ["Gdańsk", "Gdynia"]}`, nil},
		{EntityDeal, `{"fact": "country", "op": "=", "value": "PL"}`,
			Problems{{Path: w, Code: CodeClientOnly, Entity: EntityDeal, Segment: "Test", Args: []string{"country"}}}},
		{EntityCompany, `{"fact": "postal_prefix", "op": "=", "value": 0}`,
			Problems{{Path: w, Code: CodeWantText, Entity: EntityCompany, Segment: "Test", Args: []string{"postal_prefix", "=", "0"}}}},
		{EntityCompany, `{"fact": "region", "op": ">", "value": "A"}`,
			Problems{{Path: w, Code: CodeOpNotForFact, Entity: EntityCompany, Segment: "Test", Args: []string{">", "region"}}}},
		{EntityCompany, `{"fact": "country", "window_days": 30, "op": "=", "value": "PL"}`,
			Problems{{Path: w, Code: CodeNoWindow, Entity: EntityCompany, Segment: "Test", Args: []string{"country"}}}},
	}
	for _, tt := range tests {
		got := Validate(mustParse(t, oneSegment(tt.entity, tt.when, "")), testRef())
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s on a %s (-want +got):\n%s", tt.when, tt.entity, diff)
		}
	}
}

// The card tab tells a location condition in words, the country by its
// name in the reader's language.
func TestTellLocation(t *testing.T) {
	cases := []struct {
		lang Lang
		c    Check
		held bool
		want string
	}{
		{EN, Check{Fact: "country", Op: OpNe, Want: "PL", Seen: text("DE")}, true, "Country: Germany (does not equal Poland)"},
		{PL, Check{Fact: "country", Op: OpNe, Want: "PL", Seen: text("DE")}, true, "Kraj: Niemcy"},
		{RU, Check{Fact: "country", Op: OpEq, Want: "Polska", Seen: text("CZ")}, false, "Страна: Чехия"},
		{EN, Check{Fact: "region", Op: OpIn, Want: []any{"Mazowieckie", "Małopolskie"}, Seen: text("Mazowieckie")}, true,
			"Region (voivodeship, state): Mazowieckie (is one of Mazowieckie, Małopolskie)"},
		{EN, Check{Fact: "region", Op: OpIn, Want: []any{"Mazowieckie"}, Seen: Value{}}, false, "Region (voivodeship, state): no value"},
		{IT, Check{Fact: "city", Op: OpEq, Want: "Kraków", Seen: text("Kraków")}, true, "Città: Kraków"},
		{EN, Check{Fact: "postal_prefix", Op: OpEq, Want: "00", Seen: text("00")}, true, "Postal code area (first two characters): 00"},
	}
	for _, c := range cases {
		got := NewTeller(c.lang, nil).Check(EntityCompany, c.c, c.held)
		if !strings.HasPrefix(got, c.want) {
			t.Errorf("%s %+v: %q, want it to start %q", c.lang, c.c, got, c.want)
		}
	}
}
