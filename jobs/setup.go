package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/hibiken/asynq"

	"segmentor/app"
	"segmentor/bitrix"
)

// Entities the app classifies, with their Bitrix24 method prefixes.
var entities = []string{"contact", "company", "deal"}

type userField struct {
	ID        bitrix.ID `json:"ID"`
	FieldName string    `json:"FIELD_NAME"`
	XMLID     string    `json:"XML_ID"`
}

// handleSetup makes a portal ready: events bound to our URL, card tabs
// placed, the Segment list field on each entity, and the reference data
// cached. It is idempotent — run again on reinstall and on every app update
// — and costs four REST requests on a usual portal: one batch of reads, one
// of writes (only what is missing), two to cache the portal's directory (the
// first pages of its lists, then their further pages).
func (w *Worker) handleSetup(ctx context.Context, t *asynq.Task) error {
	var sp SetupPayload
	if err := json.Unmarshal(t.Payload(), &sp); err != nil {
		return fmt.Errorf("setup payload: %v: %w", err, asynq.SkipRetry)
	}
	if _, err := w.activePortal(ctx, sp.MemberID, true); err != nil {
		// Say so on the install page instead of leaving it polling.
		w.setSetup(ctx, sp.MemberID, app.SetupStatus{Phase: "failed", Error: err.Error()})
		return err
	}
	err := w.setup(ctx, sp)
	if err == nil {
		err = w.startBackfill(ctx, sp.MemberID, app.TriggerSetup)
	}
	if err != nil {
		retries, _ := asynq.GetRetryCount(ctx)
		maxRetry, _ := asynq.GetMaxRetry(ctx)
		err = wrapReauth(err) // dead tokens: revoked, so the page must say failed
		phase := "running"    // will be retried
		if retries >= maxRetry || errors.Is(err, asynq.RevokeTask) || errors.Is(err, asynq.SkipRetry) {
			phase = "failed"
		}
		w.setSetup(ctx, sp.MemberID, app.SetupStatus{Phase: phase, Error: err.Error()})
		return err
	}
	return nil
}

func (w *Worker) setSetup(ctx context.Context, memberID string, s app.SetupStatus) {
	_, err := w.Store.UpdatePortal(ctx, memberID, func(p *app.Portal, exists bool) error {
		if !exists {
			return app.Errorf(app.ENotFound, "no such portal") // never create one from a job
		}
		p.Setup = s
		return nil
	})
	if err != nil && app.ErrorCode(err) != app.ENotFound {
		w.Log.Warn("record setup progress", "portal", memberID, "error", err)
	}
}

func (w *Worker) setup(ctx context.Context, sp SetupPayload) error {
	memberID := sp.MemberID
	b := w.Bitrix.Portal(memberID)
	fieldName := "UF_CRM_" + w.Manifest.SegmentField.FieldName

	// 1. Everything we need to know, in one request.
	w.setSetup(ctx, memberID, app.SetupStatus{Phase: "running", Step: "reading"})
	reads := []bitrix.Command{bitrix.App.Info("info"), bitrix.Events.Get("events"), bitrix.Placements.Get("placements"),
		bitrix.Robots.List("robots")}
	for _, e := range entities {
		reads = append(reads, bitrix.RecordsOf(bitrix.Entity(e)).UserFields().Named("uf_"+e, fieldName))
	}
	res, _, err := b.Batch(ctx, reads, false)
	if err != nil {
		return fmt.Errorf("read portal setup: %w", err)
	}
	for _, name := range res.Failed() {
		if name == "robots" { // without bizproc, set up without the robot
			continue
		}
		return fmt.Errorf("read portal setup: %s: %w", name, res.Err(name))
	}
	var info bitrix.AppInfo
	if err := res.Decode("info", &info); err != nil {
		return err
	}

	// 2. Only what is missing, in one request (chunked past 50).
	w.setSetup(ctx, memberID, app.SetupStatus{Phase: "running", Step: "binding"})
	writes, err := w.missing(res)
	if err != nil {
		return err
	}
	if robot, err := w.robotMissing(ctx, memberID, res); err != nil {
		return err
	} else if robot != nil {
		writes = append(writes, *robot)
	}
	if err := w.bind(ctx, memberID, b, writes); err != nil {
		return err
	}

	// 3. The portal's directory for pickers and validation, every page of it.
	w.setSetup(ctx, memberID, app.SetupStatus{Phase: "running", Step: "reference"})
	dir, err := app.FetchDirectory(ctx, b, entities, fieldName)
	if err != nil {
		return err
	}
	if err := w.Store.SaveDirectory(ctx, memberID, dir); err != nil {
		return err
	}
	return w.setupDone(ctx, sp, info)
}

