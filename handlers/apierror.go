package handlers

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"segmentor/app"
	"segmentor/app/i18n"
	"segmentor/app/segment"
)

// apiStatus is the one map from domain error codes to HTTP statuses.
var apiStatus = map[string]int{
	app.EInvalid:      http.StatusBadRequest,
	app.ENotFound:     http.StatusNotFound,
	app.EConflict:     http.StatusConflict,
	app.EUnauthorized: http.StatusUnauthorized,
	app.EForbidden:    http.StatusForbidden,
	app.EUnavailable:  http.StatusServiceUnavailable,
	app.ETooMany:      http.StatusTooManyRequests,
	app.ETooLarge:     http.StatusRequestEntityTooLarge,
	app.EInternal:     http.StatusInternalServerError,
}

// apiError answers {error, message} with the status of err's code, in the
// user's language. Every /api/v1 error goes through here.
func apiError(c *gin.Context, lang string, err error) {
	code := app.ErrorCode(err)
	status, ok := apiStatus[code]
	if !ok {
		code, status = app.EInternal, http.StatusInternalServerError
	}
	if code == app.EInternal || code == app.EUnavailable {
		_ = c.Error(err) // logged by logAPIErrors with its cause
	}
	// The domain's messages are English: another reader gets the code's
	// text, except for an invalid request, whose message says what to fix.
	msg := app.ErrorMessage(err)
	if l := i18n.Parse(lang); l != i18n.EN && code != app.EInvalid && !errors.Is(err, errInUserLanguage) {
		msg = apiTexts.Text(l, code)
	}
	c.JSON(status, gin.H{"error": code, "message": msg})
}

// logAPIErrors logs the causes of failed API requests, which users never see.
func logAPIErrors(l *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Next()
		for _, e := range c.Errors {
			l.Error("api request failed", "route", c.FullPath(), "status", c.Writer.Status(), "error", e.Err)
		}
	}
}

// apiProblems answers 422 with every problem of a config, each with its path.
func apiProblems(c *gin.Context, lang string, ps segment.Problems, names *segment.Names) {
	c.JSON(http.StatusUnprocessableEntity, gin.H{
		"error":   "invalid_config",
		"message": problemsTitle(lang),
		"errors":  ps.In(segmentLang(lang), names),
	})
}

func problemsTitle(lang string) string { return say(lang, "problems") }

func segmentLang(lang string) segment.Lang { return segment.ParseLang(lang) }
