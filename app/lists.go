package app

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"

	"segmentor/app/segment"
)

// Static lists, kept per portal under its prefix (so uninstall's purge
// takes them):
//
//	seg:p:{m}:lists               hash: list key → List (JSON)
//	seg:p:{m}:list:<key>          the members' ids, sorted, delta-varint packed
//	seg:p:{m}:listdraft:<id>      an upload being matched or awaiting confirmation (hash, expires)
//
// 100,000 members take 100–300 KB: ids are deltas of a sorted list, most of
// them one to three bytes.

// List is a static list: a fixed set of contacts or companies.
type List struct {
	Key       string         `json:"key"`
	Name      string         `json:"name"`
	Entity    segment.Entity `json:"entity"`
	Count     int            `json:"count"`
	Source    string         `json:"source"`         // import or freeze
	From      string         `json:"from,omitempty"` // the file's name, or the frozen segment's key
	CreatedAt time.Time      `json:"created_at"`
	CreatedBy int64          `json:"created_by"`
	UpdatedAt time.Time      `json:"updated_at"`
}

// List sources.
const (
	ListImport = "import"
	ListFreeze = "freeze"
)

// Limits of lists.
const (
	MaxLists       = 200
	maxListNameLen = 100
	// ListDraftTTL is how long an upload's report waits for confirmation.
	ListDraftTTL = 24 * time.Hour
)

var listKeyPattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

func listsKey(memberID string) string          { return portalKey(memberID, "lists") }
func listMembersKey(memberID, k string) string { return portalKey(memberID, "list:"+k) }
func listDraftKey(memberID, id string) string  { return portalKey(memberID, "listdraft:"+id) }

// Lists answers the portal's lists, by name.
func (s *Store) Lists(ctx context.Context, memberID string) ([]List, error) {
	m, err := s.rdb.HGetAll(ctx, listsKey(memberID)).Result()
	if err != nil {
		return nil, fmt.Errorf("read lists of %s: %w", memberID, err)
	}
	out := make([]List, 0, len(m))
	for _, v := range m {
		var l List
		if err := json.Unmarshal([]byte(v), &l); err != nil {
			return nil, fmt.Errorf("decode list of %s: %w", memberID, err)
		}
		out = append(out, l)
	}
	slices.SortFunc(out, func(a, b List) int {
		return strings.Compare(strings.ToLower(a.Name)+"\x00"+a.Key, strings.ToLower(b.Name)+"\x00"+b.Key)
	})
	return out, nil
}

// List answers one list; ENotFound when there is none.
func (s *Store) List(ctx context.Context, memberID, key string) (*List, error) {
	v, err := s.rdb.HGet(ctx, listsKey(memberID), key).Result()
	if errors.Is(err, redis.Nil) {
		return nil, Errorf(ENotFound, "There is no such list.")
	}
	if err != nil {
		return nil, fmt.Errorf("read list %s of %s: %w", key, memberID, err)
	}
	var l List
	return &l, json.Unmarshal([]byte(v), &l)
}

// ListVocabulary is what rules may name: each list's key and record kind.
func (s *Store) ListVocabulary(ctx context.Context, memberID string) (map[string]segment.Entity, map[string]string, error) {
	lists, err := s.Lists(ctx, memberID)
	if err != nil {
		return nil, nil, err
	}
	kinds, names := make(map[string]segment.Entity, len(lists)), make(map[string]string, len(lists))
	for _, l := range lists {
		kinds[l.Key], names[l.Key] = l.Entity, l.Name
	}
	return kinds, names, nil
}

