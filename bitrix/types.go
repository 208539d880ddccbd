package bitrix

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// Bitrix24 v2 methods send most numbers as strings ("ID":"7405",
// "OPPORTUNITY":"12500.00"), crm.item.* sends numbers, PHP sends empty values
// as "" or null, and booleans as "Y"/"N". The small types below accept every
// one of those shapes.

var null = []byte("null")

// unquote returns the JSON string's content, or the raw token for numbers
// and literals. ok is false for objects and arrays.
func unquote(b []byte) (s string, quoted bool, err error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return "", false, fmt.Errorf("empty JSON value")
	}
	switch b[0] {
	case '"':
		if err := json.Unmarshal(b, &s); err != nil {
			return "", true, err
		}
		return s, true, nil
	case '{', '[':
		return "", false, fmt.Errorf("unexpected JSON %s", kindOf(b[0]))
	}
	return string(b), false, nil
}

func kindOf(c byte) string {
	if c == '{' {
		return "object"
	}
	return "array"
}

// ID is a record id, sent as a number or a string. The empty string, null
// and false decode as 0.
type ID int64

// UnmarshalJSON implements json.Unmarshaler.
func (id *ID) UnmarshalJSON(b []byte) error {
	s, _, err := unquote(b)
	if err != nil {
		return fmt.Errorf("bitrix: ID: %w", err)
	}
	s = strings.TrimSpace(s)
	if s == "" || s == "null" || s == "false" {
		*id = 0
		return nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		// Some portals send integral floats ("12.0", 12.0).
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f != float64(int64(f)) {
			return fmt.Errorf("bitrix: ID: not an integer: %q", s)
		}
		n = int64(f)
	}
	*id = ID(n)
	return nil
}

// MarshalJSON writes the id as a JSON number.
func (id ID) MarshalJSON() ([]byte, error) { return strconv.AppendInt(nil, int64(id), 10), nil }

// String returns the decimal form.
func (id ID) String() string { return strconv.FormatInt(int64(id), 10) }

// ParseID parses a decimal id, as found in form values.
func ParseID(s string) (ID, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("bitrix: not an id: %q", s)
	}
	return ID(n), nil
}

// Money is an exact decimal amount, from "12500.00", 12500 or "" (zero).
type Money struct{ decimal.Decimal }

// UnmarshalJSON implements json.Unmarshaler.
func (m *Money) UnmarshalJSON(b []byte) error {
	s, _, err := unquote(b)
	if err != nil {
		return fmt.Errorf("bitrix: money: %w", err)
	}
	s = strings.TrimSpace(s)
	if s == "" || s == "null" || s == "false" {
		m.Decimal = decimal.Zero
		return nil
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return fmt.Errorf("bitrix: money: %q: %w", s, err)
	}
	m.Decimal = d
	return nil
}

// MarshalJSON writes the amount as a string, the form Bitrix24 sends.
func (m Money) MarshalJSON() ([]byte, error) { return json.Marshal(m.Decimal.String()) }

// Bool is a Bitrix24 flag: "Y"/"N", true/false, 1/0, "1"/"0"; "" and null
// are false.
type Bool bool

// UnmarshalJSON implements json.Unmarshaler.
func (v *Bool) UnmarshalJSON(b []byte) error {
	s, _, err := unquote(b)
	if err != nil {
		return fmt.Errorf("bitrix: bool: %w", err)
	}
	r, err := parseBool(s)
	if err != nil {
		return err
	}
	*v = Bool(r)
	return nil
}

func parseBool(s string) (bool, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "Y", "TRUE", "1":
		return true, nil
	case "N", "FALSE", "0", "", "NULL":
		return false, nil
	}
	return false, fmt.Errorf("bitrix: bool: unexpected %q", s)
}

// MarshalJSON writes "Y" or "N".
func (v Bool) MarshalJSON() ([]byte, error) {
	if v {
		return []byte(`"Y"`), nil
	}
	return []byte(`"N"`), nil
}

// Time is a Bitrix24 date or date-time: ISO 8601 with offset
// ("2024-08-30T14:29:00+02:00"), a date ("2024-08-30"), or "" / null (zero).
type Time struct{ time.Time }

var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05-0700",
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05",
	"2006-01-02",
}

// ParseTime parses the forms listed on Time. Forms without an offset are
// taken as UTC.
func ParseTime(s string) (Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Time{}, nil
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return Time{t}, nil
		}
	}
	return Time{}, fmt.Errorf("bitrix: time: unexpected %q", s)
}

// UnmarshalJSON implements json.Unmarshaler.
func (t *Time) UnmarshalJSON(b []byte) error {
	s, quoted, err := unquote(b)
	if err != nil {
		return fmt.Errorf("bitrix: time: %w", err)
	}
	if !quoted && (s == "null" || s == "false") {
		*t = Time{}
		return nil
	}
	v, err := ParseTime(s)
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// MarshalJSON writes RFC 3339 with the original offset, or "" for zero.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte(`""`), nil
	}
	return json.Marshal(t.Format(time.RFC3339))
}

// flexInt decodes counters (total, next) sent as numbers or strings.
type flexInt int64

func (n *flexInt) UnmarshalJSON(b []byte) error {
	var id ID
	if err := id.UnmarshalJSON(b); err != nil {
		return err
	}
	*n = flexInt(id)
	return nil
}
