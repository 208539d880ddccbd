package segment

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// designExample is the config of design.md §5, verbatim.
const designExample = `{"schemes": [
  {"entity": "contact", "segments": [
    {"key": "vip", "name": "VIP", "color": "#d4a017",
     "when": {"all": [{"fact": "won_amount", "window_days": 365, "op": ">=", "value": 100000},
                      {"any": [{"fact": "field:SOURCE_ID", "op": "in", "value": ["WEB", "PARTNER"]},
                               {"fact": "won_count", "window_days": 365, "op": ">=", "value": 5}]}]},
     "set": {"type": "VIP", "label": true}},
    {"key": "sleeping", "name": "Sleeping", "when": {"all": [{"fact": "days_since_last_won", "op": ">", "value": 180}]},
     "set": {"label": true}}],
   "otherwise": {"key": "regular", "name": "Regular", "set": {"label": true}}},
  {"entity": "deal", "segments": [
    {"key": "premium", "name": "Premium", "when": {"all": [{"fact": "client_segment", "op": "in", "value": ["vip"]}]},
     "set": {"type": "COMPLEX", "label": true, "pipeline": {"category_id": 3, "stage_id": "C3:NEW", "apply": "new_only"}}}]}
]}`

func mustParse(t testing.TB, s string) Config {
	t.Helper()
	cfg, err := ParseConfig([]byte(s))
	if err != nil {
		t.Fatalf("ParseConfig: %v", err)
	}
	return cfg
}

func TestParseDesignExample(t *testing.T) {
	got := mustParse(t, designExample)
	want := Config{Schemes: []Scheme{
		{Entity: EntityContact, Segments: []Segment{
			{Key: "vip", Name: "VIP", Color: "#d4a017",
				When: &Condition{All: []Condition{
					{Fact: "won_amount", WindowDays: 365, Op: OpGe, Value: json.Number("100000")},
					{Any: []Condition{
						{Fact: "field:SOURCE_ID", Op: OpIn, Value: []any{"WEB", "PARTNER"}},
						{Fact: "won_count", WindowDays: 365, Op: OpGe, Value: json.Number("5")},
					}},
				}},
				Set: Set{Type: "VIP", Label: true}},
			{Key: "sleeping", Name: "Sleeping",
				When: &Condition{All: []Condition{{Fact: "days_since_last_won", Op: OpGt, Value: json.Number("180")}}},
				Set:  Set{Label: true}},
		}, Otherwise: &Segment{Key: "regular", Name: "Regular", Set: Set{Label: true}}},
		{Entity: EntityDeal, Segments: []Segment{
			{Key: "premium", Name: "Premium",
				When: &Condition{All: []Condition{{Fact: "client_segment", Op: OpIn, Value: []any{"vip"}}}},
				Set:  Set{Type: "COMPLEX", Label: true, Pipeline: &Target{CategoryID: 3, StageID: "C3:NEW", Apply: ApplyNewOnly}}},
		}},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("parsed config (-want +got):\n%s", diff)
	}
}

func TestConfigRoundTrip(t *testing.T) {
	first := mustParse(t, designExample)
	data, err := json.Marshal(first)
	if err != nil {
		t.Fatal(err)
	}
	second := mustParse(t, string(data))
	if diff := cmp.Diff(first, second); diff != "" {
		t.Errorf("round trip changed the config (-first +second):\n%s\nJSON: %s", diff, data)
	}
	again, err := json.Marshal(second)
	if err != nil {
		t.Fatal(err)
	}
	if string(again) != string(data) {
		t.Errorf("marshal is not stable:\n%s\n%s", data, again)
	}
}

func TestConfigUnmarshalEmbedded(t *testing.T) {
	var body struct {
		BaseVersion int    `json:"base_version"`
		Config      Config `json:"config"`
	}
	err := json.Unmarshal([]byte(`{"base_version": 3, "config": {"schemes": [{"entity": "contact", "colour": 1}]}}`), &body)
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("error %v (%T) is not Problems", err, err)
	}
	want := Problems{{Path: "schemes[0].colour", Code: CodeUnknownKey, Entity: EntityContact, Args: []string{"colour"}}}
	if diff := cmp.Diff(want, ps); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}

	if err := json.Unmarshal([]byte(`{"base_version": 3, "config": `+designExample+`}`), &body); err != nil {
		t.Fatalf("valid embedded config: %v", err)
	}
	if len(body.Config.Schemes) != 2 {
		t.Errorf("embedded config has %d schemes, want 2", len(body.Config.Schemes))
	}
}

