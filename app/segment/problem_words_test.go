package segment

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// internalIDs matches what the editor never shows: fact ids, field:…
// prefixes, config keys and operator symbols.
var internalIDs = func() *regexp.Regexp {
	ids := []string{`field:`, `window_days`, `category_id`, `stage_id`, `\bop\b`, `(^|\s)(>=|<=|!=)(\s|$)`}
	for _, s := range factSpecs {
		ids = append(ids, `\b`+s.name+`\b`)
	}
	return regexp.MustCompile(strings.Join(ids, "|"))
}()

// Every problem code, rendered the way the page shows it (its text inside
// the segment's card, its whole message elsewhere), names facts and
// operators with the editor's labels and fields by their titles: no
// internal id in any language.
func TestProblemsSayNoInternalIDs(t *testing.T) {
	names := &Names{Fields: map[Entity]map[string]string{EntityDeal: {"CATEGORY_ID": "Pipeline", "STAGE_ID": "Stage", "OPPORTUNITY": "Amount"}},
		Values: map[Entity]map[string]map[string]string{EntityDeal: {"STAGE_ID": {"C3:NEW": "Wholesale: New"}}}}
	// What each code's Args hold when the validator raises it.
	args := map[Code][]string{
		CodeDealOnly: {"client_segment"}, CodeClientOnly: {"rfm_r"}, CodeNoOp: {"won_count"}, CodeOpNotForFact: {"contains", "won_amount"},
		CodeNoValue: {"rfm_r", ">="}, CodeExtraValue: {"empty"}, CodeWantNumber: {"field:OPPORTUNITY", ">", `"lots"`},
		CodeWantText: {"rfm", "=", "5"}, CodeWantList: {"won_count", "in"}, CodeEmptyList: {"field:CATEGORY_ID"},
		CodeNoWindow: {"open_deals"}, CodeWindowRange: {"3650"}, CodeNeedWindow: {"growth"},
		CodeUnknownStage: {"C9:NEW"}, CodeStageNotPipe: {"C3:NEW", `0 "General"`}, CodeUnknownPipe: {"9"},
		CodeJSONSyntax: {"2", "15"}, CodeJSONTrailing: {"2", "15"}, CodeUnknownType: {"GOLD", "CLIENT, PARTNER"},
	}
	for code := range messages[EN] {
		a, ok := args[code]
		if !ok { // as many plain values as the message quotes
			for i := 1; strings.Contains(messages[EN][code], fmt.Sprintf("%%[%d]", i)); i++ {
				a = append(a, "x")
			}
		}
		p := Problem{Path: "schemes[0].segments[0].when", Code: code, Entity: EntityDeal, Segment: "VIP", Args: a}
		for _, lang := range Languages() {
			said := p.Say(lang, names)
			for _, s := range []string{said.Message, said.Text} {
				bare := s // the labels may hold a fact's id as a word ("Revenue growth")
				for _, l := range WordsIn(lang).Facts {
					bare = strings.ReplaceAll(bare, l, "")
				}
				if m := internalIDs.FindString(bare); m != "" {
					t.Errorf("%s in %s says %q: %s", code, lang, m, s)
				}
				if strings.Contains(s, "%!") {
					t.Errorf("%s in %s: %s", code, lang, s)
				}
			}
			if strings.Contains(said.Text, "VIP") {
				t.Errorf("%s in %s: the text for the segment's own card names the segment: %s", code, lang, said.Text)
			}
		}
	}
}
