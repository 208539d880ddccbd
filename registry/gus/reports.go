package gus

import (
	"strings"
	"time"

	"segmentor/registry"
)

// kind is what a search row is and where its details live: the full report,
// the PKD report, and the prefix of their fields.
type kind struct {
	report    string
	pkdReport string
	prefix    string // of the full report's fields: "praw_", "fiz_", …
	silo      string // SilosID of a natural person's activity
	person    bool   // a natural person's activity (Typ F or LF)
}

// kindOf routes a search row (Typ, SilosID) to its reports, as the BIR1.1
// manual's report table does. SilosID of a natural person: 1 CEIDG, 2
// farming, 3 other, 4 struck off before 2014-11-08. The local-unit reports'
// field prefixes (lokpraw_, lokfiz_) follow the manual but were not seen in
// a real answer.
func kindOf(e row) kind {
	silo := e.get("", "SilosID")
	switch strings.ToUpper(e.get("", "Typ")) {
	case "P":
		return kind{report: "BIR11OsPrawna", pkdReport: "BIR11OsPrawnaPkd", prefix: "praw_"}
	case "F":
		k := kind{pkdReport: "BIR11OsFizycznaPkd", prefix: "fiz_", silo: silo, person: true}
		switch silo {
		case "1":
			k.report = "BIR11OsFizycznaDzialalnoscCeidg"
		case "2":
			k.report = "BIR11OsFizycznaDzialalnoscRolnicza"
		case "3":
			k.report = "BIR11OsFizycznaDzialalnoscPozostala"
		case "4":
			k.report = "BIR11OsFizycznaDzialalnoscSkreslonaDo20141108"
		}
		return k
	case "LP":
		return kind{report: "BIR11JednLokalnaOsPrawnej", pkdReport: "BIR11JednLokalnaOsPrawnejPkd", prefix: "lokpraw_"}
	case "LF":
		return kind{report: "BIR11JednLokalnaOsFizycznej", pkdReport: "BIR11JednLokalnaOsFizycznejPkd", prefix: "lokfiz_", silo: silo, person: true}
	}
	return kind{}
}

// pick chooses the row a NIP stands for. A sole trader has one row per
// activity (silo), and local units may come along: a legal person or
// natural person beats a local unit, an activity still running beats an
// ended one, CEIDG (silo 1) beats the other silos.
func pick(rows []row) row {
	best, bestScore := rows[0], -1
	for _, r := range rows {
		score := 0
		if t := strings.ToUpper(r.get("", "Typ")); t == "P" || t == "F" {
			score += 4
		}
		if r.get("", "DataZakonczeniaDzialalnosci") == "" {
			score += 2
		}
		if r.get("", "SilosID") == "1" || r.get("", "SilosID") == "6" {
			score++
		}
		if score > bestScore {
			best, bestScore = r, score
		}
	}
	return best
}

// company maps a search row, its full report (nil when unread) and its PKD
// rows to a Company.
func company(e row, k kind, detail row, pkd []row) *registry.Company {
	if detail == nil {
		detail = row{}
	}
	p := k.prefix
	co := &registry.Company{
		TaxID: e.get("", "Nip"),
		REGON: e.get("", "Regon"),
		Name:  firstOf(detail.get(p, "nazwa"), e.get("", "Nazwa")),
		Region: registry.NormalizeRegion(firstOf(
			detail.get(p, "adSiedzWojewodztwo_Nazwa"), e.get("", "Wojewodztwo"))),
		LegalForm: legalForm(k, detail.get(p, "szczegolnaFormaPrawna_Nazwa"), detail.get(p, "podstawowaFormaPrawna_Nazwa")),
		Registered: date(firstOf(
			detail.get(p, "dataRozpoczeciaDzialalnosci"),
			detail.get(p, "dataPowstania"),
			detail.get(p, "dataWpisuDoRegon", "dataWpisuDzialalnosciDoRegon"))),
	}
	co.PKD = registry.NormalizePKD(mainPKD(pkd, k.silo))
	co.PKDSection = registry.PKDSection(co.PKD)
	co.Status = status(e, detail, p)
	return co
}

