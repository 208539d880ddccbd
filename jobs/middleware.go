package jobs

import (
	"context"
	"errors"
	"time"

	"github.com/hibiken/asynq"

	"segmentor/bitrix"
)

// Observe returns asynq middleware that reports each job's type, outcome
// (ok, rate_limited, busy, revoked, dropped, failed) and duration to observe.
func Observe(observe func(taskType, outcome string, d time.Duration)) asynq.MiddlewareFunc {
	return func(next asynq.Handler) asynq.Handler {
		return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
			start := time.Now()
			err := next.ProcessTask(ctx, t)
			observe(t.Type(), outcome(err), time.Since(start))
			return err
		})
	}
}

func outcome(err error) string {
	var rl *bitrix.RateLimitedError
	var busy *busyError
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &rl):
		return "rate_limited"
	case errors.As(err, &busy):
		return "busy"
	case errors.Is(err, asynq.RevokeTask):
		return "revoked"
	case errors.Is(err, asynq.SkipRetry):
		return "dropped"
	}
	return "failed"
}
