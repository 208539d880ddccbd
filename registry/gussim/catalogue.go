package gussim

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"segmentor/registry"
)

// entity is one company as the registry holds it.
type entity struct {
	nip, regon, name string
	typ              string // "P" legal person, "F" natural person's activity
	silo             string // "6" for P; for F: 1 CEIDG, 2 farming, 3 other
	place            place
	street, number   string
	pkd              []string // compact codes ("4711Z"), the first the main one
	form             form     // P only
	founded, started time.Time
	suspended        time.Time
	resumed          time.Time
	ended            time.Time
}

type place struct {
	voivodeship string // as Region holds it, "Mazowieckie"
	powiat      string
	gmina       string
	city        string
	postcode    string
}

// form is a legal form: the registry's names of it and the label a client
// shows.
type form struct {
	label    string
	basic    string // podstawowaFormaPrawna_Nazwa
	detailed string // szczegolnaFormaPrawna_Nazwa
	name     string // how the form appears in a company's name
	prefix   bool   // the form comes before the name ("FUNDACJA …")
	weight   int
}

var forms = []form{
	{"sp. z o.o.", "OSOBA PRAWNA", "SPÓŁKI Z OGRANICZONĄ ODPOWIEDZIALNOŚCIĄ", "SPÓŁKA Z OGRANICZONĄ ODPOWIEDZIALNOŚCIĄ", false, 50},
	{"S.A.", "OSOBA PRAWNA", "SPÓŁKI AKCYJNE", "SPÓŁKA AKCYJNA", false, 4},
	{"P.S.A.", "OSOBA PRAWNA", "PROSTE SPÓŁKI AKCYJNE", "PROSTA SPÓŁKA AKCYJNA", false, 3},
	{"sp.k.", "JEDNOSTKA ORGANIZACYJNA NIEMAJĄCA OSOBOWOŚCI PRAWNEJ", "SPÓŁKI KOMANDYTOWE", "SPÓŁKA KOMANDYTOWA", false, 8},
	{"sp.j.", "JEDNOSTKA ORGANIZACYJNA NIEMAJĄCA OSOBOWOŚCI PRAWNEJ", "SPÓŁKI JAWNE", "SPÓŁKA JAWNA", false, 7},
	{"s.c.", "JEDNOSTKA ORGANIZACYJNA NIEMAJĄCA OSOBOWOŚCI PRAWNEJ", "SPÓŁKI CYWILNE PROWADZĄCE DZIAŁALNOŚĆ NA PODSTAWIE UMOWY ZAWARTEJ NA MOCY KODEKSU CYWILNEGO", "SPÓŁKA CYWILNA", false, 14},
	{"spółdzielnia", "OSOBA PRAWNA", "SPÓŁDZIELNIE", "SPÓŁDZIELNIA", true, 3},
	{"fundacja", "OSOBA PRAWNA", "FUNDACJE", "FUNDACJA", true, 4},
	{"stowarzyszenie", "OSOBA PRAWNA", "STOWARZYSZENIA", "STOWARZYSZENIE", true, 5},
}

// The labels of a natural person's activity, by silo.
var personLabels = map[string]string{"1": "JDG", "2": "gospodarstwo rolne", "3": "osoba fizyczna"}

