package jobs

import (
	"context"

	"segmentor/app"
	"segmentor/engine"
)

// Recorder is the ChangeSink used until classification runs: it keeps
// every merged batch in the portal's store so the path from a Bitrix24
// event to a job can be checked and measured end to end.
type Recorder struct{ Store *app.Store }

// Apply records c as the task carried it.
func (r Recorder) Apply(ctx context.Context, c engine.Change) error {
	return r.Store.RecordReceived(ctx, c.MemberID, CRMChangesPayload{MemberID: c.MemberID, Entity: c.Entity, IDs: c.IDs, Deleted: c.Deleted})
}
