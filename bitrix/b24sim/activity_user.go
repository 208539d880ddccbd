package b24sim

import (
	"fmt"
	"iter"
	"slices"
	"strconv"
	"time"
)

// Activity is a CRM activity as a person creates or edits it in the UI
// (and as Activity and Activities read it back).
type Activity struct {
	ID        int // set by the portal
	Type      int // ActivityMeeting, ActivityCall, ActivityTask or ActivityEmail
	Direction int // DirectionIncoming or DirectionOutgoing for calls and e-mails; 0 for none
	Completed bool
	// OwnerType ("deal", "contact", "company" or "lead") and OwnerID name
	// the record whose timeline holds it.
	OwnerType string
	OwnerID   int
	Bindings  []ActivityBinding // records it is bound to besides its owner
	Subject   string
	// Start, End and Deadline: zero Start is now, zero End and Deadline
	// are Start.
	Start, End, Deadline time.Time
	Responsible          int       // RESPONSIBLE_ID; 0: the user who creates it
	Created, Updated     time.Time // set by the portal
}

// UserAddActivity creates an activity as userID would in the UI and fires
// ONCRMACTIVITYADD.
func (p *Portal) UserAddActivity(a Activity, userID int) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e := p.acts.e
	r := newRecord(e, e.lastID+1)
	now := p.now().Unix()
	if a.Responsible == 0 {
		a.Responsible = userID
	}
	if err := p.acts.set(r, a, now); err != nil {
		return 0, err
	}
	r.n[e.f("CREATED").slot], r.n[e.f("AUTHOR_ID").slot] = now, int64(userID)
	r.n[e.f("LAST_UPDATED").slot], r.n[e.f("EDITOR_ID").slot] = now, int64(userID)
	p.acts.put(r, a.Bindings)
	p.emit(Event{Name: "ONCRMACTIVITYADD", Fields: idFields(r.id), UserID: userID})
	return int(r.id), nil
}

// UserUpdateActivity edits an activity as userID would in the UI: edit
// changes a copy of it, which is saved. An edit that changes nothing saves
// nothing and fires nothing; otherwise ONCRMACTIVITYUPDATE fires. Its ID
// and type cannot change (crm.activity.fields: immutable); a new owner
// moves it to that record, as crm.activity.binding.move does.
func (p *Portal) UserUpdateActivity(id, userID int, edit func(*Activity)) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	e := p.acts.e
	old := e.get(id)
	if old == nil {
		return errActivityNotFound()
	}
	cur := p.acts.read(old)
	a := cur
	a.Bindings = slices.Clone(cur.Bindings)
	edit(&a)
	a.ID, a.Type = cur.ID, cur.Type
	r := old.clone()
	if err := p.acts.set(r, a, p.now().Unix()); err != nil {
		return err
	}
	if r.sameAs(old) && slices.Equal(a.Bindings, p.acts.bindings[old.id]) {
		return nil
	}
	r.n[e.f("LAST_UPDATED").slot], r.n[e.f("EDITOR_ID").slot] = p.now().Unix(), int64(userID)
	p.acts.put(r, a.Bindings)
	p.emit(Event{Name: "ONCRMACTIVITYUPDATE", Fields: idFields(r.id), UserID: userID})
	return nil
}

// CompleteActivity marks an activity done, as a click on its checkbox in
// the timeline does.
func (p *Portal) CompleteActivity(id, userID int) error {
	return p.UserUpdateActivity(id, userID, func(a *Activity) { a.Completed = true })
}

// UserDeleteActivity deletes an activity and fires ONCRMACTIVITYDELETE.
func (p *Portal) UserDeleteActivity(id, userID int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.acts.e.get(id) == nil {
		return errActivityNotFound()
	}
	p.acts.e.remove(id)
	delete(p.acts.bindings, int32(id))
	p.emit(Event{Name: "ONCRMACTIVITYDELETE", Fields: idFields(int32(id)), UserID: userID})
	return nil
}

// Activity reads one activity; false when there is none.
func (p *Portal) Activity(id int) (Activity, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.acts.e.get(id)
	if r == nil {
		return Activity{}, false
	}
	return p.acts.read(r), true
}

// Activities yields every activity in ID order. The portal is not locked
// while the caller handles one.
func (p *Portal) Activities() iter.Seq[Activity] {
	return func(yield func(Activity) bool) {
		for id := 1; ; id++ {
			p.mu.Lock()
			e := p.acts.e
			if id > e.lastID {
				p.mu.Unlock()
				return
			}
			r := e.get(id)
			var a Activity
			if r != nil {
				a = p.acts.read(r)
			}
			p.mu.Unlock()
			if r != nil && !yield(a) {
				return
			}
		}
	}
}

