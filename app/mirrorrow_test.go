package app

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"segmentor/app/segment"
)

func TestDealRowRoundTrip(t *testing.T) {
	tests := []MirrorDeal{
		{},
		{Semantic: "P"},
		{Semantic: "X"}, // not a semantic Bitrix24 sends, kept as text
		{CompanyID: 3, ContactIDs: []int64{9, 4, 1 << 40}, CategoryID: 12, StageID: "C12:PREPAYMENT_INVOICE", Semantic: "S",
			Amount: "1500.25", Currency: "EUR", Created: 1700000000, Closed: 1700500000, TypeID: "SALE", Segment: 41,
			Key: "vip", Sections: []int{1, 3, -2}, Fields: map[string]string{"SOURCE_ID": "WEB", "UF_CRM_1712345678": "Łódź"}},
		{Closed: 1600000000},                // closed without a creation date
		{Created: 1700000000, Closed: 5},    // closed long before it was created
		{CompanyID: -1, CategoryID: -3},     // nothing stops a portal
		{Segment: 1 << 31, Amount: "0"},     // large item ids
		{Amount: "-12.50", Currency: "RUB"}, // refunds
	}
	for _, amount := range []string{"12345.50", "12345", "0.00", "-0.5", "1e3", "12.3456789", " 7", "abc", "99999999999999999999999.5", "-0"} {
		tests = append(tests, MirrorDeal{Amount: amount})
	}
	for _, in := range tests {
		s := encodeDeal(&in)
		var out MirrorDeal
		if err := decodeDeal(s, &out); err != nil {
			t.Errorf("%+v: %v", in, err)
			continue
		}
		// A row reads back as its JSON did in the old layout.
		js, _ := json.Marshal(in)
		var want MirrorDeal
		_ = json.Unmarshal(js, &want)
		if d := cmp.Diff(want, out); d != "" {
			t.Errorf("%+v (packed %q): %s", in, s, d)
		}
	}
}

func TestClientRowRoundTrip(t *testing.T) {
	tests := []MirrorClient{
		{},
		{TypeID: "CLIENT", Segment: 101, Key: "regular", Fields: map[string]string{"SOURCE_ID": "WEB"}},
		{Own: &segment.Location{}},
		{TypeID: "SUPPLIER", Own: &segment.Location{Country: "PL", Region: "Mazowieckie", City: "Warszawa", Postal: "00"}},
	}
	for _, in := range tests {
		var out MirrorClient
		if err := decodeClient(encodeClient(&in), &out); err != nil {
			t.Errorf("%+v: %v", in, err)
			continue
		}
		js, _ := json.Marshal(in)
		var want MirrorClient
		_ = json.Unmarshal(js, &want)
		if d := cmp.Diff(want, out); d != "" {
			t.Errorf("%+v: %s", in, d)
		}
	}
}

// TestRowsFitListpack checks the point of the encoding: a usual deal's and
// client's rows stay within a listpack value, with room to spare.
func TestRowsFitListpack(t *testing.T) {
	d := &MirrorDeal{CompanyID: 120_345, ContactIDs: []int64{830_123}, CategoryID: 14, StageID: "C14:PREPARATION",
		Semantic: "S", Amount: "1234567.89", Currency: "PLN", Created: 1764000000, Closed: 1764000000 + 90*86400,
		TypeID: "GOODS", Segment: 1234, Key: "key_accounts", Sections: []int{17}, Fields: map[string]string{"SOURCE_ID": "PARTNER"}}
	if s := encodeDeal(d); len(s) > listpackValue-8 {
		t.Errorf("a busy deal packs into %d bytes: %q", len(s), s)
	}
	c := &MirrorClient{TypeID: "CUSTOMER", Segment: 1234, Key: "key_accounts", Fields: map[string]string{"SOURCE_ID": "PARTNER"},
		Own: &segment.Location{Country: "PL", Region: "Mazowieckie", City: "Warszawa", Postal: "00"}}
	if s := encodeClient(c); len(s) > listpackValue {
		t.Errorf("a client with its location packs into %d bytes: %q", len(s), s)
	}
}

func TestDealRowRejectsTruncation(t *testing.T) {
	s := encodeDeal(&MirrorDeal{CompanyID: 3, StageID: "WON", Key: "vip", Fields: map[string]string{"A": "B"}})
	for n := range len(s) {
		var out MirrorDeal
		if err := decodeDeal(s[:n], &out); err == nil {
			t.Errorf("%q cut to %d bytes decodes without an error: %+v", s, n, out)
		}
	}
}

func TestPackDealIDs(t *testing.T) {
	for _, ids := range [][]int64{{}, {1}, {1, 2, 3}, {127, 128, 16_383, 16_384, 1 << 40}} {
		got, err := unpackDealIDs(packDealIDs(ids))
		if err != nil || cmp.Diff(ids, got) != "" {
			t.Errorf("%v read back as %v, %v", ids, got, err)
		}
	}
	if _, err := unpackDealIDs("\x80"); err == nil {
		t.Error("a cut varint reads without an error")
	}
}
