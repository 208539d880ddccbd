package b24sim

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// genCity is a city with its region as people write it in an address's
// PROVINCE, and the postal code's leading digits.
type genCity struct {
	city, province, postal string
}

// genCountry is where a generated company is registered: how many in a
// hundred, its cities, and how its tax id is written.
type genCountry struct {
	name, code string
	share      int
	cities     []genCity
	taxID      func(rng *rand.Rand) (field, value string)
	postal     func(rng *rand.Rand, prefix string) string
}

// Polish voivodeships with their cities and postal prefixes.
var genPolish = []genCity{
	{"Warszawa", "Mazowieckie", "0"}, {"Radom", "Mazowieckie", "26"}, {"Kraków", "Małopolskie", "3"},
	{"Tarnów", "Małopolskie", "33"}, {"Katowice", "Śląskie", "40"}, {"Gliwice", "Śląskie", "44"},
	{"Poznań", "Wielkopolskie", "6"}, {"Kalisz", "Wielkopolskie", "62"}, {"Gdańsk", "Pomorskie", "80"},
	{"Gdynia", "Pomorskie", "81"}, {"Wrocław", "Dolnośląskie", "5"}, {"Łódź", "Łódzkie", "9"},
	{"Lublin", "Lubelskie", "20"}, {"Szczecin", "Zachodniopomorskie", "70"}, {"Bydgoszcz", "Kujawsko-Pomorskie", "85"},
	{"Białystok", "Podlaskie", "15"}, {"Rzeszów", "Podkarpackie", "35"}, {"Kielce", "Świętokrzyskie", "25"},
	{"Olsztyn", "Warmińsko-Mazurskie", "10"}, {"Opole", "Opolskie", "45"}, {"Zielona Góra", "Lubuskie", "65"},
}

// genProvinceVariants are voivodeships as people also type them: lower
// case, without diacritics, with the "woj." prefix.
var genProvinceVariants = map[string][]string{
	"Mazowieckie": {"mazowieckie", "woj. mazowieckie", "MAZOWIECKIE"}, "Małopolskie": {"Malopolskie", "małopolskie", "malopolskie"},
	"Śląskie": {"Slaskie", "śląskie", "woj. śląskie"}, "Wielkopolskie": {"wielkopolskie", "WIELKOPOLSKIE"},
	"Pomorskie": {"pomorskie"}, "Dolnośląskie": {"Dolnoslaskie", "dolnośląskie"}, "Łódzkie": {"Lodzkie", "łódzkie"},
	"Podkarpackie": {"podkarpackie"}, "Świętokrzyskie": {"Swietokrzyskie"}, "Warmińsko-Mazurskie": {"Warminsko-Mazurskie"},
}

// genCityVariants are city names as also written.
var genCityVariants = map[string]string{"Warszawa": "Warsaw", "Kraków": "Krakow", "Wrocław": "Wroclaw",
	"Łódź": "Lodz", "Gdańsk": "Gdansk", "Poznań": "Poznan"}

var genStreets = map[string][]string{
	"PL": {"ul. Marszałkowska", "ul. Długa", "ul. Piotrkowska", "al. Jerozolimskie", "ul. Floriańska", "ul. Kościuszki", "ul. Mickiewicza", "ul. Polna"},
	"DE": {"Hauptstraße", "Bahnhofstraße", "Goethestraße", "Lindenallee", "Schillerstraße"},
	"CZ": {"Václavské náměstí", "Národní", "Masarykova", "Husova"},
	"RU": {"Tverskaya St.", "Nevsky Prospekt", "Lenina St.", "Mira Ave."},
	"AT": {"Mariahilfer Straße", "Kärntner Straße"},
	"LT": {"Gedimino pr.", "Konstitucijos pr."},
}

