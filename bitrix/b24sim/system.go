package b24sim

import (
	"bytes"
	"encoding/json"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// registerSystemMethods adds the basic-scope methods: app.info, profile,
// user.admin, user.current, scope, server.time, app.option.*, event.*,
// placement.* and batch.
func (p *Portal) registerSystemMethods() {
	m := p.methods
	m["server.time"] = func(p *Portal, c *Call) (any, error) { return p.now().Format("2006-01-02T15:04:05-07:00"), nil }
	m["app.info"] = methodAppInfo
	m["profile"] = methodProfile
	m["user.admin"] = func(p *Portal, c *Call) (any, error) { return c.User != nil && c.User.Admin, nil }
	m["user.current"] = methodUserCurrent
	m["scope"] = methodScopeList
	m["app.option.get"] = methodAppOptionGet
	m["app.option.set"] = methodAppOptionSet
	m["event.bind"] = methodEventBind
	m["event.unbind"] = methodEventUnbind
	m["event.get"] = methodEventGet
	m["placement.bind"] = methodPlacementBind
	m["placement.unbind"] = methodPlacementUnbind
	m["placement.get"] = methodPlacementGet
	m["placement.list"] = methodPlacementList
	m["batch"] = methodBatch
}

func errAccessDenied() *Error {
	return errorf(403, "ACCESS_DENIED", "Access denied! Application administrator rights required")
}

func isAdmin(c *Call) bool { return c.User != nil && c.User.Admin }

func methodAppInfo(p *Portal, c *Call) (any, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	es := &p.events
	family, typ := "project", "project"
	if p.opts.Enterprise {
		family, typ = "ent", "ent250"
	}
	return map[string]any{
		"ID":              1,
		"CODE":            "segmentor.app",
		"VERSION":         es.version,
		"STATUS":          p.auth.status,
		"INSTALLED":       es.installed,
		"PAYMENT_EXPIRED": "N",
		"DAYS":            nil,
		"LANGUAGE_ID":     es.lang,
		"LICENSE":         es.lang + "_" + typ,
		"LICENSE_TYPE":    typ,
		"LICENSE_FAMILY":  family,
	}, nil
}

func methodProfile(p *Portal, c *Call) (any, error) {
	u := c.User
	return map[string]any{
		"ID":              strconv.Itoa(u.ID),
		"ADMIN":           u.Admin,
		"NAME":            u.Name,
		"LAST_NAME":       u.LastName,
		"PERSONAL_GENDER": "",
		"TIME_ZONE":       "",
	}, nil
}

func methodUserCurrent(p *Portal, c *Call) (any, error) {
	u := c.User
	return map[string]any{
		"ID":          strconv.Itoa(u.ID),
		"ACTIVE":      true,
		"NAME":        u.Name,
		"LAST_NAME":   u.LastName,
		"SECOND_NAME": "",
		"EMAIL":       "",
		"IS_ONLINE":   "Y",
		"TIME_ZONE":   "",
	}, nil
}

func methodScopeList(p *Portal, c *Call) (any, error) {
	if v := c.Params.String("full"); v == "Y" || v == "1" || v == "true" {
		return []string{"basic", "crm", "placement", "user", "user_basic", "user_brief", "entity", "im", "task", "bizproc", "catalog", "disk", "department", "pull", "telephony", "userfieldconfig"}, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.tokenScope(c.Token)...), nil
}

func methodAppOptionGet(p *Portal, c *Call) (any, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	es := &p.events
	if name := c.Params.String("option"); name != "" {
		return es.options[name], nil
	}
	out := newPHPArray()
	for _, k := range es.optOrder {
		out.set(k, es.options[k])
	}
	return out, nil
}

func methodAppOptionSet(p *Portal, c *Call) (any, error) {
	if !isAdmin(c) {
		return nil, errAccessDenied()
	}
	opts := c.Params.Map("options")
	if len(opts) == 0 {
		return nil, &Error{Status: 400, Code: "ERROR_ARGUMENT", Description: "Wrong arguments", Argument: "options"}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	es := &p.events
	for _, k := range sortedKeys(opts) {
		if _, ok := es.options[k]; !ok {
			es.optOrder = append(es.optOrder, k)
		}
		es.options[k] = opts[k]
	}
	return true, nil
}

// knownEvents are the event names event.bind accepts.
var knownEvents = func() map[string]bool {
	m := map[string]bool{}
	for _, n := range []string{"ONAPPINSTALL", "ONAPPUNINSTALL", "ONAPPUPDATE", "ONAPPPAYMENT", "ONAPPTEST",
		"ONAPPMETHODCONFIRM", "ONOFFLINEEVENT", "ONCRMDEALMOVETOCATEGORY", "ONUSERADD",
		"ONCRMADDRESSREGISTER", "ONCRMADDRESSUNREGISTER"} {
		m[n] = true
	}
	for _, e := range []string{"LEAD", "DEAL", "CONTACT", "COMPANY", "QUOTE", "INVOICE", "PRODUCT", "ACTIVITY", "DYNAMICITEM", "CURRENCY", "REQUISITE"} {
		for _, a := range []string{"ADD", "UPDATE", "DELETE"} {
			m["ONCRM"+e+a] = true
		}
	}
	for _, e := range []string{"LEAD", "DEAL", "CONTACT", "COMPANY"} {
		m["ONCRM"+e+"USERFIELDSETENUMVALUES"] = true
		for _, a := range []string{"ADD", "UPDATE", "DELETE"} {
			m["ONCRM"+e+"USERFIELD"+a] = true
		}
	}
	return m
}()

func errEventNotFound() *Error {
	return errorf(400, "ERROR_EVENT_NOT_FOUND", "Event not found")
}

func methodEventBind(p *Portal, c *Call) (any, error) {
	name := strings.ToUpper(strings.TrimSpace(c.Params.String("event")))
	if !knownEvents[name] {
		return nil, errEventNotFound()
	}
	offline := strings.EqualFold(c.Params.String("event_type"), "offline")
	handler := strings.TrimSpace(c.Params.String("handler"))
	authType, _ := c.Params.Int("auth_type")
	if offline {
		handler = ""
		if !isAdmin(c) {
			return nil, errAccessDenied()
		}
	} else if handler == "" {
		return nil, &Error{Status: 400, Code: "ERROR_ARGUMENT", Description: "Handler URL is required", Argument: "handler"}
	} else if u, err := url.Parse(handler); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errorf(400, "ERROR_WRONG_HANDLER_URL", "Wrong handler URL")
	}
	if authType != 0 && authType != c.User.ID && !isAdmin(c) {
		return nil, errAccessDenied()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	es := &p.events
	for _, b := range es.bindings {
		if b.event == name && b.handler == handler && b.authType == authType && b.offline == offline {
			return nil, errorf(400, "ERROR_HANDLER_ALREADY_EXIST", "Handler already exists!")
		}
	}
	es.bindings = append(es.bindings, &binding{id: es.nextID, event: name, handler: handler, authType: authType, offline: offline, owner: c.User.ID})
	es.nextID++
	return true, nil
}

func methodEventUnbind(p *Portal, c *Call) (any, error) {
	name := strings.ToUpper(strings.TrimSpace(c.Params.String("event")))
	if name == "" {
		return nil, errEventNotFound()
	}
	offline := strings.EqualFold(c.Params.String("event_type"), "offline")
	handler := strings.TrimSpace(c.Params.String("handler"))
	if !offline && handler == "" {
		return nil, &Error{Status: 400, Code: "ERROR_ARGUMENT", Description: "Handler URL is required", Argument: "handler"}
	}
	authType, hasAuthType := c.Params.Int("auth_type")
	p.mu.Lock()
	defer p.mu.Unlock()
	es := &p.events
	kept, count := es.bindings[:0], 0
	for _, b := range es.bindings {
		match := b.event == name && b.offline == offline && (offline || b.handler == handler) &&
			(!hasAuthType || b.authType == authType) && (isAdmin(c) || b.owner == c.User.ID)
		if match {
			count++
			continue
		}
		kept = append(kept, b)
	}
	es.bindings = kept
	return map[string]any{"count": count}, nil
}

func methodEventGet(p *Portal, c *Call) (any, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	rows := []any{}
	for _, b := range p.events.bindings {
		if !isAdmin(c) && b.owner != c.User.ID {
			continue
		}
		off := 0
		if b.offline {
			off = 1
		}
		rows = append(rows, map[string]any{"event": b.event, "handler": b.handler, "auth_type": strconv.Itoa(b.authType), "offline": off})
	}
	return rows, nil
}

// knownPlacements are the codes placement.bind accepts (besides CRM_DYNAMIC_*).
var knownPlacements = func() map[string]bool {
	m := map[string]bool{"LEFT_MENU": true, "REST_APP_URI": true, "PAGE_BACKGROUND_WORKER": true, "USER_PROFILE_MENU": true,
		"USER_PROFILE_TOOLBAR": true, "TASK_VIEW_TAB": true, "CALENDAR_GRIDVIEW": true, "TELEPHONY_ANALYTICS_MENU": true}
	for _, e := range []string{"LEAD", "DEAL", "CONTACT", "COMPANY", "QUOTE", "INVOICE", "SMART_INVOICE", "REQUISITE"} {
		for _, s := range []string{"_DETAIL_TAB", "_LIST_MENU", "_DETAIL_TOOLBAR", "_DETAIL_ACTIVITY", "_ACTIVITY_TIMELINE_MENU", "_LIST_TOOLBAR", "_DOCUMENTGENERATOR_BUTTON"} {
			m["CRM_"+e+s] = true
		}
	}
	return m
}()

func placementArgError(arg, desc string) *Error {
	// documented with HTTP 200: only the "error" key tells
	return &Error{Status: 200, Code: "ERROR_ARGUMENT", Description: desc, Argument: arg}
}

func methodPlacementBind(p *Portal, c *Call) (any, error) {
	if !isAdmin(c) {
		return nil, errAccessDenied()
	}
	code := strings.ToUpper(strings.TrimSpace(c.Params.String("PLACEMENT")))
	if code == "" || !(knownPlacements[code] || strings.HasPrefix(code, "CRM_DYNAMIC_")) {
		return nil, placementArgError("PLACEMENT", "Wrong value")
	}
	handler := strings.TrimSpace(c.Params.String("HANDLER"))
	if handler == "" {
		return nil, &Error{Status: 200, Code: "EMPTY_ERROR_HANDLER_URL", Description: "Empty handler URL"}
	}
	if u, err := url.Parse(handler); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, placementArgError("HANDLER", "Wrong handler URL")
	}
	pb := &placementBinding{
		placement:   code,
		handler:     handler,
		title:       c.Params.String("TITLE"),
		description: c.Params.String("DESCRIPTION"),
		groupName:   c.Params.String("GROUP_NAME"),
	}
	if v, ok := c.Params.lookup("LANG_ALL"); ok {
		pb.langAll = v
	}
	if v, ok := c.Params.lookup("OPTIONS"); ok {
		pb.options = v
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	es := &p.events
	for _, x := range es.placements {
		if x.placement == code && x.handler == handler {
			return nil, errorf(400, "ERROR_CORE", "Unable to set placement handler: Handler already binded")
		}
	}
	pb.id = es.nextID
	es.nextID++
	es.placements = append(es.placements, pb)
	return true, nil
}

func methodPlacementUnbind(p *Portal, c *Call) (any, error) {
	if !isAdmin(c) {
		return nil, errAccessDenied()
	}
	code := strings.ToUpper(strings.TrimSpace(c.Params.String("PLACEMENT")))
	if code == "" {
		return nil, placementArgError("PLACEMENT", "Wrong value")
	}
	handler := strings.TrimSpace(c.Params.String("HANDLER"))
	p.mu.Lock()
	defer p.mu.Unlock()
	es := &p.events
	kept, count := es.placements[:0], 0
	for _, x := range es.placements {
		if x.placement == code && (handler == "" || x.handler == handler) {
			count++
			continue
		}
		kept = append(kept, x)
	}
	es.placements = kept
	return map[string]any{"count": count}, nil
}

func methodPlacementGet(p *Portal, c *Call) (any, error) {
	if !isAdmin(c) {
		return nil, errAccessDenied()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	rows := []any{}
	for _, x := range p.events.placements {
		opts, lang := x.options, x.langAll
		if opts == nil {
			opts = newPHPArray()
		}
		if lang == nil {
			lang = newPHPArray()
		}
		rows = append(rows, map[string]any{
			"placement": x.placement, "handler": x.handler, "title": x.title,
			"description": x.description, "groupName": x.groupName, "options": opts, "langAll": lang,
		})
	}
	return rows, nil
}

func methodPlacementList(p *Portal, c *Call) (any, error) {
	var out []string
	for k := range knownPlacements {
		out = append(out, k)
	}
	sort.Strings(out)
	return out, nil
}

// phpArray is an ordered PHP array: [] when empty, a JSON list when its keys
// are 0..n-1 in order, an object otherwise.
type phpArray struct {
	keys []string
	vals map[string]any
}

func newPHPArray() *phpArray { return &phpArray{vals: map[string]any{}} }

func (a *phpArray) set(k string, v any) {
	if _, ok := a.vals[k]; !ok {
		a.keys = append(a.keys, k)
	}
	a.vals[k] = v
}

func (a *phpArray) Len() int { return len(a.keys) }

func (a *phpArray) MarshalJSON() ([]byte, error) {
	if len(a.keys) == 0 {
		return []byte("[]"), nil
	}
	list := true
	for i, k := range a.keys {
		if k != strconv.Itoa(i) {
			list = false
			break
		}
	}
	var b bytes.Buffer
	if list {
		b.WriteByte('[')
	} else {
		b.WriteByte('{')
	}
	for i, k := range a.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		if !list {
			kb, _ := json.Marshal(k)
			b.Write(kb)
			b.WriteByte(':')
		}
		vb, err := json.Marshal(a.vals[k])
		if err != nil {
			return nil, err
		}
		b.Write(vb)
	}
	if list {
		b.WriteByte(']')
	} else {
		b.WriteByte('}')
	}
	return b.Bytes(), nil
}

const maxBatch = 50

var resultRef = regexp.MustCompile(`\$result\[([^\[\]]+)\]((?:\[[^\[\]]*\])*)`)

// methodBatch runs up to 50 commands in order as the same user, with
// $result[...] references to earlier results (protocol §5).
func methodBatch(p *Portal, c *Call) (any, error) {
	names, cmds := batchCommands(c)
	if len(names) > maxBatch {
		return nil, errorf(400, "ERROR_BATCH_LENGTH_EXCEEDED", "Max batch length exceeded")
	}
	halt := false
	switch strings.ToLower(c.Params.String("halt")) {
	case "1", "y", "true":
		halt = true
	}
	res, errs, totals, nexts, times := newPHPArray(), newPHPArray(), newPHPArray(), newPHPArray(), newPHPArray()
	norm := map[string]any{} // JSON-normalized results, for references
	resolve := func(name string, path []string) (string, bool) {
		v, ok := norm[name]
		if !ok {
			raw, ok := res.vals[name]
			if !ok {
				return "", false
			}
			b, err := json.Marshal(raw)
			if err != nil {
				return "", false
			}
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.UseNumber()
			if dec.Decode(&v) != nil {
				return "", false
			}
			norm[name] = v
		}
		for _, seg := range path {
			switch t := v.(type) {
			case map[string]any:
				x, ok := t[seg]
				if !ok {
					for k, y := range t {
						if strings.EqualFold(k, seg) {
							x, ok = y, true
							break
						}
					}
				}
				if !ok {
					return "", false
				}
				v = x
			case []any:
				i, err := strconv.Atoi(seg)
				if err != nil || i < 0 || i >= len(t) {
					return "", false
				}
				v = t[i]
			default:
				return "", false
			}
		}
		switch t := v.(type) {
		case string:
			return t, true
		case json.Number:
			return t.String(), true
		case bool:
			if t {
				return "1", true
			}
			return "", true
		case nil:
			return "", true
		}
		return "", false
	}
	substitute := func(s string, escape bool) string {
		if !strings.Contains(s, "$result[") {
			return s
		}
		return resultRef.ReplaceAllStringFunc(s, func(ref string) string {
			m := resultRef.FindStringSubmatch(ref)
			var path []string
			if m[2] != "" {
				path = strings.Split(strings.TrimSuffix(strings.TrimPrefix(m[2], "["), "]"), "][")
			}
			v, ok := resolve(m[1], path)
			if !ok {
				return ref
			}
			if escape {
				return url.QueryEscape(v)
			}
			return v
		})
	}
	for i, name := range names {
		start := p.now()
		method, query, _ := strings.Cut(substitute(cmds[i], true), "?")
		method = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(method), ".json"))
		var err error
		var out any
		params := Params{}
		if vals, perr := parseQuery(query); perr != nil {
			err = errorf(400, "INVALID_REQUEST", "%v", perr)
		} else if perr := mergeForm(params, vals); perr != nil {
			err = errorf(400, "INVALID_REQUEST", "%v", perr)
		}
		delete(params, "auth")
		substParams(params, func(s string) string { return substitute(s, false) })
		if err == nil {
			if method == "batch" {
				err = errorf(405, "ERROR_BATCH_METHOD_NOT_ALLOWED", "Method is not allowed for batch usage")
			} else {
				out, err = p.invoke(&Call{Method: method, Params: params, User: c.User, Token: c.Token, InBatch: true})
			}
		}
		if c.Entry != nil {
			st, code := 200, ""
			if err != nil {
				e := asError(err)
				st, code = e.Status, e.Code
			}
			c.Entry.Commands = append(c.Entry.Commands, method)
			c.Entry.CommandNames = append(c.Entry.CommandNames, name)
			c.Entry.CommandParams = append(c.Entry.CommandParams, params)
			c.Entry.CommandStatus = append(c.Entry.CommandStatus, st)
			c.Entry.CommandErrors = append(c.Entry.CommandErrors, code)
		}
		if err != nil {
			errs.set(name, errBody(asError(err)))
			if halt {
				break
			}
			continue
		}
		if lr, ok := out.(ListResult); ok {
			res.set(name, lr.Items)
			totals.set(name, lr.Total)
			if lr.Next > 0 {
				nexts.set(name, lr.Next)
			}
		} else {
			res.set(name, out)
		}
		tb := p.timeBlock(method, start)
		times.set(name, tb)
	}
	return map[string]any{
		"result":       res,
		"result_error": errs,
		"result_total": totals,
		"result_next":  nexts,
		"result_time":  times,
	}, nil
}

