package jobs

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/hibiken/asynq"

	"segmentor/app"
	"segmentor/bitrix"
	"segmentor/engine"
	"segmentor/internal/redistest"
)

type fakeBackfiller struct {
	calls int
	err   error
}

func (f *fakeBackfiller) Backfill(context.Context, string, string) (engine.BackfillStats, error) {
	f.calls++
	return engine.BackfillStats{}, f.err
}

func TestBackfillTaskOutcomes(t *testing.T) {
	ctx := context.Background()
	rdb, _ := redistest.New(t)
	seal, _ := app.NewSealer(bytes.Repeat([]byte{3}, 32))
	store := app.NewStore(rdb, seal, nil)
	for _, m := range []string{"active", "gone"} {
		if err := store.Save(ctx, &bitrix.Token{MemberID: m, AccessToken: "a"}); err != nil {
			t.Fatal(err)
		}
	}
	_ = store.SetState(ctx, "active", app.StateActive, "")
	_ = store.SetState(ctx, "gone", app.StateUninstalled, "")

	task := func(m string) *asynq.Task {
		tk, opts, err := NewBackfillTask(BackfillPayload{MemberID: m, Reason: "test"})
		if err != nil || len(opts) != 4 {
			t.Fatalf("task: %v %v", err, opts)
		}
		return tk
	}
	cases := []struct {
		name   string
		member string
		err    error
		want   error // nil: success
		calls  int
	}{
		{"runs", "active", nil, nil, 1},
		{"no config yet is not retried", "active", app.Errorf(app.EConflict, "Save a segmentation config first."), asynq.SkipRetry, 1},
		{"dead tokens revoke the task", "active", &bitrix.ReauthError{MemberID: "active", Err: errors.New("invalid_grant")}, asynq.RevokeTask, 1},
		{"uninstalled portal is revoked without running", "gone", nil, asynq.RevokeTask, 0},
		{"unknown portal is revoked", "nobody", nil, asynq.RevokeTask, 0},
	}
	for _, c := range cases {
		fb := &fakeBackfiller{err: c.err}
		w := &Worker{Store: store, Backfill: fb, Log: slog.New(slog.DiscardHandler)}
		err := w.handleBackfill(ctx, task(c.member))
		if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
		if fb.calls != c.calls {
			t.Errorf("%s: backfill ran %d times, want %d", c.name, fb.calls, c.calls)
		}
	}
}
