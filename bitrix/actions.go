package bitrix

import (
	"net/http"
	"strconv"
	"strings"
)

// Automation is the CRM's automation triggers (api-reference/crm/automation/
// triggers/): an app's trigger, once added, is a start condition admins use
// in a stage's automation rules; executing it on a record starts them.
// Bitrix24 runs automation rules for leads, deals, quotes, invoices and
// smart processes, not for contacts or companies.
var Automation automation

type automation struct{}

// AddTrigger is crm.automation.trigger.add: CODE is [a-z0-9.-_].
func (automation) AddTrigger(name, code, title string) Command {
	return Cmd(name, "crm.automation.trigger.add", map[string]any{"CODE": code, "NAME": title})
}

// Triggers is crm.automation.trigger.list: the app's triggers.
func (automation) Triggers(name string) Command { return Cmd(name, "crm.automation.trigger.list", nil) }

// DeleteTrigger is crm.automation.trigger.delete.
func (automation) DeleteTrigger(name, code string) Command {
	return Cmd(name, "crm.automation.trigger.delete", map[string]any{"CODE": code})
}

// Execute is crm.automation.trigger.execute on one record (ownerType as
// Entity.TypeID); inside a batch each counts as its own call.
func (automation) Execute(name, code string, ownerType int, ownerID int64) Command {
	return Cmd(name, "crm.automation.trigger.execute", map[string]any{"CODE": code, "OWNER_TYPE_ID": ownerType, "OWNER_ID": ownerID})
}

// TriggerInfo is one row of crm.automation.trigger.list.
type TriggerInfo struct {
	Code string `json:"CODE"`
	Name string `json:"NAME"`
}

// Timeline is the record's timeline (api-reference/crm/timeline/).
var Timeline timeline

type timeline struct{}

// LogMessage is crm.timeline.logmessage.add: a log entry on a record's
// timeline (lower-case fields, all five required, as its page says; icon
// is a code of crm.timeline.icon.list, such as "info").
func (timeline) LogMessage(name string, ownerType int, ownerID int64, title, text, icon string) Command {
	fields := map[string]any{"entityTypeId": ownerType, "entityId": ownerID, "title": title, "text": text, "iconCode": icon}
	return Cmd(name, "crm.timeline.logmessage.add", map[string]any{"fields": fields})
}

// Comment is crm.timeline.comment.add: a comment on a record's timeline,
// for a portal without log messages.
func (timeline) Comment(name string, e Entity, ownerID int64, text string) Command {
	return Cmd(name, "crm.timeline.comment.add", map[string]any{"fields": map[string]any{
		"ENTITY_ID": ownerID, "ENTITY_TYPE": string(e), "COMMENT": text}})
}

// Notify is Bitrix24's notifications (api-reference/chats/notifications/).
var Notify notify

type notify struct{}

// System is im.notify.system.add: a system notification to one user;
// scope im.
func (notify) System(name string, userID int64, message, tag string) Command {
	p := map[string]any{"USER_ID": userID, "MESSAGE": message}
	if tag != "" {
		p["TAG"] = tag
	}
	return Cmd(name, "im.notify.system.add", p)
}

// Robots is the business process robots (api-reference/bizproc/bizproc-robot/).
var Robots robots

type robots struct{}

// Add is bizproc.robot.add with params as its page lists them.
func (robots) Add(name string, params map[string]any) Command {
	return Cmd(name, "bizproc.robot.add", params)
}

// List is bizproc.robot.list: the app's robots' codes.
func (robots) List(name string) Command { return Cmd(name, "bizproc.robot.list", nil) }

// Reply is bizproc.event.send: a robot's answer to the workflow that
// called it, by the call's event token.
func (robots) Reply(name, eventToken string, values map[string]any, log string) Command {
	p := map[string]any{"EVENT_TOKEN": eventToken, "RETURN_VALUES": values}
	if log != "" {
		p["LOG_MESSAGE"] = log
	}
	return Cmd(name, "bizproc.event.send", p)
}

// RobotCall is a robot's call POSTed by Bitrix24 to its handler: the
// workflow waits for bizproc.event.send with EventToken.
type RobotCall struct {
	Code       string
	WorkflowID string
	EventToken string
	// Document is document_id: module, class and "DEAL_42".
	Document   [3]string
	Properties map[string]string
	Auth       EventAuth
}

// DealID is the deal the robot runs for; 0 when it runs for another
// document.
func (r *RobotCall) DealID() int64 {
	id, ok := strings.CutPrefix(r.Document[2], "DEAL_")
	if !ok || r.Document[1] != "CCrmDocumentDeal" {
		return 0
	}
	n, err := ParseID(id)
	if err != nil || n <= 0 {
		return 0
	}
	return int64(n)
}

// Verify reports, in constant time, whether the call carries the
// application token stored for its portal (a robot call is authenticated
// as events are: bizproc-robot-add.md, protocol §12.4).
func (r *RobotCall) Verify(storedApplicationToken string) bool {
	return VerifyApplicationToken(r.Auth.ApplicationToken, storedApplicationToken)
}

// ParseRobotCall reads a robot call's form: required code, event_token,
// document_id[0..2], auth[member_id] and auth[application_token].
func ParseRobotCall(r *http.Request) (*RobotCall, error) {
	_, form, err := readForm(r)
	if err != nil {
		return nil, err
	}
	f := eventForm{form: form, p: &problems{kind: "robot call"}}
	c := &RobotCall{Code: f.get("code"), WorkflowID: f.get("workflow_id"), EventToken: f.get("event_token"), Properties: map[string]string{}}
	for i := range c.Document {
		c.Document[i] = f.get("document_id[" + strconv.Itoa(i) + "]")
	}
	for k, vs := range form {
		if strings.HasPrefix(k, "properties[") && strings.HasSuffix(k, "]") && len(vs) > 0 {
			c.Properties[k[len("properties["):len(k)-1]] = vs[0]
		}
	}
	f.auth(&c.Auth)
	for k, v := range map[string]string{"code": c.Code, "event_token": c.EventToken, "document_id[2]": c.Document[2]} {
		if v == "" {
			f.p.add(k, "required")
		}
	}
	if err := f.p.err(); err != nil {
		return nil, err
	}
	return c, nil
}
