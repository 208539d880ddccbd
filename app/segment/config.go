package segment

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
)

// Entity is a CRM record type a scheme classifies.
type Entity string

// Record types.
const (
	EntityContact Entity = "contact"
	EntityCompany Entity = "company"
	EntityDeal    Entity = "deal"
)

// Op is a comparison operator of a condition.
type Op string

// Operators.
const (
	OpEq       Op = "="
	OpNe       Op = "!="
	OpLt       Op = "<"
	OpLe       Op = "<="
	OpGt       Op = ">"
	OpGe       Op = ">="
	OpIn       Op = "in"
	OpNotIn    Op = "not_in"
	OpContains Op = "contains"
	OpBetween  Op = "between"
	OpEmpty    Op = "empty"
	OpNotEmpty Op = "not_empty"
)

// Apply says which deals a segment's pipeline move applies to.
type Apply string

// Apply policies.
const (
	ApplyNewOnly    Apply = "new_only"    // deals created after the rule version took effect
	ApplyFirstStage Apply = "first_stage" // deals still in the first stage of their pipeline
	ApplyAlways     Apply = "always"      // every open deal
)

// Config is a portal's segmentation config (design.md §5, v1).
type Config struct {
	Schemes []Scheme `json:"schemes"`
}

// Scheme classifies one record type: the first segment whose When holds
// wins, Otherwise (if any) takes the rest.
type Scheme struct {
	Entity    Entity    `json:"entity"`
	Segments  []Segment `json:"segments"`
	Otherwise *Segment  `json:"otherwise,omitempty"`
	// Timeline: a record's change of segment is written on its timeline
	// (nil: yes).
	Timeline *bool `json:"timeline,omitempty"`
	// BackfillActions: a recompute of the whole base (after a save, the
	// nightly one, the first after install) also fires triggers, writes
	// timeline entries and notifies; off, only live changes do, so that
	// classifying a large base does not start thousands of automations.
	BackfillActions bool `json:"backfill_actions,omitempty"`
}

// All returns the scheme's segments in order, Otherwise last when set.
func (s Scheme) All() []Segment {
	out := slices.Clone(s.Segments)
	if s.Otherwise != nil {
		out = append(out, *s.Otherwise)
	}
	return out
}

// Segment returns e's segment with key (the otherwise one included), or
// nil when the config has none.
func (c *Config) Segment(e Entity, key string) *Segment {
	for i := range c.Schemes {
		sc := &c.Schemes[i]
		if sc.Entity != e {
			continue
		}
		for j := range sc.Segments {
			if sc.Segments[j].Key == key {
				return &sc.Segments[j]
			}
		}
		if sc.Otherwise != nil && sc.Otherwise.Key == key {
			return sc.Otherwise
		}
	}
	return nil
}

// Segment is one named segment with its conditions and outputs. The
// Otherwise segment has no When.
type Segment struct {
	Key     string     `json:"key"`
	Name    string     `json:"name"`
	Color   string     `json:"color,omitempty"`
	When    *Condition `json:"when,omitempty"`
	Set     Set        `json:"set"`
	OnEntry OnEntry    `json:"on_entry,omitzero"`
}

// OnEntry is what a record's entry into the segment sets off besides the
// writes: the portal's automation trigger "Entered segment" and a
// notification to the responsible user. Automation rules live on deals, so
// a deal segment fires its trigger unless told not to; a contact or
// company segment only when asked (Bitrix24 then fires it for the deals
// linked to the client, crm-automation-trigger-execute.md).
type OnEntry struct {
	Trigger *bool `json:"trigger,omitempty"`
	Notify  bool  `json:"notify,omitempty"`
}

func (o OnEntry) firesTrigger(e Entity) bool {
	if o.Trigger != nil {
		return *o.Trigger
	}
	return e == EntityDeal
}

// Acts is what a record's entry into its segment sets off (Result.Acts).
type Acts struct {
	Trigger    bool // fire the segment's automation trigger
	Notify     bool // notify the record's responsible user
	Timeline   bool // write the change on the record's timeline
	InBackfill bool // also when a recompute of the whole base makes the change
}

// Any reports whether a change sets anything off.
func (a Acts) Any() bool { return a.Trigger || a.Notify || a.Timeline }

// Set is what a segment writes to its records.
type Set struct {
	Type     string  `json:"type,omitempty"`     // status id of CONTACT_TYPE/COMPANY_TYPE/DEAL_TYPE
	Label    bool    `json:"label,omitempty"`    // write the segment into the Segment list field
	Pipeline *Target `json:"pipeline,omitempty"` // deals only: move to this pipeline and stage
}

// Target is where a segment moves its deals.
type Target struct {
	CategoryID int    `json:"category_id"`
	StageID    string `json:"stage_id"`
	Apply      Apply  `json:"apply"`
}

