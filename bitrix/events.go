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
	EventActivityAdd        = "ONCRMACTIVITYADD"
	EventActivityUpdate     = "ONCRMACTIVITYUPDATE"
	EventActivityDelete     = "ONCRMACTIVITYDELETE"
	EventRequisiteAdd       = "ONCRMREQUISITEADD"
	EventRequisiteUpdate    = "ONCRMREQUISITEUPDATE"
	EventRequisiteDelete    = "ONCRMREQUISITEDELETE"
	EventAddressRegister    = "ONCRMADDRESSREGISTER"
	EventAddressUnregister  = "ONCRMADDRESSUNREGISTER"
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
	// Activity events carry only the activity's ID
	// (api-reference/crm/timeline/activities/events/).
	EventActivityAdd: {"activity", "add"}, EventActivityUpdate: {"activity", "update"}, EventActivityDelete: {"activity", "delete"},
	// Requisite events carry only the requisite's ID
	// (api-reference/crm/requisites/events/).
	EventRequisiteAdd: {"requisite", "add"}, EventRequisiteUpdate: {"requisite", "update"}, EventRequisiteDelete: {"requisite", "delete"},
}

// addressEvents are the events of requisites' and leads' addresses. An
// address has no ID: data[FIELDS] carries its key (TYPE_ID,
// ENTITY_TYPE_ID, ENTITY_ID) and its anchor, the contact or company (or
// lead) it is of (api-reference/crm/requisites/events/index.md). Either
// changes its requisite's addresses: Entity names the requisite.
var addressEvents = map[string]bool{EventAddressRegister: true, EventAddressUnregister: true}

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

	// RecordID is data[FIELDS][ID] of CRM record events; of an address
	// event, the ID of what holds the address, data[FIELDS][ENTITY_ID].
	RecordID ID
	// AddressOf is, for an address event, the type of what holds the
	// address (data[FIELDS][ENTITY_TYPE_ID]: AddressOfRequisite, or a
	// lead's 1); Anchor is the contact or company (or lead) it is of.
	AddressOf  ID
	AnchorType ID
	AnchorID   ID
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
// "company", "lead", "activity", "requisite") and its action ("add",
// "update", "delete", "movetocategory"); empty for other events. An event
// of a requisite's address is an update of its requisite (RecordID); of a
// lead's, an update of the lead.
func (e *Event) Entity() (entity, action string) {
	if addressEvents[e.Name] {
		switch e.AddressOf {
		case AddressOfRequisite:
			return "requisite", "update"
		case 1:
			return "lead", "update"
		}
		return "", ""
	}
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
	f := eventForm{form: form, p: &problems{kind: "event"}}
	e := &Event{Name: strings.ToUpper(f.get("event")), Data: map[string]string{}}
	if e.Name == "" {
		f.p.add("event", "required")
	} else if !validEventName(e.Name) {
		f.p.add("event", "invalid name %q", e.Name)
	}
	f.id("event_handler_id", &e.HandlerID)
	f.unix("ts", &e.Time)
	f.auth(&e.Auth)
	for k, vs := range form {
		if strings.HasPrefix(k, "data[") && strings.HasSuffix(k, "]") && len(vs) > 0 {
			inner := k[len("data[") : len(k)-1]
			e.Data[strings.ReplaceAll(inner, "][", ".")] = vs[0]
		}
	}
	f.record(e)
	if err := f.p.err(); err != nil {
		return nil, err
	}
	return e, nil
}

// eventForm reads an event's form fields, noting each problem it finds.
type eventForm struct {
	form url.Values
	p    *problems
}

func (f eventForm) get(k string) string { return strings.TrimSpace(f.form.Get(k)) }

func (f eventForm) int(field string, dst *int) {
	if v := f.get(field); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			f.p.add(field, "expected a non-negative integer, got %q", v)
			return
		}
		*dst = n
	}
}

// id reads an optional id; it reports whether one was there and valid.
func (f eventForm) id(field string, dst *ID) bool {
	v := f.get(field)
	if v == "" {
		return false
	}
	id, err := ParseID(v)
	if err != nil || id < 0 {
		f.p.add(field, "expected an id, got %q", v)
		return false
	}
	*dst = id
	return true
}

func (f eventForm) unix(field string, dst *time.Time) {
	var n int
	f.int(field, &n)
	if n > 0 {
		*dst = time.Unix(int64(n), 0).UTC()
	}
}

