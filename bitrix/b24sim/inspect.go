package b24sim

import "time"

// STUB — to be replaced by the request log and counters.
type inspectState struct{}

// Request is one HTTP request the portal received.
type Request struct {
	Time       time.Time
	HTTPMethod string
	Method     string // REST method, lower case; "batch" for a batch
	Params     Params
	Auth       string
	UserID     int
	Status     int
	ErrorCode  string
	Commands   []string // for a batch: the method of each command
}

func (p *Portal) record(r Request) {}
