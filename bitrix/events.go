package bitrix

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Event names Segmentor handles (protocol §7). Names arrive in upper case;
// ParseEvent upper-cases whatever it gets.
const (
	EventContactAdd         = "ONCRMCONTACTADD"
	EventContactUpdate      = "ONCRMCONTACTUPDATE"
	EventContactDelete      = "ONCRMCONTACTDELETE"
	EventCompanyAdd         = "ONCRMCOMPANYADD"
	EventCompanyUpdate      = "ONCRMCOMPANYUPDATE"
	EventCompanyDelete      = "ONCRMCOMPANYDELETE"
	EventDealAdd            = "ONCRMDEALADD"
	EventDealUpdate         = "ONCRMDEALUPDATE"
	EventDealDelete         = "ONCRMDEALDELETE"
	EventDealMoveToCategory = "ONCRMDEALMOVETOCATEGORY"
	EventLeadAdd            = "ONCRMLEADADD"
	EventLeadUpdate         = "ONCRMLEADUPDATE"
	EventLeadDelete         = "ONCRMLEADDELETE"
	EventAppInstall         = "ONAPPINSTALL"
	EventAppUpdate          = "ONAPPUPDATE"
	EventAppUninstall       = "ONAPPUNINSTALL"
	EventAppTest            = "ONAPPTEST"
	EventOfflineEvent       = "ONOFFLINEEVENT"
)

// crmEvents maps CRM record events to their entity and action.
var crmEvents = map[string][2]string{
	EventContactAdd: {"contact", "add"}, EventContactUpdate: {"contact", "update"}, EventContactDelete: {"contact", "delete"},
	EventCompanyAdd: {"company", "add"}, EventCompanyUpdate: {"company", "update"}, EventCompanyDelete: {"company", "delete"},
	EventDealAdd: {"deal", "add"}, EventDealUpdate: {"deal", "update"}, EventDealDelete: {"deal", "delete"},
	EventDealMoveToCategory: {"deal", "movetocategory"},
	EventLeadAdd:            {"lead", "add"}, EventLeadUpdate: {"lead", "update"}, EventLeadDelete: {"lead", "delete"},
}

// EventAuth is the auth[...] block of an event. AccessToken is absent when
// an automation rule, workflow or agent caused the event; RefreshToken
// comes only with ONAPPINSTALL and ONOFFLINEEVENT; ONAPPUNINSTALL has no
// tokens at all.
type EventAuth struct {
	AccessToken      string
	RefreshToken     string
	Expires          time.Time // auth[expires], when sent
	ExpiresIn        int
	Scope            string
	Domain           string // portal host as sent; never use it for calls
	ServerEndpoint   string
	ClientEndpoint   string
	Status           string
	MemberID         string
	UserID           ID
	ApplicationToken string
}

// Event is one event notification POSTed by Bitrix24.
type Event struct {
	Name      string // upper case, e.g. ONCRMDEALUPDATE
	HandlerID ID     // event_handler_id, when sent
	Time      time.Time
	Auth      EventAuth

	// RecordID is data[FIELDS][ID] of CRM record events.
	RecordID ID
	// CategoryID and StageID come with ONCRMDEALMOVETOCATEGORY.
	CategoryID  ID
	HasCategory bool
	StageID     string

	// Application events (ONAPPINSTALL, ONAPPUPDATE, ONAPPUNINSTALL). The
	// versions are strings as the vendor names them ("2", "2.1.0"):
	// api-reference/common/events/on-app-update.md.
	Version         string
	PreviousVersion string
	Active          bool
	Installed       bool
	LanguageID      string
	Clean           bool // ONAPPUNINSTALL: the admin chose to delete app data

	// Data holds every data[...] value, keys joined by dots:
	// data[FIELDS][ID] → "FIELDS.ID".
	Data map[string]string
}

// Entity returns the CRM entity of a record event ("deal", "contact",
// "company", "lead") and its action ("add", "update", "delete",
// "movetocategory"); empty for other events.
func (e *Event) Entity() (entity, action string) {
	ea := crmEvents[e.Name]
	return ea[0], ea[1]
}

// Verify reports, in constant time, whether the event carries the
// application token stored for its portal.
func (e *Event) Verify(storedApplicationToken string) bool {
	return VerifyApplicationToken(e.Auth.ApplicationToken, storedApplicationToken)
}

// Token returns the grant an event carries (ONAPPINSTALL, ONOFFLINEEVENT),
// or nil when it has no access token.
func (e *Event) Token() *Token {
	a := e.Auth
	if a.AccessToken == "" {
		return nil
	}
	t := &Token{MemberID: a.MemberID, AccessToken: a.AccessToken, RefreshToken: a.RefreshToken,
		Expiry: a.Expires, ClientEndpoint: a.ClientEndpoint, ServerEndpoint: a.ServerEndpoint,
		Domain: a.Domain, Scope: a.Scope, Status: a.Status, UserID: a.UserID}
	if t.Expiry.IsZero() && a.ExpiresIn > 0 && !e.Time.IsZero() {
		t.Expiry = e.Time.Add(time.Duration(a.ExpiresIn) * time.Second)
	}
	return t
}

// ParseEventRequest is ParseEvent on an *http.Request's form body.
func ParseEventRequest(r *http.Request) (*Event, error) {
	_, body, err := readForm(r)
	if err != nil {
		return nil, err
	}
	return ParseEvent(body)
}

