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
func userError(code, lang, en, ru string) error {
	return &app.Error{Code: code, Message: pick(lang, en, ru), Err: errInUserLanguage}
}

func (a *API) insight(c *gin.Context, sess Session) bool {
	if a.Insight == nil {
		apiError(c, sess.Lang, userError(app.EUnavailable, sess.Lang,
			"Previews are not available on this server.", "Предпросмотр на этом сервере недоступен."))
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
		apiError(c, sess.Lang, bodyError(sess.Lang, err, "Send {config}.", "Отправьте {config}."))
		return segment.Config{}, req, false
	}
	if req.RevenueWindowDays < 0 || req.RevenueWindowDays > maxRevenueWindow {
		apiError(c, sess.Lang, userError(app.EInvalid, sess.Lang,
			"revenue_window_days must be 0 (all time) to 3650.", "revenue_window_days должно быть от 0 (за всё время) до 3650."))
		return segment.Config{}, req, false
	}
	ps, err := a.problems(c.Request.Context(), sess.MemberID, req.Config)
	if err != nil {
		apiError(c, sess.Lang, err)
		return segment.Config{}, req, false
	}
	if len(ps) > 0 {
		apiProblems(c, sess.Lang, ps)
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
	admin := sessionOf(c).Admin
	a.answerDraft(c, func(ctx context.Context, memberID string, cfg segment.Config, req draftRequest) (any, error) {
		p, err := a.Insight.Preview(ctx, memberID, cfg, engine.PreviewOptions{RevenueWindowDays: req.RevenueWindowDays})
		if err != nil || admin {
			return p, err
		}
		return p.WithoutSamples(), nil
	})
}

// DryRun answers what saving a draft config would change (POST /dryrun),
// with no records for a user who is not an administrator.
func (a *API) DryRun(c *gin.Context) {
	admin := sessionOf(c).Admin
	a.answerDraft(c, func(ctx context.Context, memberID string, cfg segment.Config, _ draftRequest) (any, error) {
		d, err := a.Insight.DryRun(ctx, memberID, cfg)
		if err != nil || admin {
			return d, err
		}
		return d.WithoutSamples(), nil
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
	return userError(app.EInvalid, lang, "The record type must be contact, company or deal.",
		"Тип записи должен быть contact, company или deal.")
}

func badID(lang string) error {
	return userError(app.EInvalid, lang, "The record id must be a positive whole number.",
		"Номер записи должен быть целым положительным числом.")
}

// SegmentBadge is how a record's segment is shown.
type SegmentBadge struct {
	Key   string `json:"key"`
	Name  string `json:"name"`
	Color string `json:"color,omitempty"`
}

// ExplanationLine is one condition as evaluated, indented by depth.
type ExplanationLine struct {
	Depth   int    `json:"depth"`
	Text    string `json:"text"`
	Held    bool   `json:"held"`
	Checked bool   `json:"checked"`
}

// ExplanationSegment is one segment tried, with its conditions.
type ExplanationSegment struct {
	Key   string            `json:"key"`
	Name  string            `json:"name"`
	Held  bool              `json:"held"`
	Lines []ExplanationLine `json:"lines"`
}

// RecordExplanation is why a record is in its segment.
type RecordExplanation struct {
	Text     string               `json:"text"`
	Segments []ExplanationSegment `json:"segments"`
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
	Pending bool             `json:"pending"`
	History []app.AuditEntry `json:"history"`
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
		apiError(c, sess.Lang, userError(app.EForbidden, sess.Lang,
			"Open this record's card in Bitrix24 to see its segment here: Bitrix24 checks there that you may see it.",
			"Откройте карточку этой записи в Битрикс24, чтобы увидеть её сегмент: Битрикс24 проверит там, что вам можно её видеть."))
		return
	}
	ctx := c.Request.Context()
	rs, err := a.Insight.Explain(ctx, sess.MemberID, e, id)
	if app.ErrorCode(err) == app.ENotFound {
		apiError(c, sess.Lang, userError(app.ENotFound, sess.Lang,
			"Segmentor does not know this record yet: it may be new (it is picked up within minutes) or deleted.",
			"Segmentor ещё не знает эту запись: возможно, она только что создана (её учтут в течение нескольких минут) или удалена."))
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
	dir, err := a.Store.Directory(ctx, sess.MemberID)
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
		ConfigVersion: rs.ConfigVersion, Pending: rs.Pending, History: history}
	v.TypeName = dir.TypeName(e, rs.TypeID)
	if e == segment.EntityDeal {
		v.Pipeline, v.PipelineName = strconv.Itoa(rs.CategoryID)+":"+rs.StageID, dir.Stage(rs.CategoryID, rs.StageID)
	}
	if rs.Key != "" {
		v.Segment = &SegmentBadge{Key: rs.Key, Name: rs.Key}
		if sg := a.savedSegment(ctx, sess.MemberID, e, rs.Key); sg != nil {
			v.Segment.Name, v.Segment.Color = sg.Name, sg.Color
		}
	}
	if rs.Result != nil {
		v.Explanation = explanationView(rs.Result.Explanation, segmentLang(sess.Lang))
	}
	c.JSON(http.StatusOK, v)
}

// savedSegment finds a segment of the saved config by key.
func (a *API) savedSegment(ctx context.Context, memberID string, e segment.Entity, key string) *segment.Segment {
	sc, err := a.Store.Config(ctx, memberID)
	if err != nil || len(sc.Config) == 0 {
		return nil
	}
	cfg, err := segment.ParseSavedConfig(sc.Config)
	if err != nil {
		return nil
	}
	for _, s := range cfg.Schemes {
		if s.Entity != e {
			continue
		}
		for i := range s.Segments {
			if s.Segments[i].Key == key {
				return &s.Segments[i]
			}
		}
		if s.Otherwise != nil && s.Otherwise.Key == key {
			return s.Otherwise
		}
	}
	return nil
}

// explanationView flattens the traces into lines, as Explanation.Text
// indents them: the segment's condition at depth 1, its children below.
func explanationView(x segment.Explanation, lang segment.Lang) *RecordExplanation {
	out := &RecordExplanation{Text: x.Text(lang), Segments: []ExplanationSegment{}}
	for _, s := range x.Segments {
		es := ExplanationSegment{Key: s.Key, Name: s.Name, Held: s.Held, Lines: []ExplanationLine{}}
		var walk func(t segment.Trace, depth int)
		walk = func(t segment.Trace, depth int) {
			text := t.Line(lang)
			if t.Checked {
				// The line's ✓/✗ is the held flag; the page draws its own.
				text = strings.TrimSuffix(strings.TrimSuffix(text, " ✓"), " ✗")
			}
			es.Lines = append(es.Lines, ExplanationLine{Depth: depth, Text: text, Held: t.Held, Checked: t.Checked})
			for _, ch := range t.Children {
				walk(ch, depth+1)
			}
		}
		walk(s.When, 1)
		out.Segments = append(out.Segments, es)
	}
	return out
}

// maxAuditLimit bounds GET /audit?limit.
const maxAuditLimit = 200

// AuditView is one entry of GET /audit: the change, and the record's
// title and card link.
type AuditView struct {
	app.AuditEntry
	Title string `json:"title"`
	URL   string `json:"url"`
}

// Audit answers the portal's recent changes, newest first, filtered by
// entity, segment (before or after) and record id (GET /audit); to
// administrators only, as the records it names may be any.
func (a *API) Audit(c *gin.Context) {
	sess := sessionOf(c)
	if !sess.Admin {
		apiError(c, sess.Lang, userError(app.EForbidden, sess.Lang,
			"Only Bitrix24 administrators see the list of changes; each record's card shows its own.",
			"Список изменений видят только администраторы Битрикс24; карточка каждой записи показывает свои."))
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
		apiError(c, sess.Lang, userError(app.EInvalid, sess.Lang, "The segment key is too long.", "Слишком длинный ключ сегмента."))
		return
	}
	limit := 50
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			apiError(c, sess.Lang, userError(app.EInvalid, sess.Lang, "limit must be a whole number from 1 to 200.",
				"limit должен быть целым числом от 1 до 200."))
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
	portal, err := a.Store.Portal(ctx, sess.MemberID)
	if err != nil {
		apiError(c, sess.Lang, err)
		return
	}
	titles, err := a.titles(ctx, sess.MemberID, entries)
	if err != nil {
		apiError(c, sess.Lang, err)
		return
	}
	out := make([]AuditView, len(entries))
	for i, e := range entries {
		out[i] = AuditView{AuditEntry: e, Title: titles[app.ClientRef{Entity: segment.Entity(e.Entity), ID: e.ID}],
			URL: portal.RecordURL(e.Entity, e.ID)}
	}
	c.JSON(http.StatusOK, gin.H{"entries": out})
}

// titles reads the mirrored titles of the entries' records.
func (a *API) titles(ctx context.Context, memberID string, entries []app.AuditEntry) (map[app.ClientRef]string, error) {
	out := map[app.ClientRef]string{}
	if a.Mirror == nil {
		return out, nil
	}
	ids := map[segment.Entity][]int64{}
	for _, e := range entries {
		ids[segment.Entity(e.Entity)] = append(ids[segment.Entity(e.Entity)], e.ID)
	}
	for e, list := range ids {
		switch e {
		case segment.EntityDeal:
			rows, err := a.Mirror.Deals(ctx, memberID, list)
			if err != nil {
				return nil, err
			}
			for id, d := range rows {
				out[app.ClientRef{Entity: e, ID: id}] = d.Title
			}
		case segment.EntityContact, segment.EntityCompany:
			rows, err := a.Mirror.Clients(ctx, memberID, e, list)
			if err != nil {
				return nil, err
			}
			for id, cl := range rows {
				out[app.ClientRef{Entity: e, ID: id}] = cl.Title
			}
		}
	}
	return out, nil
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

// RESTBudget is the portal's REST request budget use.
type RESTBudget struct {
	RequestsLastHour int     `json:"requests_last_hour"`
	BudgetPerSecond  float64 `json:"budget_per_second"`
	UsedShare        float64 `json:"used_share"`
	LimitedLastHour  int     `json:"limited_last_hour"`
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

// Dashboard answers the saved config's segments with today's counts, the
// last recompute, queue health and the portal's REST budget use
// (GET /dashboard).
func (a *API) Dashboard(c *gin.Context) {
	start := time.Now()
	sess := sessionOf(c)
	ctx := c.Request.Context()
	window := 0
	if s := c.Query("revenue_window_days"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > maxRevenueWindow {
			apiError(c, sess.Lang, userError(app.EInvalid, sess.Lang,
				"revenue_window_days must be 0 (all time) to 3650.", "revenue_window_days должно быть от 0 (за всё время) до 3650."))
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
	profile := bitrix.ProfileForLicense(portal.License)
	if a.Usage != nil {
		h, err := a.Usage.LastHour(ctx, sess.MemberID)
		if err != nil {
			apiError(c, sess.Lang, err)
			return
		}
		perSecond := float64(profile.Rate) / profile.Period.Seconds()
		out["rest"] = RESTBudget{RequestsLastHour: h.Requests, BudgetPerSecond: perSecond,
			UsedShare: float64(h.Requests) / (perSecond * 3600), LimitedLastHour: h.Limited}
	}
	out["portal"] = gin.H{"state": portal.State, "plan": profile.Name, "license": portal.License}
	out["took_ms"] = time.Since(start).Milliseconds()
	c.JSON(http.StatusOK, out)
}
