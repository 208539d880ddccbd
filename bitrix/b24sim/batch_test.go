package b24sim

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// batchPortal has test methods: test.get (a record), test.list (a page of 50
// of 120 rows, or {"items": [...]} with items=Y) and test.echo (its params).
func batchPortal(t *testing.T) (*Portal, string) {
	p := New(Options{RatePerSecond: -1})
	t.Cleanup(p.Close)
	p.methods["test.get"] = func(p *Portal, c *Call) (any, error) {
		id, _ := c.Params.Int("id")
		if id == 0 {
			return nil, errNotFound()
		}
		return map[string]any{"ID": strconv.Itoa(id), "COMPANY_ID": strconv.Itoa(id * 10), "TITLE": "A & B"}, nil
	}
	p.methods["test.list"] = func(p *Portal, c *Call) (any, error) {
		start, _ := c.Params.Int("start")
		var rows []any
		for i := start; i < start+50 && i < 120; i++ {
			if c.Params.String("items") == "Y" {
				rows = append(rows, map[string]any{"id": i + 1})
			} else {
				rows = append(rows, map[string]any{"ID": strconv.Itoa(i + 1)})
			}
		}
		lr := ListResult{Items: rows, Total: 120}
		if c.Params.String("items") == "Y" {
			lr.Items = map[string]any{"items": rows}
		}
		if start+50 < 120 {
			lr.Next = start + 50
		}
		return lr, nil
	}
	p.methods["test.echo"] = func(p *Portal, c *Call) (any, error) { return c.Params, nil }
	return p, p.IssueTokens(1).AccessToken
}

func TestBatchReferencesAndOrder(t *testing.T) {
	p, tok := batchPortal(t)
	// JSON body; names chosen so that alphabetical order would break the chain
	r := callJSON(t, p, "batch", tok, `{"halt":0,"cmd":{
		"zdeal":"test.get?id=7",
		"company":"test.echo?id=$result[zdeal][COMPANY_ID]&title=$result[zdeal][TITLE]",
		"list":"test.list?start=50",
		"first":"test.echo?id=$result[list][0][ID]&last=$result[list][49][ID]",
		"items":"test.list?items=Y",
		"deep":"test.echo?id=$result[items][items][49][id]",
		"bad":"test.echo?x=$result[nope][ID]&y=$result[zdeal][NOPE]"}}`)
	if r.Status != 200 {
		t.Fatalf("batch = %d %s", r.Status, r.Raw)
	}
	res := r.Body["result"].(map[string]any)
	out := res["result"].(map[string]any)
	echo := func(name string) map[string]any { return out[name].(map[string]any) }
	if c := echo("company"); c["id"] != "70" || c["title"] != "A & B" {
		t.Errorf("$result[zdeal][...] = %v", c)
	}
	if c := echo("first"); c["id"] != "51" || c["last"] != "100" {
		t.Errorf("$result[list][n][ID] = %v", c)
	}
	if c := echo("deep"); c["id"] != "50" {
		t.Errorf("deep path = %v", c)
	}
	if c := echo("bad"); c["x"] != "$result[nope][ID]" || c["y"] != "$result[zdeal][NOPE]" {
		t.Errorf("unresolvable references must stay literal: %v", c)
	}
	if tot := res["result_total"].(map[string]any); tot["list"] != float64(120) || tot["items"] != float64(120) || len(tot) != 2 {
		t.Errorf("result_total = %v", tot)
	}
	if nx := res["result_next"].(map[string]any); nx["list"] != float64(100) || nx["items"] != float64(50) {
		t.Errorf("result_next = %v", nx)
	}
	if !strings.Contains(string(r.Raw), `"result_error":[]`) {
		t.Errorf("empty result_error must be []: %s", r.Raw)
	}
	if tm := res["result_time"].(map[string]any); len(tm) != 7 || tm["zdeal"].(map[string]any)["operating"] == nil {
		t.Errorf("result_time = %v", tm)
	}
	// the order of keys in the response follows the order of the commands
	raw := string(r.Raw)
	if strings.Index(raw, `"zdeal":{`) > strings.Index(raw, `"company":{`) {
		t.Errorf("result order lost: %s", raw)
	}
	// the log has each command's method; stats count them one by one
	log := p.Requests()
	if got := strings.Join(log[len(log)-1].Commands, ","); got != "test.get,test.echo,test.list,test.echo,test.list,test.echo,test.echo" {
		t.Errorf("Commands = %s", got)
	}
	st := p.Stats()
	if st.HTTPRequests != 1 || st.Commands != 7 || st.Methods["test.echo"] != 4 || st.Methods["batch"] != 1 {
		t.Errorf("stats = %+v", st)
	}
}

