// Package i18n is the languages Segmentor speaks: which one a Bitrix24
// language code means, catalogues of texts by key with one map per
// language, plural forms, and how each language writes numbers and dates.
// English is the fallback for every other language and every missing text;
// Catalog.Check lets a test find the texts a translation lacks.
package i18n

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Lang is a language Segmentor writes in.
type Lang string

// The languages with texts. Any other Lang reads in English.
const (
	EN Lang = "en"
	RU Lang = "ru"
	PL Lang = "pl"
	IT Lang = "it"
)

// All lists the languages Segmentor speaks, English first.
func All() []Lang { return []Lang{EN, RU, PL, IT} }

// Parse is the language Segmentor speaks for a Bitrix24 language code (a
// portal's or a user's LANG, "pl" or "pl_PL"): Russian for ru, ua, by and
// kz, Polish for pl, Italian for it, else English.
func Parse(code string) Lang {
	code, _, _ = strings.Cut(strings.ToLower(strings.TrimSpace(code)), "_")
	code, _, _ = strings.Cut(code, "-")
	switch code {
	case "ru", "ua", "by", "kz":
		return RU
	case "pl":
		return PL
	case "it":
		return IT
	}
	return EN
}

// Known is lang if Segmentor speaks it, else English.
func (lang Lang) Known() Lang {
	if slices.Contains(All(), lang) {
		return lang
	}
	return EN
}

// Catalog holds texts by key, one map per language; a text may be a
// fmt format and may have plural forms (see Plural).
type Catalog[K comparable] map[Lang]map[K]string

// Text is key's text in lang, else in English, else "".
func (c Catalog[K]) Text(lang Lang, key K) string {
	if s, ok := c[lang][key]; ok {
		return s
	}
	return c[EN][key]
}

// Format is key's text in lang with args filled in.
func (c Catalog[K]) Format(lang Lang, key K, args ...any) string {
	return fmt.Sprintf(c.Text(lang, key), args...)
}

// Count is key's text in lang in the plural form for n, with args filled
// in; a form without verbs ("e un'altra") is as it is.
func (c Catalog[K]) Count(lang Lang, key K, n float64, args ...any) string {
	f := Plural(lang, n, c.Text(lang, key))
	if !strings.Contains(f, "%") {
		return f
	}
	return fmt.Sprintf(f, args...)
}

// Check lists what is wrong with a catalogue's translations: a key
// English has and a language lacks (or the other way round), an empty
// text, a text whose format verbs differ from the English one, and a
// counted text (with "|") without its language's number of forms.
func (c Catalog[K]) Check() []string {
	var out []string
	for _, lang := range All() {
		if c[lang] == nil {
			out = append(out, fmt.Sprintf("%s: no texts", lang))
			continue
		}
		for k, en := range c[EN] {
			s, ok := c[lang][k]
			switch {
			case !ok:
				out = append(out, fmt.Sprintf("%s: %v is missing", lang, k))
			case s == "":
				out = append(out, fmt.Sprintf("%s: %v is empty", lang, k))
			default:
				out = append(out, CheckText(lang, fmt.Sprint(k), en, s)...)
			}
		}
		for k := range c[lang] {
			if _, ok := c[EN][k]; !ok {
				out = append(out, fmt.Sprintf("%s: %v is not in English", lang, k))
			}
		}
	}
	slices.Sort(out)
	return out
}

var verbPattern = regexp.MustCompile(`%(\[\d+\])?[-+# 0]*\d*(\.\d+)?[a-zA-Z%]|\{[a-z]\w*\}`)

// CheckText compares a translation of key into lang with its English
// text: the same format verbs and {placeholders} in each plural form (the
// form for one may leave the count out), and a counted text (with "|")
// has as many forms as lang has.
func CheckText(lang Lang, key, en, s string) []string {
	var out []string
	enForms, forms := strings.Split(en, "|"), strings.Split(s, "|")
	if want := pluralForms[lang.Known()]; len(forms) > 1 && len(forms) != len(want) {
		out = append(out, fmt.Sprintf("%s: %s has %d plural forms, want %d (%s)", lang, key, len(forms), len(want), strings.Join(want, "|")))
	}
	want := verbs(enForms[len(enForms)-1])
	for i, f := range forms {
		// A form for one may leave the count out ("one day").
		if got := verbs(f); !slices.Equal(got, want) && !(i == 0 && len(forms) > 1 && subset(got, want)) {
			out = append(out, fmt.Sprintf("%s: %s says %q, with %v where English has %v", lang, key, f, got, want))
		}
	}
	return out
}