// status reads whether the company trades: closed once its activity ended
// or it was struck off REGON; suspended when its last suspension came after
// its last resumption.
func status(e, detail row, p string) registry.Status {
	if e.get("", "DataZakonczeniaDzialalnosci") != "" ||
		detail.get(p, "dataZakonczeniaDzialalnosci", "dataSkresleniaZRegon", "dataSkresleniaDzialalnosciZRegon") != "" {
		return registry.StatusClosed
	}
	suspended := date(detail.get(p, "dataZawieszeniaDzialalnosci"))
	resumed := date(detail.get(p, "dataWznowieniaDzialalnosci"))
	if !suspended.IsZero() && suspended.After(resumed) {
		return registry.StatusSuspended
	}
	return registry.StatusActive
}

// mainPKD is the code of the row marked Przewazajace (main activity) — of
// the given silo, when the rows say theirs — preferring PKD 2007 when rows
// of several PKD versions are marked; else the first code.
func mainPKD(rows []row, silo string) string {
	var first, main string
	for _, r := range rows {
		if s := findSuffix(r, "silosid"); silo != "" && s != "" && s != silo {
			continue
		}
		code := findSuffix(r, "pkdkod", "pkd_kod")
		if code == "" {
			continue
		}
		if first == "" {
			first = code
		}
		if findSuffix(r, "pkdprzewazajace", "pkd_przewazajace") != "1" {
			continue
		}
		v := findSuffix(r, "pkdwersja")
		if main == "" || strings.Contains(v, "2007") {
			main = code
		}
	}
	return firstOf(main, first)
}

// findSuffix is the value of the first field whose name ends in one of
// suffixes: the PKD reports prefix their fields by entity type (praw_,
// fiz_, lokpraw_, lokfiz_).
func findSuffix(r row, suffixes ...string) string {
	for _, s := range suffixes {
		for k, v := range r {
			if strings.HasSuffix(k, s) && strings.TrimSpace(v) != "" {
				return strings.TrimSpace(v)
			}
		}
	}
	return ""
}

// legalForms gives the short label of a legal form by the registry's name
// of it (szczegolnaFormaPrawna_Nazwa, upper-case in the registry).
var legalForms = map[string]string{
	"SPÓŁKI Z OGRANICZONĄ ODPOWIEDZIALNOŚCIĄ": "sp. z o.o.",
	"SPÓŁKI AKCYJNE":             "S.A.",
	"PROSTE SPÓŁKI AKCYJNE":      "P.S.A.",
	"SPÓŁKI KOMANDYTOWO-AKCYJNE": "S.K.A.",
	"SPÓŁKI KOMANDYTOWE":         "sp.k.",
	"SPÓŁKI JAWNE":               "sp.j.",
	"SPÓŁKI PARTNERSKIE":         "sp.p.",
	"SPÓŁDZIELNIE":               "spółdzielnia",
	"FUNDACJE":                   "fundacja",
	"STOWARZYSZENIA":             "stowarzyszenie",
	"PRZEDSIĘBIORSTWA PAŃSTWOWE": "przedsiębiorstwo państwowe",
}

// legalForm is the short label of a legal form. A natural person's
// activity has no legal-form fields in its reports (they are in the
// person's general report, which costs another request): its label comes
// from the silo.
func legalForm(k kind, detailed, basic string) string {
	if k.person {
		switch k.silo {
		case "2":
			return "gospodarstwo rolne"
		case "3", "4":
			return "osoba fizyczna"
		}
		return "JDG"
	}
	name := strings.ToUpper(strings.Join(strings.Fields(detailed), " "))
	if l, ok := legalForms[name]; ok {
		return l
	}
	if strings.HasPrefix(name, "SPÓŁKI CYWILNE") {
		return "s.c."
	}
	return strings.ToLower(firstOf(detailed, basic))
}

// date reads the registry's YYYY-MM-DD; "" and anything else are zero.
func date(s string) time.Time {
	if len(s) > 10 {
		s = s[:10] // a time of day, should one come along
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

func firstOf(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
