package app

import (
	"context"
	"encoding/json"
	"fmt"
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
