package segment

import "time"

// Engagement facts say how a record's activities stand: the calls,
// e-mails, meetings and tasks on its timeline (crm.activity.list). A
// contact's or company's activities are its own and those of its deals; a
// deal's are its own.
//
// An activity happens at its start (START_TIME, else when it was created).
// The counts and the days since count only what has happened by now: a
// call planned for next week is no engagement yet, only an open activity.
// A window of N days is (now − N days, now], as for deals.

// ActivityType is an activity's TYPE_ID (crm.enum.activitytype).
type ActivityType uint8

// Activity types.
const (
	ActivityMeeting ActivityType = 1
	ActivityCall    ActivityType = 2
	ActivityTask    ActivityType = 3
	ActivityEmail   ActivityType = 4
)

// Direction is an activity's DIRECTION (crm.enum.activitydirection):
// calls and e-mails are inbound or outbound, meetings and tasks neither.
type Direction uint8

// Directions.
const (
	NoDirection Direction = 0
	Inbound     Direction = 1
	Outbound    Direction = 2
)

// Activity is one activity as the engagement facts read it. It is small on
// purpose: a portal's base holds hundreds of thousands.
type Activity struct {
	At        int64 // unix seconds: START_TIME, else CREATED; 0 unknown
	Type      ActivityType
	Direction Direction
	Open      bool // not completed
}

// isActivityFact reports whether a fact is an engagement fact: those are
// facts of contacts, companies and deals alike.
func (id factID) isActivityFact() bool { return id >= factActivities && id <= factOpenActivities }

// counts reports whether an activity is one the count fact id counts.
func (id factID) counts(a *Activity) bool {
	switch id {
	case factCalls:
		return a.Type == ActivityCall
	case factEmails:
		return a.Type == ActivityEmail
	case factMeetings:
		return a.Type == ActivityMeeting
	case factTasks:
		return a.Type == ActivityTask
	case factInboundActivities, factDaysSinceLastInbound:
		return a.Direction == Inbound
	case factOutboundActivities:
		return a.Direction == Outbound
	}
	return true
}

// engagement computes one engagement fact over one or more lists of
// activities (a client's own, then each of its deals').
type engagement struct {
	fact     factID
	now      int64
	from     int64 // the window's start, exclusive; minimum for all time
	count    int
	last     int64 // the latest start that has happened
	hasValue bool
}

func newEngagement(l *leaf, now time.Time) engagement {
	g := engagement{fact: l.fact, now: now.Unix(), from: -1 << 63}
	if l.window > 0 {
		g.from = now.Add(-days(l.window)).Unix()
	}
	return g
}

func (g *engagement) add(list []Activity) {
	for i := range list {
		a := &list[i]
		if g.fact == factOpenActivities {
			if a.Open {
				g.count++
			}
			continue
		}
		if a.At > g.now || !g.fact.counts(a) {
			continue
		}
		switch g.fact {
		case factDaysSinceLastActivity, factDaysSinceLastInbound:
			if a.At != 0 && (!g.hasValue || a.At > g.last) {
				g.last, g.hasValue = a.At, true
			}
		default:
			if a.At > g.from {
				g.count++
			}
		}
	}
}

func (g *engagement) value() Value {
	switch g.fact {
	case factDaysSinceLastActivity, factDaysSinceLastInbound:
		if !g.hasValue {
			return Value{}
		}
		return number(daysSince(time.Unix(g.now, 0), time.Unix(g.last, 0)))
	}
	return number(float64(g.count))
}

// clientEngagement is an engagement fact of a client: its activities and
// its deals'.
func clientEngagement(l *leaf, now time.Time, own []Activity, deals []Deal) Value {
	g := newEngagement(l, now)
	g.add(own)
	for i := range deals {
		g.add(deals[i].Activities)
	}
	return g.value()
}

// dealEngagement is an engagement fact of a deal: its own activities.
func dealEngagement(l *leaf, now time.Time, own []Activity) Value {
	g := newEngagement(l, now)
	g.add(own)
	return g.value()
}

// UsesActivities reports whether the rules read an engagement fact, so a
// change of an activity may change its records' segments.
func (r *Rules) UsesActivities() bool { return r.uses(factID.isActivityFact) }
