package segment

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// testRef is a small portal: two deal pipelines, a few types and sources.
func testRef() Vocabulary {
	return Vocabulary{
		Types: map[Entity][]Status{
			EntityContact: {{ID: "CLIENT", Name: "Client"}, {ID: "VIP", Name: "VIP"}},
			EntityCompany: {{ID: "CUSTOMER", Name: "Customer"}},
			EntityDeal:    {{ID: "SALE", Name: "Sale"}, {ID: "COMPLEX", Name: "Complex"}},
		},
		Pipelines: []Pipeline{
			{ID: 0, Name: "General", Stages: []Status{{ID: "NEW"}, {ID: "PREPARATION"}, {ID: "WON"}, {ID: "LOSE"}}},
			{ID: 3, Name: "Wholesale", Stages: []Status{{ID: "C3:NEW"}, {ID: "C3:OFFER"}, {ID: "C3:WON"}, {ID: "C3:LOSE"}}},
		},
		Sources: []Status{{ID: "WEB"}, {ID: "PARTNER"}, {ID: "CALL"}},
		Fields: map[Entity][]string{
			EntityContact: {"ID", "NAME", "TYPE_ID", "SOURCE_ID", "UF_CRM_TIER"},
			EntityCompany: {"ID", "TITLE", "COMPANY_TYPE", "INDUSTRY"},
			EntityDeal:    {"ID", "TITLE", "TYPE_ID", "STAGE_ID", "CATEGORY_ID", "OPPORTUNITY", "SOURCE_ID", "UF_CRM_REGION"},
		},
	}
}

func TestValidateDesignExample(t *testing.T) {
	cfg := mustParse(t, designExample)
	if ps := Validate(cfg, testRef()); len(ps) != 0 {
		t.Errorf("design example has problems:\n%v", ps)
	}
	if _, err := Compile(cfg); err != nil {
		t.Errorf("Compile: %v", err)
	}
}

// oneSegment is a config with a scheme for entity holding one segment
// "Test" (key "test") with the given when and set JSON, plus a contact
// scheme with segments vip and regular for client_segment.
func oneSegment(entity Entity, when, set string) string {
	clients := `{"entity": "contact", "segments": [{"key": "vip", "name": "VIP", "when": {"fact": "won_count", "op": ">", "value": 0}}],
	  "otherwise": {"key": "regular", "name": "Regular"}}`
	if entity == EntityContact {
		clients = `{"entity": "company", "segments": [{"key": "vip", "name": "VIP", "when": {"fact": "won_count", "op": ">", "value": 0}}]}`
	}
	if set == "" {
		set = `{}`
	}
	return fmt.Sprintf(`{"schemes": [%s, {"entity": %q, "segments": [{"key": "test", "name": "Test", "when": %s, "set": %s}]}]}`,
		clients, entity, when, set)
}