var genCountries = []genCountry{
	{name: "Poland", code: "PL", share: 50, cities: genPolish, taxID: genNIPField,
		postal: func(rng *rand.Rand, prefix string) string {
			d := prefix + fmt.Sprintf("%05d", rng.IntN(100000))[len(prefix):]
			if rng.IntN(30) == 0 {
				return d // typed without the dash
			}
			return d[:2] + "-" + d[2:]
		}},
	{name: "Germany", code: "DE", share: 18, cities: []genCity{{"Berlin", "Berlin", "10"}, {"München", "Bayern", "80"},
		{"Hamburg", "Hamburg", "20"}, {"Köln", "Nordrhein-Westfalen", "50"}, {"Frankfurt am Main", "Hessen", "60"}, {"Leipzig", "Sachsen", "04"}},
		taxID:  func(rng *rand.Rand) (string, string) { return "RQ_VAT_ID", "DE" + genDigits(rng, 9) },
		postal: genPostal5},
	{name: "Czech Republic", code: "CZ", share: 10, cities: []genCity{{"Praha", "Hlavní město Praha", "1"}, {"Brno", "Jihomoravský kraj", "6"},
		{"Ostrava", "Moravskoslezský kraj", "7"}, {"Plzeň", "Plzeňský kraj", "3"}},
		taxID: func(rng *rand.Rand) (string, string) { return "RQ_VAT_ID", "CZ" + genDigits(rng, 8) },
		postal: func(rng *rand.Rand, prefix string) string {
			d := prefix + genDigits(rng, 5-len(prefix))
			return d[:3] + " " + d[3:]
		}},
	{name: "Russia", code: "RU", share: 12, cities: []genCity{{"Moscow", "Moscow", "1"}, {"Saint Petersburg", "Saint Petersburg", "19"},
		{"Kazan", "Republic of Tatarstan", "42"}},
		taxID:  func(rng *rand.Rand) (string, string) { return "RQ_INN", "77" + genDigits(rng, 8) },
		postal: func(rng *rand.Rand, prefix string) string { return prefix + genDigits(rng, 6-len(prefix)) }},
	{name: "Austria", code: "AT", share: 5, cities: []genCity{{"Wien", "Wien", "1"}, {"Graz", "Steiermark", "8"}},
		taxID:  func(rng *rand.Rand) (string, string) { return "RQ_VAT_ID", "ATU" + genDigits(rng, 8) },
		postal: func(rng *rand.Rand, prefix string) string { return prefix + genDigits(rng, 4-len(prefix)) }},
	{name: "Lithuania", code: "LT", share: 5, cities: []genCity{{"Vilnius", "Vilniaus apskritis", "0"}, {"Kaunas", "Kauno apskritis", "4"}},
		taxID:  func(rng *rand.Rand) (string, string) { return "RQ_VAT_ID", "LT" + genDigits(rng, 9) },
		postal: func(rng *rand.Rand, prefix string) string { return "LT-" + prefix + genDigits(rng, 5-len(prefix)) }},
}

func genDigits(rng *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + rng.IntN(10))
	}
	return string(b)
}

func genPostal5(rng *rand.Rand, prefix string) string { return prefix + genDigits(rng, 5-len(prefix)) }

// nipWeights are the weights of a NIP's checksum: the sum of the first
// nine digits times these, mod 11, is the tenth digit (a sum giving 10 is
// no valid NIP).
var nipWeights = [9]int{6, 5, 7, 2, 3, 4, 5, 6, 7}

// nipChecksum is the check digit of a NIP's first nine digits, or 10 when
// no check digit makes them a valid NIP.
func nipChecksum(first9 string) int {
	sum := 0
	for i := range 9 {
		sum += int(first9[i]-'0') * nipWeights[i]
	}
	return sum % 11
}

// genNIP is a NIP: ten digits with a valid checksum, or, when bad, with a
// wrong last digit.
func genNIP(rng *rand.Rand, bad bool) string {
	for {
		head := fmt.Sprint(1+rng.IntN(9)) + genDigits(rng, 8)
		c := nipChecksum(head)
		if c == 10 {
			continue
		}
		if bad {
			c = (c + 1 + rng.IntN(9)) % 10
		}
		return head + fmt.Sprint(c)
	}
}

