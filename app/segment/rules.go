package segment

import (
	"encoding/json"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"segmentor/registry"
)

// Rules is a compiled config: per record type, the segments in order with
// their conditions turned into a tree that evaluates without parsing or
// lookups. It is immutable and safe for concurrent use.
type Rules struct {
	schemes       map[Entity]*scheme
	rfmWindows    []int
	fields        map[Entity][]string
	clientSegment bool
}

type scheme struct {
	segments  []compiledSegment
	otherwise *compiledSegment
}

type compiledSegment struct {
	key, name, color string
	set              Set
	acts             Acts
	when             node
}

// node is a compiled condition: a group ("all", "any", "not") of nodes or a
// leaf. Invalid parts never reach a compiled node.
type node struct {
	group  string
	kids   []node
	leaf   *leaf
	traces int // nodes below this one: the size of its trace's children
}

// leaf is a compiled comparison, with its value already parsed.
type leaf struct {
	fact   factID
	name   string // the fact as written: "won_amount", "field:SOURCE_ID"
	field  string
	window int
	op     Op
	want   any // the config value, for explanations

	isNum  bool    // the value is a number (=, !=, contains on groups)
	num    float64 // =, !=, <, <=, >, >=, contains on groups
	lo, hi float64 // between
	text   string  // =, !=, contains
	items  []item  // in, not_in
}

type item struct {
	isNum bool
	num   float64
	text  string
}

// Compile turns a config into Rules. It refuses a config with structural
// problems (those Validate finds without a portal's Vocabulary), returning
// them as Problems.
func Compile(cfg Config) (*Rules, error) {
	var c compiler
	r := c.compile(cfg)
	if len(c.problems) > 0 {
		return nil, c.problems
	}
	return r, nil
}

// Validate lists every problem in cfg, checked against the portal's ref:
// fact, field, type, pipeline, stage and source names, value types, keys,
// colors and windows. An empty result means the config can be saved.
func Validate(cfg Config, ref Vocabulary) Problems {
	c := compiler{ref: &ref}
	c.compile(cfg)
	return c.problems
}

// RFMWindows lists the windows (0 = all time) the rules' rfm facts use; an
// RFMBuilder must build exactly these.
func (r *Rules) RFMWindows() []int { return slices.Clone(r.rfmWindows) }

// Fields lists the record fields the rules for entity read (field:NAME), so
// the mirror can keep them.
func (r *Rules) Fields(e Entity) []string { return slices.Clone(r.fields[e]) }

// UsesClientSegment reports whether deal rules read client_segment, so a
// client's new segment must reclassify its deals.
func (r *Rules) UsesClientSegment() bool { return r.clientSegment }

// FiresTrigger reports whether entering the segment of entity fires its
// automation trigger.
func (r *Rules) FiresTrigger(e Entity, key string) bool {
	s := r.schemes[e]
	if s == nil {
		return false
	}
	for _, seg := range append(slices.Clone(s.segments), derefSegment(s.otherwise)...) {
		if seg.key == key {
			return seg.acts.Trigger
		}
	}
	return false
}

// Has reports whether the config has a scheme for entity.
func (r *Rules) Has(e Entity) bool { return r.schemes[e] != nil }

type compiler struct {
	ref      *Vocabulary // nil: only structural checks
	problems Problems
	entity   Entity
	segment  string
	rules    *Rules

	clientKeys map[string]bool // segment keys of contact and company schemes
	seg        segmentScope
}

// segmentScope gathers what the stage checks need across a segment's tree.
type segmentScope struct {
	hasCategory bool
	categories  []categoryUse // pipelines chosen by = and in conditions on CATEGORY_ID
	stages      []stageUse
}

type categoryUse struct {
	path string
	id   int
}

type stageUse struct {
	path   string
	stages []string
}

var (
	keyPattern   = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)
	colorPattern = regexp.MustCompile(`^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$`)
	fieldPattern = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)
)

const maxNameLen = 100

func (c *compiler) add(path string, code Code, args ...string) {
	c.problems = append(c.problems, Problem{Path: path, Code: code, Entity: c.entity, Segment: c.segment, Args: args})
}

