package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/bsm/redislock"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"segmentor/app"
	"segmentor/bitrix"
	"segmentor/internal/keyspace"
	"segmentor/internal/lease"
)

// Periodic task types. Each fans out over the portals when it runs.
const (
	TypeNightly   = "schedule:nightly"   // recompute every portal, so time-based segments stay true; spread over the night (nightly.go)
	TypeReconcile = "schedule:reconcile" // re-queue records modified since the last scan (lost events)
	TypeKeepAlive = "schedule:keepalive" // renews the refresh token of a portal idle for weeks, before it can expire
	TypeSnapshot  = "schedule:snapshot"  // keeps the day's segment figures of every portal (history.go)
)

// DefaultReconcileEvery is how often every portal is scanned for records
// modified since its last scan, to catch events lost on the way. A quiet
// portal's scan costs one request (Worker.Reconcile): 1,000 portals every
// 5 minutes is about 3 requests a second in all, each portal's own budget
// paying one request per 5 minutes.
const DefaultReconcileEvery = 5 * time.Minute

// Schedule is when the periodic tasks run (cron, UTC); the reconciliation
// runs every reconcileEvery (DefaultReconcileEvery when 0).
func Schedule(reconcileEvery time.Duration) map[string]string {
	if reconcileEvery <= 0 {
		reconcileEvery = DefaultReconcileEvery
	}
	return map[string]string{
		TypeNightly:   "0 3 * * *",
		TypeReconcile: "@every " + reconcileEvery.String(),
		TypeKeepAlive: "30 4 * * *",
		TypeSnapshot:  "50 23 * * *",
		TypePurge:     "45 * * * *",
	}
}

// KeepAliveAge is how old a portal's refresh token may grow before the
// keep-alive renews it. Tokens are renewed when a call needs it (an
// expired_token answer, or an expiry minutes away), so a portal in use never
// reaches this age; an idle one does. The docs give a refresh token 180
// days (settings/oauth/auto-renewal.md, which also warns against renewing
// on a schedule); older docs said 28, so an idle portal is renewed once in
// 20 days, at most.
const KeepAliveAge = 20 * 24 * time.Hour

const leaderKey = keyspace.SchedulerLeader

// SchedulerLock is the Redis key of the scheduler's leader lock: whoever
// holds it schedules the periodic tasks.
const SchedulerLock = leaderKey

