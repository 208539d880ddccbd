package testkit

import (
	"regexp"
	"strings"
	"testing"

	"segmentor/bitrix/b24sim"
)

// The engine's names for its batch commands, which tell what a logged
// request was for.
var (
	writeName  = regexp.MustCompile(`^w[0-9]+$`)
	syncName   = regexp.MustCompile(`^((ct|cp|pr|pc[0-9]+|de|r[0-9]+)_[0-9]+|(currencies|addresses)(\.from[0-9]+)?)$`)
	settleName = regexp.MustCompile(`^(contact|company|deal)_[0-9]+$`)
	rereadName = regexp.MustCompile(`^rows[0-9]+$`) // a re-read's list commands, one per 50 ids
)

// KindOf says what the engine sent a logged request for, from its command
// names: "sync" (full sync), "reread" (a change's re-read), "write",
// "items" (Segment field items), "settle" (re-read of writes in doubt), or
// the REST method of a single call.
func KindOf(rq b24sim.Request) string {
	if rq.Method != "batch" {
		return rq.Method
	}
	for _, n := range rq.CommandNames {
		if rereadName.MatchString(n) {
			return "reread"
		}
	}
	kinds := map[string]bool{}
	for _, n := range rq.CommandNames {
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

// Refusals counts what the portal refused for its rate limits (whole
// requests and batch commands): each is sent again, a retry.
func Refusals(reqs []b24sim.Request) int {
	n := 0
	limited := func(code string) bool { return code == "QUERY_LIMIT_EXCEEDED" || code == "OPERATION_TIME_LIMIT" }
	for _, rq := range reqs {
		if limited(rq.ErrorCode) {
			n++
		}
		for _, e := range rq.CommandErrors {
			if limited(e) {
				n++
			}
		}
	}
	return n
}

// RereadIDs lists the records a change's re-read asked for ("deal:12"),
// over all its list commands; it fails the test if a command asks for more
// than a list page holds (50).
func RereadIDs(t testing.TB, rq b24sim.Request) []string {
	t.Helper()
	var out []string
	for i, n := range rq.CommandNames {
		if !rereadName.MatchString(n) || i >= len(rq.CommandParams) {
			continue
		}
		entity := strings.TrimSuffix(strings.TrimPrefix(rq.Commands[i], "crm."), ".list")
		if entity == "item" {
			entity = "deal"
		}
		filter := rq.CommandParams[i].Map("filter")
		ids := filter.List("@id")
		if ids == nil {
			ids = filter.List("@ID")
		}
		for _, v := range ids {
			out = append(out, entity+":"+b24sim.Scalar(v))
		}
		if len(ids) > 50 {
			t.Fatalf("re-read command %s asks for %d records; a list page holds 50", n, len(ids))
		}
	}
	return out
}
