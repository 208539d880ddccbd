package handlers

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"segmentor/app"
	"segmentor/bitrix"
)

// SessionTTL is how long a session lasts after the portal confirmed its
// user: admin rights and a card's record access are at most this old, so a
// demoted admin loses their rights within it. The page starts a new session
// with fresh tokens from Bitrix24 when one ends.
const SessionTTL = 30 * time.Minute

// Session is who is using the settings page or a card tab: a user of one
// portal, confirmed by the portal itself.
type Session struct {
	MemberID string `json:"m"`
	UserID   int64  `json:"u"`
	Name     string `json:"n,omitempty"`
	Admin    bool   `json:"a"`
	Lang     string `json:"l,omitempty"`
	// Record is the card tab's record ("deal:17"), which the portal
	// confirmed the user may read; "" for the settings page.
	Record  string `json:"r,omitempty"`
	Expires int64  `json:"e"` // unix seconds
}

// HolderCheck asks a portal, at its stored endpoint, about an access token
// it sent us: who holds it, of which app, and whether they may read a
// record (TokenCheck).
type HolderCheck interface {
	WhoHolds(ctx context.Context, memberID, endpoint, token string, rec *bitrix.ItemRef) (bitrix.Holder, error)
	CanRead(ctx context.Context, memberID, endpoint, token string, rec bitrix.ItemRef) error
}

// Sessions issues and checks the page's sessions. A session token is
// base64url(JSON).base64url(HMAC-SHA256): stateless, bound to the portal,
// the user, their admin flag and a card's record, and short-lived.
type Sessions struct {
	Store *app.Store
	// Check confirms a token with the portal; the token must be of this
	// app (app.info ID equals the portal's stored one): another app on the
	// portal holding an admin's token must not get an admin session here.
	Check HolderCheck
	Key   []byte // the app secret key; the signing key is derived from it
	Clock func() time.Time
	// MaxWait bounds a sign-in's wait for its turn (PortalWait when 0).
	MaxWait time.Duration
}

func (s *Sessions) now() time.Time {
	if s.Clock != nil {
		return s.Clock()
	}
	return time.Now()
}

func (s *Sessions) maxWait() time.Duration { return cmp.Or(s.MaxWait, PortalWait) }

// signingKey separates session signatures from every other use of the
// app's secret key (token encryption, install-status links).
func (s *Sessions) signingKey() []byte {
	m := hmac.New(sha256.New, s.Key)
	m.Write([]byte("segmentor/session/v1"))
	return m.Sum(nil)
}

