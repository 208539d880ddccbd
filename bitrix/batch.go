package bitrix

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// MaxBatch is the most commands one batch request may carry.
const MaxBatch = 50

// Command is one named command of a batch. Params encode to a JSON object
// and are sent as a PHP-style query string; a value may be a reference to
// an earlier command's result, "$result[name][FIELD]" or
// "$result[name][49][ID]" for a list.
type Command struct {
	Name   string
	Method string
	Params any
}

// Cmd builds a Command.
func Cmd(name, method string, params any) Command {
	return Command{Name: name, Method: method, Params: params}
}

// BatchResult maps a batch's answers back to the command names.
type BatchResult struct {
	Names   []string // in the order sent
	Results map[string]json.RawMessage
	Errors  map[string]*APIError
	Totals  map[string]int
	Nexts   map[string]int // present only for list commands with another page
	Times   map[string]Timing
}

func newBatchResult() *BatchResult {
	return &BatchResult{
		Results: map[string]json.RawMessage{},
		Errors:  map[string]*APIError{},
		Totals:  map[string]int{},
		Nexts:   map[string]int{},
		Times:   map[string]Timing{},
	}
}

// Executed returns the names of the commands that succeeded, in order.
func (r *BatchResult) Executed() []string {
	var out []string
	for _, n := range r.Names {
		if _, ok := r.Results[n]; ok && r.Errors[n] == nil {
			out = append(out, n)
		}
	}
	return out
}

// Failed returns the names of the commands that answered an error, in order.
func (r *BatchResult) Failed() []string {
	var out []string
	for _, n := range r.Names {
		if r.Errors[n] != nil {
			out = append(out, n)
		}
	}
	return out
}

// Skipped returns the names of commands with neither result nor error: not
// run because an earlier command failed in a halting batch.
func (r *BatchResult) Skipped() []string {
	var out []string
	for _, n := range r.Names {
		if _, ok := r.Results[n]; !ok && r.Errors[n] == nil {
			out = append(out, n)
		}
	}
	return out
}

// Err returns the command's error: its *APIError, ErrNotRun, or nil.
func (r *BatchResult) Err(name string) error {
	if e := r.Errors[name]; e != nil {
		return e
	}
	if _, ok := r.Results[name]; !ok {
		return fmt.Errorf("%s: %w", name, ErrNotRun)
	}
	return nil
}

// Decode decodes the command's result into v, or returns its error.
func (r *BatchResult) Decode(name string, v any) error {
	if err := r.Err(name); err != nil {
		return err
	}
	if err := decodeResult(r.Results[name], v); err != nil {
		return fmt.Errorf("bitrix: batch %s: decode: %w", name, err)
	}
	return nil
}

func (r *BatchResult) merge(o *BatchResult) {
	for n, v := range o.Results {
		r.Results[n] = v
		delete(r.Errors, n)
	}
	for n, v := range o.Errors {
		r.Errors[n] = v
	}
	for n, v := range o.Totals {
		r.Totals[n] = v
	}
	for n, v := range o.Nexts {
		r.Nexts[n] = v
	}
	for n, v := range o.Times {
		r.Times[n] = v
	}
}

var refRE = regexp.MustCompile(`\$result\[([^\]\[]+)\]`)

type encodedCmd struct {
	Command
	line string   // "method?query"
	refs []string // names referenced by $result[...]
}

func validCmdName(n string) bool {
	if n == "" || len(n) > 64 {
		return false
	}
	for _, r := range n {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.' || r == ':') {
			return false
		}
	}
	return true
}

func encodeCommands(cmds []Command) ([]encodedCmd, error) {
	seen := make(map[string]bool, len(cmds))
	out := make([]encodedCmd, 0, len(cmds))
	for _, c := range cmds {
		if !validCmdName(c.Name) {
			return nil, fmt.Errorf("bitrix: batch: invalid command name %q", c.Name)
		}
		if seen[c.Name] {
			return nil, fmt.Errorf("bitrix: batch: duplicate command name %q", c.Name)
		}
		seen[c.Name] = true
		if err := validMethod(c.Method); err != nil {
			return nil, err
		}
		if strings.EqualFold(c.Method, "batch") {
			return nil, errors.New("bitrix: batch: nested batch is not allowed")
		}
		q, err := encodeQuery(c.Params)
		if err != nil {
			return nil, fmt.Errorf("bitrix: batch %s: %w", c.Name, err)
		}
		line := c.Method
		if q != "" {
			line += "?" + q
		}
		e := encodedCmd{Command: c, line: line}
		for _, m := range refRE.FindAllStringSubmatch(line, -1) {
			e.refs = append(e.refs, m[1])
		}
		out = append(out, e)
	}
	return out, nil
}

