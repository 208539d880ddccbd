package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/hibiken/asynq"

	"segmentor/app"
	"segmentor/app/segment"
	"segmentor/bitrix"
	"segmentor/engine"
)

// Insight answers what the dashboard, the editor's live counts and the
// card tabs show, from the portal's mirror (engine.Analyst).
type Insight interface {
	Preview(ctx context.Context, memberID string, cfg segment.Config, opt engine.PreviewOptions) (*engine.Preview, error)
	DryRun(ctx context.Context, memberID string, cfg segment.Config) (*engine.DryRun, error)
	Standing(ctx context.Context, memberID string, cfg segment.Config, opt engine.PreviewOptions) (*engine.Preview, error)
	Explain(ctx context.Context, memberID string, e segment.Entity, id int64) (*engine.RecordStanding, error)
	Segment(ctx context.Context, memberID string, e segment.Entity, key string) (*engine.SegmentFigures, error)
}

// QueueInspector reads the job queues' state (asynq.Inspector).
type QueueInspector interface {
	Queues() ([]string, error)
	GetQueueInfo(queue string) (*asynq.QueueInfo, error)
}

var _ QueueInspector = (*asynq.Inspector)(nil)

// errInUserLanguage marks an error whose message is already in the
// session's language, so apiError shows it as it is.
var errInUserLanguage = errors.New("message in the user's language")

// userError is a domain error worded for the session's language.
func (a *API) insight(c *gin.Context, sess Session) bool {
	if a.Insight == nil {
		apiError(c, sess.Lang, userError(app.EUnavailable, sess.Lang, "no_preview"))
		return false
	}
	return true
}

// maxRevenueWindow bounds revenue_window_days (ten years).
const maxRevenueWindow = 3650

type draftRequest struct {
	Config            json.RawMessage `json:"config"`
	RevenueWindowDays int             `json:"revenue_window_days"`
}

// draft reads {config, revenue_window_days?}: a draft with problems is
// answered 422 with all of them, as PUT /config would.
func (a *API) draft(c *gin.Context, sess Session) (segment.Config, draftRequest, bool) {
	var req draftRequest
	if err := decodeBody(c, &req); err != nil || len(req.Config) == 0 {
		apiError(c, sess.Lang, bodyError(sess.Lang, err, "send_config"))
		return segment.Config{}, req, false
	}
	if req.RevenueWindowDays < 0 || req.RevenueWindowDays > maxRevenueWindow {
		apiError(c, sess.Lang, userError(app.EInvalid, sess.Lang, "bad_window"))
		return segment.Config{}, req, false
	}
	ps, names, err := a.problems(c.Request.Context(), sess.MemberID, req.Config)
	if err != nil {
		apiError(c, sess.Lang, err)
		return segment.Config{}, req, false
	}
	if len(ps) > 0 {
		apiProblems(c, sess.Lang, ps, names)
		return segment.Config{}, req, false
	}
	cfg, err := segment.ParseConfig(req.Config)
	if err != nil {
		apiError(c, sess.Lang, err)
		return segment.Config{}, req, false
	}
	return cfg, req, true
}

// answerDraft answers POST /preview and /dryrun: fn computes the answer
// for the request's draft.
func (a *API) answerDraft(c *gin.Context, fn func(ctx context.Context, memberID string, cfg segment.Config, req draftRequest) (any, error)) {
	sess := sessionOf(c)
	if !a.insight(c, sess) {
		return
	}
	cfg, req, ok := a.draft(c, sess)
	if !ok {
		return
	}
	out, err := fn(c.Request.Context(), sess.MemberID, cfg, req)
	if err != nil {
		apiError(c, sess.Lang, err)
		return
	}
	c.JSON(http.StatusOK, out)
}

// Preview answers how a draft config splits the base (POST /preview). A
// user who is not an administrator sees counts and shares, no records:
// the CRM may not let them see those.
func (a *API) Preview(c *gin.Context) {
	sess := sessionOf(c)
	a.answerDraft(c, func(ctx context.Context, memberID string, cfg segment.Config, req draftRequest) (any, error) {
		p, err := a.Insight.Preview(ctx, memberID, cfg, engine.PreviewOptions{RevenueWindowDays: req.RevenueWindowDays})
		if err != nil {
			return nil, err
		}
		if !sess.Admin {
			return p.WithoutSamples(), nil
		}
		t, _, _, err := a.teller(ctx, memberID, sess.Lang, &cfg)
		if err != nil {
			return nil, err
		}
		tellPreview(t, p)
		return p, nil
	})
}

