package bitrix

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
)

// PageSize is the fixed page size of Bitrix24 list methods.
const PageSize = 50

// ScanOptions selects what Scan reads.
type ScanOptions struct {
	// Method is the list method: crm.deal.list, crm.contact.list,
	// crm.company.list, crm.item.list or crm.item.productrow.list. Other
	// methods that accept a ">ID" filter with start=-1 work with IDField and
	// RowsKey set.
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
func (p *Portal) Scan(ctx context.Context, opts ScanOptions, fn func(*ScanPage) error) (ID, error) {
	ks, ok := keysets[strings.ToLower(opts.Method)]
	if !ok {
		ks = keyset{"ID", ""}
	}
	if opts.IDField != "" {
		ks.idField = opts.IDField
	}
	if opts.RowsKey != "" {
		ks.rowsKey = opts.RowsKey
	}
	n := opts.PagesPerRequest
	if n <= 0 {
		n = MaxBatch
	}
	if n > MaxBatch {
		return opts.After, fmt.Errorf("bitrix: scan: PagesPerRequest %d > %d", n, MaxBatch)
	}
	gt := ">" + ks.idField
	for k := range opts.Filter {
		if strings.EqualFold(strings.TrimSpace(k), gt) {
			return opts.After, fmt.Errorf("bitrix: scan: filter must not contain %q; use After", k)
		}
	}
	base := maps.Clone(opts.Params)
	if base == nil {
		base = map[string]any{}
	}
	if opts.EntityTypeID != 0 {
		base["entityTypeId"] = opts.EntityTypeID
	}
	if len(opts.Select) > 0 {
		sel := append([]string(nil), opts.Select...)
		has := false
		for _, s := range sel {
			if s == "*" || strings.EqualFold(s, ks.idField) {
				has = true
			}
		}
		if !has {
			sel = append(sel, ks.idField)
		}
		base["select"] = sel
	}
	base["order"] = map[string]string{ks.idField: "ASC"}
	base["start"] = -1

	cursor := opts.After
	limitRetries := 0
	for req := 1; ; req++ {
		cmds := make([]Command, n)
		for k := range cmds {
			filter := maps.Clone(opts.Filter)
			if filter == nil {
				filter = map[string]any{}
			}
			if k == 0 {
				filter[gt] = int64(cursor)
			} else {
				ref := "$result[" + pageName(k-1) + "]"
				if ks.rowsKey != "" {
					ref += "[" + ks.rowsKey + "]"
				}
				filter[gt] = ref + "[" + strconv.Itoa(PageSize-1) + "][" + ks.idField + "]"
			}
			params := maps.Clone(base)
			params["filter"] = filter
			cmds[k] = Command{Name: pageName(k), Method: opts.Method, Params: params}
		}
		res, _, err := p.Batch(ctx, cmds, true)
		if err != nil {
			return cursor, fmt.Errorf("bitrix: scan %s after %d: %w", opts.Method, cursor, err)
		}
		for k := range cmds {
			name := cmds[k].Name
			if err := res.Err(name); err != nil {
				if !notRun(err) {
					return cursor, fmt.Errorf("bitrix: scan %s after %d: %w", opts.Method, cursor, err)
				}
				if limitRetries >= p.c.cfg.MaxLimitRetries {
					// Refused past the retries: the caller resumes from
					// cursor after the next backoff step.
					rl := &RateLimitedError{MemberID: p.memberID, Method: opts.Method, RetryIn: p.c.backoff(limitRetries),
						Reason: "query_limit", Err: err}
					if IsOperationLimit(err) {
						// Batch paused the method: the pause is the wait.
						d, _, _, derr := p.c.methodDelay(ctx, p.memberID, []string{opts.Method})
						if derr != nil {
							return cursor, errors.Join(err, derr)
						}
						rl.Reason, rl.RetryIn = "operating", max(d, rl.RetryIn)
					}
					return cursor, fmt.Errorf("bitrix: scan %s after %d: %w", opts.Method, cursor, rl)
				}
				// Refused before running: the next request restarts here.
				// Batch already paused the method for OPERATION_TIME_LIMIT.
				limitRetries++
				if IsQueryLimit(err) {
					if err := p.c.sleep(ctx, p.memberID, opts.Method, p.c.backoff(limitRetries-1), "query_limit", err); err != nil {
						return cursor, err
					}
				}
				break
			}
			rows, err := pageRows(res.Results[name], ks.rowsKey)
			if err != nil {
				return cursor, fmt.Errorf("bitrix: scan %s page after %d: %w", opts.Method, cursor, err)
			}
			if len(rows) == 0 {
				return cursor, nil
			}
			first, err1 := rowID(rows[0], ks.idField)
			last, err2 := rowID(rows[len(rows)-1], ks.idField)
			if err1 != nil || err2 != nil {
				return cursor, fmt.Errorf("bitrix: scan %s: rows without %s", opts.Method, ks.idField)
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

// pageName names chained pages p00..p49, so that sorting the names (as a
// decoder into a map might) keeps the order the chain needs.
func pageName(k int) string { return fmt.Sprintf("p%02d", k) }

func pageRows(result json.RawMessage, rowsKey string) ([]json.RawMessage, error) {
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

func rowID(row json.RawMessage, field string) (ID, error) {
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