// ParseEvent reads an event POST (form-encoded, nested keys in brackets).
// Required: event, auth[member_id], auth[application_token] (the only
// authenticity check there is), and data[FIELDS][ID] for CRM record events.
// It does not check the application token; call Event.Verify.
func ParseEvent(form url.Values) (*Event, error) {
	p := &problems{kind: "event"}
	get := func(k string) string { return strings.TrimSpace(form.Get(k)) }
	e := &Event{Name: strings.ToUpper(get("event")), Data: map[string]string{}}

	if e.Name == "" {
		p.add("event", "required")
	} else if !validEventName(e.Name) {
		p.add("event", "invalid name %q", e.Name)
	}
	optInt := func(field string, dst *int) {
		if v := get(field); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				p.add(field, "expected a non-negative integer, got %q", v)
				return
			}
			*dst = n
		}
	}
	optID := func(field string, dst *ID) bool {
		v := get(field)
		if v == "" {
			return false
		}
		id, err := ParseID(v)
		if err != nil || id < 0 {
			p.add(field, "expected an id, got %q", v)
			return false
		}
		*dst = id
		return true
	}
	optUnix := func(field string, dst *time.Time) {
		var n int
		optInt(field, &n)
		if n > 0 {
			*dst = time.Unix(int64(n), 0).UTC()
		}
	}
	optVersion := func(field string, dst *string) {
		if v := get(field); v != "" {
			if !validVersion(v) {
				p.add(field, "expected a version such as 2 or 2.1.0, got %q", v)
				return
			}
			*dst = v
		}
	}
	optBool := func(field string, dst *bool) {
		if v := get(field); v != "" {
			b, err := parseBool(v)
			if err != nil {
				p.add(field, "expected Y/N or 1/0, got %q", v)
				return
			}
			*dst = b
		}
	}

	optID("event_handler_id", &e.HandlerID)
	optUnix("ts", &e.Time)

	a := &e.Auth
	a.AccessToken = get("auth[access_token]")
	a.RefreshToken = get("auth[refresh_token]")
	a.Scope = get("auth[scope]")
	a.Domain = get("auth[domain]")
	a.ServerEndpoint = get("auth[server_endpoint]")
	a.ClientEndpoint = get("auth[client_endpoint]")
	a.Status = get("auth[status]")
	a.MemberID = get("auth[member_id]")
	a.ApplicationToken = get("auth[application_token]")
	optUnix("auth[expires]", &a.Expires)
	optInt("auth[expires_in]", &a.ExpiresIn)
	optID("auth[user_id]", &a.UserID)

	if !validMemberID(a.MemberID) {
		if a.MemberID == "" {
			p.add("auth[member_id]", "required")
		} else {
			p.add("auth[member_id]", "invalid %q", a.MemberID)
		}
	}
	if a.ApplicationToken == "" {
		p.add("auth[application_token]", "required")
	}
	for _, fv := range [][2]string{{"auth[access_token]", a.AccessToken}, {"auth[refresh_token]", a.RefreshToken}, {"auth[application_token]", a.ApplicationToken}} {
		if !validToken(fv[1]) {
			p.add(fv[0], "invalid token")
		}
	}
	if a.Domain != "" && !validHost(a.Domain) {
		p.add("auth[domain]", "not a host name: %q", a.Domain)
	}
	for _, fv := range [][2]string{{"auth[client_endpoint]", a.ClientEndpoint}, {"auth[server_endpoint]", a.ServerEndpoint}} {
		if fv[1] != "" && !validURL(fv[1]) {
			p.add(fv[0], "not a URL: %q", fv[1])
		}
	}

	for k, vs := range form {
		if strings.HasPrefix(k, "data[") && strings.HasSuffix(k, "]") && len(vs) > 0 {
			inner := k[len("data[") : len(k)-1]
			e.Data[strings.ReplaceAll(inner, "][", ".")] = vs[0]
		}
	}

	if _, ok := crmEvents[e.Name]; ok {
		switch v := get("data[FIELDS][ID]"); {
		case v == "":
			p.add("data[FIELDS][ID]", "required for %s", e.Name)
		default:
			id, err := ParseID(v)
			if err != nil || id <= 0 {
				p.add("data[FIELDS][ID]", "expected a positive id, got %q", v)
			}
			e.RecordID = id
		}
	}
	if e.Name == EventDealMoveToCategory {
		e.HasCategory = optID("data[FIELDS][CATEGORY_ID]", &e.CategoryID)
		e.StageID = get("data[FIELDS][STAGE_ID]")
		if !e.HasCategory && get("data[FIELDS][CATEGORY_ID]") == "" {
			p.add("data[FIELDS][CATEGORY_ID]", "required for %s", e.Name)
		}
	}
	switch e.Name {
	case EventAppInstall, EventAppUpdate, EventAppUninstall:
		optVersion("data[VERSION]", &e.Version)
		optVersion("data[PREVIOUS_VERSION]", &e.PreviousVersion)
		optBool("data[ACTIVE]", &e.Active)
		optBool("data[INSTALLED]", &e.Installed)
		optBool("data[CLEAN]", &e.Clean)
		e.LanguageID = get("data[LANGUAGE_ID]")
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	return e, nil
}

// validVersion accepts an application version as Bitrix24 names it: up to
// 32 letters, digits, dots, dashes, underscores and pluses.
func validVersion(s string) bool {
	if len(s) > 32 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_' || r == '+') {
			return false
		}
	}
	return true
}

func validEventName(s string) bool {
	if len(s) > 100 {
		return false
	}
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}