// Condition is a group (exactly one of All, Any, Not) or a leaf comparing a
// fact: {fact, window_days?, op, value}. Value holds what JSON decoding
// gives (json.Number, string, bool, []any) or plain Go numbers, strings and
// slices when built in code.
type Condition struct {
	All        []Condition `json:"all,omitempty"`
	Any        []Condition `json:"any,omitempty"`
	Not        *Condition  `json:"not,omitempty"`
	Fact       string      `json:"fact,omitempty"`
	WindowDays int         `json:"window_days,omitempty"`
	Op         Op          `json:"op,omitempty"`
	Value      any         `json:"value,omitempty"`
}

// ParseConfig decodes a config strictly: JSON that is not clean (see
// CheckJSON) is one Problem, where it is; unknown keys and wrong JSON types
// are Problems with their paths, all of them at once. It does not check
// meaning; Validate does.
func ParseConfig(data []byte) (Config, error) {
	if p := newStrictScanner(data, MaxJSONDepth, nil).check(); p != nil {
		return Config{}, Problems{*p}
	}
	return parseConfig(data)
}

// ParseSavedConfig decodes a config the app saved itself, as ParseConfig
// does but without CheckJSON: a config saved before that check existed (a
// tab in a segment's name, say) keeps classifying its portal until an
// admin saves it again, when the check applies.
func ParseSavedConfig(data []byte) (Config, error) { return parseConfig(data) }

func parseConfig(data []byte) (Config, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var raw any
	if err := dec.Decode(&raw); err != nil {
		return Config{}, Problems{syntaxProblem(data, err)}
	}
	var p parser
	cfg := p.config(raw)
	if len(p.problems) > 0 {
		return cfg, p.problems
	}
	return cfg, nil
}

// UnmarshalJSON makes a Config embedded in a request body parse strictly.
func (c *Config) UnmarshalJSON(data []byte) error {
	cfg, err := ParseConfig(data)
	if err != nil {
		return err
	}
	*c = cfg
	return nil
}

func syntaxProblem(data []byte, err error) Problem {
	line, col := lineCol(data, errorOffset(data, err))
	return Problem{Code: CodeJSONSyntax, Args: []string{line, col}}
}

// errorOffset is the offset of the byte a decoding error is at: the end of
// the input when it ended too soon.
func errorOffset(data []byte, err error) int64 {
	// The offset is just past the offending byte; point at that byte.
	var se *json.SyntaxError
	if errors.As(err, &se) && se.Offset > 0 {
		return min(se.Offset-1, int64(len(data)))
	}
	return int64(len(data))
}

// lineCol is where offset is in data, as an editor counts from 1.
func lineCol(data []byte, offset int64) (line, col string) {
	l, c := 1, 1
	for _, b := range data[:offset] {
		if b == '\n' {
			l, c = l+1, 1
		} else {
			c++
		}
	}
	return strconv.Itoa(l), strconv.Itoa(c)
}

// parser walks decoded JSON into a Config, noting every structural problem.
type parser struct {
	problems Problems
	entity   Entity
	segment  string
}

func (p *parser) add(path string, code Code, args ...string) {
	p.problems = append(p.problems, Problem{Path: path, Code: code, Entity: p.entity, Segment: p.segment, Args: args})
}

// object checks v is an object with only the allowed keys.
func (p *parser) object(path, name string, v any, allowed ...string) (map[string]any, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		p.add(path, CodeJSONObject, name)
		return nil, false
	}
	var unknown []string
	for k := range m {
		if !slices.Contains(allowed, k) {
			unknown = append(unknown, k)
		}
	}
	slices.Sort(unknown)
	for _, k := range unknown {
		p.add(at(path, k), CodeUnknownKey, k)
	}
	return m, true
}

func (p *parser) list(path, name string, v any) []any {
	l, ok := v.([]any)
	if !ok {
		p.add(path, CodeJSONList, name)
	}
	return l
}

func (p *parser) text(m map[string]any, path, key string) string {
	v, ok := m[key]
	if !ok || v == nil {
		return ""
	}
	s, ok := v.(string)
	if !ok {
		p.add(at(path, key), CodeJSONText, key)
	}
	return s
}

func (p *parser) integer(m map[string]any, path, key string) int {
	v, ok := m[key]
	if !ok || v == nil {
		return 0
	}
	n, isNum := v.(json.Number)
	i, err := strconv.ParseInt(string(n), 10, 32)
	if !isNum || err != nil {
		p.add(at(path, key), CodeJSONInteger, key)
	}
	return int(i)
}

func (p *parser) boolean(m map[string]any, path, key string) bool {
	v, ok := m[key]
	if !ok || v == nil {
		return false
	}
	b, ok := v.(bool)
	if !ok {
		p.add(at(path, key), CodeJSONBool, key)
	}
	return b
}

func (p *parser) config(raw any) Config {
	var cfg Config
	m, ok := p.object("", "config", raw, "schemes")
	if !ok {
		return cfg
	}
	v, ok := m["schemes"]
	if !ok || v == nil {
		return cfg
	}
	for i, s := range p.list("schemes", "schemes", v) {
		cfg.Schemes = append(cfg.Schemes, p.scheme(index("schemes", i), s))
	}
	return cfg
}

