package gus

import (
	"bytes"
	"encoding/xml"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// A login answer as the service frames it: one MTOM part, the boundary and
// start in the Content-Type.
const (
	mtomType = `multipart/related; type="application/xop+xml"; start="<http://tempuri.org/0>"; boundary="uuid:0b6f1a5e-3c2d-4e7f-8a9b-1c2d3e4f5a6b+id=7"; start-info="application/soap+xml"`
	mtomBody = "--uuid:0b6f1a5e-3c2d-4e7f-8a9b-1c2d3e4f5a6b+id=7\r\n" +
		"Content-ID: <http://tempuri.org/0>\r\n" +
		"Content-Transfer-Encoding: 8bit\r\n" +
		"Content-Type: application/xop+xml;charset=utf-8;type=\"application/soap+xml\"\r\n\r\n" +
		`<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://www.w3.org/2005/08/addressing"><s:Header><a:Action s:mustUnderstand="1">http://CIS/BIR/PUBL/2014/07/IUslugaBIRzewnPubl/ZalogujResponse</a:Action></s:Header><s:Body><ZalogujResponse xmlns="http://CIS/BIR/PUBL/2014/07"><ZalogujResult>c47xb5n78ppgc9hks85f</ZalogujResult></ZalogujResponse></s:Body></s:Envelope>` +
		"\r\n--uuid:0b6f1a5e-3c2d-4e7f-8a9b-1c2d3e4f5a6b+id=7--\r\n"
	plainLogin = `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><ZalogujResponse xmlns="http://CIS/BIR/PUBL/2014/07"><ZalogujResult>c47xb5n78ppgc9hks85f</ZalogujResult></ZalogujResponse></s:Body></s:Envelope>`
)

func response(contentType, body string) *http.Response {
	h := http.Header{}
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	return &http.Response{StatusCode: 200, Header: h, Body: io.NopCloser(strings.NewReader(body))}
}

func TestSoapPartAndResult(t *testing.T) {
	tests := []struct {
		name, contentType, body string
	}{
		{"MTOM", mtomType, mtomBody},
		{"plain SOAP", "application/soap+xml; charset=utf-8", plainLogin},
		{"MTOM without a Content-Type", "", mtomBody},
		{"MTOM start matching no part", strings.Replace(mtomType, "tempuri.org/0", "tempuri.org/9", 1), mtomBody},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := soapPart(response(tt.contentType, tt.body))
			if err != nil {
				t.Fatal(err)
			}
			ans, err := readEnvelope(raw)
			if err != nil {
				t.Fatal(err)
			}
			if ans.result != "c47xb5n78ppgc9hks85f" || ans.fault != "" {
				t.Errorf("answer = %+v, want the session id", ans)
			}
		})
	}
}

func TestReadEnvelope(t *testing.T) {
	tests := []struct {
		name, env string
		want      answer
	}{
		{"empty result", `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><ZalogujResponse xmlns="http://CIS/BIR/PUBL/2014/07"><ZalogujResult/></ZalogujResponse></s:Body></s:Envelope>`, answer{}},
		{"escaped data", `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><DaneSzukajPodmiotyResponse xmlns="http://CIS/BIR/PUBL/2014/07"><DaneSzukajPodmiotyResult>&lt;root&gt;&#xD;&#xA;&lt;dane&gt;&lt;Nazwa&gt;A &amp;amp; B&lt;/Nazwa&gt;&lt;/dane&gt;&lt;/root&gt;</DaneSzukajPodmiotyResult></DaneSzukajPodmiotyResponse></s:Body></s:Envelope>`,
			answer{result: "<root>\r\n<dane><Nazwa>A &amp; B</Nazwa></dane></root>"}},
		{"CDATA data", `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><DaneSzukajPodmiotyResponse xmlns="http://CIS/BIR/PUBL/2014/07"><DaneSzukajPodmiotyResult><![CDATA[<root><dane><Nazwa>X</Nazwa></dane></root>]]></DaneSzukajPodmiotyResult></DaneSzukajPodmiotyResponse></s:Body></s:Envelope>`,
			answer{result: "<root><dane><Nazwa>X</Nazwa></dane></root>"}},
		{"fault", `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><s:Fault><s:Code><s:Value>s:Sender</s:Value></s:Code><s:Reason><s:Text xml:lang="pl-PL">ContractFilter mismatch</s:Text></s:Reason></s:Fault></s:Body></s:Envelope>`,
			answer{fault: "ContractFilter mismatch"}},
		{"a Result in the header is not the answer", `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header><XResult>no</XResult></s:Header><s:Body><GetValueResponse xmlns="http://CIS/BIR/2014/07"><GetValueResult>1</GetValueResult></GetValueResponse></s:Body></s:Envelope>`,
			answer{result: "1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readEnvelope([]byte(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("readEnvelope = %+v, want %+v", got, tt.want)
			}
		})
	}
	if _, err := readEnvelope([]byte(`<html>503</html>`)); err == nil {
		t.Error("an HTML page read as an envelope")
	}
}

