package app_test

import (
	"context"
	"reflect"
	"sync"
	"testing"
	"time"

	"segmentor/app"
	"segmentor/internal/redistest"
)

// The operating time Bitrix24 reports is kept per portal and method, the
// latest figure of each, longest first; a figure older than the 10-minute
// window Bitrix24 sums over is gone, and zeros (answers without the figure)
// are not kept.
func TestRESTUsageOperating(t *testing.T) {
	ctx := context.Background()
	rdb, _ := redistest.New(t)
	var mu sync.Mutex
	now := time.Date(2026, 3, 1, 10, 0, 30, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	u := app.NewRESTUsage(rdb, clock)

	seconds := func(member string) map[string]float64 {
		t.Helper()
		list, err := u.Operating(ctx, member)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]float64{}
		var order []string
		for _, m := range list {
			out[m.Method] = m.Seconds
			order = append(order, m.Method)
		}
		for i := 1; i < len(list); i++ {
			if list[i].Seconds > list[i-1].Seconds {
				t.Errorf("not longest first: %v", order)
			}
		}
		return out
	}

	u.ObserveOperating(ctx, "a", "crm.contact.list", 12.5)
	u.ObserveOperating(ctx, "a", "CRM.deal.list", 3)
	u.ObserveOperating(ctx, "a", "crm.contact.list", 40.25) // a later answer: the window's sum grew
	u.ObserveOperating(ctx, "a", "profile", 0)              // no figure
	u.ObserveOperating(ctx, "b", "crm.item.list", 7)
	if got, want := seconds("a"), map[string]float64{"crm.contact.list": 40.25, "crm.deal.list": 3}; !reflect.DeepEqual(got, want) {
		t.Errorf("portal a: %v, want %v", got, want)
	}
	if got, want := seconds("b"), map[string]float64{"crm.item.list": 7}; !reflect.DeepEqual(got, want) {
		t.Errorf("portal b: %v, want %v", got, want)
	}

	advance(6 * time.Minute)
	u.ObserveOperating(ctx, "a", "crm.deal.list", 55)
	if got, want := seconds("a"), map[string]float64{"crm.deal.list": 55, "crm.contact.list": 40.25}; !reflect.DeepEqual(got, want) {
		t.Errorf("six minutes on: %v, want %v", got, want)
	}
	list, _ := u.Operating(ctx, "a")
	if len(list) != 2 || !list[0].At.Equal(clock()) {
		t.Errorf("the latest report's time: %+v, want %v", list, clock())
	}
	// Ten minutes after the first report every minute it summed has left
	// the window; the later one still counts.
	advance(5 * time.Minute)
	if got, want := seconds("a"), map[string]float64{"crm.deal.list": 55}; !reflect.DeepEqual(got, want) {
		t.Errorf("eleven minutes on: %v, want %v", got, want)
	}
	if got := seconds("nobody"); len(got) != 0 {
		t.Errorf("a portal with no reports: %v", got)
	}
}
