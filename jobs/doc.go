// Package jobs is Segmentor's background work on asynq: task types and their
// payloads, the handlers that classify records and write them back, the
// aggregator that merges bursts of CRM events, and the scheduler leader.
package jobs
