package bitrix

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// PageSize is the fixed page size of Bitrix24 list methods.
const PageSize = 50

// ScanOptions selects what Scan reads: a List from the services
// (RecordsOf(e).Lister, ItemsOf(e).Lister, ProductRows.OfDeals, ...), or
// the older form naming a Method with its Select, Filter and Params.
type ScanOptions struct {
	List Lister
	// Method is the list method: crm.deal.list, crm.contact.list,
	// crm.company.list, crm.item.list or crm.item.productrow.list. Other
	// methods that accept a ">ID" filter with start=-1 work with IDField and
	// RowsKey set. Ignored when List is set.
	Method       string
	EntityTypeID int            // required by crm.item.list
	Select       []string       // passed through; the id field is added if missing
	Filter       map[string]any // passed through; must not filter on >ID itself
	Params       map[string]any // other parameters, e.g. useOriginalUfNames
	// After is the cursor: the last ID already processed. Zero starts at
	// the beginning; pass a saved cursor to resume.
	After ID
	// PagesPerRequest is how many 50-row pages are chained into one batch
	// request, 1 to 50. Default 50 (about 2,500 rows per request).
	PagesPerRequest int
	// IDField and RowsKey override the method's defaults: "ID" and rows as
	// the result itself for the v2 lists, "id" and rows under "items" or
	// "productRows" for crm.item.*.
	IDField string
	RowsKey string
}

// lister is the keyset list the options describe.
func (opts ScanOptions) lister() Lister {
	if opts.List.Method != "" {
		l := opts.List
		l.Params = maps.Clone(l.Params)
		return l
	}
	ks, ok := keysets[strings.ToLower(opts.Method)]
	if !ok {
		ks = keyset{"ID", ""}
	}
	l := Lister{Method: opts.Method, Params: maps.Clone(opts.Params), Filter: opts.Filter, IDField: ks.idField, RowsKey: ks.rowsKey}
	if opts.IDField != "" {
		l.IDField = opts.IDField
	}
	if opts.RowsKey != "" {
		l.RowsKey = opts.RowsKey
	}
	if l.Params == nil {
		l.Params = map[string]any{}
	}
	if opts.EntityTypeID != 0 {
		l.Params["entityTypeId"] = opts.EntityTypeID
	}
	if len(opts.Select) > 0 {
		l.Params["select"] = append([]string(nil), opts.Select...)
	}
	return l
}

// ScanPage is one page of rows, in ascending ID order.
type ScanPage struct {
	Rows    []json.RawMessage
	FirstID ID
	LastID  ID // the cursor once this page is processed
	Request int
}

// DecodeRows decodes a page's rows into values of type T.
func DecodeRows[T any](p *ScanPage) ([]T, error) {
	out := make([]T, len(p.Rows))
	for i, r := range p.Rows {
		if err := json.Unmarshal(r, &out[i]); err != nil {
			return nil, fmt.Errorf("bitrix: row %d: %w", i, err)
		}
	}
	return out, nil
}

type keyset struct {
	idField, rowsKey string
}

var keysets = map[string]keyset{
	"crm.deal.list":            {"ID", ""},
	"crm.contact.list":         {"ID", ""},
	"crm.company.list":         {"ID", ""},
	"crm.lead.list":            {"ID", ""},
	"crm.item.list":            {"id", "items"},
	"crm.item.productrow.list": {"id", "productRows"},
}

// Scan streams every record of a list method in ascending ID order, calling
// fn once per page. It uses the keyset form Bitrix24 recommends for large
// tables (order by ID, filter >ID, start=-1: no counting) and chains
// PagesPerRequest pages in one batch, each page's filter referring to the
// previous page's last ID ($result[p00][49][ID]). Memory stays at one
// request's rows.
//
// Scan returns the cursor: the last ID whose page fn accepted. When fn
// returns an error, or a request fails, Scan stops and returns the cursor
// with the error; passing it as After resumes without gaps or repeats. A
// short page ends the scan; chained commands after it, whose references
// point past the end, are ignored. A page that does not move the cursor
// forward stops the scan with ErrStalledCursor.
func (p *PortalClient) Scan(ctx context.Context, opts ScanOptions, fn func(*ScanPage) error) (ID, error) {
	l, n, err := opts.prepare()
	if err != nil {
		return opts.After, err
	}
	opts.Method = l.Method

	cursor := opts.After
	limitRetries := 0
	for req := 1; ; req++ {
		cmds := make([]Command, n)
		for k := range cmds {
			var after any = int64(cursor)
			if k > 0 {
				after = l.LastID(pageName(k - 1))
			}
			cmds[k] = l.Page(pageName(k), after, false)
		}
		res, _, err := p.Batch(ctx, cmds, true)
		if err != nil {
			return cursor, fmt.Errorf("bitrix: scan %s after %d: %w", opts.Method, cursor, err)
		}
		for k := range cmds {
			name := cmds[k].Name
			if err := res.Err(name); err != nil {
				if err := p.scanRefused(ctx, opts.Method, cursor, err, &limitRetries); err != nil {
					return cursor, err
				}
				break
			}
			rows, err := PageRows(res.Results[name], l.RowsKey)
			if err != nil {
				return cursor, fmt.Errorf("bitrix: scan %s page after %d: %w", opts.Method, cursor, err)
			}
			if len(rows) == 0 {
				return cursor, nil
			}
			first, err1 := RowID(rows[0], l.IDField)
			last, err2 := RowID(rows[len(rows)-1], l.IDField)
			if err1 != nil || err2 != nil {
				return cursor, fmt.Errorf("bitrix: scan %s: rows without %s", opts.Method, l.IDField)
			}
			if first <= cursor || last < first {
				return cursor, fmt.Errorf("bitrix: scan %s: page %d..%d after cursor %d: %w", opts.Method, first, last, cursor, ErrStalledCursor)
			}
			if err := fn(&ScanPage{Rows: rows, FirstID: first, LastID: last, Request: req}); err != nil {
				return cursor, err
			}
			cursor = last
			limitRetries = 0
			if len(rows) < PageSize {
				return cursor, nil
			}
		}
	}
}

