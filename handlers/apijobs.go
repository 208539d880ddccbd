package handlers

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"segmentor/app"
)

// Recomputer queues a portal's backfill (jobs.Queue).
type Recomputer interface {
	Backfill(ctx context.Context, memberID, reason string) error
}

// backfillJob is the one job the API exposes; its progress is stored under
// this name, and a portal has at most one queued or running.
const backfillJob = "backfill"

// Recompute starts a backfill of the whole base with the saved config.
func (a *API) Recompute(c *gin.Context) {
	sess := sessionOf(c)
	ctx := c.Request.Context()
	sc, err := a.Store.Config(ctx, sess.MemberID)
	if err != nil {
		apiError(c, sess.Lang, err)
		return
	}
	if sc.Version == 0 {
		apiError(c, sess.Lang, app.Errorf(app.EConflict, "Save the segments first; there is nothing to recompute yet."))
		return
	}
	if err := a.queueRecompute(ctx, sess.MemberID, "recompute"); err != nil {
		apiError(c, sess.Lang, err)
		return
	}
	c.JSON(http.StatusAccepted, gin.H{"job_id": backfillJob})
}

func (a *API) queueRecompute(ctx context.Context, memberID, reason string) error {
	if a.Jobs == nil {
		return app.Errorf(app.EUnavailable, "Recomputing is not available on this server.")
	}
	if p, err := a.Store.Progress(ctx, memberID, backfillJob); err != nil || p.State != "running" {
		now := time.Now().UTC()
		if err := a.Store.SetProgress(ctx, memberID, backfillJob, app.Progress{State: "queued", Started: now, Updated: now}); err != nil {
			return err
		}
	}
	return a.Jobs.Backfill(ctx, memberID, reason)
}

// Job answers a job's progress: state, phase, done, total, ETA, errors.
func (a *API) Job(c *gin.Context) {
	sess := sessionOf(c)
	if c.Param("id") != backfillJob {
		apiError(c, sess.Lang, app.Errorf(app.ENotFound, "No such job."))
		return
	}
	p, err := a.Store.Progress(c.Request.Context(), sess.MemberID, backfillJob)
	if err != nil {
		apiError(c, sess.Lang, err)
		return
	}
	errs := []string{}
	if p.Error != "" {
		errs = append(errs, p.Error)
	}
	out := gin.H{"id": backfillJob, "state": p.State, "phase": p.Phase, "done": p.Done, "total": p.Total,
		"writes": p.Writes, "errors": errs, "eta_s": nil}
	if eta, ok := p.ETA(); ok {
		out["eta_s"] = int(eta.Seconds())
	}
	c.JSON(http.StatusOK, out)
}
