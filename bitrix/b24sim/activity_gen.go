package b24sim

import (
	"math/rand/v2"
)

// activities generates n activities bound to the records Seed made, from a
// random source of their own: the records' draws stay those of a portal
// seeded without activities. Calls and e-mails go both ways; most past
// activities are done, the planned ones (a tenth, in the next two weeks)
// are not. Some clients are far busier than others. Caller holds p.mu.
func (g *gen) activities(n int) int {
	if n <= 0 {
		return 0
	}
	c, as := g.c, &g.p.acts
	type owner struct {
		kind string
		e    *entity
	}
	var owners []owner
	for _, o := range []owner{{"contact", c.contact}, {"company", c.company}, {"deal", c.deal}} {
		if o.e.count > 0 {
			owners = append(owners, o)
		}
	}
	if len(owners) == 0 {
		return 0
	}
	e := as.e
	rng := rand.New(rand.NewPCG(g.p.opts.Seed^0xac7171e5, uint64(e.lastID)))
	day := int64(86400)
	base := e.lastID
	made := 0
	span := max(g.end-g.start, 1)
	for tries := 0; made < n && tries < 2*n+100; tries++ {
		o := owners[rng.IntN(len(owners))]
		// A busy tenth of the records gets about half the activities.
		ids := o.e.lastID
		if rng.IntN(2) == 0 {
			ids = max(ids/10, 1)
		}
		id := 1 + rng.IntN(ids)
		rec := o.e.get(id)
		if rec == nil {
			continue
		}
		r := newRecord(e, base+made+1)
		typ := []int{ActivityCall, ActivityCall, ActivityCall, ActivityCall, ActivityEmail, ActivityEmail, ActivityEmail,
			ActivityMeeting, ActivityMeeting, ActivityTask}[rng.IntN(10)]
		dir := 0
		if typ == ActivityCall || typ == ActivityEmail {
			dir = DirectionIncoming + rng.IntN(2)
		}
		var start int64
		planned := rng.IntN(10) == 0
		if planned {
			start = g.end + int64(1+rng.IntN(14))*day
		} else { // spread over the period in order, as the records are
			start = min(g.start+span*int64(made)/int64(n)+rng.Int64N(max(span/int64(n), 1)), g.end)
			// never before the record existed
			if born := rec.n[o.e.f("DATE_CREATE").slot]; start < born {
				start = born + rng.Int64N(max(g.end-born, 1))
			}
		}
		completed := !planned && rng.IntN(100) < 85
		created := start - rng.Int64N(3*day)
		if planned {
			created = g.end - rng.Int64N(7*day)
		}
		responsible := g.userIDs[rng.IntN(len(g.userIDs))]
		if f := o.e.f("ASSIGNED_BY_ID"); f != nil && rec.n[f.slot] > 0 {
			responsible = rec.n[f.slot]
		}
		a := Activity{Type: typ, Direction: dir, Completed: completed, OwnerType: o.kind, OwnerID: id,
			Responsible: int(responsible)}
		if err := as.set(r, a, start); err != nil {
			continue
		}
		end := start + int64(5+rng.IntN(55))*60
		if typ == ActivityTask {
			end = start + int64(1+rng.IntN(5))*day
		}
		r.n[e.f("START_TIME").slot] = start
		r.n[e.f("END_TIME").slot] = end
		r.n[e.f("DEADLINE").slot] = end
		r.n[e.f("CREATED").slot], r.n[e.f("AUTHOR_ID").slot] = min(created, g.end), responsible
		r.n[e.f("LAST_UPDATED").slot], r.n[e.f("EDITOR_ID").slot] = min(max(created, start), g.end), responsible
		as.put(r, nil)
		made++
	}
	return made
}
