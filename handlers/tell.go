package handlers

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"segmentor/app"
	"segmentor/app/segment"
	"segmentor/bitrix"
	"segmentor/engine"
)

// One explainer for every view: the card tab, the samples of a preview or
// dry run, and the changes list tell a record's reason with the same
// segment.Teller, in the reader's language, with the portal's names.

// teller tells with the portal's names and the segments of cfg (the saved
// config when nil).
func (a *API) teller(ctx context.Context, memberID, lang string, cfg *segment.Config) (*segment.Teller, *segment.Names, *app.Directory, error) {
	dir, err := a.Store.Directory(ctx, memberID)
	if err != nil {
		return nil, nil, nil, err
	}
	if cfg == nil {
		cfg = a.savedConfig(ctx, memberID)
	}
	names := dir.Names(cfg)
	if _, err := a.listNames(ctx, memberID, names); err != nil {
		return nil, nil, nil, err
	}
	return segment.NewTeller(segmentLang(lang), names), names, dir, nil
}

// savedConfig is the portal's saved config; nil when none is saved or it
// does not parse.
func (a *API) savedConfig(ctx context.Context, memberID string) *segment.Config {
	sc, err := a.Store.Config(ctx, memberID)
	if err != nil || len(sc.Config) == 0 {
		return nil
	}
	cfg, err := segment.ParseSavedConfig(sc.Config)
	if err != nil {
		return nil
	}
	return &cfg
}

// savedSegment is e's segment key in cfg; nil when cfg is nil or has no
// such segment.
func savedSegment(cfg *segment.Config, e segment.Entity, key string) *segment.Segment {
	if cfg == nil {
		return nil
	}
	return cfg.Segment(e, key)
}

// tellSamples sets each sample's Why from its Reason.
func tellSamples(t *segment.Teller, e segment.Entity, samples []engine.Sample) {
	for i := range samples {
		if r := samples[i].Reason; r != nil {
			told := t.Reason(e, *r)
			samples[i].Why = &told
		}
	}
}

// tellPreview tells why each sample of a preview is in its segment.
func tellPreview(t *segment.Teller, p *engine.Preview) {
	for i := range p.Schemes {
		sc := &p.Schemes[i]
		for j := range sc.Segments {
			tellSamples(t, sc.Entity, sc.Segments[j].Samples)
		}
		tellSamples(t, sc.Entity, sc.Otherwise.Samples)
	}
}

// tellDryRun tells why each sample of a dry run would move.
func tellDryRun(t *segment.Teller, d *engine.DryRun) {
	for i := range d.Schemes {
		for j := range d.Schemes[i].Moves {
			tellSamples(t, d.Schemes[i].Entity, d.Schemes[i].Moves[j].Samples)
		}
	}
}

// ChangeView is a change of a record as a person reads it: names, not
// codes, what started it, and why.
type ChangeView struct {
	At            time.Time    `json:"at"`
	Entity        string       `json:"entity"`
	ID            int64        `json:"id"`
	ConfigVersion int          `json:"config_version"`
	From          OutcomeView  `json:"from"`
	To            OutcomeView  `json:"to"`
	Trigger       string       `json:"trigger"`      // app.Trigger…; "" in entries older than it
	TriggerText   string       `json:"trigger_text"` // in words
	Why           segment.Told `json:"why"`
	// The changes list adds the record's title and card link.
	Title string `json:"title,omitempty"`
	URL   string `json:"url,omitempty"`
}

// OutcomeView is what a record carried, with names.
type OutcomeView struct {
	Segment      string `json:"segment,omitempty"` // key
	SegmentName  string `json:"segment_name"`      // "" for no segment
	Type         string `json:"type,omitempty"`
	TypeName     string `json:"type_name,omitempty"`
	Pipeline     string `json:"pipeline,omitempty"`      // "3:C3:NEW"
	PipelineName string `json:"pipeline_name,omitempty"` // "Wholesale: New"
}

// triggerText says what started a change, in lang.
func triggerText(trigger, lang string) string {
	switch trigger {
	case app.TriggerChange:
		return say(lang, "trigger_change")
	case app.TriggerSetup:
		return say(lang, "trigger_setup")
	case app.TriggerConfig:
		return say(lang, "trigger_config")
	case app.TriggerRecompute:
		return say(lang, "trigger_recompute")
	case app.TriggerNightly:
		return say(lang, "trigger_nightly")
	}
	return ""
}