// verbs are the format verbs and {placeholders} of s, sorted; %q and %s
// count as one (a translation quotes in its own way: «%s», „%s”).
func verbs(s string) []string {
	v := verbPattern.FindAllString(s, -1)
	for i, x := range v {
		if strings.HasPrefix(x, "%") && strings.HasSuffix(x, "q") {
			v[i] = strings.TrimSuffix(x, "q") + "s"
		}
	}
	slices.Sort(v)
	return v
}

// subset: a singular form may leave out the count ("one day").
func subset(got, want []string) bool {
	for _, g := range got {
		if !slices.Contains(want, g) {
			return false
		}
	}
	return true
}

// pluralForms names, per language, the forms a counted text gives, in
// their order.
var pluralForms = map[Lang][]string{
	EN: {"one", "other"}, IT: {"one", "other"},
	RU: {"one", "few", "many"}, PL: {"one", "few", "many"},
}

// Plural is the form of text for n: a counted text gives its forms
// separated by "|", as many as its language has, in this order: English
// and Italian one|other ("%d day|%d days"), Russian and Polish
// one|few|many ("%d dzień|%d dni|%d dni": 1; 2–4, 22–24…; 5–21, 25…). A
// text without "|" is the same for every n.
func Plural(lang Lang, n float64, text string) string {
	if !strings.Contains(text, "|") {
		return text
	}
	forms := strings.Split(text, "|")
	i := pluralIndex(lang.Known(), n)
	if i >= len(forms) {
		i = len(forms) - 1
	}
	return forms[i]
}

func pluralIndex(lang Lang, n float64) int {
	n = math.Abs(n)
	whole := n == math.Trunc(n) && n < 1e15
	switch lang {
	case RU, PL:
		if !whole {
			return 1 // "1,5 дня", "1,5 godziny": the few form
		}
		i := int64(n)
		d, dd := i%10, i%100
		switch {
		case lang == RU && d == 1 && dd != 11, lang == PL && i == 1:
			return 0
		case d >= 2 && d <= 4 && (dd < 12 || dd > 14):
			return 1
		}
		return 2
	}
	if n == 1 {
		return 0
	}
	return 1
}

// Number writes f as lang does, with thousands grouped and at most two
// decimals: 125,000.5 in English, 125 000,5 in Russian and Polish (which
// groups only from five digits: 1234), 125.000,5 in Italian.
func Number(lang Lang, f float64) string {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		switch {
		case math.IsInf(f, 1):
			return "∞"
		case math.IsInf(f, -1):
			return "-∞"
		}
		return "NaN"
	}
	sep, dot, from := ",", ".", 4
	switch lang.Known() {
	case RU:
		sep, dot = "\u00a0", ","
	case PL:
		sep, dot, from = "\u00a0", ",", 5
	case IT:
		sep, dot = ".", ","
	}
	s := strconv.FormatFloat(math.Round(f*100)/100, 'f', -1, 64)
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	whole, frac, hasFrac := strings.Cut(s, ".")
	var b strings.Builder
	for i, r := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 && len(whole) >= from {
			b.WriteString(sep)
		}
		b.WriteRune(r)
	}
	if hasFrac {
		b.WriteString(dot + frac)
	}
	if sign != "" && b.String() == "0" {
		sign = ""
	}
	return sign + b.String()
}

// months are each language's month names as a date says them ("3 marca
// 2026": Russian and Polish in the genitive), and their short forms.
var months = map[Lang][2][12]string{
	EN: {{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"},
		{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}},
	RU: {{"января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября", "октября", "ноября", "декабря"},
		{"янв", "фев", "мар", "апр", "мая", "июн", "июл", "авг", "сен", "окт", "ноя", "дек"}},
	PL: {{"stycznia", "lutego", "marca", "kwietnia", "maja", "czerwca", "lipca", "sierpnia", "września", "października", "listopada", "grudnia"},
		{"sty", "lut", "mar", "kwi", "maj", "cze", "lip", "sie", "wrz", "paź", "lis", "gru"}},
	IT: {{"gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto", "settembre", "ottobre", "novembre", "dicembre"},
		{"gen", "feb", "mar", "apr", "mag", "giu", "lug", "ago", "set", "ott", "nov", "dic"}},
}

// Date writes a day as lang does: "3 March 2026", "3 марта 2026",
// "3 marca 2026", "3 marzo 2026".
func Date(lang Lang, d time.Time) string {
	return strconv.Itoa(d.Day()) + " " + months[lang.Known()][0][d.Month()-1] + " " + strconv.Itoa(d.Year())
}

// DayMonth is a day as a chart's axis shows it: "5 Dec", "5 дек",
// "5 gru", "5 dic".
func DayMonth(lang Lang, d time.Time) string {
	return strconv.Itoa(d.Day()) + " " + months[lang.Known()][1][d.Month()-1]
}
