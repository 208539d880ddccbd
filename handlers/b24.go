package handlers

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"segmentor"
	"segmentor/app"
	"segmentor/bitrix"
	"segmentor/jobs"
)

// maxBodyBytes bounds what Bitrix24 may POST to us; real bodies are a few KB.
const maxBodyBytes = 64 << 10

// Queue takes the CRM changes events report (jobs.Queue).
type Queue interface {
	Change(ctx context.Context, p jobs.CRMEventPayload) (bool, error)
	// NoteFailure is told why an event could not be taken (its portal
	// unreadable): an unreachable Redis is reconciled once it is back.
	NoteFailure(ctx context.Context, err error)
	// Robot queues the answer to a robot's call.
	Robot(ctx context.Context, p jobs.RobotPayload) error
}

// Bitrix24 handles what Bitrix24 POSTs: the installer and events.
type Bitrix24 struct {
	Store  *app.Store
	Client *bitrix.Client
	Queue  Queue
	Life   *app.Lifecycle // installs, setups, uninstalls
	// Holders confirms, at the portal's stored endpoint (never one taken
	// from the request), that an event's access token is a live one of this
	// app (a token of another app on the portal is valid there too) and
	// that its user is an admin.
	Holders  HolderCheck
	Manifest *segmentor.Manifest
	Key      []byte // signs install-status links
	Log      *slog.Logger
	Clock    func() time.Time
	Metrics  *Metrics // nil: not counted

	portals portalCache
}

func (h *Bitrix24) now() time.Time {
	if h.Clock != nil {
		return h.Clock()
	}
	return time.Now()
}

// Install handles the installer POST: it trusts nothing in it until the
// OAuth server, exchanging REFRESH_ID, names the same member_id; then it
// stores the portal, queues setup and shows its progress.
func (h *Bitrix24) Install(c *gin.Context) {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxBodyBytes)
	lang := c.Query("LANG")
	f, err := bitrix.ParseInstallRequest(c.Request)
	if err != nil {
		h.installPage(c, http.StatusBadRequest, lang, "", installText(lang, "bad_request")+" "+err.Error())
		return
	}
	lang = langOf(lang)
	tok, err := h.Life.Install(c.Request.Context(), f, lang)
	if tok != nil {
		h.portals.forget(tok.MemberID)
	}
	switch {
	case err == nil:
		h.installPage(c, http.StatusOK, lang, tok.MemberID, "")
		return
	case app.ErrorCode(err) != app.EForbidden:
		h.fail(c, lang, f.MemberID, err)
		return
	}
	h.Log.Warn("install refused", "portal", f.MemberID, "error", err)
	if d, busy := portalBusy(err); busy {
		// The installer's refresh token is spent: the admin starts again.
		retryAfter(c, d)
		h.installPage(c, http.StatusServiceUnavailable, lang, "", installText(lang, "busy"))
		return
	}
	text := installText(lang, "not_confirmed")
	if app.IsNotAdmin(err) {
		text = installText(lang, "not_admin")
	}
	h.installPage(c, http.StatusForbidden, lang, "", text)
}

// InstallStatus answers the install page's polling with the setup phase.
// The link is signed, so it tells nothing to anyone else.
func (h *Bitrix24) InstallStatus(c *gin.Context) {
	m, ok := h.signedMember(c)
	if !ok {
		return
	}
	p, err := h.Store.Portal(c.Request.Context(), m)
	if err != nil {
		c.JSON(http.StatusNotFound, gin.H{"error": "not_found", "message": app.ErrorMessage(err)})
		return
	}
	c.JSON(http.StatusOK, gin.H{"phase": p.Setup.Phase, "step": p.Setup.Step, "error": p.Setup.Error, "state": p.State})
}

// RetrySetup queues setup again after a failure (from the install page).
func (h *Bitrix24) RetrySetup(c *gin.Context) {
	m, ok := h.signedMember(c)
	if !ok {
		return
	}
	if err := h.Life.RetrySetup(c.Request.Context(), m); err != nil {
		apiError(c, "", err)
		return
	}
	c.JSON(http.StatusAccepted, gin.H{"phase": "pending"})
}

// signedMember reads the portal named by the install page's signed link
// (member_id, exp, sig): only a link this server signed, not expired, is
// taken; otherwise it answers 401 and reports false.
func (h *Bitrix24) signedMember(c *gin.Context) (string, bool) {
	m, sig := c.Query("member_id"), c.Query("sig")
	exp, _ := strconv.ParseInt(c.Query("exp"), 10, 64)
	if !hmac.Equal([]byte(sig), []byte(h.sign(m, exp))) || h.now().Unix() > exp {
		c.JSON(http.StatusUnauthorized, gin.H{"error": "unauthorized", "message": "This link is not valid; reopen the app."})
		return "", false
	}
	return m, true
}

