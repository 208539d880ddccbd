package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strings"

	"github.com/gin-gonic/gin"

	"segmentor/app"
	"segmentor/app/segment"
	"segmentor/bitrix"
)

// maxConfigBytes bounds a config body; real ones are a few KB.
const maxConfigBytes = 256 << 10

// CRM calls a REST method on a portal with the app's stored tokens.
type CRM interface {
	Call(ctx context.Context, memberID, method string, params, out any) error
	// Statuses reads every page of the portal's crm.status.list.
	Statuses(ctx context.Context, memberID string) (json.RawMessage, error)
}

// BitrixCRM is CRM over the bitrix client.
type BitrixCRM struct{ Client *bitrix.Client }

// Call implements CRM.
func (b BitrixCRM) Call(ctx context.Context, memberID, method string, params, out any) error {
	_, err := b.Client.Portal(memberID).Call(ctx, method, params, out)
	return err
}

// Statuses implements CRM.
func (b BitrixCRM) Statuses(ctx context.Context, memberID string) (json.RawMessage, error) {
	return app.FetchStatuses(ctx, b.Client.Portal(memberID))
}

// API is the settings page's JSON API under /api/v1. Every handler takes
// the portal from the session, never from the request.
type API struct {
	Store *app.Store
	CRM   CRM
	Jobs  Recomputer // nil: recompute is unavailable
	// Insight computes previews, dry-runs, the dashboard's counts and
	// record explanations; nil leaves them unavailable.
	Insight Insight
	Mirror  *app.Mirror    // record titles in the audit list
	Queues  QueueInspector // nil: the dashboard shows no queue health
	Usage   *app.RESTUsage // nil: the dashboard shows no REST budget use

	queues queueCache
}

// emptyConfig is what a portal has before its first save.
var emptyConfig = json.RawMessage(`{"schemes":[]}`)

// GetConfig answers the current config and its version.
func (a *API) GetConfig(c *gin.Context) {
	sess := sessionOf(c)
	sc, err := a.Store.Config(c.Request.Context(), sess.MemberID)
	if err != nil {
		apiError(c, sess.Lang, err)
		return
	}
	cfg := sc.Config
	if len(cfg) == 0 {
		cfg = emptyConfig
	}
	out := gin.H{"version": sc.Version, "config": cfg}
	if sc.Version > 0 {
		out["saved_at"], out["saved_by"] = sc.SavedAt, sc.SavedBy
	}
	c.JSON(http.StatusOK, out)
}

type putConfigRequest struct {
	BaseVersion *int            `json:"base_version"`
	Config      json.RawMessage `json:"config"`
}

// PutConfig saves a config as the version after base_version: a config
// with problems is refused with all of them (422), a stale base with 409.
func (a *API) PutConfig(c *gin.Context) {
	sess := sessionOf(c)
	var req putConfigRequest
	if err := decodeBody(c, &req); err != nil || req.BaseVersion == nil || len(req.Config) == 0 {
		apiError(c, sess.Lang, app.Errorf(app.EInvalid, "Send {base_version, config}."))
		return
	}
	ctx := c.Request.Context()
	ps, err := a.problems(ctx, sess.MemberID, req.Config)
	if err != nil {
		apiError(c, sess.Lang, err)
		return
	}
	if len(ps) > 0 {
		apiProblems(c, sess.Lang, ps)
		return
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, req.Config); err != nil {
		apiError(c, sess.Lang, app.Errorf(app.EInvalid, "The config is not valid JSON."))
		return
	}
	v, err := a.Store.PutConfig(ctx, sess.MemberID, *req.BaseVersion, compact.Bytes(), sess.UserID)
	if err != nil {
		apiError(c, sess.Lang, err)
		return
	}
	out := gin.H{"version": v}
	// New rules apply to the whole base: recompute it. The save stands
	// even if queuing fails; the admin can start a recompute by hand.
	if a.Jobs != nil {
		if err := a.queueRecompute(ctx, sess.MemberID, "config"); err == nil {
			out["job_id"] = backfillJob
		}
	}
	c.JSON(http.StatusOK, out)
}

// ValidateConfig lists a draft config's problems (empty when it can be saved).
func (a *API) ValidateConfig(c *gin.Context) {
	sess := sessionOf(c)
	var req struct {
		Config json.RawMessage `json:"config"`
	}
	if err := decodeBody(c, &req); err != nil || len(req.Config) == 0 {
		apiError(c, sess.Lang, app.Errorf(app.EInvalid, "Send {config}."))
		return
	}
	ps, err := a.problems(c.Request.Context(), sess.MemberID, req.Config)
	if err != nil {
		apiError(c, sess.Lang, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"errors": ps.In(segmentLang(sess.Lang))})
}

// problems parses and validates raw against the portal's reference data.
func (a *API) problems(ctx context.Context, memberID string, raw json.RawMessage) (segment.Problems, error) {
	cfg, err := segment.ParseConfig(raw)
	if err != nil {
		var ps segment.Problems
		if errors.As(err, &ps) {
			return ps, nil
		}
		return nil, err
	}
	ref, err := a.Store.Reference(ctx, memberID)
	if err != nil {
		return nil, err
	}
	return segment.Validate(cfg, engineReference(ref)), nil
}

