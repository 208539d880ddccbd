package app

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"segmentor/app/segment"
	"segmentor/bitrix"
)

// Reference data of a portal (types, pipelines and stages, currencies,
// fields, the Segment field), cached at setup so that pickers and
// validation cost no REST request. Each part is the raw JSON result of the
// REST method that produced it.
type Reference map[string]json.RawMessage

// SetReference replaces the cached reference parts given.
func (s *Store) SetReference(ctx context.Context, memberID string, parts Reference) error {
	if len(parts) == 0 {
		return nil
	}
	vals := make([]any, 0, 2*len(parts))
	for k, v := range parts {
		vals = append(vals, k, []byte(v))
	}
	if err := s.rdb.HSet(ctx, portalKey(memberID, "reference"), vals...).Err(); err != nil {
		return fmt.Errorf("save reference data of %s: %w", memberID, err)
	}
	return nil
}

// Reference returns the cached reference data (empty before setup).
func (s *Store) Reference(ctx context.Context, memberID string) (Reference, error) {
	m, err := s.rdb.HGetAll(ctx, portalKey(memberID, "reference")).Result()
	if err != nil {
		return nil, fmt.Errorf("load reference data of %s: %w", memberID, err)
	}
	ref := make(Reference, len(m))
	for k, v := range m {
		ref[k] = json.RawMessage(v)
	}
	return ref, nil
}

// Pipelines returns the portal's deal pipelines with their stages in order,
// from the cached crm.category.list and crm.status.list results (empty
// before setup). It is the one reading of pipelines for the API, the
// validator and the classifier.
func (r Reference) Pipelines() []segment.Pipeline {
	var cats struct {
		Categories []struct {
			ID   bitrix.ID `json:"id"`
			Name string    `json:"name"`
		} `json:"categories"`
	}
	_ = json.Unmarshal(r["categories"], &cats) // absent before setup: no pipelines
	var statuses []struct {
		EntityID string    `json:"ENTITY_ID"`
		StatusID string    `json:"STATUS_ID"`
		Name     string    `json:"NAME"`
		Sort     bitrix.ID `json:"SORT"`
	}
	_ = json.Unmarshal(r["statuses"], &statuses)
	sort.SliceStable(statuses, func(i, j int) bool { return statuses[i].Sort < statuses[j].Sort })
	out := []segment.Pipeline{}
	for _, cat := range cats.Categories {
		p := segment.Pipeline{ID: int(cat.ID), Name: cat.Name}
		list := "DEAL_STAGE"
		if cat.ID != 0 {
			list += "_" + cat.ID.String()
		}
		for _, s := range statuses {
			if s.EntityID == list {
				p.Stages = append(p.Stages, segment.Status{ID: s.StatusID, Name: s.Name})
			}
		}
		out = append(out, p)
	}
	return out
}

// ReferenceLists are the reference lists cached at setup, each read in
// full: a portal has about 80 statuses (more with many pipelines), and
// crm.status.list answers 50 a page.
func ReferenceLists() []bitrix.ListCommand {
	return []bitrix.ListCommand{
		{Name: "statuses", Method: "crm.status.list", Params: map[string]any{"order": map[string]string{"SORT": "ASC"}}},
		{Name: "categories", Method: "crm.category.list", Params: map[string]any{"entityTypeId": 2}, RowsKey: "categories"},
		{Name: "currencies", Method: "crm.currency.list"},
	}
}

// catalogList reads the portal's trade catalogs (scope catalog, admins).
var catalogList = bitrix.ListCommand{Name: "catalogs", Method: "catalog.catalog.list", RowsKey: "catalogs"}

// FetchReference reads a portal's reference data in full: every page of the
// status, pipeline and currency lists, the trade catalogs where the portal
// has them, and each entity's field descriptions and Segment field
// (fieldName). Two requests for a usual portal.
func FetchReference(ctx context.Context, p *bitrix.Portal, entities []string, fieldName string) (Reference, error) {
	lists := append(ReferenceLists(), catalogList)
	var extra []bitrix.Command
	for _, e := range entities {
		extra = append(extra,
			bitrix.Command{Name: "fields_" + e, Method: "crm." + e + ".fields"},
			bitrix.Command{Name: "segment_field_" + e, Method: "crm." + e + ".userfield.list",
				Params: map[string]any{"filter": map[string]any{"FIELD_NAME": fieldName}}})
	}
	first := append([]bitrix.Command(nil), extra...)
	for _, l := range lists {
		first = append(first, l.FirstPage())
	}
	res, err := p.BatchAll(ctx, first)
	if err != nil {
		return nil, fmt.Errorf("read reference data: %w", err)
	}
	parts := Reference{}
	for _, c := range extra {
		if err := res.Err(c.Name); err != nil {
			return nil, fmt.Errorf("read reference data: %s: %w", c.Name, err)
		}
		parts[c.Name] = res.Results[c.Name]
	}
	if err := res.Err(catalogList.Name); err != nil {
		if !NoCatalog(err) {
			return nil, fmt.Errorf("read reference data: %s: %w", catalogList.Name, err)
		}
		// No catalog module, or no catalog scope: products come from
		// crm.product.list, the fallback the docs keep.
		lists = lists[:len(lists)-1]
		parts[catalogList.Name] = json.RawMessage("[]")
	}
	pages, err := p.MorePages(ctx, res, lists)
	if err != nil {
		return nil, fmt.Errorf("read reference data: %w", err)
	}
	for _, l := range lists {
		rows, err := json.Marshal(nonNil(pages[l.Name]))
		if err != nil {
			return nil, err
		}
		if l.Name == "categories" {
			rows, _ = json.Marshal(map[string]json.RawMessage{"categories": rows}) // as crm.category.list answers
		}
		parts[l.Name] = rows
	}
	return parts, nil
}

// FetchStatuses reads every page of crm.status.list, as the cached
// "statuses" part holds it.
func FetchStatuses(ctx context.Context, p *bitrix.Portal) (json.RawMessage, error) {
	pages, _, err := p.ListAll(ctx, ReferenceLists()[:1])
	if err != nil {
		return nil, err
	}
	return json.Marshal(nonNil(pages["statuses"]))
}

// NoCatalog reports whether err says the portal has no trade catalog the
// app may read: the module is absent (no such method), or the app's token
// lacks the catalog scope or the right to it.
func NoCatalog(err error) bool {
	return bitrix.IsNotFound(err) || bitrix.IsAccessDenied(err)
}

func nonNil(rows []json.RawMessage) []json.RawMessage {
	if rows == nil {
		return []json.RawMessage{}
	}
	return rows
}

// ProductCatalogs returns the information blocks of the portal's product
// catalogs (not their offers catalogs), from the cached
// catalog.catalog.list; none when the portal has no trade catalog.
func (r Reference) ProductCatalogs() []int {
	var cats []struct {
		IblockID        bitrix.ID  `json:"iblockId"`
		ProductIblockID *bitrix.ID `json:"productIblockId"`
	}
	_ = json.Unmarshal(r["catalogs"], &cats) // absent before setup: none
	var out []int
	for _, c := range cats {
		if c.IblockID > 0 && (c.ProductIblockID == nil || *c.ProductIblockID == 0) {
			out = append(out, int(c.IblockID))
		}
	}
	return out
}