// places are a few towns of each voivodeship; weight follows population.
var places = []struct {
	place
	weight int
}{
	{place{"Dolnośląskie", "Wrocław", "Wrocław", "Wrocław", "50"}, 6}, {place{"Dolnośląskie", "Legnica", "Legnica", "Legnica", "59"}, 2},
	{place{"Kujawsko-Pomorskie", "Bydgoszcz", "Bydgoszcz", "Bydgoszcz", "85"}, 3}, {place{"Kujawsko-Pomorskie", "Toruń", "Toruń", "Toruń", "87"}, 2},
	{place{"Lubelskie", "Lublin", "Lublin", "Lublin", "20"}, 4}, {place{"Lubelskie", "Zamość", "Zamość", "Zamość", "22"}, 1},
	{place{"Lubuskie", "Zielona Góra", "Zielona Góra", "Zielona Góra", "65"}, 1}, {place{"Lubuskie", "Gorzów Wielkopolski", "Gorzów Wielkopolski", "Gorzów Wielkopolski", "66"}, 1},
	{place{"Łódzkie", "Łódź", "Łódź", "Łódź", "90"}, 4}, {place{"Łódzkie", "Piotrków Trybunalski", "Piotrków Trybunalski", "Piotrków Trybunalski", "97"}, 1},
	{place{"Małopolskie", "Kraków", "Kraków", "Kraków", "30"}, 6}, {place{"Małopolskie", "Tarnów", "Tarnów", "Tarnów", "33"}, 2},
	{place{"Mazowieckie", "m. st. Warszawa", "Śródmieście", "Warszawa", "00"}, 12}, {place{"Mazowieckie", "Radom", "Radom", "Radom", "26"}, 2},
	{place{"Opolskie", "Opole", "Opole", "Opole", "45"}, 2},
	{place{"Podkarpackie", "Rzeszów", "Rzeszów", "Rzeszów", "35"}, 4},
	{place{"Podlaskie", "Białystok", "Białystok", "Białystok", "15"}, 2},
	{place{"Pomorskie", "Gdańsk", "Gdańsk", "Gdańsk", "80"}, 4}, {place{"Pomorskie", "Gdynia", "Gdynia", "Gdynia", "81"}, 2},
	{place{"Śląskie", "Katowice", "Katowice", "Katowice", "40"}, 5}, {place{"Śląskie", "Gliwice", "Gliwice", "Gliwice", "44"}, 3},
	{place{"Świętokrzyskie", "Kielce", "Kielce", "Kielce", "25"}, 2},
	{place{"Warmińsko-Mazurskie", "Olsztyn", "Olsztyn", "Olsztyn", "10"}, 2},
	{place{"Wielkopolskie", "Poznań", "Poznań", "Poznań", "60"}, 5}, {place{"Wielkopolskie", "Kalisz", "Kalisz", "Kalisz", "62"}, 2},
	{place{"Zachodniopomorskie", "Szczecin", "Szczecin", "Szczecin", "70"}, 3}, {place{"Zachodniopomorskie", "Koszalin", "Koszalin", "Koszalin", "75"}, 1},
}

