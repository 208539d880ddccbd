package b24sim

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Formats Bitrix24 uses: ISO 8601 with the portal's offset.
const isoLayout = "2006-01-02T15:04:05-07:00"

// parseCents reads a decimal amount ("12500", "12500.5", 12500.55) into
// cents, rounding half away from zero at the third decimal.
func parseCents(v any) (int64, bool) {
	s := strings.TrimSpace(scalarString(v))
	if s == "" {
		return 0, false
	}
	neg := false
	if s[0] == '-' || s[0] == '+' {
		neg = s[0] == '-'
		s = s[1:]
	}
	if i := strings.IndexAny(s, "eE"); i >= 0 { // exponent: fall back to float
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return 0, false
		}
		c := int64(f*100 + 0.5)
		if neg {
			c = -c
		}
		return c, true
	}
	intPart, frac, _ := strings.Cut(s, ".")
	if intPart == "" {
		intPart = "0"
	}
	n, err := strconv.ParseInt(intPart, 10, 64)
	if err != nil {
		return 0, false
	}
	for _, r := range frac {
		if r < '0' || r > '9' {
			return 0, false
		}
	}
	frac += "000"
	c := n*100 + int64(frac[0]-'0')*10 + int64(frac[1]-'0')
	if frac[2] >= '5' {
		c++
	}
	if neg {
		c = -c
	}
	return c, true
}

func formatCents(c int64) string {
	neg := c < 0
	if neg {
		c = -c
	}
	s := fmt.Sprintf("%d.%02d", c/100, c%100)
	if neg {
		s = "-" + s
	}
	return s
}

// centsNumber renders cents as a JSON number (12500, 12500.5).
func centsNumber(c int64) json.Number {
	s := formatCents(c)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "" || s == "-" {
		s = "0"
	}
	return json.Number(s)
}

var dateLayouts = []string{
	time.RFC3339Nano,
	isoLayout,
	"2006-01-02T15:04:05-0700",
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05",
	"2006-01-02",
	"02.01.2006 15:04:05",
	"02.01.2006",
}

// parseTime reads the date forms Bitrix24 accepts; forms without an offset
// are in the portal's zone.
func (c *crmState) parseTime(v any) (time.Time, bool) {
	if t, ok := v.(time.Time); ok {
		return t, true
	}
	s := strings.TrimSpace(scalarString(v))
	if s == "" {
		return time.Time{}, false
	}
	for _, l := range dateLayouts {
		if t, err := time.ParseInLocation(l, s, c.zone); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// parseDate reads a date and keeps its calendar day, as midnight in the portal's zone.
func (c *crmState) parseDate(v any) (int64, bool) {
	t, ok := c.parseTime(v)
	if !ok {
		return 0, false
	}
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, c.zone).Unix(), true
}

func (c *crmState) formatTime(unix int64) string {
	return time.Unix(unix, 0).In(c.zone).Format(isoLayout)
}

func parseInt(v any) (int64, bool) {
	s := strings.TrimSpace(scalarString(v))
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil {
			return 0, false
		}
		return int64(f), true
	}
	return n, true
}

func parseBool(v any) (int64, bool) {
	switch strings.ToUpper(strings.TrimSpace(scalarString(v))) {
	case "Y", "1", "TRUE":
		return 1, true
	case "N", "0", "FALSE", "":
		return 0, true
	}
	return 0, false
}

func yn(b bool) string {
	if b {
		return "Y"
	}
	return "N"
}

// parseNum converts an input value for a numeric kind into its stored form.
func (c *crmState) parseNum(k fieldKind, v any) (int64, bool) {
	switch k {
	case kInt, kRef:
		return parseInt(v)
	case kMoney:
		return parseCents(v)
	case kDate:
		return c.parseDate(v)
	case kDateTime:
		t, ok := c.parseTime(v)
		if !ok {
			return 0, false
		}
		return t.Unix(), true
	case kBool:
		return parseBool(v)
	}
	return 0, false
}

// isEmptyInput reports whether an input value clears a field.
func isEmptyInput(v any) bool {
	switch t := v.(type) {
	case nil:
		return true
	case bool:
		return !t
	case string:
		return strings.TrimSpace(t) == ""
	}
	return false
}
