package segment

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"segmentor/app/i18n"
)

// Reason is why a record is in its segment, in no language: the
// conditions that put it there, or, for the otherwise segment (or none),
// the segment it came nearest to and what that one missed. The journal
// keeps it; every view (card tab, samples, dry run, changes) tells it with
// a Teller in its reader's language.
type Reason struct {
	Segment   string  `json:"segment,omitempty"` // key; "" when no segment holds
	Otherwise bool    `json:"otherwise,omitempty"`
	Held      []Check `json:"held,omitempty"`    // the conditions that held, in the config's order
	Nearest   *Miss   `json:"nearest,omitempty"` // otherwise or none: the nearest segment's first miss
}

// Miss is a segment that did not hold, and the first condition it missed.
type Miss struct {
	Segment string `json:"segment"`
	Name    string `json:"name"`
	Check   Check  `json:"check"`
}

// Check is one condition as evaluated, as an explanation names it.
type Check struct {
	Fact       string `json:"fact"`
	WindowDays int    `json:"window_days,omitempty"`
	Op         Op     `json:"op"`
	Want       any    `json:"value,omitempty"`
	Seen       Value  `json:"seen"`
	// Not: the condition stands under a "none of these" group, so its
	// opposite is what counts.
	Not bool `json:"not,omitempty"`
}

// UnmarshalJSON reads a value MarshalJSON wrote: a number, text, a list
// of section ids or null.
func (v *Value) UnmarshalJSON(b []byte) error {
	var x any
	if err := json.Unmarshal(b, &x); err != nil {
		return err
	}
	switch t := x.(type) {
	case nil:
		*v = Value{}
	case float64:
		*v = number(t)
	case string:
		*v = text(t)
	case []any:
		g := make([]int, 0, len(t))
		for _, n := range t {
			f, ok := n.(float64)
			if !ok {
				return fmt.Errorf("segment value: %s is not a list of section ids", b)
			}
			g = append(g, int(f))
		}
		*v = Value{Kind: KindGroups, Groups: g}
	default:
		return fmt.Errorf("segment value: %s is not a number, text or list", b)
	}
	return nil
}

// Reason picks, from the full trace, what the record's segment rests on.
func (res *Result) Reason() Reason {
	out := Reason{Segment: res.Key, Otherwise: res.Otherwise}
	segs := res.Explanation.Segments
	if res.Key != "" && !res.Otherwise && len(segs) > 0 && segs[len(segs)-1].Held {
		decisive(segs[len(segs)-1].When, false, &out.Held)
		return out
	}
	if i := nearest(segs); i >= 0 {
		var failed []Check
		decisive(segs[i].When, false, &failed)
		if len(failed) > 0 {
			out.Nearest = &Miss{Segment: segs[i].Key, Name: segs[i].Name, Check: failed[0]}
		}
	}
	return out
}

// decisive collects the comparisons that decided t: for a condition that
// held, those that made it hold; for one that failed, those that made it
// fail, the first of them first.
func decisive(t Trace, not bool, out *[]Check) {
	if !t.Checked {
		return
	}
	if t.Group == "" {
		*out = append(*out, Check{Fact: t.Fact, WindowDays: t.WindowDays, Op: t.Op, Want: t.Want, Seen: t.Seen, Not: not})
		return
	}
	if t.Group == "not" {
		for _, c := range t.Children {
			decisive(c, !not, out)
		}
		return
	}
	for _, c := range t.Children {
		if c.Checked && c.Held == t.Held {
			decisive(c, not, out)
		}
	}
}

// nearest is the failed segment that came closest to holding: the most
// comparisons that held less those that failed, the earlier on a tie; -1
// when none was tried.
func nearest(segs []SegmentTrace) int {
	best, bestScore := -1, math.MinInt
	for i, s := range segs {
		if s.Held {
			continue
		}
		if sc := score(s.When, false); sc > bestScore {
			best, bestScore = i, sc
		}
	}
	return best
}

// score counts a trace's comparisons that went the way the segment needs
// (under a "none of these", the other way) less those that did not.
func score(t Trace, not bool) int {
	if !t.Checked {
		return 0
	}
	if t.Group == "" {
		if t.Held != not {
			return 1
		}
		return -1
	}
	n := 0
	for _, c := range t.Children {
		n += score(c, not != (t.Group == "not"))
	}
	return n
}

