// Package segment is Segmentor's rule engine: the segmentation config an
// admin saves (design.md §5), its validation against a portal's reference
// data, the facts computed from mirror rows, the evaluation that picks a
// record's segment and explains why, and the plan of field writes that brings
// a record to its desired state.
//
// Everything here is pure: no I/O, no Redis, no HTTP and no wall clock. Time
// is passed in (Env.Now), portal data as a Vocabulary, money rates as Rates.
//
// The usual flow:
//
//	cfg, err := segment.ParseConfig(body)       // strict JSON; Problems with paths on error
//	problems := segment.Validate(cfg, ref)      // every problem; problems.In(segment.RU) for the API
//	rules, err := segment.Compile(cfg)          // once per config version; safe to share
//	b := segment.NewRFMBuilder(env, rules.RFMWindows())
//	for each client { b.Add(client, deals) }    // once per run, when rules use rfm facts
//	env.RFM = b.Build()
//	facts := segment.NewClientFacts(env)        // one per goroutine; Reset per record
//	facts.Reset(client, deals)
//	res := rules.Evaluate(segment.EntityContact, facts)
//	plan, err := segment.NewPlan(segment.EntityContact, current, res, opts)
//
// Semantics worth knowing:
//
//   - Won deals are those with stage semantic S, lost F, the rest are open.
//     A won or lost deal is dated by Closed, else by Created.
//   - window_days is a rolling window (now − N days, now]; a deal exactly N
//     days old is outside it. Facts without a window count all time.
//   - A fact can have no value: no won deal (days_since_*, avg_won_amount),
//     an unset field, a currency without a rate (money facts), no revenue in
//     either growth window. No value satisfies only empty, != and not_in.
//   - growth is won_amount of the window ÷ won_amount of the window before:
//     1 is flat; with nothing before and something now it is +∞.
//   - RFM scores are 1–5 by midrank percentile among the clients who won a
//     deal in the window (ties share a score; a lone buyer gets 3); clients
//     without one score 0 and their rfm is "000". See RFMTable.
//   - product_groups is a set: contains, in (any of) and not_in (none of)
//     test members; numeric operators compare how many groups there are.
//   - Field values are text; a condition with a number compares numbers when
//     the field parses as one. contains is case-insensitive.
package segment
