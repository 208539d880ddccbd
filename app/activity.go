package app

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/redis/go-redis/v9"

	"segmentor/app/segment"
)

// The mirror keeps every contact's, company's and deal's activities (the
// calls, e-mails, meetings and tasks of crm.activity.list) for the
// engagement facts, compactly: per record, one packed list of what the
// facts read — id, start, type, direction, done — about ten bytes an
// activity. Layout, under the portal's hash tag:
//
//	m:a:contact, m:a:company, m:a:deal   hash record id → packed list (encodeActivities)
//	m:a:ix:<id/100>                      hash activity id → its record (ownerCode)
//
// The lists are kept apart from the records' rows: the rows are rewritten
// whenever a record changes, the lists whenever an activity does, and
// neither write carries the other. Every load of rows (Deals, Clients,
// EachDeal, EachClient) brings the lists with them. A change of a list is
// logged as a change of its record, so readers that keep the mirror in
// memory re-read it.
//
// The index says which record holds an activity: a delete event carries
// only the activity's id, and an update may move it to another record.
// Its hashes of at most 100 small integers each stay in Redis's compact
// listpack encoding.

// Activity is one activity as the mirror keeps it: the record whose
// timeline holds it, and what the engagement facts read.
type Activity struct {
	ID    int64
	Owner ActivityOwner
	segment.Activity
}

// ActivityOwner is the contact, company or deal an activity belongs to.
type ActivityOwner struct {
	Entity segment.Entity
	ID     int64
}

func (m *Mirror) activityRows(memberID string, e segment.Entity) string {
	return portalKey(memberID, "m:a:"+string(e))
}

// activityBucket is how many activity ids share an index hash: few enough
// for Redis's listpack encoding (hash-max-listpack-entries, 128 by default).
const activityBucket = 100

func (m *Mirror) activityIndex(memberID string, id int64) string {
	return portalKey(memberID, "m:a:ix:"+strconv.FormatInt(id/activityBucket, 10))
}

var ownerEntities = []segment.Entity{segment.EntityContact, segment.EntityCompany, segment.EntityDeal}

// ownerCode packs an owner into one integer for the index.
func ownerCode(o ActivityOwner) int64 {
	return o.ID*4 + int64(slices.Index(ownerEntities, o.Entity)+1)
}

func ownerOf(code int64) (ActivityOwner, bool) {
	k := int(code % 4)
	if k < 1 || code <= 0 {
		return ActivityOwner{}, false
	}
	return ActivityOwner{Entity: ownerEntities[k-1], ID: code / 4}, true
}

// activityFormat is the first byte of a packed list.
const activityFormat = 1

// encodeActivities packs a record's activities, by id: a format byte, then
// per activity the id's increase over the previous one and the start
// (unix seconds) as varints, and a byte of type (low four bits, 15 for any
// above), direction (two bits) and open (one bit).
func encodeActivities(list []Activity) string {
	slices.SortFunc(list, func(a, b Activity) int { return compareID(a.ID, b.ID) })
	buf := make([]byte, 1, 1+len(list)*10)
	buf[0] = activityFormat
	var prev int64
	for _, a := range list {
		buf = binary.AppendUvarint(buf, uint64(a.ID-prev))
		buf = binary.AppendVarint(buf, a.At)
		buf = append(buf, packFlags(a.Activity))
		prev = a.ID
	}
	return string(buf)
}

