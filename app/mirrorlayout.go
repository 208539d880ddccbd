package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/bsm/redislock"
	"github.com/redis/go-redis/v9"

	"segmentor/app/segment"
	"segmentor/internal/lease"
)

// A portal's mirror says in m:layout which layout its rows and index are
// in. Layout 1 (no m:layout, written before it existed) kept each entity's
// rows as JSON in one hash (m:deal, m:contact, m:company) and each
// client's deals in a set (m:x:<entity>:<id>); layout 2 is mirror.go's.
// The first access to a portal's mirror converts an older one, under a
// lock every process waits on, and then remembers it in the process.
//
// The conversion is safe to interrupt and to run again: each thousand rows
// are written in the new layout and deleted from the old in one
// transaction, so every row is in one layout or the other; m:layout says
// "1" from the first move on, so a run that stopped after the last row
// still rebuilds the index; the index is rebuilt whole from the deal rows,
// the old sets deleted, and only then does m:layout say "2". Nothing it
// moves is logged as a change: the rows read the same.
const mirrorLayout = 2

// layoutLockTTL bounds how long a crashed conversion holds up its portal;
// the converter renews the lock while it works.
const layoutLockTTL = 30 * time.Second

func (m *Mirror) layoutKey(memberID string) string { return portalKey(memberID, "m:layout") }

// layoutOf is the layout version of a portal's mirror: 0 for none yet (a
// mirror never written, or written before versions were kept).
func (m *Mirror) layoutOf(ctx context.Context, memberID string) (int, error) {
	v, err := m.rdb.Get(ctx, m.layoutKey(memberID)).Int()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("mirror %s: layout: %w", memberID, err)
	}
	return v, nil
}

// ready makes sure the portal's mirror is in the current layout before a
// read or write of its rows or index, converting it if not.
func (m *Mirror) ready(ctx context.Context, memberID string) error {
	if _, ok := m.current.Load(memberID); ok {
		return nil
	}
	v, err := m.layoutOf(ctx, memberID)
	if err != nil {
		return err
	}
	if v != mirrorLayout {
		if err := m.upgrade(ctx, memberID); err != nil {
			return err
		}
	}
	m.current.Store(memberID, true)
	return nil
}

// upgrade converts the portal's mirror to the current layout, if it is in
// an older one, holding the portal's layout lock (and waiting for it while
// another process converts).
func (m *Mirror) upgrade(ctx context.Context, memberID string) error {
	wctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	lock, err := redislock.Obtain(wctx, m.rdb, portalKey(memberID, "m:layout-lock"), layoutLockTTL,
		&redislock.Options{RetryStrategy: redislock.LinearBackoff(100 * time.Millisecond)})
	if err != nil {
		return fmt.Errorf("mirror %s: wait for the layout lock: %w", memberID, err)
	}
	stop := lease.Keep(ctx, layoutLockTTL/3, func(ctx context.Context) error {
		return lock.Refresh(ctx, layoutLockTTL, nil)
	}, nil)
	defer func() {
		stop()
		_ = lock.Release(context.WithoutCancel(ctx))
	}()
	v, err := m.layoutOf(ctx, memberID)
	switch {
	case err != nil || v == mirrorLayout:
		return err // or converted while we waited
	case v > mirrorLayout:
		return fmt.Errorf("mirror %s is in layout %d, newer than this build's %d: run the newer build", memberID, v, mirrorLayout)
	case v == 0:
		old, err := m.rdb.Exists(ctx, m.oldRows(memberID, segment.EntityDeal), m.oldRows(memberID, segment.EntityContact),
			m.oldRows(memberID, segment.EntityCompany)).Result()
		if err != nil {
			return fmt.Errorf("mirror %s: layout: %w", memberID, err)
		}
		if old == 0 { // nothing written before versions: nothing to convert
			return m.rdb.Set(ctx, m.layoutKey(memberID), mirrorLayout, 0).Err()
		}
		if err := m.rdb.Set(ctx, m.layoutKey(memberID), 1, 0).Err(); err != nil {
			return fmt.Errorf("mirror %s: layout: %w", memberID, err)
		}
	}
	if err := m.upgradeFrom1(ctx, memberID); err != nil {
		return fmt.Errorf("mirror %s: convert to layout %d: %w", memberID, mirrorLayout, err)
	}
	return m.rdb.Set(ctx, m.layoutKey(memberID), mirrorLayout, 0).Err()
}

