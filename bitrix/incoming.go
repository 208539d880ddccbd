package bitrix

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// maxFormBytes bounds the body read from Bitrix24's POSTs; real ones are a
// few kilobytes.
const maxFormBytes = 1 << 20

// FieldError is one problem with one field of an incoming request.
type FieldError struct {
	Field   string
	Message string
}

// RequestError lists every problem found in an incoming request.
type RequestError struct {
	Kind     string // "install", "placement", "event"
	Problems []FieldError
}

func (e *RequestError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Field + ": " + p.Message
	}
	return "bitrix: invalid " + e.Kind + " request: " + strings.Join(parts, "; ")
}

type problems struct {
	kind string
	list []FieldError
}

func (p *problems) add(field, format string, args ...any) {
	p.list = append(p.list, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	return &RequestError{Kind: p.kind, Problems: p.list}
}

// VerifyApplicationToken reports, in constant time, whether an incoming
// application_token equals the one stored for the portal. An empty stored
// token never matches.
func VerifyApplicationToken(got, stored string) bool {
	if got == "" || stored == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(stored)) == 1
}

// readForm parses an incoming POST (or GET) and returns its query and body
// values separately.
func readForm(r *http.Request) (query, body url.Values, err error) {
	if r == nil {
		return nil, nil, errors.New("bitrix: nil request")
	}
	if r.Body != nil {
		r.Body = http.MaxBytesReader(nil, r.Body, maxFormBytes)
	}
	if err := r.ParseForm(); err != nil {
		return nil, nil, fmt.Errorf("bitrix: read form: %w", err)
	}
	q := url.Values{}
	if r.URL != nil {
		q = r.URL.Query()
	}
	return q, r.PostForm, nil
}

func validMemberID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

func validHost(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == ':') {
			return false
		}
	}
	return !strings.HasPrefix(s, ".") && !strings.HasPrefix(s, "-")
}

// validToken accepts opaque tokens: printable, no spaces, bounded length.
func validToken(s string) bool {
	if len(s) > 1024 {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f || r > 0x7e {
			return false
		}
	}
	return true
}

func validURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

// FrameRequest is what Bitrix24 POSTs to a page it shows in an iframe: the
// installer, the application page and placements (CRM card tabs, menus).
// The tokens belong to the current user. Nothing in it is trusted until the
// tokens are checked against the portal or the OAuth server.
type FrameRequest struct {
	// From the query string.
	Domain string // portal host as sent; use the stored endpoint for calls
	HTTPS  bool   // PROTOCOL=1 (the default)
	Lang   string
	AppSID string // JS session id; not the application token
	// From the body.
	AuthID           string // access token
	AuthExpires      int    // seconds
	RefreshID        string // refresh token
	ServerEndpoint   string // optional
	ApplicationToken string // optional (newer portals)
	Scope            []string
	MemberID         string
	Status           string // L, F, D, T, P
	Placement        string // DEFAULT for the installer and app page
	// PlacementOptions is PLACEMENT_OPTIONS decoded; nil when absent, empty or
	// the literal "undefined".
	PlacementOptions map[string]any
}

// PlacementID returns PLACEMENT_OPTIONS.ID, the record a CRM card tab or
// list menu was opened for.
func (f *FrameRequest) PlacementID() (ID, bool) {
	v, ok := f.PlacementOptions["ID"]
	if !ok {
		return 0, false
	}
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case json.Number:
		s = x.String()
	default:
		return 0, false
	}
	id, err := ParseID(s)
	return id, err == nil && id > 0
}

