package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"segmentor/bitrix"
)

// chain is one keyset scan inside packScan: pages of 50 rows in ID order,
// each page's filter referring to the previous page's last id.
type chain struct {
	name          string
	list          bitrix.Lister
	cursor        int64
	est           int  // rows still expected; <0 unknown until the first page reports its total
	greedy        bool // takes the slots the others leave in a request
	rows          bool // a sync's product-row chain (sync.go)
	started, done bool
	retries       int
	page          func(rows []json.RawMessage) error
	end           func()
}

func (c *chain) pages() int {
	switch {
	case c.est < 0:
		return 1
	case c.est == 0:
		return 1 // confirm the end
	}
	return (c.est + bitrix.PageSize - 1) / bitrix.PageSize
}

// packScan runs several keyset scans at once, filling every batch with up
// to 50 pages from whichever chains still have rows: a chain gets as many
// pages as its expected rows need (its first page asks for the total), a
// greedy chain takes what is left. bitrix.Portal.Scan chains one list per
// request; packing lets a sync of many short lists cost what their rows
// need rather than one request per list.
type packScan struct {
	p        *bitrix.PortalClient
	chains   []*chain
	extra    []bitrix.Command          // single commands sent with the first request
	extraOut func(*bitrix.BatchResult) // is given the first request's answers, extra commands included
	requests int
	rows     int                   // rows read so far
	progress func(done, total int) // called after each request
	after    func() error          // called after each request's pages are taken
	now      func() time.Time
}

// maxPageRefusals is how many times in a row a chain's page may be refused
// for a limit inside a batch before the scan gives its worker back.
const maxPageRefusals = 5

// Waits before a job runs again after a page kept being refused: a
// QUERY_LIMIT_EXCEEDED outlasting the client's own backoff, or an
// OPERATION_TIME_LIMIT whose pause the portal did not say.
const (
	queryLimitRetry = 15 * time.Second
	operatingRetry  = time.Minute
)

// refusedPage turns a page the portal kept refusing for a limit into a
// *bitrix.RateLimitedError, so the job is run again once the limit has
// passed (not failed and retried on the generic backoff); the refusal
// stays reachable through it.
func refusedPage(ctx context.Context, p *bitrix.PortalClient, method string, err error, now time.Time) error {
	rl := &bitrix.RateLimitedError{MemberID: p.MemberID(), Method: method, Reason: "query_limit", RetryIn: queryLimitRetry, Err: err}
	if bitrix.IsOperationLimit(err) {
		rl.Reason, rl.RetryIn = "operating", operatingRetry
		if b, berr := p.MethodBudget(ctx, method); berr == nil {
			if d := b.PausedUntil.Sub(now); d > 0 {
				rl.RetryIn = d
			}
		}
	}
	return rl
}

type slot struct {
	c     *chain
	name  string
	first bool
}

func (ps *packScan) run(ctx context.Context) error {
	for {
		cmds, slots, active := ps.plan()
		if active == 0 {
			return nil
		}
		if len(slots) == 0 {
			return fmt.Errorf("scan: no slot for %d chains", active)
		}
		ps.extra = nil
		res, _, err := ps.p.Batch(ctx, cmds, false)
		ps.requests++
		if err != nil {
			return err
		}
		for _, c := range cmds[:len(cmds)-len(slots)] {
			if err := res.Err(c.Name); err != nil {
				return fmt.Errorf("%s: %w", c.Name, err)
			}
		}
		if len(slots) < len(cmds) && ps.extraOut != nil {
			ps.extraOut(res)
		}
		if err := ps.take(ctx, res, slots); err != nil {
			return err
		}
		if ps.after != nil {
			if err := ps.after(); err != nil {
				return err
			}
		}
		if ps.progress != nil {
			total := ps.rows
			for _, c := range ps.chains {
				if !c.done && c.est > 0 {
					total += c.est
				}
			}
			ps.progress(ps.rows, total)
		}
	}
}

// plan fills the next request: the extra commands, then each unfinished
// chain's pages (as many as its expected rows need), then the greedy
// chains' in the slots left. active counts the unfinished chains.
func (ps *packScan) plan() (cmds []bitrix.Command, slots []slot, active int) {
	cmds = append(cmds, ps.extra...)
	free := bitrix.MaxBatch - len(cmds)
	add := func(c *chain, n int) {
		prev := ""
		for k := 0; k < n && free > 0; k++ {
			name := fmt.Sprintf("%s_%d", c.name, k)
			var after any = c.cursor
			if prev != "" {
				after = c.list.LastID(prev)
			}
			first := !c.started && k == 0 && c.est < 0 // the first page counts the rows
			cmds = append(cmds, c.list.Page(name, after, first))
			slots = append(slots, slot{c, name, first})
			prev = name
			free--
		}
	}
	var greedy []*chain
	for _, c := range ps.chains {
		if c.done {
			continue
		}
		active++
		if c.greedy && c.est < 0 {
			greedy = append(greedy, c)
			continue
		}
		add(c, c.pages())
	}
	for _, c := range greedy {
		add(c, free)
	}
	return cmds, slots, active
}

// take hands each answered page to its chain, in order; a chain's pages
// after a short or refused one are dropped (the next request asks again).
func (ps *packScan) take(ctx context.Context, res *bitrix.BatchResult, slots []slot) error {
	stopped := map[*chain]bool{}
	for _, s := range slots {
		c := s.c
		if c.done || stopped[c] {
			continue // past the end of its chain, or after a refused page
		}
		if err := res.Err(s.name); err != nil {
			if !bitrix.IsQueryLimit(err) && !bitrix.IsOperationLimit(err) {
				return fmt.Errorf("scan %s after %d: %w", c.list.Method, c.cursor, err)
			}
			if c.retries >= maxPageRefusals {
				return fmt.Errorf("scan %s after %d: %w", c.list.Method, c.cursor, refusedPage(ctx, ps.p, c.list.Method, err, ps.now()))
			}
			c.retries++
			stopped[c] = true
			continue
		}
		rows, err := bitrix.PageRows(res.Results[s.name], c.list.RowsKey)
		if err != nil {
			return fmt.Errorf("scan %s: %w", c.list.Method, err)
		}
		c.started, c.retries = true, 0
		if s.first {
			c.est = res.Totals[s.name]
		}
		if err := c.take(rows); err != nil {
			return err
		}
		ps.rows += len(rows)
	}
	return nil
}

// take processes one page of the chain's rows and moves its cursor; a short
// page ends the chain.
func (c *chain) take(rows []json.RawMessage) error {
	if len(rows) > 0 {
		lastID, err := bitrix.RowID(rows[len(rows)-1], c.list.IDField)
		if err != nil {
			return fmt.Errorf("scan %s: %w", c.list.Method, err)
		}
		if int64(lastID) <= c.cursor {
			return fmt.Errorf("scan %s: %w", c.list.Method, bitrix.ErrStalledCursor)
		}
		if err := c.page(rows); err != nil {
			return err
		}
		c.cursor = int64(lastID)
		c.est = max(c.est-len(rows), 0)
	}
	if len(rows) < bitrix.PageSize {
		c.done = true
		if c.end != nil {
			c.end()
		}
	}
	return nil
}
