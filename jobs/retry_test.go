package jobs

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"segmentor/bitrix"
)

func TestRetryDelay(t *testing.T) {
	task := asynq.NewTask(TypeCRMChanges, nil)
	if d := retryDelay(0, fmt.Errorf("recoverer: %w", asynq.ErrLeaseExpired), task); d != time.Second {
		t.Errorf("a dead worker's task waits %s, want 1s", d)
	}
	if d := retryDelay(3, &bitrix.RateLimitedError{RetryIn: 7 * time.Second}, task); d != 7*time.Second {
		t.Errorf("a rate-limited task waits %s, want the portal's 7s", d)
	}
	// A failed task's first retries come within seconds, doubling; later
	// ones follow asynq's back-off.
	for n, want := range []time.Duration{3 * time.Second, 6 * time.Second, 12 * time.Second} {
		for range 20 {
			if d := retryDelay(n, errors.New("boom"), task); d < want || d > want+want/2 {
				t.Errorf("retry %d of a failed task waits %s, want %s to %s", n+1, d, want, want+want/2)
			}
		}
	}
	if d := retryDelay(quickRetries, errors.New("boom"), task); d < 15*time.Second {
		t.Errorf("retry %d of a failed task waits %s, want asynq's back-off (15 s or more)", quickRetries+1, d)
	}
}
