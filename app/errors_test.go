package app

import (
	"errors"
	"fmt"
	"testing"
)

func TestErrorCodeAndMessage(t *testing.T) {
	wrapped := fmt.Errorf("save config: %w", Errorf(EConflict, "the config was changed by someone else (version %d)", 4))
	tests := []struct {
		err     error
		code    string
		message string
	}{
		{nil, "", "Internal error."},
		{errors.New("boom"), EInternal, "Internal error."},
		{wrapped, EConflict, "the config was changed by someone else (version 4)"},
		{&Error{Code: EInternal, Message: "secret detail"}, EInternal, "Internal error."},
	}
	for _, tt := range tests {
		if got := ErrorCode(tt.err); got != tt.code {
			t.Errorf("ErrorCode(%v) = %q, want %q", tt.err, got, tt.code)
		}
		if tt.err == nil {
			continue
		}
		if got := ErrorMessage(tt.err); got != tt.message {
			t.Errorf("ErrorMessage(%v) = %q, want %q", tt.err, got, tt.message)
		}
	}
}
