// Package segment is Segmentor's rule engine: the segmentation config an
// admin saves (design.md §5), its validation against a portal's reference
// data, the facts computed from mirror rows, the evaluation that picks a
// record's segment and explains why, and the plan of field writes that brings
// a record to its desired state.
//
// Everything here is pure: no I/O, no Redis, no HTTP and no wall clock. Time
// is passed in as `now`, portal data as a Reference, money rates as Rates.
//
// The usual flow:
//
//	cfg, err := segment.ParseConfig(body)        // strict JSON, Problems on error
//	problems := segment.Validate(cfg, ref)       // every problem, with paths
//	rules, err := segment.Compile(cfg)           // once per config version
//	rfm := segment.NewRFMBuilder(now, rates, rules.RFMWindows()) // once per run, Add every client
//	facts := segment.NewClientFacts(env)         // reusable; Reset per record
//	res := rules.Evaluate(segment.EntityContact, facts)
//	plan, err := segment.NewPlan(segment.EntityContact, current, res, opts)
package segment