// substParams applies f to every string value, recursively.
func substParams(ps Params, f func(string) string) {
	for k, v := range ps {
		switch t := v.(type) {
		case string:
			ps[k] = f(t)
		case Params:
			substParams(t, f)
		}
	}
}

// batchCommands returns the command names and strings of a batch in the
// order the client sent them (recovered from the raw request, since params
// are maps), or in natural order when the raw request is not at hand.
func batchCommands(c *Call) ([]string, []string) {
	v, ok := c.Params.lookup("cmd")
	if !ok {
		return nil, nil
	}
	if list, isList := v.([]any); isList {
		names := make([]string, len(list))
		cmds := make([]string, len(list))
		for i, x := range list {
			names[i], cmds[i] = strconv.Itoa(i), scalarString(x)
		}
		return names, cmds
	}
	m := asParams(v)
	if m == nil {
		return nil, nil
	}
	var order []string
	if c.Entry != nil {
		order = rawCmdOrder(c.Entry.rawBody, c.Entry.rawQuery)
	}
	seen := map[string]bool{}
	var names []string
	for _, n := range order {
		if _, ok := m[n]; ok && !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	var rest []string
	for k := range m {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	sort.Slice(rest, func(i, j int) bool { return naturalLess(rest[i], rest[j]) })
	names = append(names, rest...)
	cmds := make([]string, len(names))
	for i, n := range names {
		cmds[i] = scalarString(m[n])
	}
	return names, cmds
}

// naturalLess orders "p2" before "p10".
func naturalLess(a, b string) bool {
	ta, na := splitNum(a)
	tb, nb := splitNum(b)
	if ta != tb {
		return a < b
	}
	if na != nb {
		return na < nb
	}
	return a < b
}

func splitNum(s string) (string, int) {
	i := len(s)
	for i > 0 && s[i-1] >= '0' && s[i-1] <= '9' {
		i--
	}
	n, err := strconv.Atoi(s[i:])
	if err != nil {
		return s, -1
	}
	return s[:i], n
}

// rawCmdOrder reads the order of cmd's keys from a JSON body or form.
func rawCmdOrder(body []byte, query string) []string {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) > 0 && trimmed[0] == '{' {
		return jsonCmdOrder(trimmed)
	}
	var order []string
	for _, src := range []string{query, string(body)} {
		for _, pair := range strings.Split(src, "&") {
			k, _, _ := strings.Cut(pair, "=")
			key, err := url.QueryUnescape(k)
			if err != nil {
				continue
			}
			i := strings.IndexByte(key, '[')
			if i < 0 || !strings.EqualFold(key[:i], "cmd") {
				continue
			}
			if j := strings.IndexByte(key[i:], ']'); j > 0 {
				order = append(order, key[i+1:i+j])
			}
		}
	}
	return order
}

func jsonCmdOrder(body []byte) []string {
	dec := json.NewDecoder(bytes.NewReader(body))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil
		}
		key, _ := t.(string)
		if !strings.EqualFold(key, "cmd") {
			var skip json.RawMessage
			if dec.Decode(&skip) != nil {
				return nil
			}
			continue
		}
		if t, err := dec.Token(); err != nil || t != json.Delim('{') {
			return nil
		}
		var order []string
		for dec.More() {
			t, err := dec.Token()
			if err != nil {
				return order
			}
			k, _ := t.(string)
			order = append(order, k)
			var skip json.RawMessage
			if dec.Decode(&skip) != nil {
				return order
			}
		}
		return order
	}
	return nil
}
