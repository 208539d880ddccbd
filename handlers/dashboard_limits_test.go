package handlers_test

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"

	"segmentor/app"
	"segmentor/handlers"
)

// wantOperating checks the dashboard's methods against the simulated
// portal's own meters: the methods the app called that took time, longest
// first (then by name), at most five, each with the seconds Bitrix24
// reported for the last 10 minutes.
func wantOperating(t *testing.T, s *settingsStack, got []handlers.MethodTime) {
	t.Helper()
	var want []handlers.MethodTime
	for m := range s.commands() {
		if sec := s.sim.Operating(m).Seconds(); sec > 0 {
			want = append(want, handlers.MethodTime{Method: strings.ToLower(m), Seconds: sec})
		}
	}
	slices.SortFunc(want, func(a, b handlers.MethodTime) int {
		if a.Seconds != b.Seconds {
			if a.Seconds > b.Seconds {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Method, b.Method)
	})
	want = want[:min(len(want), 5)]
	same := len(got) == len(want)
	for i := 0; same && i < len(got); i++ {
		same = got[i].Method == want[i].Method && math.Abs(got[i].Seconds-want[i].Seconds) < 0.001
	}
	if !same || len(want) == 0 {
		t.Errorf("the dashboard's method times are %+v; the portal counted %+v", got, want)
	}
}

// The plan is named from app.info's LICENSE_FAMILY, and the limits follow
// it: 5 requests a second with a bucket of 250 on Enterprise, 2 and 50 on
// every other plan. A family the app does not know names no plan.
func TestDashboardNamesPlanAndLimits(t *testing.T) {
	s := newSettingsStack(t, "en")
	admin := s.login(1)
	for _, c := range []struct {
		family, plan string
		rate         float64
		burst        int
	}{
		{"project", "free", 2, 50},
		{"basic", "basic", 2, 50},
		{"std", "standard", 2, 50},
		{"pro", "professional", 2, 50},
		{"ent", "enterprise", 5, 250},
		{" ENT ", "enterprise", 5, 250},
		{"nfr", "", 2, 50},
	} {
		if _, err := s.store.UpdatePortal(context.Background(), s.sim.MemberID(), func(p *app.Portal, _ bool) error {
			p.License = c.family
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		r := s.do("GET", "/api/v1/dashboard", admin, nil)
		var d struct {
			REST   *handlers.RESTBudget `json:"rest"`
			Portal map[string]string    `json:"portal"`
		}
		decodeJSON(t, r.Raw, &d)
		if r.Status != 200 || d.Portal["plan"] != c.plan || d.Portal["license"] != c.family {
			t.Errorf("%q: %d, portal %v; want plan %q", c.family, r.Status, d.Portal, c.plan)
		}
		if d.REST == nil || d.REST.RatePerSecond != c.rate || d.REST.Burst != c.burst || d.REST.OperatingLimitS != 480 || d.REST.Operating == nil {
			t.Errorf("%q: rest %+v; want %v a second, bursts of %d, 480 s a method", c.family, d.REST, c.rate, c.burst)
		}
	}
}