// batchBody writes the request with cmd as an object in the order given:
// commands run in that order, and a Go map would sort them.
func batchBody(cmds []encodedCmd, halt bool) []byte {
	var b bytes.Buffer
	if halt {
		b.WriteString(`{"halt":1,"cmd":{`)
	} else {
		b.WriteString(`{"halt":0,"cmd":{`)
	}
	for i, c := range cmds {
		if i > 0 {
			b.WriteByte(',')
		}
		n, _ := json.Marshal(c.Name)
		l, _ := json.Marshal(c.line)
		b.Write(n)
		b.WriteByte(':')
		b.Write(l)
	}
	b.WriteString(`}}`)
	return b.Bytes()
}

// Batch runs up to 50 named commands in one request. halt stops at the
// first failing command. Per-command results and errors are in the
// BatchResult; the error return is for the request as a whole.
//
// A batch that only reads is repeated after transport errors and 5xx
// answers. A batch with writes is not: only its commands that failed with
// an error proving they did not run (QUERY_LIMIT_EXCEEDED,
// OPERATION_TIME_LIMIT), and the commands a halt skipped after such a
// failure, are sent again, and only those whose $result references point
// at commands sent with them.
func (p *PortalClient) Batch(ctx context.Context, cmds []Command, halt bool) (*BatchResult, *Response, error) {
	if len(cmds) == 0 {
		return newBatchResult(), nil, nil
	}
	if len(cmds) > MaxBatch {
		return nil, nil, fmt.Errorf("bitrix: batch of %d commands, at most %d: use BatchAll", len(cmds), MaxBatch)
	}
	enc, err := encodeCommands(cmds)
	if err != nil {
		return nil, nil, err
	}
	all := newBatchResult()
	for _, e := range enc {
		all.Names = append(all.Names, e.Name)
	}
	pending := enc
	var resp *Response
	for round := 0; ; round++ {
		res, r, err := p.batchOnce(ctx, pending, halt)
		if r != nil {
			resp = r
		}
		if err != nil {
			return all, resp, err
		}
		all.merge(res)
		retry, wait, werr := p.batchRetrySet(ctx, pending, res, halt, round)
		if werr != nil {
			return all, resp, werr
		}
		if len(retry) == 0 || round >= p.c.cfg.MaxLimitRetries {
			return all, resp, nil
		}
		cause := res.Errors[retry[0].Name]
		if err := p.c.sleep(ctx, p.memberID, "batch", wait, "query_limit", errOrNil(cause)); err != nil {
			return all, resp, err
		}
		for _, e := range retry {
			delete(all.Errors, e.Name)
		}
		pending = retry
	}
}

func errOrNil(e *APIError) error {
	if e == nil {
		return nil
	}
	return e
}

// batchRetrySet picks the commands of a finished round that provably did
// not run and can be sent again on their own, pausing methods that hit
// OPERATION_TIME_LIMIT. wait is the backoff before the next round.
func (p *PortalClient) batchRetrySet(ctx context.Context, sent []encodedCmd, res *BatchResult, halt bool, round int) (retry []encodedCmd, wait time.Duration, err error) {
	candidate := make(map[string]bool)
	haltedByNotRun := false
	var queryLimit bool
	for _, e := range sent {
		ae := res.Errors[e.Name]
		_, ok := res.Results[e.Name]
		switch {
		case ae != nil && notRun(ae):
			candidate[e.Name] = true
			haltedByNotRun = true
			if ae.HasCode(CodeOperationTimeLimit) {
				if err := p.c.pauseMethod(ctx, p.memberID, e.Method); err != nil {
					return nil, 0, err
				}
			} else {
				queryLimit = true
			}
		case ae != nil:
			if halt {
				// The halt was caused by a real failure: what follows stays unrun.
				haltedByNotRun = false
			}
		case !ok && halt && haltedByNotRun:
			candidate[e.Name] = true
		}
	}
	// A command whose reference points at a command that already ran would
	// receive the literal reference text: leave it failed.
	changed := true
	for changed {
		changed = false
		for _, e := range sent {
			if !candidate[e.Name] {
				continue
			}
			for _, r := range e.refs {
				if !candidate[r] {
					delete(candidate, e.Name)
					changed = true
					break
				}
			}
		}
	}
	for _, e := range sent {
		if candidate[e.Name] {
			retry = append(retry, e)
		}
	}
	if queryLimit {
		wait = p.c.backoff(round)
	}
	return retry, wait, nil
}

// batchOnce sends one batch request and maps its sections to names.
func (p *PortalClient) batchOnce(ctx context.Context, cmds []encodedCmd, halt bool) (*BatchResult, *Response, error) {
	methods := make([]string, len(cmds))
	plain := make([]Command, len(cmds))
	for i, c := range cmds {
		methods[i], plain[i] = c.Method, c.Command
	}
	rq := &request{method: "batch", params: batchBody(cmds, halt), read: IsReadBatch(plain), methods: methods, commands: len(cmds)}
	resp, _, err := p.do(ctx, rq)
	if err != nil {
		return nil, resp, err
	}
	res, err := parseBatch(resp.Result, cmds)
	if err != nil {
		return nil, resp, err
	}
	// Keep each nested method's operating time (the batch's own is not
	// counted), and what the batch spent of it: the spread of its commands'
	// running sums, one command's share added (batchSpend).
	type spend struct {
		last      Timing
		low, high float64
		n         int
	}
	seen := map[string]*spend{}
	for _, c := range cmds {
		t, ok := res.Times[c.Name]
		if !ok {
			continue
		}
		s := seen[c.Method]
		if s == nil {
			s = &spend{low: t.Operating, high: t.Operating}
			seen[c.Method] = s
		}
		if t.Operating >= s.high {
			s.last = t
		}
		s.low, s.high, s.n = min(s.low, t.Operating), max(s.high, t.Operating), s.n+1
	}
	for m, s := range seen {
		p.c.recordTiming(ctx, p.memberID, m, s.last, batchSpend(s.low, s.high, s.n))
	}
	return res, resp, nil
}

