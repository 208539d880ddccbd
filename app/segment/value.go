package segment

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// Text renders the explanation for a card tab, one condition a line,
// indented like the config:
//
//	VIP ✗
//	  all ✗
//	    won_amount (365 days) = 80,000 ≥ 100,000 ✗
//	    any — not checked
func (e Explanation) Text(lang Lang) string {
	var b strings.Builder
	for _, s := range e.Segments {
		name := s.Name
		if name == "" {
			name = s.Key
		}
		b.WriteString(name + " " + mark(s.Held) + "\n")
		s.When.write(&b, lang, 1)
	}
	return b.String()
}

func (t Trace) write(b *strings.Builder, lang Lang, depth int) {
	b.WriteString(strings.Repeat("  ", depth))
	b.WriteString(t.Line(lang))
	b.WriteByte('\n')
	for _, c := range t.Children {
		c.write(b, lang, depth+1)
	}
}

// Line is one condition as a sentence, e.g.
// "won_amount (365 days) = 125,000 ≥ 100,000 ✓".
func (t Trace) Line(lang Lang) string {
	var s string
	if t.Group != "" {
		s = t.Group
	} else {
		s = t.Fact
		if t.WindowDays > 0 {
			if lang == RU {
				s += " (" + strconv.Itoa(t.WindowDays) + " дн.)"
			} else {
				s += " (" + strconv.Itoa(t.WindowDays) + " days)"
			}
		}
		if t.Checked {
			s += " = " + t.Seen.Format(lang)
		}
		s += " " + opText(t.Op, lang)
		if t.Op != OpEmpty && t.Op != OpNotEmpty {
			s += " " + wantText(t.Op, t.Want, lang)
		}
	}
	if !t.Checked {
		if lang == RU {
			return s + " — не проверялось"
		}
		return s + " — not checked"
	}
	return s + " " + mark(t.Held)
}

func mark(held bool) string {
	if held {
		return "✓"
	}
	return "✗"
}

func opText(op Op, lang Lang) string {
	ru := lang == RU
	switch op {
	case OpNe:
		return "≠"
	case OpLe:
		return "≤"
	case OpGe:
		return "≥"
	case OpIn:
		return pick(ru, "in", "из")
	case OpNotIn:
		return pick(ru, "not in", "не из")
	case OpContains:
		return pick(ru, "contains", "содержит")
	case OpBetween:
		return pick(ru, "between", "от")
	case OpEmpty:
		return pick(ru, "is empty", "пусто")
	case OpNotEmpty:
		return pick(ru, "is not empty", "не пусто")
	}
	return string(op)
}

func pick(ru bool, en, rus string) string {
	if ru {
		return rus
	}
	return en
}

func wantText(op Op, v any, lang Lang) string {
	if list, ok := asList(v); ok {
		parts := make([]string, len(list))
		for i, x := range list {
			parts[i] = scalarText(x, lang)
		}
		if op == OpBetween && len(parts) == 2 {
			return parts[0] + pick(lang == RU, " and ", " до ") + parts[1]
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return scalarText(v, lang)
}

func scalarText(v any, lang Lang) string {
	if n, ok := asNumber(v); ok {
		return formatAmount(n, lang)
	}
	if s, ok := v.(string); ok {
		if s == "" {
			return `""`
		}
		return s
	}
	return describe(v)
}

// Format shows a fact's value to an admin: grouped numbers, "no value".
func (v Value) Format(lang Lang) string {
	switch v.Kind {
	case KindNumber:
		return formatAmount(v.Num, lang)
	case KindText:
		if v.Text == "" {
			return `""`
		}
		return v.Text
	case KindGroups:
		parts := make([]string, len(v.Groups))
		for i, g := range v.Groups {
			parts[i] = strconv.Itoa(g)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return pick(lang == RU, "no value", "нет значения")
}

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
