package segment

// Match classifies one record exactly as Evaluate does — the same segments
// in the same order, the same short-circuiting, the same facts — but builds
// no explanation: the Result's Explanation is empty. Building the trace
// costs most of an evaluation, and a preview over a whole base needs only
// the winner.
func (r *Rules) Match(e Entity, f Facts) Result {
	s := r.schemes[e]
	if s == nil {
		return Result{}
	}
	for i := range s.segments {
		seg := &s.segments[i]
		if holds(&seg.when, f) {
			return Result{Key: seg.key, Name: seg.name, Color: seg.color, Set: seg.set, Acts: seg.acts}
		}
	}
	if o := s.otherwise; o != nil {
		return Result{Key: o.key, Name: o.name, Color: o.color, Set: o.set, Acts: o.acts, Otherwise: true}
	}
	return Result{}
}

// holds is eval without the trace.
func holds(n *node, f Facts) bool {
	if n.leaf != nil {
		return n.leaf.match(f.value(n.leaf))
	}
	switch n.group {
	case "not":
		return !holds(&n.kids[0], f)
	case "all":
		for i := range n.kids {
			if !holds(&n.kids[i], f) {
				return false
			}
		}
		return true
	case "any":
		for i := range n.kids {
			if holds(&n.kids[i], f) {
				return true
			}
		}
		return false
	}
	// A group eval does not know is neither held nor refused there either:
	// eval leaves its Held at the zero value.
	return false
}
