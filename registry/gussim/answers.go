package gussim

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// field is one element of a <dane>; an empty value is written <x />, as the
// service does.
type field struct{ name, value string }

// dane writes the registry's data document: <root><dane>…</dane>…</root>,
// indented with CRLF as the service sends it.
func dane(rows ...[]field) string {
	var b bytes.Buffer
	b.WriteString("\r\n<root>\r\n")
	for _, r := range rows {
		b.WriteString("  <dane>\r\n")
		for _, f := range r {
			if f.value == "" {
				b.WriteString("    <" + f.name + " />\r\n")
				continue
			}
			b.WriteString("    <" + f.name + ">")
			_ = xml.EscapeText(&b, []byte(f.value))
			b.WriteString("</" + f.name + ">\r\n")
		}
		b.WriteString("  </dane>\r\n")
	}
	b.WriteString("</root>")
	return b.String()
}

// errorDane is the registry's error answer; code 4 is "not found".
func errorDane(code, pl, en string, echo ...field) string {
	return dane(append([]field{{"ErrorCode", code}, {"ErrorMessagePl", pl}, {"ErrorMessageEn", en}}, echo...))
}

func notFound(echo ...field) string {
	return errorDane("4", "Nie znaleziono podmiotu dla podanych kryteriów wyszukiwania.",
		"No data found for the specified search criteria.", echo...)
}

func date(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.DateOnly)
}

func (s *Server) search(nip string) string {
	e, ok := s.byNIP[nip]
	if !ok {
		return notFound(field{"Nip", nip})
	}
	return dane([]field{
		{"Regon", e.regon}, {"Nip", e.nip}, {"StatusNip", ""}, {"Nazwa", e.name},
		{"Wojewodztwo", strings.ToUpper(e.place.voivodeship)}, {"Powiat", e.place.powiat},
		{"Gmina", e.place.gmina}, {"Miejscowosc", e.place.city}, {"KodPocztowy", e.postcode()},
		{"Ulica", e.street}, {"NrNieruchomosci", e.number}, {"NrLokalu", ""}, {"Typ", e.typ},
		{"SilosID", e.silo}, {"DataZakonczeniaDzialalnosci", date(e.ended)},
		{"MiejscowoscPoczty", e.place.city},
	})
}

func (e *entity) postcode() string { return e.place.postcode + "-" + e.regon[len(e.regon)-3:] }

// reports are the BIR1.1 full reports the simulator knows; it writes the
// ones a company lookup needs and answers the others "not found".
var reports = map[string]bool{
	"BIR11OsFizycznaDaneOgolne": true, "BIR11OsFizycznaDzialalnoscCeidg": true,
	"BIR11OsFizycznaDzialalnoscRolnicza": true, "BIR11OsFizycznaDzialalnoscPozostala": true,
	"BIR11OsFizycznaDzialalnoscSkreslonaDo20141108": true, "BIR11OsFizycznaPkd": true,
	"BIR11OsFizycznaListaJednLokalnych": true, "BIR11JednLokalnaOsFizycznej": true,
	"BIR11JednLokalnaOsFizycznejPkd": true, "BIR11OsPrawna": true, "BIR11OsPrawnaPkd": true,
	"BIR11OsPrawnaListaJednLokalnych": true, "BIR11JednLokalnaOsPrawnej": true,
	"BIR11JednLokalnaOsPrawnejPkd": true, "BIR11OsPrawnaSpCywilnaWspolnicy": true,
	"BIR11TypPodmiotu": true,
}

var personReports = map[string]string{
	"1": "BIR11OsFizycznaDzialalnoscCeidg",
	"2": "BIR11OsFizycznaDzialalnoscRolnicza",
	"3": "BIR11OsFizycznaDzialalnoscPozostala",
}

func (s *Server) report(regon, name string) string {
	if !reports[name] {
		return errorDane("5", "Nieprawidłowa lub pusta nazwa raportu.", "Invalid or empty report name.")
	}
	e, ok := s.byREGON[regon]
	if !ok {
		return notFound(field{"Regon", regon})
	}
	switch {
	case e.typ == "P" && name == "BIR11OsPrawna":
		return dane(e.legalReport())
	case e.typ == "P" && name == "BIR11OsPrawnaPkd":
		return dane(e.pkdRows("praw_pkdKod", "praw_pkdNazwa", "praw_pkdPrzewazajace", nil)...)
	case e.typ == "F" && name == personReports[e.silo]:
		return dane(e.activityReport())
	case e.typ == "F" && name == "BIR11OsFizycznaPkd":
		return dane(e.pkdRows("fiz_pkd_Kod", "fiz_pkd_Nazwa", "fiz_pkd_Przewazajace", []field{
			{"fiz_SilosID", e.silo}, {"fiz_Silos_Symbol", siloSymbols[e.silo]},
			{"fiz_dataSkresleniaDzialalnosciZRegon", ""},
		})...)
	}
	// The wrong report for the entity's type: what the service answers.
	return errorDane("4", "Nie znaleziono wpisu dla podanych kryteriów wyszukiwania.",
		"No data found for the specified search criteria.", field{"Regon", regon})
}