// activities are PKD 2007 subclasses across every section, with their
// registry names and the trade a sole trader would write after his name.
var activities = []struct {
	code, name, trade string
	weight            int
}{
	{"0111Z", "UPRAWA ZBÓŻ, ROŚLIN STRĄCZKOWYCH I ROŚLIN OLEISTYCH NA NASIONA, Z WYŁĄCZENIEM RYŻU", "GOSPODARSTWO", 2},
	{"0811Z", "WYDOBYWANIE KAMIENIA DLA POTRZEB BUDOWNICTWA I RZEŹBIARSTWA", "KAMIENIOŁOM", 1},
	{"1071Z", "PRODUKCJA PIECZYWA; PRODUKCJA ŚWIEŻYCH WYROBÓW CIASTKARSKICH I CIASTEK", "PIEKARNIA", 2},
	{"2562Z", "OBRÓBKA MECHANICZNA ELEMENTÓW METALOWYCH", "ŚLUSARSTWO", 3},
	{"3511Z", "WYTWARZANIE ENERGII ELEKTRYCZNEJ", "ENERGETYKA", 1},
	{"3811Z", "ZBIERANIE ODPADÓW INNYCH NIŻ NIEBEZPIECZNE", "WYWÓZ ODPADÓW", 1},
	{"4120Z", "ROBOTY BUDOWLANE ZWIĄZANE ZE WZNOSZENIEM BUDYNKÓW MIESZKALNYCH I NIEMIESZKALNYCH", "USŁUGI BUDOWLANE", 6},
	{"4322Z", "WYKONYWANIE INSTALACJI WODNO-KANALIZACYJNYCH, CIEPLNYCH, GAZOWYCH I KLIMATYZACYJNYCH", "INSTALACJE SANITARNE", 4},
	{"4520Z", "KONSERWACJA I NAPRAWA POJAZDÓW SAMOCHODOWYCH, Z WYŁĄCZENIEM MOTOCYKLI", "MECHANIKA POJAZDOWA", 4},
	{"4690Z", "SPRZEDAŻ HURTOWA NIEWYSPECJALIZOWANA", "HURTOWNIA", 4},
	{"4711Z", "SPRZEDAŻ DETALICZNA PROWADZONA W NIEWYSPECJALIZOWANYCH SKLEPACH Z PRZEWAGĄ ŻYWNOŚCI, NAPOJÓW I WYROBÓW TYTONIOWYCH", "SKLEP SPOŻYWCZY", 6},
	{"4791Z", "SPRZEDAŻ DETALICZNA PROWADZONA PRZEZ DOMY SPRZEDAŻY WYSYŁKOWEJ LUB INTERNET", "SKLEP INTERNETOWY", 5},
	{"4941Z", "TRANSPORT DROGOWY TOWARÓW", "TRANSPORT", 6},
	{"5229C", "DZIAŁALNOŚĆ POZOSTAŁYCH AGENCJI TRANSPORTOWYCH", "SPEDYCJA", 2},
	{"5510Z", "HOTELE I PODOBNE OBIEKTY ZAKWATEROWANIA", "HOTEL", 2},
	{"5610A", "RESTAURACJE I INNE STAŁE PLACÓWKI GASTRONOMICZNE", "RESTAURACJA", 4},
	{"6201Z", "DZIAŁALNOŚĆ ZWIĄZANA Z OPROGRAMOWANIEM", "USŁUGI INFORMATYCZNE", 7},
	{"6311Z", "PRZETWARZANIE DANYCH; ZARZĄDZANIE STRONAMI INTERNETOWYMI (HOSTING) I PODOBNA DZIAŁALNOŚĆ", "HOSTING", 2},
	{"6419Z", "POZOSTAŁE POŚREDNICTWO PIENIĘŻNE", "POŚREDNICTWO FINANSOWE", 1},
	{"6622Z", "DZIAŁALNOŚĆ AGENTÓW I BROKERÓW UBEZPIECZENIOWYCH", "AGENCJA UBEZPIECZENIOWA", 2},
	{"6820Z", "WYNAJEM I ZARZĄDZANIE NIERUCHOMOŚCIAMI WŁASNYMI LUB DZIERŻAWIONYMI", "WYNAJEM NIERUCHOMOŚCI", 4},
	{"6920Z", "DZIAŁALNOŚĆ RACHUNKOWO-KSIĘGOWA; DORADZTWO PODATKOWE", "BIURO RACHUNKOWE", 4},
	{"7022Z", "POZOSTAŁE DORADZTWO W ZAKRESIE PROWADZENIA DZIAŁALNOŚCI GOSPODARCZEJ I ZARZĄDZANIA", "DORADZTWO", 5},
	{"7111Z", "DZIAŁALNOŚĆ W ZAKRESIE ARCHITEKTURY", "PRACOWNIA ARCHITEKTONICZNA", 2},
	{"7311Z", "DZIAŁALNOŚĆ AGENCJI REKLAMOWYCH", "AGENCJA REKLAMOWA", 2},
	{"7711Z", "WYNAJEM I DZIERŻAWA SAMOCHODÓW OSOBOWYCH I FURGONETEK", "WYPOŻYCZALNIA SAMOCHODÓW", 1},
	{"8299Z", "POZOSTAŁA DZIAŁALNOŚĆ WSPOMAGAJĄCA PROWADZENIE DZIAŁALNOŚCI GOSPODARCZEJ, GDZIE INDZIEJ NIESKLASYFIKOWANA", "USŁUGI BIUROWE", 2},
	{"8411Z", "KIEROWANIE PODSTAWOWYMI RODZAJAMI DZIAŁALNOŚCI PUBLICZNEJ", "ADMINISTRACJA", 1},
	{"8559B", "POZOSTAŁE POZASZKOLNE FORMY EDUKACJI, GDZIE INDZIEJ NIESKLASYFIKOWANE", "SZKOLENIA", 3},
	{"8621Z", "PRAKTYKA LEKARSKA OGÓLNA", "GABINET LEKARSKI", 3},
	{"8623Z", "PRAKTYKA LEKARSKA DENTYSTYCZNA", "GABINET STOMATOLOGICZNY", 2},
	{"9001Z", "DZIAŁALNOŚĆ ZWIĄZANA Z WYSTAWIANIEM PRZEDSTAWIEŃ ARTYSTYCZNYCH", "DZIAŁALNOŚĆ ARTYSTYCZNA", 1},
	{"9313Z", "DZIAŁALNOŚĆ OBIEKTÓW SŁUŻĄCYCH POPRAWIE KONDYCJI FIZYCZNEJ", "SIŁOWNIA", 1},
	{"9511Z", "NAPRAWA I KONSERWACJA KOMPUTERÓW I URZĄDZEŃ PERYFERYJNYCH", "SERWIS KOMPUTEROWY", 1},
	{"9602Z", "FRYZJERSTWO I POZOSTAŁE ZABIEGI KOSMETYCZNE", "SALON FRYZJERSKI", 4},
	{"9700Z", "GOSPODARSTWA DOMOWE ZATRUDNIAJĄCE PRACOWNIKÓW", "GOSPODARSTWO DOMOWE", 1},
	{"9900Z", "ORGANIZACJE I ZESPOŁY EKSTERYTORIALNE", "PRZEDSTAWICIELSTWO", 1},
}

