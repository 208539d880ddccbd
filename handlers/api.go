package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/gin-gonic/gin"

	"segmentor/app"
	"segmentor/app/segment"
	"segmentor/registry"
)

// maxConfigBytes bounds a config body; real ones are a few KB.
const maxConfigBytes = 256 << 10

// API is the settings page's JSON API under /api/v1. Every handler takes
// the portal from the session, never from the request.
type API struct {
	Store       *app.Store
	Directories app.Directories // adds types on the portal
	Life        *app.Lifecycle  // recomputes; nil: recompute is unavailable
	// Insight computes previews, dry-runs, the dashboard's counts and
	// record explanations; nil leaves them unavailable.
	Insight Insight
	Mirror  *app.Mirror    // record titles in the audit list
	Queues  QueueInspector // nil: the dashboard shows no queue health
	Usage   *app.RESTUsage // nil: the dashboard shows no REST budget use
	Lists   ListKeeper     // static lists' uploads and freezes; nil: unavailable
	// Registry queues registry lookups when they are turned on; nil: none
	// are. RegistryDefaultKey: the operator gave a key (REGISTRY_KEY), so
	// a portal may turn lookups on without one of its own.
	Registry           RegistryJobs
	RegistryDefaultKey bool

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
		apiError(c, sess.Lang, bodyError(sess.Lang, err, "send_base_config"))
		return
	}
	ctx := c.Request.Context()
	ps, names, err := a.problems(ctx, sess.MemberID, req.Config)
	if err != nil {
		apiError(c, sess.Lang, err)
		return
	}
	if len(ps) > 0 {
		apiProblems(c, sess.Lang, ps, names)
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
	if a.Life != nil {
		if err := a.Life.Recompute(ctx, sess.MemberID, app.TriggerConfig); err == nil {
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
		apiError(c, sess.Lang, bodyError(sess.Lang, err, "send_config"))
		return
	}
	ps, names, err := a.problems(c.Request.Context(), sess.MemberID, req.Config)
	if err != nil {
		apiError(c, sess.Lang, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"errors": ps.In(segmentLang(sess.Lang), names)})
}

// problems parses and validates raw against the portal's reference data;
// names are the portal's, for the messages.
func (a *API) problems(ctx context.Context, memberID string, raw json.RawMessage) (segment.Problems, *segment.Names, error) {
	dir, err := a.Store.Directory(ctx, memberID)
	if err != nil {
		return nil, nil, err
	}
	names := dir.Names(nil)
	cfg, err := segment.ParseConfig(raw)
	if err != nil {
		var ps segment.Problems
		if errors.As(err, &ps) {
			return ps, names, nil
		}
		return nil, nil, err
	}
	voc := dir.Vocabulary()
	if voc.Lists, err = a.listNames(ctx, memberID, names); err != nil {
		return nil, nil, err
	}
	return segment.Validate(cfg, voc), names, nil
}

// GetReference answers what the editor's pickers offer: the portal's types,
// pipelines with stages, sources, currencies and fields, and the facts.
func (a *API) GetReference(c *gin.Context) {
	sess := sessionOf(c)
	dir, err := a.Store.Directory(c.Request.Context(), sess.MemberID)
	if err != nil {
		apiError(c, sess.Lang, err)
		return
	}
	v := pickersOf(dir)
	v.Words = segment.WordsIn(segmentLang(sess.Lang))
	v.RegistryRegions = registry.Voivodeships
	if v.MissingScopes, err = a.Store.MissingScopes(c.Request.Context(), sess.MemberID); err != nil {
		apiError(c, sess.Lang, err)
		return
	}
	c.JSON(http.StatusOK, v)
}

// AddType creates a type value on the portal so that a segment can set it,
// and answers the entity's types.
func (a *API) AddType(c *gin.Context) {
	sess := sessionOf(c)
	var req struct {
		Entity string `json:"entity"`
		ID     string `json:"id"`
		Name   string `json:"name"`
	}
	if err := decodeBody(c, &req); err != nil {
		apiError(c, sess.Lang, bodyError(sess.Lang, err, "send_type"))
		return
	}
	types, err := a.Directories.AddType(c.Request.Context(), sess.MemberID, segment.Entity(req.Entity), req.ID, req.Name)
	if err != nil {
		apiError(c, sess.Lang, err)
		return
	}
	c.JSON(http.StatusCreated, gin.H{"types": refValues(types)})
}

// decodeBody reads a JSON body of at most maxConfigBytes into v. The body
// must be clean JSON (segment.CheckJSON; a body that is not is refused with
// a segment.Problem saying where), except that a config in it is left to
// ParseConfig, whose problems have the paths the settings page marks.
func decodeBody(c *gin.Context, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxConfigBytes))
	if err != nil {
		return err
	}
	if err := segment.CheckJSON(body, segment.MaxJSONDepth, "config"); err != nil {
		return err
	}
	return json.Unmarshal(body, v)
}

// bodyError answers a body decodeBody refused, or one without what the
// endpoint needs (texts' key says what to send): where the body is not
// clean JSON, when that is why.
func bodyError(lang string, err error, key string) error {
	var p segment.Problem
	var big *http.MaxBytesError
	if errors.As(err, &big) {
		kb := big.Limit >> 10
		return userError(app.ETooLarge, lang, "too_large", kb)
	}
	if errors.As(err, &p) {
		return &app.Error{Code: app.EInvalid, Message: problemText(p, segmentLang(lang)), Err: errInUserLanguage}
	}
	return userError(app.EInvalid, lang, key)
}

func problemText(p segment.Problem, lang segment.Lang) string {
	if p.Path == "" {
		return p.Message(lang)
	}
	return p.Path + ": " + p.Message(lang)
}

// apiRoutes mounts /api/v1: the session start is open, everything else
// needs a session, and writes need an admin.
func apiRoutes(g *gin.RouterGroup, s *Sessions, a *API) {
	g.POST("/session", s.Start)
	auth := g.Group("", s.Require)
	auth.GET("/config", a.GetConfig)
	auth.POST("/config/validate", a.ValidateConfig)
	auth.GET("/reference", a.GetReference)
	auth.GET("/reference/locations", a.GetLocations)
	auth.GET("/jobs/:id", a.Job)
	auth.POST("/preview", a.Preview)
	auth.POST("/dryrun", a.DryRun)
	auth.POST("/dry-run", a.DryRun) // the name design.md §5 uses
	auth.GET("/records/:entity/:id", a.Record)
	auth.GET("/audit", a.Audit)
	auth.GET("/dashboard", a.Dashboard)
	auth.GET("/insight/trends", a.Trends)
	auth.GET("/insight/movement", a.Movement)
	auth.GET("/insight/movement/records", a.MovedRecords)
	auth.GET("/segments/:entity/:key", a.SegmentPage)
	auth.GET("/segments/:entity/:key/members.csv", a.ExportMembers) // administrators: it checks
	admin := auth.Group("", RequireAdmin)
	admin.PUT("/config", a.PutConfig)
	admin.POST("/reference/types", a.AddType)
	admin.POST("/recompute", a.Recompute)
	auth.GET("/registry", a.GetRegistry)
	admin.PUT("/registry", a.PutRegistry)
	listRoutes(auth, admin, a)
}
