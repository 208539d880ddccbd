package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	"segmentor/bitrix"
)

// productSource says where a portal's products and their catalog sections are
// read: catalog.product.list in each product catalog where the portal has
// the trade catalog (api-reference/catalog/product/catalog-product-list.md),
// else crm.product.list, the outdated method the docs keep serving
// (api-reference/crm/outdated/products/crm-product-list.md).
type productSource struct {
	catalogs []int // information blocks of the product catalogs; none: crm.product.list
}

// productRow is one product as either method answers it.
type productRow struct {
	ID      bitrix.ID `json:"ID"`
	Section bitrix.ID `json:"SECTION_ID"`
	// catalog.product.list
	CID      bitrix.ID `json:"id"`
	CSection bitrix.ID `json:"iblockSectionId"`
}

func (r productRow) idSection() (int64, int) {
	if r.CID != 0 {
		return int64(r.CID), int(r.CSection)
	}
	return int64(r.ID), int(r.Section)
}

// addSections decodes product rows into sections (product → section).
func addSections(rows []json.RawMessage, sections map[int64]int) error {
	for _, raw := range rows {
		var r productRow
		if err := json.Unmarshal(raw, &r); err != nil {
			return err
		}
		id, sec := r.idSection()
		sections[id] = sec
	}
	return nil
}

// chains are the keyset scans of every product, for a full sync.
func (s productSource) chains(sections map[int64]int) []*chain {
	page := func(rows []json.RawMessage) error { return addSections(rows, sections) }
	if len(s.catalogs) == 0 {
		return []*chain{{name: "pr", list: bitrix.Products.Lister(), est: -1, page: page}}
	}
	var out []*chain
	for i, block := range s.catalogs {
		out = append(out, &chain{name: "pc" + strconv.Itoa(i), list: bitrix.Catalog.Products(block), est: -1, page: page})
	}
	return out
}

// lookup reads the sections of the products given: one list command per 50
// ids (and per catalog), all in one request for up to 50 commands. A
// product no catalog has (deleted since) gets section 0, so it is not
// looked up again.
func (s productSource) lookup(ctx context.Context, p *bitrix.PortalClient, ids []int64) (map[int64]int, error) {
	var cmds []bitrix.Command
	keys := map[string]string{} // command → where its rows are
	for chunk := range slices.Chunk(ids, bitrix.PageSize) {
		if len(s.catalogs) == 0 {
			cmds = append(cmds, bitrix.Products.ByID("p"+strconv.Itoa(len(cmds)), chunk))
			continue
		}
		for _, block := range s.catalogs {
			name := "p" + strconv.Itoa(len(cmds))
			cmds = append(cmds, bitrix.Catalog.ProductsByID(name, block, chunk))
			keys[name] = bitrix.Catalog.Products(block).RowsKey
		}
	}
	res, err := p.BatchAll(ctx, cmds)
	if err != nil {
		return nil, fmt.Errorf("read products: %w", err)
	}
	out := make(map[int64]int, len(ids))
	for _, id := range ids {
		out[id] = 0
	}
	for _, c := range cmds {
		if err := res.Err(c.Name); err != nil {
			return nil, fmt.Errorf("read products: %s: %w", c.Method, err)
		}
		rows, err := bitrix.PageRows(res.Results[c.Name], keys[c.Name])
		if err != nil {
			return nil, err
		}
		if err := addSections(rows, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}