// DryRun answers what saving a draft config would change (POST /dryrun),
// with no records for a user who is not an administrator.
func (a *API) DryRun(c *gin.Context) {
	sess := sessionOf(c)
	a.answerDraft(c, func(ctx context.Context, memberID string, cfg segment.Config, _ draftRequest) (any, error) {
		d, err := a.Insight.DryRun(ctx, memberID, cfg)
		if err != nil {
			return nil, err
		}
		if !sess.Admin {
			return d.WithoutSamples(), nil
		}
		t, _, _, err := a.teller(ctx, memberID, sess.Lang, &cfg)
		if err != nil {
			return nil, err
		}
		tellDryRun(t, d)
		return d, nil
	})
}

var idPattern = regexp.MustCompile(`^[1-9][0-9]{0,17}$`)

// parseEntity accepts contact, company or deal.
func parseEntity(s string) (segment.Entity, bool) {
	switch e := segment.Entity(s); e {
	case segment.EntityContact, segment.EntityCompany, segment.EntityDeal:
		return e, true
	}
	return "", false
}

func badEntity(lang string) error {
	return userError(app.EInvalid, lang, "bad_entity")
}

func badID(lang string) error {
	return userError(app.EInvalid, lang, "bad_id")
}

// SegmentBadge is how a record's segment is shown.
type SegmentBadge struct {
	Key   string `json:"key"`
	Name  string `json:"name"`
	Color string `json:"color,omitempty"`
}

// RecordView is what GET /records/:entity/:id answers (the card tab).
type RecordView struct {
	Entity        segment.Entity     `json:"entity"`
	ID            int64              `json:"id"`
	Title         string             `json:"title"`
	URL           string             `json:"url"`
	Segment       *SegmentBadge      `json:"segment"`
	Type          string             `json:"type"`
	TypeName      string             `json:"type_name"`
	Pipeline      string             `json:"pipeline,omitempty"`
	PipelineName  string             `json:"pipeline_name,omitempty"`
	ConfigVersion int                `json:"config_version"`
	Explanation   *RecordExplanation `json:"explanation"`
	// Pending: the saved config puts the record elsewhere and the write
	// has not happened yet.
	Pending bool         `json:"pending"`
	History []ChangeView `json:"history"`
	// Registry is a company's registry entry; nil for other records, a
	// company without a Polish tax ID, or with lookups off.
	Registry *CompanyRegistry `json:"registry,omitempty"`
}

// Record answers a record's segment, type, pipeline, explanation and
// history (GET /records/:entity/:id).
func (a *API) Record(c *gin.Context) {
	sess := sessionOf(c)
	if !a.insight(c, sess) {
		return
	}
	e, ok := parseEntity(c.Param("entity"))
	if !ok {
		apiError(c, sess.Lang, badEntity(sess.Lang))
		return
	}
	if !idPattern.MatchString(c.Param("id")) {
		apiError(c, sess.Lang, badID(sess.Lang))
		return
	}
	id, _ := strconv.ParseInt(c.Param("id"), 10, 64)
	if !sess.Admin && sess.Record != recordKey(&bitrix.ItemRef{Entity: bitrix.Entity(e), ID: id}) {
		apiError(c, sess.Lang, userError(app.EForbidden, sess.Lang, "open_card"))
		return
	}
	ctx := c.Request.Context()
	rs, err := a.Insight.Explain(ctx, sess.MemberID, e, id)
	if app.ErrorCode(err) == app.ENotFound {
		apiError(c, sess.Lang, a.unseenRecord(ctx, sess, &bitrix.ItemRef{Entity: bitrix.Entity(e), ID: id}))
		return
	}
	if err != nil {
		apiError(c, sess.Lang, err)
		return
	}
	portal, err := a.Store.Portal(ctx, sess.MemberID)
	if err != nil {
		apiError(c, sess.Lang, err)
		return
	}
	cfg := a.savedConfig(ctx, sess.MemberID)
	t, _, dir, err := a.teller(ctx, sess.MemberID, sess.Lang, cfg)
	if err != nil {
		apiError(c, sess.Lang, err)
		return
	}
	history, err := a.Store.Audit(ctx, sess.MemberID, string(e), id)
	if err != nil {
		apiError(c, sess.Lang, err)
		return
	}
	v := RecordView{Entity: e, ID: id, Title: rs.Title, URL: portal.RecordURL(string(e), id), Type: rs.TypeID,
		ConfigVersion: rs.ConfigVersion, Pending: rs.Pending, History: make([]ChangeView, len(history))}
	for i, h := range history {
		v.History[i] = tellChange(t, dir, sess.Lang, h)
	}
	v.TypeName = dir.TypeName(e, rs.TypeID)
	if e == segment.EntityDeal {
		v.Pipeline, v.PipelineName = strconv.Itoa(rs.CategoryID)+":"+rs.StageID, dir.Stage(rs.CategoryID, rs.StageID)
	}
	if rs.Key != "" {
		v.Segment = &SegmentBadge{Key: rs.Key, Name: rs.Key}
		if sg := savedSegment(cfg, e, rs.Key); sg != nil {
			v.Segment.Name, v.Segment.Color = sg.Name, sg.Color
		}
	}
	if rs.Result != nil {
		v.Explanation = explainRecord(t, e, rs.Result)
	}
	if e == segment.EntityCompany {
		if v.Registry, err = a.companyRegistry(ctx, sess.MemberID, sess.Lang, id); err != nil {
			apiError(c, sess.Lang, err)
			return
		}
	}
	c.JSON(http.StatusOK, v)
}

