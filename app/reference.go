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