// Names are the portal's names for what conditions compare: field titles,
// the names of types, sources, pipelines, stages and list items, product
// sections, segments, and the base currency. Any may be missing: a code
// without a name is shown as it is.
type Names struct {
	Currency string                                  // the base currency, e.g. "EUR"
	Fields   map[Entity]map[string]string            // field id → title
	Values   map[Entity]map[string]map[string]string // field id → value → name
	Sections map[int]string                          // product section id → name
	Segments map[Entity]map[string]string            // segment key → name
	Lists    map[string]string                       // static list key → name
}

// Told is an explanation as a person reads it: a one-line summary and the
// sentences behind it.
type Told struct {
	Summary string   `json:"summary"`
	Lines   []string `json:"lines"`
}

// Teller writes explanations in one language with a portal's names.
type Teller struct {
	lang  Lang
	words Words
	names *Names
}

// NewTeller tells in lang (English when Segmentor does not speak it) with
// names (nil: codes as they are).
func NewTeller(lang Lang, names *Names) *Teller {
	if names == nil {
		names = &Names{}
	}
	lang = lang.Known()
	return &Teller{lang: lang, words: WordsIn(lang), names: names}
}

// say is a phrase in the teller's language.
func (t *Teller) say(p phrase) string { return phrases.Text(t.lang, p) }

// Reason tells why a record of e is in its segment.
func (t *Teller) Reason(e Entity, r Reason) Told {
	out := Told{Lines: []string{}}
	switch {
	case r.Segment != "" && !r.Otherwise:
		for _, c := range r.Held {
			out.Lines = append(out.Lines, t.Check(e, c, true))
		}
		if len(out.Lines) > 0 {
			out.Summary = out.Lines[0]
			if n := len(out.Lines) - 1; n > 0 {
				out.Summary += " (" + phrases.Count(t.lang, phMore, float64(n), strconv.Itoa(n)) + ")"
			}
		}
	default:
		out.Summary = t.say(phNoSegment)
		if r.Otherwise {
			out.Summary = t.say(phNoneApplies)
		}
		if m := r.Nearest; m != nil {
			out.Lines = append(out.Lines, t.say(phNearest)+": "+t.Miss(e, *m))
		}
	}
	return out
}

// Miss tells what a segment missed first: "VIP: RFM frequency (1–5): 3 of
// 5, needs at least 4".
func (t *Teller) Miss(e Entity, m Miss) string {
	name := m.Name
	if name == "" {
		name = t.segmentName(e, m.Segment)
	}
	return name + ": " + t.Check(e, m.Check, false)
}

// Other is a segment tried before the record's own, and what it missed.
type Other struct {
	Key    string `json:"key"`
	Name   string `json:"name"`
	Missed string `json:"missed"`
}

// Others tells, for each segment tried that did not hold, what it missed
// first. Segments after the record's own were not tried and are left out.
func (t *Teller) Others(e Entity, x Explanation) []Other {
	out := []Other{}
	for _, s := range x.Segments {
		if s.Held {
			continue
		}
		var failed []Check
		decisive(s.When, false, &failed)
		o := Other{Key: s.Key, Name: s.Name}
		if o.Name == "" {
			o.Name = s.Key
		}
		if len(failed) > 0 {
			o.Missed = t.Check(e, failed[0], false)
		}
		out = append(out, o)
	}
	return out
}

// Check tells one condition: held, as "Won amount in the last 365 days:
// 125,000 EUR (at least 100,000 EUR)"; missed, as "…: 80,000 EUR, needs at
// least 100,000 EUR".
func (t *Teller) Check(e Entity, c Check, held bool) string {
	// "None of these: is empty" reads "is not empty"; a missing value
	// meets no comparison, so "not more than" stays as it is for it.
	if op, ok := opposite[c.Op]; c.Not && ok && (c.Seen.Kind != 0 || c.Op == OpEmpty || c.Op == OpNotEmpty) {
		c.Op, c.Not = op, false
	}
	if c.Fact == FactList {
		return t.listCheck(c, held)
	}
	subject := t.subject(e, c)
	seen := t.value(e, c, c.Seen)
	cond := t.condition(e, c)
	if c.Not {
		cond = t.negated(e, c)
	}
	if held {
		return subject + ": " + seen + " (" + cond + ")"
	}
	return subject + ": " + seen + ", " + t.needs(e, c)
}

// opposite is each operator's negation, where one exists.
var opposite = map[Op]Op{
	OpEq: OpNe, OpNe: OpEq, OpLt: OpGe, OpGe: OpLt, OpLe: OpGt, OpGt: OpLe,
	OpIn: OpNotIn, OpNotIn: OpIn, OpEmpty: OpNotEmpty, OpNotEmpty: OpEmpty,
}

