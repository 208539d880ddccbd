package engine

import (
	"testing"

	"segmentor/app/i18n"
	"segmentor/app/segment"
)

// What a change of segment writes into the CRM has every text in every
// language, and names triggers in the portal's language.
func TestActionTextsInEveryLanguage(t *testing.T) {
	for _, f := range actionTexts.Check() {
		t.Error(f)
	}
	for _, c := range []struct {
		lang segment.Lang
		e    segment.Entity
		want string
	}{
		{i18n.EN, segment.EntityDeal, "Segmentor: entered VIP"},
		{i18n.RU, segment.EntityContact, "Segmentor: контакт попал в сегмент VIP"},
		{i18n.PL, segment.EntityCompany, "Segmentor: firma trafiła do segmentu VIP"},
		{i18n.IT, segment.EntityContact, "Segmentor: contatto entrato in VIP"},
		{"de", segment.EntityDeal, "Segmentor: entered VIP"},
	} {
		if got := triggerName(c.lang, c.e, "VIP"); got != c.want {
			t.Errorf("triggerName(%s, %s) = %q, want %q", c.lang, c.e, got, c.want)
		}
	}
}
