package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"segmentor/bitrix"
)

// Uninstalling. Every user's browser holds the portal's application token
// (Bitrix24 posts it with each opening of the app), so an ONAPPUNINSTALL
// with the right token proves nothing by itself. The portal does: on
// uninstall it revokes the app's tokens, so a call with the stored tokens
// that still succeeds means the event was forged. And even a confirmed
// uninstall only schedules the deletion: the portal's configuration,
// mirror and history stay for a grace period, and a reinstall within it
// finds them again.

// Grace periods of a confirmed uninstall, before the portal's data is
// purged. An admin who ticks "delete app data" (CLEAN) shortens the grace;
// no single request deletes anything at once.
const (
	DefaultGrace      = 30 * 24 * time.Hour
	DefaultCleanGrace = 24 * time.Hour
)

// Uninstall takes an ONAPPUNINSTALL whose application token matched: it
// queues the check with the portal (ConfirmUninstall) and changes nothing
// yet.
func (l *Lifecycle) Uninstall(ctx context.Context, memberID string, clean bool) error {
	if err := l.Jobs.ConfirmUninstall(ctx, memberID, clean); err != nil {
		return fmt.Errorf("queue the uninstall check of %s: %w", memberID, err)
	}
	l.log().Info("uninstall event received; checking with the portal", "portal", memberID, "clean", clean)
	return nil
}

// ConfirmUninstall asks the portal, with the stored tokens, for app.info.
// An answer means the app is still installed: the event was forged, and it
// is logged as a security event and changes nothing. Tokens the portal
// refuses (or none stored) confirm the uninstall: the portal is marked
// uninstalled, its tokens are forgotten and its data is kept until the
// grace period ends (Purge). Any other failure is returned, for a retry.
func (l *Lifecycle) ConfirmUninstall(ctx context.Context, memberID string, clean bool) error {
	p, err := l.Store.Portal(ctx, memberID)
	if err != nil {
		return err
	}
	if p.State == StateUninstalled {
		return l.shortenGrace(ctx, p, clean)
	}
	_, err = l.Bitrix.Portal(memberID).Info(ctx)
	switch {
	case err == nil:
		l.log().Warn("security: an uninstall event the portal does not confirm (the app's tokens still work); ignored",
			"portal", memberID, "clean", clean)
		return nil
	case errors.Is(err, bitrix.ErrNeedsReauth), errors.Is(err, bitrix.ErrNoToken):
		return l.uninstalled(ctx, memberID, clean)
	}
	return fmt.Errorf("check the uninstall of %s: %w", memberID, err)
}

// uninstalled records a confirmed uninstall.
func (l *Lifecycle) uninstalled(ctx context.Context, memberID string, clean bool) error {
	now := l.now().UTC()
	purge := now.Add(l.grace(clean))
	_, err := l.Store.UpdatePortal(ctx, memberID, func(p *Portal, exists bool) error {
		if !exists {
			return Errorf(ENotFound, "This Bitrix24 portal has not installed Segmentor.")
		}
		p.State, p.StateReason = StateUninstalled, "the app was uninstalled"
		p.UninstalledAt, p.PurgeAt = now, purge
		return nil
	})
	if err != nil {
		return err
	}
	if err := l.Store.DeleteTokens(ctx, memberID); err != nil {
		return err
	}
	l.Bitrix.Forget(memberID)
	l.log().Info("portal uninstalled the app; its data is kept until the grace period ends",
		"portal", memberID, "clean", clean, "purge_at", purge)
	return nil
}

// shortenGrace applies a later CLEAN to a portal already uninstalled.
func (l *Lifecycle) shortenGrace(ctx context.Context, p *Portal, clean bool) error {
	if !clean || p.PurgeAt.IsZero() {
		return nil
	}
	at := p.UninstalledAt.Add(l.grace(true))
	if !at.Before(p.PurgeAt) {
		return nil
	}
	_, err := l.Store.UpdatePortal(ctx, p.MemberID, func(p *Portal, exists bool) error {
		if !exists || p.State != StateUninstalled || p.PurgeAt.IsZero() {
			return errUnchanged // never create a portal, nor rewrite one, here
		}
		p.PurgeAt = at
		return nil
	})
	if errors.Is(err, errUnchanged) {
		return nil
	}
	return err
}

func (l *Lifecycle) grace(clean bool) time.Duration {
	g := cmp.Or(l.Grace, DefaultGrace)
	if clean {
		return min(cmp.Or(l.CleanGrace, DefaultCleanGrace), g)
	}
	return g
}

// Purge deletes the data of every portal whose grace period after an
// uninstall has ended; the portal record stays, marked purged. It returns
// how many portals it purged.
func (l *Lifecycle) Purge(ctx context.Context) (int, error) {
	ids, err := l.Store.Portals(ctx)
	if err != nil {
		return 0, err
	}
	now, n := l.now(), 0
	for _, id := range ids {
		// A read first: most portals are not due, and stay unwritten.
		if p, err := l.Store.Portal(ctx, id); err != nil || !purgeDue(p, now) {
			continue
		}
		if due, err := l.claimPurge(ctx, id, now); err != nil || !due {
			continue
		}
		if err := l.Store.DeleteEverything(ctx, id); err != nil {
			return n, fmt.Errorf("purge the data of %s: %w", id, err)
		}
		n++
		l.log().Info("portal's data purged after the uninstall grace period", "portal", id)
	}
	return n, nil
}

// purgeDue reports whether an uninstalled portal's grace has ended.
func purgeDue(p *Portal, now time.Time) bool {
	return p.State == StateUninstalled && !p.PurgeAt.IsZero() && !now.Before(p.PurgeAt)
}

// errUnchanged ends a portal update that has nothing to write.
var errUnchanged = errors.New("nothing to change")

// claimPurge marks the portal purged if its grace period has ended, in one
// transaction, so that a reinstall before it keeps the data and two
// schedulers never purge the same portal twice.
func (l *Lifecycle) claimPurge(ctx context.Context, memberID string, now time.Time) (bool, error) {
	_, err := l.Store.UpdatePortal(ctx, memberID, func(p *Portal, exists bool) error {
		if !exists || !purgeDue(p, now) {
			return errUnchanged // never create a portal, nor rewrite one, here
		}
		p.PurgeAt, p.PurgedAt = time.Time{}, now.UTC()
		return nil
	})
	if errors.Is(err, errUnchanged) {
		return false, nil
	}
	return err == nil, err
}
