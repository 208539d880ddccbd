package b24sim

import (
	"regexp"
	"slices"
	"time"
)

// The app's automation surface: CRM triggers (crm.automation.trigger.*),
// robots (bizproc.robot.*, bizproc.event.send, RunRobot), timeline entries
// (crm.timeline.logmessage.*, crm.timeline.comment.add) and system
// notifications (im.notify.system.add). Each method follows its page of the
// official REST docs; where a page leaves a case open, the simulator assumes:
//   - Errors raised as access errors (ACCESS_DENIED) answer 403, others 400,
//     as Bitrix24's AccessException and RestException do; the pages show
//     "HTTP status: 400" above error tables that mix both.
//   - crm.automation.trigger.execute on a contact or company succeeds and is
//     recorded: the method checks only that OWNER_TYPE_ID is a CRM type and
//     OWNER_ID > 0 (a trigger then fires for the deals linked to them), and a
//     missing record is no error either.
//   - A robot's event token works once, and only for a robot that waits for
//     an answer (USE_SUBSCRIPTION not "N"); anything else is 403 ACCESS_DENIED.
//   - Trigger codes are refused outside [a-z0-9.-_] (the page's pattern),
//     capital letters included.

// automationState is guarded by Portal.mu.
type automationState struct {
	triggers    []TriggerInfo // registration order
	triggerRuns []TriggerRun

	robots  []*robot // registration order
	calls   map[string]*robotCall
	replies []RobotReply

	timeline   []TimelineEntry
	nextEntry  int
	notices    []Notification
	nextNotice int
}

// TriggerInfo is one trigger the app registered (crm.automation.trigger.add).
type TriggerInfo struct {
	Code string
	Name string
}

// TriggerRun is one accepted crm.automation.trigger.execute. Found tells
// whether the simulated CRM holds the owner (only deals, contacts and
// companies exist here); Bitrix24 accepts a missing one just the same.
type TriggerRun struct {
	Code        string
	OwnerTypeID int
	OwnerID     int
	UserID      int
	Found       bool
	Time        time.Time
}

func (p *Portal) registerAutomationMethods() {
	p.auto = automationState{calls: map[string]*robotCall{}, nextEntry: 1, nextNotice: 1}
	m := p.methods
	m["crm.automation.trigger.add"] = methodTriggerAdd
	m["crm.automation.trigger.list"] = methodTriggerList
	m["crm.automation.trigger.delete"] = methodTriggerDelete
	m["crm.automation.trigger.execute"] = methodTriggerExecute
	m["bizproc.robot.add"] = needScope("bizproc", methodRobotAdd)
	m["bizproc.robot.update"] = needScope("bizproc", methodRobotUpdate)
	m["bizproc.robot.list"] = needScope("bizproc", methodRobotList)
	m["bizproc.robot.delete"] = needScope("bizproc", methodRobotDelete)
	m["bizproc.event.send"] = needScope("bizproc", methodEventSend)
	m["crm.timeline.logmessage.add"] = methodLogMessageAdd
	m["crm.timeline.logmessage.get"] = methodLogMessageGet
	m["crm.timeline.logmessage.list"] = methodLogMessageList
	m["crm.timeline.comment.add"] = methodCommentAdd
	m["im.notify.system.add"] = needScope("im", methodNotifySystemAdd)
}

// needScope refuses a call whose token lacks scope, as checkScope does for
// the scopes methodScope knows (crm, catalog, placement, user_brief).
func needScope(scope string, fn methodFunc) methodFunc {
	return func(p *Portal, c *Call) (any, error) {
		p.mu.Lock()
		t := p.auth.access[c.Token]
		ok := t == nil || slices.Contains(t.scope, scope)
		p.mu.Unlock()
		if !ok {
			return nil, errorf(403, "insufficient_scope", "The request requires higher privileges than provided by the access token")
		}
		return fn(p, c)
	}
}

// restError is a RestException without a code: HTTP 400, "error": "".
func restError(desc string) *Error { return &Error{Status: 400, Description: desc} }

// phpEmpty is PHP's empty() on a request string.
func phpEmpty(s string) bool { return s == "" || s == "0" }