func (h *Bitrix24) fail(c *gin.Context, lang, memberID string, err error) {
	h.Log.Error("install failed", "portal", memberID, "error", err)
	h.installPage(c, http.StatusServiceUnavailable, lang, "", installText(lang, "internal"))
}

func (h *Bitrix24) sign(memberID string, exp int64) string {
	m := hmac.New(sha256.New, h.Key)
	fmt.Fprintf(m, "install-status\x00%s\x00%d", memberID, exp)
	return hex.EncodeToString(m.Sum(nil))
}

// Event handles every event Bitrix24 sends. It answers within milliseconds
// and makes no REST call for CRM events: it checks the application token
// and queues the change.
func (h *Bitrix24) Event(c *gin.Context) {
	defer func() {
		if c.Writer.Status() >= 400 {
			h.Metrics.event("refused")
		}
	}()
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxBodyBytes)
	ev, err := bitrix.ParseEventRequest(c.Request)
	if err != nil {
		status := http.StatusBadRequest
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			status = http.StatusRequestEntityTooLarge
		}
		c.JSON(status, gin.H{"error": "invalid", "message": err.Error()})
		return
	}
	p, ok := h.authenticate(c, ev)
	if !ok {
		return
	}
	ctx, m := c.Request.Context(), ev.Auth.MemberID
	switch ev.Name {
	case bitrix.EventAppUpdate:
		err = h.Life.Update(ctx, p, ev.Version)
	case bitrix.EventAppUninstall:
		err = h.Life.Uninstall(ctx, m, ev.Clean)
		h.portals.forget(m)
	case bitrix.EventAppInstall:
		// The installer POST already did the work; the token was stored.
	default:
		h.crmChange(c, ev, p)
		return
	}
	if err != nil {
		h.unavailable(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "accepted"})
}

// authenticate checks the event's application token against the stored one
// and answers the refusal itself; it reports the portal and whether to go
// on. An app update (a new token) or the first event after a legacy
// install (none stored) may set the token, but only when the event's access
// token is an administrator's of this app, checked at the stored endpoint.
func (h *Bitrix24) authenticate(c *gin.Context, ev *bitrix.Event) (*app.Portal, bool) {
	ctx, m := c.Request.Context(), ev.Auth.MemberID
	cp, err := h.portals.get(ctx, h.Store, m, h.now(), false)
	if err == nil && (!ev.Verify(cp.appToken) || cp.appToken == "" || ev.Name == bitrix.EventAppUninstall) {
		// Refusals and uninstalls are decided on fresh data only.
		cp, err = h.portals.get(ctx, h.Store, m, h.now(), true)
	}
	if err != nil {
		if app.ErrorCode(err) == app.ENotFound {
			refuseEvent(c) // as for a known portal: the answer lists no portals
			return nil, false
		}
		h.Queue.NoteFailure(ctx, err) // Bitrix24 will not send it again
		h.unavailable(c, err)
		return nil, false
	}
	p, stored := cp.portal, cp.appToken
	takesToken := ev.Name == bitrix.EventAppUpdate || ev.Name == bitrix.EventAppInstall || stored == ""
	switch {
	case ev.Verify(stored) && stored != "":
		return p, true
	case !takesToken:
		refuseEvent(c)
		return nil, false
	}
	// Bitrix24 waits a few seconds for an event's answer and never sends it
	// again: the checks get PortalWait in all, not the install's longer wait.
	ectx, cancel := context.WithTimeout(ctx, PortalWait)
	admin, err := h.adminOfOurApp(ectx, c, p, ev.Auth.AccessToken)
	cancel()
	var lim *app.CheckLimitedError
	if d, busy := portalBusy(err); busy || errors.As(err, &lim) {
		if lim != nil {
			d = lim.RetryIn
		}
		retryAfter(c, d)
		h.unavailable(c, err)
		return nil, false
	}
	if err != nil {
		h.unavailable(c, err)
		return nil, false
	}
	if !admin || ev.Auth.ApplicationToken == "" {
		refuseEvent(c)
		return nil, false
	}
	if err := h.Store.SetApplicationToken(ctx, m, ev.Auth.ApplicationToken); err != nil {
		h.unavailable(c, err)
		return nil, false
	}
	h.portals.forget(m)
	return p, true
}

