package app_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"segmentor/app"
	"segmentor/bitrix"
	"segmentor/internal/redistest"
)

// REST use counts answered requests per portal over the last hour, and
// refusals for the rate limit apart; OAuth calls and unanswered requests
// do not count.
func TestRESTUsageLastHour(t *testing.T) {
	ctx := context.Background()
	rdb, _ := redistest.New(t)
	var mu sync.Mutex
	now := time.Date(2026, 3, 1, 10, 0, 30, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	u := app.NewRESTUsage(rdb, clock)

	for range 3 {
		u.Observe(ctx, bitrix.RequestInfo{MemberID: "a", Method: "batch", Status: 200})
	}
	u.Observe(ctx, bitrix.RequestInfo{MemberID: "a", Method: "crm.deal.list", Status: 503, ErrorCode: bitrix.CodeQueryLimitExceeded})
	u.Observe(ctx, bitrix.RequestInfo{MemberID: "a", Method: "oauth.token", Status: 200})
	u.Observe(ctx, bitrix.RequestInfo{MemberID: "a", Method: "batch"}) // no answer
	u.Observe(ctx, bitrix.RequestInfo{MemberID: "b", Method: "batch", Status: 200})
	advance(30 * time.Minute)
	u.Observe(ctx, bitrix.RequestInfo{MemberID: "a", Method: "batch", Status: 200})

	h, err := u.LastHour(ctx, "a")
	if err != nil || h.Requests != 5 || h.Limited != 1 {
		t.Fatalf("last hour of a: %+v %v, want 5 requests, 1 limited", h, err)
	}
	if h, _ := u.LastHour(ctx, "b"); h.Requests != 1 {
		t.Errorf("b: %+v", h)
	}
	advance(45 * time.Minute) // the first minute is now over an hour ago
	if h, _ := u.LastHour(ctx, "a"); h.Requests != 1 || h.Limited != 0 {
		t.Errorf("an hour and a quarter later: %+v, want the one recent request", h)
	}
}