// triggerCode is the pattern api-reference/crm/automation/triggers/crm-automation-trigger-add.md gives.
var triggerCode = regexp.MustCompile(`^[a-z0-9.\-_]+$`)

// triggerAccess is the admin check every crm.automation.trigger.* method
// makes first ("Access denied! Admin permissions required").
func triggerAccess(c *Call) error {
	if !isAdmin(c) {
		return errorf(403, "ACCESS_DENIED", "Access denied! Admin permissions required")
	}
	return nil
}

func validTriggerCode(code string) error {
	if phpEmpty(code) {
		return restError("Empty trigger code!")
	}
	if !triggerCode.MatchString(code) {
		return restError("Wrong trigger code!")
	}
	return nil
}

// methodTriggerAdd registers a trigger; an existing CODE gets the new NAME.
func methodTriggerAdd(p *Portal, c *Call) (any, error) {
	if err := triggerAccess(c); err != nil {
		return nil, err
	}
	code, name := c.Params.String("CODE"), c.Params.String("NAME")
	if err := validTriggerCode(code); err != nil {
		return nil, err
	}
	if phpEmpty(name) {
		return nil, restError("Empty trigger name!")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if i := p.auto.trigger(code); i >= 0 {
		p.auto.triggers[i].Name = name
		return true, nil
	}
	p.auto.triggers = append(p.auto.triggers, TriggerInfo{Code: code, Name: name})
	return true, nil
}

func methodTriggerList(p *Portal, c *Call) (any, error) {
	if err := triggerAccess(c); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	rows := []any{}
	for _, t := range p.auto.triggers {
		row := newPHPArray()
		row.set("NAME", t.Name)
		row.set("CODE", t.Code)
		rows = append(rows, row)
	}
	return rows, nil
}

func methodTriggerDelete(p *Portal, c *Call) (any, error) {
	if err := triggerAccess(c); err != nil {
		return nil, err
	}
	code := c.Params.String("CODE")
	if err := validTriggerCode(code); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	i := p.auto.trigger(code)
	if i < 0 {
		return nil, restError("Trigger not found")
	}
	p.auto.triggers = slices.Delete(p.auto.triggers, i, i+1)
	return true, nil
}

// methodTriggerExecute checks, in the documented order, the code, that the
// trigger is registered, that OWNER_TYPE_ID is a CRM type and OWNER_ID > 0.
func methodTriggerExecute(p *Portal, c *Call) (any, error) {
	if err := triggerAccess(c); err != nil {
		return nil, err
	}
	code := c.Params.String("CODE")
	if err := validTriggerCode(code); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.auto.trigger(code) < 0 {
		return nil, restError("Trigger with code " + code + " is not registered.")
	}
	typeID, _ := c.Params.Int("OWNER_TYPE_ID")
	if !crmTypeDefined(typeID) {
		return nil, restError("Incorrect parameter OWNER_TYPE_ID.")
	}
	ownerID, _ := c.Params.Int("OWNER_ID")
	if ownerID <= 0 {
		return nil, restError("Incorrect parameter OWNER_ID.")
	}
	found := false
	if e := p.crm.entityByTypeID(typeID); e != nil {
		found = e.get(ownerID) != nil
	}
	p.auto.triggerRuns = append(p.auto.triggerRuns, TriggerRun{Code: code, OwnerTypeID: typeID, OwnerID: ownerID,
		UserID: c.User.ID, Found: found, Time: p.now()})
	return true, nil
}

// crmTypeDefined is CCrmOwnerType::IsDefined: the static types
// (api-reference/crm/auxiliary/enum/crm-enum-owner-type.md lists 1..39) and
// the smart-process range from 128.
func crmTypeDefined(id int) bool { return (id >= 1 && id <= 39) || (id >= 128 && id < 192) }

// trigger is the index of a registered code, or -1. Caller holds p.mu.
func (a *automationState) trigger(code string) int {
	return slices.IndexFunc(a.triggers, func(t TriggerInfo) bool { return t.Code == code })
}

// Triggers are the app's registered triggers, in registration order.
func (p *Portal) Triggers() []TriggerInfo {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.auto.triggers)
}

// TriggerRuns are the accepted trigger executions, direct or in a batch, in order.
func (p *Portal) TriggerRuns() []TriggerRun {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.auto.triggerRuns)
}
