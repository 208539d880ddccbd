package fakeclock

import (
	"context"
	"slices"
	"testing"
	"time"
)

func TestClockMovesOnlyWhenToldTo(t *testing.T) {
	start := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	c := At(start)
	if !c.Now().Equal(start) {
		t.Fatalf("Now = %s, want %s", c.Now(), start)
	}
	c.Advance(time.Minute)
	if err := c.Sleep(context.Background(), 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if want := start.Add(time.Minute + 2*time.Second); !c.Now().Equal(want) {
		t.Errorf("Now = %s, want %s", c.Now(), want)
	}
	if got := c.Sleeps(); !slices.Equal(got, []time.Duration{2 * time.Second}) {
		t.Errorf("Sleeps = %v, want [2s]", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Sleep(ctx, time.Second); err == nil {
		t.Error("Sleep on a cancelled context returned no error")
	}
}
