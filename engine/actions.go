package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"segmentor/app"
	"segmentor/app/i18n"
	"segmentor/app/segment"
	"segmentor/bitrix"
)

// TriggerCode is the automation trigger of a segment: admins pick
// "Segmentor: entered VIP" in a stage's automation rules. A deal
// segment's is segmentor_<key>; a client segment's names its record type,
// as keys are unique only within a scheme.
func TriggerCode(e segment.Entity, key string) string {
	if e == segment.EntityDeal {
		return "segmentor_" + key
	}
	return "segmentor_" + string(e) + "_" + key
}

// ActionStats is what one SendActions did.
type ActionStats struct {
	Triggers, Timeline, Notified int // commands that ran
	Requests                     int // batch requests sent
	Skipped                      int // actions or commands dropped (scope missing, once a day, refused)
}

// SendActions sends a portal's queued actions (app.Action, queued as the
// writes that caused them land): each record's automation trigger, its
// timeline entry and its responsible user's notification, up to 50
// commands a batch through the portal's shared request budget. A batch
// answered is taken off the outbox; one lost in transit is sent again
// whole (at least once: its timeline entries, triggers and notifications
// may then repeat; a notification is marked only once it ran). Commands Bitrix24
// refuses are dropped, so one bad record cannot block the outbox; a scope
// the portal did not grant is remembered (app.Store.NoteMissingScope) and
// its commands skipped.
func (c *Classifier) SendActions(ctx context.Context, memberID string) (ActionStats, error) {
	var st ActionStats
	pr, err := c.rulesFor(ctx, memberID)
	if err != nil || pr == nil {
		return st, err
	}
	portal, err := c.Store.Portal(ctx, memberID)
	if err != nil {
		return st, err
	}
	dir, err := c.Store.Directory(ctx, memberID)
	if err != nil {
		return st, err
	}
	lang := segment.ParseLang(portal.Lang)
	s := &actionSender{c: c, memberID: memberID, portal: portal, pr: pr, lang: lang,
		teller: segment.NewTeller(lang, c.withListNames(ctx, memberID, dir.Names(&pr.cfg))), p: c.Bitrix.Portal(memberID)}
	if s.missing, err = c.Store.MissingScopes(ctx, memberID); err != nil {
		return st, err
	}
	if s.comments, err = c.Store.TimelineComments(ctx, memberID); err != nil {
		return st, err
	}
	settled := false
	for {
		actions, err := c.Store.Actions(ctx, memberID, bitrix.MaxBatch)
		if err != nil || len(actions) == 0 {
			return st, err
		}
		// A batch short of 50 commands waits once for the rest of a burst
		// still landing: a burst of 1,000 entries costs ⌈commands/50⌉.
		if !settled && commandCount(actions) < bitrix.MaxBatch && c.actionsSettle() > 0 {
			settled = true
			select {
			case <-ctx.Done():
				return st, ctx.Err()
			case <-time.After(c.actionsSettle()):
			}
			continue
		}
		settled = false
		if err := s.ensureTriggers(ctx, actions, &st); err != nil {
			return st, err
		}
		n, err := s.send(ctx, actions, &st)
		if err != nil {
			return st, err
		}
		if err := c.Store.DropActions(ctx, memberID, n); err != nil {
			return st, err
		}
	}
}

// commandCount is how many commands actions make at most.
func commandCount(actions []app.Action) int {
	n := 0
	for _, a := range actions {
		if a.Trigger && a.Entity != "" {
			n++
		}
		if a.Timeline {
			n++
		}
		if a.Notify > 0 {
			n++
		}
	}
	return n
}

func (c *Classifier) actionsSettle() time.Duration {
	if c.ActionsSettle != 0 {
		return max(c.ActionsSettle, 0)
	}
	return time.Second
}

