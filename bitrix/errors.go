package bitrix

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Error codes returned by Bitrix24 that the client acts on. Codes are compared
// case-insensitively: portals and the OAuth server mix cases.
const (
	CodeQueryLimitExceeded  = "QUERY_LIMIT_EXCEEDED"
	CodeOperationTimeLimit  = "OPERATION_TIME_LIMIT"
	CodeOverloadLimit       = "OVERLOAD_LIMIT"
	CodeExpiredToken        = "expired_token"
	CodeInvalidToken        = "invalid_token"
	CodeInvalidGrant        = "invalid_grant"
	CodeInvalidClient       = "invalid_client"
	CodeNoAuthFound         = "NO_AUTH_FOUND"
	CodePaymentRequired     = "PAYMENT_REQUIRED"
	CodeAccessDenied        = "ACCESS_DENIED"
	CodeInsufficientScope   = "insufficient_scope"
	CodeInvalidCredentials  = "INVALID_CREDENTIALS"
	CodeUserAccessError     = "user_access_error"
	CodeNotFound            = "NOT_FOUND"
	CodeMethodNotFound      = "ERROR_METHOD_NOT_FOUND"
	CodePortalDeleted       = "PORTAL_DELETED"
	CodeInternalServerError = "INTERNAL_SERVER_ERROR"
	CodeUnexpectedAnswer    = "ERROR_UNEXPECTED_ANSWER"
	CodeBatchLengthExceeded = "ERROR_BATCH_LENGTH_EXCEEDED"
)

// APIError is an error answer from a portal or the OAuth server:
// {"error": "CODE", "error_description": "text"}. Status is the HTTP status
// (200 for errors inside a batch and for the methods that report errors with
// 200). Method is the REST method, or the batch command's method.
type APIError struct {
	Code        string
	Description string
	Status      int
	Method      string
}

func (e *APIError) Error() string {
	code := e.Code
	if code == "" {
		code = "(no code)"
	}
	s := "bitrix: " + code
	if e.Description != "" {
		s += ": " + e.Description
	}
	if e.Method != "" || e.Status != 0 {
		s += fmt.Sprintf(" (%s, http %d)", e.Method, e.Status)
	}
	return s
}

// Is reports whether target is an *APIError with the same code
// (case-insensitive), so errors.Is(err, &APIError{Code: "NOT_FOUND"}) works.
func (e *APIError) Is(target error) bool {
	t, ok := target.(*APIError)
	return ok && t.Code != "" && strings.EqualFold(t.Code, e.Code)
}

// HasCode reports whether the error's code is one of codes, ignoring case.
func (e *APIError) HasCode(codes ...string) bool {
	for _, c := range codes {
		if strings.EqualFold(e.Code, c) {
			return true
		}
	}
	return false
}

func apiErrorOf(err error) (*APIError, bool) {
	var e *APIError
	ok := errors.As(err, &e)
	return e, ok
}

func hasCode(err error, codes ...string) bool {
	e, ok := apiErrorOf(err)
	return ok && e.HasCode(codes...)
}

// descIs matches the empty-code errors of the v2 CRM methods, which carry only
// a text such as "Not found" or "Access denied".
func descIs(err error, texts ...string) bool {
	e, ok := apiErrorOf(err)
	if !ok || e.Code != "" {
		return false
	}
	d := strings.TrimSpace(e.Description)
	for _, t := range texts {
		if strings.EqualFold(d, t) {
			return true
		}
	}
	return false
}

// IsQueryLimit reports a QUERY_LIMIT_EXCEEDED answer (HTTP 503): the request
// was refused before it ran.
func IsQueryLimit(err error) bool { return hasCode(err, CodeQueryLimitExceeded) }

// IsOperationLimit reports an OPERATION_TIME_LIMIT answer (HTTP 429): the
// method's time budget for this application is spent; the call did not run.
func IsOperationLimit(err error) bool { return hasCode(err, CodeOperationTimeLimit) }

// IsOverload reports OVERLOAD_LIMIT, a manual block by Bitrix24 support.
func IsOverload(err error) bool { return hasCode(err, CodeOverloadLimit) }

// IsExpiredToken reports an expired access token.
func IsExpiredToken(err error) bool { return hasCode(err, CodeExpiredToken) }

// IsInvalidToken reports a token the portal or OAuth server will not accept
// again (invalid_token, NO_AUTH_FOUND, invalid_grant).
func IsInvalidToken(err error) bool {
	return hasCode(err, CodeInvalidToken, CodeNoAuthFound, CodeInvalidGrant)
}

// IsNotFound reports a missing record or method: NOT_FOUND,
// ERROR_METHOD_NOT_FOUND, or the empty code with the text "Not found".
func IsNotFound(err error) bool {
	return hasCode(err, CodeNotFound, CodeMethodNotFound) || descIs(err, "Not found")
}

// IsRecordNotFound reports a record that does not exist (any more):
// NOT_FOUND, or the empty code with the text "Not found"; not a missing
// method.
func IsRecordNotFound(err error) bool {
	return hasCode(err, CodeNotFound) || descIs(err, "Not found")
}

