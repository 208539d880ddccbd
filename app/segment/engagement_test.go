package segment

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func act(daysAgo int, typ ActivityType, dir Direction, open bool) Activity {
	return Activity{At: ago(daysAgo).Unix(), Type: typ, Direction: dir, Open: open}
}

// testActivities are a contact's own activities, relative to testNow; its
// deals (testDealsWithActivities) have more.
func testActivities() []Activity {
	return []Activity{
		act(2, ActivityCall, Inbound, false),
		act(5, ActivityEmail, Outbound, false),
		act(30, ActivityMeeting, NoDirection, false), // exactly 30 days old: outside a 30-day window
		act(200, ActivityEmail, Inbound, false),
		act(-3, ActivityCall, Outbound, true), // planned: not happened yet, but open
		act(1, ActivityTask, NoDirection, true),
	}
}

func testDealsWithActivities() []Deal {
	deals := testDeals()
	deals[0].Activities = []Activity{act(10, ActivityCall, Outbound, false), act(400, ActivityCall, Inbound, false)}
	deals[5].Activities = []Activity{act(0, ActivityEmail, Inbound, true)} // now: happened
	return deals
}

// activityFactCases are the engagement facts of a contact with
// testActivities and testDealsWithActivities at testNow, and of a deal
// (dealActivityCases).
func activityFactCases() []clientFactCase {
	return []clientFactCase{
		{"activities", 0, number(8)}, // all that happened: 5 own, 3 of its deals
		{"activities", 30, number(5)},
		{"activities", 31, number(6)},
		{"activities", 1, number(1)}, // the e-mail received now
		{"calls", 0, number(3)},
		{"calls", 7, number(1)},
		{"emails", 0, number(3)},
		{"emails", 90, number(2)},
		{"meetings", 0, number(1)},
		{"meetings", 30, number(0)},
		{"tasks", 0, number(1)},
		{"inbound_activities", 0, number(4)},
		{"inbound_activities", 30, number(2)},
		{"outbound_activities", 0, number(2)}, // the planned call is not one yet
		{"days_since_last_activity", 0, number(0)},
		{"days_since_last_inbound", 0, number(0)},
		{"open_activities", 0, number(3)}, // the planned call, the task, the unanswered e-mail
	}
}

func TestClientEngagementFacts(t *testing.T) {
	f := NewClientFacts(Env{Now: testNow, Rates: testRates()})
	f.Reset(Client{ID: 42, Entity: EntityContact, Activities: testActivities()}, testDealsWithActivities())
	for _, tt := range activityFactCases() {
		if diff := cmp.Diff(tt.want, factValue(f, tt.fact, tt.window)); diff != "" {
			t.Errorf("%s (window %d) (-want +got):\n%s", tt.fact, tt.window, diff)
		}
	}
	// Without the deals: its own activities only.
	f.Reset(Client{ID: 42, Entity: EntityContact, Activities: testActivities()}, testDeals())
	for _, tt := range []clientFactCase{
		{"activities", 0, number(5)},
		{"days_since_last_activity", 0, number(1)},
		{"days_since_last_inbound", 0, number(2)},
		{"open_activities", 0, number(2)},
	} {
		if diff := cmp.Diff(tt.want, factValue(f, tt.fact, tt.window)); diff != "" {
			t.Errorf("own only: %s (-want +got):\n%s", tt.fact, diff)
		}
	}
	// No activities at all: counts are 0, the days since have no value.
	f.Reset(Client{ID: 7, Entity: EntityCompany}, nil)
	for _, tt := range []clientFactCase{
		{"activities", 0, number(0)},
		{"calls", 30, number(0)},
		{"open_activities", 0, number(0)},
		{"days_since_last_activity", 0, Value{}},
		{"days_since_last_inbound", 0, Value{}},
	} {
		if diff := cmp.Diff(tt.want, factValue(f, tt.fact, tt.window)); diff != "" {
			t.Errorf("none: %s (-want +got):\n%s", tt.fact, diff)
		}
	}
	// Only outbound: no inbound contact yet.
	f.Reset(Client{ID: 8, Entity: EntityCompany, Activities: []Activity{act(3, ActivityCall, Outbound, false)}}, nil)
	if got := factValue(f, "days_since_last_inbound", 0); got.Kind != KindNone {
		t.Errorf("days_since_last_inbound with only outbound calls = %+v", got)
	}
	if got := factValue(f, "days_since_last_activity", 0); !cmp.Equal(got, number(3)) {
		t.Errorf("days_since_last_activity = %+v, want 3", got)
	}
}