// ListMembers loads the members of the lists keys (lists that do not
// exist are left out: nobody is in them).
func (s *Store) ListMembers(ctx context.Context, memberID string, keys []string) (segment.ListMembers, error) {
	out := segment.ListMembers{}
	if len(keys) == 0 {
		return out, nil
	}
	metas, err := s.rdb.HMGet(ctx, listsKey(memberID), keys...).Result()
	if err != nil {
		return nil, fmt.Errorf("read lists of %s: %w", memberID, err)
	}
	for i, k := range keys {
		meta, _ := metas[i].(string)
		if meta == "" {
			continue
		}
		var l List
		if err := json.Unmarshal([]byte(meta), &l); err != nil {
			return nil, fmt.Errorf("decode list %s of %s: %w", k, memberID, err)
		}
		ids, err := s.listIDs(ctx, memberID, k)
		if err != nil {
			return nil, err
		}
		out[k] = segment.ListSet{Entity: l.Entity, IDs: ids}
	}
	return out, nil
}

// ListIDs answers a list's members' ids, sorted.
func (s *Store) ListIDs(ctx context.Context, memberID, key string) ([]int64, error) {
	if _, err := s.List(ctx, memberID, key); err != nil {
		return nil, err
	}
	return s.listIDs(ctx, memberID, key)
}

func (s *Store) listIDs(ctx context.Context, memberID, key string) ([]int64, error) {
	b, err := s.rdb.Get(ctx, listMembersKey(memberID, key)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read list %s of %s: %w", key, memberID, err)
	}
	ids, err := UnpackIDs(b)
	if err != nil {
		return nil, fmt.Errorf("list %s of %s: %w", key, memberID, err)
	}
	return ids, nil
}

// NewListKey makes a key for a new list from its name: its letters and
// digits in ASCII, else "list", with a number when taken.
func NewListKey(name string, taken func(string) bool) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9' && b.Len() > 0:
			b.WriteRune(r)
		case (r == ' ' || r == '-' || r == '_') && b.Len() > 0 && !strings.HasSuffix(b.String(), "_"):
			b.WriteByte('_')
		}
		if b.Len() >= 24 {
			break
		}
	}
	base := strings.TrimSuffix(b.String(), "_")
	if base == "" {
		base = "list"
	}
	key := base
	for n := 2; taken(key); n++ {
		key = base + "_" + strconv.Itoa(n)
	}
	return key
}

// CheckListName refuses an empty or overlong name.
func CheckListName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > maxListNameLen {
		return "", Errorf(EInvalid, "A list needs a name of 1 to %d characters.", maxListNameLen)
	}
	return name, nil
}

// PutList creates the list l.Key, or replaces its members when it exists
// (keeping when and by whom it was made), and answers the members it had.
func (s *Store) PutList(ctx context.Context, memberID string, l List, ids []int64) ([]int64, error) {
	if !listKeyPattern.MatchString(l.Key) {
		return nil, Errorf(EInvalid, "A list key is a lower-case letter, then up to 31 letters, digits or _.")
	}
	if l.Entity != segment.EntityContact && l.Entity != segment.EntityCompany {
		return nil, Errorf(EInvalid, "A list holds contacts or companies.")
	}
	name, err := CheckListName(l.Name)
	if err != nil {
		return nil, err
	}
	l.Name = name
	ids = slices.Clone(ids)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	old, err := s.List(ctx, memberID, l.Key)
	var prev []int64
	switch {
	case ErrorCode(err) == ENotFound:
		n, err := s.rdb.HLen(ctx, listsKey(memberID)).Result()
		if err != nil {
			return nil, err
		}
		if n >= MaxLists {
			return nil, Errorf(EConflict, "A portal keeps at most %d lists; delete one first.", MaxLists)
		}
	case err != nil:
		return nil, err
	default:
		if old.Entity != l.Entity {
			return nil, Errorf(EConflict, "The list holds %ss; its members cannot be %ss.", old.Entity, l.Entity)
		}
		l.CreatedAt, l.CreatedBy = old.CreatedAt, old.CreatedBy
		if prev, err = s.listIDs(ctx, memberID, l.Key); err != nil {
			return nil, err
		}
	}
	now := s.clock().UTC()
	if l.CreatedAt.IsZero() {
		l.CreatedAt = now
	}
	l.UpdatedAt, l.Count = now, len(ids)
	meta, err := json.Marshal(l)
	if err != nil {
		return nil, err
	}
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, listMembersKey(memberID, l.Key), PackIDs(ids), 0)
		p.HSet(ctx, listsKey(memberID), l.Key, meta)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("save list %s of %s: %w", l.Key, memberID, err)
	}
	return prev, nil
}

