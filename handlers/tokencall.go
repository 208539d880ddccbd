package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"segmentor/app"
	"segmentor/bitrix"
)

// noRedirects is the client for calls made with a token a portal sent us:
// a redirect must never carry that token to a host we did not choose.
var noRedirects = &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
	return http.ErrUseLastResponse
}}

// Budget is a portal's request budget, shared with the worker through Redis
// (*bitrix.Client): Bitrix24 counts every request to a portal in one
// bucket, so the calls made here with a user's token take their turn too.
// Reserve waits at most maxWait for one request's turn, or returns a
// *bitrix.RateLimitedError saying when to try again.
type Budget interface {
	Reserve(ctx context.Context, memberID, method string, maxWait time.Duration) error
}

// PortalWait is how long a call with a user's token waits for its turn in
// the portal's budget by default: a page open should not hang on a busy
// portal, it should say so.
const PortalWait = 3 * time.Second

// InstallWait is the longer wait for the checks of an install or an app
// update: the installer's refresh token is already spent when its check
// runs, so giving up sends the admin back to install again.
const InstallWait = 15 * time.Second

// tokenCaller makes calls with a token a portal sent us, at the portal's
// stored endpoint, within the portal's shared budget.
type tokenCaller struct {
	HTTP      *http.Client
	AllowHTTP bool
	Budget    Budget        // nil: not limited (tests with fakes)
	MaxWait   time.Duration // 0: PortalWait
}

func (t tokenCaller) call(ctx context.Context, memberID, endpoint, method, token string, result any) error {
	if !strings.HasPrefix(endpoint, "https://") && !(t.AllowHTTP && strings.HasPrefix(endpoint, "http://")) {
		return fmt.Errorf("endpoint %q is not https", endpoint)
	}
	if t.Budget != nil {
		wait := t.MaxWait
		if wait <= 0 {
			wait = PortalWait
		}
		if err := t.Budget.Reserve(ctx, memberID, method, wait); err != nil {
			return err
		}
	}
	return callWithToken(ctx, t.HTTP, endpoint, method, token, result)
}

// callWithToken POSTs one REST method with a token and decodes its result
// into result (a pointer). An error envelope is a *bitrix.APIError; a
// non-200 status or an empty result is an error too.
func callWithToken(ctx context.Context, client *http.Client, endpoint, method, token string, result any) error {
	body, _ := json.Marshal(map[string]string{"auth": token})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint+method, strings.NewReader(string(body)))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if client == nil {
		client = noRedirects
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var out struct {
		Result           json.RawMessage `json:"result"`
		Error            string          `json:"error"`
		ErrorDescription string          `json:"error_description"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(nil, resp.Body, 1<<20)).Decode(&out); err != nil {
		return fmt.Errorf("%s answer: %w", method, err)
	}
	if out.Error != "" {
		return fmt.Errorf("%s refused the token: %w", method,
			&bitrix.APIError{Code: out.Error, Description: out.ErrorDescription, Status: resp.StatusCode, Method: method})
	}
	if resp.StatusCode != http.StatusOK || len(out.Result) == 0 || string(out.Result) == "null" {
		return fmt.Errorf("%s refused the token: %d", method, resp.StatusCode)
	}
	if err := json.Unmarshal(out.Result, result); err != nil {
		return fmt.Errorf("%s result: %w", method, err)
	}
	return nil
}

// portalBusy reports whether err says the portal's request budget is spent
// (our shared limiter's bound, or the portal's own refusal), and when to
// try again.
func portalBusy(err error) (retryIn time.Duration, busy bool) {
	var rl *bitrix.RateLimitedError
	switch {
	case errors.As(err, &rl):
		return rl.RetryIn, true
	case bitrix.IsQueryLimit(err):
		return time.Second, true
	}
	return 0, false
}

// retryAfter sets Retry-After (whole seconds, at least one) and returns it.
func retryAfter(c *gin.Context, d time.Duration) int {
	s := max(1, int(math.Ceil(d.Seconds())))
	c.Header("Retry-After", strconv.Itoa(s))
	return s
}

// busyError is the answer to a page whose portal check could not get its
// turn in the portal's request budget: retryable, in the user's language.
func busyError(c *gin.Context, lang string, d time.Duration, cause error) error {
	s := retryAfter(c, d)
	msg := fmt.Sprintf("Your Bitrix24 portal is busy with Segmentor's requests right now; try again in %d s.", s)
	if langOf(lang) == "ru" {
		msg = fmt.Sprintf("Ваш портал Битрикс24 сейчас занят запросами Segmentor; повторите через %d с.", s)
	}
	return &app.Error{Code: app.EUnavailable, Message: msg, Err: errors.Join(errInUserLanguage, cause)}
}
