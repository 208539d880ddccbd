package b24sim

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// TimelineEntry is one timeline record added through REST.
type TimelineEntry struct {
	ID           int
	Kind         string // "logmessage" (crm.timeline.logmessage.add) or "comment" (crm.timeline.comment.add)
	EntityTypeID int
	EntityID     int
	Title        string // log messages only
	Text         string // the log message's text, or the comment
	IconCode     string // log messages only
	AuthorID     int
	Created      time.Time
}

// Notification is one system notification (im.notify.system.add) a user has.
type Notification struct {
	ID         int
	UserID     int // the recipient
	AuthorID   int // the user whose token sent it
	Message    string
	MessageOut string
	Tag        string
	SubTag     string
	Attach     any // as sent (a JSON string decoded), nil when none
	Time       time.Time
}

const (
	logMessagePage = 10    // crm.timeline.logmessage.list: "The page size of results is always static: 10 entries"
	attachMaxChars = 60000 // im.notify.system.add: ATTACH_OVERSIZE beyond it
)

// errMissingParam is errRequired's code 100 with the text the controller gives.
func errMissingParam(desc string) *Error { return &Error{Status: 400, Code: "100", Description: desc} }

// exactField reads a key with its exact case: these controllers take
// "fields" in lower case only (crm-timeline-comment-add.md) and name the
// keys inside it as documented.
func exactField(m Params, key string) (string, bool) {
	v, ok := m[key]
	if !ok {
		return "", false
	}
	s := strings.TrimSpace(scalarString(v))
	return s, s != ""
}

func exactFields(c *Call) (Params, error) {
	f := asParams(c.Params["fields"])
	if f == nil {
		return nil, errMissingParam("Could not find value for parameter {fields}")
	}
	return f, nil
}

// timelineOwner is the record a timeline entry belongs to, or why not.
// Caller holds p.mu.
func (p *Portal) timelineOwner(c *Call, typeID, id int) error {
	var r *record
	e := p.crm.entityByTypeID(typeID)
	if e != nil {
		r = e.get(id)
	}
	if r == nil {
		return &Error{Status: 400, Code: "OWNER_NOT_FOUND", Description: "Owner of the item not found"}
	}
	if !readable(c, e, r) {
		return &Error{Status: 400, Code: "ACCESS_DENIED", Description: "Access denied"}
	}
	return nil
}

