package handlers

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"segmentor/app"
	"segmentor/bitrix"
)

// PortalWait is how long a call with a user's token waits for its turn in
// the portal's budget by default: a page open should not hang on a busy
// portal, it should say so.
const PortalWait = bitrix.DefaultUserWait

// InstallWait is the longer wait for the checks of an install or an app
// update: the installer's refresh token is already spent when its check
// runs, so giving up sends the admin back to install again.
const InstallWait = 15 * time.Second

// TokenCheck asks a portal, at its stored endpoint and with the one REST
// client (bitrix.Client.AsUser: the user's token, the portal's shared
// budget, no refresh, no redirect), who holds an access token it sent us,
// which application it belongs to and what its user may read: the
// HolderCheck, and app.UserCheck.
type TokenCheck struct {
	Client  *bitrix.Client
	MaxWait time.Duration // for the budget; 0: PortalWait
}

// Profile asks who holds token (profile): app.UserCheck.
func (t TokenCheck) Profile(ctx context.Context, memberID, endpoint, token string) (bitrix.UserProfile, error) {
	prof, err := t.Client.AsUser(memberID, endpoint, token, t.MaxWait).Profile(ctx)
	if err != nil {
		return bitrix.UserProfile{}, fmt.Errorf("profile refused the token: %w", err)
	}
	return prof, nil
}

// WhoHolds implements HolderCheck: one batch request.
func (t TokenCheck) WhoHolds(ctx context.Context, memberID, endpoint, token string, rec *bitrix.ItemRef) (bitrix.Holder, error) {
	h, err := t.Client.AsUser(memberID, endpoint, token, t.MaxWait).WhoHolds(ctx, rec)
	if err != nil {
		return bitrix.Holder{}, fmt.Errorf("the portal refused the token: %w", err)
	}
	return h, nil
}

// CanRead implements HolderCheck.
func (t TokenCheck) CanRead(ctx context.Context, memberID, endpoint, token string, rec bitrix.ItemRef) error {
	return t.Client.AsUser(memberID, endpoint, token, t.MaxWait).CanRead(ctx, rec)
}

// portalBusy reports whether err says the portal's request budget is spent
// (our shared limiter's bound, or the portal's own refusal), and when to
// try again.
func portalBusy(err error) (retryIn time.Duration, busy bool) {
	var rl *bitrix.RateLimitedError
	switch {
	case errors.As(err, &rl):
		return rl.RetryIn, true
	case bitrix.IsQueryLimit(err):
		return time.Second, true
	}
	return 0, false
}

// retryAfter sets Retry-After (whole seconds, at least one) and returns it.
func retryAfter(c *gin.Context, d time.Duration) int {
	s := max(1, int(math.Ceil(d.Seconds())))
	c.Header("Retry-After", strconv.Itoa(s))
	return s
}

// busyError is the answer to a page whose portal check could not get its
// turn in the portal's request budget: retryable, in the user's language.
func busyError(c *gin.Context, lang string, d time.Duration, cause error) error {
	s := retryAfter(c, d)
	return &app.Error{Code: app.EUnavailable, Err: errors.Join(errInUserLanguage, cause), Message: say(lang, "portal_busy", s)}
}