// ActivityCount is the number of activities.
func (p *Portal) ActivityCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.acts.e.count
}

// set writes a's fields onto r, checking them as the UI would. Caller holds p.mu.
func (as *activityState) set(r *record, a Activity, now int64) error {
	e := as.e
	owner, ok := activityOwnerTypes[a.OwnerType]
	switch {
	case !ok || a.OwnerID <= 0:
		return fmt.Errorf("b24sim: an activity needs an owner (deal, contact, company or lead), got %s %d", a.OwnerType, a.OwnerID)
	case providers[int64(a.Type)][0] == "":
		return fmt.Errorf("b24sim: unknown activity type %d", a.Type)
	case a.Direction < 0 || a.Direction > DirectionOutgoing:
		return fmt.Errorf("b24sim: unknown activity direction %d", a.Direction)
	}
	for _, b := range a.Bindings {
		if _, ok := activityOwnerTypes[b.OwnerType]; !ok || b.OwnerID <= 0 {
			return fmt.Errorf("b24sim: bad activity binding %+v", b)
		}
	}
	start := a.Start.Unix()
	if a.Start.IsZero() {
		start = now
	}
	orStart := func(t time.Time) int64 {
		if t.IsZero() {
			return start
		}
		return t.Unix()
	}
	n := func(name string, v int64) { r.n[e.f(name).slot] = v }
	n("OWNER_TYPE_ID", int64(owner))
	n("OWNER_ID", int64(a.OwnerID))
	n("TYPE_ID", int64(a.Type))
	n("DIRECTION", int64(a.Direction))
	n("START_TIME", start)
	n("END_TIME", orStart(a.End))
	n("DEADLINE", orStart(a.Deadline))
	n("RESPONSIBLE_ID", int64(a.Responsible))
	n("PRIORITY", 2)
	completed, status := int64(0), int64(1)
	if a.Completed {
		completed, status = 1, 2
	}
	n("COMPLETED", completed)
	n("STATUS", status)
	subject := a.Subject
	if subject == "" {
		subject = defaultSubject(a.Type, a.Direction)
	}
	r.s[e.f("SUBJECT").slot] = subject
	pv := providers[int64(a.Type)]
	r.s[e.f("PROVIDER_ID").slot], r.s[e.f("PROVIDER_TYPE_ID").slot] = pv[0], pv[1]
	return nil
}

func defaultSubject(typ, dir int) string {
	switch {
	case typ == ActivityCall && dir == DirectionIncoming:
		return "Incoming call"
	case typ == ActivityCall:
		return "Outgoing call"
	case typ == ActivityEmail && dir == DirectionIncoming:
		return "Incoming e-mail"
	case typ == ActivityEmail:
		return "Outgoing e-mail"
	case typ == ActivityMeeting:
		return "Meeting"
	}
	return "Task"
}

// put stores r with its extra bindings. Caller holds p.mu.
func (as *activityState) put(r *record, bindings []ActivityBinding) {
	as.e.put(r)
	if len(bindings) > 0 {
		as.bindings[r.id] = slices.Clone(bindings)
	} else {
		delete(as.bindings, r.id)
	}
}

// read converts a stored activity. Caller holds p.mu.
func (as *activityState) read(r *record) Activity {
	e := as.e
	n := func(name string) int64 { return r.n[e.f(name).slot] }
	t := func(name string) time.Time {
		if v := n(name); v != 0 && v != nullInt {
			return time.Unix(v, 0).UTC()
		}
		return time.Time{}
	}
	return Activity{ID: int(r.id), Type: int(n("TYPE_ID")), Direction: int(n("DIRECTION")), Completed: n("COMPLETED") == 1,
		OwnerType: ownerTypeName(int(n("OWNER_TYPE_ID"))), OwnerID: int(n("OWNER_ID")), Bindings: slices.Clone(as.bindings[r.id]),
		Subject: r.s[e.f("SUBJECT").slot], Start: t("START_TIME"), End: t("END_TIME"), Deadline: t("DEADLINE"),
		Responsible: int(n("RESPONSIBLE_ID")), Created: t("CREATED"), Updated: t("LAST_UPDATED")}
}

// String names the activity as "call 12 of contact 5".
func (a Activity) String() string {
	kind := map[int]string{ActivityMeeting: "meeting", ActivityCall: "call", ActivityTask: "task", ActivityEmail: "e-mail"}[a.Type]
	return kind + " " + strconv.Itoa(a.ID) + " of " + a.OwnerType + " " + strconv.Itoa(a.OwnerID)
}
