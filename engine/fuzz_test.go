package engine

import (
	"encoding/json"
	"testing"

	"segmentor/bitrix"
)

var rowSeeds = []string{
	`{"items":[{"id":7,"companyId":3,"contactIds":[1,"2",null],"categoryId":"2","stageId":"C2:NEW","stageSemanticId":"P","opportunity":"12500.50","currencyId":"EUR","createdTime":"2024-08-30T14:29:00+02:00","closedate":"2024-09-30T00:00:00+03:00","typeId":"SALE","UF_CRM_SEGMENTOR":"12","sourceId":"WEB","UF_CRM_TIER":["a","b"]}]}`,
	`[{"ID":"5","TYPE_ID":"CLIENT","COMPANY_TYPE":"CUSTOMER","UF_CRM_SEGMENTOR":false,"SOURCE_ID":null,"UF_CRM_TIER":1.5}]`,
	`[{"CURRENCY":"USD","AMOUNT_CNT":"1","AMOUNT":"1.0000","BASE":"Y"},{"CURRENCY":"EUR","AMOUNT_CNT":0,"AMOUNT":"1.08"}]`,
	`{"items":[]}`, `[]`, `{}`, `null`, ``, `[{"id":"x"}]`, `[{"opportunity":"1e999999999"}]`, `[{"AMOUNT":"1e-999999999","AMOUNT_CNT":"3"}]`,
}

// FuzzPortalRows feeds arbitrary list answers through what a sync reads
// from the portal: rows of deals, contacts and companies, currency rates.
// Nothing may panic or hang; a row either decodes or is refused with an
// error.
func FuzzPortalRows(f *testing.F) {
	for _, s := range rowSeeds {
		f.Add(s)
	}
	fields := []string{"SOURCE_ID", "UF_CRM_TIER", "CONTACT_IDS"}
	f.Fuzz(func(t *testing.T, body string) {
		raw := json.RawMessage(body)
		for _, key := range []string{"", "items"} {
			rows, err := bitrix.PageRows(raw, key)
			if err != nil {
				continue
			}
			for _, r := range rows {
				_, _ = bitrix.RowID(r, "id")
				if d, err := decodeDeal(r, "UF_CRM_SEGMENTOR", fields); err == nil {
					_ = d.Deal()
				} else if err.Error() == "" {
					t.Fatal("deal row error without message")
				}
				for _, typeField := range []string{"TYPE_ID", "COMPANY_TYPE"} {
					if c, err := decodeClient(r, typeField, "UF_CRM_SEGMENTOR", fields); err == nil && c == nil {
						t.Fatal("nil client without error")
					}
				}
			}
		}
		if rates, err := parseRates(raw); err == nil {
			for _, v := range rates.PerUnit {
				_ = v.String()
			}
		}
	})
}