func (c *compiler) compile(cfg Config) *Rules {
	c.rules = &Rules{schemes: map[Entity]*scheme{}, fields: map[Entity][]string{}}
	c.clientKeys = map[string]bool{}
	for _, s := range cfg.Schemes {
		if s.Entity == EntityContact || s.Entity == EntityCompany {
			for _, seg := range s.Segments {
				c.clientKeys[seg.Key] = true
			}
			if s.Otherwise != nil {
				c.clientKeys[s.Otherwise.Key] = true
			}
		}
	}
	for i := range cfg.Schemes {
		c.scheme(index("schemes", i), &cfg.Schemes[i])
	}
	slices.Sort(c.rules.rfmWindows)
	return c.rules
}

func (c *compiler) scheme(path string, s *Scheme) {
	c.entity, c.segment = "", ""
	switch {
	case s.Entity == "":
		c.add(at(path, "entity"), CodeNoEntity)
	case !isEntity(s.Entity):
		c.add(at(path, "entity"), CodeBadEntity, string(s.Entity))
	default:
		c.entity = s.Entity
		if c.rules.schemes[s.Entity] != nil {
			c.add(at(path, "entity"), CodeDupScheme)
		}
	}
	if len(s.Segments) == 0 && s.Otherwise == nil {
		c.add(path, CodeNoSegments)
	}
	cs := &scheme{}
	keys := map[string]string{} // key → the label of the segment that has it
	for i := range s.Segments {
		cs.segments = append(cs.segments, c.segmentAt(index(at(path, "segments"), i), &s.Segments[i], i, false, keys))
	}
	if s.Otherwise != nil {
		o := c.segmentAt(at(path, "otherwise"), s.Otherwise, len(s.Segments), true, keys)
		cs.otherwise = &o
	}
	// What entering each segment sets off; a notification needs the
	// record's responsible user, so the mirror keeps it.
	timeline := s.Timeline == nil || *s.Timeline
	notify := false
	for _, seg := range append(slices.Clone(cs.segments), derefSegment(cs.otherwise)...) {
		notify = notify || seg.acts.Notify
	}
	for i := range cs.segments {
		cs.segments[i].acts.Timeline, cs.segments[i].acts.InBackfill = timeline, s.BackfillActions
	}
	if cs.otherwise != nil {
		cs.otherwise.acts.Timeline, cs.otherwise.acts.InBackfill = timeline, s.BackfillActions
	}
	if notify && c.entity != "" && !slices.Contains(c.rules.fields[c.entity], AssignedField) {
		c.rules.fields[c.entity] = append(c.rules.fields[c.entity], AssignedField)
	}
	if c.entity != "" && c.rules.schemes[c.entity] == nil {
		c.rules.schemes[c.entity] = cs
	}
	c.entity, c.segment = "", ""
}

func (c *compiler) segmentAt(path string, s *Segment, i int, otherwise bool, keys map[string]string) compiledSegment {
	c.segment = segmentLabel(*s, i)
	defer func() { c.segment = "" }()
	switch {
	case s.Key == "":
		c.add(at(path, "key"), CodeNoKey)
	case !keyPattern.MatchString(s.Key):
		c.add(at(path, "key"), CodeBadKey, s.Key)
	case keys[s.Key] != "":
		c.add(at(path, "key"), CodeDupKey, s.Key, keys[s.Key])
	default:
		keys[s.Key] = c.segment
	}
	if strings.TrimSpace(s.Name) == "" {
		c.add(at(path, "name"), CodeNoName)
	} else if utf8.RuneCountInString(s.Name) > maxNameLen {
		c.add(at(path, "name"), CodeLongName, strconv.Itoa(maxNameLen))
	}
	if s.Color != "" && !colorPattern.MatchString(s.Color) {
		c.add(at(path, "color"), CodeBadColor, s.Color)
	}
	out := compiledSegment{key: s.Key, name: s.Name, color: s.Color, set: s.Set,
		acts: Acts{Trigger: s.OnEntry.firesTrigger(c.entity), Notify: s.OnEntry.Notify}}
	if t := s.Set.Pipeline; t != nil {
		target := *t // the rules must not change when the caller's config does
		out.set.Pipeline = &target
	}
	switch {
	case otherwise && s.When != nil:
		c.add(at(path, "when"), CodeWhenOnOther)
	case !otherwise && s.When == nil:
		c.add(path, CodeNoWhen)
	case s.When != nil:
		c.seg = segmentScope{}
		out.when = c.condition(at(path, "when"), s.When, 1, false)
		c.checkStages()
	}
	c.checkSet(at(path, "set"), s.Set)
	return out
}

