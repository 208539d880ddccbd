package segment

import (
	"strconv"
	"strings"
	"unsafe"

	"github.com/shopspring/decimal"
)

// Classifying a record allocates nothing: a preview runs the rules over a
// whole base, and garbage per record is what would make it slow. The few
// facts whose value is not already a string of the record (an id, a
// deal's amount as field:OPPORTUNITY reads it) are formatted into a
// buffer the facts keep, and handed out as a string that reads the
// buffer in place. Such a string is valid only until the facts format the
// next one: a match reads it at once; eval, which keeps the value in the
// explanation, copies it (stable).

// scratch is a facts value's buffer for formatted text.
type scratch struct {
	buf []byte
}

// int formats n as strconv.FormatInt does.
func (s *scratch) int(n int64) Value {
	s.buf = strconv.AppendInt(s.buf[:0], n, 10)
	return s.text()
}

// decimal formats d as d.String() does.
func (s *scratch) decimal(d decimal.Decimal) Value {
	b, ok := appendDecimal(s.buf[:0], d)
	if !ok {
		return text(d.String())
	}
	s.buf = b
	return s.text()
}

func (s *scratch) text() Value {
	if len(s.buf) == 0 {
		return text("")
	}
	return text(unsafe.String(&s.buf[0], len(s.buf)))
}

// owns reports whether t reads the buffer: it must be copied to be kept.
func (s *scratch) owns(t string) bool {
	return len(t) > 0 && cap(s.buf) > 0 && unsafe.StringData(t) == &s.buf[:1][0]
}

// scratchOwner is facts that may hand out text in their scratch buffer.
type scratchOwner interface {
	ownsText(t string) bool
}

func (f *ClientFacts) ownsText(t string) bool { return f.scratch.owns(t) }
func (f *DealFacts) ownsText(t string) bool   { return f.scratch.owns(t) }

// stable is v safe to keep after the facts answer again.
func stable(v Value, f Facts) Value {
	if v.Kind == KindText {
		if o, ok := f.(scratchOwner); ok && o.ownsText(v.Text) {
			v.Text = strings.Clone(v.Text)
		}
	}
	return v
}

// appendDecimal appends d as d.String() writes it — the coefficient's
// digits with the point placed by the exponent, trailing zeros of the
// fraction trimmed — for a coefficient of at most 18 digits and an
// exponent of at most zero, every amount a portal stores. ok is false
// otherwise, and when the decimal package is set to write differently.
func appendDecimal(b []byte, d decimal.Decimal) ([]byte, bool) {
	exp := d.Exponent()
	if !decimal.TrimTrailingZeros || decimal.UseScientificNotation || exp > 0 || exp < -18 || d.NumDigits() > 18 {
		return b, false
	}
	c := d.CoefficientInt64()
	if c < 0 {
		b = append(b, '-')
		c = -c
	}
	var digits [20]byte
	ds := strconv.AppendInt(digits[:0], c, 10)
	point := len(ds) + int(exp) // digits before the point
	frac := ds[max(point, 0):]
	for len(frac) > 0 && frac[len(frac)-1] == '0' {
		frac = frac[:len(frac)-1]
	}
	if point > 0 {
		b = append(b, ds[:point]...)
	} else {
		b = append(b, '0')
	}
	if len(frac) > 0 {
		b = append(b, '.')
		for range -point {
			b = append(b, '0')
		}
		b = append(b, frac...)
	}
	return b, true
}

// Prepare converts once what the money facts would otherwise convert from
// Amount at every evaluation: a decimal's digits lie behind two pointers,
// a cache miss each per won deal and evaluation over a base of 100,000
// deals held in memory. Call it again after changing Amount.
func (d *Deal) Prepare() { d.amount, d.prepared = amountFloat(d.Amount), true }

// money is the deal's amount as the money facts read it.
func (d *Deal) money() float64 {
	if d.prepared {
		return d.amount
	}
	return amountFloat(d.Amount)
}

// semanticText is a stage semantic as STAGE_SEMANTIC_ID reads it.
func semanticText(s Semantic) string {
	switch s {
	case InProgress:
		return "P"
	case Won:
		return "S"
	case Lost:
		return "F"
	}
	return string(rune(s))
}
