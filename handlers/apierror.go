package handlers

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"segmentor/app"
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

// apiTextsRU are the Russian texts of the API's errors, by code; English
// ones are the domain errors' own messages.
var apiTextsRU = map[string]string{
	app.EInvalid:      "Запрос составлен неверно.",
	app.ENotFound:     "Не найдено.",
	app.EConflict:     "Кто-то сохранил настройки, пока вы их редактировали. Перезагрузите страницу, чтобы увидеть изменения.",
	app.EUnauthorized: "Сеанс недействителен или истёк; откройте приложение заново из портала.",
	app.EForbidden:    "Изменять настройки может только администратор Битрикс24.",
	app.EUnavailable:  "Сервис временно недоступен; повторите попытку через минуту.",
	app.ETooMany:      "Слишком много запросов; повторите попытку позже.",
	app.EInternal:     "Внутренняя ошибка.",
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
	msg := app.ErrorMessage(err)
	if langOf(lang) == "ru" {
		if ru, ok := apiTextsRU[code]; ok && code != app.EInvalid && !errors.Is(err, errInUserLanguage) {
			msg = ru
		}
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

func problemsTitle(lang string) string {
	if langOf(lang) == "ru" {
		return "В настройках есть ошибки; исправьте отмеченные поля."
	}
	return "The settings have problems; fix the marked fields."
}

func segmentLang(lang string) segment.Lang { return segment.ParseLang(lang) }
