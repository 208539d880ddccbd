package segment

// FactQuery is one fact a rule asks of a record while it is evaluated.
type FactQuery struct {
	Name   string // as the config writes it: "won_amount", "field:SOURCE_ID"
	Field  string // for field:NAME, the field's name
	Window int    // window_days; 0 is all time
}

// FactsFunc supplies facts computed elsewhere to Rules.Evaluate: the rules
// ask, the function answers. It lets a caller with its own view of the
// records (an independent check in a test, another data source) reuse the
// compiled conditions. A value of KindNone means "no value".
type FactsFunc func(q FactQuery) Value

func (f FactsFunc) value(l *leaf) Value {
	return f(FactQuery{Name: l.name, Field: l.field, Window: l.window})
}
