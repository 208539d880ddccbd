package jobs

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
)

// LogJobs returns asynq middleware that logs every finished job with its
// id, type, portal, outcome and duration: jobs that did not succeed as
// warnings with their error, the rest at debug level. Payloads are never
// logged (they carry record ids only, but stay out of logs all the same).
func LogJobs(log *slog.Logger) asynq.MiddlewareFunc {
	return func(next asynq.Handler) asynq.Handler {
		return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
			start := time.Now()
			err := next.ProcessTask(ctx, t)
			out := outcome(err)
			level := slog.LevelDebug
			if out != "ok" && out != "rate_limited" && out != "busy" {
				level = slog.LevelWarn
			}
			if !log.Enabled(ctx, level) {
				return err
			}
			id, _ := asynq.GetTaskID(ctx)
			retried, _ := asynq.GetRetryCount(ctx)
			attrs := []slog.Attr{slog.String("job_id", id), slog.String("type", t.Type())}
			var p struct {
				MemberID string `json:"member_id"`
			}
			if json.Unmarshal(t.Payload(), &p) == nil && p.MemberID != "" {
				attrs = append(attrs, slog.String("portal", p.MemberID))
			}
			attrs = append(attrs, slog.String("outcome", out), slog.Int("retried", retried),
				slog.Duration("duration", time.Since(start)))
			if err != nil {
				attrs = append(attrs, slog.String("error", err.Error()))
			}
			log.LogAttrs(ctx, level, "job finished", attrs...)
			return err
		})
	}
}