func compareID(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func packFlags(a segment.Activity) byte {
	f := byte(min(a.Type, 15)) | byte(a.Direction&3)<<4
	if a.Open {
		f |= 1 << 6
	}
	return f
}

// walkActivities calls fn for each activity of a packed list.
func walkActivities(s string, fn func(id int64, a segment.Activity)) error {
	if s == "" {
		return nil
	}
	b := []byte(s)
	if b[0] != activityFormat {
		return fmt.Errorf("activities: unknown format %d", b[0])
	}
	b = b[1:]
	var id int64
	for len(b) > 0 {
		d, n := binary.Uvarint(b)
		if n <= 0 {
			return errors.New("activities: bad id")
		}
		b = b[n:]
		at, n := binary.Varint(b)
		if n <= 0 || n >= len(b) {
			return errors.New("activities: bad start")
		}
		f := b[n]
		b = b[n+1:]
		id += int64(d)
		fn(id, segment.Activity{At: at, Type: segment.ActivityType(f & 15), Direction: segment.Direction(f >> 4 & 3), Open: f&(1<<6) != 0})
	}
	return nil
}

// decodeFacts unpacks a list for the facts: the activities without ids.
func decodeFacts(s string) ([]segment.Activity, error) {
	if s == "" {
		return nil, nil
	}
	out := make([]segment.Activity, 0, len(s)/8)
	err := walkActivities(s, func(_ int64, a segment.Activity) { out = append(out, a) })
	return out, err
}

// decodeOwned unpacks a record's list with ids.
func decodeOwned(owner ActivityOwner, s string) ([]Activity, error) {
	var out []Activity
	err := walkActivities(s, func(id int64, a segment.Activity) { out = append(out, Activity{ID: id, Owner: owner, Activity: a}) })
	return out, err
}

// Activities loads the activities of records of one entity, by record;
// records without any are absent.
func (m *Mirror) Activities(ctx context.Context, memberID string, e segment.Entity, ids []int64) (map[int64][]Activity, error) {
	lists, err := m.loadLists(ctx, memberID, ownersOf(e, ids))
	if err != nil {
		return nil, err
	}
	out := map[int64][]Activity{}
	for o, list := range lists {
		if len(list) > 0 {
			out[o.ID] = list
		}
	}
	return out, nil
}

func ownersOf(e segment.Entity, ids []int64) []ActivityOwner {
	out := make([]ActivityOwner, len(ids))
	for i, id := range ids {
		out[i] = ActivityOwner{Entity: e, ID: id}
	}
	return out
}

// loadLists reads the packed lists of the owners given, in one round trip.
func (m *Mirror) loadLists(ctx context.Context, memberID string, owners []ActivityOwner) (map[ActivityOwner][]Activity, error) {
	out := make(map[ActivityOwner][]Activity, len(owners))
	byEntity := map[segment.Entity][]ActivityOwner{}
	for _, o := range owners {
		if _, seen := out[o]; !seen {
			out[o] = nil
			byEntity[o.Entity] = append(byEntity[o.Entity], o)
		}
	}
	cmds := map[segment.Entity]*redis.SliceCmd{}
	_, err := m.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for e, list := range byEntity {
			fields := make([]string, len(list))
			for i, o := range list {
				fields[i] = id64(o.ID)
			}
			cmds[e] = p.HMGet(ctx, m.activityRows(memberID, e), fields...)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("mirror %s: load activities: %w", memberID, err)
	}
	for e, list := range byEntity {
		for i, v := range cmds[e].Val() {
			s, _ := v.(string)
			acts, err := decodeOwned(list[i], s)
			if err != nil {
				return nil, fmt.Errorf("mirror %s: %s %d: %w", memberID, e, list[i].ID, err)
			}
			out[list[i]] = acts
		}
	}
	return out, nil
}

// indexed reads which record holds each activity given; unknown ones are
// absent.
func (m *Mirror) indexed(ctx context.Context, memberID string, ids []int64) (map[int64]ActivityOwner, error) {
	cmds := make([]*redis.StringCmd, len(ids))
	_, err := m.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.HGet(ctx, m.activityIndex(memberID, id), id64(id))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("mirror %s: activity index: %w", memberID, err)
	}
	out := make(map[int64]ActivityOwner, len(ids))
	for i, cmd := range cmds {
		code, err := cmd.Int64()
		if err != nil {
			continue
		}
		if o, ok := ownerOf(code); ok {
			out[ids[i]] = o
		}
	}
	return out, nil
}