func TestParseProblems(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Problems
	}{
		{"syntax error names the line and column", "{\n  \"schemes\": [,]}", Problems{
			{Code: CodeJSONSyntax, Args: []string{"2", "15"}}}},
		{"trailing data", `{"schemes": []} {}`, Problems{
			{Code: CodeJSONTrailing, Args: []string{"1", "17"}}}},
		{"empty input", ``, Problems{{Code: CodeJSONSyntax, Args: []string{"1", "1"}}}},
		{"not an object", `[]`, Problems{{Code: CodeJSONObject, Args: []string{"config"}}}},
		{"schemes not a list", `{"schemes": {}}`, Problems{{Path: "schemes", Code: CodeJSONList, Args: []string{"schemes"}}}},
		{"unknown keys at every level, all reported, sorted", `{"schemes": [{"entity": "deal", "zz": 1, "aa": 2,
		   "segments": [{"key": "a", "name": "A", "when": {"fact": "won_count", "op": ">", "value": 1, "extra": true},
		                 "set": {"lable": true, "pipeline": {"category_id": 1, "stage": "X"}}}]}], "version": 2}`, Problems{
			{Path: "version", Code: CodeUnknownKey, Args: []string{"version"}},
			{Path: "schemes[0].aa", Code: CodeUnknownKey, Entity: EntityDeal, Args: []string{"aa"}},
			{Path: "schemes[0].zz", Code: CodeUnknownKey, Entity: EntityDeal, Args: []string{"zz"}},
			{Path: "schemes[0].segments[0].when.extra", Code: CodeUnknownKey, Entity: EntityDeal, Segment: "A", Args: []string{"extra"}},
			{Path: "schemes[0].segments[0].set.lable", Code: CodeUnknownKey, Entity: EntityDeal, Segment: "A", Args: []string{"lable"}},
			{Path: "schemes[0].segments[0].set.pipeline.stage", Code: CodeUnknownKey, Entity: EntityDeal, Segment: "A", Args: []string{"stage"}},
		}},
		{"otherwise takes no when", `{"schemes": [{"entity": "contact", "otherwise": {"key": "r", "name": "R", "when": {}}}]}`, Problems{
			{Path: "schemes[0].otherwise.when", Code: CodeUnknownKey, Entity: EntityContact, Segment: "R", Args: []string{"when"}}}},
		{"wrong JSON types", `{"schemes": [{"entity": 1, "segments": [{"key": 2, "name": "N", "color": [],
		   "when": {"all": {}, "any": [1], "window_days": 1.5, "fact": "won_count"},
		   "set": {"type": 3, "label": "yes", "pipeline": {"category_id": "3", "stage_id": "C3:NEW", "apply": "always"}}}]}]}`, Problems{
			{Path: "schemes[0].entity", Code: CodeJSONText, Args: []string{"entity"}},
			{Path: "schemes[0].segments[0].key", Code: CodeJSONText, Segment: "N", Args: []string{"key"}},
			{Path: "schemes[0].segments[0].color", Code: CodeJSONText, Segment: "N", Args: []string{"color"}},
			{Path: "schemes[0].segments[0].when.all", Code: CodeJSONList, Segment: "N", Args: []string{"all"}},
			{Path: "schemes[0].segments[0].when.any[0]", Code: CodeJSONObject, Segment: "N", Args: []string{"any"}},
			{Path: "schemes[0].segments[0].when.window_days", Code: CodeJSONInteger, Segment: "N", Args: []string{"window_days"}},
			{Path: "schemes[0].segments[0].set.type", Code: CodeJSONText, Segment: "N", Args: []string{"type"}},
			{Path: "schemes[0].segments[0].set.label", Code: CodeJSONBool, Segment: "N", Args: []string{"label"}},
			{Path: "schemes[0].segments[0].set.pipeline.category_id", Code: CodeJSONInteger, Segment: "N", Args: []string{"category_id"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseProblems(t, tt.in)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseEmptyConfig(t *testing.T) {
	for _, in := range []string{`{}`, `{"schemes": []}`, `{"schemes": null}`} {
		cfg, err := ParseConfig([]byte(in))
		if err != nil {
			t.Errorf("ParseConfig(%s): %v", in, err)
		}
		if len(cfg.Schemes) != 0 {
			t.Errorf("ParseConfig(%s) = %+v, want no schemes", in, cfg)
		}
	}
}

func TestProblemMessages(t *testing.T) {
	tests := []struct {
		p      Problem
		en, ru string
	}{
		{Problem{Code: CodeJSONSyntax, Args: []string{"2", "15"}},
			"The settings are not valid JSON (line 2, column 15).",
			"Настройки — некорректный JSON (строка 2, столбец 15)."},
		{Problem{Code: CodeDupScheme, Entity: EntityCompany},
			"Companies: there is already a scheme for these records; each record type has only one.",
			"Компании: для этих записей уже есть схема; у каждого типа записей может быть только одна."},
		{Problem{Code: CodeStageNoPipe, Entity: EntityDeal, Segment: "Premium"},
			`Deals, segment "Premium": a stage condition needs a pipeline: add a condition on “Pipeline” to this segment.`,
			"Сделки, сегмент «Premium»: для условия на стадию нужна воронка: добавьте в сегмент условие на «Воронка»."},
		{Problem{Code: CodeUnknownFact, Entity: EntityContact, Segment: "VIP", Args: []string{"wonamount"}},
			`Contacts, segment "VIP": unknown fact "wonamount".`,
			"Контакты, сегмент «VIP»: неизвестный факт «wonamount»."},
		{Problem{Code: CodeWantNumber, Segment: "VIP", Args: []string{"won_amount", ">=", `"lots"`}},
			`Segment "VIP": “Won amount at least …” needs a number, not "lots".`,
			`Сегмент «VIP»: в условии «Сумма выигранных сделок не меньше …» нужно число, а не "lots".`},
	}
	for _, tt := range tests {
		if got := tt.p.Message(EN); got != tt.en {
			t.Errorf("%s EN:\n got %s\nwant %s", tt.p.Code, got, tt.en)
		}
		if got := tt.p.Message(""); got != tt.en {
			t.Errorf("%s default language:\n got %s\nwant %s", tt.p.Code, got, tt.en)
		}
		if got := tt.p.Message(RU); got != tt.ru {
			t.Errorf("%s RU:\n got %s\nwant %s", tt.p.Code, got, tt.ru)
		}
	}
}

func TestEveryCodeHasMessages(t *testing.T) {
	for code := range messages[EN] {
		for _, lang := range Languages() {
			if messages[lang][code] == "" {
				t.Errorf("code %s lacks a message in %s", code, lang)
			}
		}
	}
	ps := Problems{{Path: "schemes[0]", Code: CodeNoSegments, Entity: EntityContact}}
	want := []LocalizedProblem{{Path: "schemes[0]", Code: CodeNoSegments, Message: "Контакты: в схеме нет ни одного сегмента.",
		Text: "В схеме нет ни одного сегмента."}}
	if diff := cmp.Diff(want, ps.In(RU, nil)); diff != "" {
		t.Errorf("In(RU) (-want +got):\n%s", diff)
	}
	seg := Problems{{Path: "schemes[0].segments[0].when", Code: CodeNoWhen, Entity: EntityDeal, Segment: "VIP"}}
	for lang, want := range map[Lang]string{
		PL: "Deale, segment „VIP”: segment nie ma warunków; dodaj co najmniej jeden albo uczyń go segmentem „Wszyscy pozostali”.",
		IT: "Deal, segmento “VIP”: il segmento non ha condizioni; aggiungine almeno una oppure rendilo il segmento “Tutti gli altri”.",
	} {
		if got := seg.In(lang, nil)[0].Message; got != want {
			t.Errorf("In(%s) = %q, want %q", lang, got, want)
		}
	}
	if got, want := ps.Error(), "schemes[0]: Contacts: the scheme has no segments."; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// parseProblems parses in and returns the Problems it must fail with.
func parseProblems(t *testing.T, in string) Problems {
	t.Helper()
	_, err := ParseConfig([]byte(in))
	var got Problems
	if !errors.As(err, &got) {
		t.Fatalf("error %v is not Problems", err)
	}
	return got
}
