package wiring

import (
	"bytes"
	"context"
	"testing"
	"time"

	"segmentor/app"
	"segmentor/bitrix"
	"segmentor/internal/redistest"
)

// B24_RATE_LIMIT's profile: the operator's rate a second and bucket, the
// same for every portal whatever its plan; without it, each portal's
// plan's.
func TestRateLimitProfile(t *testing.T) {
	want := bitrix.Profile{Name: "configured", Rate: 50, Burst: 200, Period: time.Second}
	if got := ConfiguredProfile(50, 250); got != want {
		t.Errorf("ConfiguredProfile(50, 250) = %+v, want %+v (a second's drain kept free)", got, want)
	}
	// The plans' own buckets configured keep what their profiles keep, or
	// more: never less than two requests free.
	if got := ConfiguredProfile(2, 50); got.Burst != bitrix.StandardProfile().Burst {
		t.Errorf("ConfiguredProfile(2, 50) = %+v, want the standard profile's burst %d", got, bitrix.StandardProfile().Burst)
	}
	if got := ConfiguredProfile(10, 10); got.Burst != 8 {
		t.Errorf("ConfiguredProfile(10, 10) = %+v, want a burst of 8 (a fifth kept free at most)", got)
	}
	if got := ConfiguredProfile(3, 0); got.Burst != 1 {
		t.Errorf("a burst of 0 must become 1 (a bucket of none takes nothing): %+v", got)
	}
	if got := ConfiguredProfile(3, 1); got.Burst != 1 {
		t.Errorf("a burst of 1 must stay 1: %+v", got)
	}

	ctx := context.Background()
	rdb, _ := redistest.New(t)
	key := bytes.Repeat([]byte{7}, 32)
	const ent, std = "ratelimit-enterprise-portal", "ratelimit-standard-portal"
	for _, tt := range []struct {
		name        string
		rate, burst int
		want        map[string]bitrix.Profile
	}{
		{"by plan", 0, 0, map[string]bitrix.Profile{ent: bitrix.EnterpriseProfile(), std: bitrix.StandardProfile()}},
		{"configured", 50, 250, map[string]bitrix.Profile{ent: want, std: want}},
	} {
		a, err := New(rdb, Config{ClientID: "app.1", ClientSecret: "s", SecretKey: key, RateLimit: tt.rate, RateBurst: tt.burst})
		if err != nil {
			t.Fatal(err)
		}
		for id, lic := range map[string]string{ent: "ent250", std: "project"} {
			if _, err := a.Store.UpdatePortal(ctx, id, func(p *app.Portal, _ bool) error {
				p.License = lic
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		for id, w := range tt.want {
			if got, err := a.Bitrix.RateProfile(ctx, id); err != nil || got != w {
				t.Errorf("%s: %s's profile = %+v, %v; want %+v", tt.name, id, got, err, w)
			}
		}
		_ = a.Close()
	}
}