type actionSender struct {
	c        *Classifier
	memberID string
	portal   *app.Portal
	pr       *portalRules
	lang     segment.Lang
	teller   *segment.Teller
	p        *bitrix.PortalClient
	missing  []string              // scopes the portal did not grant
	comments bool                  // the portal has no log messages: timeline entries go as comments
	telling  map[string]bool       // records notified in the batch being built
	told     map[string]app.Action // notification commands by name: marked once they ran
}

// send builds one batch from the oldest actions (as many as fit in 50
// commands) and sends it; it answers how many actions it consumed.
func (s *actionSender) send(ctx context.Context, actions []app.Action, st *ActionStats) (int, error) {
	var cmds []bitrix.Command
	kinds := map[string]string{} // command name → trigger, timeline, notify
	used := 0
	s.telling, s.told = map[string]bool{}, map[string]app.Action{}
	for i, a := range actions {
		if len(cmds)+commandCount(actions[i:i+1]) > bitrix.MaxBatch {
			break // it goes first in the next batch
		}
		mine, err := s.commands(ctx, i, a, st)
		if err != nil {
			return 0, err
		}
		for _, cmd := range mine {
			kinds[cmd.Name] = strings.SplitN(cmd.Name, "_", 2)[0]
		}
		cmds = append(cmds, mine...)
		used = i + 1
	}
	if len(cmds) == 0 {
		return used, nil
	}
	res, _, err := s.p.Batch(ctx, cmds, false)
	st.Requests++
	if err != nil {
		return 0, fmt.Errorf("actions of %s: %w", s.memberID, err)
	}
	var again []app.Action // timeline entries to send as comments
	for _, cmd := range cmds {
		err := res.Err(cmd.Name)
		var ae *bitrix.APIError
		switch {
		case err == nil:
			switch kinds[cmd.Name] {
			case "t":
				st.Triggers++
			case "l":
				st.Timeline++
			case "n":
				st.Notified++
				a := s.told[cmd.Name]
				if err := s.c.Store.MarkNotified(ctx, s.memberID, a.Entity, a.ID); err != nil {
					return 0, err
				}
			}
		case kinds[cmd.Name] == "l" && !s.comments && errors.As(err, &ae) && ae.HasCode("ERROR_METHOD_NOT_FOUND"):
			// A portal without log messages: this entry, and the
			// following ones, go as timeline comments.
			a := s.told[cmd.Name]
			a.Trigger, a.Notify = false, 0
			again = append(again, a)
		case kinds[cmd.Name] == "t" && errors.As(err, &ae) && strings.Contains(ae.Description, "is not registered"):
			// The portal lost the trigger (an uninstall drops them): add it
			// again before the next action fires it.
			code, _ := cmd.Params.(map[string]any)["CODE"].(string)
			if err := s.c.Store.ForgetTrigger(ctx, s.memberID, code); err != nil {
				return 0, err
			}
			st.Skipped++
		case errors.As(err, &ae) && ae.HasCode("insufficient_scope"):
			scope := map[string]string{"t": "crm", "l": "crm", "n": "im"}[kinds[cmd.Name]]
			if !slices.Contains(s.missing, scope) {
				s.missing = append(s.missing, scope)
				if err := s.c.Store.NoteMissingScope(ctx, s.memberID, scope); err != nil {
					return 0, err
				}
			}
			st.Skipped++
		default:
			st.Skipped++
			s.c.log().Warn("action refused", "portal", s.memberID, "command", cmd.Method, "error", err)
		}
	}
	if len(again) > 0 {
		s.comments = true
		if err := s.c.Store.UseTimelineComments(ctx, s.memberID); err != nil {
			return 0, err
		}
		if err := s.c.Store.QueueActions(ctx, s.memberID, again); err != nil {
			return 0, err
		}
	}
	return used, nil
}