// batchSpend estimates what n commands of one method spent of its
// operating time from the lowest and highest running sums their answers
// reported: the spread covers n−1 of them; 0 when n < 2 tells nothing.
func batchSpend(low, high float64, n int) float64 {
	if n < 2 || high <= low {
		return 0
	}
	return (high - low) * float64(n) / float64(n-1)
}

// decodeSection reads a batch section, which PHP sends as {} when it has
// named entries and as [] when empty (or as a list for unnamed commands).
func decodeSection(raw json.RawMessage) (map[string]json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	switch raw[0] {
	case '{':
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, err
		}
		return m, nil
	case '[':
		var l []json.RawMessage
		if err := json.Unmarshal(raw, &l); err != nil {
			return nil, err
		}
		m := make(map[string]json.RawMessage, len(l))
		for i, v := range l {
			m[strconv.Itoa(i)] = v
		}
		return m, nil
	}
	return nil, fmt.Errorf("unexpected section %.20s", raw)
}

func parseBatch(result json.RawMessage, cmds []encodedCmd) (*BatchResult, error) {
	outer, err := decodeSection(result)
	if err != nil {
		return nil, fmt.Errorf("bitrix: batch answer: %w", err)
	}
	sec := func(k string) (map[string]json.RawMessage, error) {
		m, err := decodeSection(outer[k])
		if err != nil {
			return nil, fmt.Errorf("bitrix: batch answer %s: %w", k, err)
		}
		return m, nil
	}
	res := newBatchResult()
	methodOf := make(map[string]string, len(cmds))
	for _, c := range cmds {
		res.Names = append(res.Names, c.Name)
		methodOf[c.Name] = c.Method
	}
	results, err := sec("result")
	if err != nil {
		return nil, err
	}
	errs, err := sec("result_error")
	if err != nil {
		return nil, err
	}
	totals, err := sec("result_total")
	if err != nil {
		return nil, err
	}
	nexts, err := sec("result_next")
	if err != nil {
		return nil, err
	}
	times, err := sec("result_time")
	if err != nil {
		return nil, err
	}
	for n, v := range results {
		if _, ok := methodOf[n]; ok {
			res.Results[n] = v
		}
	}
	for n, v := range errs {
		if _, ok := methodOf[n]; !ok {
			continue
		}
		var e struct {
			Error            json.RawMessage `json:"error"`
			ErrorDescription json.RawMessage `json:"error_description"`
		}
		ae := &APIError{Status: 200, Method: methodOf[n]}
		if json.Unmarshal(v, &e) == nil {
			ae.Code, ae.Description = rawString(e.Error), rawString(e.ErrorDescription)
		} else {
			ae.Description = rawString(v)
		}
		res.Errors[n] = ae
		delete(res.Results, n)
	}
	for n, v := range totals {
		var t flexInt
		if json.Unmarshal(v, &t) == nil {
			res.Totals[n] = int(t)
		}
	}
	for n, v := range nexts {
		var t flexInt
		_ = json.Unmarshal(v, &t)
		res.Nexts[n] = int(t)
	}
	for n, v := range times {
		var t Timing
		if json.Unmarshal(v, &t) == nil {
			res.Times[n] = t
		}
	}
	return res, nil
}

// BatchAll runs any number of independent commands, 50 per request, without
// halting. Commands may not reference each other. On a request error the
// results gathered so far are returned with it.
func (p *PortalClient) BatchAll(ctx context.Context, cmds []Command) (*BatchResult, error) {
	all := newBatchResult()
	for _, c := range cmds {
		q, err := encodeQuery(c.Params)
		if err != nil {
			return nil, fmt.Errorf("bitrix: batch %s: %w", c.Name, err)
		}
		if refRE.MatchString(q) {
			return nil, fmt.Errorf("bitrix: BatchAll: command %q references another; use Batch", c.Name)
		}
	}
	for start := 0; start < len(cmds); start += MaxBatch {
		chunk := cmds[start:min(start+MaxBatch, len(cmds))]
		res, _, err := p.Batch(ctx, chunk, false)
		if res != nil {
			all.Names = append(all.Names, res.Names...)
			all.merge(res)
		}
		if err != nil {
			return all, err
		}
	}
	return all, nil
}
