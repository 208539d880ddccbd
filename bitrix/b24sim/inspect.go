package b24sim

import (
	"time"
)

// defaultLogLimit is how many requests the log keeps (the newest); counters
// in Stats are not affected by it.
const defaultLogLimit = 100000

// Request is one REST HTTP request the portal received (OAuth requests are
// not logged; see Stats.OAuthRequests and Refreshes).
type Request struct {
	Time       time.Time
	HTTPMethod string
	Host       string // the host the request was sent to (differs after Rename)
	Method     string // REST method, lower case; "batch" for a batch
	Params     Params // without auth
	Auth       string
	UserID     int // 0 when not authenticated
	Status     int
	ErrorCode  string   // "" on success and for the empty-code errors (Status tells)
	Commands   []string // for a batch: the method of each command run, in order
	// For a batch, parallel to Commands: each command's name, the params it
	// ran with ($result references resolved), its status (200 on success)
	// and error code.
	CommandNames  []string
	CommandParams []Params
	CommandStatus []int
	CommandErrors []string

	rawBody  []byte // kept for batch, to recover the order of cmd
	rawQuery string
}

type inspectState struct {
	log   []Request
	limit int
	stats Stats
}

// Stats are the portal's counters since New (or ResetLog).
type Stats struct {
	HTTPRequests       int            // REST HTTP requests, refused and redirected ones included; a batch is one
	Commands           int            // methods run: one per non-batch request that got past limits and auth, one per batch command
	Methods            map[string]int // per REST method: HTTP requests by method, and each batch command by its method
	Errors             map[string]int // per error code ("" for empty-code errors), batch command errors included
	Statuses           map[int]int    // per HTTP status of REST requests
	QueryLimitRefusals int            // 503 QUERY_LIMIT_EXCEEDED answers (bucket and injected)
	OperatingRefusals  int            // 429 OPERATION_TIME_LIMIT answers, batch commands included
	Redirects          int            // 302 answers of an old host after Rename
	OAuthRequests      int            // /oauth/token/ requests
	Refreshes          int            // successful refresh_token grants
	CodeExchanges      int            // successful authorization_code grants
	Events             EventStats
}

func newStats() Stats {
	return Stats{Methods: map[string]int{}, Errors: map[string]int{}, Statuses: map[int]int{}}
}

// record logs one finished REST request and counts it. Called without p.mu.
func (p *Portal) record(r Request) {
	r.rawBody, r.rawQuery = nil, ""
	p.mu.Lock()
	defer p.mu.Unlock()
	s := &p.insp.stats
	if s.Methods == nil {
		*s = newStats()
	}
	s.HTTPRequests++
	s.Statuses[r.Status]++
	if r.Method != "" {
		s.Methods[r.Method]++
	}
	if r.Status >= 300 && r.Status < 400 {
		s.Redirects++
	}
	countErr := func(status int, code string) {
		if status == 200 && code == "" {
			return
		}
		s.Errors[code]++
		switch code {
		case "QUERY_LIMIT_EXCEEDED":
			s.QueryLimitRefusals++
		case "OPERATION_TIME_LIMIT":
			s.OperatingRefusals++
		}
	}
	if r.Status >= 400 || r.ErrorCode != "" {
		countErr(r.Status, r.ErrorCode)
	}
	if r.Method == "batch" && r.Commands != nil {
		for i, m := range r.Commands {
			s.Commands++
			s.Methods[m]++
			if i < len(r.CommandStatus) {
				countErr(r.CommandStatus[i], r.CommandErrors[i])
			}
		}
	} else if r.UserID != 0 && r.ErrorCode != "QUERY_LIMIT_EXCEEDED" {
		s.Commands++
	}
	limit := p.insp.limit
	if limit == 0 {
		limit = defaultLogLimit
	}
	if limit > 0 {
		if len(p.insp.log) >= limit {
			drop := len(p.insp.log) - limit + 1
			p.insp.log = append(p.insp.log[:0], p.insp.log[drop:]...)
		}
		p.insp.log = append(p.insp.log, r)
	}
}

// Requests returns a copy of the request log, oldest first.
func (p *Portal) Requests() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Request(nil), p.insp.log...)
}

// TakeRequests returns the request log, oldest first, and empties it; the
// counters go on. A tool that follows a long run takes the log now and
// then, so that the log need not hold the whole run.
func (p *Portal) TakeRequests() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.insp.log
	p.insp.log = nil
	return out
}

// ResetLog empties the request log and zeroes the request counters
// (event counters and token counters are kept).
func (p *Portal) ResetLog() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.insp.log = nil
	p.insp.stats = newStats()
}

// SetLogLimit bounds the request log to the newest n requests (n<0: keep none).
func (p *Portal) SetLogLimit(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.insp.limit = n
	if n > 0 && len(p.insp.log) > n {
		p.insp.log = append([]Request(nil), p.insp.log[len(p.insp.log)-n:]...)
	} else if n < 0 {
		p.insp.log = nil
	}
}

// Stats returns the portal's counters.
func (p *Portal) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.insp.stats
	out := newStats()
	out.HTTPRequests, out.Commands = s.HTTPRequests, s.Commands
	out.QueryLimitRefusals, out.OperatingRefusals, out.Redirects = s.QueryLimitRefusals, s.OperatingRefusals, s.Redirects
	for k, v := range s.Methods {
		out.Methods[k] = v
	}
	for k, v := range s.Errors {
		out.Errors[k] = v
	}
	for k, v := range s.Statuses {
		out.Statuses[k] = v
	}
	out.OAuthRequests, out.Refreshes, out.CodeExchanges = p.auth.oauthReqs, p.auth.refreshes, p.auth.exchanges
	out.Events = p.events.stats
	return out
}
