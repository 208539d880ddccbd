package b24sim

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// RobotInfo is one robot the app registered (bizproc.robot.add).
type RobotInfo struct {
	Code    string
	Handler string
	// AuthUserID is whose token a call carries when the run names nobody.
	AuthUserID int
	// Name is the name given as a string, or the "en" one of a localized name.
	Name string
	// UseSubscription is "Y", "N" or "" as registered; only "N" does not
	// wait for bizproc.event.send (api-reference/bizproc/bizproc-robot/bizproc-robot-add.md).
	UseSubscription  string
	UsePlacement     bool
	PlacementHandler string
	Properties       []RobotProperty // by key
	ReturnProperties []RobotProperty // by key
	DocumentType     []string        // nil when not given
}

// RobotProperty is one entry of PROPERTIES or RETURN_PROPERTIES.
type RobotProperty struct {
	Key      string
	Name     string // as RobotInfo.Name
	Type     string
	Required bool
	Multiple bool
	Default  any
}

// RobotReply is one accepted bizproc.event.send. ReturnValues holds the
// values of registered RETURN_PROPERTIES under their registered keys (the
// workflow matches keys case-insensitively); Ignored lists the other keys sent.
type RobotReply struct {
	EventToken   string
	Code         string // the robot's
	DealID       int
	UserID       int // who called bizproc.event.send
	ReturnValues map[string]any
	Ignored      []string
	LogMessage   string
	Time         time.Time
}

type robot struct {
	RobotInfo
	filter Params
}

// robotCall is a robot run waiting for its answer.
type robotCall struct {
	code        string
	dealID      int
	wait        bool
	used        bool
	returnProps []RobotProperty
}

func (r *robot) clone() *robot {
	cp := *r
	cp.Properties = slices.Clone(r.Properties)
	cp.ReturnProperties = slices.Clone(r.ReturnProperties)
	cp.DocumentType = slices.Clone(r.DocumentType)
	return &cp
}

// robotCodePattern: "a-z, A-Z, 0-9, dot, hyphen, and underscore" (bizproc-robot-add.md).
var robotCodePattern = regexp.MustCompile(`^[a-zA-Z0-9.\-_]+$`)

