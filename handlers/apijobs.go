package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"segmentor/app"
)

// backfillJob is the one job the API exposes (app.BackfillJob).
const backfillJob = app.BackfillJob

// Recompute starts a backfill of the whole base with the saved config.
func (a *API) Recompute(c *gin.Context) {
	sess := sessionOf(c)
	if err := a.Life.Recompute(c.Request.Context(), sess.MemberID, app.TriggerRecompute); err != nil {
		apiError(c, sess.Lang, err)
		return
	}
	c.JSON(http.StatusAccepted, gin.H{"job_id": backfillJob})
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
