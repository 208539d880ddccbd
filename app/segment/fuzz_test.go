package segment

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

// FuzzValidate feeds arbitrary bytes through parsing, validation,
// compilation and evaluation. Nothing may panic; every error is Problems with
// readable messages; only one JSON value in valid UTF-8 parses; a config
// that validates compiles, evaluates and survives a JSON round trip.
func FuzzValidate(f *testing.F) {
	f.Add([]byte(designExample))
	f.Add([]byte(`{"schemes": []}`))
	f.Add([]byte(`{"schemes": [{"entity": "deal", "segments": [{"key": "w", "name": "W", "when": {"all": [
		{"fact": "field:CATEGORY_ID", "op": "=", "value": 3}, {"fact": "field:STAGE_ID", "op": "in", "value": ["C3:NEW"]}]},
		"set": {"type": "SALE", "pipeline": {"category_id": 0, "stage_id": "NEW", "apply": "first_stage"}}}]}]}`))
	f.Add([]byte(`{"schemes": [{"entity": "contact", "segments": [{"key": "r", "name": "R", "when": {"not": {"any": [
		{"fact": "rfm", "window_days": 365, "op": "in", "value": ["555", "545"]}, {"fact": "growth", "window_days": 90, "op": "between", "value": [0.5, 2]},
		{"fact": "product_groups", "op": "contains", "value": 4}, {"fact": "field:UF_CRM_TIER", "op": "empty"}]}}}],
		"otherwise": {"key": "o", "name": "O", "color": "#fff"}}]}`))
	f.Add([]byte(`{"schemes": [{"entity": "lead", "zz": 1, "segments": {}}]}`))
	f.Add([]byte(`{"schemes": [{"entity": "contact", "segments": [{"key": "a", "name": "A", "when": {"all": [], "fact": 1, "value": {"x": []}}}]}]}`))
	f.Add([]byte(`{"schemes": [{"entity": "company", "segments": [{"key": "a", "name": "A", "when": {"fact": "won_count", "op": "between", "value": [1e400, -1]}}]}]}`))
	f.Add([]byte(`{"schemes": [{"entity": "deal", "segments": [{"key": "a", "name": "A", "when": {"fact": "client_segment", "op": "in", "value": [null, 1, "x"]}}]}]}`))
	f.Add([]byte(`{"schemes": [{"entity": "contact", "segments": [{"key": "a", "name": "A", "when": {"fact": "won_count", "window_days": 99999999999, "op": "=", "value": 1}}]}]}`))
	f.Add([]byte(`{"schemes": [`))
	f.Add([]byte(`null`))
	f.Add([]byte("{\"schemes\": [{\"entity\": \"contact\", \"segments\": [{\"key\": \"\xff\", \"name\": \"\xfe\"}]}]}"))
	f.Add([]byte(`{"schemes": [{"entity": "contact", "segments": [{"key": "a", "name": "A\u0001\ud800", "name": "\\u0085"}]}], "schemes": []}`))
	f.Add([]byte(`{"schemes": []} {"schemes": []}`))
	f.Add([]byte(`{"schemes": [` + strings.Repeat("[", 30) + strings.Repeat("]", 30) + `]}`))

	ref := testRef()
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig(data)
		if err != nil {
			var ps Problems
			if !errors.As(err, &ps) || len(ps) == 0 {
				t.Fatalf("ParseConfig error %v (%T) is not a non-empty Problems", err, err)
			}
			checkMessages(t, ps)
			return
		}
		if !utf8.Valid(data) || !json.Valid(data) {
			t.Fatalf("unclean input %q was accepted", data)
		}
		problems := Validate(cfg, ref)
		checkMessages(t, problems)
		rules, cerr := Compile(cfg)
		if len(problems) > 0 {
			return
		}
		if cerr != nil {
			t.Fatalf("a config with no problems does not compile: %v", cerr)
		}
		fc := NewClientFacts(Env{Now: testNow, Rates: testRates()})
		fc.Reset(Client{ID: 1, Entity: EntityContact, Fields: map[string]string{"SOURCE_ID": "WEB"}}, testDeals())
		for _, e := range []Entity{EntityContact, EntityCompany} {
			res := rules.Evaluate(e, fc)
			tl := NewTeller(RU, nil)
			_, _ = tl.Reason(e, res.Reason()), tl.Others(e, res.Explanation)
		}
		df := NewDealFacts(func(Entity, int64) string { return "vip" }, testNow)
		df.Reset(&Deal{ID: 1, CompanyID: 2, StageID: "NEW"})
		res := rules.Evaluate(EntityDeal, df)
		_ = NewTeller(EN, nil).Reason(EntityDeal, res.Reason())

		out, err := json.Marshal(cfg)
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		again, err := ParseConfig(out)
		if err != nil {
			t.Fatalf("re-parse of %s: %v", out, err)
		}
		if diff := cmp.Diff(cfg, again); diff != "" {
			t.Fatalf("round trip changed a valid config (-before +after):\n%s", diff)
		}
	})
}

func checkMessages(t *testing.T, ps Problems) {
	t.Helper()
	for _, p := range ps {
		if _, ok := messages[EN][p.Code]; !ok {
			t.Fatalf("problem code %q has no message", p.Code)
		}
		for _, lang := range Languages() {
			msg := p.Message(lang)
			if msg == "" || strings.Contains(msg, "%!") || !strings.HasSuffix(msg, ".") {
				t.Fatalf("bad %s message for %+v: %q", lang, p, msg)
			}
		}
	}
}
