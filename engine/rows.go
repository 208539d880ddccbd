package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"segmentor/app"
	"segmentor/app/segment"
	"segmentor/bitrix"
)

// itemNames are the crm.item.* names of deal fields whose camelCase form is
// not the plain conversion of the UPPER_CASE one.
var itemNames = map[string]string{
	"CREATED_BY_ID": "createdBy", "MODIFY_BY_ID": "updatedBy", "DATE_CREATE": "createdTime",
	"DATE_MODIFY": "updatedTime", "BEGINDATE": "begindate", "CLOSEDATE": "closedate", "CONTACT_IDS": "contactIds",
}

// itemName converts a v2 field name to crm.item.*'s (user fields keep their
// names with useOriginalUfNames=Y).
func itemName(upper string) string {
	if n, ok := itemNames[upper]; ok {
		return n
	}
	if strings.HasPrefix(upper, "UF_") {
		return upper
	}
	parts := strings.Split(strings.ToLower(upper), "_")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return strings.Join(parts, "")
}

func dealSelect(uf string, fields []string) []string {
	sel := []string{"id", "title", "companyId", "contactIds", "categoryId", "stageId", "stageSemanticId", "opportunity",
		"currencyId", "createdTime", "closedate", "typeId", uf}
	for _, f := range fields {
		if n := itemName(f); !slices.Contains(sel, n) {
			sel = append(sel, n)
		}
	}
	return sel
}

