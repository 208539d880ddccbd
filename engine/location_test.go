package engine

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"segmentor/app"
	"segmentor/app/segment"
	"segmentor/bitrix"
)

// A contact's or company's own address fields (the older portals' kind)
// give its own location, a company's legal address before its physical
// one; the list reads them with the rest.
func TestOwnLocation(t *testing.T) {
	tests := []struct {
		typeField string
		row       string
		want      *segment.Location
	}{
		{"TYPE_ID", `{"ID": "5", "ADDRESS_COUNTRY": "Polska", "ADDRESS_PROVINCE": "woj. śląskie", "ADDRESS_CITY": "Katowice",
			"ADDRESS_POSTAL_CODE": "40-001", "ADDRESS_REGION": null}`, &segment.Location{Country: "PL", Region: "Śląskie", City: "Katowice", Postal: "40"}},
		{"COMPANY_TYPE", `{"ID": "6", "ADDRESS_COUNTRY": "Germany", "ADDRESS_CITY": "Berlin",
			"REG_ADDRESS_COUNTRY_CODE": "PL", "REG_ADDRESS_CITY": "Kraków", "REG_ADDRESS_PROVINCE": "Malopolskie"}`,
			&segment.Location{Country: "PL", Region: "Małopolskie", City: "Kraków"}},
		{"COMPANY_TYPE", `{"ID": "7", "ADDRESS_COUNTRY": "Germany", "ADDRESS_CITY": "Berlin", "REG_ADDRESS_CITY": " "}`,
			&segment.Location{Country: "DE", City: "Berlin"}},
		{"TYPE_ID", `{"ID": "8", "ADDRESS_CITY": null}`, nil},
	}
	for _, tt := range tests {
		c, err := decodeClient(json.RawMessage(tt.row), tt.typeField, "UF_CRM_SEGMENTOR", nil)
		if err != nil {
			t.Fatalf("%s: %v", tt.row, err)
		}
		if diff := cmp.Diff(tt.want, c.Own); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.row, diff)
		}
	}
	for _, tf := range []string{"TYPE_ID", "COMPANY_TYPE"} {
		sel := clientSelect(tf, "UF_CRM_SEGMENTOR", []string{"ADDRESS_CITY", "SOURCE_ID"})
		if !slices.Contains(sel, "ADDRESS_PROVINCE") || !slices.Contains(sel, "SOURCE_ID") ||
			slices.Contains(sel, "REG_ADDRESS_CITY") != (tf == "COMPANY_TYPE") || len(sel) != len(slicesCompact(sel)) {
			t.Errorf("%s select %v", tf, sel)
		}
	}
}

func slicesCompact(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}

// crm.address.list rows become the mirror's addresses: the requisite, the
// type, the client from the anchor, the location normalised; a lead's
// address is not a client's.
func TestMirrorAddress(t *testing.T) {
	var rows []bitrix.Address
	raw := `[{"TYPE_ID": "6", "ENTITY_TYPE_ID": "8", "ENTITY_ID": "31", "CITY": "Warsaw", "POSTAL_CODE": "00-950",
		"REGION": null, "PROVINCE": "MAZOWIECKIE", "COUNTRY": "Polska", "COUNTRY_CODE": null, "ANCHOR_TYPE_ID": "4", "ANCHOR_ID": "7"},
		{"TYPE_ID": "1", "ENTITY_TYPE_ID": "8", "ENTITY_ID": "32", "CITY": "Praha", "COUNTRY_CODE": "CZ", "ANCHOR_TYPE_ID": "3", "ANCHOR_ID": "9"},
		{"TYPE_ID": "1", "ENTITY_TYPE_ID": "1", "ENTITY_ID": "5", "CITY": "Łódź", "ANCHOR_TYPE_ID": "1", "ANCHOR_ID": "5"}]`
	if err := json.Unmarshal([]byte(raw), &rows); err != nil {
		t.Fatal(err)
	}
	var got []app.Address
	for _, r := range rows {
		if a, ok := mirrorAddress(r); ok {
			got = append(got, a)
		}
	}
	want := []app.Address{
		{Requisite: 31, Type: 6, Owner: app.ClientRef{Entity: segment.EntityCompany, ID: 7},
			Location: segment.Location{Country: "PL", Region: "Mazowieckie", City: "Warszawa", Postal: "00"}},
		{Requisite: 32, Type: 1, Owner: app.ClientRef{Entity: segment.EntityContact, ID: 9},
			Location: segment.Location{Country: "CZ", City: "Praha"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// A change of MaxChange requisites re-reads their addresses in one batch.
func TestMaxChangeRequisitesFitOneBatch(t *testing.T) {
	if lists := (MaxChange + requisitesPerList - 1) / requisitesPerList; lists > bitrix.MaxBatch {
		t.Errorf("%d requisites need %d list commands: more than a batch's %d", MaxChange, lists, bitrix.MaxBatch)
	}
}