// commands are one action's REST commands, named t_, l_, n_ by kind.
func (s *actionSender) commands(ctx context.Context, i int, a app.Action, st *ActionStats) ([]bitrix.Command, error) {
	var out []bitrix.Command
	e := segment.Entity(a.Entity)
	typeID := bitrix.Entity(a.Entity).TypeID()
	n := strconv.Itoa(i)
	if a.Entity == "" { // an entry that did not decode
		st.Skipped++
		return nil, nil
	}
	if a.Trigger {
		out = append(out, bitrix.Automation.Execute("t_"+n, TriggerCode(e, a.Segment), typeID, a.ID))
	}
	if a.Timeline {
		title, text := s.timelineText(e, a)
		if s.comments {
			out = append(out, bitrix.Timeline.Comment("l_"+n, bitrix.Entity(a.Entity), a.ID, title+"\n"+text))
		} else {
			out = append(out, bitrix.Timeline.LogMessage("l_"+n, typeID, a.ID, title, text, "info"))
		}
		s.told["l_"+n] = a
	}
	if a.Notify > 0 {
		rec := a.Entity + ":" + strconv.FormatInt(a.ID, 10)
		switch told, err := s.c.Store.Notified(ctx, s.memberID, a.Entity, a.ID); {
		case err != nil:
			return nil, err
		case told || s.telling[rec] || slices.Contains(s.missing, "im"):
			st.Skipped++
		default:
			msg, err := s.notification(ctx, e, a)
			if err != nil {
				return nil, err
			}
			out = append(out, bitrix.Notify.System("n_"+n, int64(a.Notify), msg, "segmentor|"+a.Entity+"|"+strconv.FormatInt(a.ID, 10)))
			s.telling[rec] = true // once in this batch too
			s.told["n_"+n] = a
		}
	}
	return out, nil
}

// timelineText is the entry a change leaves on the record's timeline, in
// the portal's language: "Segment: Loyal → VIP", and why.
func (s *actionSender) timelineText(e segment.Entity, a app.Action) (title, text string) {
	from := s.teller.SegmentName(e, a.From)
	if a.From == "" {
		from = actionTexts.Text(s.lang, "no_segment")
	}
	title = actionTexts.Format(s.lang, "timeline_title", from, s.teller.SegmentName(e, a.Segment))
	if a.Reason != nil {
		told := s.teller.Reason(e, *a.Reason)
		lines := told.Lines
		if len(lines) == 0 || told.Summary != lines[0] {
			lines = append([]string{told.Summary}, lines...)
		}
		text = strings.Join(lines, "\n")
	}
	if text == "" { // the page requires a text
		text = title
	}
	return title, text
}

// notification tells the responsible user that their record entered the
// segment, with a link to its card.
func (s *actionSender) notification(ctx context.Context, e segment.Entity, a app.Action) (string, error) {
	title, err := s.title(ctx, e, a.ID)
	if err != nil {
		return "", err
	}
	link := "[URL=" + s.portal.RecordURL(a.Entity, a.ID) + "]" + title + "[/URL]"
	msg := actionTexts.Format(s.lang, "notification", link, s.teller.SegmentName(e, a.Segment))
	if a.Reason != nil {
		msg += " " + s.teller.Reason(e, *a.Reason).Summary
	}
	return msg, nil
}

func (s *actionSender) title(ctx context.Context, e segment.Entity, id int64) (string, error) {
	fallback := "#" + strconv.FormatInt(id, 10)
	if e == segment.EntityDeal {
		rows, err := s.c.Mirror.Deals(ctx, s.memberID, []int64{id})
		if err != nil || rows[id] == nil || rows[id].Title == "" {
			return fallback, err
		}
		return rows[id].Title, nil
	}
	rows, err := s.c.Mirror.Clients(ctx, s.memberID, e, []int64{id})
	if err != nil || rows[id] == nil || rows[id].Title == "" {
		return fallback, err
	}
	return rows[id].Title, nil
}

// ensureTriggers registers the triggers the actions fire that the portal
// does not have yet (one request, only when the rules gained a segment),
// named in the portal's language.
func (s *actionSender) ensureTriggers(ctx context.Context, actions []app.Action, st *ActionStats) error {
	want := map[string]string{}
	for _, a := range actions {
		if a.Trigger && a.Entity != "" {
			e := segment.Entity(a.Entity)
			want[TriggerCode(e, a.Segment)] = triggerName(s.lang, e, s.teller.SegmentName(e, a.Segment))
		}
	}
	return s.register(ctx, want, st)
}