// RenameList changes a list's name; its key, which rules name, stays.
func (s *Store) RenameList(ctx context.Context, memberID, key, name string) (*List, error) {
	name, err := CheckListName(name)
	if err != nil {
		return nil, err
	}
	l, err := s.List(ctx, memberID, key)
	if err != nil {
		return nil, err
	}
	l.Name, l.UpdatedAt = name, s.clock().UTC()
	meta, err := json.Marshal(l)
	if err != nil {
		return nil, err
	}
	return l, s.rdb.HSet(ctx, listsKey(memberID), key, meta).Err()
}

// DeleteList removes a list and answers what it was and the members it had.
func (s *Store) DeleteList(ctx context.Context, memberID, key string) (*List, []int64, error) {
	l, err := s.List(ctx, memberID, key)
	if err != nil {
		return nil, nil, err
	}
	ids, err := s.listIDs(ctx, memberID, key)
	if err != nil {
		return nil, nil, err
	}
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HDel(ctx, listsKey(memberID), key)
		p.Del(ctx, listMembersKey(memberID, key))
		return nil
	})
	return l, ids, err
}

// PackIDs writes ids (sorted, distinct, positive) as varint deltas.
func PackIDs(ids []int64) []byte {
	b := make([]byte, 0, len(ids)*2+8)
	var prev int64
	for _, id := range ids {
		b = binary.AppendUvarint(b, uint64(id-prev))
		prev = id
	}
	return b
}

// UnpackIDs reads what PackIDs wrote.
func UnpackIDs(b []byte) ([]int64, error) {
	out := make([]int64, 0, len(b)/2)
	var prev int64
	for len(b) > 0 {
		d, n := binary.Uvarint(b)
		if n <= 0 {
			return nil, errors.New("packed ids are corrupt")
		}
		prev += int64(d)
		out = append(out, prev)
		b = b[n:]
	}
	return out, nil
}

// ListDraft is an upload on its way to a list: matched in a job, then
// reported, and written only when the admin confirms it.
type ListDraft struct {
	ID        string         `json:"id"`
	Name      string         `json:"name"`
	Key       string         `json:"key,omitempty"` // an existing list whose members it replaces; "" makes a new one
	Entity    segment.Entity `json:"entity"`
	By        MatchBy        `json:"by"`
	File      string         `json:"file,omitempty"`
	CreatedAt time.Time      `json:"created_at"`
	CreatedBy int64          `json:"created_by"`

	State string `json:"state"` // queued, running, done, failed, confirmed
	Done  int    `json:"done"`  // values matched so far
	Total int    `json:"total"` // distinct values to match
	Error string `json:"error,omitempty"`
	// Requests is how many REST requests the matching took.
	Requests int `json:"requests"`

	Report *ListReport `json:"report,omitempty"` // once done
}

// ListReport is what an upload matched.
type ListReport struct {
	Rows       int            `json:"rows"` // data rows, blank ones left out
	Duplicates int            `json:"duplicates"`
	Matched    int            `json:"matched"` // distinct records
	NotFound   []ListEntry    `json:"not_found"`
	Ambiguous  []AmbiguousRow `json:"ambiguous"`
	Invalid    []BadRow       `json:"invalid"`
}

// AmbiguousRow is a value several records hold: none of them is added.
type AmbiguousRow struct {
	ListEntry
	IDs []int64 `json:"ids"`
}

// Draft hash fields: the draft itself, its upload's values, and the ids
// it matched (packed).
const (
	draftField  = "draft"
	valuesField = "values"
	idsField    = "ids"
)