// oldRows is layout 1's hash of an entity's JSON rows.
func (m *Mirror) oldRows(memberID string, e segment.Entity) string {
	return portalKey(memberID, "m:"+string(e))
}

// oldIndex is layout 1's set of a client's deal ids.
func (m *Mirror) oldIndex(memberID string, c ClientRef) string {
	return portalKey(memberID, "m:x:"+string(c.Entity)+":"+id64(c.ID))
}

func (m *Mirror) upgradeFrom1(ctx context.Context, memberID string) error {
	clients := map[ClientRef]bool{} // whose old set may exist
	for _, e := range []segment.Entity{segment.EntityContact, segment.EntityCompany, segment.EntityDeal} {
		err := m.moveRows(ctx, memberID, e, func(id int64, js []byte) (string, string, error) {
			if e != segment.EntityDeal {
				c := &MirrorClient{}
				if err := json.Unmarshal(js, c); err != nil {
					return "", "", err
				}
				clients[ClientRef{e, id}] = true
				return encodeClient(c), c.Title, nil
			}
			d := &MirrorDeal{}
			if err := json.Unmarshal(js, d); err != nil {
				return "", "", err
			}
			return encodeDeal(d), d.Title, nil
		})
		if err != nil {
			return err
		}
	}
	// The index, whole, from the deal rows: the old sets are no surer,
	// and a run that stopped midway left part of it.
	index := map[ClientRef][]int64{}
	err := m.each(ctx, memberID, segment.EntityDeal, scanParts{}, func(r record) error {
		d := &MirrorDeal{ID: r.id}
		if err := decodeDeal(r.row, d); err != nil {
			return err
		}
		for _, c := range d.Clients() {
			if !slices.Contains(index[c], d.ID) {
				index[c] = append(index[c], d.ID)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	refs := slices.SortedFunc(maps.Keys(index), compareRefs)
	for chunk := range slices.Chunk(refs, 1000) {
		_, err := m.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			for _, c := range chunk {
				ids := index[c]
				slices.Sort(ids)
				p.Del(ctx, m.indexSet(memberID, c))
				p.HSet(ctx, m.indexBucket(memberID, c), id64(c.ID), m.packEntry(ctx, p, memberID, c, ids))
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("index: %w", err)
		}
	}
	for c := range index {
		clients[c] = true
	}
	for chunk := range slices.Chunk(slices.SortedFunc(maps.Keys(clients), compareRefs), 1000) {
		keys := make([]string, len(chunk))
		for i, c := range chunk {
			keys[i] = m.oldIndex(memberID, c)
		}
		if err := m.rdb.Del(ctx, keys...).Err(); err != nil {
			return fmt.Errorf("old index: %w", err)
		}
	}
	return nil
}

// moveRows converts an entity's rows from layout 1, a thousand per
// transaction that writes them anew and deletes them from the old hash.
func (m *Mirror) moveRows(ctx context.Context, memberID string, e segment.Entity, convert func(id int64, js []byte) (row, title string, err error)) error {
	old := m.oldRows(memberID, e)
	var cursor uint64
	for {
		kv, next, err := m.rdb.HScan(ctx, old, cursor, "*", 1000).Result()
		if err != nil {
			return fmt.Errorf("scan %s: %w", e, err)
		}
		n := len(kv) / 2
		ids, rows, titles, fields := make([]int64, n), make([]string, n), make([]string, n), make([]string, n)
		for i := range n {
			fields[i] = kv[2*i]
			if ids[i], err = strconv.ParseInt(fields[i], 10, 64); err != nil {
				return fmt.Errorf("%s %q: %w", e, fields[i], err)
			}
			if rows[i], titles[i], err = convert(ids[i], []byte(kv[2*i+1])); err != nil {
				return fmt.Errorf("%s %d: %w", e, ids[i], err)
			}
		}
		if n > 0 {
			_, err = m.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
				m.writeRows(ctx, p, memberID, e, ids, rows, titles)
				p.HDel(ctx, old, fields...)
				return nil
			})
			if err != nil {
				return fmt.Errorf("move %s: %w", e, err)
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}
