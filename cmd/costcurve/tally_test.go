package main

import (
	"testing"
	"time"
)

// What a run spends in a minute stays counted for ten: 1,000 s of one
// method at 480 s a window needs its third window, 20 minutes after the
// first bucket began (19 after a run that began at that bucket's end).
func TestOperatingBound(t *testing.T) {
	const limit = 480 * time.Second
	for _, c := range []struct {
		op, want time.Duration
	}{
		{0, 0},
		{limit, 0},
		{limit + time.Millisecond, 9 * time.Minute},
		{2 * limit, 9 * time.Minute},
		{1000 * time.Second, 19 * time.Minute},
		{10_000 * time.Second, 199 * time.Minute},
	} {
		if got := operatingBound(c.op, limit); got != c.want {
			t.Errorf("operatingBound(%v) = %v, want %v", c.op, got, c.want)
		}
	}
	if got := operatingBound(time.Hour, 0); got != 0 {
		t.Errorf("no limit: %v", got)
	}
}
