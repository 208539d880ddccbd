package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"segmentor/bitrix"
)

// Jobs is the work a portal's life queues (jobs.Queue).
type Jobs interface {
	// Setup binds events and card tabs, creates the Segment field and
	// caches the directory; version names an app update ("" otherwise).
	Setup(ctx context.Context, memberID, reason, version string) error
	// Backfill classifies the portal's whole base with its saved config.
	Backfill(ctx context.Context, memberID, reason string) error
	// ConfirmUninstall queues the check of an uninstall event with the
	// portal (Lifecycle.ConfirmUninstall); checks of one portal coalesce.
	ConfirmUninstall(ctx context.Context, memberID string, clean bool) error
}

// UserCheck asks a portal who holds an access token it sent us (profile),
// at the portal's stored endpoint.
type UserCheck interface {
	Profile(ctx context.Context, memberID, clientEndpoint, accessToken string) (bitrix.UserProfile, error)
}

// Lifecycle carries out a portal's life with the app: install, setup
// retries, recomputes, uninstall. The handlers parse what Bitrix24 and the
// page send and call it; it owns the state changes.
type Lifecycle struct {
	Store  *Store
	Bitrix *bitrix.Client
	Users  UserCheck
	Jobs   Jobs
	Log    *slog.Logger
	Clock  func() time.Time
	// Grace is how long a confirmed uninstall keeps the portal's data for
	// a reinstall to find (DefaultGrace when 0); CleanGrace the same when
	// the admin asked to delete the app's data (DefaultCleanGrace).
	Grace, CleanGrace time.Duration
}

func (l *Lifecycle) now() time.Time {
	if l.Clock != nil {
		return l.Clock()
	}
	return time.Now()
}

// ErrNotAdmin refuses an install by a user who is not a portal administrator.
var ErrNotAdmin = Errorf(EForbidden, "Only a Bitrix24 administrator can install Segmentor.")

// ErrNotConfirmed refuses an install the OAuth server or the portal did not
// confirm.
var ErrNotConfirmed = Errorf(EForbidden, "Bitrix24 did not confirm the installation.")

// Install takes an installer POST: the OAuth server must confirm its
// REFRESH_ID for the member_id it claims, and the installing user must be
// an administrator; then the portal's tokens and application token are
// stored and its setup is queued. A refusal wraps ErrNotAdmin or
// ErrNotConfirmed (and a *bitrix.RateLimitedError when the portal was too
// busy to confirm) and leaves the portal as it was; any other error is
// the app's own.
func (l *Lifecycle) Install(ctx context.Context, f *bitrix.FrameRequest, lang string) (*bitrix.Token, error) {
	// Every user who opens the app has a REFRESH_ID; only an administrator's
	// may become the portal's tokens (and bring its application token).
	tok, err := l.Bitrix.InstallPortal(ctx, f, func(ctx context.Context, t *bitrix.Token) error {
		prof, err := l.Users.Profile(ctx, t.MemberID, t.ClientEndpoint, t.AccessToken)
		if err != nil {
			return err
		}
		if !prof.Admin {
			return ErrNotAdmin
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrNotAdmin) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %w", ErrNotConfirmed, err)
	}
	m := tok.MemberID
	if f.ApplicationToken != "" {
		err = l.Store.SetApplicationToken(ctx, m, f.ApplicationToken)
	} else {
		// An older portal sends none: forget a token left from an earlier
		// install, so the next verified event establishes the new one.
		err = l.Store.DeleteApplicationToken(ctx, m)
	}
	if err != nil {
		return nil, err
	}
	_, err = l.Store.UpdatePortal(ctx, m, func(p *Portal, _ bool) error {
		if p.State != StateActive {
			p.State, p.StateReason = StateInstalling, ""
		}
		p.Lang = lang
		p.InstalledBy = int64(tok.UserID)
		p.UninstalledAt, p.PurgeAt = time.Time{}, time.Time{} // a reinstall within the grace keeps the data
		p.Setup = SetupStatus{Phase: "pending"}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// The install grants the app's scopes anew: forget those refused before.
	if err := l.Store.ClearMissingScopes(ctx, m); err != nil {
		return nil, err
	}
	if err := l.Jobs.Setup(ctx, m, "install", ""); err != nil {
		return nil, err
	}
	l.log().Info("portal installed; setup queued", "portal", m)
	return tok, nil
}

// RetrySetup queues a portal's setup again after it failed.
func (l *Lifecycle) RetrySetup(ctx context.Context, memberID string) error {
	if _, err := l.Store.UpdatePortal(ctx, memberID, func(p *Portal, exists bool) error {
		if !exists {
			return Errorf(ENotFound, "This Bitrix24 portal has not installed Segmentor.")
		}
		p.Setup = SetupStatus{Phase: "pending"}
		return nil
	}); err != nil {
		return err
	}
	if err := l.Jobs.Setup(ctx, memberID, "retry", ""); err != nil {
		return &Error{Code: EUnavailable, Message: "Could not queue the setup; try again.", Err: err}
	}
	return nil
}

// Update handles an app update: setup runs once per version (events, card
// tabs and fields are bound again, as Bitrix24 drops the handlers on
// update).
func (l *Lifecycle) Update(ctx context.Context, p *Portal, version string) error {
	if version != "" && p.Setup.Version == version && p.Setup.Phase == "done" {
		return nil
	}
	return l.Jobs.Setup(ctx, p.MemberID, "update", version)
}

// BackfillJob is the name the one backfill job's progress is stored under:
// a portal has at most one queued or running.
const BackfillJob = "backfill"

// Recompute queues the backfill of the portal's whole base with its saved
// config, and shows it queued unless one is running.
func (l *Lifecycle) Recompute(ctx context.Context, memberID, reason string) error {
	if l.Jobs == nil {
		return Errorf(EUnavailable, "Recomputing is not available on this server.")
	}
	if reason == "recompute" {
		sc, err := l.Store.Config(ctx, memberID)
		if err != nil {
			return err
		}
		if sc.Version == 0 {
			return Errorf(EConflict, "Save the segments first; there is nothing to recompute yet.")
		}
	}
	if p, err := l.Store.Progress(ctx, memberID, BackfillJob); err != nil || p.State != "running" {
		now := l.now().UTC()
		if err := l.Store.SetProgress(ctx, memberID, BackfillJob, Progress{State: "queued", Started: now, Updated: now}); err != nil {
			return err
		}
	}
	return l.Jobs.Backfill(ctx, memberID, reason)
}

func (l *Lifecycle) log() *slog.Logger {
	if l.Log != nil {
		return l.Log
	}
	return slog.New(slog.DiscardHandler)
}

// IsNotAdmin reports whether an install was refused because its user is
// not an administrator.
func IsNotAdmin(err error) bool { return errors.Is(err, ErrNotAdmin) }