// IsAccessDenied reports missing rights or scope.
func IsAccessDenied(err error) bool {
	return hasCode(err, CodeAccessDenied, CodeInsufficientScope, CodeInvalidCredentials,
		CodeUserAccessError, "WRONG_AUTH_TYPE") || descIs(err, "Access denied")
}

// IsPortalGone reports a portal that no longer serves the application: the
// portal was deleted, or the application's access was revoked for good and
// the store marked the portal as needing re-authorization.
func IsPortalGone(err error) bool {
	return hasCode(err, CodePortalDeleted) || errors.Is(err, ErrNeedsReauth)
}

// IsTemporary reports errors worth retrying later without changing anything:
// rate and time limits, and server-side failures.
func IsTemporary(err error) bool {
	var rl *RateLimitedError
	if errors.As(err, &rl) {
		return true
	}
	return hasCode(err, CodeQueryLimitExceeded, CodeOperationTimeLimit) || retryableServerError(err)
}

// notRun reports per-command or whole-request errors that prove the request
// was refused before it executed, so repeating it cannot duplicate a write.
func notRun(err error) bool {
	return hasCode(err, CodeQueryLimitExceeded, CodeOperationTimeLimit)
}

// NotRun reports an error proving that a request never ran: the client
// gave it back before sending it (RateLimitedError, a dead or missing
// token), or the portal refused it before it ran (QUERY_LIMIT_EXCEEDED,
// OPERATION_TIME_LIMIT, a token it does not accept). The client repeats a
// write only after such refusals, so a write that failed so wrote nothing
// and may simply be sent again.
func NotRun(err error) bool {
	var rl *RateLimitedError
	if errors.As(err, &rl) || errors.Is(err, ErrNeedsReauth) || errors.Is(err, ErrNoToken) {
		return true
	}
	return notRun(err) || hasCode(err, CodeExpiredToken, CodeInvalidToken, CodeNoAuthFound, CodePaymentRequired)
}

// Answered reports an error the portal itself answered, in JSON: the
// request is over, whether or not it ran, so what it wrote can be read back
// at once. A proxy's HTML error page, a timeout or a lost connection is not
// an answer: the request may still be running on the portal.
func Answered(err error) bool {
	_, ok := apiErrorOf(err)
	return ok
}

// UnexpectedResponseError is an answer that is not a Bitrix24 JSON envelope,
// typically an HTML error page from a proxy or a portal being moved.
type UnexpectedResponseError struct {
	Method      string
	Status      int
	ContentType string
	Snippet     string // start of the body, for logs
}

func (e *UnexpectedResponseError) Error() string {
	return fmt.Sprintf("bitrix: %s: unexpected non-JSON answer (http %d %s, %s): %q",
		e.Method, e.Status, http.StatusText(e.Status), e.ContentType, e.Snippet)
}

// RateLimitedError is returned when a call would have to wait longer than its
// context allows, for the request budget, an OPERATION_TIME_LIMIT pause or a
// QUERY_LIMIT_EXCEEDED backoff, and when the portal kept refusing with those
// codes after the client's own retries (Err is then the last refusal, so
// IsQueryLimit and errors.As to *APIError still see it). Nothing was sent for
// the refused attempt, or the portal refused it before it ran; a job can give
// its worker back and retry after RetryIn.
type RateLimitedError struct {
	MemberID string
	Method   string
	RetryIn  time.Duration
	Reason   string // "budget", "operating", "query_limit"
	Err      error  // the API error that caused the wait, if any
}

func (e *RateLimitedError) Error() string {
	s := fmt.Sprintf("bitrix: portal %s: %s: rate limited (%s), retry in %s", e.MemberID, e.Method, e.Reason, e.RetryIn.Round(time.Millisecond))
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *RateLimitedError) Unwrap() error { return e.Err }

// ErrNeedsReauth is matched (errors.Is) by every error saying the portal's
// tokens are dead and an administrator must open or reinstall the
// application. TokenStore implementations should return an error matching it
// from Load once MarkNeedsReauth was called.
var ErrNeedsReauth = errors.New("bitrix: portal needs re-authorization")

// ErrNoToken is returned (wrapped) by TokenStore.Load for an unknown portal.
var ErrNoToken = errors.New("bitrix: no token stored for portal")

// ReauthError says the portal's refresh chain is broken (invalid_grant,
// invalid_token, PAYMENT_REQUIRED, ...). The client marked the portal in the
// store and will not retry.
type ReauthError struct {
	MemberID string
	Err      error
}

func (e *ReauthError) Error() string {
	return fmt.Sprintf("bitrix: portal %s needs re-authorization: %v", e.MemberID, e.Err)
}

func (e *ReauthError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrNeedsReauth) true.
func (e *ReauthError) Is(target error) bool { return target == ErrNeedsReauth }

// ErrStalledCursor is returned by Scan when a page does not move the cursor
// forward, which would otherwise loop forever.
var ErrStalledCursor = errors.New("bitrix: scan cursor did not advance")

// ErrNotRun is returned by BatchResult.Err for a command that did not run
// because an earlier command failed in a halting batch.
var ErrNotRun = errors.New("bitrix: batch command not run")
