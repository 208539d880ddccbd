package segment

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// named is a valid config with one contact segment whose name is the JSON
// string literal lit.
func named(lit string) string {
	return `{"schemes": [{"entity": "contact", "segments": [{"key": "a", "name": ` + lit +
		`, "when": {"fact": "won_count", "op": ">", "value": 0}}]}]}`
}

// nested is a config whose segment's conditions nest levels deep, the
// innermost comparing field:SOURCE_ID with the JSON list value: it nests
// 2*levels+5 deep in JSON, 4 levels down to the segment and 2 per level,
// plus the list.
func nested(levels int, value string) string {
	when := `{"fact": "field:SOURCE_ID", "op": "in", "value": ` + value + `}`
	for range levels - 1 {
		when = `{"all": [` + when + `]}`
	}
	return oneSegment(EntityContact, when, "")
}

func TestParseRefusesUncleanJSON(t *testing.T) {
	const name = "schemes[0].segments[0].name"
	deepest := "schemes[1].segments[0].when" + strings.Repeat(".all[0]", maxDepth-1) + ".value"
	tests := []struct {
		name string
		in   string
		want Problem
	}{
		{"invalid UTF-8 in a name", named("\"VI\xffP\""), Problem{Path: name, Code: CodeJSONUTF8}},
		{"invalid UTF-8 in a key", "{\"sche\xc3mes\": []}", Problem{Code: CodeJSONUTF8}},
		{"an escaped lone surrogate", named(`"VIP \ud800"`), Problem{Path: name, Code: CodeJSONUTF8}},
		{"a surrogate pair in the wrong order", named(`"\udc00\ud800"`), Problem{Path: name, Code: CodeJSONUTF8}},
		{"an escaped control character in a name", named(`"VI\u0001P"`), Problem{Path: name, Code: CodeJSONControl, Args: []string{"U+0001"}}},
		{"a raw control byte in a name", named("\"VI\x01P\""), Problem{Path: name, Code: CodeJSONControl, Args: []string{"U+0001"}}},
		{"a raw tab in a name", named("\"VIP\t\""), Problem{Path: name, Code: CodeJSONControl, Args: []string{"U+0009"}}},
		{"an escaped line break in a name", named(`"VIP\n"`), Problem{Path: name, Code: CodeJSONControl, Args: []string{"U+000A"}}},
		{"a raw DEL in a name", named("\"VIP\x7f\""), Problem{Path: name, Code: CodeJSONControl, Args: []string{"U+007F"}}},
		{"a raw C1 control in a name", named("\"VIP\u0085\""), Problem{Path: name, Code: CodeJSONControl, Args: []string{"U+0085"}}},
		{"an escaped C1 control in a name", named(`"VIP\u009f"`), Problem{Path: name, Code: CodeJSONControl, Args: []string{"U+009F"}}},
		{"a control character in a key", `{"schemes": [{"ent\u0000ity": "contact"}]}`, Problem{Path: "schemes[0]", Code: CodeJSONControl, Args: []string{"U+0000"}}},
		{"a raw control byte in a key", "{\"schemes\x02\": []}", Problem{Code: CodeJSONControl, Args: []string{"U+0002"}}},
		{"a control character in a list value", nested(1, `["WEB", "PART\u001bNER"]`),
			Problem{Path: "schemes[1].segments[0].when.value[1]", Code: CodeJSONControl, Args: []string{"U+001B"}}},
		{"duplicate keys at the top", `{"schemes": [], "schemes": []}`, Problem{Path: "schemes", Code: CodeJSONDupKey, Args: []string{"schemes"}}},
		{"duplicate keys nested", `{"schemes": [{"entity": "contact", "segments": [], "entity": "deal"}]}`,
			Problem{Path: "schemes[0].entity", Code: CodeJSONDupKey, Args: []string{"entity"}}},
		{"duplicate keys spelled differently", named(`"A", "n\u0061me": "B"`),
			Problem{Path: name, Code: CodeJSONDupKey, Args: []string{"name"}}},
		{"trailing garbage", `{"schemes": []}garbage`, Problem{Code: CodeJSONTrailing, Args: []string{"1", "16"}}},
		{"two JSON values", "{\"schemes\": []}\n  {\"schemes\": []}", Problem{Code: CodeJSONTrailing, Args: []string{"2", "3"}}},
		{"nesting one level past the limit", nested(maxDepth, `[["WEB"]]`),
			Problem{Path: deepest + "[0]", Code: CodeJSONDepth, Args: []string{"21"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseProblems(t, tt.in)
			if diff := cmp.Diff(Problems{tt.want}, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
			checkMessages(t, got)
		})
	}
}

func TestParseAcceptsCleanJSON(t *testing.T) {
	tests := []struct{ name, in string }{
		{"the design example", designExample},
		{"nesting at the limit", nested(maxDepth, `["WEB"]`)},
		{"text beyond ASCII", named(`"Клиенты 😀 \ud83d\ude00 \u00e9"`)},
		{"an escaped backslash before u0001", named(`"a\\u0001 \\ud800"`)},
		{"the same key in different objects", `{"schemes": [{"entity": "contact",
			"segments": [{"key": "a", "name": "A", "when": {"fact": "won_count", "op": ">", "value": 0}, "set": {"type": "VIP"}}],
			"otherwise": {"key": "b", "name": "B", "set": {"type": "CLIENT"}}}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := mustParse(t, tt.in)
			if ps := Validate(cfg, testRef()); len(ps) != 0 {
				t.Errorf("problems:\n%v", ps)
			}
		})
	}
}

// A deep input is refused where it passes the limit, without reading the
// rest of it.
func TestStrictCheckStopsAtTheDepthLimit(t *testing.T) {
	data := []byte(`{"schemes": ` + strings.Repeat("[", 5<<20))
	_, err := ParseConfig(data)
	var ps Problems
	if !errors.As(err, &ps) || len(ps) != 1 || ps[0].Code != CodeJSONDepth {
		t.Fatalf("ParseConfig of a 5 MB deep input: %v", err)
	}
	s := newStrictScanner(data, MaxJSONDepth, nil)
	if p := s.check(); p == nil || p.Code != CodeJSONDepth {
		t.Fatalf("check: %v", p)
	}
	if read := s.dec.InputOffset(); read > 100 {
		t.Errorf("the check went on to byte %d of %d", read, len(data))
	}
}

func TestCheckJSONLeavesOwnMembers(t *testing.T) {
	tests := []struct {
		in   string
		want error
	}{
		{`{"config": {"a": 1, "a": "\u0001"}, "base_version": 2}`, nil},
		{`{"config": {}, "config": {}}`, Problem{Path: "config", Code: CodeJSONDupKey, Args: []string{"config"}}},
		{`{"config": {}} {}`, Problem{Code: CodeJSONTrailing, Args: []string{"1", "16"}}},
		{`{"config": {}, "name": "\u0001"}`, Problem{Path: "name", Code: CodeJSONControl, Args: []string{"U+0001"}}},
		{`{"other": {"config": [], "config": []}}`, Problem{Path: "other.config", Code: CodeJSONDupKey, Args: []string{"config"}}},
		{`{"config": {"a": }}`, Problem{Code: CodeJSONSyntax, Args: []string{"1", "18"}}},
		{"{\"config\": {\"a\x01\": 1}}", Problem{Path: "config", Code: CodeJSONControl, Args: []string{"U+0001"}}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, CheckJSON([]byte(tt.in), 3, "config")); diff != "" {
			t.Errorf("CheckJSON(%s) (-want +got):\n%s", tt.in, diff)
		}
	}
}

// A config saved before the strict check existed still parses for the
// engine; a new one with the same flaw is refused.
func TestSavedConfigParsesWithoutTheStrictCheck(t *testing.T) {
	data := []byte(`{"schemes":[{"entity":"contact","segments":[{"key":"vip","name":"VIP\tclients","when":{"all":[]}}]}]}`)
	if _, err := ParseConfig(data); err == nil {
		t.Error("ParseConfig accepted a tab in a segment's name")
	}
	cfg, err := ParseSavedConfig(data)
	if err != nil || len(cfg.Schemes) != 1 || cfg.Schemes[0].Segments[0].Name != "VIP\tclients" {
		t.Errorf("ParseSavedConfig = %+v, %v; want the saved config as it was", cfg, err)
	}
}
