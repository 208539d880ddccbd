package bitrix

import (
	"encoding/json"
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestIsReadMethod(t *testing.T) {
	tests := map[string]bool{
		"crm.deal.get": true, "crm.deal.list": true, "CRM.DEAL.LIST": true, "crm.deal.fields": true,
		"crm.item.list": true, "crm.item.productrow.list": true, "crm.status.entity.items": true,
		"crm.deal.productrows.get": true, "profile": true, "app.info": true, "user.admin": true,
		"user.current": true, "app.option.get": true, "event.get": true, "server.time": true,
		"crm.deal.add": false, "crm.deal.update": false, "crm.item.update": false, "event.bind": false,
		"app.option.set": false, "event.offline.get": false, "batch": false, "": false, "foo": false,
		"crm.deal.userfield.add": false, "crm.deal.delete": false,
	}
	for m, want := range tests {
		if got := IsReadMethod(m); got != want {
			t.Errorf("IsReadMethod(%q) = %v, want %v", m, got, want)
		}
	}
	if !IsReadBatch([]Command{{Method: "crm.deal.get"}, {Method: "crm.contact.list"}}) {
		t.Error("read batch not read")
	}
	if IsReadBatch([]Command{{Method: "crm.deal.get"}, {Method: "crm.deal.update"}}) {
		t.Error("write batch read")
	}
}

func TestWithAuth(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{}`, `{"auth":"T"}`},
		{`{ }`, `{"auth":"T"}`},
		{`{"id":1}`, `{"id":1,"auth":"T"}`},
		{`{"a":{"b":[1]}} `, `{"a":{"b":[1]},"auth":"T"}`},
		{`{"auth":"mine"}`, `{"auth":"mine","auth":"T"}`},
	}
	for _, tt := range tests {
		if got := string(withAuth([]byte(tt.in), "T")); got != tt.want {
			t.Errorf("withAuth(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestMarshalParams(t *testing.T) {
	for _, bad := range []any{[]int{1}, "x", 5} {
		if _, err := marshalParams(bad); err == nil {
			t.Errorf("marshalParams(%v) accepted", bad)
		}
	}
	for _, ok := range []any{nil, map[string]any{}, struct{ ID int }{1}, []byte(`{"a":1}`)} {
		if _, err := marshalParams(ok); err != nil {
			t.Errorf("marshalParams(%v): %v", ok, err)
		}
	}
}

func TestEncodeQuery(t *testing.T) {
	q, err := encodeQuery(map[string]any{
		"filter": map[string]any{">ID": 5, "STAGE_ID": "C3:NEW", "@TYPE_ID": []string{"A", "B"}},
		"order":  map[string]string{"ID": "ASC"},
		"select": []string{"ID", "TITLE"},
		"start":  -1,
		"flag":   true,
		"ref":    "$result[p0][49][ID]",
		"amount": 12.50,
		"empty":  nil,
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := url.ParseQuery(q)
	if err != nil {
		t.Fatal(err)
	}
	want := url.Values{
		"filter[>ID]": {"5"}, "filter[STAGE_ID]": {"C3:NEW"}, "filter[@TYPE_ID][0]": {"A"}, "filter[@TYPE_ID][1]": {"B"},
		"order[ID]": {"ASC"}, "select[0]": {"ID"}, "select[1]": {"TITLE"}, "start": {"-1"}, "flag": {"1"},
		"ref": {"$result[p0][49][ID]"}, "amount": {"12.5"}, "empty": {""},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("encodeQuery (-want +got):\n%s\nraw: %s", d, q)
	}
}

func TestEncodeQueryKeepsOrder(t *testing.T) {
	q, err := encodeQuery(json.RawMessage(`{"order":{"STAGE_ID":"ASC","ID":"DESC"},"select":["TITLE","ID"],"filter":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := "order[STAGE_ID]=ASC&order[ID]=DESC&select[0]=TITLE&select[1]=ID&filter="
	if q != want {
		t.Errorf("encodeQuery = %s, want %s", q, want)
	}
	type params struct {
		Zeta  int    `json:"zeta"`
		Alpha string `json:"alpha"`
	}
	if q, _ := encodeQuery(params{1, "a b&c"}); q != "zeta=1&alpha=a+b%26c" {
		t.Errorf("struct order: %s", q)
	}
}