// decodeDeal reads a crm.item.list deal row (useOriginalUfNames=Y).
func decodeDeal(raw json.RawMessage, uf string, fields []string) (*app.MirrorDeal, error) {
	var r struct {
		ID         bitrix.ID    `json:"id"`
		Title      string       `json:"title"`
		CompanyID  bitrix.ID    `json:"companyId"`
		ContactIDs []bitrix.ID  `json:"contactIds"`
		CategoryID bitrix.ID    `json:"categoryId"`
		StageID    string       `json:"stageId"`
		Semantic   string       `json:"stageSemanticId"`
		Amount     bitrix.Money `json:"opportunity"`
		Currency   string       `json:"currencyId"`
		Created    string       `json:"createdTime"`
		Closed     string       `json:"closedate"`
		TypeID     string       `json:"typeId"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("deal row: %w", err)
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(raw, &all); err != nil {
		return nil, err
	}
	d := &app.MirrorDeal{ID: int64(r.ID), CompanyID: int64(r.CompanyID), CategoryID: int(r.CategoryID),
		StageID: r.StageID, Semantic: r.Semantic, Amount: r.Amount.Decimal.String(), Currency: r.Currency,
		Created: unixOf(r.Created), Closed: unixOf(r.Closed), TypeID: r.TypeID, Segment: enumID(all[uf]), Title: r.Title}
	if d.Semantic == "" {
		d.Semantic = "P"
	}
	for _, id := range r.ContactIDs {
		// A contact is linked once; a repeated id (as a hand-made row may
		// have) would count the deal twice for it.
		if id != 0 && !slices.Contains(d.ContactIDs, int64(id)) {
			d.ContactIDs = append(d.ContactIDs, int64(id))
		}
	}
	for _, f := range fields {
		if v, ok := rawText(all[itemName(f)]); ok {
			if d.Fields == nil {
				d.Fields = map[string]string{}
			}
			d.Fields[f] = v
		}
	}
	return d, nil
}

// decodeClient reads a crm.contact.list / crm.company.list row.
func decodeClient(raw json.RawMessage, typeField, uf string, fields []string) (*app.MirrorClient, error) {
	var all map[string]json.RawMessage
	if err := json.Unmarshal(raw, &all); err != nil {
		return nil, fmt.Errorf("client row: %w", err)
	}
	var id bitrix.ID
	if err := id.UnmarshalJSON(all["ID"]); err != nil {
		return nil, fmt.Errorf("client row ID: %w", err)
	}
	c := &app.MirrorClient{ID: int64(id), Segment: enumID(all[uf]), Title: clientTitle(all)}
	c.TypeID, _ = rawText(all[typeField])
	c.Own = ownLocation(all, entityOfTypeField(typeField))
	for _, f := range fields {
		if v, ok := rawText(all[f]); ok {
			if c.Fields == nil {
				c.Fields = map[string]string{}
			}
			c.Fields[f] = v
		}
	}
	return c, nil
}

// clientSelect is what a contact or company list reads: its id, type,
// Segment value, the name shown in samples, its own address fields (the
// location facts' fallback on older portals; no more requests, a few more
// columns), and the fields the rules read.
func clientSelect(typeField, uf string, fields []string) []string {
	sel := []string{"ID", typeField, uf}
	if typeField == "COMPANY_TYPE" {
		sel = append(sel, "TITLE")
	} else {
		sel = append(sel, "NAME", "LAST_NAME")
	}
	sel = append(sel, bitrix.LegacyAddressFields(bitrix.Entity(entityOfTypeField(typeField)))...)
	for _, f := range fields {
		if !slices.Contains(sel, f) {
			sel = append(sel, f)
		}
	}
	return sel
}

func entityOfTypeField(typeField string) segment.Entity {
	if typeField == "COMPANY_TYPE" {
		return segment.EntityCompany
	}
	return segment.EntityContact
}

// ownLocation is the location of a contact's or company's own address
// fields (bitrix.LegacyAddressFields, a company's legal address first),
// nil when they hold none.
func ownLocation(row map[string]json.RawMessage, e segment.Entity) *segment.Location {
	prefixes := []string{"ADDRESS_"}
	if e == segment.EntityCompany {
		prefixes = []string{"REG_ADDRESS_", "ADDRESS_"}
	}
	for _, p := range prefixes {
		get := func(f string) string {
			s, _ := rawText(row[p+f])
			return s
		}
		l := segment.NewLocation(get("COUNTRY"), get("COUNTRY_CODE"), get("PROVINCE"), get("REGION"), get("CITY"), get("POSTAL_CODE"))
		if !l.IsZero() {
			return &l
		}
	}
	return nil
}

// clientTitle is a company's TITLE or a contact's full name.
func clientTitle(row map[string]json.RawMessage) string {
	if t, ok := rawText(row["TITLE"]); ok && t != "" {
		return t
	}
	var parts []string
	for _, f := range []string{"NAME", "LAST_NAME"} {
		if v, ok := rawText(row[f]); ok && v != "" {
			parts = append(parts, v)
		}
	}
	return strings.Join(parts, " ")
}

func enumID(raw json.RawMessage) int {
	var id bitrix.ID
	if len(raw) == 0 || id.UnmarshalJSON(raw) != nil {
		return 0
	}
	return int(id)
}

func unixOf(s string) int64 {
	if s == "" {
		return 0
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return 0
	}
	return t.Unix()
}

// rawText renders a JSON value as the text a field: condition compares;
// false when it is null or absent.
func rawText(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", false
	}
	switch raw[0] {
	case '"':
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return "", false
		}
		return s, true
	case '[':
		var l []json.RawMessage
		if json.Unmarshal(raw, &l) != nil {
			return "", false
		}
		parts := make([]string, 0, len(l))
		for _, x := range l {
			if s, ok := rawText(x); ok {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, ","), len(parts) > 0
	}
	return string(raw), true
}

// parseRates reads crm.currency.list: PerUnit = AMOUNT / AMOUNT_CNT.
func parseRates(raw json.RawMessage) (segment.Rates, error) {
	r := segment.Rates{PerUnit: map[string]decimal.Decimal{}}
	if len(bytes.TrimSpace(raw)) == 0 {
		return r, nil
	}
	var list []struct {
		Currency string       `json:"CURRENCY"`
		Count    bitrix.ID    `json:"AMOUNT_CNT"`
		Amount   bitrix.Money `json:"AMOUNT"`
		Base     string       `json:"BASE"`
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		return r, err
	}
	for _, c := range list {
		n := int64(c.Count)
		if n <= 0 {
			n = 1
		}
		r.PerUnit[c.Currency] = c.Amount.Decimal.Div(decimal.NewFromInt(n))
		if c.Base == "Y" {
			r.Base = c.Currency
		}
	}
	return r, nil
}