// maxAuditLimit bounds GET /audit?limit.
const maxAuditLimit = 200

// Audit answers the portal's recent changes, newest first, filtered by
// entity, segment (before or after) and record id (GET /audit); to
// administrators only, as the records it names may be any.
func (a *API) Audit(c *gin.Context) {
	sess := sessionOf(c)
	if !sess.Admin {
		apiError(c, sess.Lang, userError(app.EForbidden, sess.Lang, "changes_forbidden"))
		return
	}
	var f app.AuditFilter
	if s := c.Query("entity"); s != "" {
		e, ok := parseEntity(s)
		if !ok {
			apiError(c, sess.Lang, badEntity(sess.Lang))
			return
		}
		f.Entity = string(e)
	}
	if s := c.Query("record"); s != "" {
		if !idPattern.MatchString(s) {
			apiError(c, sess.Lang, badID(sess.Lang))
			return
		}
		f.ID, _ = strconv.ParseInt(s, 10, 64)
	}
	f.Segment = c.Query("segment")
	if len(f.Segment) > 64 {
		apiError(c, sess.Lang, userError(app.EInvalid, sess.Lang, "long_key"))
		return
	}
	limit := 50
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			apiError(c, sess.Lang, userError(app.EInvalid, sess.Lang, "bad_limit"))
			return
		}
		limit = min(n, maxAuditLimit)
	}
	ctx := c.Request.Context()
	entries, err := a.Store.FindAudit(ctx, sess.MemberID, f, limit)
	if err != nil {
		apiError(c, sess.Lang, err)
		return
	}
	links, err := a.recordLinks(ctx, sess.MemberID, auditRefs(entries))
	if err != nil {
		apiError(c, sess.Lang, err)
		return
	}
	t, _, dir, err := a.teller(ctx, sess.MemberID, sess.Lang, nil)
	if err != nil {
		apiError(c, sess.Lang, err)
		return
	}
	out := make([]ChangeView, len(entries))
	for i, e := range entries {
		out[i] = tellChange(t, dir, sess.Lang, e)
		l := links[app.ClientRef{Entity: segment.Entity(e.Entity), ID: e.ID}]
		out[i].Title, out[i].URL = l.Title, l.URL
	}
	c.JSON(http.StatusOK, gin.H{"entries": out})
}

// recordLink is a record as a list shows it: its mirrored title and a link
// to its card in the portal.
type recordLink struct {
	Title, URL string
}