var siloSymbols = map[string]string{"1": "CEIDG", "2": "Rolnicza", "3": "Pozostała", "6": "Os. prawna"}

func (e *entity) address(p string) []field {
	return []field{
		{p + "adSiedzKraj_Symbol", "PL"}, {p + "adSiedzWojewodztwo_Symbol", ""},
		{p + "adSiedzPowiat_Symbol", ""}, {p + "adSiedzGmina_Symbol", ""},
		{p + "adSiedzKodPocztowy", strings.ReplaceAll(e.postcode(), "-", "")},
		{p + "adSiedzMiejscowoscPoczty_Symbol", ""}, {p + "adSiedzMiejscowosc_Symbol", ""},
		{p + "adSiedzUlica_Symbol", ""}, {p + "adSiedzNumerNieruchomosci", e.number},
		{p + "adSiedzNumerLokalu", ""}, {p + "adSiedzNietypoweMiejsceLokalizacji", ""},
		{p + "numerTelefonu", ""}, {p + "numerWewnetrznyTelefonu", ""}, {p + "numerFaksu", ""},
		{p + "adresEmail", ""}, {p + "adresStronyinternetowej", ""},
		{p + "adSiedzKraj_Nazwa", "POLSKA"}, {p + "adSiedzWojewodztwo_Nazwa", strings.ToUpper(e.place.voivodeship)},
		{p + "adSiedzPowiat_Nazwa", e.place.powiat}, {p + "adSiedzGmina_Nazwa", e.place.gmina},
		{p + "adSiedzMiejscowosc_Nazwa", e.place.city}, {p + "adSiedzMiejscowoscPoczty_Nazwa", e.place.city},
		{p + "adSiedzUlica_Nazwa", e.street},
	}
}

// legalReport is BIR11OsPrawna, its fields in the manual's order.
func (e *entity) legalReport() []field {
	f := []field{
		{"praw_regon9", e.regon}, {"praw_nip", e.nip}, {"praw_statusNip", ""}, {"praw_nazwa", e.name},
		{"praw_nazwaSkrocona", ""}, {"praw_numerWRejestrzeEwidencji", ""},
		{"praw_dataWpisuDoRejestruEwidencji", date(e.founded)}, {"praw_dataPowstania", date(e.founded)},
		{"praw_dataRozpoczeciaDzialalnosci", date(e.started)}, {"praw_dataWpisuDoRegon", date(e.founded)},
		{"praw_dataZawieszeniaDzialalnosci", date(e.suspended)}, {"praw_dataWznowieniaDzialalnosci", date(e.resumed)},
		{"praw_dataZaistnieniaZmiany", date(e.started)}, {"praw_dataZakonczeniaDzialalnosci", date(e.ended)},
		{"praw_dataSkresleniaZRegon", ""}, {"praw_dataOrzeczeniaOUpadlosci", ""},
		{"praw_dataZakonczeniaPostepowaniaUpadlosciowego", ""},
	}
	f = append(f, e.address("praw_")...)
	return append(f,
		field{"praw_podstawowaFormaPrawna_Symbol", ""}, field{"praw_szczegolnaFormaPrawna_Symbol", ""},
		field{"praw_formaFinansowania_Symbol", ""}, field{"praw_formaWlasnosci_Symbol", ""},
		field{"praw_organZalozycielski_Symbol", ""}, field{"praw_organRejestrowy_Symbol", ""},
		field{"praw_rodzajRejestruEwidencji_Symbol", ""},
		field{"praw_podstawowaFormaPrawna_Nazwa", e.form.basic}, field{"praw_szczegolnaFormaPrawna_Nazwa", e.form.detailed},
		field{"praw_formaFinansowania_Nazwa", "JEDNOSTKA SAMOFINANSUJĄCA NIE BĘDĄCA JEDNOSTKĄ BUDŻETOWĄ LUB SAMORZĄDOWYM ZAKŁADEM BUDŻETOWYM"},
		field{"praw_formaWlasnosci_Nazwa", "WŁASNOŚĆ KRAJOWYCH OSÓB FIZYCZNYCH"},
		field{"praw_organZalozycielski_Nazwa", ""}, field{"praw_organRejestrowy_Nazwa", ""},
		field{"praw_rodzajRejestruEwidencji_Nazwa", ""}, field{"praw_liczbaJednLokalnych", "0"},
	)
}

