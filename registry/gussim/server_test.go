package gussim_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"segmentor/internal/fakeclock"
	"segmentor/registry"
	"segmentor/registry/gussim"
)

func TestCatalogueIsDeterministicAndVaried(t *testing.T) {
	a := gussim.New(gussim.Options{Seed: 42, Companies: 400})
	b := gussim.New(gussim.Options{Seed: 42, Companies: 400})
	c := gussim.New(gussim.Options{Seed: 43, Companies: 400})
	if diff := cmp.Diff(a.NIPs(), b.NIPs()); diff != "" {
		t.Fatalf("same seed, different catalogues:\n%s", diff)
	}
	if cmp.Equal(a.NIPs(), c.NIPs()) {
		t.Error("different seeds, same catalogue")
	}
	seen := map[string]map[string]bool{"section": {}, "region": {}, "form": {}, "status": {}}
	for _, nip := range a.NIPs() {
		if _, ok := registry.ValidNIP(nip); !ok {
			t.Errorf("catalogue NIP %s is invalid", nip)
		}
		ca, _ := a.Company(nip)
		cb, _ := b.Company(nip)
		if diff := cmp.Diff(ca, cb); diff != "" {
			t.Errorf("%s differs between runs:\n%s", nip, diff)
		}
		if ca.Name == "" || ca.REGON == "" || ca.PKDSection == "" || ca.Registered.IsZero() {
			t.Errorf("%s is missing data: %+v", nip, ca)
		}
		seen["section"][ca.PKDSection] = true
		seen["region"][ca.Region] = true
		seen["form"][ca.LegalForm] = true
		seen["status"][string(ca.Status)] = true
	}
	for what, min := range map[string]int{"section": 15, "region": 16, "form": 8, "status": 3} {
		if len(seen[what]) < min {
			t.Errorf("%d kinds of %s in 400 companies, want at least %d: %v", len(seen[what]), what, min, seen[what])
		}
	}
}