func (c *compiler) checkSet(path string, s Set) {
	if s.Type != "" && c.ref != nil && c.entity != "" && !hasStatus(c.ref.Types[c.entity], s.Type) {
		c.add(at(path, "type"), CodeUnknownType, s.Type, statusIDs(c.ref.Types[c.entity]))
	}
	t := s.Pipeline
	if t == nil {
		return
	}
	path = at(path, "pipeline")
	if c.entity != "" && c.entity != EntityDeal {
		c.add(path, CodePipeNotDeal)
	}
	switch t.Apply {
	case ApplyNewOnly, ApplyFirstStage, ApplyAlways:
	default:
		c.add(at(path, "apply"), CodeBadApply, string(t.Apply))
	}
	if t.StageID == "" {
		c.add(at(path, "stage_id"), CodeNoStage)
	}
	if c.ref == nil {
		return
	}
	p, ok := c.ref.pipeline(t.CategoryID)
	if !ok {
		c.add(at(path, "category_id"), CodeUnknownPipe, strconv.Itoa(t.CategoryID))
		return
	}
	if t.StageID != "" && !p.hasStage(t.StageID) {
		c.stageProblem(at(path, "stage_id"), t.StageID, pipelineLabel(p))
	}
}

func (c *compiler) stageProblem(path, stage, pipelines string) {
	if _, exists := c.ref.stagePipeline(stage); !exists {
		c.add(path, CodeUnknownStage, stage)
		return
	}
	c.add(path, CodeStageNotPipe, stage, pipelines)
}

func pipelineLabel(p Pipeline) string {
	if p.Name == "" {
		return strconv.Itoa(p.ID)
	}
	return "\"" + p.Name + "\""
}

// checkStages checks a segment's STAGE_ID conditions against its
// CATEGORY_ID conditions once the whole tree is seen.
func (c *compiler) checkStages() {
	for _, u := range c.seg.stages {
		if !c.seg.hasCategory {
			c.add(u.path, CodeStageNoPipe)
			continue
		}
		if c.ref == nil {
			continue
		}
		var chosen []Pipeline
		var labels []string
		for _, cu := range c.seg.categories {
			if !together(cu.path, u.path) {
				continue
			}
			if p, ok := c.ref.pipeline(cu.id); ok {
				chosen = append(chosen, p)
				labels = append(labels, pipelineLabel(p))
			}
		}
		for _, st := range u.stages {
			in := slices.ContainsFunc(chosen, func(p Pipeline) bool { return p.hasStage(st) })
			if _, exists := c.ref.stagePipeline(st); !exists {
				c.add(u.path, CodeUnknownStage, st)
			} else if len(chosen) > 0 && !in {
				c.add(u.path, CodeStageNotPipe, st, strings.Join(labels, ", "))
			}
		}
	}
}

// together reports whether two conditions must both hold for their
// segment to: their paths part at an "all" group. Conditions that part at
// an "any" are alternatives, so a pipeline condition does not bound a
// stage condition beside it (any: [pipeline 0, stage C1:NEW] can hold).
//
// category is the pipeline condition's path: below the parting it must
// pass through no "any" or "not", or it is one alternative among others
// and bounds nothing (all: [any: [pipeline 0, source WEB], stage C3:NEW]).
func together(category, stage string) bool {
	pa, pb := strings.Split(category, "."), strings.Split(stage, ".")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		if pa[i] == pb[i] {
			continue
		}
		if !strings.HasPrefix(pa[i], "all[") {
			return false
		}
		for _, part := range pa[i+1:] {
			if strings.HasPrefix(part, "any[") || part == "not" {
				return false
			}
		}
		return true
	}
	return true
}