// activityReport is a natural person's activity report
// (BIR11OsFizycznaDzialalnoscCeidg and its siblings).
func (e *entity) activityReport() []field {
	f := []field{
		{"fiz_regon9", e.regon}, {"fiz_nazwa", e.name}, {"fiz_nazwaSkrocona", ""},
		{"fiz_dataPowstania", date(e.founded)}, {"fiz_dataRozpoczeciaDzialalnosci", date(e.started)},
		{"fiz_dataWpisuDzialalnosciDoRegon", date(e.founded)},
		{"fiz_dataZawieszeniaDzialalnosci", date(e.suspended)}, {"fiz_dataWznowieniaDzialalnosci", date(e.resumed)},
		{"fiz_dataZaistnieniaZmianyDzialalnosci", date(e.started)}, {"fiz_dataZakonczeniaDzialalnosci", date(e.ended)},
		{"fiz_dataSkresleniaDzialalnosciZRegon", ""}, {"fiz_dataOrzeczeniaOUpadlosci", ""},
		{"fiz_dataZakonczeniaPostepowaniaUpadlosciowego", ""},
	}
	f = append(f, e.address("fiz_")...)
	return append(f,
		field{"fizC_dataWpisuDoRejestruEwidencji", date(e.started)}, field{"fizC_dataSkresleniaZRejestruEwidencji", date(e.ended)},
		field{"fizC_numerWRejestrzeEwidencji", ""}, field{"fizC_OrganRejestrowy_Symbol", ""},
		field{"fizC_OrganRejestrowy_Nazwa", "MINISTER WŁAŚCIWY DO SPRAW GOSPODARKI"},
		field{"fizC_RodzajRejestru_Symbol", "151"},
		field{"fizC_RodzajRejestru_Nazwa", "CENTRALNA EWIDENCJA I INFORMACJA O DZIAŁALNOŚCI GOSPODARCZEJ"},
		field{"fizC_NiePodjetoDzialalnosci", "false"},
	)
}

// pkdRows is a PKD report: one row per code, the first the main one.
func (e *entity) pkdRows(code, name, main string, extra []field) [][]field {
	if len(e.pkd) == 0 {
		return nil
	}
	rows := make([][]field, 0, len(e.pkd))
	for i, c := range e.pkd {
		r := []field{{code, c}, {name, activityName(c)}, {main, boolDigit(i == 0)}}
		rows = append(rows, append(r, extra...))
	}
	return rows
}

func activityName(code string) string {
	for _, a := range activities {
		if a.code == code {
			return a.name
		}
	}
	return ""
}

// mtomBoundary and mtomStart are the framing WCF uses; the boundary's uuid
// is fixed, which no client may rely on.
const (
	mtomBoundary = "uuid:5a1e6d2c-6b1c-4f6e-9d55-0c3d1f2b8e11+id=1"
	mtomStart    = "<http://tempuri.org/0>"
)

// reply writes an operation's answer, in MTOM multipart unless Plain.
func (s *Server) reply(w http.ResponseWriter, action, op, ns, result string) {
	var env bytes.Buffer
	env.WriteString(`<s:Envelope xmlns:s="` + nsSOAP + `" xmlns:a="` + nsWSA + `"><s:Header>`)
	env.WriteString(`<a:Action s:mustUnderstand="1">` + action + `</a:Action></s:Header><s:Body>`)
	env.WriteString(`<` + op + `Response xmlns="` + ns + `">`)
	if result == "" {
		env.WriteString(`<` + op + `Result/>`)
	} else {
		env.WriteString(`<` + op + `Result>`)
		_ = xml.EscapeText(&env, []byte(result))
		env.WriteString(`</` + op + `Result>`)
	}
	env.WriteString(`</` + op + `Response></s:Body></s:Envelope>`)
	s.write(w, http.StatusOK, env.Bytes())
}

// fault writes a SOAP 1.2 fault.
func (s *Server) fault(w http.ResponseWriter, status int, code, reason string) {
	var env bytes.Buffer
	env.WriteString(`<s:Envelope xmlns:s="` + nsSOAP + `" xmlns:a="` + nsWSA + `"><s:Body><s:Fault><s:Code><s:Value>s:Sender</s:Value>`)
	env.WriteString(`<s:Subcode><s:Value>` + code + `</s:Value></s:Subcode></s:Code><s:Reason><s:Text xml:lang="pl-PL">`)
	_ = xml.EscapeText(&env, []byte(reason))
	env.WriteString(`</s:Text></s:Reason></s:Fault></s:Body></s:Envelope>`)
	s.write(w, status, env.Bytes())
}

func (s *Server) write(w http.ResponseWriter, status int, envelope []byte) {
	if s.opts.Plain {
		w.Header().Set("Content-Type", "application/soap+xml; charset=utf-8")
		w.WriteHeader(status)
		_, _ = w.Write(envelope)
		return
	}
	w.Header().Set("Content-Type", fmt.Sprintf(
		`multipart/related; type="application/xop+xml"; start=%q; boundary=%q; start-info="application/soap+xml"`,
		mtomStart, mtomBoundary))
	w.WriteHeader(status)
	var b bytes.Buffer
	b.WriteString("--" + mtomBoundary + "\r\n")
	b.WriteString("Content-ID: " + mtomStart + "\r\n")
	b.WriteString("Content-Transfer-Encoding: 8bit\r\n")
	b.WriteString(`Content-Type: application/xop+xml;charset=utf-8;type="application/soap+xml"` + "\r\n\r\n")
	b.Write(envelope)
	b.WriteString("\r\n--" + mtomBoundary + "--\r\n")
	_, _ = w.Write(b.Bytes())
}