// tellChange renders one journal entry for a reader.
func tellChange(t *segment.Teller, dir *app.Directory, lang string, e app.AuditEntry) ChangeView {
	ent := segment.Entity(e.Entity)
	v := ChangeView{At: e.At, Entity: e.Entity, ID: e.ID, ConfigVersion: e.ConfigVersion,
		From: outcomeView(t, dir, ent, e.From), To: outcomeView(t, dir, ent, e.To),
		Trigger: e.Trigger, TriggerText: triggerText(e.Trigger, lang)}
	switch {
	case e.Reason != nil:
		v.Why = t.Reason(ent, *e.Reason)
	default: // written before reasons were kept: its English text
		lines := strings.Split(strings.TrimSpace(e.Why), "\n")
		v.Why = segment.Told{Summary: strings.TrimSpace(lines[0]), Lines: []string{}}
		for _, l := range lines[1:] {
			if l = strings.TrimSpace(l); l != "" {
				v.Why.Lines = append(v.Why.Lines, l)
			}
		}
	}
	return v
}

func outcomeView(t *segment.Teller, dir *app.Directory, e segment.Entity, o app.Outcome) OutcomeView {
	v := OutcomeView{Segment: o.Segment, Type: o.Type, Pipeline: o.Pipeline}
	if o.Segment != "" {
		v.SegmentName = t.SegmentName(e, o.Segment)
		if v.SegmentName == o.Segment && o.Name != "" {
			v.SegmentName = o.Name // no longer in the rules: its name then
		}
	}
	if o.Type != "" {
		v.TypeName = dir.TypeName(e, o.Type)
		if v.TypeName == "" {
			v.TypeName = o.Type
		}
	}
	if o.Pipeline != "" {
		v.PipelineName = o.Pipeline
		if cat, stage, ok := strings.Cut(o.Pipeline, ":"); ok {
			if n, err := strconv.Atoi(cat); err == nil {
				if name := dir.Stage(n, stage); name != "" {
					v.PipelineName = name
				}
			}
		}
	}
	return v
}

// RecordExplanation is why a record is in its segment, as the card tab
// shows it: the reason (the conditions that held, or for the otherwise
// segment the nearest miss), then the segments tried before it.
// Segment is the saved rules' verdict, which may differ from the segment
// the record carries while a write is pending.
type RecordExplanation struct {
	segment.Told
	Segment     string          `json:"segment"` // "" when no segment holds
	SegmentName string          `json:"segment_name"`
	Otherwise   bool            `json:"otherwise"`
	Others      []segment.Other `json:"others"`
}

func explainRecord(t *segment.Teller, e segment.Entity, res *segment.Result) *RecordExplanation {
	return &RecordExplanation{Told: t.Reason(e, res.Reason()), Segment: res.Key, SegmentName: res.Name,
		Otherwise: res.Otherwise, Others: t.Others(e, res.Explanation)}
}

// unseenRecord says that Segmentor has not read a record, and whether
// Bitrix24 has it: a card's session was opened once Bitrix24 showed the
// record to its user; for an administrator's lookup the portal is asked
// (one request, administrators only).
func (a *API) unseenRecord(ctx context.Context, sess Session, rec *bitrix.ItemRef) error {
	// Each sentence per record type: its case and gender differ by
	// language ("нет контакта", "ta firma").
	what := string(rec.Entity)
	exists := sess.Record == recordKey(rec)
	if !exists && sess.Admin && a.Directories.Bitrix != nil {
		err := a.Directories.Bitrix.Portal(sess.MemberID).CanRead(ctx, *rec)
		var ae *bitrix.APIError
		switch {
		case err == nil:
			exists = true
		case errors.As(err, &ae) && ae.HasCode("NOT_FOUND"):
			return userError(app.ENotFound, sess.Lang, "unseen_gone_"+what, rec.ID)
		}
	}
	if exists {
		return userError(app.ENotFound, sess.Lang, "unseen_new_"+what)
	}
	return userError(app.ENotFound, sess.Lang, "unseen_unknown_"+what, rec.ID)
}