// triggerName is how admins find a segment's trigger among the app
// triggers of a stage's automation rules.
func triggerName(lang segment.Lang, e segment.Entity, segmentName string) string {
	switch e {
	case segment.EntityContact, segment.EntityCompany:
		return actionTexts.Format(lang, "trigger_"+string(e), segmentName)
	}
	return actionTexts.Format(lang, "trigger_deal", segmentName)
}

// actionTexts are what a change of segment writes into the CRM, in the
// portal's language: the timeline entry's title, the notification and the
// triggers' names.
var actionTexts = i18n.Catalog[string]{
	i18n.EN: {
		"no_segment": "no segment", "timeline_title": "Segment: %s → %s", "notification": "%s entered the segment “%s”.",
		"trigger_contact": "Segmentor: contact entered %s", "trigger_company": "Segmentor: company entered %s", "trigger_deal": "Segmentor: entered %s",
	},
	i18n.RU: {
		"no_segment": "без сегмента", "timeline_title": "Сегмент: %s → %s", "notification": "%s теперь в сегменте «%s».",
		"trigger_contact": "Segmentor: контакт попал в сегмент %s", "trigger_company": "Segmentor: компания попала в сегмент %s", "trigger_deal": "Segmentor: сделка попала в сегмент %s",
	},
	i18n.PL: {
		"no_segment": "bez segmentu", "timeline_title": "Segment: %s → %s", "notification": "%s jest teraz w segmencie „%s”.",
		"trigger_contact": "Segmentor: kontakt trafił do segmentu %s", "trigger_company": "Segmentor: firma trafiła do segmentu %s", "trigger_deal": "Segmentor: deal trafił do segmentu %s",
	},
	i18n.IT: {
		"no_segment": "nessun segmento", "timeline_title": "Segmento: %s → %s", "notification": "%s è ora nel segmento “%s”.",
		"trigger_contact": "Segmentor: contatto entrato in %s", "trigger_company": "Segmentor: azienda entrata in %s", "trigger_deal": "Segmentor: deal entrato in %s",
	},
}

// register adds the triggers of want (code → name) the portal lacks, in
// one request; one it refuses is tried again later.
func (s *actionSender) register(ctx context.Context, want map[string]string, st *ActionStats) error {
	if len(want) == 0 {
		return nil
	}
	have, err := s.c.Store.Triggers(ctx, s.memberID)
	if err != nil {
		return err
	}
	var cmds []bitrix.Command
	for code, name := range want {
		if have[code] != name {
			cmds = append(cmds, bitrix.Automation.AddTrigger(code, code, name))
		}
	}
	if len(cmds) == 0 {
		return nil
	}
	slices.SortFunc(cmds, func(a, b bitrix.Command) int { return strings.Compare(a.Name, b.Name) })
	res, _, err := s.p.Batch(ctx, cmds, false)
	st.Requests++
	if err != nil {
		return fmt.Errorf("triggers of %s: %w", s.memberID, err)
	}
	added := map[string]string{}
	for _, cmd := range cmds {
		// Adding a code the portal has renames it (crm-automation-trigger-add.md).
		if err := res.Err(cmd.Name); err == nil {
			added[cmd.Name] = want[cmd.Name]
		} else {
			s.c.log().Warn("trigger not added", "portal", s.memberID, "code", cmd.Name, "error", err)
		}
	}
	return s.c.Store.SetTriggers(ctx, s.memberID, added)
}