// ParseInstall reads the installer POST: query DOMAIN, PROTOCOL, LANG,
// APP_SID; body AUTH_ID, AUTH_EXPIRES, REFRESH_ID, member_id, status,
// PLACEMENT (DEFAULT) and, on newer portals, SERVER_ENDPOINT,
// APPLICATION_TOKEN, APPLICATION_SCOPE. AUTH_ID, REFRESH_ID and member_id
// are required. Verify REFRESH_ID at the OAuth server
// (Client.ExchangeRefreshToken) before trusting any of it.
func ParseInstall(query, body url.Values) (*FrameRequest, error) {
	f, p := parseFrame("install", query, body)
	if f.AuthID == "" {
		p.add("AUTH_ID", "required")
	}
	if f.RefreshID == "" {
		p.add("REFRESH_ID", "required")
	}
	if f.Placement != "" && !strings.EqualFold(f.Placement, "DEFAULT") {
		p.add("PLACEMENT", "installer expects DEFAULT, got %q", f.Placement)
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	return f, nil
}

// ParseInstallRequest is ParseInstall on an *http.Request.
func ParseInstallRequest(r *http.Request) (*FrameRequest, error) {
	q, b, err := readForm(r)
	if err != nil {
		return nil, err
	}
	return ParseInstall(q, b)
}

// ParsePlacement reads a placement or application-page POST: the same
// fields as the installer, PLACEMENT required, PLACEMENT_OPTIONS a JSON
// object string or the literal "undefined".
func ParsePlacement(query, body url.Values) (*FrameRequest, error) {
	f, p := parseFrame("placement", query, body)
	if f.AuthID == "" {
		p.add("AUTH_ID", "required")
	}
	if f.Placement == "" {
		p.add("PLACEMENT", "required")
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	return f, nil
}

// ParsePlacementRequest is ParsePlacement on an *http.Request.
func ParsePlacementRequest(r *http.Request) (*FrameRequest, error) {
	q, b, err := readForm(r)
	if err != nil {
		return nil, err
	}
	return ParsePlacement(q, b)
}

func parseFrame(kind string, query, body url.Values) (*FrameRequest, *problems) {
	p := &problems{kind: kind}
	// PHP reads $_REQUEST, so accept either place; query wins for the
	// query fields, the body for the rest.
	q := func(k string) string {
		if v := strings.TrimSpace(query.Get(k)); v != "" {
			return v
		}
		return strings.TrimSpace(body.Get(k))
	}
	b := func(k string) string {
		if v := strings.TrimSpace(body.Get(k)); v != "" {
			return v
		}
		return strings.TrimSpace(query.Get(k))
	}
	f := &FrameRequest{
		Domain:           q("DOMAIN"),
		Lang:             q("LANG"),
		AppSID:           q("APP_SID"),
		AuthID:           b("AUTH_ID"),
		RefreshID:        b("REFRESH_ID"),
		ServerEndpoint:   b("SERVER_ENDPOINT"),
		ApplicationToken: b("APPLICATION_TOKEN"),
		MemberID:         b("member_id"),
		Status:           b("status"),
		Placement:        b("PLACEMENT"),
		HTTPS:            true,
	}
	switch v := q("PROTOCOL"); v {
	case "", "1":
	case "0":
		f.HTTPS = false
	default:
		p.add("PROTOCOL", "expected 0 or 1, got %q", v)
	}
	if !validMemberID(f.MemberID) {
		if f.MemberID == "" {
			p.add("member_id", "required")
		} else {
			p.add("member_id", "invalid %q", f.MemberID)
		}
	}
	if f.Domain != "" && !validHost(f.Domain) {
		p.add("DOMAIN", "not a host name: %q", f.Domain)
	}
	for _, fv := range [][2]string{{"AUTH_ID", f.AuthID}, {"REFRESH_ID", f.RefreshID}, {"APPLICATION_TOKEN", f.ApplicationToken}, {"APP_SID", f.AppSID}} {
		if !validToken(fv[1]) {
			p.add(fv[0], "invalid token")
		}
	}
	if f.ServerEndpoint != "" && !validURL(f.ServerEndpoint) {
		p.add("SERVER_ENDPOINT", "not a URL: %q", f.ServerEndpoint)
	}
	if v := b("AUTH_EXPIRES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			p.add("AUTH_EXPIRES", "expected seconds, got %q", v)
		}
		f.AuthExpires = n
	}
	if v := b("APPLICATION_SCOPE"); v != "" {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				f.Scope = append(f.Scope, s)
			}
		}
	}
	opts, err := parsePlacementOptions(body.Get("PLACEMENT_OPTIONS"))
	if err != nil {
		p.add("PLACEMENT_OPTIONS", "%v", err)
	}
	f.PlacementOptions = opts
	return f, p
}

// parsePlacementOptions decodes PLACEMENT_OPTIONS: a JSON object as a
// string; "", "undefined" and "null" mean none; PHP's empty [] is an empty
// object.
func parsePlacementOptions(s string) (map[string]any, error) {
	s = strings.TrimSpace(s)
	switch s {
	case "", "undefined", "null":
		return nil, nil
	case "[]":
		return map[string]any{}, nil
	}
	if len(s) > 64<<10 {
		return nil, errors.New("too long")
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("not a JSON object: %v", err)
	}
	if dec.More() {
		return nil, errors.New("not a JSON object: trailing data")
	}
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}
