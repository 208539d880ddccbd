package jobs_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"segmentor/app"
	"segmentor/bitrix"
	"segmentor/bitrix/b24sim"
	"segmentor/internal/await"
)

// actsConfig: a contact with a won deal is a VIP (its responsible user is
// told); deals of VIPs are premium (their automation trigger fires by
// default). Changes go on the timeline; a recompute sets nothing off.
const actsConfig = `{"schemes": [
 {"entity": "contact", "segments": [
   {"key": "vip", "name": "VIP", "when": {"fact": "won_count", "op": ">=", "value": 1}, "set": {"label": true}, "on_entry": {"notify": true}}],
  "otherwise": {"key": "others", "name": "Others", "set": {"label": true}}},
 {"entity": "deal", "segments": [
   {"key": "premium", "name": "Premium", "when": {"fact": "client_segment", "op": "in", "value": ["vip"]}, "set": {"label": true}}]}]}`

// actsStack is a small portal with actsConfig applied, installed with the
// scopes given (nil: the app's).
func actsStack(t *testing.T, scopes []string) *appStack { return actsStackIn(t, scopes, "") }

// actsStackIn is actsStack on a portal in lang ("": English).
func actsStackIn(t *testing.T, scopes []string, lang string) *appStack {
	now := time.Now().UTC().Truncate(time.Second)
	s := newAppStack(t, b24sim.Options{Seed: 41, RatePerSecond: 50, Burst: 50}, bitrix.StandardProfile(), now)
	s.sim.Seed(b24sim.GenOptions{Contacts: 20, Companies: 4, Deals: 40, Now: now})
	s.Install(b24sim.InstallOptions{Scopes: scopes, Lang: lang})
	s.WaitSetup()
	s.backfill(t, actsConfig, 2*time.Minute)
	s.waitIdle(t, time.Minute)
	return s
}

