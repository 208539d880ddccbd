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
	if d := retryDelay(0, errors.New("boom"), task); d < 15*time.Second {
		t.Errorf("a failed task waits %s, want asynq's back-off (15 s or more)", d)
	}
}
