package jobs_test

import (
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"segmentor/bitrix/b24sim"
)

// update is one record update the simulator ran, as its request log shows
// it: the record ("deal:12") and the fields written, canonically ordered.
type update struct {
	Record string
	Fields string
}

// ranUpdates lists the updates of a logged request that the simulator
// ran (answered without error), batches opened up.
func ranUpdates(t testing.TB, rq b24sim.Request) []update {
	t.Helper()
	if rq.Status != 200 {
		return nil
	}
	if rq.Method != "batch" {
		if !strings.HasSuffix(rq.Method, ".update") || rq.ErrorCode != "" {
			return nil
		}
		q := url.Values{}
		flatten(q, "", map[string]any(rq.Params))
		return []update{updateOf(t, rq.Method, q)}
	}
	cmd, _ := rq.Params["cmd"].(map[string]any)
	names := make([]string, 0, len(cmd))
	writes := true
	for n, line := range cmd {
		names = append(names, n)
		if !writeName.MatchString(n) {
			writes = false
			if l, _ := line.(string); recordUpdate.MatchString(l) {
				t.Fatalf("batch command %s updates a record: %s", n, l)
			}
		}
	}
	if !writes {
		return nil
	}
	// The log lists the commands in the order sent; the engine names them
	// so that their natural order is that order (w0, w1, … w49).
	sort.Slice(names, func(i, j int) bool { return natural(names[i]) < natural(names[j]) })
	var out []update
	for i, n := range names {
		line, _ := cmd[n].(string)
		method, query, _ := strings.Cut(line, "?")
		if !strings.HasSuffix(method, ".update") || i >= len(rq.CommandStatus) || rq.CommandStatus[i] != 200 {
			continue
		}
		if rq.Commands[i] != strings.ToLower(method) {
			t.Fatalf("batch command %s is %s in the log, %s in the body: the order guess is wrong", n, rq.Commands[i], method)
		}
		q, err := url.ParseQuery(query)
		if err != nil {
			t.Fatalf("command %s: %v", line, err)
		}
		out = append(out, updateOf(t, method, q))
	}
	return out
}

// writeName is how the engine names the commands of a write batch.
var writeName = regexp.MustCompile(`^w[0-9]+$`)

func updateOf(t testing.TB, method string, q url.Values) update {
	t.Helper()
	entity := strings.TrimSuffix(strings.TrimPrefix(method, "crm."), ".update")
	if entity == "item" {
		if q.Get("entityTypeId") != "2" {
			t.Fatalf("crm.item.update of entity type %s", q.Get("entityTypeId"))
		}
		entity = "deal"
	}
	var fields []string
	for k, vs := range q {
		if strings.HasPrefix(k, "fields[") {
			fields = append(fields, strings.TrimSuffix(strings.TrimPrefix(k, "fields["), "]")+"="+strings.Join(vs, ","))
		}
	}
	slices.Sort(fields)
	return update{Record: entity + ":" + q.Get("id"), Fields: strings.Join(fields, "&")}
}

// flatten turns nested params back into bracketed form keys.
func flatten(q url.Values, prefix string, v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, sub := range x {
			key := k
			if prefix != "" {
				key = prefix + "[" + k + "]"
			}
			flatten(q, key, sub)
		}
	case b24sim.Params:
		flatten(q, prefix, map[string]any(x))
	default:
		q.Add(prefix, str(x))
	}
}

func natural(name string) int {
	i := len(name)
	for i > 0 && name[i-1] >= '0' && name[i-1] <= '9' {
		i--
	}
	n, _ := strconv.Atoi(name[i:])
	return n
}

// updatesByRecord groups every update the simulator ran by record.
func updatesByRecord(t testing.TB, reqs []b24sim.Request) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, rq := range reqs {
		for _, u := range ranUpdates(t, rq) {
			out[u.Record] = append(out[u.Record], u.Fields)
		}
	}
	return out
}

var (
	syncName   = regexp.MustCompile(`^((ct|cp|pr|de|r[0-9]+)_[0-9]+|currencies)$`)
	settleName = regexp.MustCompile(`^(contact|company|deal)_[0-9]+$`)
	rereadName = regexp.MustCompile(`^rows[0-9]+$`) // a re-read's list commands, one per 50 ids
)

// kindOf says what the engine sent a logged request for, from its command
// names: "sync" (full sync), "reread" (a change's re-read), "write",
// "items" (Segment field items), "settle" (re-read of writes in doubt), or
// the REST method of a single call.
func kindOf(rq b24sim.Request) string {
	if rq.Method != "batch" {
		return rq.Method
	}
	cmd, _ := rq.Params["cmd"].(map[string]any)
	for n := range cmd {
		if rereadName.MatchString(n) {
			return "reread"
		}
	}
	kinds := map[string]bool{}
	for n := range cmd {
		switch {
		case writeName.MatchString(n):
			kinds["write"] = true
		case syncName.MatchString(n):
			kinds["sync"] = true
		case settleName.MatchString(n):
			kinds["settle"] = true
		case strings.HasPrefix(n, "set_"), strings.HasPrefix(n, "segment_field_"):
			kinds["items"] = true
		default:
			kinds["other"] = true
		}
	}
	if len(kinds) != 1 {
		return "mixed"
	}
	for k := range kinds {
		return k
	}
	return "empty"
}

// refusals counts what the portal refused for its rate limits (whole
// requests and batch commands): each is sent again, a retry.
func refusals(reqs []b24sim.Request) int {
	n := 0
	for _, rq := range reqs {
		if rq.ErrorCode == "QUERY_LIMIT_EXCEEDED" || rq.ErrorCode == "OPERATION_TIME_LIMIT" {
			n++
		}
		for _, e := range rq.CommandErrors {
			if e == "QUERY_LIMIT_EXCEEDED" || e == "OPERATION_TIME_LIMIT" {
				n++
			}
		}
	}
	return n
}

// rereadIDs lists the records a change's re-read asked for ("deal:12"),
// over all its list commands; it fails the test if a command asks for more
// than a list page holds (50).
func rereadIDs(t testing.TB, rq b24sim.Request) []string {
	t.Helper()
	cmd, _ := rq.Params["cmd"].(map[string]any)
	var out []string
	for n, line := range cmd {
		if !rereadName.MatchString(n) {
			continue
		}
		line, _ := line.(string)
		method, query, _ := strings.Cut(line, "?")
		q, err := url.ParseQuery(query)
		if err != nil {
			t.Fatalf("re-read %s: %v", line, err)
		}
		entity := strings.TrimSuffix(strings.TrimPrefix(method, "crm."), ".list")
		if entity == "item" {
			entity = "deal"
		}
		ids := 0
		for k, vs := range q {
			if strings.HasPrefix(k, "filter[@id]") || strings.HasPrefix(k, "filter[@ID]") {
				for _, v := range vs {
					out = append(out, entity+":"+v)
					ids++
				}
			}
		}
		if ids > 50 {
			t.Fatalf("re-read command %s asks for %d records; a list page holds 50", n, ids)
		}
	}
	return out
}