func (s *Sessions) sign(payload string) string {
	m := hmac.New(sha256.New, s.signingKey())
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Issue returns the token of sess.
func (s *Sessions) Issue(sess Session) string {
	body, _ := json.Marshal(sess)
	payload := base64.RawURLEncoding.EncodeToString(body)
	return payload + "." + s.sign(payload)
}

// Parse checks a token's signature and expiry.
func (s *Sessions) Parse(token string) (Session, error) {
	payload, sig, ok := strings.Cut(token, ".")
	if !ok || !hmac.Equal([]byte(sig), []byte(s.sign(payload))) {
		return Session{}, app.Errorf(app.EUnauthorized, "The session is not valid; reopen the app.")
	}
	body, err := base64.RawURLEncoding.DecodeString(payload)
	var sess Session
	if err == nil {
		err = json.Unmarshal(body, &sess)
	}
	if err != nil || sess.MemberID == "" {
		return Session{}, app.Errorf(app.EUnauthorized, "The session is not valid; reopen the app.")
	}
	if s.now().Unix() >= sess.Expires {
		return Session{}, app.Errorf(app.EUnauthorized, "The session has expired; reopen the app.")
	}
	return sess, nil
}

type sessionRequest struct {
	MemberID string `json:"member_id"`
	AuthID   string `json:"auth_id"`
	// Entity and ID name a card tab's record; the session may read it
	// once the portal confirms the user can.
	Entity string `json:"entity"`
	ID     string `json:"id"`
	// Lang is the page's language; the portal's when empty.
	Lang string `json:"lang"`
	// Session is the page's current session, when it has one: the next
	// card's sign-in claims its user, and its check (still the portal's
	// answer about the token just sent) is charged to that user's budget
	// rather than the pool of sign-ins nobody vouches for.
	Session string `json:"session"`
}

// record is the request's card record, nil for none.
func (r sessionRequest) record() (*bitrix.ItemRef, bool) {
	if r.Entity == "" && r.ID == "" {
		return nil, true
	}
	e, ok := parseEntity(r.Entity)
	if !ok || !idPattern.MatchString(r.ID) {
		return nil, false
	}
	id, _ := strconv.ParseInt(r.ID, 10, 64)
	return &bitrix.ItemRef{Entity: bitrix.Entity(e), ID: id}, true
}

// recordKey names a record in a session and a sign-in ("deal:17"); "" for
// none.
func recordKey(r *bitrix.ItemRef) string {
	if r == nil {
		return ""
	}
	return string(r.Entity) + ":" + strconv.FormatInt(r.ID, 10)
}

// Start handles POST /api/v1/session: the page sends the access token
// Bitrix24 gave it (and a card tab its record); the portal named by
// member_id, asked at its stored endpoint, says whose token it is.
func (s *Sessions) Start(c *gin.Context) {
	var req sessionRequest
	err := json.NewDecoder(http.MaxBytesReader(c.Writer, c.Request.Body, 16<<10)).Decode(&req)
	rec, recOK := req.record()
	if err != nil || req.MemberID == "" || req.AuthID == "" || !recOK {
		apiError(c, "", app.Errorf(app.EInvalid, "Send {member_id, auth_id} as JSON, and a card's {entity, id}."))
		return
	}
	ctx := c.Request.Context()
	p, err := s.Store.Portal(ctx, req.MemberID)
	if err != nil || p.State == app.StateUninstalled || p.ClientEndpoint == "" {
		apiError(c, "", app.Errorf(app.EUnauthorized, "Segmentor is not installed on this portal."))
		return
	}
	// The page's language (the user's, from the placement) wins over the
	// portal's: what the server says must match what the page shows.
	lang := langOf(p.Lang)
	if req.Lang != "" {
		lang = langOf(req.Lang)
	}
	si, err := s.confirm(c, p, lang, req.AuthID, rec, s.claimed(p, req.Session))
	if err != nil {
		apiError(c, lang, err)
		return
	}
	name := strings.TrimSpace(si.Name + " " + si.LastName)
	sess := Session{MemberID: p.MemberID, UserID: si.UserID, Name: name, Admin: si.Admin, Lang: lang,
		Record: recordKey(rec), Expires: time.Unix(si.At, 0).Add(SessionTTL).Unix()}
	c.JSON(http.StatusOK, gin.H{
		"token":      s.Issue(sess),
		"expires_in": max(0, sess.Expires-s.now().Unix()),
		"user":       gin.H{"id": sess.UserID, "name": name},
		"admin":      sess.Admin,
		"lang":       lang,
	})
}

// claimed is the user of the page's current session when it is valid and
// of this portal; 0 otherwise.
func (s *Sessions) claimed(p *app.Portal, session string) int64 {
	if session == "" {
		return 0
	}
	cur, err := s.Parse(session)
	if err != nil || cur.MemberID != p.MemberID {
		return 0
	}
	return cur.UserID
}

// confirm says whose token it is and, for a card, that they may read its
// record: what the portal confirmed within app.SignInTTL, or the portal's
// answer now, asked within the sign-in checks' budgets.
func (s *Sessions) confirm(c *gin.Context, p *app.Portal, lang, token string, rec *bitrix.ItemRef, claimed int64) (*app.SignIn, error) {
	ctx := c.Request.Context()
	si, err := s.Store.ConfirmedSignIn(ctx, p.MemberID, token)
	if err != nil {
		return nil, signInUnavailable(err)
	}
	// A confirmation older than SignInTTL (by the sessions' clock) is asked
	// again: a session from it would not last, nor its rights be fresh.
	if si != nil && s.now().Before(time.Unix(si.At, 0).Add(app.SignInTTL)) {
		return si, s.recordAccess(c, p, lang, token, si, rec)
	}
	if refused, err := s.Store.RefusedSignIn(ctx, p.MemberID, token); err != nil || refused {
		return nil, cmp.Or(signInUnavailable(err), signInRefused(errors.New("refused before")))
	}
	// A user the page's session vouches for pays from their own budget; a
	// sign-in nobody vouches for, from the client address's and the
	// portal's pools.
	var turn error
	if claimed > 0 {
		turn = s.Store.TakeUserCheck(ctx, p.MemberID, claimed, s.maxWait())
	} else {
		turn = s.Store.TakeTokenCheck(ctx, p.MemberID, c.ClientIP(), s.maxWait())
	}
	if turn != nil {
		return nil, checkLimited(c, lang, turn)
	}
	h, err := s.Check.WhoHolds(ctx, p.MemberID, p.ClientEndpoint, token, rec)
	if d, busy := portalBusy(err); busy {
		return nil, busyError(c, lang, d, err)
	}
	if err := ourHolder(ctx, s.Store, p, token, h, err, func(err error) { _ = c.Error(err) }); err != nil {
		return nil, signInRefused(err)
	}
	si = &app.SignIn{UserID: int64(h.User.ID), Name: h.User.Name, LastName: h.User.LastName, Admin: bool(h.User.Admin),
		At: s.now().Unix()}
	if rec != nil && !si.Admin {
		if err := recordRefusal(lang, rec, h.Record); err != nil {
			s.remember(c, p, token, *si) // who they are holds; the record is refused
			return nil, err
		}
		si.AddRecord(recordKey(rec))
	}
	s.remember(c, p, token, *si)
	if err := s.Store.TrustAddress(ctx, p.MemberID, c.ClientIP()); err != nil {
		_ = c.Error(err)
	}
	return si, nil
}

// recordAccess confirms that a signed-in user may read the card's record,
// asking the portal (one request, within the user's budget) when it has
// not said so within the sign-in's memory. Admins read every record.
func (s *Sessions) recordAccess(c *gin.Context, p *app.Portal, lang, token string, si *app.SignIn, rec *bitrix.ItemRef) error {
	if rec == nil || si.Admin || si.CanRead(recordKey(rec)) {
		return nil
	}
	ctx := c.Request.Context()
	if err := s.Store.TakeUserCheck(ctx, p.MemberID, si.UserID, s.maxWait()); err != nil {
		return checkLimited(c, lang, err)
	}
	err := s.Check.CanRead(ctx, p.MemberID, p.ClientEndpoint, token, *rec)
	if d, busy := portalBusy(err); busy {
		return busyError(c, lang, d, err)
	}
	if err := recordRefusal(lang, rec, err); err != nil {
		return err
	}
	si.AddRecord(recordKey(rec))
	s.remember(c, p, token, *si)
	return nil
}

// remember keeps what the portal confirmed; a failure only costs the next
// open another check.
func (s *Sessions) remember(c *gin.Context, p *app.Portal, token string, si app.SignIn) {
	if err := s.Store.ConfirmSignIn(c.Request.Context(), p.MemberID, token, si); err != nil {
		_ = c.Error(err)
	}
}

var errNotOurApp = errors.New("not a token of this app")

// ourHolder judges the portal's answer about a token nobody confirmed
// (HolderCheck.WhoHolds: h, err), for sign-ins and app updates alike: a
// token of another app is errNotOurApp, and it, like a token the portal
// itself refused, is refused without asking for app.RefusalTTL. A failure
// to remember that only goes to note. Nil: the token is of this app.
func ourHolder(ctx context.Context, store *app.Store, p *app.Portal, token string, h bitrix.Holder, err error, note func(error)) error {
	if err == nil && (p.AppID == "" || h.AppID != p.AppID) {
		err = fmt.Errorf("%w: the token is of app %q, not of this app's %q", errNotOurApp, h.AppID, p.AppID)
	}
	if portalRefused(err) {
		if rerr := store.RefuseSignIn(ctx, p.MemberID, token); rerr != nil {
			note(rerr)
		}
	}
	return err
}

// portalRefused reports whether the portal itself refused a token (as
// opposed to not answering): the refusal is worth remembering.
func portalRefused(err error) bool {
	var ae *bitrix.APIError
	return errors.Is(err, errNotOurApp) || errors.As(err, &ae) && !bitrix.IsTemporary(err)
}

func signInUnavailable(err error) error {
	if err == nil {
		return nil
	}
	return &app.Error{Code: app.EUnavailable, Message: "Sign-in is unavailable right now; try again in a minute.", Err: err}
}

func signInRefused(err error) error {
	return &app.Error{Code: app.EUnauthorized, Message: "Bitrix24 did not confirm your sign-in; reopen the app.", Err: err}
}

// recordRefusal words the portal's refusal to let the user read the card's
// record; nil when it let them.
func recordRefusal(lang string, rec *bitrix.ItemRef, err error) error {
	if err == nil {
		return nil
	}
	var ae *bitrix.APIError
	switch {
	case errors.As(err, &ae) && ae.HasCode("NOT_FOUND"):
		return userError(app.ENotFound, lang, "no_record")
	case errors.As(err, &ae) && ae.HasCode("ACCESS_DENIED"):
		return userError(app.EForbidden, lang, "record_denied")
	}
	return signInRefused(fmt.Errorf("%s: %w", recordKey(rec), err))
}

// checkLimited answers a sign-in whose check could not have its turn: a
// client address that used its share is told to slow down (429), a portal
// whose share is spent is busy (503); both say when to try again.
func checkLimited(c *gin.Context, lang string, err error) error {
	var lim *app.CheckLimitedError
	if !errors.As(err, &lim) {
		return signInUnavailable(err)
	}
	if !lim.Address {
		return busyError(c, lang, lim.RetryIn, err)
	}
	s := retryAfter(c, lim.RetryIn)
	return &app.Error{Code: app.ETooMany, Err: errors.Join(errInUserLanguage, err), Message: say(lang, "too_many_signins", s)}
}

const sessionKey = "segmentor.session"

// Require is the middleware of /api/v1: a valid Bearer token of an
// installed portal, or 401. The portal comes from the token only.
func (s *Sessions) Require(c *gin.Context) {
	raw, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
	if !ok || raw == "" {
		apiError(c, "", app.Errorf(app.EUnauthorized, "Sign in through Bitrix24: open the app from your portal."))
		c.Abort()
		return
	}
	sess, err := s.Parse(strings.TrimSpace(raw))
	if err != nil {
		apiError(c, "", err)
		c.Abort()
		return
	}
	p, err := s.Store.Portal(c.Request.Context(), sess.MemberID)
	if err != nil || p.State == app.StateUninstalled {
		apiError(c, sess.Lang, app.Errorf(app.EUnauthorized, "Segmentor is not installed on this portal."))
		c.Abort()
		return
	}
	c.Set(sessionKey, sess)
	c.Next()
}

// RequireAdmin refuses writes by users who are not portal admins.
func RequireAdmin(c *gin.Context) {
	if !sessionOf(c).Admin {
		apiError(c, sessionOf(c).Lang, app.Errorf(app.EForbidden, "Only a Bitrix24 administrator can change the settings."))
		c.Abort()
		return
	}
	c.Next()
}

func sessionOf(c *gin.Context) Session {
	v, _ := c.Get(sessionKey)
	s, _ := v.(Session)
	return s
}

// portalOrigin is the scheme://host of a portal's stored REST endpoint, the
// only origin allowed to frame our pages.
func portalOrigin(clientEndpoint string) string {
	u, err := url.Parse(clientEndpoint)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return ""
	}
	return u.Scheme + "://" + u.Host
}
