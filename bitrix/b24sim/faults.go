package b24sim

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"
)

// faultState is what the tests asked to go wrong. Guarded by p.mu.
type faultState struct {
	errorRate  float64         // share of REST requests answered 500 INTERNAL_SERVER_ERROR
	htmlRate   float64         // share answered with an HTML error page
	htmlStatus int             // the HTML page's status (default 502)
	latency    time.Duration   // added before every REST answer
	limitBurst int             // the next n REST requests get 503 QUERY_LIMIT_EXCEEDED
	htmlNext   int             // the next n REST requests get an HTML error page
	errorNext  int             // the next n REST requests get 500 INTERNAL_SERVER_ERROR
	writeNth   int             // the nth REST request that writes from now gets 500 INTERNAL_SERVER_ERROR
	denied     map[string]bool // "ENTITY:id" the app may not update
	oldHosts   map[string]bool
}

// SetErrorRate makes a share (0..1) of REST requests fail with
// 500 INTERNAL_SERVER_ERROR, chosen by the seeded generator.
func (p *Portal) SetErrorRate(rate float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fault.errorRate = rate
}

// FailNext answers the next n REST requests with 500
// INTERNAL_SERVER_ERROR, as SetErrorRate's chosen ones are: for a test that
// must see the fault whatever the draw.
func (p *Portal) FailNext(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fault.errorNext = n
}

// FailWrite answers the nth REST request from now that would change a
// record (an .add, .update or .delete method, alone or among a batch's
// commands; 1 is the next) with 500 INTERNAL_SERVER_ERROR, before anything
// of it runs: for a test whose fault must hit a given write, not the reads
// around it.
func (p *Portal) FailWrite(nth int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fault.writeNth = nth
}

// DenyUpdates makes the app's REST updates of one record (entity "deal",
// "contact" or "company") answer "Access denied", as a record the app's
// user may not edit does, or (deny false) lets them through again. The UI
// still edits the record.
func (p *Portal) DenyUpdates(entity string, id int, deny bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fault.denied == nil {
		p.fault.denied = map[string]bool{}
	}
	key := strings.ToUpper(entity) + ":" + strconv.Itoa(id)
	if deny {
		p.fault.denied[key] = true
	} else {
		delete(p.fault.denied, key)
	}
}

// failWrite reports whether this request is the one FailWrite asked to
// fail, counting the writes until it. Called without p.mu.
func (p *Portal) failWrite(method string, params Params) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fault.writeNth == 0 || !writes(method, params) {
		return false
	}
	p.fault.writeNth--
	return p.fault.writeNth == 0
}

// writes reports whether a request changes records: its method, or for a
// batch any of its commands, is an add, update or delete.
func writes(method string, params Params) bool {
	isWrite := func(m string) bool {
		m = strings.ToLower(m)
		return strings.HasSuffix(m, ".add") || strings.HasSuffix(m, ".update") || strings.HasSuffix(m, ".delete")
	}
	if method != "batch" {
		return isWrite(method)
	}
	cmds, _ := params["cmd"].(map[string]any)
	for _, v := range cmds {
		if s, ok := v.(string); ok {
			m, _, _ := strings.Cut(s, "?")
			if isWrite(m) {
				return true
			}
		}
	}
	return false
}

// SetHTMLErrorRate makes a share (0..1) of REST requests answer with an HTML
// error page of the given status (0 means 502), as a proxy in front of the
// portal does.
func (p *Portal) SetHTMLErrorRate(rate float64, status int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fault.htmlRate, p.fault.htmlStatus = rate, status
}

// FailNextHTML answers the next n REST requests with an HTML error page of
// the given status (0 means 502).
func (p *Portal) FailNextHTML(n, status int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fault.htmlNext, p.fault.htmlStatus = n, status
}

// SetLatency adds a delay (real time) before every REST answer.
func (p *Portal) SetLatency(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fault.latency = d
}

// LimitBurst answers the next n REST requests with 503 QUERY_LIMIT_EXCEEDED
// whatever the bucket says.
func (p *Portal) LimitBurst(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fault.limitBurst = n
}

