package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	"segmentor/app"
	"segmentor/app/segment"
	"segmentor/bitrix"
)

// reread fetches the records of one entity by id, one request for a job's
// up to MaxChange records: the rows (mirror form) and the ids the portal no
// longer has.
func (rd *reader) reread(ctx context.Context, memberID string, e segment.Entity, ids []int64, pr *portalRules) ([]any, []int64, error) {
	var out []any
	var gone []int64
	for chunk := range slices.Chunk(ids, MaxChange) {
		rows, g, err := rd.rereadBatch(ctx, memberID, e, chunk, pr)
		if err != nil {
			return nil, nil, err
		}
		out, gone = append(out, rows...), append(gone, g...)
	}
	return out, gone, nil
}

// rereadBatch is reread's one request for at most MaxChange records. A list
// page holds 50 rows, so the batch has one list command per 50 ids (at most
// MaxChange / 50 = 5), and for deals the first pages of their product rows.
func (rd *reader) rereadBatch(ctx context.Context, memberID string, e segment.Entity, ids []int64, pr *portalRules) ([]any, []int64, error) {
	p := rd.bitrix.Portal(memberID)
	uf := rd.field
	fields := pr.rules.Fields(e)
	var cmds []bitrix.Command
	var names []string
	for chunk := range slices.Chunk(ids, bitrix.PageSize) {
		name := "rows" + strconv.Itoa(len(names))
		names = append(names, name)
		if e == segment.EntityDeal {
			cmds = append(cmds, bitrix.ItemsOf(bitrix.EntityDeal).List(name, dealSelect(uf, fields), map[string]any{"@id": chunk}, -1))
		} else {
			cmds = append(cmds, bitrix.RecordsOf(bitrix.Entity(e)).List(name, clientSelect(typeFieldOf(e), uf, fields), map[string]any{"@ID": chunk}, -1))
		}
	}
	listMethod := cmds[0].Method
	pages := 0
	if e == segment.EntityDeal && pr.rows {
		// Product rows of these deals, a few chained pages over all of
		// them (at most MaxChange ids in the filter, as sync's rowChunk).
		pages = min(rowPages*len(names), bitrix.MaxBatch-len(names))
		rows := bitrix.ProductRows.OfDeals(ids)
		for k := range pages {
			var after any = 0
			if k > 0 {
				after = rows.LastID("pr" + strconv.Itoa(k-1))
			}
			cmds = append(cmds, rows.Page("pr"+strconv.Itoa(k), after, false))
		}
	}
	res, _, err := p.Batch(ctx, cmds, false)
	if err != nil {
		return nil, nil, fmt.Errorf("re-read %s of %s: %w", e, memberID, err)
	}
	key := ""
	if e == segment.EntityDeal {
		key = "items"
	}
	var out []any
	seen := map[int64]bool{}
	var deals []*app.MirrorDeal
	for _, name := range names {
		if err := res.Err(name); err != nil {
			return nil, nil, fmt.Errorf("re-read %s of %s: %w", e, memberID, rd.refused(ctx, p, listMethod, err))
		}
		rows, err := bitrix.PageRows(res.Results[name], key)
		if err != nil {
			return nil, nil, err
		}
		for _, raw := range rows {
			if e == segment.EntityDeal {
				d, err := decodeDeal(raw, uf, fields)
				if err != nil {
					return nil, nil, err
				}
				seen[d.ID] = true
				deals = append(deals, d)
				out = append(out, d)
				continue
			}
			cl, err := decodeClient(raw, typeFieldOf(e), uf, fields)
			if err != nil {
				return nil, nil, err
			}
			seen[cl.ID] = true
			out = append(out, cl)
		}
	}
	if pages > 0 {
		if err := rd.dealSections(ctx, p, memberID, res, pages, ids, deals); err != nil {
			return nil, nil, err
		}
	}
	var gone []int64
	for _, id := range ids {
		if !seen[id] {
			gone = append(gone, id)
		}
	}
	return out, gone, nil
}

// refused turns a command the portal refused for a limit, still refused
// after the client's own rounds, into a *bitrix.RateLimitedError (see
// refusedPage): the job runs again when the limit has passed, not counted
// failed, and is never archived for it with its records' changes.
func (rd *reader) refused(ctx context.Context, p *bitrix.PortalClient, method string, err error) error {
	if bitrix.IsQueryLimit(err) || bitrix.IsOperationLimit(err) {
		return refusedPage(ctx, p, method, err, rd.now())
	}
	return err
}

// rowPages is how many pages of product rows a re-read asks for in its
// batch per 50 deals (four rows a deal); more are read only if the last one
// is full. A re-read of MaxChange deals has 5 list commands and 20 pages, well
// inside a batch's 50 commands.
const rowPages = 4

// dealSections fills the deals' product sections from the re-read's pages
// of product rows, reading further pages and unknown products when needed.
func (rd *reader) dealSections(ctx context.Context, p *bitrix.PortalClient, memberID string, res *bitrix.BatchResult, pages int, ids []int64, deals []*app.MirrorDeal) error {
	products := map[int64][]int64{}
	var cursor int64
	full := false
	list := bitrix.ProductRows.OfDeals(ids)
	for k := range pages {
		name := "pr" + strconv.Itoa(k)
		if err := res.Err(name); err != nil {
			return fmt.Errorf("re-read product rows: %w", rd.refused(ctx, p, list.Method, err))
		}
		rows, err := bitrix.PageRows(res.Results[name], list.RowsKey)
		if err != nil {
			return err
		}
		if err := addRows(rows, products, &cursor); err != nil {
			return err
		}
		full = len(rows) == bitrix.PageSize
		if !full {
			break
		}
	}
	if full {
		_, err := p.Scan(ctx, bitrix.ScanOptions{List: list, After: bitrix.ID(cursor)}, func(pg *bitrix.ScanPage) error {
			return addRows(pg.Rows, products, &cursor)
		})
		if err != nil {
			return err
		}
	}
	var all []int64
	for _, ps := range products {
		for _, pid := range ps {
			if !slices.Contains(all, pid) {
				all = append(all, pid)
			}
		}
	}
	sections, err := rd.mirror.ProductSections(ctx, memberID, all)
	if err != nil {
		return err
	}
	var unknown []int64
	for _, pid := range all {
		if _, ok := sections[pid]; !ok {
			unknown = append(unknown, pid)
		}
	}
	if len(unknown) > 0 {
		dir, err := rd.store.Directory(ctx, memberID)
		if err != nil {
			return err
		}
		add, err := productSource{catalogs: dir.ProductCatalogs()}.lookup(ctx, p, unknown)
		if err != nil {
			return err
		}
		for id, s := range add {
			sections[id] = s
		}
		if err := rd.mirror.SetProductSections(ctx, memberID, add); err != nil {
			return err
		}
	}
	for _, d := range deals {
		d.Sections = sectionsOf(products[d.ID], sections)
	}
	return nil
}

func addRows(rows []json.RawMessage, products map[int64][]int64, cursor *int64) error {
	for _, r := range rows {
		var pr struct {
			ID      bitrix.ID `json:"id"`
			Owner   bitrix.ID `json:"ownerId"`
			Product bitrix.ID `json:"productId"`
		}
		if err := json.Unmarshal(r, &pr); err != nil {
			return err
		}
		products[int64(pr.Owner)] = append(products[int64(pr.Owner)], int64(pr.Product))
		*cursor = max(*cursor, int64(pr.ID))
	}
	return nil
}
