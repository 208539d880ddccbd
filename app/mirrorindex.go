package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/redis/go-redis/v9"

	"segmentor/app/segment"
)

// The client → deals index answers "all deals of a client" without a scan.
// A client's deal ids are packed (packDealIDs) into one field of a bucket
// hash, m:ix:<entity>:<id/rowBucket>, a few bytes a deal, so the index of a
// hundred thousand deals is a few hundred listpacks instead of one set per
// client. A client whose list outgrows a listpack value keeps its deals in
// a set of its own, m:xs:<entity>:<id>, and an empty field in its bucket
// says so; it stays there until it has no deal left.

// indexLink adds (or removes) a deal to (from) a client's list.
type indexLink struct {
	client ClientRef
	deal   int64
	add    bool
}

func (m *Mirror) indexBucket(memberID string, c ClientRef) string {
	return portalKey(memberID, "m:ix:"+string(c.Entity)+":"+strconv.FormatInt(c.ID/rowBucket, 10))
}

func (m *Mirror) indexSet(memberID string, c ClientRef) string {
	return portalKey(memberID, "m:xs:"+string(c.Entity)+":"+id64(c.ID))
}

// relink reads, on tx, the index entries links change (watching them, so
// the transaction fails if another writer changes one first) and returns
// the writes that apply the links, to be queued in tx's transaction.
func (m *Mirror) relink(ctx context.Context, tx *redis.Tx, memberID string, links []indexLink) (func(redis.Pipeliner), error) {
	if len(links) == 0 {
		return func(redis.Pipeliner) {}, nil
	}
	var keys []string // the buckets, in the order first met
	inBucket := map[string][]ClientRef{}
	seen := map[ClientRef]bool{}
	for _, l := range links {
		if seen[l.client] {
			continue
		}
		seen[l.client] = true
		k := m.indexBucket(memberID, l.client)
		if inBucket[k] == nil {
			keys = append(keys, k)
		}
		inBucket[k] = append(inBucket[k], l.client)
	}
	cmds := make([]*redis.SliceCmd, len(keys))
	if _, err := tx.Pipelined(ctx, func(p redis.Pipeliner) error {
		// The buckets only, and before they are read, in the same round
		// trip: a client's set changes member by member, which commutes,
		// and only after its bucket said so. (WATCH costs the keys it
		// already watches per key: few keys.)
		watch := make([]any, 0, 1+len(keys))
		watch = append(watch, "watch")
		for _, k := range keys {
			watch = append(watch, k)
		}
		p.Do(ctx, watch...)
		for i, k := range keys {
			fields := make([]string, len(inBucket[k]))
			for j, c := range inBucket[k] {
				fields[j] = id64(c.ID)
			}
			cmds[i] = p.HMGet(ctx, k, fields...)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	type entry struct {
		big       bool // the deals are in the client's set
		ids       []int64
		add, drop []any // a big entry's changes
		changed   bool
	}
	entries := make(map[ClientRef]*entry, len(seen))
	for i, k := range keys {
		for j, c := range inBucket[k] {
			e := &entry{}
			entries[c] = e
			v, ok := cmds[i].Val()[j].(string)
			switch {
			case !ok:
			case v == "":
				e.big = true
			default:
				var err error
				if e.ids, err = unpackDealIDs(v); err != nil {
					return nil, fmt.Errorf("%s %d: %w", c.Entity, c.ID, err)
				}
			}
		}
	}
	for _, l := range links {
		e := entries[l.client]
		if e.big {
			if l.add {
				e.add = append(e.add, l.deal)
			} else {
				e.drop = append(e.drop, l.deal)
			}
			continue
		}
		i, found := slices.BinarySearch(e.ids, l.deal)
		switch {
		case l.add && !found:
			e.ids, e.changed = slices.Insert(e.ids, i, l.deal), true
		case !l.add && found:
			e.ids, e.changed = slices.Delete(e.ids, i, i+1), true
		}
	}
	return func(p redis.Pipeliner) {
		for _, k := range keys {
			var set []any
			var del []string
			for _, c := range inBucket[k] {
				e := entries[c]
				switch {
				case e.big:
					if len(e.drop) > 0 {
						p.SRem(ctx, m.indexSet(memberID, c), e.drop...)
					}
					if len(e.add) > 0 {
						p.SAdd(ctx, m.indexSet(memberID, c), e.add...)
					}
				case !e.changed:
				case len(e.ids) == 0:
					del = append(del, id64(c.ID))
				default:
					set = append(set, id64(c.ID), m.packEntry(ctx, p, memberID, c, e.ids))
				}
			}
			if len(del) > 0 {
				p.HDel(ctx, k, del...)
			}
			if len(set) > 0 {
				p.HSet(ctx, k, set...)
			}
		}
	}, nil
}

// packEntry is a client's index entry for its whole list of deals: the
// list packed, or, when too long for a listpack value, "" and the list
// queued into its set.
func (m *Mirror) packEntry(ctx context.Context, p redis.Pipeliner, memberID string, c ClientRef, ids []int64) string {
	if s := packDealIDs(ids); len(s) <= listpackValue {
		return s
	}
	set := m.indexSet(memberID, c)
	members := make([]any, len(ids))
	for i, id := range ids {
		members[i] = id
	}
	p.Del(ctx, set)
	p.SAdd(ctx, set, members...)
	return ""
}

// unindex queues the removal of clients' index entries.
func (m *Mirror) unindex(ctx context.Context, p redis.Pipeliner, memberID string, e segment.Entity, ids []int64) {
	for _, id := range ids {
		c := ClientRef{e, id}
		p.HDel(ctx, m.indexBucket(memberID, c), id64(id))
		p.Del(ctx, m.indexSet(memberID, c))
	}
}

// dealsOf reads the index: the deal ids of each client, ascending.
func (m *Mirror) dealsOf(ctx context.Context, memberID string, clients []ClientRef) (map[ClientRef][]int64, error) {
	cmds := make([]*redis.StringCmd, len(clients))
	_, err := m.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, c := range clients {
			cmds[i] = p.HGet(ctx, m.indexBucket(memberID, c), id64(c.ID))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("mirror %s: client deals: %w", memberID, err)
	}
	out := make(map[ClientRef][]int64, len(clients))
	var big []ClientRef
	for i, c := range clients {
		v, err := cmds[i].Result()
		switch {
		case err != nil:
			continue
		case v == "":
			big = append(big, c)
		default:
			if out[c], err = unpackDealIDs(v); err != nil {
				return nil, fmt.Errorf("mirror %s: %s %d: %w", memberID, c.Entity, c.ID, err)
			}
		}
	}
	if len(big) == 0 {
		return out, nil
	}
	sets := make([]*redis.StringSliceCmd, len(big))
	if _, err := m.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, c := range big {
			sets[i] = p.SMembers(ctx, m.indexSet(memberID, c))
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("mirror %s: client deals: %w", memberID, err)
	}
	for i, c := range big {
		ids := make([]int64, 0, len(sets[i].Val()))
		for _, s := range sets[i].Val() {
			ids = append(ids, parseID(s))
		}
		slices.Sort(ids)
		out[c] = ids
	}
	return out, nil
}