func TestBatchFormEncodedAndHalt(t *testing.T) {
	p, tok := batchPortal(t)
	// form-encoded, as BX24/CRest send it; "$result" arrives percent-encoded
	form := url.Values{}
	form.Set("halt", "1")
	form.Add("cmd[b]", "test.get?id=3")
	form.Add("cmd[a]", "test.echo?"+url.Values{"filter[ID]": {"$result[b][ID]"}}.Encode())
	form.Add("cmd[c]", "test.get?id=0")
	form.Add("cmd[d]", "test.get?id=4")
	// url.Values sorts keys; write the body by hand to keep b, a, c, d
	body := "auth=" + tok + "&halt=1"
	for _, k := range []string{"b", "a", "c", "d"} {
		body += "&" + url.QueryEscape("cmd["+k+"]") + "=" + url.QueryEscape(form.Get("cmd["+k+"]"))
	}
	r := postRaw(t, p, "batch", "application/x-www-form-urlencoded", body)
	res := r.Body["result"].(map[string]any)
	out := res["result"].(map[string]any)
	if f := out["a"].(map[string]any)["filter"].(map[string]any); f["ID"] != "3" {
		t.Errorf("encoded reference = %v (%s)", f, r.Raw)
	}
	errs := res["result_error"].(map[string]any)
	if e := errs["c"].(map[string]any); e["error"] != "" || e["error_description"] != "Not found" {
		t.Errorf("result_error[c] = %v", e)
	}
	if _, ran := out["d"]; ran {
		t.Errorf("halt=1 must stop after the failing command: %s", r.Raw)
	}
	if !strings.Contains(string(r.Raw), `"result_next":[]`) || !strings.Contains(string(r.Raw), `"result_total":[]`) {
		t.Errorf("empty sections must be []: %s", r.Raw)
	}
	if st := p.Stats(); st.Commands != 3 || st.Errors[""] != 1 {
		t.Errorf("stats = %+v", st)
	}
}

func postRaw(t *testing.T, p *Portal, method, ctype, body string) reply {
	t.Helper()
	req, _ := newPost(p.ClientEndpoint()+method, ctype, body)
	return doReq(t, req)
}

func TestBatchLimitsAndEmpty(t *testing.T) {
	p, tok := batchPortal(t)
	cmds := map[string]string{}
	for i := 0; i < 51; i++ {
		cmds[fmt.Sprintf("c%d", i)] = "server.time"
	}
	b, _ := json.Marshal(map[string]any{"cmd": cmds})
	r := callJSON(t, p, "batch", tok, string(b))
	if r.Status != 400 || r.errCode() != "ERROR_BATCH_LENGTH_EXCEEDED" {
		t.Errorf(">50 commands = %d %s", r.Status, r.Raw)
	}
	delete(cmds, "c50")
	b, _ = json.Marshal(map[string]any{"cmd": cmds})
	if r := callJSON(t, p, "batch", tok, string(b)); r.Status != 200 || len(r.Body["result"].(map[string]any)["result"].(map[string]any)) != 50 {
		t.Errorf("50 commands = %d", r.Status)
	}

	r = callJSON(t, p, "batch", tok, `{"cmd":{"n":"batch?cmd[x]=server.time","m":"no.such.method"}}`)
	errs := r.Body["result"].(map[string]any)["result_error"].(map[string]any)
	if errs["n"].(map[string]any)["error"] != "ERROR_BATCH_METHOD_NOT_ALLOWED" || errs["m"].(map[string]any)["error"] != "ERROR_METHOD_NOT_FOUND" {
		t.Errorf("nested batch / unknown method: %s", r.Raw)
	}
	if !strings.Contains(string(r.Raw), `"result":{"result":[],`) {
		t.Errorf("empty result section must be []: %s", r.Raw)
	}

	// cmd as a list: names are indexes and the sections become JSON lists
	r = callJSON(t, p, "batch", tok, `{"cmd":["test.get?id=1","test.get?id=$result[0][ID]2"]}`)
	if !strings.Contains(string(r.Raw), `"result":{"result":[{`) || !strings.Contains(string(r.Raw), `"ID":"12"`) {
		t.Errorf("list cmd: %s", r.Raw)
	}
}