// robotPropertyKey: "must start with a letter and can contain a-z, A-Z, 0-9, and underscore".
var robotPropertyKey = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_]*$`)

// robotDocumentTypes are DOCUMENT_TYPE's documented values; DYNAMIC_XXX below.
var robotDocumentTypes = [][3]string{
	{"crm", "CCrmDocumentLead", "LEAD"},
	{"crm", "CCrmDocumentDeal", "DEAL"},
	{"crm", `Bitrix\Crm\Integration\BizProc\Document\Quote`, "QUOTE"},
	{"crm", `Bitrix\Crm\Integration\BizProc\Document\SmartInvoice`, "SMART_INVOICE"},
}

var dynamicDocumentType = regexp.MustCompile(`^DYNAMIC_[0-9]+$`)

// robotFieldNames are the keys bizproc.robot.update's FIELDS may hold.
var robotFieldNames = []string{"HANDLER", "AUTH_USER_ID", "USE_SUBSCRIPTION", "NAME", "DESCRIPTION", "PROPERTIES",
	"RETURN_PROPERTIES", "DOCUMENT_TYPE", "FILTER", "USE_PLACEMENT", "PLACEMENT_HANDLER"}

func robotValidation(desc string) *Error {
	return &Error{Status: 400, Code: "ERROR_ACTIVITY_VALIDATION_FAILURE", Description: desc}
}

// robotAccess is the admin check of bizproc.robot.*: "Access denied!".
func robotAccess(c *Call) error {
	if !isAdmin(c) {
		return errorf(403, "ACCESS_DENIED", "Access denied!")
	}
	return nil
}

func validRobotCode(code string) error {
	if phpEmpty(code) {
		return robotValidation("Empty activity code!")
	}
	if !robotCodePattern.MatchString(code) {
		return robotValidation("Wrong activity code!")
	}
	return nil
}

// robot finds a registered robot. Caller holds p.mu.
func (a *automationState) robot(code string) *robot {
	for _, r := range a.robots {
		if r.Code == code {
			return r
		}
	}
	return nil
}

func methodRobotAdd(p *Portal, c *Call) (any, error) {
	if err := robotAccess(c); err != nil {
		return nil, err
	}
	if len(c.Params) == 0 {
		return nil, robotValidation("Empty data!")
	}
	code := c.Params.String("CODE")
	if err := validRobotCode(code); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	r := &robot{RobotInfo: RobotInfo{Code: code}}
	if err := p.applyRobotFields(r, c.Params, true); err != nil {
		return nil, err
	}
	if p.auto.robot(code) != nil {
		return nil, &Error{Status: 400, Code: "ERROR_ACTIVITY_ALREADY_INSTALLED", Description: "Activity or Automation rule already installed!"}
	}
	p.auto.robots = append(p.auto.robots, r)
	return true, nil
}

func methodRobotUpdate(p *Portal, c *Call) (any, error) {
	if err := robotAccess(c); err != nil {
		return nil, err
	}
	code := c.Params.String("CODE")
	if err := validRobotCode(code); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.auto.robot(code)
	if r == nil {
		return nil, &Error{Status: 400, Code: "ERROR_ACTIVITY_NOT_FOUND", Description: "Activity or Automation Rule not found!"}
	}
	fields := c.Params.Map("FIELDS")
	if !slices.ContainsFunc(robotFieldNames, fields.Has) {
		return nil, robotValidation("No fields to update")
	}
	nr := r.clone()
	if err := p.applyRobotFields(nr, fields, false); err != nil {
		return nil, err
	}
	*r = *nr
	return true, nil
}

func methodRobotList(p *Portal, c *Call) (any, error) {
	if err := robotAccess(c); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	codes := []string{}
	for _, r := range p.auto.robots {
		codes = append(codes, r.Code)
	}
	return codes, nil
}

func methodRobotDelete(p *Portal, c *Call) (any, error) {
	if err := robotAccess(c); err != nil {
		return nil, err
	}
	code := c.Params.String("CODE")
	if err := validRobotCode(code); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	i := slices.IndexFunc(p.auto.robots, func(r *robot) bool { return r.Code == code })
	if i < 0 {
		return nil, &Error{Status: 400, Code: "ERROR_ACTIVITY_NOT_FOUND", Description: "Activity or Robot not found!"}
	}
	p.auto.robots = slices.Delete(p.auto.robots, i, i+1)
	return true, nil
}

// applyRobotFields validates f into r in the order bizproc.robot.add checks
// them: HANDLER, NAME, PROPERTIES, RETURN_PROPERTIES, DOCUMENT_TYPE, FILTER,
// then the placement handler. adding: every field of add; else only those
// given (update). Caller holds p.mu.
func (p *Portal) applyRobotFields(r *robot, f Params, adding bool) error {
	if v, ok := f.lookup("HANDLER"); ok || adding {
		h := strings.TrimSpace(scalarString(v))
		if err := p.checkRobotHandler(h); err != nil {
			return err
		}
		r.Handler = h
	}
	if _, ok := f.lookup("AUTH_USER_ID"); ok {
		r.AuthUserID, _ = f.Int("AUTH_USER_ID")
	}
	if v, ok := f.lookup("USE_SUBSCRIPTION"); ok {
		r.UseSubscription = scalarString(v)
	}
	if v, ok := f.lookup("NAME"); ok || adding {
		if isEmptyValue(v) {
			return robotValidation("Empty activity NAME!")
		}
		r.Name = localizedText(v)
	}
	for _, k := range []string{"PROPERTIES", "RETURN_PROPERTIES"} {
		v, ok := f.lookup(k)
		if !ok {
			continue
		}
		props, err := parseRobotProperties(v)
		if err != nil {
			return err
		}
		if k == "PROPERTIES" {
			r.Properties = props
		} else {
			r.ReturnProperties = props
		}
	}
	if v, ok := f.lookup("DOCUMENT_TYPE"); ok {
		dt, err := parseDocumentType(v)
		if err != nil {
			return err
		}
		r.DocumentType = dt
	}
	if v, ok := f.lookup("FILTER"); ok {
		flt := asParams(v)
		if flt == nil || !validRobotFilter(flt) {
			return robotValidation("Wrong activity FILTER!")
		}
		r.filter = flt
	}
	if v, ok := f.lookup("PLACEMENT_HANDLER"); ok {
		r.PlacementHandler = strings.TrimSpace(scalarString(v))
	}
	if v, ok := f.lookup("USE_PLACEMENT"); ok {
		r.UsePlacement = scalarString(v) == "Y"
	}
	if r.UsePlacement {
		// "Required if USE_PLACEMENT = 'Y'"; it is checked like HANDLER.
		if err := p.checkRobotHandler(r.PlacementHandler); err != nil {
			return err
		}
	}
	return nil
}

// checkRobotHandler: an http(s) URL on the domain the app is installed
// from (bizproc-robot-add.md: "The link must have the same domain where the
// application is installed"). Without an Install the domain is not known
// and any host passes. Caller holds p.mu.
func (p *Portal) checkRobotHandler(h string) error {
	wrong := &Error{Status: 400, Code: "ERROR_WRONG_HANDLER_URL", Description: "Wrong handler URL"}
	u, err := url.Parse(h)
	if h == "" || err != nil || u.Host == "" {
		return wrong
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return &Error{Status: 400, Code: "ERROR_UNSUPPORTED_PROTOCOL", Description: "Unsupported handler protocol"}
	}
	if app := p.events.installURL; app != "" {
		if au, err := url.Parse(app); err == nil && !strings.EqualFold(au.Hostname(), u.Hostname()) {
			return wrong
		}
	}
	return nil
}

// parseRobotProperties reads PROPERTIES or RETURN_PROPERTIES: an object of
// objects with a NAME ("Name"; keys are case-insensitive) under keys that
// start with a letter.
func parseRobotProperties(v any) ([]RobotProperty, error) {
	m := asParams(v)
	if m == nil {
		return nil, robotValidation("Wrong properties array!")
	}
	var out []RobotProperty
	for _, key := range sortedKeys(m) {
		if !robotPropertyKey.MatchString(key) {
			return nil, robotValidation("Wrong property key " + key + "!")
		}
		prop := asParams(m[key])
		name, _ := prop.lookup("NAME")
		if isEmptyValue(name) {
			return nil, robotValidation("Empty property NAME " + key + "!")
		}
		def, _ := prop.lookup("DEFAULT")
		out = append(out, RobotProperty{
			Key:      key,
			Name:     localizedText(name),
			Type:     prop.String("TYPE"),
			Required: prop.String("REQUIRED") == "Y",
			Multiple: prop.String("MULTIPLE") == "Y",
			Default:  plainValue(def),
		})
	}
	return out, nil
}

func parseDocumentType(v any) ([]string, error) {
	wrong := robotValidation("Wrong activity DOCUMENT_TYPE!")
	list := asList(v)
	if len(list) != 3 {
		return nil, wrong
	}
	var dt [3]string
	for i, x := range list {
		s, ok := x.(string)
		if !ok {
			return nil, wrong
		}
		dt[i] = s
	}
	if slices.Contains(robotDocumentTypes, dt) ||
		(dt[0] == "crm" && dt[1] == `Bitrix\Crm\Integration\BizProc\Document\Dynamic` && dynamicDocumentType.MatchString(dt[2])) {
		return dt[:], nil
	}
	return nil, wrong
}

// validRobotFilter: only INCLUDE and EXCLUDE, each a list of rules, a rule
// being an edition ("b24", "box") or a full or partial document type.
func validRobotFilter(f Params) bool {
	for k, v := range f {
		if !strings.EqualFold(k, "INCLUDE") && !strings.EqualFold(k, "EXCLUDE") {
			return false
		}
		if asParams(v) == nil {
			return false
		}
		for _, rule := range asList(v) {
			switch t := rule.(type) {
			case string:
			case Params, map[string]any, []any:
				for _, part := range asList(t) {
					if _, ok := part.(string); !ok {
						return false
					}
				}
			default:
				return false
			}
		}
	}
	return true
}

// availableIn reports whether FILTER shows the robot for a document type on
// a cloud portal ("b24").
func (r *robot) availableIn(doc []string) bool {
	matches := func(rule any) bool {
		if s, ok := rule.(string); ok {
			return s == "b24"
		}
		parts := asList(rule)
		if len(parts) == 0 || len(parts) > len(doc) {
			return false
		}
		for i, x := range parts {
			if scalarString(x) != doc[i] {
				return false
			}
		}
		return true
	}
	rules := func(key string) (list []any, given bool) {
		v, ok := r.filter.lookup(key)
		return asList(v), ok
	}
	if inc, ok := rules("INCLUDE"); ok && !slices.ContainsFunc(inc, matches) {
		return false
	}
	exc, _ := rules("EXCLUDE")
	return !slices.ContainsFunc(exc, matches)
}

// isEmptyValue is PHP's empty() on a parameter.
func isEmptyValue(v any) bool {
	switch t := v.(type) {
	case nil:
		return true
	case string:
		return phpEmpty(t)
	case Params:
		return len(t) == 0
	case map[string]any:
		return len(t) == 0
	case []any:
		return len(t) == 0
	}
	return phpEmpty(scalarString(v))
}

// localizedText is a name given as a string, or the "en" entry (else the
// first by language) of a localized one.
func localizedText(v any) string {
	m := asParams(v)
	if m == nil {
		return scalarString(v)
	}
	if s, ok := m["en"]; ok {
		return scalarString(s)
	}
	if keys := sortedKeys(m); len(keys) > 0 {
		return scalarString(m[keys[0]])
	}
	return ""
}

// plainValue turns a parameter into strings, []any and map[string]any.
func plainValue(v any) any {
	switch t := v.(type) {
	case nil:
		return nil
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = plainValue(x)
		}
		return out
	case Params, map[string]any:
		m := asParams(t)
		if isList(m) {
			return plainValue(asList(m))
		}
		out := make(map[string]any, len(m))
		for k, x := range m {
			out[k] = plainValue(x)
		}
		return out
	}
	return scalarString(v)
}

// isList reports whether m's keys are 0..n-1, as a PHP list's are.
func isList(m Params) bool {
	for i := range len(m) {
		if !m.Has(strconv.Itoa(i)) {
			return false
		}
	}
	return len(m) > 0
}

// methodEventSend accepts the answer to a robot run once
// (api-reference/bizproc/bizproc-robot/bizproc-event-send.md: "EVENT_TOKEN
// must be valid and current"; 403 ACCESS_DENIED otherwise).
func methodEventSend(p *Portal, c *Call) (any, error) {
	token := c.Params.String("EVENT_TOKEN")
	p.mu.Lock()
	defer p.mu.Unlock()
	call := p.auto.calls[token]
	if call == nil || call.used || !call.wait {
		return nil, errorf(403, "ACCESS_DENIED", "Access denied!")
	}
	call.used = true
	reply := RobotReply{EventToken: token, Code: call.code, DealID: call.dealID, UserID: c.User.ID,
		ReturnValues: map[string]any{}, LogMessage: c.Params.String("LOG_MESSAGE"), Time: p.now()}
	for k, v := range c.Params.Map("RETURN_VALUES") {
		i := slices.IndexFunc(call.returnProps, func(rp RobotProperty) bool { return strings.EqualFold(rp.Key, k) })
		if i < 0 {
			reply.Ignored = append(reply.Ignored, k)
			continue
		}
		reply.ReturnValues[call.returnProps[i].Key] = plainValue(v)
	}
	sort.Strings(reply.Ignored)
	p.auto.replies = append(p.auto.replies, reply)
	return true, nil
}

// dealDocument is a deal's document type, as document_type[] carries it.
var dealDocument = []string{"crm", "CCrmDocumentDeal", "DEAL"}

// RunRobot runs a registered robot on a deal as CRM automation does
// (the robot placed on a stage, the deal entering it): it POSTs,
// form-encoded and synchronously, to the robot's HANDLER what Bitrix24's
// REST activity sends: workflow_id, code, document_id[0..2] (crm,
// CCrmDocumentDeal, DEAL_<id>), document_type[0..2] (crm, CCrmDocumentDeal,
// DEAL), event_token, properties[...] (each registered property: the given
// value, else its Default, else ""; a multiple one as properties[key][0]),
// use_subscription (Y unless the robot was registered with "N"),
// timeout_duration (0), ts, and auth[...] with access and refresh tokens of
// userID (0: the robot's AUTH_USER_ID, else the installing user) and the
// current application_token. The returned event token is accepted once by
// bizproc.event.send when the robot waits for an answer. The error tells
// why nothing was sent, or that the handler did not answer 2xx (the token
// then stands all the same).
func (p *Portal) RunRobot(ctx context.Context, code string, dealID int, userID int, properties map[string]string) (eventToken string, err error) {
	p.mu.Lock()
	r := p.auto.robot(code)
	switch {
	case r == nil:
		p.mu.Unlock()
		return "", fmt.Errorf("b24sim: run robot %q: not registered", code)
	case !p.events.installed:
		p.mu.Unlock()
		return "", ErrNotInstalled
	case p.crm.deal.get(dealID) == nil:
		p.mu.Unlock()
		return "", fmt.Errorf("b24sim: run robot %q: no deal %d", code, dealID)
	case !r.availableIn(dealDocument):
		p.mu.Unlock()
		return "", fmt.Errorf("b24sim: run robot %q: its FILTER hides it from deals", code)
	}
	user := userID
	if user == 0 {
		user = r.AuthUserID
	}
	if user == 0 {
		user = p.events.installUser
	}
	if p.users[user] == nil {
		p.mu.Unlock()
		return "", fmt.Errorf("b24sim: run robot %q: no user %d", code, user)
	}
	props, err := robotPropertiesKV(r, properties)
	if err != nil {
		p.mu.Unlock()
		return "", fmt.Errorf("b24sim: run robot %q: %w", code, err)
	}
	workflowID := fmt.Sprintf("%s.%08d", p.randHex(14), p.rng.IntN(100000000))
	activity := fmt.Sprintf("A%05d_%05d_%05d_%05d", p.rng.IntN(100000), p.rng.IntN(100000), p.rng.IntN(100000), p.rng.IntN(100000))
	token := workflowID + "|" + activity + "|" + p.randToken(32) + "." + p.randHex(64)
	wait := r.UseSubscription != "N"
	subscription := "N"
	if wait {
		subscription = "Y"
	}
	doc := strconv.Itoa(dealID)
	before := []kv{
		{"workflow_id", workflowID},
		{"code", r.Code},
		{"document_id[0]", "crm"}, {"document_id[1]", "CCrmDocumentDeal"}, {"document_id[2]", "DEAL_" + doc},
		{"document_type[0]", dealDocument[0]}, {"document_type[1]", dealDocument[1]}, {"document_type[2]", dealDocument[2]},
		{"event_token", token},
	}
	before = append(before, props...)
	before = append(before, kv{"use_subscription", subscription}, kv{"timeout_duration", "0"})
	d := delivery{url: r.Handler, before: before, after: p.authKVLocked(user, true, true)}
	p.auto.calls[token] = &robotCall{code: r.Code, dealID: dealID, wait: wait, returnProps: slices.Clone(r.ReturnProperties)}
	client := p.events.client
	p.mu.Unlock()

	if err := p.post(ctx, client, d.url, p.deliveryBody(d)); err != nil {
		return token, fmt.Errorf("b24sim: run robot %q: %w", code, err)
	}
	return token, nil
}

// robotPropertiesKV renders properties[...] for a run; a property the robot
// does not have, or a required one left empty, is refused (the automation
// editor does not save such a robot).
func robotPropertiesKV(r *robot, given map[string]string) ([]kv, error) {
	for k := range given {
		if !slices.ContainsFunc(r.Properties, func(rp RobotProperty) bool { return rp.Key == k }) {
			return nil, fmt.Errorf("the robot has no property %q", k)
		}
	}
	var out []kv
	for _, rp := range r.Properties {
		var vals []string
		if v, ok := given[rp.Key]; ok {
			vals = []string{v}
		} else if list, ok := rp.Default.([]any); ok {
			for _, x := range list {
				vals = append(vals, scalarString(x))
			}
		} else if s, ok := rp.Default.(string); ok {
			vals = []string{s}
		}
		if rp.Required && (len(vals) == 0 || vals[0] == "") {
			return nil, fmt.Errorf("property %q is required", rp.Key)
		}
		if !rp.Multiple {
			v := ""
			if len(vals) > 0 {
				v = vals[0]
			}
			out = append(out, kv{"properties[" + rp.Key + "]", v})
			continue
		}
		for i, v := range vals {
			out = append(out, kv{"properties[" + rp.Key + "][" + strconv.Itoa(i) + "]", v})
		}
	}
	return out, nil
}

// Robots are the app's registered robots, in registration order.
func (p *Portal) Robots() []RobotInfo {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]RobotInfo, len(p.auto.robots))
	for i, r := range p.auto.robots {
		out[i] = r.clone().RobotInfo
	}
	return out
}

// RobotReplies are the accepted bizproc.event.send calls, in order.
func (p *Portal) RobotReplies() []RobotReply {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.auto.replies)
}