func TestReadRows(t *testing.T) {
	doc := "\r\n<root>\r\n  <dane>\r\n    <Regon>000331501</Regon>\r\n    <Nip>5261040828</Nip>\r\n    <StatusNip />\r\n" +
		"    <Nazwa>GŁÓWNY URZĄD STATYSTYCZNY</Nazwa>\r\n    <praw_dataSkresleniazRegon />\r\n  </dane>\r\n  <dane>\r\n    <Regon>1</Regon>\r\n  </dane>\r\n</root>"
	rows, err := readRows(doc)
	if err != nil {
		t.Fatal(err)
	}
	want := []row{
		{"regon": "000331501", "nip": "5261040828", "statusnip": "", "nazwa": "GŁÓWNY URZĄD STATYSTYCZNY", "praw_dataskresleniazregon": ""},
		{"regon": "1"},
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
	if got := rows[0].get("praw_", "dataSkresleniaZRegon"); got != "" {
		t.Errorf("empty field read as %q", got)
	}
	if got := rows[0].get("", "NAZWA"); got != "GŁÓWNY URZĄD STATYSTYCZNY" {
		t.Errorf("case-insensitive get = %q", got)
	}
}

func TestDataRows(t *testing.T) {
	notFound := "<root><dane><ErrorCode>4</ErrorCode><ErrorMessagePl>Nie znaleziono podmiotu dla podanych kryteriów wyszukiwania.</ErrorMessagePl><ErrorMessageEn>No data found for the specified search criteria.</ErrorMessageEn><Nip>5261040827</Nip></dane></root>"
	if _, err := dataRows(notFound); !isNotFound(err) {
		t.Errorf("ErrorCode 4: err = %v, want ErrNotFound", err)
	}
	if _, err := dataRows(""); !isNotFound(err) {
		t.Errorf("empty: err = %v, want ErrNotFound", err)
	}
	badReport := "<root><dane><ErrorCode>5</ErrorCode><ErrorMessagePl>Nieprawidłowa lub pusta nazwa raportu.</ErrorMessagePl></dane></root>"
	if _, err := dataRows(badReport); err == nil || isNotFound(err) || !strings.Contains(err.Error(), "raportu") {
		t.Errorf("ErrorCode 5: err = %v, want the registry's message", err)
	}
}

func TestEnvelopeAddressesTheOperation(t *testing.T) {
	raw := envelope("https://example.test/wsBIR/UslugaBIRzewnPubl.svc", opSearch,
		param{name: "pParametryWyszukiwania", nested: []param{{name: "Nip", value: "5261040828"}}})
	var env struct {
		XMLName xml.Name `xml:"http://www.w3.org/2003/05/soap-envelope Envelope"`
		Header  struct {
			To     string `xml:"http://www.w3.org/2005/08/addressing To"`
			Action string `xml:"http://www.w3.org/2005/08/addressing Action"`
		} `xml:"http://www.w3.org/2003/05/soap-envelope Header"`
		Body struct {
			Search struct {
				Params struct {
					Nip string `xml:"http://CIS/BIR/PUBL/2014/07/DataContract Nip"`
				} `xml:"http://CIS/BIR/PUBL/2014/07 pParametryWyszukiwania"`
			} `xml:"http://CIS/BIR/PUBL/2014/07 DaneSzukajPodmioty"`
		} `xml:"http://www.w3.org/2003/05/soap-envelope Body"`
	}
	if err := xml.NewDecoder(bytes.NewReader(raw)).Decode(&env); err != nil {
		t.Fatalf("envelope does not parse: %v\n%s", err, raw)
	}
	if env.Header.To != "https://example.test/wsBIR/UslugaBIRzewnPubl.svc" ||
		env.Header.Action != "http://CIS/BIR/PUBL/2014/07/IUslugaBIRzewnPubl/DaneSzukajPodmioty" ||
		env.Body.Search.Params.Nip != "5261040828" {
		t.Errorf("envelope = %+v\n%s", env, raw)
	}
	getValue := string(envelope("u", opGetValue, param{name: "pNazwaParametru", value: "StatusSesji"}))
	if !strings.Contains(getValue, `xmlns:ns="http://CIS/BIR/2014/07"`) || !strings.Contains(getValue, "/IUslugaBIR/GetValue<") {
		t.Errorf("GetValue is not in the base contract's namespace:\n%s", getValue)
	}
	if esc := string(envelope("u", opLogin, param{name: "pKluczUzytkownika", value: "<&>"})); !strings.Contains(esc, "&lt;&amp;&gt;") {
		t.Errorf("parameter not escaped:\n%s", esc)
	}
}