// GetReference answers what the editor's pickers offer: the portal's types,
// pipelines with stages, sources, currencies and fields, and the facts.
func (a *API) GetReference(c *gin.Context) {
	sess := sessionOf(c)
	ref, err := a.Store.Reference(c.Request.Context(), sess.MemberID)
	if err != nil {
		apiError(c, sess.Lang, err)
		return
	}
	c.JSON(http.StatusOK, referenceView(ref))
}

var statusIDPattern = regexp.MustCompile(`^[A-Z0-9_]{1,40}$`)

// typeEntities maps a record type to its Bitrix24 status list.
var typeEntities = map[string]string{"contact": "CONTACT_TYPE", "company": "COMPANY_TYPE", "deal": "DEAL_TYPE"}

// AddType creates a type value (crm.status.add) so that a segment can set
// it, then refreshes the cached statuses.
func (a *API) AddType(c *gin.Context) {
	sess := sessionOf(c)
	var req struct {
		Entity string `json:"entity"`
		ID     string `json:"id"`
		Name   string `json:"name"`
	}
	if err := decodeBody(c, &req); err != nil {
		apiError(c, sess.Lang, app.Errorf(app.EInvalid, "Send {entity, id, name}."))
		return
	}
	list, ok := typeEntities[req.Entity]
	req.ID, req.Name = strings.ToUpper(strings.TrimSpace(req.ID)), strings.TrimSpace(req.Name)
	switch {
	case !ok:
		apiError(c, sess.Lang, app.Errorf(app.EInvalid, "entity must be contact, company or deal."))
		return
	case !statusIDPattern.MatchString(req.ID):
		apiError(c, sess.Lang, app.Errorf(app.EInvalid, "The type code must be 1–40 Latin capitals, digits or _."))
		return
	case req.Name == "" || len([]rune(req.Name)) > 100:
		apiError(c, sess.Lang, app.Errorf(app.EInvalid, "The type needs a name of up to 100 characters."))
		return
	}
	ctx := c.Request.Context()
	ref, err := a.Store.Reference(ctx, sess.MemberID)
	if err != nil {
		apiError(c, sess.Lang, err)
		return
	}
	for _, t := range engineReference(ref).Types[segment.Entity(req.Entity)] {
		if t.ID == req.ID {
			apiError(c, sess.Lang, app.Errorf(app.EConflict, "The type %s already exists.", req.ID))
			return
		}
	}
	fields := map[string]any{"ENTITY_ID": list, "STATUS_ID": req.ID, "NAME": req.Name, "SORT": 500}
	if err := a.CRM.Call(ctx, sess.MemberID, "crm.status.add", map[string]any{"fields": fields}, nil); err != nil {
		apiError(c, sess.Lang, crmError("crm.status.add", err))
		return
	}
	statuses, err := a.CRM.Statuses(ctx, sess.MemberID)
	if err != nil {
		apiError(c, sess.Lang, crmError("crm.status.list", err))
		return
	}
	if err := a.Store.SetReference(ctx, sess.MemberID, app.Reference{"statuses": statuses}); err != nil {
		apiError(c, sess.Lang, err)
		return
	}
	ref["statuses"] = statuses
	c.JSON(http.StatusCreated, gin.H{"types": referenceView(ref).Types[req.Entity]})
}

// crmError turns a failed REST call into a domain error: the portal's
// refusal is shown, transport trouble is "try again".
func crmError(method string, err error) error {
	var ae *bitrix.APIError
	if errors.As(err, &ae) && !bitrix.IsTemporary(err) {
		msg := "Bitrix24 refused " + method
		if ae.Description != "" {
			msg += ": " + ae.Description
		}
		return &app.Error{Code: app.EInvalid, Message: msg, Err: err}
	}
	return &app.Error{Code: app.EUnavailable, Message: "Bitrix24 did not answer; try again in a minute.", Err: err}
}

// decodeBody reads a JSON body of at most maxConfigBytes.
func decodeBody(c *gin.Context, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(c.Writer, c.Request.Body, maxConfigBytes))
	return dec.Decode(v)
}

// apiRoutes mounts /api/v1: the session start is open, everything else
// needs a session, and writes need an admin.
func apiRoutes(g *gin.RouterGroup, s *Sessions, a *API) {
	g.POST("/session", s.Start)
	auth := g.Group("", s.Require)
	auth.GET("/config", a.GetConfig)
	auth.POST("/config/validate", a.ValidateConfig)
	auth.GET("/reference", a.GetReference)
	auth.GET("/jobs/:id", a.Job)
	auth.POST("/preview", a.Preview)
	auth.POST("/dryrun", a.DryRun)
	auth.POST("/dry-run", a.DryRun) // the name design.md §5 uses
	auth.GET("/records/:entity/:id", a.Record)
	auth.GET("/audit", a.Audit)
	auth.GET("/dashboard", a.Dashboard)
	admin := auth.Group("", RequireAdmin)
	admin.PUT("/config", a.PutConfig)
	admin.POST("/reference/types", a.AddType)
	admin.POST("/recompute", a.Recompute)
}
