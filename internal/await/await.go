// Package await polls a condition in tests until it holds or a deadline
// passes, so no test sleeps for a fixed time or writes its own loop.
package await

import (
	"testing"
	"time"
)

// Tick is how often a condition is polled.
const Tick = 10 * time.Millisecond

// That polls cond until it returns true, failing t after within. what names
// the awaited state in the failure ("setup to finish").
func That(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Poll(within, cond) {
		t.Fatalf("waited %s for %s", within, what)
	}
}

// Poll polls cond until it returns true (true) or within passes (false), for
// callers that report the failure themselves.
func Poll(within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(Tick)
	}
	return true
}
