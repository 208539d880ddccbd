package bitrix

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strconv"
)

// ListCommand is a list method to read in full, by offset: the reference
// lists (crm.status.list, crm.category.list, crm.currency.list, user
// fields, catalogs) whose rows have no id to scan by, or are few. Every
// list method answers at most 50 rows a call with total and next
// (settings/how-to-call-rest-api/list-methods-pecularities.md); a read that
// stops at the first page loses the rest.
type ListCommand struct {
	Name    string
	Method  string
	Params  map[string]any // besides start
	RowsKey string         // rows under this key of the result ("categories"); "" when the result is the list
}

// Pages are the rows each ListCommand read, by name, in the order the
// portal gave them.
type Pages map[string][]json.RawMessage

// Decode decodes the rows of one command into out, a pointer to a slice.
func (pg Pages) Decode(name string, out any) error {
	rows := pg[name]
	if rows == nil {
		rows = []json.RawMessage{}
	}
	b, err := json.Marshal(rows)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("bitrix: %s rows: %w", name, err)
	}
	return nil
}

// FirstPage is the command that reads cmd's first page, with its count.
func (cmd ListCommand) FirstPage() Command {
	params := maps.Clone(cmd.Params)
	if params == nil {
		params = map[string]any{}
	}
	params["start"] = 0
	return Command{Name: cmd.Name, Method: cmd.Method, Params: params}
}

// ListAll reads every page of each command: the first pages in one batch
// (with any extra commands, whose answers are returned in the result),
// then every further page the counts call for, by start offset, 50 to a
// batch. Reading a few short lists costs one request.
func (p *PortalClient) ListAll(ctx context.Context, cmds []ListCommand, extra ...Command) (Pages, *BatchResult, error) {
	first := append([]Command(nil), extra...)
	for _, c := range cmds {
		first = append(first, c.FirstPage())
	}
	res, err := p.BatchAll(ctx, first)
	if err != nil {
		return nil, res, err
	}
	pages, err := p.MorePages(ctx, res, cmds)
	return pages, res, err
}

// MorePages completes lists whose first pages (ListCommand.FirstPage) came
// in res: it reads the pages their totals say are left and returns every
// row of each.
func (p *PortalClient) MorePages(ctx context.Context, res *BatchResult, cmds []ListCommand) (Pages, error) {
	out := Pages{}
	var more []Command
	owner := map[string]ListCommand{}
	for _, c := range cmds {
		if err := res.Err(c.Name); err != nil {
			return nil, fmt.Errorf("bitrix: %s: %w", c.Method, err)
		}
		rows, err := PageRows(res.Results[c.Name], c.RowsKey)
		if err != nil {
			return nil, fmt.Errorf("bitrix: %s: %w", c.Method, err)
		}
		out[c.Name] = rows
		for start := PageSize; start < res.Totals[c.Name]; start += PageSize {
			params := maps.Clone(c.Params)
			if params == nil {
				params = map[string]any{}
			}
			params["start"] = start
			name := c.Name + ".from" + strconv.Itoa(start)
			owner[name] = c
			more = append(more, Command{Name: name, Method: c.Method, Params: params})
		}
	}
	if len(more) == 0 {
		return out, nil
	}
	mres, err := p.BatchAll(ctx, more)
	if err != nil {
		return nil, err
	}
	for _, m := range more {
		c := owner[m.Name]
		if err := mres.Err(m.Name); err != nil {
			return nil, fmt.Errorf("bitrix: %s from %v: %w", c.Method, m.Params.(map[string]any)["start"], err)
		}
		rows, err := PageRows(mres.Results[m.Name], c.RowsKey)
		if err != nil {
			return nil, fmt.Errorf("bitrix: %s: %w", c.Method, err)
		}
		out[c.Name] = append(out[c.Name], rows...)
	}
	return out, nil
}