// post sends a raw envelope and returns the status, Content-Type and body.
func post(t *testing.T, url, contentType, sid, body string) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	if sid != "" {
		req.Header.Set("sid", sid)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

func envelope(to, action, body string) string {
	return `<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope" xmlns:ns="http://CIS/BIR/PUBL/2014/07" xmlns:dat="http://CIS/BIR/PUBL/2014/07/DataContract">` +
		`<soap:Header xmlns:wsa="http://www.w3.org/2005/08/addressing">` + to + action + `</soap:Header><soap:Body>` + body + `</soap:Body></soap:Envelope>`
}

func TestProtocol(t *testing.T) {
	clock := fakeclock.At(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	sim := gussim.New(gussim.Options{Seed: 1, Companies: 3, Clock: clock})
	ts := httptest.NewServer(sim)
	t.Cleanup(ts.Close)
	url := ts.URL + gussim.Path
	to := `<wsa:To>` + url + `</wsa:To>`
	action := func(op string) string {
		return `<wsa:Action>http://CIS/BIR/PUBL/2014/07/IUslugaBIRzewnPubl/` + op + `</wsa:Action>`
	}
	const soap = "application/soap+xml; charset=utf-8"
	login := `<ns:Zaloguj><ns:pKluczUzytkownika>` + gussim.TestKey + `</ns:pKluczUzytkownika></ns:Zaloguj>`

	status, ctype, body := post(t, url, soap, "", envelope(to, action("Zaloguj"), login))
	if status != 200 || !strings.HasPrefix(ctype, "multipart/related") || !strings.Contains(ctype, `type="application/xop+xml"`) {
		t.Fatalf("login: %d %s", status, ctype)
	}
	sid := between(body, "<ZalogujResult>", "</ZalogujResult>")
	if len(sid) != 20 {
		t.Fatalf("session id %q in\n%s", sid, body)
	}

	search := func(nip string) string {
		return `<ns:DaneSzukajPodmioty><ns:pParametryWyszukiwania><dat:Nip>` + nip + `</dat:Nip></ns:pParametryWyszukiwania></ns:DaneSzukajPodmioty>`
	}
	nip := sim.NIPs()[0]
	_, _, body = post(t, url, soap, sid, envelope(to, action("DaneSzukajPodmioty"), search(nip)))
	if !strings.Contains(body, "&lt;Nip&gt;"+nip+"&lt;/Nip&gt;") {
		t.Errorf("search answer does not carry the escaped data document:\n%s", body)
	}
	_, _, body = post(t, url, soap, sid, envelope(to, action("DaneSzukajPodmioty"), search("5261040828")))
	if !strings.Contains(body, "&lt;ErrorCode&gt;4&lt;/ErrorCode&gt;") {
		t.Errorf("unknown NIP: want ErrorCode 4:\n%s", body)
	}
	_, _, body = post(t, url, soap, "", envelope(to, action("DaneSzukajPodmioty"), search(nip)))
	if !strings.Contains(body, "<DaneSzukajPodmiotyResult/>") {
		t.Errorf("no session: want an empty result:\n%s", body)
	}
	clock.Advance(61 * time.Minute)
	_, _, body = post(t, url, soap, sid, envelope(to, action("DaneSzukajPodmioty"), search(nip)))
	if !strings.Contains(body, "<DaneSzukajPodmiotyResult/>") {
		t.Errorf("expired session: want an empty result:\n%s", body)
	}

	tests := []struct {
		name, contentType, envelope string
		status                      int
		says                        string
	}{
		{"no WS-Addressing", soap, envelope("", "", login), 400, "WS-Addressing"},
		{"action of another operation", soap, envelope(to, action("Wyloguj"), login), 500, "ContractFilter mismatch"},
		{"To of another address", soap, envelope(`<wsa:To>https://wyszukiwarkaregon.stat.gov.pl/other.svc</wsa:To>`, action("Zaloguj"), login), 500, "AddressFilter mismatch"},
		{"SOAP 1.1 content type", "text/xml; charset=utf-8", envelope(to, action("Zaloguj"), login), 415, "content type"},
		{"not XML", soap, "hello", 400, "SOAP"},
	}
	for _, tt := range tests {
		status, _, body := post(t, url, tt.contentType, "", tt.envelope)
		if status != tt.status || !strings.Contains(body, tt.says) {
			t.Errorf("%s: %d, want %d saying %q:\n%s", tt.name, status, tt.status, tt.says, body)
		}
	}
}

func TestRateLimit(t *testing.T) {
	clock := fakeclock.At(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	sim := gussim.New(gussim.Options{Seed: 1, Companies: 1, Clock: clock})
	sim.SetLimit(gussim.Limit{Rate: 3, Per: time.Second, Burst: 3})
	ts := httptest.NewServer(sim)
	t.Cleanup(ts.Close)
	codes := func(n int) (out []int) {
		for range n {
			s, _, _ := post(t, ts.URL+gussim.Path, "application/soap+xml", "", "x")
			out = append(out, s)
		}
		return out
	}
	if got := codes(4); !cmp.Equal(got, []int{400, 400, 400, 429}) {
		t.Errorf("a burst of 4 at 3/s: %v", got)
	}
	clock.Advance(time.Second / 3)
	if got := codes(2); !cmp.Equal(got, []int{400, 429}) {
		t.Errorf("a third of a second later: %v", got)
	}
	if st := sim.Stats(); st.Requests != 6 || st.Limited != 2 {
		t.Errorf("stats %+v", st)
	}
}

func between(s, from, to string) string {
	_, after, _ := strings.Cut(s, from)
	v, _, _ := strings.Cut(after, to)
	return v
}

// A registered NIP is found over the protocol with the company Register
// made; registering it again changes nothing.
func TestRegister(t *testing.T) {
	s := gussim.New(gussim.Options{Seed: 9, Companies: 1})
	defer s.Close()
	const nip = "5261040828"
	c := s.Register(nip)
	if c.TaxID != nip || c.Name == "" || c.PKD == "" || c.Region == "" || c.Registered.IsZero() {
		t.Fatalf("registered company %+v lacks what the registry reports", c)
	}
	if again := s.Register(nip); again != c {
		t.Errorf("registering again gave %+v, want %+v", again, c)
	}
	if got, ok := s.Company(nip); !ok || got != c {
		t.Errorf("Company(%s) = %+v, %v; want %+v", nip, got, ok, c)
	}
}
