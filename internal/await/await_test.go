package await

import (
	"testing"
	"time"
)

func TestPollReturnsOnceTheConditionHolds(t *testing.T) {
	n := 0
	if !Poll(time.Second, func() bool { n++; return n == 3 }) {
		t.Fatal("Poll gave up on a condition that held on the third try")
	}
	if n != 3 {
		t.Errorf("condition polled %d times, want 3", n)
	}
}

func TestPollGivesUpAfterTheDeadline(t *testing.T) {
	start := time.Now()
	if Poll(50*time.Millisecond, func() bool { return false }) {
		t.Fatal("Poll reported success for a condition that never held")
	}
	if waited := time.Since(start); waited < 50*time.Millisecond {
		t.Errorf("gave up after %s, before the 50ms deadline", waited)
	}
}