var (
	nameRoots   = []string{"AGRO", "BUD", "TRANS", "MED", "POL", "INTER", "TECH", "EKO", "STAL", "DREW", "FARM", "SOFT", "MAR", "LUX", "KOM", "ELEKTRO", "AUTO", "HANDEL", "PROJEKT", "GRAF"}
	nameEndings = []string{"EX", "MAR", "POL", "BUD", "TEX", "SAN", "NET", "MED", "TRANS", "SERWIS", "-PLUS", "-SYSTEM", " GRUPA", " CENTRUM", " POLSKA"}
	firstNames  = []string{"JAN", "PIOTR", "ANNA", "KATARZYNA", "TOMASZ", "MARIA", "PAWEŁ", "AGNIESZKA", "MICHAŁ", "MAŁGORZATA", "KRZYSZTOF", "EWA", "ANDRZEJ", "JOANNA", "MAREK", "MAGDALENA"}
	lastNames   = []string{"KOWALSKI", "NOWAK", "WIŚNIEWSKI", "WÓJCIK", "KOWALCZYK", "KAMIŃSKI", "LEWANDOWSKI", "ZIELIŃSKI", "SZYMAŃSKI", "WOŹNIAK", "DĄBROWSKI", "KOZŁOWSKI", "JANKOWSKI", "MAZUR", "KWIATKOWSKI", "KRAWCZYK"}
	streets     = []string{"ul. Marszałkowska", "ul. Długa", "ul. Polna", "ul. Lipowa", "ul. Kościuszki", "ul. Mickiewicza", "ul. Słowackiego", "al. Jana Pawła II", "ul. Przemysłowa", "ul. Leśna", "ul. Ogrodowa", "ul. Kolejowa"}
)

// generate builds a catalogue of n companies from seed: the same seed and n
// give the same companies.
func generate(seed uint64, n int) []*entity {
	rng := rand.New(rand.NewPCG(seed, 0x5e6d_e7a1))
	seen := make(map[string]bool, n)
	out := make([]*entity, 0, n)
	for len(out) < n {
		nip, ok := randomNIP(rng)
		if !ok || seen[nip] {
			continue
		}
		seen[nip] = true
		out = append(out, randomEntity(rng, nip))
	}
	return out
}

// randomNIP draws a valid NIP: a tax office prefix that does not start with
// 0, six digits, the check digit.
func randomNIP(rng *rand.Rand) (string, bool) {
	first9 := fmt.Sprintf("%03d%06d", 101+rng.IntN(899), rng.IntN(1_000_000))
	d, ok := registry.NIPCheckDigit(first9)
	if !ok {
		return "", false
	}
	return first9 + string(d), true
}

// randomREGON draws a valid 9-digit REGON (weights 8,9,2,3,4,5,6,7; a sum
// of 10 mod 11 gives 0).
func randomREGON(rng *rand.Rand) string {
	first8 := fmt.Sprintf("%08d", 10_000_000+rng.IntN(89_999_999))
	return first8 + regonCheck(first8)
}

func regonCheck(first8 string) string {
	w := []int{8, 9, 2, 3, 4, 5, 6, 7}
	sum := 0
	for i, x := range w {
		sum += int(first8[i]-'0') * x
	}
	return fmt.Sprint(sum % 11 % 10)
}