// recordLinks reads the titles of refs from the mirror and makes their
// card links.
func (a *API) recordLinks(ctx context.Context, memberID string, refs []app.ClientRef) (map[app.ClientRef]recordLink, error) {
	portal, err := a.Store.Portal(ctx, memberID)
	if err != nil {
		return nil, err
	}
	out := make(map[app.ClientRef]recordLink, len(refs))
	ids := map[segment.Entity][]int64{}
	for _, r := range refs {
		out[r] = recordLink{URL: portal.RecordURL(string(r.Entity), r.ID)}
		ids[r.Entity] = append(ids[r.Entity], r.ID)
	}
	if a.Mirror == nil {
		return out, nil
	}
	title := func(e segment.Entity, id int64, t string) {
		r := app.ClientRef{Entity: e, ID: id}
		l := out[r]
		l.Title = t
		out[r] = l
	}
	for e, list := range ids {
		switch e {
		case segment.EntityDeal:
			rows, err := a.Mirror.Deals(ctx, memberID, list)
			if err != nil {
				return nil, err
			}
			for id, d := range rows {
				title(e, id, d.Title)
			}
		case segment.EntityContact, segment.EntityCompany:
			rows, err := a.Mirror.Clients(ctx, memberID, e, list)
			if err != nil {
				return nil, err
			}
			for id, cl := range rows {
				title(e, id, cl.Title)
			}
		}
	}
	return out, nil
}

// auditRefs are the records of entries.
func auditRefs(entries []app.AuditEntry) []app.ClientRef {
	out := make([]app.ClientRef, len(entries))
	for i, e := range entries {
		out[i] = app.ClientRef{Entity: segment.Entity(e.Entity), ID: e.ID}
	}
	return out
}

// QueueHealth is the job queues at a glance.
type QueueHealth struct {
	Pending     int     `json:"pending"`
	Active      int     `json:"active"`
	Retry       int     `json:"retry"`
	Scheduled   int     `json:"scheduled"`
	Aggregating int     `json:"aggregating"` // events waiting to be merged
	LatencyS    float64 `json:"latency_s"`   // age of the oldest pending task
}

// RESTBudget is the portal's REST limits as Bitrix24 counts them, and the
// app's use of them. Requests fill a leaky bucket that drains
// RatePerSecond and holds Burst: a burst of that many passes at once, then
// requests pass at the rate. Each method may run OperatingLimitS seconds in
// any 10 minutes; Operating lists the methods that ran longest.
type RESTBudget struct {
	RatePerSecond    float64      `json:"rate_per_second"`
	Burst            int          `json:"burst"`
	RequestsLastHour int          `json:"requests_last_hour"`
	LimitedLastHour  int          `json:"limited_last_hour"` // refused with QUERY_LIMIT_EXCEEDED
	OperatingLimitS  float64      `json:"operating_limit_s"`
	Operating        []MethodTime `json:"operating"`
}

// MethodTime is a method's operating time in the last 10 minutes, as
// Bitrix24 last reported it.
type MethodTime struct {
	Method  string  `json:"method"`
	Seconds float64 `json:"seconds"`
}

// operatingLimit is a method's time budget per 10 minutes: the 480 s the
// bitrix client slows down before (its default OperatingBudget).
const operatingLimit = 480 * time.Second

// maxOperatingShown is how many methods the dashboard lists.
const maxOperatingShown = 5

// bucketOf is the bucket Bitrix24 gives a portal (protocol §4): 250
// requests on Enterprise, 50 on every other plan. The client's own limit
// (bitrix.Profile.Burst) keeps a little under it.
func bucketOf(p bitrix.Profile) int {
	if p.Name == bitrix.EnterpriseProfile().Name {
		return 250
	}
	return 50
}

// planOf names the portal's plan from app.info's LICENSE_FAMILY, as the
// page shows it: free, basic, standard, professional or enterprise; "" for
// a family it does not know (the page then names none rather than show a
// code).
func planOf(family string) string {
	f := strings.ToLower(strings.TrimSpace(family))
	switch {
	case f == "project" || f == "free":
		return "free"
	case f == "basic":
		return "basic"
	case f == "std" || f == "standard":
		return "standard"
	case f == "pro" || f == "professional":
		return "professional"
	case strings.HasPrefix(f, "ent"): // as bitrix.ProfileForLicense reads it
		return "enterprise"
	}
	return ""
}

// queueCache keeps queue health for a few seconds: asynq walks every
// group to count them, and many pages may poll the dashboard.
type queueCache struct {
	mu   sync.Mutex
	at   time.Time
	last *QueueHealth
}

const queueCacheTTL = 5 * time.Second

