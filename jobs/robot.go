package jobs

import (
	"context"
	"errors"
	"slices"

	"segmentor/bitrix"
	"segmentor/engine"
)

// robotMissing is the command that registers the robot "Segmentor:
// classify" for deals (bizproc.robot.add), when setup's read of the
// robots ("robots") shows the portal lacks it: admins add the robot to a
// stage's automation rules or a workflow, and it returns the deal's
// segment. A portal that did not grant bizproc is noted (the settings page
// says so) and set up without it.
func (w *Worker) robotMissing(ctx context.Context, memberID string, res *bitrix.BatchResult) (*bitrix.Command, error) {
	var codes []string
	if err := res.Decode("robots", &codes); err != nil {
		w.robotRefused(ctx, memberID, err)
		return nil, nil
	}
	if slices.Contains(codes, engine.RobotCode) {
		return nil, nil
	}
	p, err := w.Store.Portal(ctx, memberID)
	if err != nil {
		return nil, err
	}
	returns := map[string]any{}
	names := map[string]map[string]string{
		"segment_key":  {"en": "Segment key", "ru": "Ключ сегмента", "pl": "Klucz segmentu", "it": "Chiave del segmento"},
		"segment_name": {"en": "Segment", "ru": "Сегмент", "pl": "Segment", "it": "Segmento"},
		"why":          {"en": "Why", "ru": "Почему", "pl": "Dlaczego", "it": "Perché"},
	}
	for _, k := range engine.RobotReturns {
		returns[k] = map[string]any{"Name": names[k], "Type": "string"}
	}
	cmd := bitrix.Robots.Add("robot", map[string]any{
		"CODE": engine.RobotCode, "HANDLER": w.AppBaseURL + w.Manifest.Handlers.Robot, "AUTH_USER_ID": p.InstalledBy,
		"NAME": map[string]string{"en": "Segmentor: classify and return the segment", "ru": "Segmentor: определить сегмент",
			"pl": "Segmentor: określ segment", "it": "Segmentor: determina il segmento"},
		"USE_SUBSCRIPTION": "Y", "USE_PLACEMENT": "N", "RETURN_PROPERTIES": returns,
		"DOCUMENT_TYPE": []string{"crm", "CCrmDocumentDeal", "DEAL"},
	})
	return &cmd, nil
}

// robotRefused notes why the robot is not there: a scope not granted is
// remembered for the settings page; anything else is logged.
func (w *Worker) robotRefused(ctx context.Context, memberID string, err error) {
	var ae *bitrix.APIError
	switch {
	case errors.As(err, &ae) && ae.HasCode("ERROR_ACTIVITY_ALREADY_INSTALLED"):
	case errors.As(err, &ae) && ae.HasCode("insufficient_scope"):
		if err := w.Store.NoteMissingScope(ctx, memberID, "bizproc"); err != nil {
			w.Log.Warn("missing scope not noted", "portal", memberID, "error", err)
		}
	default:
		w.Log.Warn("robot not registered", "portal", memberID, "error", err)
	}
}
