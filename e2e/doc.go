// Package e2e proves, with the real binary, real Redis and real HTTP against
// the simulated portal (bitrix/b24sim), that Segmentor loses nothing: several
// processes share one portal's budget without QUERY_LIMIT_EXCEEDED and
// without writing a record twice for the same change, a worker killed with
// SIGKILL mid-backfill or mid-event is replaced and nothing is lost, queued
// work survives a Redis restart (AOF), and after portal faults and lost
// events the reconciliation leaves every record right.
//
// The package has only tests. Under CI=true a missing REDIS_URL or
// redis-server fails them; elsewhere they skip.
package e2e
