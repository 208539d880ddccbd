package b24sim

import (
	"fmt"
	"testing"
)

func TestCountBy(t *testing.T) {
	p, tok, _ := crmPortal(t)
	st := p.Seed(GenOptions{Contacts: 30, Companies: 5, Deals: 200})
	add := `{"fields": {"FIELD_NAME": "SEG", "USER_TYPE_ID": "enumeration",
		"LIST": [{"VALUE": "Gold", "XML_ID": "GOLD"}, {"VALUE": "Silver", "XML_ID": "SILVER"}]}}`
	ufID := mustOK(t, callJSON(t, p, "crm.deal.userfield.add", tok, add), "userfield.add")["result"]
	uf := mustOK(t, callJSON(t, p, "crm.deal.userfield.get", tok, fmt.Sprintf(`{"id": %v}`, ufID)), "get")["result"].(map[string]any)
	gold := uf["LIST"].([]any)[0].(map[string]any)["ID"]
	for _, id := range []int{3, 5, 8} {
		if err := p.UserUpdate("deal", id, map[string]any{"UF_CRM_SEG": gold}, 1, false); err != nil {
			t.Fatal(err)
		}
	}
	if got := p.CountBy("deal", "UF_CRM_SEG"); got["Gold"] != 3 || got[""] != st.Deals-3 || len(got) != 2 {
		t.Errorf("by segment = %v, want Gold 3 and %d empty", got, st.Deals-3)
	}
	byStage, sum := p.CountBy("deal", "STAGE_SEMANTIC_ID"), 0
	for _, n := range byStage {
		sum += n
	}
	if sum != st.Deals || byStage["S"] != st.Won || byStage["F"] != st.Lost || byStage["P"] != st.Open {
		t.Errorf("by stage semantics = %v, seeded %+v", byStage, st)
	}
	if p.CountBy("deal", "NO_SUCH_FIELD") != nil || p.CountBy("lead", "ID") != nil {
		t.Error("an unknown field or entity must give nil")
	}
}
