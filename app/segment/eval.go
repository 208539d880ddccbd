package segment

import (
	"math"
	"slices"
	"strconv"
	"strings"
)

// Result is a record's classification: the winning segment (Key "" when
// none matched and there is no otherwise), what it sets, and why.
type Result struct {
	Key         string      `json:"key"`
	Name        string      `json:"name"`
	Color       string      `json:"color,omitempty"`
	Otherwise   bool        `json:"otherwise,omitempty"` // the otherwise segment caught it
	Set         Set         `json:"set"`
	Acts        Acts        `json:"-"` // what entering the segment sets off
	Explanation Explanation `json:"explanation"`
}

// Explanation is every segment tried, in order, up to the winner.
type Explanation struct {
	Segments []SegmentTrace `json:"segments"`
}

// SegmentTrace is one segment's conditions as evaluated.
type SegmentTrace struct {
	Key  string `json:"key"`
	Name string `json:"name"`
	Held bool   `json:"held"`
	When Trace  `json:"when"`
}

// Trace mirrors a condition of the config: a group with its children, or a
// leaf with the value the fact had. Conditions after the first false one of
// an "all" (or true one of an "any") are not evaluated: Checked is false.
type Trace struct {
	Group      string  `json:"group,omitempty"` // all, any, not; "" for a comparison
	Children   []Trace `json:"children,omitempty"`
	Fact       string  `json:"fact,omitempty"`
	WindowDays int     `json:"window_days,omitempty"`
	Op         Op      `json:"op,omitempty"`
	Want       any     `json:"value,omitempty"` // the config's value
	Seen       Value   `json:"seen"`            // the fact's actual value
	Checked    bool    `json:"checked"`
	Held       bool    `json:"held"`
}

// Evaluate classifies one record of entity from its facts: the first
// segment whose conditions hold wins, else otherwise, else none.
func (r *Rules) Evaluate(e Entity, f Facts) Result {
	s := r.schemes[e]
	if s == nil {
		return Result{}
	}
	var res Result
	res.Explanation.Segments = make([]SegmentTrace, 0, len(s.segments))
	// One allocation for every segment's trace, rather than one a segment
	// tried: most records are tried on most segments.
	traces := 0
	for i := range s.segments {
		traces += s.segments[i].when.traces
	}
	buf := traceBuf(make([]Trace, traces))
	for i := range s.segments {
		seg := &s.segments[i]
		held, tr := eval(&seg.when, f, &buf)
		res.Explanation.Segments = append(res.Explanation.Segments, SegmentTrace{Key: seg.key, Name: seg.name, Held: held, When: tr})
		if held {
			res.Key, res.Name, res.Color, res.Set, res.Acts = seg.key, seg.name, seg.color, seg.set, seg.acts
			return res
		}
	}
	if o := s.otherwise; o != nil {
		res.Key, res.Name, res.Color, res.Set, res.Acts, res.Otherwise = o.key, o.name, o.color, o.set, o.acts, true
	}
	return res
}

// traceBuf hands out the children slices of one segment's trace.
type traceBuf []Trace

func (b *traceBuf) take(n int) []Trace {
	s := (*b)[:n:n]
	*b = (*b)[n:]
	return s
}

func eval(n *node, f Facts, buf *traceBuf) (bool, Trace) {
	if n.leaf != nil {
		l := n.leaf
		v := stable(f.value(l), f) // the trace keeps it: text in the facts' scratch is copied
		if v.Kind == KindGroups {
			v.Groups = slices.Clone(v.Groups) // the facts reuse their buffer
		}
		held := l.match(v)
		return held, Trace{Fact: l.name, WindowDays: l.window, Op: l.op, Want: l.want, Seen: v, Checked: true, Held: held}
	}
	t := Trace{Group: n.group, Checked: true, Children: buf.take(len(n.kids))}
	switch n.group {
	case "not":
		held, child := eval(&n.kids[0], f, buf)
		t.Children[0], t.Held = child, !held
		return t.Held, t
	case "all", "any":
		// all: true until a child is false; any: false until a child is true.
		t.Held = n.group == "all"
		decided := false
		for i := range n.kids {
			if decided {
				t.Children[i] = unchecked(&n.kids[i], buf)
				continue
			}
			held, child := eval(&n.kids[i], f, buf)
			t.Children[i] = child
			if held != t.Held {
				t.Held, decided = held, true
			}
		}
	}
	return t.Held, t
}

// unchecked traces a condition skipped by short-circuiting.
func unchecked(n *node, buf *traceBuf) Trace {
	if n.leaf != nil {
		l := n.leaf
		return Trace{Fact: l.name, WindowDays: l.window, Op: l.op, Want: l.want}
	}
	t := Trace{Group: n.group, Children: buf.take(len(n.kids))}
	for i := range n.kids {
		t.Children[i] = unchecked(&n.kids[i], buf)
	}
	return t
}

// match compares a fact's value with the leaf. No value satisfies only
// empty, != and not_in. Text fields compare as numbers when the condition
// has a number and the field parses as one.
func (l *leaf) match(v Value) bool {
	if l.fact.matchesAsPlace() {
		return l.matchLocation(v)
	}
	switch l.op {
	case OpEmpty:
		return isEmpty(v)
	case OpNotEmpty:
		return !isEmpty(v)
	case OpNe:
		return !l.equal(v)
	case OpNotIn:
		return !l.in(v)
	case OpEq:
		return l.equal(v)
	case OpIn:
		return l.in(v)
	case OpContains:
		switch v.Kind {
		case KindGroups:
			return slices.Contains(v.Groups, int(l.num)) && float64(int(l.num)) == l.num
		case KindText:
			return strings.Contains(strings.ToLower(v.Text), l.text)
		}
		return false
	}
	x, ok := v.number()
	if !ok {
		return false
	}
	switch l.op {
	case OpLt:
		return x < l.num
	case OpLe:
		return x <= l.num
	case OpGt:
		return x > l.num
	case OpGe:
		return x >= l.num
	case OpBetween:
		return x >= l.lo && x <= l.hi
	}
	return false
}

func isEmpty(v Value) bool {
	switch v.Kind {
	case KindText:
		return v.Text == ""
	case KindGroups:
		return len(v.Groups) == 0
	}
	return v.Kind == KindNone
}

// number is v as a number: groups count their members, text must parse.
func (v Value) number() (float64, bool) {
	switch v.Kind {
	case KindNumber:
		return v.Num, true
	case KindGroups:
		return float64(len(v.Groups)), true
	case KindText:
		f, err := strconv.ParseFloat(strings.TrimSpace(v.Text), 64)
		return f, err == nil
	}
	return 0, false
}

func (l *leaf) equal(v Value) bool {
	return matchItem(item{isNum: l.isNum, num: l.num, text: l.text}, v)
}

// in: for groups, any member is listed; otherwise the value equals an item.
func (l *leaf) in(v Value) bool {
	for _, it := range l.items {
		if v.Kind == KindGroups {
			if slices.Contains(v.Groups, int(it.num)) && float64(int(it.num)) == it.num {
				return true
			}
			continue
		}
		if matchItem(it, v) {
			return true
		}
	}
	return false
}

func matchItem(it item, v Value) bool {
	switch v.Kind {
	case KindNone:
		return false
	case KindText:
		if v.Text == it.text {
			return true
		}
		if !it.isNum {
			return false
		}
	}
	x, ok := v.number()
	return ok && it.isNum && x == it.num
}

// formatNumber writes a number the way a config would: 3, 2.5, never 3e+06.
func formatNumber(f float64) string {
	if math.IsInf(f, 1) {
		return "∞"
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}