// negated is a condition under "none of these" with no opposite operator:
// "does not contain #3", "is not between 10 and 20", "not more than 5".
func (t *Teller) negated(e Entity, c Check) string {
	switch c.Op {
	case OpContains, OpBetween:
		return needs.Format(t.lang, "negated "+string(c.Op), t.want(e, c))
	}
	return needs.Format(t.lang, "negated", t.condition(e, c))
}

// needs is what a missed condition asks for, by operator ("not …": under
// "none of these"); %s is the condition's value, for "not" and "negated"
// the whole condition, and "between" has two.
var needs = i18n.Catalog[string]{
	EN: {
		"=": "needs to be %s", "!=": "needs anything but %s", "<": "needs less than %s", "<=": "needs at most %s",
		">": "needs more than %s", ">=": "needs at least %s", "in": "needs one of %s", "not_in": "needs none of %s",
		"contains": "needs to contain %s", "between": "needs between %s and %s", "empty": "needs to be empty", "not_empty": "needs a value",
		"not =": "must not be %s", "not in": "must not be one of %s", "not contains": "must not contain %s", "not": "must not be %s",
		"negated contains": "does not contain %s", "negated between": "is not between %s", "negated": "not %s",
	},
	RU: {
		"=": "нужно %s", "!=": "нужно не %s", "<": "нужно меньше %s", "<=": "нужно не больше %s",
		">": "нужно больше %s", ">=": "нужно не меньше %s", "in": "нужно одно из: %s", "not_in": "нужно ни одно из: %s",
		"contains": "должно содержать %s", "between": "нужно от %s до %s", "empty": "должно быть пусто", "not_empty": "нужно значение",
		"not =": "нужно: не равно %s", "not in": "нужно: не одно из %s", "not contains": "нужно: не содержит %s", "not": "нужно: не %s",
		"negated contains": "не содержит %s", "negated between": "не между %s", "negated": "не %s",
	},
	PL: {
		"=": "wymagane: %s", "!=": "wymagane cokolwiek poza %s", "<": "wymagane mniej niż %s", "<=": "wymagane co najwyżej %s",
		">": "wymagane więcej niż %s", ">=": "wymagane co najmniej %s", "in": "wymagane jedno z: %s", "not_in": "wymagane żadne z: %s",
		"contains": "musi zawierać %s", "between": "wymagane od %s do %s", "empty": "musi być puste", "not_empty": "wymagana wartość",
		"not =": "nie może być %s", "not in": "nie może być żadnym z: %s", "not contains": "nie może zawierać %s", "not": "nie może być: %s",
		"negated contains": "nie zawiera %s", "negated between": "nie jest pomiędzy %s", "negated": "nie %s",
	},
	IT: {
		"=": "deve essere %s", "!=": "deve essere diverso da %s", "<": "deve essere meno di %s", "<=": "deve essere al massimo %s",
		">": "deve essere più di %s", ">=": "deve essere almeno %s", "in": "deve essere uno tra %s", "not_in": "non deve essere nessuno tra %s",
		"contains": "deve contenere %s", "between": "deve essere tra %s e %s", "empty": "deve essere vuoto", "not_empty": "serve un valore",
		"not =": "non deve essere %s", "not in": "non deve essere uno tra %s", "not contains": "non deve contenere %s", "not": "non deve essere %s",
		"negated contains": "non contiene %s", "negated between": "non è tra %s", "negated": "non %s",
	},
}

// needs is what a missed condition asks for, in words.
func (t *Teller) needs(e Entity, c Check) string {
	if c.Not {
		switch c.Op {
		case OpEq, OpIn, OpContains:
			return needs.Format(t.lang, "not "+string(c.Op), t.want(e, c))
		}
		return needs.Format(t.lang, "not", t.condition(e, c))
	}
	switch c.Op {
	case OpEmpty, OpNotEmpty:
		return needs.Text(t.lang, string(c.Op))
	case OpBetween:
		if list, ok := asList(c.Want); ok && len(list) == 2 {
			return needs.Format(t.lang, "between", t.wantOne(e, c, list[0]), t.wantOne(e, c, list[1]))
		}
		return t.condition(e, c)
	}
	if f := needs.Text(t.lang, string(c.Op)); f != "" {
		return fmt.Sprintf(f, t.want(e, c))
	}
	return t.condition(e, c) // an operator the editor has no words for
}

