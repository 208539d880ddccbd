package bitrix

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

func TestIDUnmarshal(t *testing.T) {
	tests := []struct {
		in      string
		want    ID
		wantErr bool
	}{
		{`7405`, 7405, false},
		{`"7405"`, 7405, false},
		{`" 12 "`, 12, false},
		{`""`, 0, false},
		{`null`, 0, false},
		{`false`, 0, false},
		{`12.0`, 12, false},
		{`"12.5"`, 0, true},
		{`"abc"`, 0, true},
		{`{}`, 0, true},
		{`[1]`, 0, true},
	}
	for _, tt := range tests {
		var got ID
		err := json.Unmarshal([]byte(tt.in), &got)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ID(%s) = %d, %v; want %d, err=%v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
	b, _ := json.Marshal(ID(5))
	if string(b) != "5" {
		t.Errorf("marshal ID = %s", b)
	}
}

func TestMoneyUnmarshal(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{`"12500.00"`, "12500", false},
		{`12500.5`, "12500.5", false},
		{`"0.10"`, "0.1", false},
		{`""`, "0", false},
		{`null`, "0", false},
		{`"12,5"`, "", true},
		{`[]`, "", true},
	}
	for _, tt := range tests {
		var got Money
		err := json.Unmarshal([]byte(tt.in), &got)
		if (err != nil) != tt.wantErr {
			t.Errorf("Money(%s) err = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if err == nil && !got.Equal(decimal.RequireFromString(tt.want)) {
			t.Errorf("Money(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
	// Exactness: 0.1+0.2 is 0.3 with decimals.
	var a, b Money
	_ = json.Unmarshal([]byte(`"0.1"`), &a)
	_ = json.Unmarshal([]byte(`"0.2"`), &b)
	if !a.Add(b.Decimal).Equal(decimal.RequireFromString("0.3")) {
		t.Error("money is not exact")
	}
}

func TestBoolUnmarshal(t *testing.T) {
	tests := []struct {
		in      string
		want    Bool
		wantErr bool
	}{
		{`"Y"`, true, false}, {`"y"`, true, false}, {`"N"`, false, false},
		{`true`, true, false}, {`false`, false, false}, {`1`, true, false}, {`"0"`, false, false},
		{`""`, false, false}, {`null`, false, false}, {`"maybe"`, false, true},
	}
	for _, tt := range tests {
		var got Bool
		err := json.Unmarshal([]byte(tt.in), &got)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("Bool(%s) = %v, %v", tt.in, got, err)
		}
	}
	b, _ := json.Marshal(struct{ A, B Bool }{true, false})
	if string(b) != `{"A":"Y","B":"N"}` {
		t.Errorf("marshal = %s", b)
	}
}

func TestTimeUnmarshal(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{`"2024-08-30T14:29:00+02:00"`, time.Date(2024, 8, 30, 12, 29, 0, 0, time.UTC), false},
		{`"2024-08-30T14:29:00+0200"`, time.Date(2024, 8, 30, 12, 29, 0, 0, time.UTC), false},
		{`"2024-08-30"`, time.Date(2024, 8, 30, 0, 0, 0, 0, time.UTC), false},
		{`"2024-08-30 10:00:00"`, time.Date(2024, 8, 30, 10, 0, 0, 0, time.UTC), false},
		{`""`, time.Time{}, false},
		{`null`, time.Time{}, false},
		{`"30.08.2024"`, time.Time{}, true},
	}
	for _, tt := range tests {
		var got Time
		err := json.Unmarshal([]byte(tt.in), &got)
		if (err != nil) != tt.wantErr || !got.Equal(tt.want) {
			t.Errorf("Time(%s) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	var tm Time
	_ = json.Unmarshal([]byte(`"2024-08-30T14:29:00+02:00"`), &tm)
	if _, off := tm.Zone(); off != 7200 {
		t.Errorf("offset lost: %v", tm)
	}
	b, _ := json.Marshal(tm)
	if string(b) != `"2024-08-30T14:29:00+02:00"` {
		t.Errorf("marshal = %s", b)
	}
}

func TestDealDecode(t *testing.T) {
	// A crm.deal.get result (strings) and a crm.item.get item (numbers) both decode.
	type deal struct {
		ID          ID
		OPPORTUNITY Money
		OPENED      Bool
		DATE_MODIFY Time
	}
	for _, in := range []string{
		`{"ID":"7405","OPPORTUNITY":"1000000.00","OPENED":"Y","DATE_MODIFY":"2024-08-30T14:29:00+02:00"}`,
		`{"ID":7405,"OPPORTUNITY":1000000,"OPENED":true,"DATE_MODIFY":"2024-08-30T14:29:00+02:00"}`,
	} {
		var d deal
		if err := json.Unmarshal([]byte(in), &d); err != nil {
			t.Fatal(err)
		}
		if d.ID != 7405 || !d.OPPORTUNITY.Equal(decimal.NewFromInt(1000000)) || !bool(d.OPENED) || d.DATE_MODIFY.IsZero() {
			t.Errorf("decoded %+v", d)
		}
	}
}

func FuzzID(f *testing.F) {
	for _, s := range []string{`1`, `"7405"`, `""`, `null`, `1e3`, `"-1"`, `{}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var id ID
		var m Money
		var b Bool
		var tm Time
		_ = id.UnmarshalJSON([]byte(s))
		_ = m.UnmarshalJSON([]byte(s))
		_ = b.UnmarshalJSON([]byte(s))
		_ = tm.UnmarshalJSON([]byte(s))
	})
}