func (a *API) queueHealth() (*QueueHealth, error) {
	a.queues.mu.Lock()
	defer a.queues.mu.Unlock()
	if a.queues.last != nil && time.Since(a.queues.at) < queueCacheTTL {
		return a.queues.last, nil
	}
	names, err := a.Queues.Queues()
	if err != nil {
		return nil, err
	}
	h := &QueueHealth{}
	for _, n := range names {
		info, err := a.Queues.GetQueueInfo(n)
		if err != nil {
			return nil, err
		}
		h.Pending += info.Pending
		h.Active += info.Active
		h.Retry += info.Retry
		h.Scheduled += info.Scheduled
		h.Aggregating += info.Aggregating
		h.LatencyS = max(h.LatencyS, info.Latency.Seconds())
	}
	a.queues.at, a.queues.last = time.Now(), h
	return h, nil
}

// restBudget is the portal's limits under profile and what the app used
// of them.
func (a *API) restBudget(ctx context.Context, memberID string, profile bitrix.Profile) (*RESTBudget, error) {
	h, err := a.Usage.LastHour(ctx, memberID)
	if err != nil {
		return nil, err
	}
	ops, err := a.Usage.Operating(ctx, memberID)
	if err != nil {
		return nil, err
	}
	b := &RESTBudget{RatePerSecond: float64(profile.Rate) / profile.Period.Seconds(), Burst: bucketOf(profile),
		RequestsLastHour: h.Requests, LimitedLastHour: h.Limited, OperatingLimitS: operatingLimit.Seconds(),
		Operating: []MethodTime{}}
	for _, m := range ops[:min(len(ops), maxOperatingShown)] {
		b.Operating = append(b.Operating, MethodTime{Method: m.Method, Seconds: m.Seconds})
	}
	return b, nil
}

// Dashboard answers the saved config's segments with today's counts, the
// last recompute, queue health, the portal's REST limits and their use,
// and its plan (GET /dashboard).
func (a *API) Dashboard(c *gin.Context) {
	start := time.Now()
	sess := sessionOf(c)
	ctx := c.Request.Context()
	window := 0
	if s := c.Query("revenue_window_days"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > maxRevenueWindow {
			apiError(c, sess.Lang, userError(app.EInvalid, sess.Lang, "bad_window"))
			return
		}
		window = n
	}
	portal, err := a.Store.Portal(ctx, sess.MemberID)
	if err != nil {
		apiError(c, sess.Lang, err)
		return
	}
	out := gin.H{"schemes": []engine.SchemeStanding{}, "last_recompute": nil, "queue": nil, "rest": nil, "mirror": nil,
		"revenue_window_days": window, "config_version": 0}
	sc, err := a.Store.Config(ctx, sess.MemberID)
	if err != nil {
		apiError(c, sess.Lang, err)
		return
	}
	if sc.Version > 0 && a.Insight != nil {
		cfg, err := segment.ParseSavedConfig(sc.Config)
		if err != nil {
			apiError(c, sess.Lang, err)
			return
		}
		st, err := a.Insight.Standing(ctx, sess.MemberID, cfg, engine.PreviewOptions{RevenueWindowDays: window})
		if err != nil {
			apiError(c, sess.Lang, err)
			return
		}
		if !sess.Admin {
			st = st.WithoutSamples()
		}
		out["schemes"], out["mirror"], out["config_version"] = st.Schemes, st.Mirror, sc.Version
	}
	switch p, err := a.Store.Progress(ctx, sess.MemberID, backfillJob); {
	case err == nil:
		out["last_recompute"] = p
	case app.ErrorCode(err) != app.ENotFound:
		apiError(c, sess.Lang, err)
		return
	}
	if a.Queues != nil {
		h, err := a.queueHealth()
		if err != nil {
			apiError(c, sess.Lang, err)
			return
		}
		out["queue"] = h
	}
	if a.Usage != nil {
		rest, err := a.restBudget(ctx, sess.MemberID, bitrix.ProfileForLicense(portal.License))
		if err != nil {
			apiError(c, sess.Lang, err)
			return
		}
		out["rest"] = rest
	}
	out["portal"] = gin.H{"state": portal.State, "plan": planOf(portal.License), "license": portal.License}
	out["took_ms"] = time.Since(start).Milliseconds()
	c.JSON(http.StatusOK, out)
}
