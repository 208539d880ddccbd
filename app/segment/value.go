package segment

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// MarshalJSON writes the value as JSON: a number, text, a list of section
// ids or null. Infinity (growth from nothing) is the string "∞".
func (v Value) MarshalJSON() ([]byte, error) {
	switch v.Kind {
	case KindNumber:
		if math.IsInf(v.Num, 0) || math.IsNaN(v.Num) {
			return json.Marshal(formatNumber(v.Num))
		}
		return json.Marshal(v.Num)
	case KindText:
		return json.Marshal(v.Text)
	case KindGroups:
		if v.Groups == nil {
			return []byte("[]"), nil
		}
		return json.Marshal(v.Groups)
	}
	return []byte("null"), nil
}

// formatAmount groups thousands and keeps at most two decimals:
// 125,000.5 in English, 125 000,5 in Russian.
// FormatAmount writes a number as lang writes it: "1,234.5", "1 234,5".
func FormatAmount(f float64, lang Lang) string { return formatAmount(f, lang) }

func formatAmount(f float64, lang Lang) string {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return formatNumber(f)
	}
	sep, dot := ",", "."
	if lang == RU {
		sep, dot = "\u00a0", ","
	}
	s := strconv.FormatFloat(math.Round(f*100)/100, 'f', -1, 64)
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	whole, frac, hasFrac := strings.Cut(s, ".")
	var b strings.Builder
	for i, r := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteString(sep)
		}
		b.WriteRune(r)
	}
	if hasFrac {
		b.WriteString(dot + frac)
	}
	return sign + b.String()
}
