package bitrix

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// readOnlyMethods are reads whose names do not end in a read verb.
var readOnlyMethods = map[string]bool{
	"profile":     true,
	"scope":       true,
	"methods":     true,
	"server.time": true,
	"app.info":    true,
	"user.admin":  true,
	"user.access": true,
	// finds duplicates by phone or e-mail, changes nothing
	"crm.duplicate.findbycomm": true,
}

// writeMethods end in a read verb but change state: event.offline.get
// deletes what it returns unless clear=0.
var writeMethods = map[string]bool{
	"event.offline.get": true,
}

// readVerbs are final name segments of methods that only read.
var readVerbs = map[string]bool{
	"get": true, "list": true, "fields": true, "items": true, "types": true,
	"info": true, "current": true, "search": true, "count": true,
}

// IsReadMethod reports whether a REST method only reads, so repeating it
// after a transport error or a 5xx answer is safe. It decides by name
// (crm.deal.get, crm.item.list, crm.deal.fields, profile, ...); unknown
// names count as writes. Use IsReadBatch for batch.
func IsReadMethod(method string) bool {
	m := strings.ToLower(strings.TrimSpace(method))
	if writeMethods[m] {
		return false
	}
	if readOnlyMethods[m] {
		return true
	}
	i := strings.LastIndexByte(m, '.')
	return i >= 0 && readVerbs[m[i+1:]]
}

// IsReadBatch reports whether every command of a batch only reads.
func IsReadBatch(cmds []Command) bool {
	for _, c := range cmds {
		if !IsReadMethod(c.Method) {
			return false
		}
	}
	return true
}

// validMethod accepts REST method names: letters, digits, dots, underscores.
func validMethod(m string) error {
	if m == "" || len(m) > 200 {
		return fmt.Errorf("bitrix: invalid method name %q", m)
	}
	for _, r := range m {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_') {
			return fmt.Errorf("bitrix: invalid method name %q", m)
		}
	}
	return nil
}

// marshalParams encodes call parameters as a JSON object (nil → {}).
func marshalParams(params any) ([]byte, error) {
	if params == nil {
		return []byte("{}"), nil
	}
	if raw, ok := params.(json.RawMessage); ok {
		params = []byte(raw)
	}
	b, ok := params.([]byte)
	if !ok {
		var err error
		if b, err = json.Marshal(params); err != nil {
			return nil, fmt.Errorf("bitrix: encode params: %w", err)
		}
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		return []byte("{}"), nil
	}
	if b[0] != '{' {
		return nil, fmt.Errorf("bitrix: params must encode to a JSON object, got %.20s", b)
	}
	return b, nil
}

// withAuth returns the JSON object with "auth" added as its last key, so
// that it wins over any "auth" in params (PHP keeps the last duplicate).
func withAuth(params []byte, token string) []byte {
	tok, _ := json.Marshal(token)
	body := bytes.TrimSpace(params)
	body = bytes.TrimSpace(body[:len(body)-1]) // drop the closing brace
	out := make([]byte, 0, len(body)+len(tok)+10)
	out = append(out, body...)
	if len(body) > 1 {
		out = append(out, ',')
	}
	out = append(out, `"auth":`...)
	out = append(out, tok...)
	return append(out, '}')
}

// encodeQuery turns parameters into the PHP-style query string a batch
// command carries: filter[>ID]=5&order[ID]=ASC&select[0]=ID. Keys keep the
// order of the JSON encoding (struct fields and json.RawMessage as written;
// Go maps sorted), which matters for order; true/false become 1/0 as PHP
// would read them.
func encodeQuery(params any) (string, error) {
	b, err := marshalParams(params)
	if err != nil {
		return "", err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var sb strings.Builder
	if err := flattenJSON(&sb, "", dec); err != nil {
		return "", fmt.Errorf("bitrix: encode params: %w", err)
	}
	return sb.String(), nil
}

func putQuery(sb *strings.Builder, key, val string) {
	if sb.Len() > 0 {
		sb.WriteByte('&')
	}
	sb.WriteString(escapeKey(key))
	sb.WriteByte('=')
	sb.WriteString(escapeValue(val))
}

// flattenJSON writes the next JSON value of dec under prefix.
func flattenJSON(sb *strings.Builder, prefix string, dec *json.Decoder) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch t := tok.(type) {
	case json.Delim:
		n := 0
		for ; dec.More(); n++ {
			var p string
			if t == '{' {
				kt, err := dec.Token()
				if err != nil {
					return err
				}
				k, _ := kt.(string)
				p = k
				if prefix != "" {
					p = prefix + "[" + k + "]"
				}
			} else {
				p = prefix + "[" + strconv.Itoa(n) + "]"
			}
			if err := flattenJSON(sb, p, dec); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil { // the closing delimiter
			return err
		}
		if n == 0 && prefix != "" {
			putQuery(sb, prefix, "")
		}
	case bool:
		if t {
			putQuery(sb, prefix, "1")
		} else {
			putQuery(sb, prefix, "0")
		}
	case nil:
		putQuery(sb, prefix, "")
	case json.Number:
		putQuery(sb, prefix, t.String())
	case string:
		putQuery(sb, prefix, t)
	}
	return nil
}

// escapeValue escapes a value but keeps $result[...] references literal, so
// the portal (or a simulator) can resolve them before or after decoding.
func escapeValue(v string) string {
	e := url.QueryEscape(v)
	if !strings.Contains(v, "$") {
		return e
	}
	return strings.NewReplacer("%24", "$", "%5B", "[", "%5D", "]").Replace(e)
}

// escapeKey escapes a key but keeps its brackets readable; PHP and Go both
// decode either form.
func escapeKey(k string) string {
	e := url.QueryEscape(k)
	e = strings.ReplaceAll(e, "%5B", "[")
	return strings.ReplaceAll(e, "%5D", "]")
}
