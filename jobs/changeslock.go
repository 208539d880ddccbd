package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"segmentor/internal/keyspace"
	"segmentor/internal/lease"

	"github.com/bsm/redislock"
	"github.com/redis/go-redis/v9"
)

// changesLockTTL bounds how long a crashed worker's lock holds up its
// portal's next changes task; the holder refreshes it while it works.
const changesLockTTL = 10 * time.Second

func changesLockKey(memberID string) string { return keyspace.ChangesLock(memberID) }

// lockChanges runs a portal's changes tasks one at a time, across every
// worker process: tasks of one portal reach the same records (a deal's
// client, the client's other deals), and two of them planning from the
// mirror at once would both write the same change. It waits for the task
// holding the lock; the returned func releases it.
func lockChanges(ctx context.Context, rdb redis.UniversalClient, memberID string) (func(), error) {
	return lockChangesWithin(ctx, rdb, memberID, time.Minute)
}

// errChangesBusy: the portal's changes lock stayed held for the whole wait.
var errChangesBusy = errors.New("the portal's changes lock is held")

// changesLockWait is how long a changes job waits for its portal's lock
// before it is given back for changesBusyWait (plus up to as much again):
// a portal's jobs mostly take well under a second.
const (
	changesLockWait = time.Second
	changesBusyWait = time.Second
)

// lockChangesWithin is lockChanges waiting at most wait; errChangesBusy
// when the lock stayed held.
func lockChangesWithin(ctx context.Context, rdb redis.UniversalClient, memberID string, wait time.Duration) (func(), error) {
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	lock, err := redislock.Obtain(wctx, rdb, changesLockKey(memberID), changesLockTTL,
		&redislock.Options{RetryStrategy: redislock.LinearBackoff(50 * time.Millisecond)})
	if errors.Is(err, redislock.ErrNotObtained) || (errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil) {
		return nil, fmt.Errorf("portal %s: %w", memberID, errChangesBusy)
	}
	if err != nil {
		return nil, fmt.Errorf("wait for the changes lock of portal %s: %w", memberID, err)
	}
	stop := lease.Keep(ctx, changesLockTTL/3, func(ctx context.Context) error {
		return lock.Refresh(ctx, changesLockTTL, nil)
	}, func(error) bool { return true }) // lost: another job may hold it now
	return func() {
		stop()
		_ = lock.Release(context.WithoutCancel(ctx))
	}, nil
}

// ChangesLock is lockChanges for the engine (engine.Classifier.Exclusive):
// a backfill holds it around each write batch, so no live change of its
// portal lands between its check and its write. It waits up to
// exclusiveWait: a live change that writes may wait out a method's
// operating-time pause while it holds the lock.
//
// While it waits, the lock is marked wanted (changesWanted), and a changes
// job that finds the mark gives its turn back without trying: the
// backfill takes the lock when its holder lets go, and live changes run
// in the gaps between its batches. Without the mark the backfill drew for
// the lock against every queued changes job at once; at 1,000,000 deals
// the echo of its own writes kept 31 jobs drawing, and it wrote a batch
// every few tens of seconds.
func ChangesLock(rdb redis.UniversalClient) func(ctx context.Context, memberID string) (func(), error) {
	return func(ctx context.Context, memberID string) (func(), error) {
		stop := markWanted(ctx, rdb, memberID)
		defer stop()
		return lockChangesWithin(ctx, rdb, memberID, exclusiveWait)
	}
}

// changesWantedTTL bounds a mark a dead waiter left behind; a waiter
// renews it while it waits.
const changesWantedTTL = 5 * time.Second

// markWanted marks memberID's changes lock wanted until the returned func
// is called.
func markWanted(ctx context.Context, rdb redis.UniversalClient, memberID string) func() {
	key := keyspace.ChangesLockWanted(memberID)
	_ = rdb.Set(ctx, key, "1", changesWantedTTL).Err()
	stop := lease.Keep(ctx, changesWantedTTL/3, func(ctx context.Context) error {
		return rdb.Expire(ctx, key, changesWantedTTL).Err()
	}, func(error) bool { return false })
	return func() {
		stop()
		_ = rdb.Del(context.WithoutCancel(ctx), key).Err()
	}
}

// changesWanted reports whether a job that goes first waits for
// memberID's changes lock.
func changesWanted(ctx context.Context, rdb redis.UniversalClient, memberID string) bool {
	n, err := rdb.Exists(ctx, keyspace.ChangesLockWanted(memberID)).Result()
	return err == nil && n > 0
}

// lockChangesLive is the changes job's lock: errChangesBusy at once while
// a job that goes first waits for it (ChangesLock), else lockChangesWithin
// for changesLockWait.
func lockChangesLive(ctx context.Context, rdb redis.UniversalClient, memberID string) (func(), error) {
	if changesWanted(ctx, rdb, memberID) {
		return nil, fmt.Errorf("portal %s: %w", memberID, errChangesBusy)
	}
	return lockChangesWithin(ctx, rdb, memberID, changesLockWait)
}

// exclusiveWait bounds a backfill's wait for its portal's changes lock.
// Bitrix24 counts a method's operating time over 10 minutes, so a method
// it paused resumes within them; a backfill that gave up sooner failed
// where it only had to wait (a 1,000,000-deal backfill did, after a
// minute, while the echo of its own writes rewrote deals).
const exclusiveWait = 11 * time.Minute