func (c *compiler) condition(path string, cd *Condition, depth int, negated bool) node {
	if depth > maxDepth {
		c.add(path, CodeTooDeep, strconv.Itoa(maxDepth))
		return node{}
	}
	groups := 0
	for _, g := range []bool{cd.All != nil, cd.Any != nil, cd.Not != nil} {
		if g {
			groups++
		}
	}
	isLeaf := cd.Fact != "" || cd.Op != "" || cd.Value != nil || cd.WindowDays != 0
	switch {
	case groups > 1 || groups == 1 && isLeaf:
		c.add(path, CodeMixed)
		return node{}
	case groups == 0 && !isLeaf:
		c.add(path, CodeEmptyCond)
		return node{}
	case cd.Not != nil:
		return withTraces(node{group: "not", kids: []node{c.condition(at(path, "not"), cd.Not, depth+1, !negated)}})
	case groups == 1:
		name, list := "all", cd.All
		if cd.Any != nil {
			name, list = "any", cd.Any
		}
		if len(list) == 0 {
			c.add(path, CodeEmptyGroup, name)
		}
		n := node{group: name, kids: make([]node, 0, len(list))}
		for i := range list {
			n.kids = append(n.kids, c.condition(index(at(path, name), i), &list[i], depth+1, negated))
		}
		return withTraces(n)
	}
	l := c.leaf(path, cd, negated)
	return node{leaf: l}
}

func withTraces(n node) node {
	n.traces = len(n.kids)
	for _, k := range n.kids {
		n.traces += k.traces
	}
	return n
}

// leaf checks and compiles one comparison. It returns nil when the fact is
// unusable; other problems still yield a leaf so the rest can be checked.
func (c *compiler) leaf(path string, cd *Condition, negated bool) *leaf {
	if cd.Fact == "" {
		c.add(path, CodeNoFact)
		return nil
	}
	spec, field, ok := lookupFact(cd.Fact)
	if !ok {
		c.add(path, CodeUnknownFact, cd.Fact)
		return nil
	}
	l := &leaf{fact: spec.id, name: cd.Fact, field: field, window: cd.WindowDays, op: cd.Op, want: cd.Value}
	if spec.id == factField {
		c.checkField(path, field)
	}
	if c.entity != "" && !spec.forEntity(c.entity) {
		switch {
		case spec.id.isRegistryFact():
			c.add(path, CodeCompanyOnly, cd.Fact)
		case spec.deal:
			c.add(path, CodeDealOnly, cd.Fact)
		default:
			c.add(path, CodeClientOnly, cd.Fact)
		}
	}
	switch {
	case cd.WindowDays != 0 && spec.window == WindowNone:
		c.add(path, CodeNoWindow, cd.Fact)
	case cd.WindowDays < 0 || cd.WindowDays > maxWindowDays:
		c.add(path, CodeWindowRange, strconv.Itoa(maxWindowDays))
	case cd.WindowDays == 0 && spec.window == WindowRequired:
		c.add(path, CodeNeedWindow, cd.Fact)
	}
	switch {
	case cd.Op == "":
		c.add(path, CodeNoOp, cd.Fact)
		return l
	case !slices.Contains(allOps(), cd.Op):
		c.add(path, CodeUnknownOp, string(cd.Op))
		return l
	case !slices.Contains(spec.ops(), cd.Op):
		c.add(path, CodeOpNotForFact, string(cd.Op), cd.Fact)
		return l
	}
	if !c.operand(path, spec, l, cd.Value) {
		return l
	}
	c.checkValues(path, spec, l, negated)
	c.use(spec, l)
	return l
}

func (c *compiler) checkField(path, field string) {
	switch {
	case field == "":
		c.add(path, CodeNoField, FieldPrefix)
	case !fieldPattern.MatchString(field):
		c.add(path, CodeBadField, field, strings.ToUpper(field))
	case c.ref != nil && c.entity != "" && !c.ref.hasField(c.entity, field):
		c.add(path, CodeUnknownField, field)
	}
}

