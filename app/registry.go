package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"segmentor/app/segment"
	"segmentor/registry"
)

// The mirror keeps, per company, its tax ID and what the company registry
// said of it, for the registry facts and the card tab. Layout, under the
// portal's hash tag:
//
//	m:g:company   hash company id → JSON RegistryEntry
//
// An entry exists for every company whose requisite has a Polish tax ID
// (registry.IsNIPCandidate), valid or not: a company without one is not
// in the registry, and has no entry. The tax ID comes from the company's
// first requisite that has one (the lowest id, as its location's does).
// Entries are written by two hands: the requisites' reader (a sync of the
// company requisites, a requisite's change) sets the tax ID, and the
// enrichment sets the registry's answer — only while the tax ID it asked
// for is still the company's (PutRegistryAnswer checks in one script).

// RegistryState is where a company's registry lookup stands.
type RegistryState string

// The registry states.
const (
	RegistryPending     RegistryState = "pending"     // a valid NIP, not looked up yet
	RegistryInvalid     RegistryState = "invalid"     // fails the NIP check: never sent
	RegistryFound       RegistryState = "found"       // the registry answered
	RegistryNotFound    RegistryState = "not_found"   // the registry has no such company
	RegistryUnavailable RegistryState = "unavailable" // the registry did not answer: asked again later
)

// RegistryEntry is what the mirror keeps of one company's registry data.
type RegistryEntry struct {
	TaxID     string        `json:"t"`           // as the requisite has it
	NIP       string        `json:"n,omitempty"` // normalised; "" when invalid
	Requisite int64         `json:"q,omitempty"` // the requisite it came from
	State     RegistryState `json:"s"`
	// What the registry answered (State found).
	Name  string                 `json:"nm,omitempty"`
	REGON string                 `json:"rg,omitempty"`
	Facts *segment.RegistryFacts `json:"f,omitempty"`
	// Checked is when the registry was last asked (unix seconds); 0 never.
	Checked int64 `json:"c,omitempty"`
}

// TaxID is a company's tax ID as a requisite holds it.
type TaxID struct {
	Value     string
	Requisite int64
}

// NewRegistryEntry is the entry of a company whose tax ID is t, before
// any lookup: pending when it is a valid NIP, invalid otherwise.
func NewRegistryEntry(t TaxID) RegistryEntry {
	e := RegistryEntry{TaxID: t.Value, Requisite: t.Requisite, State: RegistryInvalid}
	if nip, ok := registry.ValidNIP(t.Value); ok {
		e.NIP, e.State = nip, RegistryPending
	}
	return e
}

// Due reports whether the registry should be asked about the company at
// now: a valid NIP never asked, asked without an answer, or answered
// longer than refresh ago.
func (e *RegistryEntry) Due(now time.Time, refresh time.Duration) bool {
	switch e.State {
	case RegistryPending, RegistryUnavailable:
		return true
	case RegistryFound, RegistryNotFound:
		return now.Sub(time.Unix(e.Checked, 0)) >= refresh
	}
	return false
}

func (m *Mirror) registryRows(memberID string) string { return portalKey(memberID, "m:g:company") }

// PutTaxIDs records companies' tax IDs: an entry is started anew for each
// company whose tax ID differs from the mirror's (its registry data is
// another company's), left as it is otherwise; a company given "" loses
// its entry. With only, every other company's entry is removed too (a
// sync that read every company's requisites). It returns the companies
// whose tax ID changed.
func (m *Mirror) PutTaxIDs(ctx context.Context, memberID string, ids map[int64]TaxID, only bool) ([]int64, error) {
	key := m.registryRows(memberID)
	have, err := m.registryFields(ctx, key, ids, only)
	if err != nil {
		return nil, fmt.Errorf("mirror %s: registry entries: %w", memberID, err)
	}
	var changed []int64
	var del []string
	set := map[string]any{}
	for id, t := range ids {
		f := id64(id)
		old, had := have[f]
		var e RegistryEntry
		if had && json.Unmarshal([]byte(old), &e) == nil && e.TaxID == t.Value && t.Value != "" {
			if e.Requisite != t.Requisite { // the same tax ID on another requisite: nothing to ask again
				e.Requisite = t.Requisite
				b, _ := json.Marshal(e)
				set[f] = b
			}
			continue
		}
		switch {
		case t.Value == "" && had:
			del = append(del, f)
		case t.Value == "":
			continue
		default:
			b, _ := json.Marshal(NewRegistryEntry(t))
			set[f] = b
		}
		changed = append(changed, id)
	}
	if only {
		for f := range have {
			if id, err := strconv.ParseInt(f, 10, 64); err == nil {
				if _, kept := ids[id]; !kept {
					del = append(del, f)
					changed = append(changed, id)
				}
			}
		}
	}
	if len(set) == 0 && len(del) == 0 {
		return nil, nil
	}
	_, err = m.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		if len(set) > 0 {
			p.HSet(ctx, key, set)
		}
		if len(del) > 0 {
			p.HDel(ctx, key, del...)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("mirror %s: put tax IDs: %w", memberID, err)
	}
	return changed, nil
}

