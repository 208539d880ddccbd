package bitrix

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// fakeMethod serves one method inside the fake batch.
type fakeMethod func(q url.Values) (any, *APIError)

// fakeBatch interprets batch requests the way the portal does: commands run
// in the order sent, the query string is parsed first and $result[...]
// references in values are then replaced by earlier results, an unresolved
// reference stays as literal text, and halt stops at the first error.
// Empty sections are sent as [] like PHP does.
type fakeBatch struct {
	t       testing.TB
	methods map[string]fakeMethod

	// fail, if set, answers an error for a command before its method runs;
	// req is the 0-based request number.
	fail func(name string, req int) *APIError

	mu       sync.Mutex
	requests [][]string // command lines per request
	names    [][]string // command names per request
	halts    []bool
}

func newFakeBatch(t testing.TB) *fakeBatch {
	return &fakeBatch{t: t, methods: map[string]fakeMethod{}}
}

func (f *fakeBatch) requestCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.requests)
}

func (f *fakeBatch) sentNames() [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]string(nil), f.names...)
}

func (f *fakeBatch) request(i int) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests[i]
}

var fakeRefRE = regexp.MustCompile(`^\$result\[([^\]]+)\]((?:\[[^\]]*\])*)$`)

func resolveRef(v string, results map[string]any) string {
	m := fakeRefRE.FindStringSubmatch(v)
	if m == nil {
		return v
	}
	cur, ok := results[m[1]]
	if !ok {
		return v
	}
	for _, k := range regexp.MustCompile(`\[([^\]]*)\]`).FindAllStringSubmatch(m[2], -1) {
		switch x := cur.(type) {
		case map[string]any:
			if cur, ok = x[k[1]]; !ok {
				return v
			}
		case []any:
			i, err := strconv.Atoi(k[1])
			if err != nil || i < 0 || i >= len(x) {
				return v
			}
			cur = x[i]
		default:
			return v
		}
	}
	switch x := cur.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return v
}

// orderedCmds reads the cmd object keeping its key order.
func orderedCmds(raw json.RawMessage) ([]string, []string, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil {
		return nil, nil, err
	}
	var names, lines []string
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		var line string
		if err := dec.Decode(&line); err != nil {
			return nil, nil, err
		}
		names = append(names, k.(string))
		lines = append(lines, line)
	}
	return names, lines, nil
}

func phpSection(m map[string]any) any {
	if len(m) == 0 {
		return []any{}
	}
	return m
}

func (f *fakeBatch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var req struct {
		Auth string          `json:"auth"`
		Halt int             `json:"halt"`
		Cmd  json.RawMessage `json:"cmd"`
	}
	if err := json.Unmarshal(body, &req); err != nil || req.Auth == "" {
		writeJSON(w, 400, `{"error":"INVALID_REQUEST","error_description":"bad batch"}`)
		return
	}
	names, lines, err := orderedCmds(req.Cmd)
	if err != nil {
		f.t.Errorf("fake batch: cmd: %v", err)
		return
	}
	if len(names) > MaxBatch {
		writeJSON(w, 400, `{"error":"ERROR_BATCH_LENGTH_EXCEEDED","error_description":"Max batch length exceeded"}`)
		return
	}
	f.mu.Lock()
	reqNo := len(f.requests)
	f.requests = append(f.requests, lines)
	f.names = append(f.names, names)
	f.halts = append(f.halts, req.Halt == 1)
	f.mu.Unlock()

	results := map[string]any{}
	errs := map[string]any{}
	for i, name := range names {
		method, query, _ := strings.Cut(lines[i], "?")
		q, err := url.ParseQuery(query)
		if err != nil {
			f.t.Errorf("fake batch: %s: %v", lines[i], err)
		}
		for k, vs := range q {
			for j := range vs {
				vs[j] = resolveRef(vs[j], results)
			}
			q[k] = vs
		}
		fn := f.methods[method]
		var forced *APIError
		if f.fail != nil {
			forced = f.fail(name, reqNo)
		}
		if forced != nil {
			errs[name] = map[string]string{"error": forced.Code, "error_description": forced.Description}
		} else if fn == nil {
			errs[name] = map[string]string{"error": "ERROR_METHOD_NOT_FOUND", "error_description": "Method not found!"}
		} else if res, aerr := fn(q); aerr != nil {
			errs[name] = map[string]string{"error": aerr.Code, "error_description": aerr.Description}
		} else {
			// Round-trip so references walk plain JSON values.
			b, _ := json.Marshal(res)
			var v any
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.UseNumber()
			_ = dec.Decode(&v)
			results[name] = v
		}
		if req.Halt == 1 && errs[name] != nil {
			break
		}
	}
	out, _ := json.Marshal(map[string]any{
		"result": map[string]any{
			"result": phpSection(results), "result_error": phpSection(errs),
			"result_total": []any{}, "result_next": []any{}, "result_time": []any{},
		},
		"time": map[string]any{"start": 1, "finish": 2},
	})
	writeJSON(w, 200, string(out))
}

// dealTable is a fake CRM table for list methods.
type dealTable struct {
	ids  []int64 // ascending
	mu   sync.Mutex
	args []url.Values // every call's parameters
	// ignoreFilter makes the list method return the first page whatever
	// the cursor, to provoke a stalled cursor.
	ignoreFilter bool
}

func newDealTable(n int) *dealTable {
	d := &dealTable{}
	id := int64(0)
	for i := 0; i < n; i++ {
		id += 1 + int64(i%3) // gaps, like deleted rows
		d.ids = append(d.ids, id)
	}
	return d
}

// page returns up to 50 ids greater than the filter value; a value that is
// not a number counts as 0, as PHP's intval would.
func (d *dealTable) page(q url.Values, gtKey string) []int64 {
	d.mu.Lock()
	d.args = append(d.args, q)
	d.mu.Unlock()
	after, _ := strconv.ParseInt(q.Get("filter["+gtKey+"]"), 10, 64)
	if d.ignoreFilter {
		after = 0
	}
	var out []int64
	for _, id := range d.ids {
		if id > after {
			out = append(out, id)
			if len(out) == PageSize {
				break
			}
		}
	}
	return out
}

func (d *dealTable) dealList(q url.Values) (any, *APIError) {
	if q.Get("start") != "-1" || q.Get("order[ID]") != "ASC" {
		return nil, &APIError{Code: "ERROR_ARGUMENT", Description: fmt.Sprintf("bad paging %v", q)}
	}
	rows := []map[string]string{}
	for _, id := range d.page(q, ">ID") {
		rows = append(rows, map[string]string{"ID": strconv.FormatInt(id, 10), "TITLE": "Deal " + strconv.FormatInt(id, 10)})
	}
	return rows, nil
}

func (d *dealTable) itemList(q url.Values) (any, *APIError) {
	if q.Get("start") != "-1" || q.Get("order[id]") != "ASC" || q.Get("entityTypeId") != "2" {
		return nil, &APIError{Code: "ERROR_ARGUMENT", Description: fmt.Sprintf("bad paging %v", q)}
	}
	rows := []map[string]any{}
	for _, id := range d.page(q, ">id") {
		rows = append(rows, map[string]any{"id": id, "title": "Deal " + strconv.FormatInt(id, 10)})
	}
	return map[string]any{"items": rows}, nil
}