// operand parses the value for the operator and the fact's type.
func (c *compiler) operand(path string, spec factSpec, l *leaf, v any) bool {
	wantNum := func(x any) (float64, bool) {
		n, ok := asNumber(x)
		if !ok {
			c.add(path, CodeWantNumber, l.name, string(l.op), describe(x))
		}
		return n, ok
	}
	if v == nil && l.op != OpEmpty && l.op != OpNotEmpty {
		c.add(path, CodeNoValue, l.name, string(l.op))
		return false
	}
	switch l.op {
	case OpEmpty, OpNotEmpty:
		if v != nil {
			c.add(path, CodeExtraValue, string(l.op))
			return false
		}
	case OpLt, OpLe, OpGt, OpGe:
		n, ok := wantNum(v)
		l.num, l.isNum = n, true
		return ok
	case OpBetween:
		list, ok := asList(v)
		if !ok || len(list) != 2 {
			c.add(path, CodeWantRange)
			return false
		}
		lo, ok1 := asNumber(list[0])
		hi, ok2 := asNumber(list[1])
		if !ok1 || !ok2 || lo > hi {
			c.add(path, CodeWantRange)
			return false
		}
		l.lo, l.hi = lo, hi
	case OpEq, OpNe, OpContains:
		it, ok := c.scalar(path, spec, l, v)
		l.isNum, l.num, l.text = it.isNum, it.num, it.text
		return ok
	case OpIn, OpNotIn:
		list, ok := asList(v)
		if !ok {
			c.add(path, CodeWantList, l.name, string(l.op))
			return false
		}
		if len(list) == 0 {
			c.add(path, CodeEmptyList, l.name)
			return false
		}
		for _, x := range list {
			it, ok := c.scalar(path, spec, l, x)
			if !ok {
				return false
			}
			l.items = append(l.items, it)
		}
	}
	return true
}

// scalar parses one value of =, !=, contains or a list item: numbers for
// number facts and for group members, text for text facts, either for fields.
func (c *compiler) scalar(path string, spec factSpec, l *leaf, v any) (item, bool) {
	n, isNum := asNumber(v)
	s, isText := v.(string)
	numeric := spec.typ == typeNumber || spec.typ == typeGroups
	switch {
	case numeric && isNum:
		return item{isNum: true, num: n}, true
	case numeric:
		c.add(path, CodeWantNumber, l.name, string(l.op), describe(v))
	case spec.typ == typeLocation && isText && l.op == OpContains:
		return item{text: fold(s)}, true
	case spec.typ == typeLocation && isText:
		return item{text: locationKey(spec.id, s)}, true
	case spec.id == factRegistryPKD && isText && l.op != OpContains:
		return item{text: registry.NormalizePKD(s)}, true // "4711Z", "47.11.z" → "47.11.Z", as the registry's are
	case spec.typ == typeText && isText, spec.typ == typeField && isText:
		if l.op == OpContains {
			s = strings.ToLower(s)
		}
		return item{text: s}, true
	case spec.typ == typeList && isText:
		return item{text: s}, true
	case spec.typ == typeField && isNum && l.op != OpContains:
		return item{isNum: true, num: n, text: formatNumber(n)}, true
	default:
		c.add(path, CodeWantText, l.name, string(l.op), describe(v))
	}
	return item{}, false
}

// texts are the text values of a compiled leaf: its =/!= value or list.
func (l *leaf) texts() []string {
	if len(l.items) == 0 {
		return []string{l.text}
	}
	out := make([]string, len(l.items))
	for i, it := range l.items {
		out[i] = it.text
	}
	return out
}

// checkValues checks values that must name something: RFM scores and codes,
// client segment keys, and types, pipelines, stages and sources of the portal.
func (c *compiler) checkValues(path string, spec factSpec, l *leaf, negated bool) {
	hasValue := l.op != OpEmpty && l.op != OpNotEmpty
	switch spec.id {
	case factRFMR, factRFMF, factRFMM:
		var ns []float64
		switch {
		case l.op == OpBetween:
			ns = []float64{l.lo, l.hi}
		case len(l.items) > 0:
			for _, it := range l.items {
				ns = append(ns, it.num)
			}
		case hasValue:
			ns = []float64{l.num}
		}
		for _, n := range ns {
			if n < 0 || n > 5 || n != float64(int(n)) {
				c.add(path, CodeRFMScore, formatNumber(n))
			}
		}
	case factRFM:
		if hasValue && l.op != OpContains {
			for _, s := range l.texts() {
				if !isRFMCode(s) {
					c.add(path, CodeRFMCode, s)
				}
			}
		}
	case factClientSegment:
		if hasValue && l.op != OpContains {
			for _, s := range l.texts() {
				if !c.clientKeys[s] {
					c.add(path, CodeUnknownSeg, s)
				}
			}
		}
	case factList:
		c.checkLists(path, l)
	case factField:
		if hasValue && l.op != OpContains && l.op != OpBetween {
			c.checkFieldValues(path, l, negated)
		}
	}
}

