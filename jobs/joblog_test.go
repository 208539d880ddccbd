package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"

	"github.com/hibiken/asynq"
)

// A finished job is logged with its type, portal and outcome; a failure as
// a warning with its error, a success only at debug level.
func TestLogJobs(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	fail := errors.New("portal answered 500")
	for _, err := range []error{nil, fail} {
		h := LogJobs(log)(asynq.HandlerFunc(func(context.Context, *asynq.Task) error { return err }))
		task := asynq.NewTask(TypeCRMChanges, []byte(`{"member_id":"m1","entity":"deal","ids":[1,2]}`))
		if got := h.ProcessTask(context.Background(), task); !errors.Is(got, err) {
			t.Errorf("the middleware changed the error: %v", got)
		}
	}
	var lines []map[string]any
	for _, l := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatalf("not JSON: %s", l)
		}
		lines = append(lines, m)
	}
	if len(lines) != 1 {
		t.Fatalf("want only the failure at info level, got %v", lines)
	}
	l := lines[0]
	if l["level"] != "WARN" || l["msg"] != "job finished" || l["type"] != TypeCRMChanges || l["portal"] != "m1" ||
		l["outcome"] != "failed" || l["error"] != "portal answered 500" || l["ids"] != nil {
		t.Errorf("failure line = %v", l)
	}
}