// RegisterTriggers adds the triggers of every segment of the saved rules
// that fires one, so admins can pick "Segmentor: entered VIP" in their
// automation rules before any record has entered VIP. The recompute after
// a save calls it: one request when the rules gained a segment, none
// otherwise.
func (c *Classifier) RegisterTriggers(ctx context.Context, memberID string) error {
	pr, err := c.rulesFor(ctx, memberID)
	if err != nil || pr == nil {
		return err
	}
	want := map[string]string{}
	portal, err := c.Store.Portal(ctx, memberID)
	if err != nil {
		return err
	}
	lang := segment.ParseLang(portal.Lang)
	for _, sc := range pr.cfg.Schemes {
		for _, sg := range sc.All() {
			if pr.rules.FiresTrigger(sc.Entity, sg.Key) {
				want[TriggerCode(sc.Entity, sg.Key)] = triggerName(lang, sc.Entity, sg.Name)
			}
		}
	}
	s := &actionSender{c: c, memberID: memberID, p: c.Bitrix.Portal(memberID)}
	var st ActionStats
	return s.register(ctx, want, &st)
}

// RobotCode is the robot "Segmentor: classify" that workflows and a
// stage's automation rules call on a deal.
const RobotCode = "segmentor_classify"

// RobotReturns are the values the robot returns to the workflow.
var RobotReturns = []string{"segment_key", "segment_name", "why"}

// AnswerRobot answers a robot call: the deal is read again and classified
// now (its writes made as for any live change), and the workflow gets its
// segment's key and name and why, in the portal's language, through
// bizproc.event.send with the call's event token. A deal the rules have
// no scheme for, or a document that is not a deal, gets empty values.
func (c *Classifier) AnswerRobot(ctx context.Context, memberID string, dealID int64, eventToken string) error {
	values := map[string]any{"segment_key": "", "segment_name": "", "why": ""}
	pr, err := c.rulesFor(ctx, memberID)
	if err != nil {
		return err
	}
	if pr != nil && dealID > 0 && pr.rules.Has(segment.EntityDeal) {
		// The workflow waits for the answer: a deal that cannot be read or
		// written now is answered from the mirror, never left waiting.
		if err := c.Apply(ctx, Change{MemberID: memberID, Entity: string(segment.EntityDeal), IDs: []int64{dealID}}); err != nil {
			c.log().Warn("robot's deal not classified afresh", "portal", memberID, "deal", dealID, "error", err)
		}
		res, err := c.dealResult(ctx, memberID, pr, dealID)
		if err != nil {
			return err
		}
		if res != nil {
			portal, err := c.Store.Portal(ctx, memberID)
			if err != nil {
				return err
			}
			dir, err := c.Store.Directory(ctx, memberID)
			if err != nil {
				return err
			}
			told := segment.NewTeller(segment.ParseLang(portal.Lang), dir.Names(&pr.cfg)).Reason(segment.EntityDeal, res.Reason())
			values["segment_key"], values["segment_name"], values["why"] = res.Key, res.Name, told.Summary
		}
	}
	_, err = c.Bitrix.Portal(memberID).Do(ctx, bitrix.Robots.Reply("reply", eventToken, values, ""), nil)
	var ae *bitrix.APIError
	if errors.As(err, &ae) && ae.HasCode("ACCESS_DENIED") {
		// The token was used or the workflow is gone: nothing waits.
		c.log().Warn("robot reply refused", "portal", memberID, "deal", dealID, "error", err)
		return nil
	}
	return err
}

// dealResult classifies a mirrored deal with the saved rules, as a change
// does; nil when the mirror lacks it (deleted).
func (c *Classifier) dealResult(ctx context.Context, memberID string, pr *portalRules, id int64) (*segment.Result, error) {
	rows, err := c.Mirror.Deals(ctx, memberID, []int64{id})
	if err != nil || rows[id] == nil {
		return nil, err
	}
	lookup, err := c.segmentLookup(ctx, memberID, nil, rows)
	if err != nil {
		return nil, err
	}
	r, err := c.newRun(ctx, memberID, pr)
	if err != nil {
		return nil, err
	}
	r.explain = true // the robot's reply says why
	res, err := r.classifyDeal(segment.NewDealFacts(lookup, r.env.Now), rows[id])
	if err = planned(err); err != nil {
		return nil, err
	}
	return &res, nil
}
