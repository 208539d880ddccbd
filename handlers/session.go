package handlers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"segmentor/app"
	"segmentor/bitrix"
)

// SessionTTL is how long a page session lasts. Bitrix24 posts fresh tokens
// on every iframe open, and the page asks for a new session when this ends.
const SessionTTL = time.Hour

// Session is who is using the settings page: a user of one portal, confirmed
// by the portal itself.
type Session struct {
	MemberID string `json:"m"`
	UserID   int64  `json:"u"`
	Name     string `json:"n,omitempty"`
	Admin    bool   `json:"a"`
	Lang     string `json:"l,omitempty"`
	Expires  int64  `json:"e"` // unix seconds
}

// UserChecker asks a portal (member_id), at its stored endpoint, who owns
// an access token (REST method profile).
type UserChecker = app.UserCheck

// Sessions issues and checks the page's sessions. A session token is
// base64url(JSON).base64url(HMAC-SHA256): stateless, bound to the portal,
// the user and their admin flag, and short-lived.
type Sessions struct {
	Store *app.Store
	Users UserChecker
	// Apps, when set, confirms the token belongs to this app (app.info ID
	// equals the portal's stored one): another app on the portal holding an
	// admin's token must not get an admin session here.
	Apps  TokenChecker
	Key   []byte // the app secret key; the signing key is derived from it
	Clock func() time.Time
}

func (s *Sessions) now() time.Time {
	if s.Clock != nil {
		return s.Clock()
	}
	return time.Now()
}

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
}

// Start handles POST /api/v1/session: the page sends the access token
// Bitrix24 gave it; the portal named by member_id, asked at its stored
// endpoint, says whose token it is.
func (s *Sessions) Start(c *gin.Context) {
	var req sessionRequest
	if err := json.NewDecoder(http.MaxBytesReader(c.Writer, c.Request.Body, 16<<10)).Decode(&req); err != nil ||
		req.MemberID == "" || req.AuthID == "" {
		apiError(c, "", app.Errorf(app.EInvalid, "Send {member_id, auth_id} as JSON."))
		return
	}
	ctx := c.Request.Context()
	p, err := s.Store.Portal(ctx, req.MemberID)
	if err != nil || p.State == app.StateUninstalled || p.ClientEndpoint == "" {
		apiError(c, "", app.Errorf(app.EUnauthorized, "Segmentor is not installed on this portal."))
		return
	}
	lang := langOf(p.Lang)
	prof, err := s.confirm(c, p, lang, req.AuthID)
	if err != nil {
		apiError(c, lang, err)
		return
	}
	name := strings.TrimSpace(prof.Name + " " + prof.LastName)
	sess := Session{MemberID: p.MemberID, UserID: int64(prof.ID), Name: name, Admin: bool(prof.Admin), Lang: lang,
		Expires: s.now().Add(SessionTTL).Unix()}
	c.JSON(http.StatusOK, gin.H{
		"token":      s.Issue(sess),
		"expires_in": int(SessionTTL / time.Second),
		"user":       gin.H{"id": sess.UserID, "name": name},
		"admin":      sess.Admin,
		"lang":       lang,
	})
}

// confirm says whose token it is: what the portal confirmed within
// app.SignInTTL, or the portal's answer now (profile, and app.info when
// Apps is set).
func (s *Sessions) confirm(c *gin.Context, p *app.Portal, lang, token string) (bitrix.UserProfile, error) {
	ctx := c.Request.Context()
	si, err := s.Store.ConfirmedSignIn(ctx, p.MemberID, token)
	if err != nil {
		return bitrix.UserProfile{}, &app.Error{Code: app.EUnavailable, Message: "Sign-in is unavailable right now; try again in a minute.", Err: err}
	}
	if si != nil {
		return bitrix.UserProfile{ID: bitrix.ID(si.UserID), Name: si.Name, LastName: si.LastName, Admin: bitrix.Bool(si.Admin)}, nil
	}
	refused := func(err error) error {
		return &app.Error{Code: app.EUnauthorized, Message: "Bitrix24 did not confirm your sign-in; reopen the app.", Err: err}
	}
	prof, err := s.Users.Profile(ctx, p.MemberID, p.ClientEndpoint, token)
	if d, busy := portalBusy(err); busy {
		return bitrix.UserProfile{}, busyError(c, lang, d, err)
	}
	if err != nil {
		return bitrix.UserProfile{}, refused(err)
	}
	if s.Apps != nil {
		appID, err := s.Apps.CheckAccessToken(ctx, p.MemberID, p.ClientEndpoint, token)
		if d, busy := portalBusy(err); busy {
			return bitrix.UserProfile{}, busyError(c, lang, d, err)
		}
		if err == nil && (p.AppID == "" || appID != p.AppID) {
			err = fmt.Errorf("the token is of app %q, not of this app's %q", appID, p.AppID)
		}
		if err != nil {
			return bitrix.UserProfile{}, refused(err)
		}
	}
	if err := s.Store.ConfirmSignIn(ctx, p.MemberID, token, app.SignIn{UserID: int64(prof.ID), Name: prof.Name, LastName: prof.LastName, Admin: bool(prof.Admin)}); err != nil {
		_ = c.Error(err) // the session still starts; the next open asks the portal again
	}
	return prof, nil
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
