package testkit

import (
	"strconv"
	"time"

	"segmentor/bitrix/b24sim"
)

// Num reads a record's value (as b24sim renders it) as an integer; 0 when
// it is none.
func Num(v any) int64 {
	n, _ := strconv.ParseInt(b24sim.Scalar(v), 10, 64)
	return n
}

// QuietAsynq is an asynq logger that says nothing.
type QuietAsynq struct{}

func (QuietAsynq) Debug(...any) {}
func (QuietAsynq) Info(...any)  {}
func (QuietAsynq) Warn(...any)  {}
func (QuietAsynq) Error(...any) {}
func (QuietAsynq) Fatal(...any) {}

// When reads a record's date or time (RFC 3339, as b24sim renders it); the
// zero time when it is none.
func When(v any) time.Time {
	t, _ := time.Parse(time.RFC3339, b24sim.Scalar(v))
	return t
}