// NewListDraft keeps an upload's values for its matching job.
func (s *Store) NewListDraft(ctx context.Context, memberID string, d ListDraft, p *ParsedList) (*ListDraft, error) {
	var raw [8]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, err
	}
	d.ID, d.State, d.CreatedAt = hex.EncodeToString(raw[:]), "queued", s.clock().UTC()
	d.Total = len(p.Entries)
	d.Report = nil
	meta, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	values, err := json.Marshal(draftValues{Entries: p.Entries, Invalid: p.Invalid, Duplicates: p.Duplicates, Rows: p.Rows})
	if err != nil {
		return nil, err
	}
	k := listDraftKey(memberID, d.ID)
	_, err = s.rdb.TxPipelined(ctx, func(pp redis.Pipeliner) error {
		pp.HSet(ctx, k, draftField, meta, valuesField, values)
		pp.Expire(ctx, k, ListDraftTTL)
		return nil
	})
	return &d, err
}

// draftValues is an upload as parsed, for its job.
type draftValues struct {
	Entries    []ListEntry `json:"entries"`
	Invalid    []BadRow    `json:"invalid"`
	Duplicates int         `json:"duplicates"`
	Rows       int         `json:"rows"`
}

// ListDraft answers a draft; ENotFound when it expired or never was.
func (s *Store) ListDraft(ctx context.Context, memberID, id string) (*ListDraft, error) {
	v, err := s.rdb.HGet(ctx, listDraftKey(memberID, id), draftField).Result()
	if errors.Is(err, redis.Nil) {
		return nil, Errorf(ENotFound, "This upload's report has expired; upload the file again.")
	}
	if err != nil {
		return nil, err
	}
	var d ListDraft
	return &d, json.Unmarshal([]byte(v), &d)
}

// ListDraftValues answers the values of a draft's upload.
func (s *Store) ListDraftValues(ctx context.Context, memberID, id string) (entries []ListEntry, invalid []BadRow, dups, rows int, err error) {
	v, err := s.rdb.HGet(ctx, listDraftKey(memberID, id), valuesField).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil, 0, 0, Errorf(ENotFound, "This upload's report has expired; upload the file again.")
	}
	if err != nil {
		return nil, nil, 0, 0, err
	}
	var dv draftValues
	if err := json.Unmarshal(v, &dv); err != nil {
		return nil, nil, 0, 0, err
	}
	return dv.Entries, dv.Invalid, dv.Duplicates, dv.Rows, nil
}

// SaveListDraft writes a draft's state; with matched (non-nil) also the
// ids it matched, and its upload's values are dropped: the report holds
// what a person needs from them.
func (s *Store) SaveListDraft(ctx context.Context, memberID string, d *ListDraft, matched []int64) error {
	meta, err := json.Marshal(d)
	if err != nil {
		return err
	}
	k := listDraftKey(memberID, d.ID)
	// Only a draft that still exists is written: an expired one stays gone.
	n, err := s.rdb.Exists(ctx, k).Result()
	if err != nil || n == 0 {
		return cmpErr(err, Errorf(ENotFound, "This upload's report has expired; upload the file again."))
	}
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, k, draftField, meta)
		if matched != nil {
			p.HSet(ctx, k, idsField, PackIDs(matched))
			p.HDel(ctx, k, valuesField)
		}
		return nil
	})
	return err
}

func cmpErr(err error, otherwise error) error {
	if err != nil {
		return err
	}
	return otherwise
}

// ListDraftIDs answers the ids a finished draft matched.
func (s *Store) ListDraftIDs(ctx context.Context, memberID, id string) ([]int64, error) {
	b, err := s.rdb.HGet(ctx, listDraftKey(memberID, id), idsField).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, Errorf(ENotFound, "This upload's report has expired; upload the file again.")
	}
	if err != nil {
		return nil, err
	}
	return UnpackIDs(b)
}

// DeleteListDraft forgets a draft (cancelled or confirmed).
func (s *Store) DeleteListDraft(ctx context.Context, memberID, id string) error {
	return s.rdb.Del(ctx, listDraftKey(memberID, id)).Err()
}