// newVIP adds a contact with an open deal as user 1, then wins the deal:
// the contact enters VIP and the deal Premium, live.
func newVIP(t *testing.T, s *appStack) (contact, deal int) {
	t.Helper()
	contact, err := s.sim.UserAdd("contact", map[string]any{"NAME": "Vera", "LAST_NAME": "Voronina", "ASSIGNED_BY_ID": 1}, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	deal, err = s.sim.UserAdd("deal", map[string]any{"TITLE": "Vera's order", "CONTACT_ID": contact, "OPPORTUNITY": 5000, "CURRENCY_ID": "USD"}, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	s.waitIdle(t, time.Minute)
	if err := s.sim.WinDeal(deal, 1); err != nil {
		t.Fatal(err)
	}
	if err := s.sim.WaitEvents(context.Background()); err != nil {
		t.Fatal(err)
	}
	return contact, deal
}

// What a change of segment writes into a Polish or Italian portal is in
// its language: the trigger's name, the timeline entry and why, and the
// notification.
func TestActionsInThePortalsLanguage(t *testing.T) {
	for _, c := range []struct{ lang, trigger, title, text, note string }{
		{"pl", "Segmentor: deal trafił do segmentu Premium", "Segment: Others → VIP", "Wygrane deale: 1 (co najmniej 1)",
			"Vera Voronina[/URL] jest teraz w segmencie „VIP”. Wygrane deale: 1 (co najmniej 1)"},
		{"it", "Segmentor: deal entrato in Premium", "Segmento: Others → VIP", "Deal vinti: 1 (almeno 1)",
			"Vera Voronina[/URL] è ora nel segmento “VIP”. Deal vinti: 1 (almeno 1)"},
	} {
		t.Run(c.lang, func(t *testing.T) {
			s := actsStackIn(t, nil, c.lang)
			if got := s.sim.Triggers(); len(got) != 1 || got[0].Name != c.trigger {
				t.Errorf("triggers: %+v, want %q", got, c.trigger)
			}
			contact, _ := newVIP(t, s)
			await.That(t, 30*time.Second, "the timeline entry and the notification", func() bool {
				return len(s.sim.TimelineEntries(3, contact)) > 1 && len(s.sim.Notifications()) > 0
			})
			s.waitIdle(t, time.Minute)
			entries := s.sim.TimelineEntries(3, contact)
			if !slices.ContainsFunc(entries, func(e b24sim.TimelineEntry) bool { return e.Title == c.title && e.Text == c.text }) {
				t.Errorf("the contact's timeline: %+v, want %q: %q", entries, c.title, c.text)
			}
			if notes := s.sim.Notifications(); len(notes) != 1 || !strings.Contains(notes[0].Message, c.note) {
				t.Errorf("notifications %+v, want %q", notes, c.note)
			}
		})
	}
}

// A deal that enters Premium fires the segment's automation trigger once,
// with the deal's ids; the contact's entry into VIP goes on its timeline
// in words and its responsible user is told once a day; the recompute that
// classified the base set nothing off.
func TestEnteringASegmentSetsOffTriggerTimelineAndNotice(t *testing.T) {
	s := actsStack(t, nil)
	if runs, notes := s.sim.TriggerRuns(), s.sim.Notifications(); len(runs) != 0 || len(notes) != 0 {
		t.Fatalf("the recompute set things off: %d triggers, %d notifications", len(runs), len(notes))
	}
	// The trigger is there for admins to pick before any deal entered.
	if got := s.sim.Triggers(); len(got) != 1 || got[0].Code != "segmentor_premium" || got[0].Name != "Segmentor: entered Premium" {
		t.Fatalf("triggers after the recompute: %+v", got)
	}
	contact, deal := newVIP(t, s)

	await.That(t, 30*time.Second, "the trigger, the timeline entry and the notification", func() bool {
		return len(s.sim.TriggerRuns()) > 0 && len(s.sim.TimelineEntries(3, contact)) > 1 && len(s.sim.Notifications()) > 0
	})
	s.waitIdle(t, time.Minute)
	runs := s.sim.TriggerRuns()
	if len(runs) != 1 || runs[0].Code != "segmentor_premium" || runs[0].OwnerTypeID != 2 || runs[0].OwnerID != deal || !runs[0].Found {
		t.Errorf("trigger runs %+v, want segmentor_premium once on deal %d", runs, deal)
	}
	if got := s.sim.Triggers(); !slices.ContainsFunc(got, func(tr b24sim.TriggerInfo) bool {
		return tr.Code == "segmentor_premium" && tr.Name == "Segmentor: entered Premium"
	}) {
		t.Errorf("registered triggers %+v", got)
	}
	entries := s.sim.TimelineEntries(3, contact)
	last := entries[len(entries)-1]
	for _, e := range entries {
		if e.Title == "Segment: Others → VIP" {
			last = e
		}
	}
	if last.Title != "Segment: Others → VIP" || last.Text != "Won deals: 1 (at least 1)" {
		t.Errorf("the contact's timeline: %+v", entries)
	}
	notes := s.sim.Notifications()
	if len(notes) != 1 || notes[0].UserID != 1 || !strings.Contains(notes[0].Message, "Vera Voronina[/URL] entered the segment “VIP”.") ||
		!strings.Contains(notes[0].Message, fmt.Sprintf("/crm/contact/details/%d/", contact)) {
		t.Errorf("notifications %+v", notes)
	}

	// The same entry again within the day: a timeline entry, no second
	// notification.
	ctx := context.Background()
	before := len(s.sim.TimelineEntries(3, contact))
	if err := s.store.QueueActions(ctx, s.memberID, []app.Action{{Entity: "contact", ID: int64(contact), Segment: "vip", From: "others",
		Timeline: true, Notify: 1, Live: true, At: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Queue.Actions(ctx, s.memberID); err != nil {
		t.Fatal(err)
	}
	await.That(t, 30*time.Second, "the second timeline entry", func() bool { return len(s.sim.TimelineEntries(3, contact)) > before })
	s.waitIdle(t, time.Minute)
	if n := len(s.sim.Notifications()); n != 1 {
		t.Errorf("%d notifications after a second entry within a day, want 1", n)
	}
	if n, _ := s.store.ActionsWaiting(ctx, s.memberID); n != 0 {
		t.Errorf("%d actions left in the outbox", n)
	}
}

// A portal whose admin did not grant the im scope still classifies and
// writes its timeline; the notification is skipped and the missing scope
// remembered for the settings page.
func TestWithoutImScopeClassifiesAndRemembersIt(t *testing.T) {
	s := actsStack(t, []string{"crm", "catalog", "placement", "user_brief", "bizproc"})
	contact, _ := newVIP(t, s)
	items := s.segmentItems(t)
	await.That(t, 30*time.Second, "the contact in VIP and its timeline entry", func() bool {
		r, _ := s.sim.Record("contact", contact)
		return b24sim.Scalar(r["UF_CRM_SEGMENTOR"]) == items["contact"]["vip"] && len(s.sim.TimelineEntries(3, contact)) > 1
	})
	s.waitIdle(t, time.Minute)
	if n := len(s.sim.Notifications()); n != 0 {
		t.Errorf("%d notifications without the im scope", n)
	}
	missing, err := s.store.MissingScopes(context.Background(), s.memberID)
	if err != nil || !slices.Equal(missing, []string{"im"}) {
		t.Errorf("missing scopes %v, %v; want [im]", missing, err)
	}
}

// Setup registers the robot "Segmentor: classify"; a workflow's call on a
// deal classifies it now and gets its segment back through
// bizproc.event.send; a call with a forged application token is refused
// and answered nothing.
func TestRobotReturnsTheDealsSegment(t *testing.T) {
	s := actsStack(t, nil)
	robots := s.sim.Robots()
	if len(robots) != 1 || robots[0].Code != "segmentor_classify" || robots[0].Handler != s.Server.URL+"/b24/robot" || robots[0].UseSubscription != "Y" {
		t.Fatalf("robots %+v", robots)
	}
	_, deal := newVIP(t, s)
	s.waitIdle(t, time.Minute)
	token, err := s.sim.RunRobot(context.Background(), "segmentor_classify", deal, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	var reply b24sim.RobotReply
	await.That(t, 30*time.Second, "the robot's reply", func() bool {
		for _, r := range s.sim.RobotReplies() {
			if r.EventToken == token {
				reply = r
				return true
			}
		}
		return false
	})
	want := map[string]any{"segment_key": "premium", "segment_name": "Premium", "why": "Segment of the deal's client: VIP (is one of VIP)"}
	for k, v := range want {
		if reply.ReturnValues[k] != v {
			t.Errorf("the robot returned %v, want %v", reply.ReturnValues, want)
			break
		}
	}

	// A forged call: the right portal and deal, a made-up application token.
	replies := len(s.sim.RobotReplies())
	resp, err := http.PostForm(s.Server.URL+"/b24/robot", url.Values{"code": {"segmentor_classify"}, "event_token": {"forged|1"},
		"document_id[0]": {"crm"}, "document_id[1]": {"CCrmDocumentDeal"}, "document_id[2]": {fmt.Sprintf("DEAL_%d", deal)},
		"auth[member_id]": {s.memberID}, "auth[application_token]": {"not-the-token"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	s.waitIdle(t, time.Minute)
	if resp.StatusCode != http.StatusUnauthorized || len(s.sim.RobotReplies()) != replies {
		t.Errorf("a forged robot call: %d, %d replies (was %d)", resp.StatusCode, len(s.sim.RobotReplies()), replies)
	}
}

// A portal without timeline log messages (an older or on-premise one)
// gets its entries as timeline comments, the first one included.
func TestTimelineFallsBackToComments(t *testing.T) {
	s := actsStack(t, nil)
	s.sim.WithoutMethod("crm.timeline.logmessage.add")
	contact, _ := newVIP(t, s)
	var entry b24sim.TimelineEntry
	await.That(t, 30*time.Second, "the contact's entry as a comment", func() bool {
		for _, e := range s.sim.TimelineEntries(3, contact) {
			if e.Kind == "comment" && strings.HasPrefix(e.Text, "Segment: Others → VIP\n") {
				entry = e
				return true
			}
		}
		return false
	})
	if !strings.HasSuffix(entry.Text, "\nWon deals: 1 (at least 1)") {
		t.Errorf("the comment reads %q", entry.Text)
	}
	if ok, err := s.store.TimelineComments(context.Background(), s.memberID); !ok || err != nil {
		t.Errorf("the portal is not remembered to want comments: %v, %v", ok, err)
	}
}
