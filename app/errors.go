package app

import (
	"errors"
	"fmt"
)

// Error codes, mapped to HTTP statuses in one place by the handlers.
const (
	EInvalid      = "invalid"      // bad input; the message says what to fix
	ENotFound     = "not_found"    // no such portal, record or job
	EConflict     = "conflict"     // stale version or a state that forbids the action
	EUnauthorized = "unauthorized" // no valid session or token
	EForbidden    = "forbidden"    // authenticated, but not allowed
	EUnavailable  = "unavailable"  // a dependency is down; try again later
	ETooMany      = "too_many"     // one client asked too often; try again later
	ETooLarge     = "too_large"    // the request is larger than the limit the message states
	EInternal     = "internal"     // a bug or an unexpected failure
)

// Error is a domain error with a code and a message fit to show a user.
type Error struct {
	Code    string
	Message string
	Err     error // the underlying cause, for logs; never shown to users
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an *Error with a formatted user-facing message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EInternal
// for any other error and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// ErrorMessage returns the user-facing message of err; internal errors get a
// generic text so that no detail leaks.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Code != EInternal {
		return e.Message
	}
	return "Internal error."
}