// condition is the operator in words with its value: "at least 100,000 EUR".
func (t *Teller) condition(e Entity, c Check) string {
	op := t.words.Ops[c.Op]
	if op == "" {
		op = string(c.Op)
	}
	if c.Op == OpEmpty || c.Op == OpNotEmpty {
		return op
	}
	return op + " " + t.want(e, c)
}

// subject is the fact's label with its window: "Won amount in the last
// 365 days", or a field's title.
func (t *Teller) subject(e Entity, c Check) string {
	if f, ok := strings.CutPrefix(c.Fact, FieldPrefix); ok {
		if title := t.names.Fields[e][f]; title != "" {
			return title
		}
		return f
	}
	s := t.words.Facts[c.Fact]
	if s == "" {
		s = c.Fact
	}
	if c.WindowDays == 1 {
		s += " " + t.say(phLastDay)
	} else if c.WindowDays > 0 {
		s += " " + phrases.Count(t.lang, phLastDays, float64(c.WindowDays), formatAmount(float64(c.WindowDays), t.lang))
	}
	return s
}

// want is the condition's value as the reader knows it.
func (t *Teller) want(e Entity, c Check) string {
	list, isList := asList(c.Want)
	if !isList {
		return t.wantOne(e, c, c.Want)
	}
	parts := make([]string, len(list))
	for i, x := range list {
		parts[i] = t.wantOne(e, c, x)
	}
	if c.Op == OpBetween && len(parts) == 2 {
		return parts[0] + " " + t.say(phAnd) + " " + parts[1]
	}
	return strings.Join(parts, ", ")
}

func (t *Teller) wantOne(e Entity, c Check, v any) string {
	if n, ok := asNumber(v); ok {
		switch c.Fact {
		case "won_amount", "avg_won_amount":
			return t.money(n)
		case "days_since_last_won", "days_since_first_won", "days_since_last_activity", "days_since_last_inbound":
			switch c.Op {
			case OpLt, OpLe, OpGt, OpGe, OpBetween:
				return phrases.Count(t.lang, phDaysCompared, n, formatAmount(n, t.lang))
			}
			return t.days(n)
		case "growth":
			return fmt.Sprintf(t.say(phTimes), formatAmount(n, t.lang))
		case "product_groups":
			if c.Op == OpContains || c.Op == OpIn || c.Op == OpNotIn {
				return t.section(int(n))
			}
		}
		if f, ok := strings.CutPrefix(c.Fact, FieldPrefix); ok {
			if name := t.names.Values[e][f][formatNumber(n)]; name != "" {
				return name
			}
		}
		return formatAmount(n, t.lang)
	}
	if s, ok := v.(string); ok {
		return t.text(e, c.Fact, s)
	}
	return describe(v)
}

// value is what the record had, as the reader knows it.
func (t *Teller) value(e Entity, c Check, v Value) string {
	noValue := t.say(phNoValue)
	switch c.Fact {
	case "days_since_last_won", "days_since_first_won":
		if v.Kind != KindNumber {
			return t.say(phNoPurchases)
		}
		return t.days(math.Round(v.Num))
	case "days_since_last_activity", "days_since_last_inbound":
		switch {
		case v.Kind == KindNumber:
			return t.days(math.Round(v.Num))
		case c.Fact == "days_since_last_inbound":
			return t.say(phNoInbound)
		}
		return t.say(phNoActivities)
	case "rfm_r", "rfm_f", "rfm_m":
		if v.Kind != KindNumber {
			return noValue
		}
		s := fmt.Sprintf(t.say(phOutOf5), formatAmount(v.Num, t.lang))
		if v.Num == 0 {
			s += " (" + t.say(phNoPurchases) + ")"
		}
		return s
	case "growth":
		if v.Kind == KindText && v.Text == "∞" || v.Kind == KindNumber && math.IsInf(v.Num, 1) {
			return t.say(phFromNothing)
		}
		if v.Kind != KindNumber {
			return noValue
		}
		return fmt.Sprintf(t.say(phTimes), formatAmount(v.Num, t.lang))
	case "won_amount", "avg_won_amount":
		if v.Kind != KindNumber {
			return noValue
		}
		return t.money(v.Num)
	}
	switch v.Kind {
	case KindNumber:
		if f, ok := strings.CutPrefix(c.Fact, FieldPrefix); ok {
			if name := t.names.Values[e][f][formatNumber(v.Num)]; name != "" {
				return name
			}
		}
		return formatAmount(v.Num, t.lang)
	case KindText:
		if v.Text == "" {
			return noValue
		}
		return t.text(e, c.Fact, v.Text)
	case KindGroups:
		if len(v.Groups) == 0 {
			return noValue
		}
		parts := make([]string, len(v.Groups))
		for i, g := range v.Groups {
			parts[i] = t.section(g)
		}
		return strings.Join(parts, ", ")
	}
	return noValue
}