func TestValidateConditions(t *testing.T) {
	const w = "schemes[1].segments[0].when"
	tests := []struct {
		name   string
		entity Entity
		when   string
		set    string
		want   []Problem // Path, Code, Args; Entity and Segment are filled in
	}{
		// Valid conditions: one of each fact and operator.
		{"every client fact", EntityContact, `{"all": [
			{"fact": "won_amount", "window_days": 365, "op": ">=", "value": 100000},
			{"fact": "won_count", "op": "between", "value": [1, 5]},
			{"fact": "avg_won_amount", "op": "<", "value": 5000.5},
			{"fact": "lost_count", "window_days": 90, "op": "<=", "value": 2},
			{"fact": "open_deals", "op": "in", "value": [0, 1]},
			{"fact": "days_since_last_won", "op": "not_in", "value": [7]},
			{"fact": "days_since_first_won", "op": "!=", "value": 0},
			{"fact": "product_groups", "window_days": 30, "op": "contains", "value": 12},
			{"fact": "product_groups", "op": ">=", "value": 2},
			{"fact": "product_groups", "op": "in", "value": [1, 2]},
			{"fact": "growth", "window_days": 180, "op": ">", "value": 1.2},
			{"fact": "rfm_r", "op": "=", "value": 5},
			{"fact": "rfm_f", "window_days": 365, "op": "between", "value": [3, 5]},
			{"fact": "rfm_m", "op": "in", "value": [0, 4, 5]},
			{"fact": "rfm", "op": "in", "value": ["555", "545"]},
			{"fact": "rfm", "op": "contains", "value": "5"},
			{"fact": "field:SOURCE_ID", "op": "=", "value": "WEB"},
			{"fact": "field:TYPE_ID", "op": "in", "value": ["CLIENT", "VIP"]},
			{"fact": "field:UF_CRM_TIER", "op": "contains", "value": "gold"},
			{"fact": "field:NAME", "op": "not_empty"},
			{"not": {"fact": "field:ID", "op": "empty"}}]}`, "", nil},
		{"every deal fact", EntityDeal, `{"any": [
			{"fact": "client_segment", "op": "=", "value": "vip"},
			{"fact": "client_segment", "op": "not_in", "value": ["vip", "regular"]},
			{"all": [{"fact": "field:CATEGORY_ID", "op": "=", "value": 3}, {"fact": "field:STAGE_ID", "op": "in", "value": ["C3:NEW", "C3:OFFER"]}]},
			{"all": [{"fact": "field:CATEGORY_ID", "op": "in", "value": ["0", 3]}, {"fact": "field:STAGE_ID", "op": "=", "value": "NEW"}]},
			{"fact": "field:OPPORTUNITY", "op": "between", "value": [100, 200]},
			{"fact": "field:UF_CRM_REGION", "op": "=", "value": 77}]}`,
			`{"type": "SALE", "label": true, "pipeline": {"category_id": 3, "stage_id": "C3:OFFER", "apply": "first_stage"}}`, nil},

		// Conditions' shape.
		{"empty group", EntityContact, `{"all": []}`, "", []Problem{{Path: w, Code: CodeEmptyGroup, Args: []string{"all"}}}},
		{"group and fact together", EntityContact, `{"any": [{"fact": "won_count", "op": ">", "value": 1}], "fact": "won_count"}`, "",
			[]Problem{{Path: w, Code: CodeMixed}}},
		{"two groups together", EntityContact, `{"all": [], "not": {"fact": "won_count", "op": ">", "value": 1}}`, "",
			[]Problem{{Path: w, Code: CodeMixed}}},
		{"empty condition", EntityContact, `{"all": [{}]}`, "", []Problem{{Path: w + ".all[0]", Code: CodeEmptyCond}}},
		{"no fact", EntityContact, `{"op": ">", "value": 1}`, "", []Problem{{Path: w, Code: CodeNoFact}}},
		{"too deep", EntityContact, strings.Repeat(`{"not": `, 8) + `{"fact": "won_count", "op": ">", "value": 1}` + strings.Repeat(`}`, 8), "",
			[]Problem{{Path: w + strings.Repeat(".not", 8), Code: CodeTooDeep, Args: []string{"8"}}}},

		// Facts and fields.
		{"unknown fact", EntityContact, `{"all": [{"fact": "wonamount", "op": ">", "value": 1}]}`, "",
			[]Problem{{Path: w + ".all[0]", Code: CodeUnknownFact, Args: []string{"wonamount"}}}},
		{"field without a name", EntityContact, `{"fact": "field:", "op": "empty"}`, "", []Problem{{Path: w, Code: CodeNoField, Args: []string{"field:"}}}},
		{"field in lower case", EntityContact, `{"fact": "field:source_id", "op": "empty"}`, "",
			[]Problem{{Path: w, Code: CodeBadField, Args: []string{"source_id", "SOURCE_ID"}}}},
		{"unknown field", EntityContact, `{"fact": "field:UF_CRM_NOPE", "op": "empty"}`, "",
			[]Problem{{Path: w, Code: CodeUnknownField, Args: []string{"UF_CRM_NOPE"}}}},
		{"deal field on a contact", EntityContact, `{"fact": "field:STAGE_ID", "op": "=", "value": "NEW"}`, "",
			[]Problem{{Path: w, Code: CodeUnknownField, Args: []string{"STAGE_ID"}}}},
		{"deal-only fact on a contact", EntityContact, `{"fact": "client_segment", "op": "=", "value": "vip"}`, "",
			[]Problem{{Path: w, Code: CodeDealOnly, Args: []string{"client_segment"}}}},
		{"contact fact on a deal", EntityDeal, `{"fact": "won_amount", "op": ">", "value": 1}`, "",
			[]Problem{{Path: w, Code: CodeClientOnly, Args: []string{"won_amount"}}}},

		// Windows.
		{"window on a fact without one", EntityContact, `{"fact": "open_deals", "window_days": 30, "op": ">", "value": 1}`, "",
			[]Problem{{Path: w, Code: CodeNoWindow, Args: []string{"open_deals"}}}},
		{"window too long", EntityContact, `{"fact": "won_count", "window_days": 4000, "op": ">", "value": 1}`, "",
			[]Problem{{Path: w, Code: CodeWindowRange, Args: []string{"3650"}}}},
		{"negative window", EntityContact, `{"fact": "won_count", "window_days": -1, "op": ">", "value": 1}`, "",
			[]Problem{{Path: w, Code: CodeWindowRange, Args: []string{"3650"}}}},
		{"growth without a window", EntityContact, `{"fact": "growth", "op": ">", "value": 1}`, "",
			[]Problem{{Path: w, Code: CodeNeedWindow, Args: []string{"growth"}}}},

		// Operators and values.
		{"no operator", EntityContact, `{"fact": "won_count", "value": 1}`, "", []Problem{{Path: w, Code: CodeNoOp, Args: []string{"won_count"}}}},
		{"unknown operator", EntityContact, `{"fact": "won_count", "op": "=>", "value": 1}`, "", []Problem{{Path: w, Code: CodeUnknownOp, Args: []string{"=>"}}}},
		{"contains on a number", EntityContact, `{"fact": "won_amount", "op": "contains", "value": 1}`, "",
			[]Problem{{Path: w, Code: CodeOpNotForFact, Args: []string{"contains", "won_amount"}}}},
		{"less than on text", EntityContact, `{"fact": "rfm", "op": "<", "value": "555"}`, "",
			[]Problem{{Path: w, Code: CodeOpNotForFact, Args: []string{"<", "rfm"}}}},
		{"missing value", EntityContact, `{"fact": "won_count", "op": ">"}`, "", []Problem{{Path: w, Code: CodeNoValue, Args: []string{"won_count", ">"}}}},
		{"null value", EntityContact, `{"fact": "won_count", "op": "=", "value": null}`, "", []Problem{{Path: w, Code: CodeNoValue, Args: []string{"won_count", "="}}}},
		{"value on empty", EntityContact, `{"fact": "field:NAME", "op": "empty", "value": ""}`, "", []Problem{{Path: w, Code: CodeExtraValue, Args: []string{"empty"}}}},
		{"text for a number fact", EntityContact, `{"fact": "won_amount", "op": ">=", "value": "100000"}`, "",
			[]Problem{{Path: w, Code: CodeWantNumber, Args: []string{"won_amount", ">=", `"100000"`}}}},
		{"bool for a number fact", EntityContact, `{"fact": "won_count", "op": "=", "value": true}`, "",
			[]Problem{{Path: w, Code: CodeWantNumber, Args: []string{"won_count", "=", "true"}}}},
		{"text for field less-than", EntityContact, `{"fact": "field:UF_CRM_TIER", "op": "<", "value": "b"}`, "",
			[]Problem{{Path: w, Code: CodeWantNumber, Args: []string{"field:UF_CRM_TIER", "<", `"b"`}}}},
		{"number for text fact", EntityContact, `{"fact": "rfm", "op": "=", "value": 555}`, "",
			[]Problem{{Path: w, Code: CodeWantText, Args: []string{"rfm", "=", "555"}}}},
		{"number for field contains", EntityContact, `{"fact": "field:NAME", "op": "contains", "value": 5}`, "",
			[]Problem{{Path: w, Code: CodeWantText, Args: []string{"field:NAME", "contains", "5"}}}},
		{"object for a field", EntityContact, `{"fact": "field:NAME", "op": "=", "value": {"a": 1}}`, "",
			[]Problem{{Path: w, Code: CodeWantText, Args: []string{"field:NAME", "=", `{"a":1}`}}}},
		{"in without a list", EntityContact, `{"fact": "field:SOURCE_ID", "op": "in", "value": "WEB"}`, "",
			[]Problem{{Path: w, Code: CodeWantList, Args: []string{"field:SOURCE_ID", "in"}}}},
		{"in with an empty list", EntityContact, `{"fact": "field:SOURCE_ID", "op": "not_in", "value": []}`, "",
			[]Problem{{Path: w, Code: CodeEmptyList, Args: []string{"field:SOURCE_ID"}}}},
		{"in with a wrong item", EntityContact, `{"fact": "won_count", "op": "in", "value": [1, "2"]}`, "",
			[]Problem{{Path: w, Code: CodeWantNumber, Args: []string{"won_count", "in", `"2"`}}}},
		{"between with one number", EntityContact, `{"fact": "won_count", "op": "between", "value": [1]}`, "", []Problem{{Path: w, Code: CodeWantRange}}},
		{"between with text", EntityContact, `{"fact": "won_count", "op": "between", "value": ["1", 2]}`, "", []Problem{{Path: w, Code: CodeWantRange}}},
		{"between reversed", EntityContact, `{"fact": "won_count", "op": "between", "value": [5, 1]}`, "", []Problem{{Path: w, Code: CodeWantRange}}},
		{"between not a list", EntityContact, `{"fact": "won_count", "op": "between", "value": 5}`, "", []Problem{{Path: w, Code: CodeWantRange}}},
		{"rfm score out of range", EntityContact, `{"any": [{"fact": "rfm_r", "op": ">", "value": 6}, {"fact": "rfm_m", "op": "in", "value": [2.5]}]}`, "",
			[]Problem{{Path: w + ".any[0]", Code: CodeRFMScore, Args: []string{"6"}}, {Path: w + ".any[1]", Code: CodeRFMScore, Args: []string{"2.5"}}}},
		{"bad rfm code", EntityContact, `{"fact": "rfm", "op": "=", "value": "565"}`, "", []Problem{{Path: w, Code: CodeRFMCode, Args: []string{"565"}}}},

		// Portal reference data.
		{"unknown contact type in a condition", EntityContact, `{"fact": "field:TYPE_ID", "op": "=", "value": "PARTNER"}`, "",
			[]Problem{{Path: w, Code: CodeUnknownType, Args: []string{"PARTNER", "Client, VIP"}}}},
		{"unknown company type in a condition", EntityCompany, `{"fact": "field:COMPANY_TYPE", "op": "in", "value": ["CUSTOMER", "X"]}`, "",
			[]Problem{{Path: w, Code: CodeUnknownType, Args: []string{"X", "Customer"}}}},
		{"unknown source", EntityContact, `{"fact": "field:SOURCE_ID", "op": "in", "value": ["WEB", "TV"]}`, "",
			[]Problem{{Path: w, Code: CodeUnknownSrc, Args: []string{"TV"}}}},
		{"unknown client segment", EntityDeal, `{"fact": "client_segment", "op": "in", "value": ["vip", "gold"]}`, "",
			[]Problem{{Path: w, Code: CodeUnknownSeg, Args: []string{"gold"}}}},
		{"stage needs a pipeline", EntityDeal, `{"all": [{"fact": "field:STAGE_ID", "op": "=", "value": "C3:NEW"}]}`, "",
			[]Problem{{Path: w + ".all[0]", Code: CodeStageNoPipe}}},
		{"stage not in the chosen pipeline", EntityDeal, `{"all": [{"fact": "field:CATEGORY_ID", "op": "=", "value": 3}, {"fact": "field:STAGE_ID", "op": "in", "value": ["C3:NEW", "PREPARATION"]}]}`, "",
			[]Problem{{Path: w + ".all[1]", Code: CodeStageNotPipe, Args: []string{"PREPARATION", `"Wholesale"`}}}},
		{"a stage beside a pipeline in an any group: either can hold", EntityDeal,
			`{"any": [{"fact": "field:CATEGORY_ID", "op": "=", "value": 0}, {"fact": "field:STAGE_ID", "op": "in", "value": ["C3:NEW"]}]}`, "", nil},
		{"a stage in an any group under a pipeline that holds for both: still checked", EntityDeal,
			`{"all": [{"fact": "field:CATEGORY_ID", "op": "=", "value": 3}, {"any": [{"fact": "field:OPPORTUNITY", "op": ">", "value": 1}, {"fact": "field:STAGE_ID", "op": "=", "value": "PREPARATION"}]}]}`, "",
			[]Problem{{Path: w + ".all[1].any[1]", Code: CodeStageNotPipe, Args: []string{"PREPARATION", `"Wholesale"`}}}},
		{"a pipeline that is one alternative of an any bounds no stage beside it", EntityDeal,
			`{"all": [{"any": [{"fact": "field:CATEGORY_ID", "op": "=", "value": 0}, {"fact": "field:SOURCE_ID", "op": "=", "value": "WEB"}]}, {"fact": "field:STAGE_ID", "op": "in", "value": ["C3:NEW"]}]}`, "", nil},
		{"a negated pipeline chooses none: the stage is only checked to exist", EntityDeal,
			`{"all": [{"not": {"fact": "field:CATEGORY_ID", "op": "=", "value": 3}}, {"fact": "field:STAGE_ID", "op": "=", "value": "NEW"}]}`, "", nil},
		{"unknown stage", EntityDeal, `{"all": [{"fact": "field:CATEGORY_ID", "op": "=", "value": 3}, {"fact": "field:STAGE_ID", "op": "=", "value": "C9:NEW"}]}`, "",
			[]Problem{{Path: w + ".all[1]", Code: CodeUnknownStage, Args: []string{"C9:NEW"}}}},
		{"unknown pipeline in a condition", EntityDeal, `{"fact": "field:CATEGORY_ID", "op": "in", "value": [3, 9]}`, "",
			[]Problem{{Path: w, Code: CodeUnknownPipe, Args: []string{"9"}}}},
		{"pipeline id that is not a number", EntityDeal, `{"fact": "field:CATEGORY_ID", "op": "=", "value": "three"}`, "",
			[]Problem{{Path: w, Code: CodeWantNumber, Args: []string{"field:CATEGORY_ID", "=", `"three"`}}}},

		// Outputs.
		{"unknown type to set", EntityContact, `{"fact": "won_count", "op": ">", "value": 1}`, `{"type": "GOLD"}`,
			[]Problem{{Path: "schemes[1].segments[0].set.type", Code: CodeUnknownType, Args: []string{"GOLD", "Client, VIP"}}}},
		{"a trigger asked for on a contact segment fires for its deals", EntityContact, `{"fact": "won_count", "op": ">", "value": 1}`, `{}, "on_entry": {"trigger": true, "notify": true}`, nil},
		{"pipeline on a contact", EntityContact, `{"fact": "won_count", "op": ">", "value": 1}`, `{"pipeline": {"category_id": 3, "stage_id": "C3:NEW", "apply": "always"}}`,
			[]Problem{{Path: "schemes[1].segments[0].set.pipeline", Code: CodePipeNotDeal}}},
		{"unknown pipeline to set", EntityDeal, `{"fact": "field:TITLE", "op": "not_empty"}`, `{"pipeline": {"category_id": 7, "stage_id": "C7:NEW", "apply": "always"}}`,
			[]Problem{{Path: "schemes[1].segments[0].set.pipeline.category_id", Code: CodeUnknownPipe, Args: []string{"7"}}}},
		{"stage to set not in its pipeline", EntityDeal, `{"fact": "field:TITLE", "op": "not_empty"}`, `{"pipeline": {"category_id": 3, "stage_id": "NEW", "apply": "always"}}`,
			[]Problem{{Path: "schemes[1].segments[0].set.pipeline.stage_id", Code: CodeStageNotPipe, Args: []string{"NEW", `"Wholesale"`}}}},
		{"unknown stage to set", EntityDeal, `{"fact": "field:TITLE", "op": "not_empty"}`, `{"pipeline": {"category_id": 3, "stage_id": "C3:NOPE", "apply": "always"}}`,
			[]Problem{{Path: "schemes[1].segments[0].set.pipeline.stage_id", Code: CodeUnknownStage, Args: []string{"C3:NOPE"}}}},
		{"no stage and bad apply", EntityDeal, `{"fact": "field:TITLE", "op": "not_empty"}`, `{"pipeline": {"category_id": 3, "apply": "sometimes"}}`,
			[]Problem{
				{Path: "schemes[1].segments[0].set.pipeline.apply", Code: CodeBadApply, Args: []string{"sometimes"}},
				{Path: "schemes[1].segments[0].set.pipeline.stage_id", Code: CodeNoStage},
			}},
		{"no apply", EntityDeal, `{"fact": "field:TITLE", "op": "not_empty"}`, `{"pipeline": {"category_id": 3, "stage_id": "C3:NEW"}}`,
			[]Problem{{Path: "schemes[1].segments[0].set.pipeline.apply", Code: CodeBadApply, Args: []string{""}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := mustParse(t, oneSegment(tt.entity, tt.when, tt.set))
			want := Problems(nil)
			for _, p := range tt.want {
				p.Entity, p.Segment = tt.entity, "Test"
				want = append(want, p)
			}
			got := Validate(cfg, testRef())
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
			for _, p := range got {
				if msg := p.Message(EN); strings.Contains(msg, "%!") {
					t.Errorf("bad message format: %s", msg)
				}
				if msg := p.Message(RU); strings.Contains(msg, "%!") {
					t.Errorf("bad message format: %s", msg)
				}
			}
		})
	}
}

func TestValidateSchemesAndSegments(t *testing.T) {
	tests := []struct {
		name string
		cfg  string
		want Problems
	}{
		{"empty config is valid", `{"schemes": []}`, nil},
		{"no entity", `{"schemes": [{"segments": [], "otherwise": {"key": "a", "name": "A"}}]}`,
			Problems{{Path: "schemes[0].entity", Code: CodeNoEntity}}},
		{"bad entity", `{"schemes": [{"entity": "lead", "otherwise": {"key": "a", "name": "A"}}]}`,
			Problems{{Path: "schemes[0].entity", Code: CodeBadEntity, Args: []string{"lead"}}}},
		{"duplicate scheme", `{"schemes": [{"entity": "deal", "otherwise": {"key": "a", "name": "A"}}, {"entity": "deal", "otherwise": {"key": "a", "name": "A"}}]}`,
			Problems{{Path: "schemes[1].entity", Code: CodeDupScheme, Entity: EntityDeal}}},
		{"no segments", `{"schemes": [{"entity": "company", "segments": []}]}`,
			Problems{{Path: "schemes[0]", Code: CodeNoSegments, Entity: EntityCompany}}},
		{"keys, names and colors", `{"schemes": [{"entity": "contact", "segments": [
			{"key": "", "name": "", "when": {"fact": "won_count", "op": ">", "value": 1}},
			{"key": "Big Spenders", "name": "Big", "color": "gold", "when": {"fact": "won_count", "op": ">", "value": 1}},
			{"key": "vip", "name": "VIP", "color": "#abc", "when": {"fact": "won_count", "op": ">", "value": 1}},
			{"key": "vip", "name": "` + strings.Repeat("x", 101) + `", "when": {"fact": "won_count", "op": ">", "value": 1}},
			{"key": "nowhen", "name": "No when"}],
			"otherwise": {"key": "vip", "name": "  "}}]}`,
			Problems{
				{Path: "schemes[0].segments[0].key", Code: CodeNoKey, Entity: EntityContact, Segment: "#1"},
				{Path: "schemes[0].segments[0].name", Code: CodeNoName, Entity: EntityContact, Segment: "#1"},
				{Path: "schemes[0].segments[1].key", Code: CodeBadKey, Entity: EntityContact, Segment: "Big", Args: []string{"Big Spenders"}},
				{Path: "schemes[0].segments[1].color", Code: CodeBadColor, Entity: EntityContact, Segment: "Big", Args: []string{"gold"}},
				{Path: "schemes[0].segments[3].key", Code: CodeDupKey, Entity: EntityContact, Segment: strings.Repeat("x", 101), Args: []string{"vip", "VIP"}},
				{Path: "schemes[0].segments[3].name", Code: CodeLongName, Entity: EntityContact, Segment: strings.Repeat("x", 101), Args: []string{"100"}},
				{Path: "schemes[0].segments[4]", Code: CodeNoWhen, Entity: EntityContact, Segment: "No when"},
				{Path: "schemes[0].otherwise.key", Code: CodeDupKey, Entity: EntityContact, Segment: "  ", Args: []string{"vip", "VIP"}},
				{Path: "schemes[0].otherwise.name", Code: CodeNoName, Entity: EntityContact, Segment: "  "},
			}},
		{"same key in different schemes is fine", `{"schemes": [
			{"entity": "contact", "otherwise": {"key": "all", "name": "All"}},
			{"entity": "company", "otherwise": {"key": "all", "name": "All"}}]}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Validate(mustParse(t, tt.cfg), testRef())
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

// A config built in Go, not parsed, gets the same checks.
func TestValidateGoConfig(t *testing.T) {
	cfg := Config{Schemes: []Scheme{{Entity: EntityContact,
		Segments:  []Segment{{Key: "a", Name: "A", When: &Condition{All: []Condition{}}}},
		Otherwise: &Segment{Key: "b", Name: "B", When: &Condition{Fact: "won_count", Op: OpGt, Value: 1}},
	}}}
	want := Problems{
		{Path: "schemes[0].segments[0].when", Code: CodeEmptyGroup, Entity: EntityContact, Segment: "A", Args: []string{"all"}},
		{Path: "schemes[0].otherwise.when", Code: CodeWhenOnOther, Entity: EntityContact, Segment: "B"},
	}
	if diff := cmp.Diff(want, Validate(cfg, testRef())); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	cfg := mustParse(t, `{"schemes": [{"entity": "deal", "segments": [
		{"key": "a", "name": "A", "when": {"all": [{"fact": "nope", "op": ">", "value": 1}, {"fact": "field:STAGE_ID", "op": "=", "value": "NEW"}]},
		 "set": {"type": "NOPE"}}]}]}`)
	got := Validate(cfg, testRef())
	var codes []Code
	for _, p := range got {
		codes = append(codes, p.Code)
	}
	want := []Code{CodeUnknownFact, CodeStageNoPipe, CodeUnknownType}
	if diff := cmp.Diff(want, codes); diff != "" {
		t.Errorf("codes (-want +got):\n%s", diff)
	}
}

// Compile checks what needs no portal; Validate adds the portal's names.
func TestCompileSkipsPortalChecks(t *testing.T) {
	cfg := mustParse(t, oneSegment(EntityDeal, `{"fact": "field:UF_CRM_NEW", "op": "=", "value": "x"}`, `{"type": "GOLD"}`))
	if _, err := Compile(cfg); err != nil {
		t.Errorf("Compile refused portal names it cannot check: %v", err)
	}
	if ps := Validate(cfg, testRef()); len(ps) != 2 {
		t.Errorf("Validate found %d problems, want 2 (field and type): %v", len(ps), ps)
	}

	cfg = mustParse(t, oneSegment(EntityDeal, `{"fact": "field:STAGE_ID", "op": "=", "value": "NEW"}`, ""))
	_, err := Compile(cfg)
	var ps Problems
	if !errors.As(err, &ps) || len(ps) != 1 || ps[0].Code != CodeStageNoPipe {
		t.Errorf("Compile error = %v, want stage needs a pipeline", err)
	}
}

func TestReferenceFieldsDefaultToStandard(t *testing.T) {
	ref := testRef()
	ref.Fields = nil
	cfg := mustParse(t, oneSegment(EntityContact, `{"any": [{"fact": "field:HAS_EMAIL", "op": "=", "value": "Y"}, {"fact": "field:UF_CRM_TIER", "op": "empty"}]}`, ""))
	want := Problems{{Path: "schemes[1].segments[0].when.any[1]", Code: CodeUnknownField, Entity: EntityContact, Segment: "Test", Args: []string{"UF_CRM_TIER"}}}
	if diff := cmp.Diff(want, Validate(cfg, ref)); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

func TestCatalog(t *testing.T) {
	cat := Catalog()
	byName := map[string]FactInfo{}
	for _, f := range cat {
		byName[f.Name] = f
	}
	if len(byName) != 36 {
		t.Errorf("catalog has %d facts, want 36", len(byName))
	}
	wantList := FactInfo{Name: FactList, Kind: KindText, Window: WindowNone, Entities: []Entity{EntityContact, EntityCompany},
		Ops: []Op{OpIn, OpNotIn}}
	if diff := cmp.Diff(wantList, byName[FactList]); diff != "" {
		t.Errorf("static_list (-want +got):\n%s", diff)
	}
	wantCountry := FactInfo{Name: "country", Kind: KindText, Window: WindowNone, Entities: []Entity{EntityContact, EntityCompany},
		Ops: []Op{OpEq, OpNe, OpIn, OpNotIn, OpContains, OpEmpty, OpNotEmpty}}
	if diff := cmp.Diff(wantCountry, byName["country"]); diff != "" {
		t.Errorf("country (-want +got):\n%s", diff)
	}
	want := FactInfo{Name: "client_segment", Kind: KindText, Window: WindowNone, Entities: []Entity{EntityDeal},
		Ops: []Op{OpEq, OpNe, OpIn, OpNotIn, OpContains, OpEmpty, OpNotEmpty}}
	if diff := cmp.Diff(want, byName["client_segment"]); diff != "" {
		t.Errorf("client_segment (-want +got):\n%s", diff)
	}
	if got := byName["field:NAME"].Entities; len(got) != 3 {
		t.Errorf("field:NAME entities = %v, want all three", got)
	}
	if got := byName["growth"].Window; got != WindowRequired {
		t.Errorf("growth window = %v, want required", got)
	}
}