func (c *compiler) checkFieldValues(path string, l *leaf, negated bool) {
	numeric := l.op == OpLt || l.op == OpLe || l.op == OpGt || l.op == OpGe
	switch {
	case l.field == "CATEGORY_ID" && c.entity == EntityDeal:
		c.seg.hasCategory = true
		if numeric {
			return
		}
		for _, s := range l.texts() {
			id, err := strconv.Atoi(s)
			if err != nil {
				c.add(path, CodeWantNumber, l.name, string(l.op), describe(s))
				continue
			}
			if !negated && (l.op == OpEq || l.op == OpIn) {
				c.seg.categories = append(c.seg.categories, categoryUse{path: path, id: id})
			}
			if c.ref != nil {
				if _, ok := c.ref.pipeline(id); !ok {
					c.add(path, CodeUnknownPipe, s)
				}
			}
		}
	case numeric:
		return
	case l.field == "STAGE_ID" && c.entity == EntityDeal:
		c.seg.stages = append(c.seg.stages, stageUse{path: path, stages: l.texts()})
	case c.ref == nil:
		return
	case l.field == "TYPE_ID" && (c.entity == EntityContact || c.entity == EntityDeal), l.field == "COMPANY_TYPE" && c.entity == EntityCompany:
		for _, s := range l.texts() {
			if !hasStatus(c.ref.Types[c.entity], s) {
				c.add(path, CodeUnknownType, s, statusIDs(c.ref.Types[c.entity]))
			}
		}
	case l.field == "SOURCE_ID" && c.ref.Sources != nil:
		for _, s := range l.texts() {
			if !hasStatus(c.ref.Sources, s) {
				c.add(path, CodeUnknownSrc, s)
			}
		}
	}
}

// use records what evaluation will need: fields to mirror, RFM windows.
func (c *compiler) use(spec factSpec, l *leaf) {
	r := c.rules
	switch spec.id {
	case factField:
		if c.entity != "" && !slices.Contains(r.fields[c.entity], l.field) {
			r.fields[c.entity] = append(r.fields[c.entity], l.field)
		}
	case factRFMR, factRFMF, factRFMM, factRFM:
		if !slices.Contains(r.rfmWindows, l.window) {
			r.rfmWindows = append(r.rfmWindows, l.window)
		}
	case factClientSegment:
		r.clientSegment = true
	}
}

func isRFMCode(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := range 3 {
		if s[i] < '0' || s[i] > '5' {
			return false
		}
	}
	return true
}

// asNumber reads a config number: json.Number from ParseConfig, or any Go
// number when built in code. Text is never a number here.
func asNumber(v any) (float64, bool) {
	switch n := v.(type) {
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case int32:
		return float64(n), true
	case uint:
		return float64(n), true
	case uint64:
		return float64(n), true
	case uint32:
		return float64(n), true
	}
	return 0, false
}

// asList reads a config list: []any from JSON, or any Go slice.
func asList(v any) ([]any, bool) {
	if l, ok := v.([]any); ok {
		return l, true
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return nil, false
	}
	out := make([]any, rv.Len())
	for i := range out {
		out[i] = rv.Index(i).Interface()
	}
	return out, true
}

// describe shows a wrong value in a message as the admin wrote it.
func describe(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "?"
	}
	s := string(b)
	if utf8.RuneCountInString(s) > 40 {
		s = string([]rune(s)[:40]) + "…"
	}
	return s
}

// AssignedField is the record field naming its responsible user, which a
// notification goes to.
const AssignedField = "ASSIGNED_BY_ID"

func derefSegment(s *compiledSegment) []compiledSegment {
	if s == nil {
		return nil
	}
	return []compiledSegment{*s}
}

// uses reports whether any segment's conditions read a fact for which
// pred holds.
func (r *Rules) uses(pred func(factID) bool) bool {
	var walk func(n *node) bool
	walk = func(n *node) bool {
		if n.leaf != nil && pred(n.leaf.fact) {
			return true
		}
		for i := range n.kids {
			if walk(&n.kids[i]) {
				return true
			}
		}
		return false
	}
	for _, s := range r.schemes {
		for i := range s.segments {
			if walk(&s.segments[i].when) {
				return true
			}
		}
	}
	return false
}