func randomEntity(rng *rand.Rand, nip string) *entity {
	e := &entity{nip: nip, regon: randomREGON(rng)}
	e.place = weighted(rng, places, func(p struct {
		place
		weight int
	}) int {
		return p.weight
	}).place
	e.street = streets[rng.IntN(len(streets))]
	e.number = fmt.Sprint(1 + rng.IntN(180))
	main := weighted(rng, activities, func(a struct {
		code, name, trade string
		weight            int
	}) int {
		return a.weight
	})
	e.pkd = []string{main.code}
	for range rng.IntN(4) {
		if c := activities[rng.IntN(len(activities))].code; c != main.code {
			e.pkd = append(e.pkd, c)
		}
	}
	root := nameRoots[rng.IntN(len(nameRoots))] + nameEndings[rng.IntN(len(nameEndings))]
	person := firstNames[rng.IntN(len(firstNames))] + " " + lastNames[rng.IntN(len(lastNames))]
	if rng.IntN(100) < 55 {
		e.typ, e.silo = "P", "6"
		e.form = weighted(rng, forms, func(f form) int { return f.weight })
		switch {
		case e.form.prefix:
			e.name = e.form.name + " " + root
		case e.form.label == "s.c.":
			e.name = root + " " + e.form.name + " " + person
		default:
			e.name = root + " " + e.form.name
		}
	} else {
		e.typ, e.silo = "F", "1"
		e.name = person + " " + main.trade
	}

	e.started = day(time.Date(1991, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, rng.IntN(12_600))) // to mid-2025
	e.founded = e.started.AddDate(0, 0, -rng.IntN(30))
	switch r := rng.IntN(100); {
	case r < 8: // closed
		e.ended = after(rng, e.started)
	case r < 14: // suspended, not resumed
		e.suspended = after(rng, e.started)
	case r < 19: // suspended once, resumed since: active
		e.suspended = after(rng, e.started)
		e.resumed = after(rng, e.suspended)
	}
	return e
}

// after is a day up to about three years after t, but not past mid-2025.
func after(rng *rand.Rand, t time.Time) time.Time {
	end := time.Date(2025, 6, 30, 0, 0, 0, 0, time.UTC)
	d := t.AddDate(0, 0, 1+rng.IntN(1100))
	if d.After(end) {
		d = end
	}
	return d
}

func weighted[T any](rng *rand.Rand, items []T, weight func(T) int) T {
	total := 0
	for _, it := range items {
		total += weight(it)
	}
	n := rng.IntN(total)
	for _, it := range items {
		if n -= weight(it); n < 0 {
			return it
		}
	}
	return items[len(items)-1]
}

func day(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// fromCompany turns a Company a test adds into an entity: the label picks
// the type and legal form, the status the dates.
func fromCompany(c registry.Company, regon string) *entity {
	e := &entity{nip: c.TaxID, regon: c.REGON, name: c.Name, started: day(c.Registered)}
	if e.regon == "" {
		e.regon = regon
	}
	e.typ, e.silo = "P", "6"
	for silo, label := range personLabels {
		if c.LegalForm == label {
			e.typ, e.silo = "F", silo
		}
	}
	if e.typ == "P" {
		e.form = form{label: c.LegalForm, basic: "OSOBA PRAWNA", detailed: strings.ToUpper(c.LegalForm)}
		for _, f := range forms {
			if f.label == c.LegalForm {
				e.form = f
			}
		}
	}
	e.place = place{voivodeship: c.Region, powiat: "—", gmina: "—", city: "—", postcode: "00"}
	for _, p := range places {
		if strings.EqualFold(p.voivodeship, c.Region) {
			e.place = p.place
			break
		}
	}
	e.street, e.number = "ul. Testowa", "1"
	if c.PKD != "" {
		e.pkd = []string{strings.ReplaceAll(c.PKD, ".", "")}
	}
	if e.started.IsZero() {
		e.started = time.Date(2010, 1, 4, 0, 0, 0, 0, time.UTC)
	}
	e.founded = e.started
	switch c.Status {
	case registry.StatusClosed:
		e.ended = e.started.AddDate(1, 0, 0)
	case registry.StatusSuspended:
		e.suspended = e.started.AddDate(1, 0, 0)
	}
	return e
}

// company is the Company a correct client makes of e.
func (e *entity) company() registry.Company {
	c := registry.Company{
		TaxID:      e.nip,
		REGON:      e.regon,
		Name:       e.name,
		Region:     e.place.voivodeship,
		Registered: e.started,
		Status:     registry.StatusActive,
	}
	if len(e.pkd) > 0 {
		c.PKD = registry.NormalizePKD(e.pkd[0])
		c.PKDSection = registry.PKDSection(c.PKD)
	}
	if e.typ == "F" {
		c.LegalForm = personLabels[e.silo]
	} else {
		c.LegalForm = e.form.label
	}
	switch {
	case !e.ended.IsZero():
		c.Status = registry.StatusClosed
	case !e.suspended.IsZero() && e.suspended.After(e.resumed):
		c.Status = registry.StatusSuspended
	}
	return c
}