// registryFields reads the raw entries of the companies given, or of
// every company with all.
func (m *Mirror) registryFields(ctx context.Context, key string, ids map[int64]TaxID, all bool) (map[string]string, error) {
	if all {
		return m.rdb.HGetAll(ctx, key).Result()
	}
	out := make(map[string]string, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	fields := make([]string, 0, len(ids))
	for id := range ids {
		fields = append(fields, id64(id))
	}
	vals, err := m.rdb.HMGet(ctx, key, fields...).Result()
	if err != nil {
		return nil, err
	}
	for i, v := range vals {
		if s, ok := v.(string); ok {
			out[fields[i]] = s
		}
	}
	return out, nil
}

// RegistryEntries loads the entries of the companies given; a company
// without one is absent.
func (m *Mirror) RegistryEntries(ctx context.Context, memberID string, ids []int64) (map[int64]*RegistryEntry, error) {
	out := make(map[int64]*RegistryEntry, len(ids))
	for start := 0; start < len(ids); start += 1000 {
		part := ids[start:min(start+1000, len(ids))]
		fields := make([]string, len(part))
		for i, id := range part {
			fields[i] = id64(id)
		}
		vals, err := m.rdb.HMGet(ctx, m.registryRows(memberID), fields...).Result()
		if err != nil {
			return nil, fmt.Errorf("mirror %s: registry entries: %w", memberID, err)
		}
		for i, v := range vals {
			s, ok := v.(string)
			if !ok {
				continue
			}
			e := new(RegistryEntry)
			if err := json.Unmarshal([]byte(s), e); err != nil {
				return nil, fmt.Errorf("mirror %s: registry entry of company %d: %w", memberID, part[i], err)
			}
			out[part[i]] = e
		}
	}
	return out, nil
}

// RegistryEntry is one company's entry; nil when it has none.
func (m *Mirror) RegistryEntry(ctx context.Context, memberID string, id int64) (*RegistryEntry, error) {
	es, err := m.RegistryEntries(ctx, memberID, []int64{id})
	return es[id], err
}

// EachRegistryEntry streams every company's entry (HSCAN, a thousand at a
// time); order is unspecified.
func (m *Mirror) EachRegistryEntry(ctx context.Context, memberID string, fn func(id int64, e *RegistryEntry) error) error {
	var cursor uint64
	for {
		kv, next, err := m.rdb.HScan(ctx, m.registryRows(memberID), cursor, "*", 1000).Result()
		if err != nil {
			return fmt.Errorf("mirror %s: scan registry entries: %w", memberID, err)
		}
		for i := 0; i+1 < len(kv); i += 2 {
			id, err := strconv.ParseInt(kv[i], 10, 64)
			if err != nil {
				continue
			}
			e := new(RegistryEntry)
			if err := json.Unmarshal([]byte(kv[i+1]), e); err != nil {
				return fmt.Errorf("mirror %s: registry entry of company %d: %w", memberID, id, err)
			}
			if err := fn(id, e); err != nil {
				return err
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// putAnswer stores a lookup's answer only while the company's entry still
// has the NIP that was looked up: a tax ID changed meanwhile started a new
// entry, which the answer is not about.
var putAnswer = redis.NewScript(`
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return 0 end
local ok, e = pcall(cjson.decode, cur)
if not ok or e.n ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1`)

// PutRegistryAnswer stores what the registry answered for a company's NIP
// (e.NIP): false when the company's tax ID changed since, and the answer
// was dropped.
func (m *Mirror) PutRegistryAnswer(ctx context.Context, memberID string, id int64, e RegistryEntry) (bool, error) {
	if e.NIP == "" {
		return false, errors.New("registry answer without a NIP")
	}
	b, err := json.Marshal(e)
	if err != nil {
		return false, err
	}
	n, err := putAnswer.Run(ctx, m.rdb, []string{m.registryRows(memberID)}, id64(id), e.NIP, b).Int()
	if err != nil {
		return false, fmt.Errorf("mirror %s: registry answer for company %d: %w", memberID, id, err)
	}
	return n == 1, nil
}

// RegistryCounts counts the companies by registry state, for the settings
// page.
func (m *Mirror) RegistryCounts(ctx context.Context, memberID string) (map[RegistryState]int, error) {
	out := map[RegistryState]int{}
	err := m.EachRegistryEntry(ctx, memberID, func(_ int64, e *RegistryEntry) error {
		out[e.State]++
		return nil
	})
	return out, err
}

// RegistrySettings are a portal's company registry settings, sealed at
// rest as the tokens are: the key is the portal's own GUS BIR user key.
type RegistrySettings struct {
	// Enabled turns lookups on: the portal's companies' NIPs are read and
	// looked up, and the registry facts have values.
	Enabled bool `json:"enabled"`
	// Key is the portal's GUS BIR user key; "" uses the operator's
	// (REGISTRY_KEY), if any.
	Key string `json:"key,omitempty"`
	// WriteBack copies registry values into company fields the admin
	// chose: registry value (WriteBackValues) → field (UF_CRM_…).
	WriteBack map[string]string `json:"write_back,omitempty"`
}

// WriteBackValues are the registry values an admin can have copied into
// company fields.
var WriteBackValues = []string{"name", "regon", "pkd", "pkd_section", "region", "legal_form", "status", "registered"}

// RegistrySettings reads the portal's registry settings; the zero value
// when it has none.
func (s *Store) RegistrySettings(ctx context.Context, memberID string) (RegistrySettings, error) {
	var rs RegistrySettings
	err := s.openJSON(ctx, memberID, "registry", &rs)
	if errors.Is(err, redis.Nil) {
		return RegistrySettings{}, nil
	}
	return rs, err
}

// SetRegistrySettings saves the portal's registry settings.
func (s *Store) SetRegistrySettings(ctx context.Context, memberID string, rs RegistrySettings) error {
	return s.sealJSON(ctx, memberID, "registry", rs)
}

// setRegistry takes a company's registry facts from its entry; a company
// the registry has not answered for has none. An entry that does not
// decode is left out: registry facts are never worth failing a load.
func (c *MirrorClient) setRegistry(s string) {
	if s == "" {
		return
	}
	var e RegistryEntry
	if json.Unmarshal([]byte(s), &e) == nil && e.State == RegistryFound {
		c.Registry = e.Facts
	}
}

// RequisiteOwners names the contact or company of each requisite given,
// as the mirror knows it: from the address index (location.go), else, for
// a company's requisite without addresses, from the registry entry whose
// tax ID it holds (a scan of the entries, for the few a change names).
func (m *Mirror) RequisiteOwners(ctx context.Context, memberID string, ids []int64) (map[int64]ClientRef, error) {
	out, err := m.requisiteOwners(ctx, memberID, ids)
	if err != nil || len(out) == len(ids) {
		return out, err
	}
	missing := map[int64]bool{}
	for _, id := range ids {
		if _, ok := out[id]; !ok {
			missing[id] = true
		}
	}
	err = m.EachRegistryEntry(ctx, memberID, func(id int64, e *RegistryEntry) error {
		if missing[e.Requisite] {
			out[e.Requisite] = ClientRef{Entity: segment.EntityCompany, ID: id}
		}
		return nil
	})
	return out, err
}

// RegistryRun is what the last registry lookup run of a portal did, for
// the settings page.
type RegistryRun struct {
	At        time.Time `json:"at"`
	Asked     int       `json:"asked"`
	Found     int       `json:"found"`
	NotFound  int       `json:"not_found"`
	Changed   int       `json:"changed"`
	Written   int       `json:"written"`
	Remaining int       `json:"remaining"` // companies still due when it stopped
	// Problem says why lookups stopped short: RegistryKeyRefused,
	// RegistryNoKey or RegistryDown; "" when they did not.
	Problem string    `json:"problem,omitempty"`
	Next    time.Time `json:"next,omitzero"` // when they go on
}

// Why a registry run stopped short.
const (
	RegistryKeyRefused = "key_refused" // the registry refused the API key: the admin must give another
	RegistryNoKey      = "no_key"      // lookups are on, but there is no key to use
	RegistryDown       = "unavailable" // the registry did not answer: tried again later
)

// SetRegistryRun keeps what the portal's last registry run did.
func (s *Store) SetRegistryRun(ctx context.Context, memberID string, r RegistryRun) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return s.rdb.Set(ctx, portalKey(memberID, "registry:run"), b, 0).Err()
}

// RegistryRun reads what the portal's last registry run did; nil when
// none ran.
func (s *Store) RegistryRun(ctx context.Context, memberID string) (*RegistryRun, error) {
	b, err := s.rdb.Get(ctx, portalKey(memberID, "registry:run")).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	r := new(RegistryRun)
	return r, json.Unmarshal(b, r)
}