// PutActivities stores activities read from the portal, new or changed:
// each in its record's list, taken out of the list of the record that held
// it before if it moved. It returns the records whose lists changed, the
// old holders included.
func (m *Mirror) PutActivities(ctx context.Context, memberID string, acts []Activity) ([]ActivityOwner, error) {
	var touched []ActivityOwner
	for chunk := range slices.Chunk(acts, 1000) {
		t, err := m.changeActivities(ctx, memberID, chunk, nil)
		if err != nil {
			return touched, err
		}
		touched = append(touched, t...)
	}
	return touched, nil
}

// DeleteActivities removes activities by id and returns the records whose
// lists changed. Ids the mirror does not know are ignored.
func (m *Mirror) DeleteActivities(ctx context.Context, memberID string, ids []int64) ([]ActivityOwner, error) {
	var touched []ActivityOwner
	for chunk := range slices.Chunk(ids, 1000) {
		t, err := m.changeActivities(ctx, memberID, nil, chunk)
		if err != nil {
			return touched, err
		}
		touched = append(touched, t...)
	}
	return touched, nil
}

// changeActivities puts acts and deletes gone in one pipeline after one
// read of the index and the lists concerned.
func (m *Mirror) changeActivities(ctx context.Context, memberID string, acts []Activity, gone []int64) ([]ActivityOwner, error) {
	ids := slices.Clone(gone)
	for _, a := range acts {
		ids = append(ids, a.ID)
	}
	was, err := m.indexed(ctx, memberID, ids)
	if err != nil {
		return nil, err
	}
	var owners []ActivityOwner
	for _, o := range was {
		owners = append(owners, o)
	}
	for _, a := range acts {
		owners = append(owners, a.Owner)
	}
	lists, err := m.loadLists(ctx, memberID, owners)
	if err != nil {
		return nil, err
	}
	before := make(map[ActivityOwner]string, len(lists))
	for o, l := range lists {
		before[o] = encodeActivities(l)
	}
	drop := func(o ActivityOwner, id int64) {
		lists[o] = slices.DeleteFunc(lists[o], func(x Activity) bool { return x.ID == id })
	}
	for _, id := range gone {
		if o, ok := was[id]; ok {
			drop(o, id)
		}
	}
	for _, a := range acts {
		if o, ok := was[a.ID]; ok {
			drop(o, a.ID)
		}
		lists[a.Owner] = append(lists[a.Owner], a)
	}
	var touched []ActivityOwner
	_, err = m.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		logged := map[segment.Entity][]int64{}
		for _, o := range slices.SortedFunc(maps.Keys(lists), compareOwners) {
			now := encodeActivities(lists[o])
			if now == before[o] {
				continue
			}
			touched = append(touched, o)
			logged[o.Entity] = append(logged[o.Entity], o.ID)
			if len(lists[o]) == 0 {
				p.HDel(ctx, m.activityRows(memberID, o.Entity), id64(o.ID))
			} else {
				p.HSet(ctx, m.activityRows(memberID, o.Entity), id64(o.ID), now)
			}
		}
		for _, id := range gone {
			if _, ok := was[id]; ok {
				p.HDel(ctx, m.activityIndex(memberID, id), id64(id))
			}
		}
		for _, a := range acts {
			if o, ok := was[a.ID]; !ok || o != a.Owner {
				p.HSet(ctx, m.activityIndex(memberID, a.ID), id64(a.ID), ownerCode(a.Owner))
			}
		}
		for _, e := range ownerEntities {
			m.logChanges(ctx, p, memberID, e, logged[e])
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("mirror %s: write activities: %w", memberID, err)
	}
	return touched, nil
}

func compareOwners(a, b ActivityOwner) int {
	if a.Entity != b.Entity {
		return slices.Index(ownerEntities, a.Entity) - slices.Index(ownerEntities, b.Entity)
	}
	return compareID(a.ID, b.ID)
}