// crmChange queues a CRM record's change (or a timeline activity's, or a
// requisite's or its address's); the job re-reads the record.
func (h *Bitrix24) crmChange(c *gin.Context, ev *bitrix.Event, p *app.Portal) {
	entity, action := ev.Entity()
	if entity != "contact" && entity != "company" && entity != "deal" && entity != "activity" && entity != "requisite" {
		c.JSON(http.StatusOK, gin.H{"status": "ignored"})
		return
	}
	if p.State == app.StateUninstalled {
		c.JSON(http.StatusGone, gin.H{"error": "gone", "message": "The app is uninstalled on this portal."})
		return
	}
	queued, err := h.Queue.Change(c.Request.Context(), jobs.CRMEventPayload{MemberID: p.MemberID, Entity: entity,
		ID: int64(ev.RecordID), Deleted: action == "delete", Seq: h.now().UnixNano()})
	if err != nil {
		h.unavailable(c, err)
		return
	}
	if queued {
		h.Metrics.event("queued")
	} else {
		h.Metrics.event("coalesced")
	}
	c.JSON(http.StatusOK, gin.H{"status": "accepted"})
}

// adminOfOurApp reports whether accessToken is a live token of this app
// (not of another app on the portal) held by a portal administrator, checked
// at the stored endpoint. Only such a token may set the application token:
// anyone else could otherwise plant one and forge an uninstall. The error
// is the checks' failure, for telling a busy portal from a refusal.
//
// The check is one request, within the sign-in checks' budgets (the
// sender's address and the portal's share): anyone can post an update with
// a made-up token. A token the portal refused is refused again without
// asking for a while.
func (h *Bitrix24) adminOfOurApp(ctx context.Context, c *gin.Context, p *app.Portal, accessToken string) (bool, error) {
	if accessToken == "" || p.AppID == "" || p.ClientEndpoint == "" {
		return false, nil
	}
	if refused, err := h.Store.RefusedSignIn(ctx, p.MemberID, accessToken); err != nil || refused {
		return false, err
	}
	if err := h.Store.TakeTokenCheck(ctx, p.MemberID, c.ClientIP(), PortalWait); err != nil {
		return false, err
	}
	who, err := h.Holders.WhoHolds(ctx, p.MemberID, p.ClientEndpoint, accessToken, nil)
	if _, busy := portalBusy(err); busy || errors.Is(err, context.DeadlineExceeded) {
		return false, err
	}
	if err := ourHolder(ctx, h.Store, p, accessToken, who, err, func(err error) {
		h.Log.Warn("a refused token is not remembered", "member_id", p.MemberID, "error", err)
	}); err != nil {
		return false, nil
	}
	return bool(who.User.Admin), nil
}

// refuseEvent answers an event whose tokens do not hold, the same for an
// unknown portal as for a known one.
func refuseEvent(c *gin.Context) {
	c.JSON(http.StatusForbidden, gin.H{"error": "forbidden", "message": "The event's tokens are not valid for this portal."})
}

func (h *Bitrix24) unavailable(c *gin.Context, err error) {
	h.Log.Error("event not accepted", "error", err)
	c.JSON(http.StatusServiceUnavailable, gin.H{"error": "unavailable", "message": "Try again later."})
}

// Robot takes a call of the robot "Segmentor: classify" from a workflow.
// It is authenticated like an event, by the application token stored for
// the portal (the call's access token may be of no use); a call that does
// not carry it is refused and changes nothing. The answer is queued: a
// worker classifies the deal now and replies with bizproc.event.send.
func (h *Bitrix24) Robot(c *gin.Context) {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxBodyBytes)
	call, err := bitrix.ParseRobotCall(c.Request)
	if err != nil {
		c.JSON(http.StatusBadRequest, gin.H{"error": "invalid", "message": err.Error()})
		return
	}
	ctx, m := c.Request.Context(), call.Auth.MemberID
	cp, err := h.portals.get(ctx, h.Store, m, h.now(), false)
	if err == nil && !call.Verify(cp.appToken) {
		cp, err = h.portals.get(ctx, h.Store, m, h.now(), true) // refusals are decided on fresh data
	}
	switch {
	case app.ErrorCode(err) == app.ENotFound, err == nil && (cp.appToken == "" || !call.Verify(cp.appToken)):
		c.JSON(http.StatusUnauthorized, gin.H{"error": "unauthorized", "message": "The call's application token is not valid for this portal."})
		return
	case err != nil:
		h.unavailable(c, err)
		return
	}
	if err := h.Queue.Robot(ctx, jobs.RobotPayload{MemberID: m, DealID: call.DealID(), EventToken: call.EventToken}); err != nil {
		h.unavailable(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "accepted"})
}