// text names a code: a segment key, a field's value, a date.
func (t *Teller) text(e Entity, fact, s string) string {
	if fact == "client_segment" {
		for _, ce := range []Entity{EntityCompany, EntityContact} {
			if n := t.names.Segments[ce][s]; n != "" {
				return n
			}
		}
		return s
	}
	if fact == FactList {
		return t.listName(s)
	}
	if fact == FactCountry { // "PL", "Polska" → Poland, in the reader's language
		return CountryName(t.lang, NormalizeCountry(s))
	}
	if name := WordsIn(t.lang).Values[fact][s]; name != "" { // a registry status, a PKD section
		return name
	}
	if f, ok := strings.CutPrefix(fact, FieldPrefix); ok {
		if name := t.names.Values[e][f][s]; name != "" {
			return name
		}
	}
	if d, ok := t.date(s); ok {
		return d
	}
	return s
}

var datePattern = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2})?([+-]\d{2}:?\d{2}|Z)?)?$`)

// date shows a CRM date or time as a date: "3 March 2026", "3 марта 2026".
func (t *Teller) date(s string) (string, bool) {
	if !datePattern.MatchString(s) {
		return "", false
	}
	d, err := time.Parse("2006-01-02", s[:10])
	if err != nil {
		return "", false
	}
	return i18n.Date(t.lang, d), true
}

// DayLabel is a day as a chart's axis shows it: "5 Dec", "5 дек",
// "5 gru", "5 dic".
func DayLabel(lang Lang, d time.Time) string { return i18n.DayMonth(lang, d) }

// days counts days: "1 day", "12 days", "12 дней", "12 dni".
func (t *Teller) days(n float64) string {
	return phrases.Count(t.lang, phDays, n, formatAmount(n, t.lang))
}

func (t *Teller) money(n float64) string {
	s := formatAmount(n, t.lang)
	if t.names.Currency != "" {
		s += " " + t.names.Currency
	}
	return s
}

func (t *Teller) section(id int) string {
	if n := t.names.Sections[id]; n != "" {
		return n
	}
	return "#" + strconv.Itoa(id)
}

func (t *Teller) segmentName(e Entity, key string) string {
	if n := t.names.Segments[e][key]; n != "" {
		return n
	}
	return key
}

// SegmentName is a segment's name as the portal's config has it, else its
// key; "" stays "".
func (t *Teller) SegmentName(e Entity, key string) string { return t.segmentName(e, key) }

// Line is one line of a rule told as an outline: Depth 0 is the segment's
// top level.
type Line struct {
	Depth int    `json:"depth"`
	Text  string `json:"text"`
}

// Conditions tells a segment's rule as an outline, as the editor builds
// it: a group's words ("Any of these (OR)") and under it its conditions
// ("Won amount in the last 365 days at least 100,000 EUR"). A segment
// without a rule takes every record: no lines.
func (t *Teller) Conditions(e Entity, c *Condition) []Line {
	out := []Line{}
	var walk func(c *Condition, depth int)
	walk = func(c *Condition, depth int) {
		switch {
		case c == nil:
		case len(c.All) > 0 || len(c.Any) > 0:
			op, list := "all", c.All
			if len(c.Any) > 0 {
				op, list = "any", c.Any
			}
			if len(list) == 1 {
				walk(&list[0], depth)
				return
			}
			out = append(out, Line{Depth: depth, Text: t.words.Groups[op]})
			for i := range list {
				walk(&list[i], depth+1)
			}
		case c.Not != nil:
			out = append(out, Line{Depth: depth, Text: t.words.Groups["not"]})
			if len(c.Not.Any) > 0 {
				for i := range c.Not.Any {
					walk(&c.Not.Any[i], depth+1)
				}
				return
			}
			walk(c.Not, depth+1)
		default:
			ch := Check{Fact: c.Fact, WindowDays: c.WindowDays, Op: c.Op, Want: c.Value}
			out = append(out, Line{Depth: depth, Text: t.subject(e, ch) + ": " + t.condition(e, ch)})
		}
	}
	walk(c, 0)
	return out
}
