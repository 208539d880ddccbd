package b24sim

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestParamsFromFormJSONAndQuery(t *testing.T) {
	form := url.Values{
		"fields[TITLE]": {"A & B"}, "select[]": {"ID", "TITLE"}, "filter[>ID]": {"5"},
		"order[ID]": {"ASC"}, "start": {"-1"},
	}
	ps := Params{}
	if err := mergeForm(ps, form); err != nil {
		t.Fatal(err)
	}
	if ps.Map("fields").String("TITLE") != "A & B" || ps.Map("filter").String(">ID") != "5" {
		t.Errorf("nested form = %#v", ps)
	}
	if got := ps.Strings("select"); strings.Join(got, ",") != "ID,TITLE" {
		t.Errorf("select[] = %v", got)
	}
	if n, ok := ps.Int("start"); !ok || n != -1 {
		t.Errorf("start = %d %v", n, ok)
	}
	if err := mergeForm(Params{}, url.Values{"a]": {"x"}, "b[c": {"y"}}); err == nil {
		t.Error("malformed bracket keys must be refused")
	}
}

func TestRESTEnvelopeAndUnknownMethod(t *testing.T) {
	p := New(Options{})
	defer p.Close()
	tok := p.IssueTokens(1).AccessToken
	resp, err := http.Post(p.ClientEndpoint()+"server.time.json", "application/json", strings.NewReader(`{"auth":"`+tok+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	tb, _ := body["time"].(map[string]any)
	if resp.StatusCode != 200 || body["result"] == nil || tb["operating_reset_at"] == nil || tb["operating"] == nil {
		t.Errorf("server.time = %d %v", resp.StatusCode, body)
	}
	resp, err = http.Post(p.ClientEndpoint()+"no.such.method", "application/x-www-form-urlencoded", strings.NewReader("auth="+tok))
	if err != nil {
		t.Fatal(err)
	}
	body = nil
	_ = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != 404 || body["error"] != "ERROR_METHOD_NOT_FOUND" {
		t.Errorf("unknown method = %d %v", resp.StatusCode, body)
	}
}
