package bitrix

import (
	"context"
	"math"
	"strconv"
)

// MatchComm matches many phones or e-mails (a list upload's) with the
// records of one type holding them (entityType CONTACT or COMPANY; ""
// every type), a batch of MaxBatch findbycomm calls a request, with
// progress after each.
//
// findbycomm answers a call of several values with the union of what they
// found, so a value is known only from a call of its own, or from a call
// of several that found nothing. Asking each value alone costs a call a
// value: ⌈values/50⌉ requests, the least when most values match (an
// uploaded list of customers). When few match, a call of g values that
// finds nothing settles all g at once, and only the groups that found
// something are asked again value by value (Dorfman's group testing). So
// MatchComm starts with single values, estimates how many match, and
// groups values only while that costs fewer calls than asking them
// singly, at most FindByCommLimit a call. Narrowing by type also keeps a
// value's 20 answers from being spent on leads.
func (p *PortalClient) MatchComm(ctx context.Context, typ CommType, entityType string, values []string, progress func(done, requests int)) (map[string]CommMatch, error) {
	m := &commMatcher{typ: typ, entityType: entityType, out: map[string]CommMatch{}}
	seen := make(map[string]bool, len(values))
	for _, v := range values {
		if v != "" && !seen[v] {
			seen[v] = true
			m.queue = append(m.queue, v)
		}
	}
	total := len(m.queue)
	requests := 0
	for len(m.queue) > 0 || len(m.suspects) > 0 {
		cmds, groups := m.round()
		res, _, err := p.Batch(ctx, cmds, false)
		requests++
		if err != nil {
			return nil, err
		}
		for i, c := range cmds {
			found, err := commResult(res, c.Name)
			if err != nil {
				return nil, err
			}
			m.settle(groups[i], found)
		}
		if progress != nil {
			progress(total-len(m.queue)-len(m.suspects), requests)
		}
	}
	return m.out, nil
}

// commMatcher is MatchComm's state: values not asked yet, values of groups
// that found something (each asked alone next), what single values told.
type commMatcher struct {
	typ        CommType
	entityType string
	queue      []string
	suspects   []string
	out        map[string]CommMatch
	// values settled and how many of them matched: the estimate of how
	// many values match. A group that found nothing settles all its
	// values; one that found something, none until they are asked alone
	// (counting only values asked alone would count the suspects, half of
	// which match, and overestimate).
	settled, hits int
}

// round is the next request's calls: suspects first, one a call, then
// the queue in groups of the size that costs least.
func (m *commMatcher) round() ([]Command, [][]string) {
	var cmds []Command
	var groups [][]string
	add := func(vals []string) {
		params := map[string]any{"type": string(m.typ), "values": vals}
		if m.entityType != "" {
			params["entity_type"] = m.entityType
		}
		cmds = append(cmds, Command{Name: "m" + strconv.Itoa(len(cmds)), Method: "crm.duplicate.findbycomm", Params: params})
		groups = append(groups, vals)
	}
	for len(cmds) < MaxBatch && len(m.suspects) > 0 {
		add(m.suspects[:1:1])
		m.suspects = m.suspects[1:]
	}
	g := m.groupSize()
	for len(cmds) < MaxBatch && len(m.queue) > 0 {
		n := min(g, len(m.queue))
		add(m.queue[:n:n])
		m.queue = m.queue[n:]
	}
	return cmds, groups
}

// settle records one call's answer.
func (m *commMatcher) settle(vals []string, found CommMatch) {
	if len(vals) == 1 {
		m.settled++
		if found.Found() {
			m.hits++
			m.out[vals[0]] = found
		}
		return
	}
	if found.Found() {
		m.suspects = append(m.suspects, vals...)
		return
	}
	m.settled += len(vals)
}

// groupSize is the group size with the fewest expected calls a value,
// 1/g + 1 − (1−q)^g, for the share q of values that match, estimated from
// the values settled so far (with one imagined hit and miss, so that the
// first round asks singles). Grouping must save a tenth to be worth it.
func (m *commMatcher) groupSize() int {
	q := float64(m.hits+1) / float64(m.settled+2)
	best, bestCost := 1, 0.9
	for g := 2; g <= FindByCommLimit; g++ {
		if c := 1/float64(g) + 1 - math.Pow(1-q, float64(g)); c < bestCost {
			best, bestCost = g, c
		}
	}
	return best
}