// RunScheduler schedules the periodic tasks from exactly one process: it
// holds a Redis lock while it schedules and hands over when it stops or
// loses the lock, so any number of workers may call it. It returns when ctx
// ends.
func RunScheduler(ctx context.Context, rdb redis.UniversalClient, log *slog.Logger, ttl time.Duration, schedule map[string]string, onLeader func(bool)) error {
	if schedule == nil {
		schedule = Schedule(0)
	}
	if ttl <= 0 {
		ttl = 30 * time.Second
	}
	locker := redislock.New(rdb)
	for {
		lock, err := locker.Obtain(ctx, leaderKey, ttl, nil)
		switch {
		case err == nil:
			if onLeader != nil {
				onLeader(true)
			}
			lead(ctx, rdb, lock, log, ttl, schedule)
			if onLeader != nil {
				onLeader(false)
			}
			_ = lock.Release(context.Background())
		case errors.Is(err, redislock.ErrNotObtained):
		default:
			log.Warn("scheduler leader lock", "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(ttl / 3):
		}
	}
}

// lead runs the asynq scheduler while the lock is refreshed in time.
func lead(ctx context.Context, rdb redis.UniversalClient, lock *redislock.Lock, log *slog.Logger, ttl time.Duration, schedule map[string]string) {
	s := asynq.NewSchedulerFromRedisClient(rdb, &asynq.SchedulerOpts{Location: time.UTC, Logger: quietAsynq{}})
	for typ, spec := range schedule {
		if _, err := s.Register(spec, asynq.NewTask(typ, nil), asynq.Queue(QueueLow), asynq.MaxRetry(3), asynq.Timeout(30*time.Minute)); err != nil {
			log.Error("register periodic task", "type", typ, "error", err)
			return
		}
	}
	if err := s.Start(); err != nil {
		log.Error("start scheduler", "error", err)
		return
	}
	defer s.Shutdown()
	log.Info("this process schedules the periodic tasks")
	lost := make(chan struct{})
	stop := lease.Keep(ctx, ttl/3, func(ctx context.Context) error { return lock.Refresh(ctx, ttl, nil) }, func(err error) bool {
		log.Warn("scheduler lost the leader lock; another process takes over", "error", err)
		close(lost)
		return true
	})
	defer stop()
	select {
	case <-ctx.Done():
	case <-lost:
	}
}

type quietAsynq struct{}

func (quietAsynq) Debug(...any) {}
func (quietAsynq) Info(...any)  {}
func (quietAsynq) Warn(...any)  {}
func (quietAsynq) Error(...any) {}
func (quietAsynq) Fatal(...any) {}

// activePortals lists the portals periodic work applies to.
func (w *Worker) activePortals(ctx context.Context) ([]*app.Portal, error) {
	ids, err := w.Store.Portals(ctx)
	if err != nil {
		return nil, err
	}
	var out []*app.Portal
	for _, id := range ids {
		p, err := w.Store.Portal(ctx, id)
		if err != nil {
			continue
		}
		if p.State == app.StateActive {
			out = append(out, p)
		}
	}
	return out, nil
}

// nightlyRegistry re-reads the companies' tax IDs of a portal with
// registry lookups on, and looks up those due: a requisite's event lost,
// or an answer grown old. A failure is logged: the lookups are an aside.
func (w *Worker) nightlyRegistry(ctx context.Context, memberID string) {
	if w.Registry == nil || w.Queue == nil {
		return
	}
	rs, err := w.Store.RegistrySettings(ctx, memberID)
	if err == nil && rs.Enabled {
		err = w.Queue.LookUpCompanies(ctx, memberID, true)
	}
	if err != nil {
		w.Log.Warn("nightly registry lookups", "portal", memberID, "error", err)
	}
}

func (w *Worker) handleKeepAlive(ctx context.Context, _ *asynq.Task) error {
	portals, err := w.activePortals(ctx)
	if err != nil {
		return err
	}
	for _, p := range portals {
		tok, err := w.Store.Load(ctx, p.MemberID)
		if err != nil {
			w.Log.Warn("keep-alive", "portal", p.MemberID, "error", err)
			continue
		}
		if !tok.IssuedAt.IsZero() && w.now().Sub(tok.IssuedAt) < KeepAliveAge {
			continue // renewed recently: the portal is in use
		}
		// This portal has been idle for weeks, so its access token has long
		// expired: the call renews the pair, and app.info keeps the plan
		// (the request budget) current.
		info, err := w.Bitrix.Portal(p.MemberID).Info(ctx)
		if err != nil {
			w.Log.Warn("keep-alive", "portal", p.MemberID, "error", err)
			continue
		}
		if info.LicenseFamily != "" && info.LicenseFamily != p.License {
			_, _ = w.Store.UpdatePortal(ctx, p.MemberID, func(pp *app.Portal, _ bool) error {
				pp.License = info.LicenseFamily
				return nil
			})
		}
	}
	return nil
}

// reconcileOverlap re-scans a little before the last scan, so a change
// saved while the previous scan ran is not missed.
const reconcileOverlap = 5 * time.Minute

func reconcileKey(memberID string) string { return keyspace.Reconciled(memberID) }

// handleReconcile re-queues every record modified since the last scan:
// Bitrix24 never redelivers an event that was lost while we were down. It
// reads only IDs, 2,500 per request, and the queue's per-record dedupe
// makes records already waiting cost nothing.
func (w *Worker) handleReconcile(ctx context.Context, _ *asynq.Task) error {
	portals, err := w.activePortals(ctx)
	if err != nil {
		return err
	}
	for _, p := range portals {
		if err := w.Reconcile(ctx, p.MemberID); err != nil {
			w.Log.Warn("reconcile", "portal", p.MemberID, "error", err)
		}
		w.kickActions(ctx, p.MemberID) // actions a lost kick left waiting
	}
	return nil
}

// Reconcile scans one portal for records modified since its last scan and
// queues them. One request reads the first page of every entity, so a
// quiet portal's scan costs one request; an entity with a full page is
// scanned on from there.
func (w *Worker) Reconcile(ctx context.Context, memberID string) error {
	start := w.now().UTC()
	since := start.Add(-24 * time.Hour) // first scan: the last day
	if s, err := w.Redis.Get(ctx, reconcileKey(memberID)).Result(); err == nil {
		if t, err := time.Parse(time.RFC3339, s); err == nil {
			since = t.Add(-reconcileOverlap)
		}
	}
	b := w.Bitrix.Portal(memberID)
	filter := map[string]any{">=DATE_MODIFY": since.Format(time.RFC3339)}
	// The timeline's activities too: the engagement facts read them.
	scanned := append(entities[:len(entities):len(entities)], "activity")
	lists := make([]bitrix.Lister, len(scanned))
	cmds := make([]bitrix.Command, len(scanned))
	for i, e := range scanned {
		lists[i] = bitrix.RecordsOf(bitrix.Entity(e)).Lister([]string{"ID"}, filter)
		if e == "activity" {
			lists[i] = bitrix.Activities.ModifiedSince(since)
		}
		cmds[i] = lists[i].Page(e, int64(0), false)
	}
	res, _, err := b.Batch(ctx, cmds, true)
	if err != nil {
		return fmt.Errorf("scan records modified since %s: %w", since.Format(time.RFC3339), wrapReauth(err))
	}
	for i, e := range scanned {
		var after bitrix.ID
		if res.Err(e) == nil { // a page refused for a limit is read by the scan below
			rows, err := bitrix.PageRows(res.Results[e], lists[i].RowsKey)
			if err != nil {
				return fmt.Errorf("scan %s: %w", e, err)
			}
			if after, err = w.queueModified(ctx, memberID, e, rows); err != nil || len(rows) < bitrix.PageSize {
				if err != nil {
					return err
				}
				continue // the whole of it
			}
		}
		_, err := b.Scan(ctx, bitrix.ScanOptions{List: lists[i], After: after}, func(page *bitrix.ScanPage) error {
			_, err := w.queueModified(ctx, memberID, e, page.Rows)
			return err
		})
		if err != nil {
			return fmt.Errorf("scan %s modified since %s: %w", e, since.Format(time.RFC3339), wrapReauth(err))
		}
	}
	return w.Redis.Set(ctx, reconcileKey(memberID), start.Format(time.RFC3339), 0).Err()
}

// queueModified queues the records of a page of ids and returns the last.
func (w *Worker) queueModified(ctx context.Context, memberID, entity string, rows []json.RawMessage) (bitrix.ID, error) {
	var last bitrix.ID
	for _, r := range rows {
		id, err := bitrix.RowID(r, "ID")
		if err != nil {
			return 0, fmt.Errorf("scan %s: %w", entity, err)
		}
		if _, err := w.Queue.Change(ctx, CRMEventPayload{MemberID: memberID, Entity: entity, ID: int64(id), Seq: w.now().UnixNano()}); err != nil {
			return 0, err
		}
		last = id
	}
	return last, nil
}