// prepare checks the options and returns the lister and how many pages to
// ask for per request; the lister's select gains the id field if needed.
func (opts ScanOptions) prepare() (Lister, int, error) {
	l := opts.lister()
	n := opts.PagesPerRequest
	if n <= 0 {
		n = MaxBatch
	}
	if n > MaxBatch {
		return l, 0, fmt.Errorf("bitrix: scan: PagesPerRequest %d > %d", n, MaxBatch)
	}
	gt := ">" + l.IDField
	for k := range l.Filter {
		if strings.EqualFold(strings.TrimSpace(k), gt) {
			return l, 0, fmt.Errorf("bitrix: scan: filter must not contain %q; use After", k)
		}
	}
	if sel, ok := l.Params["select"].([]string); ok && len(sel) > 0 {
		if !slices.ContainsFunc(sel, func(s string) bool { return s == "*" || strings.EqualFold(s, l.IDField) }) {
			l.Params["select"] = append(slices.Clone(sel), l.IDField)
		}
	}
	return l, n, nil
}

// scanRefused handles a page the portal refused. A refusal before it ran
// (a query or operating limit) is retried from the cursor by the next
// request, after a back-off for QUERY_LIMIT_EXCEEDED (Batch already paused
// the method for OPERATION_TIME_LIMIT); past the retries, it is a
// RateLimitedError and the caller resumes from cursor later. Any other
// error ends the scan.
func (p *PortalClient) scanRefused(ctx context.Context, method string, cursor ID, err error, limitRetries *int) error {
	if !notRun(err) {
		return fmt.Errorf("bitrix: scan %s after %d: %w", method, cursor, err)
	}
	if *limitRetries >= p.c.cfg.MaxLimitRetries {
		rl := &RateLimitedError{MemberID: p.memberID, Method: method, RetryIn: p.c.backoff(*limitRetries),
			Reason: "query_limit", Err: err}
		if IsOperationLimit(err) {
			// Batch paused the method: the pause is the wait.
			d, _, _, derr := p.c.methodDelay(ctx, p.memberID, []string{method})
			if derr != nil {
				return errors.Join(err, derr)
			}
			rl.Reason, rl.RetryIn = "operating", max(d, rl.RetryIn)
		}
		return fmt.Errorf("bitrix: scan %s after %d: %w", method, cursor, rl)
	}
	*limitRetries++
	if IsQueryLimit(err) {
		return p.c.sleep(ctx, p.memberID, method, p.c.backoff(*limitRetries-1), "query_limit", err)
	}
	return nil
}

// pageName names chained pages p00..p49, so that sorting the names (as a
// decoder into a map might) keeps the order the chain needs.
func pageName(k int) string { return fmt.Sprintf("p%02d", k) }

// PageRows are the rows of a list result: the result itself, or the list
// under rowsKey ("items", "productRows"); PHP's empty object ([]) and an
// index-keyed object count as lists.
func PageRows(result json.RawMessage, rowsKey string) ([]json.RawMessage, error) {
	result = bytes.TrimSpace(result)
	if rowsKey != "" {
		if len(result) > 0 && result[0] == '[' {
			// PHP's empty object.
			var l []json.RawMessage
			if err := json.Unmarshal(result, &l); err != nil || len(l) > 0 {
				return nil, fmt.Errorf("rows: expected an object with %q", rowsKey)
			}
			return nil, nil
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(result, &obj); err != nil {
			return nil, fmt.Errorf("rows: %w", err)
		}
		result = bytes.TrimSpace(obj[rowsKey])
	}
	if len(result) == 0 || string(result) == "null" {
		return nil, nil
	}
	if result[0] == '{' {
		// A list sent as an object keyed by index.
		m, err := decodeSection(result)
		if err != nil {
			return nil, err
		}
		if len(m) == 0 {
			return nil, nil
		}
		return nil, fmt.Errorf("rows: expected a list")
	}
	var rows []json.RawMessage
	if err := json.Unmarshal(result, &rows); err != nil {
		return nil, fmt.Errorf("rows: %w", err)
	}
	return rows, nil
}

// RowID reads a row's id field (a number or a string).
func RowID(row json.RawMessage, field string) (ID, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(row, &m); err != nil {
		return 0, err
	}
	v, ok := m[field]
	if !ok {
		return 0, fmt.Errorf("no %s", field)
	}
	var id ID
	if err := id.UnmarshalJSON(v); err != nil {
		return 0, err
	}
	return id, nil
}