// htmlErrorPage is what nginx in front of a portal sends when the backend fails.
func htmlErrorPage(status int) string {
	text := http.StatusText(status)
	return fmt.Sprintf("<html>\r\n<head><title>%d %s</title></head>\r\n<body>\r\n<center><h1>%d %s</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n", status, text, status, text)
}

// injectFault answers a REST request itself when a fault applies (redirect
// of a renamed portal's old host, injected errors) and reports whether it
// did. It also adds the configured latency. Called without p.mu.
func (p *Portal) injectFault(w http.ResponseWriter, r *http.Request, entry *Request) bool {
	entry.Host = r.Host
	if entry.Method == "batch" && r.Body != nil { // keep the raw body: cmd order
		body, err := io.ReadAll(io.LimitReader(r.Body, 32<<20))
		if err == nil {
			entry.rawBody = body
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		entry.rawQuery = r.URL.RawQuery
	}
	p.mu.Lock()
	f := &p.fault
	if f.oldHosts[r.Host] {
		loc := p.baseURL + r.URL.Path
		if r.URL.RawQuery != "" {
			loc += "?" + r.URL.RawQuery
		}
		p.mu.Unlock()
		w.Header().Set("Location", loc)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusFound)
		_, _ = io.WriteString(w, htmlErrorPage(http.StatusFound))
		entry.Status = http.StatusFound
		return true
	}
	latency := f.latency
	var status int
	var html bool
	switch {
	case f.limitBurst > 0:
		f.limitBurst--
		status = 503
	case f.htmlNext > 0:
		f.htmlNext--
		status, html = htmlStatusOr502(f.htmlStatus), true
	case f.errorNext > 0:
		f.errorNext--
		status = 500
	case f.errorRate > 0 && p.rng.Float64() < f.errorRate:
		status = 500
	case f.htmlRate > 0 && p.rng.Float64() < f.htmlRate:
		status, html = htmlStatusOr502(f.htmlStatus), true
	}
	p.mu.Unlock()
	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
		}
	}
	switch {
	case status == 0:
		return false
	case html:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, htmlErrorPage(status))
		entry.Status = status
	case status == 503:
		answerFault(w, entry, errQueryLimit())
	default:
		answerFault(w, entry, errInternal())
	}
	return true
}

// errInternal is the 500 an injected failure answers.
func errInternal() *Error { return errorf(500, "INTERNAL_SERVER_ERROR", "Internal server error") }

// answerFault sends an injected error and notes it in the request's log entry.
func answerFault(w http.ResponseWriter, entry *Request, e *Error) {
	writeError(w, e)
	entry.Status, entry.ErrorCode = e.Status, e.Code
}

// Rename moves the portal to a new host, as renaming a Bitrix24 portal does:
// a second listener starts, URL, ClientEndpoint and the OAuth server's
// client_endpoint point at it, and every old host answers each /rest/
// request with 302 and a Location on the new host (the client must re-POST).
// The member_id does not change. It returns the new base URL.
func (p *Portal) Rename() string {
	if p.host != nil {
		panic("b24sim: Rename of a Host's portal is not supported")
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/oauth/token/", p.serveOAuth)
	mux.HandleFunc("/rest/", p.serveREST)
	var base string
	var closer func()
	if p.opts.Addr != "" {
		ln, err := listen("127.0.0.1:0")
		if err != nil {
			panic(fmt.Sprintf("b24sim: rename: listen: %v", err))
		}
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		base, closer = "http://"+ln.Addr().String(), func() { _ = srv.Close() }
	} else {
		srv := httptest.NewServer(mux)
		base, closer = srv.URL, srv.Close
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fault.oldHosts == nil {
		p.fault.oldHosts = map[string]bool{}
	}
	p.fault.oldHosts[strings.TrimPrefix(p.baseURL, "http://")] = true
	p.baseURL = base
	p.closers = append(p.closers, closer)
	return base
}

func htmlStatusOr502(s int) int {
	if s < 400 {
		return 502
	}
	return s
}