// ReplaceActivities makes the mirror's activities exactly acts, as a full
// sync read them: the lists that differ are written and logged, those of
// records left without activities removed, and the index follows.
func (m *Mirror) ReplaceActivities(ctx context.Context, memberID string, acts []Activity) error {
	lists := map[ActivityOwner][]Activity{}
	for _, a := range acts {
		lists[a.Owner] = append(lists[a.Owner], a)
	}
	oldOwner := map[int64]ActivityOwner{}
	oldList := map[ActivityOwner]string{}
	for _, e := range ownerEntities {
		err := m.eachList(ctx, memberID, e, func(id int64, s string) error {
			o := ActivityOwner{Entity: e, ID: id}
			oldList[o] = s
			return walkActivities(s, func(aid int64, _ segment.Activity) { oldOwner[aid] = o })
		})
		if err != nil {
			return err
		}
	}
	type write struct {
		owner ActivityOwner
		list  string // "" deletes
	}
	var writes []write
	for _, o := range slices.SortedFunc(maps.Keys(lists), compareOwners) {
		if s := encodeActivities(lists[o]); s != oldList[o] {
			writes = append(writes, write{o, s})
		}
	}
	for _, o := range slices.SortedFunc(maps.Keys(oldList), compareOwners) {
		if _, ok := lists[o]; !ok {
			writes = append(writes, write{o, ""})
		}
	}
	type entry struct {
		id   int64
		code int64 // 0 deletes
	}
	var index []entry
	seen := make(map[int64]bool, len(acts))
	for _, a := range acts {
		seen[a.ID] = true
		if o, ok := oldOwner[a.ID]; !ok || o != a.Owner {
			index = append(index, entry{a.ID, ownerCode(a.Owner)})
		}
	}
	for id := range oldOwner {
		if !seen[id] {
			index = append(index, entry{id, 0})
		}
	}
	for chunk := range slices.Chunk(writes, 1000) {
		_, err := m.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			logged := map[segment.Entity][]int64{}
			for _, w := range chunk {
				key := m.activityRows(memberID, w.owner.Entity)
				if w.list == "" {
					p.HDel(ctx, key, id64(w.owner.ID))
				} else {
					p.HSet(ctx, key, id64(w.owner.ID), w.list)
				}
				logged[w.owner.Entity] = append(logged[w.owner.Entity], w.owner.ID)
			}
			for _, e := range ownerEntities {
				m.logChanges(ctx, p, memberID, e, logged[e])
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("mirror %s: replace activities: %w", memberID, err)
		}
	}
	slices.SortFunc(index, func(a, b entry) int { return compareID(a.id, b.id) })
	for chunk := range slices.Chunk(index, 5000) {
		_, err := m.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, x := range chunk {
				if x.code == 0 {
					p.HDel(ctx, m.activityIndex(memberID, x.id), id64(x.id))
				} else {
					p.HSet(ctx, m.activityIndex(memberID, x.id), id64(x.id), x.code)
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("mirror %s: activity index: %w", memberID, err)
		}
	}
	return nil
}

// eachList streams every packed list of an entity's records.
func (m *Mirror) eachList(ctx context.Context, memberID string, e segment.Entity, fn func(id int64, list string) error) error {
	key := m.activityRows(memberID, e)
	var cursor uint64
	for {
		kv, next, err := m.rdb.HScan(ctx, key, cursor, "*", 1000).Result()
		if err != nil {
			return fmt.Errorf("mirror %s: scan activities of %s: %w", memberID, e, err)
		}
		for i := 1; i < len(kv); i += 2 {
			id, err := strconv.ParseInt(kv[i-1], 10, 64)
			if err != nil {
				continue
			}
			if err := fn(id, kv[i]); err != nil {
				return fmt.Errorf("mirror %s: %s %d: %w", memberID, e, id, err)
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// ActivityCount is how many activities the mirror holds for records of an
// entity.
func (m *Mirror) ActivityCount(ctx context.Context, memberID string, e segment.Entity) (int, error) {
	n := 0
	err := m.eachList(ctx, memberID, e, func(_ int64, s string) error {
		return walkActivities(s, func(int64, segment.Activity) { n++ })
	})
	return n, err
}

func (d *MirrorDeal) setActivities(list string) (err error) {
	d.Activities, err = decodeFacts(list)
	return err
}

func (c *MirrorClient) setActivities(list string) (err error) {
	c.Activities, err = decodeFacts(list)
	return err
}
