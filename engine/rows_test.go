package engine

import "testing"

// A deal row naming a contact twice links it once: its deals are counted
// once for it, as Bitrix24 itself lists a deal's contacts.
func TestDecodeDealLinksAContactOnce(t *testing.T) {
	d, err := decodeDeal([]byte(`{"id": 7, "contactIds": [3, 5, 3, 0], "opportunity": "10.00", "stageSemanticId": "S"}`), "UF_CRM_SEGMENTOR", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.ContactIDs) != 2 || d.ContactIDs[0] != 3 || d.ContactIDs[1] != 5 {
		t.Fatalf("contacts %v, want [3 5]", d.ContactIDs)
	}
}