// methodLogMessageAdd follows
// api-reference/crm/timeline/logmessage/crm-timeline-logmessage-add.md:
// fields{entityTypeId, entityId, title, text, iconCode}, all required.
func methodLogMessageAdd(p *Portal, c *Call) (any, error) {
	f, err := exactFields(c)
	if err != nil {
		return nil, err
	}
	vals := map[string]string{}
	var missing []string
	for _, k := range []string{"entityTypeId", "entityId", "title", "text", "iconCode"} {
		v, ok := exactField(f, k)
		if !ok {
			missing = append(missing, k)
		}
		vals[k] = v
	}
	typeID, errT := strconv.Atoi(vals["entityTypeId"])
	entityID, errE := strconv.Atoi(vals["entityId"])
	if len(missing) > 0 || errT != nil || errE != nil {
		return nil, errMissingParam("Required fields are not provided: " + strings.Join(missing, ", "))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.timelineOwner(c, typeID, entityID); err != nil {
		return nil, err
	}
	e := p.addTimelineLocked(TimelineEntry{Kind: "logmessage", EntityTypeID: typeID, EntityID: entityID,
		Title: vals["title"], Text: vals["text"], IconCode: vals["iconCode"], AuthorID: c.User.ID})
	return map[string]any{"logMessage": p.renderLogMessage(e)}, nil
}

// methodLogMessageGet answers log messages only (not comments or system entries).
func methodLogMessageGet(p *Portal, c *Call) (any, error) {
	s, ok := exactField(c.Params, "id")
	if !ok {
		return nil, errMissingParam("Could not find value for parameter {id}")
	}
	id, _ := strconv.Atoi(s)
	p.mu.Lock()
	defer p.mu.Unlock()
	i := slices.IndexFunc(p.auto.timeline, func(e TimelineEntry) bool { return e.ID == id && e.Kind == "logmessage" })
	if i < 0 {
		return nil, &Error{Status: 400, Code: "NOT_FOUND", Description: fmt.Sprintf("Timeline logmessage not found for id %d", id)}
	}
	e := p.auto.timeline[i]
	if err := p.timelineOwner(c, e.EntityTypeID, e.EntityID); err != nil {
		return nil, err
	}
	return map[string]any{"logMessage": p.renderLogMessage(e)}, nil
}

// methodLogMessageList pages a record's log messages 10 at a time, newest
// first unless order says {"id"|"created": "asc"}.
func methodLogMessageList(p *Portal, c *Call) (any, error) {
	ts, okT := exactField(c.Params, "entityTypeId")
	is, okI := exactField(c.Params, "entityId")
	if !okT {
		return nil, errMissingParam("Could not find value for parameter {entityTypeId}")
	}
	if !okI {
		return nil, errMissingParam("Could not find value for parameter {entityId}")
	}
	typeID, _ := strconv.Atoi(ts)
	entityID, _ := strconv.Atoi(is)
	asc := false
	for k, v := range c.Params.Map("order") {
		if k == "id" || k == "created" {
			asc = strings.EqualFold(scalarString(v), "asc")
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var rows []any
	for _, e := range p.auto.timeline {
		if e.Kind == "logmessage" && e.EntityTypeID == typeID && e.EntityID == entityID {
			rows = append(rows, p.renderLogMessage(e))
		}
	}
	if len(rows) > 0 {
		if err := p.timelineOwner(c, typeID, entityID); err != nil {
			return nil, err
		}
	}
	if !asc {
		slices.Reverse(rows)
	}
	start := parseStart(c.Params)
	res := ListResult{Items: []any{}, Total: len(rows)}
	if start < len(rows) {
		end := min(start+logMessagePage, len(rows))
		res.Items = rows[start:end]
		if end < len(rows) {
			res.Next = end
		}
	}
	return res, nil
}

// commentOwnerTypes resolves ENTITY_TYPE ("lead", "deal", "contact",
// "company", "order", "dynamic_1046", ...; crm-timeline-comment-add.md).
var dynamicEntityType = regexp.MustCompile(`^DYNAMIC_([0-9]+)$`)

func commentOwnerType(name string) int {
	n := strings.ToUpper(strings.TrimSpace(name))
	switch n {
	case "LEAD":
		return 1
	case "DEAL":
		return 2
	case "CONTACT":
		return 3
	case "COMPANY":
		return 4
	case "QUOTE":
		return 7
	case "ORDER":
		return 14
	case "SMART_INVOICE":
		return 31
	}
	if m := dynamicEntityType.FindStringSubmatch(n); m != nil {
		id, _ := strconv.Atoi(m[1])
		return id
	}
	return 0
}

// methodCommentAdd follows
// api-reference/crm/timeline/comments/crm-timeline-comment-add.md:
// fields{ENTITY_ID, ENTITY_TYPE, COMMENT}, "fields" in lower case only; it
// answers the new entry's id.
func methodCommentAdd(p *Portal, c *Call) (any, error) {
	f, err := exactFields(c)
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, k := range []string{"ENTITY_ID", "ENTITY_TYPE", "COMMENT"} {
		if _, ok := f[k]; !ok {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return nil, errMissingParam("Required fields are not provided: " + strings.Join(missing, ", "))
	}
	comment, ok := exactField(f, "COMMENT")
	if !ok {
		return nil, &Error{Status: 400, Code: "INVALID_ARG_VALUE", Description: "Empty comment"}
	}
	typeID := commentOwnerType(scalarString(f["ENTITY_TYPE"]))
	if typeID == 0 {
		return nil, &Error{Status: 400, Code: "NOT_FOUND", Description: "Not found."}
	}
	entityID, _ := strconv.Atoi(strings.TrimSpace(scalarString(f["ENTITY_ID"])))
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.timelineOwner(c, typeID, entityID); err != nil {
		return nil, err
	}
	e := p.addTimelineLocked(TimelineEntry{Kind: "comment", EntityTypeID: typeID, EntityID: entityID,
		Text: comment, AuthorID: c.User.ID})
	return e.ID, nil
}

// addTimelineLocked numbers and keeps an entry. Caller holds p.mu.
func (p *Portal) addTimelineLocked(e TimelineEntry) TimelineEntry {
	e.ID = p.auto.nextEntry
	p.auto.nextEntry++
	e.Created = p.now()
	p.auto.timeline = append(p.auto.timeline, e)
	return e
}

// renderLogMessage is the logMessage object of the docs, in their key order.
func (p *Portal) renderLogMessage(e TimelineEntry) *phpArray {
	a := newPHPArray()
	a.set("id", e.ID)
	a.set("created", e.Created.In(p.crm.zone).Format(time.RFC3339))
	a.set("authorId", e.AuthorID)
	a.set("title", e.Title)
	a.set("text", e.Text)
	a.set("iconCode", e.IconCode)
	return a
}

// TimelineEntries are the log messages and comments added to one record, oldest first.
func (p *Portal) TimelineEntries(entityTypeID, entityID int) []TimelineEntry {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []TimelineEntry
	for _, e := range p.auto.timeline {
		if e.EntityTypeID == entityTypeID && e.EntityID == entityID {
			out = append(out, e)
		}
	}
	return out
}

// TimelineCount is how many timeline entries (log messages and comments)
// the portal holds.
func (p *Portal) TimelineCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.auto.timeline)
}

// methodNotifySystemAdd follows
// api-reference/chats/notifications/im-notify-system-add.md: USER_ID > 0
// (USER_ID_EMPTY), MESSAGE trimmed and not empty (MESSAGE_EMPTY), ATTACH an
// object with BLOCKS or a list of blocks, or such JSON (ATTACH_ERROR), at
// most 60,000 characters (ATTACH_OVERSIZE). A user who does not exist gets
// nothing: the answer is false. A TAG replaces the notifications with the same tag.
func methodNotifySystemAdd(p *Portal, c *Call) (any, error) {
	userID, _ := c.Params.Int("USER_ID")
	if userID <= 0 {
		return nil, &Error{Status: 400, Code: "USER_ID_EMPTY", Description: "User ID can't be empty"}
	}
	msg := strings.TrimSpace(c.Params.String("MESSAGE"))
	if msg == "" {
		return nil, &Error{Status: 400, Code: "MESSAGE_EMPTY", Description: "Message can't be empty"}
	}
	var attach any
	if v, ok := c.Params.lookup("ATTACH"); ok && !isEmptyValue(v) {
		a, err := parseAttach(v)
		if err != nil {
			return nil, err
		}
		attach = a
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.users[userID] == nil {
		return false, nil
	}
	tag := c.Params.String("TAG")
	if tag != "" {
		p.auto.notices = slices.DeleteFunc(p.auto.notices, func(n Notification) bool { return n.Tag == tag })
	}
	n := Notification{ID: p.auto.nextNotice, UserID: userID, AuthorID: c.User.ID, Message: msg,
		MessageOut: c.Params.String("MESSAGE_OUT"), Tag: tag, SubTag: c.Params.String("SUB_TAG"),
		Attach: attach, Time: p.now()}
	p.auto.nextNotice++
	p.auto.notices = append(p.auto.notices, n)
	return n.ID, nil
}

// parseAttach reads ATTACH: an object with BLOCKS, or a list of blocks
// (api-reference/chats/messages/attachments.md), or either as JSON text.
func parseAttach(v any) (any, error) {
	oversize := &Error{Status: 400, Code: "ATTACH_OVERSIZE", Description: "You have exceeded the maximum allowable size of attach"}
	bad := &Error{Status: 400, Code: "ATTACH_ERROR", Description: "Incorrect attach params"}
	if s, ok := v.(string); ok {
		if len([]rune(s)) > attachMaxChars {
			return nil, oversize
		}
		dec := json.NewDecoder(strings.NewReader(s))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			return nil, bad
		}
	} else if b, err := json.Marshal(v); err != nil || len([]rune(string(b))) > attachMaxChars {
		return nil, oversize
	}
	m := asParams(v)
	if m == nil {
		return nil, bad
	}
	blocks := m
	if !isList(m) {
		b, ok := m.lookup("BLOCKS")
		if blocks = asParams(b); !ok || blocks == nil || !isList(blocks) {
			return nil, bad
		}
	}
	for _, b := range asList(blocks) {
		if len(asParams(b)) == 0 {
			return nil, bad
		}
	}
	return plainValue(v), nil
}

// Notifications are the system notifications users have, oldest first.
func (p *Portal) Notifications() []Notification {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.auto.notices)
}

// WithoutMethod makes the portal answer a method as one that does not
// have it (404 ERROR_METHOD_NOT_FOUND): an older or on-premise portal,
// such as one without crm.timeline.logmessage.add.
func (p *Portal) WithoutMethod(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.methods, name)
}
