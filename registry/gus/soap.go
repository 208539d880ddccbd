package gus

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
)

// Namespaces of the service. GetValue belongs to the base contract
// (IUslugaBIR), the rest to the public one (IUslugaBIRzewnPubl).
const (
	nsSOAP     = "http://www.w3.org/2003/05/soap-envelope"
	nsWSA      = "http://www.w3.org/2005/08/addressing"
	nsPubl     = "http://CIS/BIR/PUBL/2014/07"
	nsData     = "http://CIS/BIR/PUBL/2014/07/DataContract"
	nsBIR      = "http://CIS/BIR/2014/07"
	actionPubl = nsPubl + "/IUslugaBIRzewnPubl/"
	actionBIR  = nsBIR + "/IUslugaBIR/"
)

// operation is one SOAP operation: its element and its WS-Addressing action.
type operation struct {
	name   string
	ns     string
	action string
}

var (
	opLogin    = operation{"Zaloguj", nsPubl, actionPubl + "Zaloguj"}
	opLogout   = operation{"Wyloguj", nsPubl, actionPubl + "Wyloguj"}
	opSearch   = operation{"DaneSzukajPodmioty", nsPubl, actionPubl + "DaneSzukajPodmioty"}
	opReport   = operation{"DanePobierzPelnyRaport", nsPubl, actionPubl + "DanePobierzPelnyRaport"}
	opGetValue = operation{"GetValue", nsBIR, actionBIR + "GetValue"}
)

// param is one parameter element of an operation; nested params make a
// complex one (pParametryWyszukiwania), their elements in the data-contract
// namespace.
type param struct {
	name   string
	value  string
	nested []param
}

// envelope writes the SOAP 1.2 request for op, addressed to endpoint.
func envelope(endpoint string, op operation, params ...param) []byte {
	var b bytes.Buffer
	b.WriteString(`<soap:Envelope xmlns:soap="` + nsSOAP + `" xmlns:ns="` + op.ns + `" xmlns:dat="` + nsData + `">`)
	b.WriteString(`<soap:Header xmlns:wsa="` + nsWSA + `"><wsa:To>`)
	xmlText(&b, endpoint)
	b.WriteString(`</wsa:To><wsa:Action>` + op.action + `</wsa:Action></soap:Header>`)
	b.WriteString(`<soap:Body><ns:` + op.name + `>`)
	for _, p := range params {
		b.WriteString(`<ns:` + p.name + `>`)
		if p.nested == nil {
			xmlText(&b, p.value)
		}
		for _, n := range p.nested {
			b.WriteString(`<dat:` + n.name + `>`)
			xmlText(&b, n.value)
			b.WriteString(`</dat:` + n.name + `>`)
		}
		b.WriteString(`</ns:` + p.name + `>`)
	}
	b.WriteString(`</ns:` + op.name + `></soap:Body></soap:Envelope>`)
	return b.Bytes()
}

func xmlText(b *bytes.Buffer, s string) { _ = xml.EscapeText(b, []byte(s)) }

// maxAnswer bounds what is read of an answer; a full report is a few KB.
const maxAnswer = 8 << 20

// soapPart returns the SOAP envelope of an answer: the root part of an MTOM
// (multipart/related) answer, as the service sends, or the whole body of a
// plain application/soap+xml one.
func soapPart(resp *http.Response) ([]byte, error) {
	body := io.LimitReader(resp.Body, maxAnswer)
	mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || !strings.HasPrefix(mt, "multipart/") {
		raw, err := io.ReadAll(body)
		if err != nil {
			return nil, err
		}
		// A multipart body under a missing or mangled Content-Type still
		// starts with its boundary line.
		if bytes.HasPrefix(raw, []byte("--")) {
			line, _, _ := bytes.Cut(raw, []byte("\n"))
			boundary := strings.TrimSpace(strings.TrimPrefix(string(line), "--"))
			return rootPart(bytes.NewReader(raw), boundary, "")
		}
		return raw, nil
	}
	if params["boundary"] == "" {
		return nil, errors.New("multipart answer without a boundary")
	}
	return rootPart(body, params["boundary"], params["start"])
}

// rootPart reads the part whose Content-ID is start (the first part when
// start is empty or matches none).
func rootPart(r io.Reader, boundary, start string) ([]byte, error) {
	mr := multipart.NewReader(r, boundary)
	var first []byte
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if first != nil {
				return first, nil
			}
			return nil, fmt.Errorf("read MTOM answer: %w", err)
		}
		raw, err := io.ReadAll(p)
		if err != nil {
			return nil, fmt.Errorf("read MTOM part: %w", err)
		}
		if start == "" || p.Header.Get("Content-ID") == start {
			return raw, nil
		}
		if first == nil {
			first = raw
		}
	}
	if first == nil {
		return nil, errors.New("MTOM answer without parts")
	}
	return first, nil
}

// answer is what a SOAP envelope carries: the text of the operation's
// <…Result> element, or a fault.
type answer struct {
	result string
	fault  string // the fault's reason, when the body is a Fault
}

// readEnvelope finds the <…Result> (or the Fault) in a SOAP 1.2 envelope.
// The result text is unescaped: for the data operations it is itself an
// XML document. (The service escapes it; CDATA, which the GUS manual shows,
// reads the same way.)
func readEnvelope(raw []byte) (answer, error) {
	d := xml.NewDecoder(bytes.NewReader(raw))
	inBody, inFault := false, false
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return answer{}, errors.New("SOAP envelope without a body")
		}
		if err != nil {
			return answer{}, fmt.Errorf("read SOAP envelope: %w", err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch {
		case se.Name.Local == "Body" && se.Name.Space == nsSOAP:
			inBody = true
		case inBody && se.Name.Local == "Fault":
			inFault = true
		case inFault && se.Name.Local == "Text":
			var reason string
			if err := d.DecodeElement(&reason, &se); err != nil {
				return answer{}, fmt.Errorf("read SOAP fault: %w", err)
			}
			return answer{fault: strings.TrimSpace(reason)}, nil
		case inBody && !inFault && strings.HasSuffix(se.Name.Local, "Result"):
			var res string
			if err := d.DecodeElement(&res, &se); err != nil {
				return answer{}, fmt.Errorf("read %s: %w", se.Name.Local, err)
			}
			return answer{result: res}, nil
		}
	}
}

// row is one <dane> of a data answer, by lower-cased field name: the
// reports' casing drifts between versions ("…ZRegon", "…zRegon").
type row map[string]string

// get returns the first of names (tried with prefix, case-insensitively)
// that has a value.
func (r row) get(prefix string, names ...string) string {
	for _, n := range names {
		if v := strings.TrimSpace(r[strings.ToLower(prefix+n)]); v != "" {
			return v
		}
	}
	return ""
}

// readRows parses a data answer, <root><dane>…</dane>…</root>, each <dane>
// a flat list of fields.
func readRows(doc string) ([]row, error) {
	d := xml.NewDecoder(strings.NewReader(doc))
	var rows []row
	var cur row
	depth := 0
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read registry data: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			switch {
			case depth == 2 && t.Name.Local == "dane":
				cur = row{}
			case depth == 3 && cur != nil:
				var v string
				if err := d.DecodeElement(&v, &t); err != nil {
					return nil, fmt.Errorf("read registry field %s: %w", t.Name.Local, err)
				}
				cur[strings.ToLower(t.Name.Local)] = v
				depth--
			}
		case xml.EndElement:
			if depth == 2 && cur != nil {
				rows = append(rows, cur)
				cur = nil
			}
			depth--
		}
	}
}