// genNIPField is a Polish company's NIP as RQ_VAT_ID, written as people
// do: mostly plain, some with dashes, spaces or the PL prefix; one in
// twenty-five does not pass the checksum.
func genNIPField(rng *rand.Rand) (string, string) {
	nip := genNIP(rng, rng.IntN(25) == 0)
	switch r := rng.IntN(100); {
	case r < 72:
	case r < 84:
		nip = nip[:3] + "-" + nip[3:6] + "-" + nip[6:8] + "-" + nip[8:]
	case r < 92:
		nip = "PL" + nip
	default:
		nip = nip[:3] + " " + nip[3:6] + " " + nip[6:8] + " " + nip[8:]
	}
	return "RQ_VAT_ID", nip
}

// requisites gives every company without one a requisite (one in twenty a
// second, for a branch) with a legal address and sometimes a physical one,
// and about half the contacts a person's requisite with an address. The
// draws come from a source of their own. Caller holds p.mu.
func (g *gen) requisites() (requisites, addresses int) {
	rs := &g.p.reqs
	t, a := rs.rq, rs.addr
	rng := rand.New(rand.NewPCG(g.p.opts.Seed^0x7e9151735, uint64(t.nextID())))
	has := map[[2]int64]bool{}
	for _, r := range t.rows {
		if r != nil {
			has[[2]int64{t.num(r, "ENTITY_TYPE_ID"), t.num(r, "ENTITY_ID")}] = true
		}
	}
	newRequisite := func(owner *entity, rec *record, preset int64, name string) *tableRow {
		r := t.newRow(t.nextID())
		t.setNum(r, "ENTITY_TYPE_ID", int64(owner.typeID))
		t.setNum(r, "ENTITY_ID", int64(rec.id))
		t.setNum(r, "PRESET_ID", preset)
		t.setStr(r, "NAME", name)
		t.setNum(r, "ACTIVE", 1)
		t.setNum(r, "SORT", 500)
		t.setNum(r, "DATE_CREATE", rec.n[owner.f("DATE_CREATE").slot])
		t.setNum(r, "CREATED_BY_ID", rec.n[owner.f("ASSIGNED_BY_ID").slot])
		t.put(r)
		requisites++
		return r
	}
	newAddress := func(rq *tableRow, owner *entity, typeID int, c genCountry) {
		city := c.cities[rng.IntN(len(c.cities))]
		r := a.newRow(a.nextID())
		a.setNum(r, "TYPE_ID", int64(typeID))
		a.setNum(r, "ENTITY_TYPE_ID", OwnerRequisite)
		a.setNum(r, "ENTITY_ID", int64(rq.id))
		streets := genStreets[c.code]
		a.setStr(r, "ADDRESS_1", fmt.Sprintf("%s %d", streets[rng.IntN(len(streets))], 1+rng.IntN(120)))
		if rng.IntN(3) == 0 {
			a.setStr(r, "ADDRESS_2", fmt.Sprint(1+rng.IntN(300)))
		}
		name, province := city.city, city.province
		if c.code == "PL" {
			if v, ok := genCityVariants[name]; ok && rng.IntN(15) == 0 {
				name = v
			}
			if vs := genProvinceVariants[province]; len(vs) > 0 && rng.IntN(7) == 0 {
				province = vs[rng.IntN(len(vs))]
			}
		}
		a.setStr(r, "CITY", name)
		if rng.IntN(12) != 0 { // some leave the region out
			a.setStr(r, "PROVINCE", province)
		}
		a.setStr(r, "POSTAL_CODE", c.postal(rng, city.postal))
		country := c.name
		if c.code == "PL" && rng.IntN(4) == 0 {
			country = "Polska"
		}
		a.setStr(r, "COUNTRY", country)
		a.setNum(r, "LOC_ADDR_ID", rs.nextLoc)
		rs.nextLoc++
		a.setNum(r, "ANCHOR_TYPE_ID", int64(owner.typeID))
		a.setNum(r, "ANCHOR_ID", t.num(rq, "ENTITY_ID"))
		a.put(r)
		addresses++
	}
	pickCountry := func() genCountry {
		n := rng.IntN(100)
		for _, c := range genCountries {
			if n < c.share {
				return c
			}
			n -= c.share
		}
		return genCountries[0]
	}
	co := g.c.company
	for id := 1; id <= co.lastID; id++ {
		rec := co.get(id)
		if rec == nil || has[[2]int64{OwnerCompany, int64(id)}] {
			continue
		}
		c := pickCountry()
		title := rec.s[co.f("TITLE").slot]
		for k := range 1 + b2i(rng.IntN(20) == 0) {
			name := "Organization"
			if k > 0 {
				name = "Branch in " + c.cities[rng.IntN(len(c.cities))].city
			}
			rq := newRequisite(co, rec, 1, name)
			t.setStr(rq, "RQ_COMPANY_NAME", title)
			t.setStr(rq, "RQ_COMPANY_FULL_NAME", strings.ToUpper(title))
			field, value := c.taxID(rng)
			t.setStr(rq, field, value)
			if c.code == "PL" && rng.IntN(2) == 0 {
				t.setStr(rq, "RQ_REGON", genDigits(rng, 9))
			}
			newAddress(rq, co, AddressLegal, c)
			if rng.IntN(10) < 3 {
				newAddress(rq, co, AddressPhysical, c)
			}
		}
	}
	ct := g.c.contact
	for id := 1; id <= ct.lastID; id++ {
		rec := ct.get(id)
		if rec == nil || has[[2]int64{OwnerContact, int64(id)}] || rng.IntN(2) == 0 {
			continue
		}
		rq := newRequisite(ct, rec, 3, "Individual")
		t.setStr(rq, "RQ_FIRST_NAME", rec.s[ct.f("NAME").slot])
		t.setStr(rq, "RQ_LAST_NAME", rec.s[ct.f("LAST_NAME").slot])
		newAddress(rq, ct, AddressPhysical, pickCountry())
	}
	return requisites, addresses
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// communications gives about four in five contacts and three in five
// companies a phone, and most an e-mail; one in twenty shares the phone of
// the record before (an office line), and phones are written in several
// ways. The draws come from a source of their own. Caller holds p.mu.
func (g *gen) communications() int {
	cs := &g.p.reqs.comms
	rng := rand.New(rand.NewPCG(g.p.opts.Seed^0xc0441c, uint64(cs.count)))
	before := cs.count
	prefixes := []string{"+48", "+49", "+420", "+7"}
	var last string
	phone := func() string {
		if last != "" && rng.IntN(20) == 0 {
			return last
		}
		d := genDigits(rng, 9)
		switch rng.IntN(4) {
		case 0:
			last = prefixes[rng.IntN(len(prefixes))] + d
		case 1:
			last = prefixes[rng.IntN(len(prefixes))] + " " + d[:3] + " " + d[3:6] + " " + d[6:]
		case 2:
			last = strings.TrimPrefix(prefixes[rng.IntN(len(prefixes))], "+") + d
		default:
			last = "(" + d[:3] + ") " + d[3:6] + "-" + d[6:]
		}
		return last
	}
	for _, x := range []struct {
		e            *entity
		phone, email int // in ten
	}{{g.c.contact, 8, 7}, {g.c.company, 6, 5}} {
		for id := 1; id <= x.e.lastID; id++ {
			rec := x.e.get(id)
			if rec == nil {
				continue
			}
			o := commOwner{x.e.typeID, id}
			if rng.IntN(10) < x.phone {
				cs.add("PHONE", phone(), o)
			}
			if rng.IntN(10) < x.email {
				cs.add("EMAIL", fmt.Sprintf("%s%d@example.com", strings.ToLower(x.e.name), id), o)
			}
		}
	}
	return cs.count - before
}