// missing lists the writes setup needs from what the portal has: events
// bound to our URL (and unbound from an old one), card tabs placed there,
// the Segment field on each entity.
func (w *Worker) missing(res *bitrix.BatchResult) ([]bitrix.Command, error) {
	m := w.Manifest
	var events []bitrix.EventHandler
	var placements []bitrix.PlacementHandler
	if err := decodeAll(res, map[string]any{"events": &events, "placements": &placements}); err != nil {
		return nil, err
	}
	eventsURL := w.AppBaseURL + m.Handlers.Events
	placementURL := w.AppBaseURL + m.Handlers.Placement
	var writes []bitrix.Command
	bound := map[string]bool{}
	for _, e := range events {
		ev := strings.ToUpper(e.Event)
		switch {
		case e.Handler == eventsURL:
			bound[ev] = true
		case samePath(e.Handler, m.Handlers.Events):
			// Ours, at an old address (the app moved): stop deliveries there.
			writes = append(writes, bitrix.Events.Unbind(fmt.Sprintf("unbind_%d", len(writes)), e.Event, e.Handler))
		}
	}
	for _, ev := range m.Events {
		if !bound[ev] {
			writes = append(writes, bitrix.Events.Bind("bind_"+ev, ev, eventsURL))
		}
	}
	placed := map[string]bool{}
	for _, p := range placements {
		if p.Handler == placementURL {
			placed[strings.ToUpper(p.Placement)] = true
		}
	}
	for _, p := range m.Placements {
		if !placed[p.Code] {
			writes = append(writes, bitrix.Placements.Bind("place_"+p.Code, p.Code, placementURL, p.Title))
		}
	}
	for _, e := range entities {
		var fields []userField
		if err := res.Decode("uf_"+e, &fields); err != nil {
			return nil, fmt.Errorf("decode %s user fields: %w", e, err)
		}
		if len(fields) == 0 {
			writes = append(writes, bitrix.RecordsOf(bitrix.Entity(e)).UserFields().Add("field_"+e, w.segmentField()))
		}
	}
	return writes, nil
}

// segmentField is the Segment list field as setup creates it.
func (w *Worker) segmentField() map[string]any {
	f := w.Manifest.SegmentField
	return map[string]any{
		"FIELD_NAME": f.FieldName, "USER_TYPE_ID": "enumeration", "XML_ID": f.XMLID,
		"LABEL": f.Label["en"], "EDIT_FORM_LABEL": f.Label, "LIST_COLUMN_LABEL": f.Label, "LIST_FILTER_LABEL": f.Label,
		"MULTIPLE": "N", "MANDATORY": "N", "SHOW_FILTER": "Y", "SETTINGS": map[string]any{"DISPLAY": "LIST"},
	}
}

// bind runs setup's writes; an event bound meanwhile (by another setup
// run) is done.
func (w *Worker) bind(ctx context.Context, memberID string, b *bitrix.PortalClient, writes []bitrix.Command) error {
	if len(writes) == 0 {
		return nil
	}
	wres, err := b.BatchAll(ctx, writes)
	if err != nil {
		return fmt.Errorf("bind: %w", err)
	}
	for _, name := range wres.Failed() {
		err := wres.Err(name)
		if strings.HasPrefix(name, "bind_") && hasCode(err, "ERROR_HANDLER_ALREADY_EXIST") {
			continue
		}
		if name == "robot" { // the robot is extra: the rest of the setup stands
			w.robotRefused(ctx, memberID, err)
			continue
		}
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// setupDone records what app.info said and that the portal is active —
// unless it was uninstalled (or its tokens died) while setup ran.
func (w *Worker) setupDone(ctx context.Context, sp SetupPayload, info bitrix.AppInfo) error {
	_, err := w.Store.UpdatePortal(ctx, sp.MemberID, func(p *app.Portal, _ bool) error {
		if info.LicenseFamily != "" {
			p.License = info.LicenseFamily
		}
		if info.Status != "" {
			p.Status = info.Status
		}
		if info.Version > 0 {
			p.AppVersion = info.Version
		}
		if info.ID != 0 {
			p.AppID = info.ID.String()
		}
		if p.State != app.StateInstalling && p.State != app.StateActive {
			return fmt.Errorf("portal became %s during setup: %w", p.State, asynq.RevokeTask)
		}
		p.State, p.StateReason = app.StateActive, ""
		p.Setup = app.SetupStatus{Phase: "done", Version: sp.Version, Finished: w.now().UTC()}
		return nil
	})
	return err
}

// samePath reports whether handler is an URL whose path is path.
func samePath(handler, path string) bool {
	u, err := url.Parse(handler)
	return err == nil && u.Path == path
}

func decodeAll(res *bitrix.BatchResult, into map[string]any) error {
	for name, v := range into {
		if err := res.Decode(name, v); err != nil {
			return fmt.Errorf("decode %s: %w", name, err)
		}
	}
	return nil
}

func hasCode(err error, code string) bool {
	var ae *bitrix.APIError
	return errors.As(err, &ae) && strings.EqualFold(ae.Code, code)
}

// startBackfill queues the portal's backfill when it has a config (a
// reinstall or an app update); a new portal gets its first one when the
// admin saves a config.
func (w *Worker) startBackfill(ctx context.Context, memberID, reason string) error {
	if w.Queue == nil {
		return nil
	}
	sc, err := w.Store.Config(ctx, memberID)
	if err != nil || sc.Version == 0 {
		return err
	}
	return w.Queue.Backfill(ctx, memberID, reason)
}
