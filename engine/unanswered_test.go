package engine

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"segmentor/app"
	"segmentor/bitrix"
	"segmentor/internal/redistest"
)

// A write batch that failed as a whole: refused before it ran, its notes
// end (nothing was written, the retry sends it again); answered with the
// portal's own error, its notes may be re-read at once; cut off with no
// answer, they wait InDoubtWait, for the batch may still be running.
func TestUnansweredBatchNotes(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name     string
		err      error
		left     bool // notes stay
		answered bool
	}{
		{"refused before it ran", &bitrix.RateLimitedError{Reason: "query_limit",
			Err: &bitrix.APIError{Code: bitrix.CodeQueryLimitExceeded, Status: 503}}, false, false},
		{"answered with an error", &bitrix.APIError{Code: bitrix.CodeInternalServerError, Status: 500}, true, true},
		{"cut off", context.DeadlineExceeded, true, false},
		{"a proxy's page", &bitrix.UnexpectedResponseError{Status: 504}, true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			rdb, _ := redistest.New(t)
			seal, _ := app.NewSealer([]byte(strings.Repeat("k", 32)))
			store := app.NewStore(rdb, seal, nil)
			sent := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
			wr := &writer{parts: parts{store: store, clock: func() time.Time { return sent }, log: slog.New(slog.DiscardHandler)},
				inDoubt: time.Minute}
			notes := []app.InFlight{{Entity: "deal", ID: 4, Batch: "x", By: byChanges, Sent: sent}}
			if err := store.BeginWrites(ctx, "m1", notes); err != nil {
				t.Fatal(err)
			}
			if err := wr.unanswered(ctx, "m1", notes, errors.Join(errors.New("write m1"), c.err)); err != nil {
				t.Fatal(err)
			}
			left, err := store.InFlightWrites(ctx, "m1")
			if err != nil {
				t.Fatal(err)
			}
			if (len(left) == 1) != c.left || (c.left && left[0].Answered != c.answered) {
				t.Fatalf("notes after the failure: %+v; want left %v, answered %v", left, c.left, c.answered)
			}
			if trail, _ := store.Audit(ctx, "m1", "deal", 4); len(trail) != 0 {
				t.Errorf("a write that did not run is in the audit: %+v", trail)
			}
		})
	}
}