func (p *parser) scheme(path string, raw any) Scheme {
	var s Scheme
	p.entity, p.segment = "", ""
	if m, ok := raw.(map[string]any); ok {
		// Name the record type in every problem found inside the scheme.
		if e, _ := m["entity"].(string); isEntity(Entity(e)) {
			p.entity = Entity(e)
		}
	}
	m, ok := p.object(path, "scheme", raw, "entity", "segments", "otherwise", "timeline", "backfill_actions")
	if !ok {
		return s
	}
	s.Entity = Entity(p.text(m, path, "entity"))
	if v, ok := m["timeline"]; ok && v != nil {
		b := p.boolean(m, path, "timeline")
		s.Timeline = &b
	}
	s.BackfillActions = p.boolean(m, path, "backfill_actions")
	if v, ok := m["segments"]; ok && v != nil {
		sp := at(path, "segments")
		for i, seg := range p.list(sp, "segments", v) {
			s.Segments = append(s.Segments, p.segmentAt(index(sp, i), seg, true))
		}
	}
	if v, ok := m["otherwise"]; ok && v != nil {
		seg := p.segmentAt(at(path, "otherwise"), v, false)
		s.Otherwise = &seg
	}
	p.entity, p.segment = "", ""
	return s
}

func (p *parser) segmentAt(path string, raw any, withWhen bool) Segment {
	var s Segment
	allowed := []string{"key", "name", "color", "set", "on_entry"}
	if withWhen {
		allowed = append(allowed, "when")
	}
	m, ok := raw.(map[string]any)
	if ok {
		// Name the segment in every problem found inside it.
		s.Key, _ = m["key"].(string)
		s.Name, _ = m["name"].(string)
		p.segment = segmentLabel(s, -1)
	}
	defer func() { p.segment = "" }()
	m, ok = p.object(path, "segment", raw, allowed...)
	if !ok {
		return s
	}
	s.Key = p.text(m, path, "key")
	s.Name = p.text(m, path, "name")
	s.Color = p.text(m, path, "color")
	if v, ok := m["when"]; ok && v != nil && withWhen {
		c := p.condition(at(path, "when"), "when", v)
		s.When = &c
	}
	if v, ok := m["set"]; ok && v != nil {
		s.Set = p.set(at(path, "set"), v)
	}
	if v, ok := m["on_entry"]; ok && v != nil {
		op := at(path, "on_entry")
		if om, ok := p.object(op, "on_entry", v, "trigger", "notify"); ok {
			if t, ok := om["trigger"]; ok && t != nil {
				b := p.boolean(om, op, "trigger")
				s.OnEntry.Trigger = &b
			}
			s.OnEntry.Notify = p.boolean(om, op, "notify")
		}
	}
	return s
}

func (p *parser) set(path string, raw any) Set {
	var s Set
	m, ok := p.object(path, "set", raw, "type", "label", "pipeline")
	if !ok {
		return s
	}
	s.Type = p.text(m, path, "type")
	s.Label = p.boolean(m, path, "label")
	if v, ok := m["pipeline"]; ok && v != nil {
		pp := at(path, "pipeline")
		if pm, ok := p.object(pp, "pipeline", v, "category_id", "stage_id", "apply"); ok {
			s.Pipeline = &Target{
				CategoryID: p.integer(pm, pp, "category_id"),
				StageID:    p.text(pm, pp, "stage_id"),
				Apply:      Apply(p.text(pm, pp, "apply")),
			}
		}
	}
	return s
}

func (p *parser) condition(path, name string, raw any) Condition {
	var c Condition
	m, ok := p.object(path, name, raw, "all", "any", "not", "fact", "window_days", "op", "value")
	if !ok {
		return c
	}
	group := func(key string) []Condition {
		v, ok := m[key]
		if !ok || v == nil {
			return nil
		}
		gp := at(path, key)
		l := p.list(gp, key, v)
		out := make([]Condition, 0, len(l)) // an empty group stays non-nil for Validate to report
		for i, item := range l {
			out = append(out, p.condition(index(gp, i), key, item))
		}
		return out
	}
	c.All = group("all")
	c.Any = group("any")
	if v, ok := m["not"]; ok && v != nil {
		n := p.condition(at(path, "not"), "not", v)
		c.Not = &n
	}
	c.Fact = p.text(m, path, "fact")
	c.WindowDays = p.integer(m, path, "window_days")
	c.Op = Op(p.text(m, path, "op"))
	c.Value = m["value"]
	return c
}

func at(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

func isEntity(e Entity) bool {
	return e == EntityContact || e == EntityCompany || e == EntityDeal
}

// segmentLabel is how messages name a segment: its name, else its key, else
// its position.
func segmentLabel(s Segment, i int) string {
	switch {
	case s.Name != "":
		return s.Name
	case s.Key != "":
		return s.Key
	case i >= 0:
		return "#" + strconv.Itoa(i+1)
	}
	return ""
}
