package registry

import (
	"testing"
	"time"
)

func TestAgeYears(t *testing.T) {
	d := func(y int, m time.Month, day int) time.Time { return time.Date(y, m, day, 0, 0, 0, 0, time.UTC) }
	tests := []struct {
		registered, now time.Time
		want            int
	}{
		{d(2010, 5, 20), d(2026, 5, 19), 15},
		{d(2010, 5, 20), d(2026, 5, 20), 16},
		{d(2010, 5, 20), d(2026, 12, 1), 16},
		{d(2026, 1, 1), d(2026, 6, 1), 0},
		{d(2027, 1, 1), d(2026, 6, 1), 0}, // registered after now
		{time.Time{}, d(2026, 6, 1), 0},   // unknown
		{d(2012, 2, 29), d(2013, 2, 28), 0},
		{d(2012, 2, 29), d(2013, 3, 1), 1},
	}
	for _, tt := range tests {
		c := Company{Registered: tt.registered}
		if got := c.AgeYears(tt.now); got != tt.want {
			t.Errorf("registered %s, at %s: AgeYears = %d, want %d", tt.registered.Format(time.DateOnly), tt.now.Format(time.DateOnly), got, tt.want)
		}
	}
}
