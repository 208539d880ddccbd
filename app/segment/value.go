package segment

import (
	"encoding/json"
	"math"

	"segmentor/app/i18n"
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

// FormatAmount writes a number as lang writes it, with at most two
// decimals: "1,234.5", "1 234,5", "1.234,5" (i18n.Number).
func FormatAmount(f float64, lang Lang) string { return formatAmount(f, lang) }

func formatAmount(f float64, lang Lang) string {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return formatNumber(f)
	}
	return i18n.Number(lang, f)
}
