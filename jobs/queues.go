package jobs

// Queue names and their weights. Live events outrank backfills, so a large
// portal's backfill never starves another portal's edits.
const (
	QueueCritical = "critical" // install/setup, uninstall
	QueueEvents   = "events"   // live CRM changes
	QueueLow      = "low"      // backfills, scheduled recomputes, reconciliation
)

// Queues is the weighted queue map for asynq.Config.Queues.
func Queues() map[string]int {
	return map[string]int{QueueCritical: 6, QueueEvents: 3, QueueLow: 1}
}