// dealActivityCases are a deal's engagement facts: its own activities.
func dealActivityCases() []dealFactCase {
	deal := Deal{ID: 9, Semantic: InProgress, Activities: testActivities()}
	return []dealFactCase{
		{"all its activities", deal, "activities", number(5)},
		{"its calls", deal, "calls", number(1)},
		{"days since its last", deal, "days_since_last_activity", number(1)},
		{"days since its last inbound", deal, "days_since_last_inbound", number(2)},
		{"its open ones", deal, "open_activities", number(2)},
		{"none", Deal{ID: 10}, "days_since_last_activity", Value{}},
	}
}

func TestDealEngagementFacts(t *testing.T) {
	f := NewDealFacts(nil, testNow)
	for _, tt := range dealActivityCases() {
		f.Reset(&tt.deal)
		if diff := cmp.Diff(tt.want, factValue(f, tt.fact, 0)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
	deal := dealActivityCases()[0].deal
	f.Reset(&deal)
	if got := factValue(f, "activities", 3); !cmp.Equal(got, number(2)) {
		t.Errorf("activities in 3 days = %+v, want 2", got)
	}
	// Without the time the facts count back from, they have no value
	// rather than a wrong one.
	f = NewDealFacts(nil, time.Time{})
	f.Reset(&deal)
	if got := factValue(f, "activities", 0); got.Kind != KindNone {
		t.Errorf("a deal's activities with no time = %+v, want no value", got)
	}
}

// Engagement facts are facts of every record type; the days since take no
// window; UsesActivities tells the engine to reclassify on activity events.
func TestEngagementRules(t *testing.T) {
	const w = "schemes[1].segments[0].when"
	for _, e := range []Entity{EntityContact, EntityCompany, EntityDeal} {
		for _, fact := range []string{"activities", "calls", "emails", "meetings", "tasks", "inbound_activities", "outbound_activities"} {
			if ps := Validate(mustParse(t, oneSegment(e, `{"fact": "`+fact+`", "window_days": 30, "op": ">=", "value": 1}`, "")), testRef()); len(ps) != 0 {
				t.Errorf("%s on a %s: %v", fact, e, ps)
			}
		}
	}
	ps := Validate(mustParse(t, oneSegment(EntityContact, `{"fact": "days_since_last_activity", "window_days": 30, "op": ">", "value": 1}`, "")), testRef())
	want := Problems{{Path: w, Code: CodeNoWindow, Entity: EntityContact, Segment: "Test", Args: []string{"days_since_last_activity"}}}
	if diff := cmp.Diff(want, ps); diff != "" {
		t.Errorf("window on days_since_last_activity (-want +got):\n%s", diff)
	}
	if got := catalogEntry(t, "days_since_last_inbound"); len(got.Entities) != 3 || got.Window != WindowNone {
		t.Errorf("days_since_last_inbound in the catalog: %+v", got)
	}
	if got := catalogEntry(t, "calls"); len(got.Entities) != 3 || got.Window != WindowOptional || got.Kind != KindNumber {
		t.Errorf("calls in the catalog: %+v", got)
	}
	r, err := Compile(mustParse(t, oneSegment(EntityDeal, `{"not": {"fact": "open_activities", "op": ">", "value": 0}}`, "")))
	if err != nil {
		t.Fatal(err)
	}
	if !r.UsesActivities() {
		t.Error("rules with open_activities do not use activities")
	}
	r, err = Compile(mustParse(t, oneSegment(EntityDeal, `{"fact": "field:SOURCE_ID", "op": "=", "value": "WEB"}`, "")))
	if err != nil {
		t.Fatal(err)
	}
	if r.UsesActivities() {
		t.Error("rules without engagement facts use activities")
	}
}

func catalogEntry(t *testing.T, name string) FactInfo {
	t.Helper()
	for _, f := range Catalog() {
		if f.Name == name {
			return f
		}
	}
	t.Fatalf("%s is not in the catalog", name)
	return FactInfo{}
}

// Explanations read in each language: days since, no activities yet, and
// the counts with their windows.
func TestTellEngagement(t *testing.T) {
	cases := []struct {
		lang Lang
		c    Check
		held bool
		want string
	}{
		{EN, Check{Fact: "days_since_last_activity", Op: OpLe, Want: 14, Seen: number(3)}, true,
			"Days since last activity: 3 days (at most 14 days)"},
		{EN, Check{Fact: "days_since_last_activity", Op: OpLe, Want: 90, Seen: Value{}}, false,
			"Days since last activity: no activities, needs at most 90 days"},
		{EN, Check{Fact: "days_since_last_inbound", Op: OpLe, Want: 30, Seen: Value{}}, false,
			"Days since last inbound call or e-mail: no inbound calls or e-mails, needs at most 30 days"},
		{EN, Check{Fact: "activities", WindowDays: 30, Op: OpGe, Want: 3, Seen: number(5)}, true,
			"Activities (calls, e-mails, meetings, tasks) in the last 30 days: 5 (at least 3)"},
		{EN, Check{Fact: "inbound_activities", WindowDays: 90, Op: OpGe, Want: 1, Seen: number(0)}, false,
			"Inbound calls and e-mails in the last 90 days: 0, needs at least 1"},
		{RU, Check{Fact: "days_since_last_activity", Op: OpLe, Want: 14, Seen: number(3)}, true,
			"Дней с последнего дела: 3 дня (не больше 14 дней)"},
		{RU, Check{Fact: "days_since_last_inbound", Op: OpLe, Want: 30, Seen: Value{}}, false,
			"Дней с последнего входящего звонка или письма: входящих звонков и писем нет, нужно не больше 30 дней"},
		{RU, Check{Fact: "calls", WindowDays: 30, Op: OpGe, Want: 2, Seen: number(1)}, false,
			"Звонков за последние 30 дней: 1, нужно не меньше 2"},
		{RU, Check{Fact: "open_activities", Op: OpEq, Want: 0, Seen: number(2)}, false,
			"Открытых дел: 2, нужно 0"},
		{RU, Check{Fact: "days_since_last_activity", Op: OpGe, Want: 21, Seen: number(1)}, false,
			"Дней с последнего дела: 1 день, нужно не меньше 21 дня"},
		{PL, Check{Fact: "days_since_last_activity", Op: OpLe, Want: 14, Seen: number(3)}, true,
			"Dni od ostatniej aktywności: 3 dni (co najwyżej 14 dni)"},
		{PL, Check{Fact: "days_since_last_activity", Op: OpGe, Want: 22, Seen: number(1)}, false,
			"Dni od ostatniej aktywności: 1 dzień, wymagane co najmniej 22 dni"},
		{PL, Check{Fact: "days_since_last_inbound", Op: OpLe, Want: 30, Seen: Value{}}, false,
			"Dni od ostatniego przychodzącego połączenia lub e-maila: brak przychodzących połączeń i e-maili, wymagane co najwyżej 30 dni"},
		{PL, Check{Fact: "calls", WindowDays: 30, Op: OpGe, Want: 2, Seen: number(1)}, false,
			"Połączenia w ostatnich 30 dniach: 1, wymagane co najmniej 2"},
		{PL, Check{Fact: "meetings", WindowDays: 1, Op: OpGe, Want: 1, Seen: number(0)}, false,
			"Spotkania w ostatnim dniu: 0, wymagane co najmniej 1"},
		{IT, Check{Fact: "days_since_last_activity", Op: OpLe, Want: 14, Seen: number(1)}, true,
			"Giorni dall'ultima attività: 1 giorno (al massimo 14 giorni)"},
		{IT, Check{Fact: "days_since_last_activity", Op: OpLe, Want: 90, Seen: Value{}}, false,
			"Giorni dall'ultima attività: nessuna attività, deve essere al massimo 90 giorni"},
		{IT, Check{Fact: "calls", WindowDays: 30, Op: OpGe, Want: 2, Seen: number(1)}, false,
			"Chiamate negli ultimi 30 giorni: 1, deve essere almeno 2"},
		{IT, Check{Fact: "tasks", WindowDays: 1, Op: OpBetween, Want: []any{1, 3}, Seen: number(0)}, false,
			"Incarichi nell'ultimo giorno: 0, deve essere tra 1 e 3"},
	}
	for _, c := range cases {
		if got := NewTeller(c.lang, nil).Check(EntityContact, c.c, c.held); got != c.want {
			t.Errorf("%s %+v:\n got %q\nwant %q", c.lang, c.c, got, c.want)
		}
	}
}