func (f eventForm) version(field string, dst *string) {
	if v := f.get(field); v != "" {
		if !validVersion(v) {
			f.p.add(field, "expected a version such as 2 or 2.1.0, got %q", v)
			return
		}
		*dst = v
	}
}

func (f eventForm) bool(field string, dst *bool) {
	if v := f.get(field); v != "" {
		b, err := parseBool(v)
		if err != nil {
			f.p.add(field, "expected Y/N or 1/0, got %q", v)
			return
		}
		*dst = b
	}
}

// auth reads and checks the auth[...] fields every event carries.
func (f eventForm) auth(a *EventAuth) {
	a.AccessToken = f.get("auth[access_token]")
	a.RefreshToken = f.get("auth[refresh_token]")
	a.Scope = f.get("auth[scope]")
	a.Domain = f.get("auth[domain]")
	a.ServerEndpoint = f.get("auth[server_endpoint]")
	a.ClientEndpoint = f.get("auth[client_endpoint]")
	a.Status = f.get("auth[status]")
	a.MemberID = f.get("auth[member_id]")
	a.ApplicationToken = f.get("auth[application_token]")
	f.unix("auth[expires]", &a.Expires)
	f.int("auth[expires_in]", &a.ExpiresIn)
	f.id("auth[user_id]", &a.UserID)

	if !validMemberID(a.MemberID) {
		if a.MemberID == "" {
			f.p.add("auth[member_id]", "required")
		} else {
			f.p.add("auth[member_id]", "invalid %q", a.MemberID)
		}
	}
	if a.ApplicationToken == "" {
		f.p.add("auth[application_token]", "required")
	}
	for _, fv := range [][2]string{{"auth[access_token]", a.AccessToken}, {"auth[refresh_token]", a.RefreshToken}, {"auth[application_token]", a.ApplicationToken}} {
		if !validToken(fv[1]) {
			f.p.add(fv[0], "invalid token")
		}
	}
	if a.Domain != "" && !validHost(a.Domain) {
		f.p.add("auth[domain]", "not a host name: %q", a.Domain)
	}
	for _, fv := range [][2]string{{"auth[client_endpoint]", a.ClientEndpoint}, {"auth[server_endpoint]", a.ServerEndpoint}} {
		if fv[1] != "" && !validURL(fv[1]) {
			f.p.add(fv[0], "not a URL: %q", fv[1])
		}
	}
}

// record reads the fields particular to the event: the record of a CRM
// event, the pipeline of a deal's move, the version of an app event.
func (f eventForm) record(e *Event) {
	if _, ok := crmEvents[e.Name]; ok {
		switch v := f.get("data[FIELDS][ID]"); {
		case v == "":
			f.p.add("data[FIELDS][ID]", "required for %s", e.Name)
		default:
			id, err := ParseID(v)
			if err != nil || id <= 0 {
				f.p.add("data[FIELDS][ID]", "expected a positive id, got %q", v)
			}
			e.RecordID = id
		}
	}
	if addressEvents[e.Name] {
		for _, x := range []struct {
			key string
			dst *ID
		}{{"data[FIELDS][ENTITY_TYPE_ID]", &e.AddressOf}, {"data[FIELDS][ENTITY_ID]", &e.RecordID}} {
			switch v := f.get(x.key); {
			case v == "":
				f.p.add(x.key, "required for %s", e.Name)
			case f.id(x.key, x.dst) && *x.dst == 0:
				f.p.add(x.key, "expected a positive id, got %q", v)
			}
		}
		f.id("data[FIELDS][ANCHOR_TYPE_ID]", &e.AnchorType)
		f.id("data[FIELDS][ANCHOR_ID]", &e.AnchorID)
	}
	if e.Name == EventDealMoveToCategory {
		e.HasCategory = f.id("data[FIELDS][CATEGORY_ID]", &e.CategoryID)
		e.StageID = f.get("data[FIELDS][STAGE_ID]")
		if !e.HasCategory && f.get("data[FIELDS][CATEGORY_ID]") == "" {
			f.p.add("data[FIELDS][CATEGORY_ID]", "required for %s", e.Name)
		}
	}
	switch e.Name {
	case EventAppInstall, EventAppUpdate, EventAppUninstall:
		f.version("data[VERSION]", &e.Version)
		f.version("data[PREVIOUS_VERSION]", &e.PreviousVersion)
		f.bool("data[ACTIVE]", &e.Active)
		f.bool("data[INSTALLED]", &e.Installed)
		f.bool("data[CLEAN]", &e.Clean)
		e.LanguageID = f.get("data[LANGUAGE_ID]")
	}
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
