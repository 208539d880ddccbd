package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"segmentor/bitrix"
	"segmentor/internal/keyspace"
)

// Store keeps portals, their sealed tokens and their configs in Redis.
// Every key of a portal lives under portalKey(memberID, …), so no query for
// one portal can touch another's data; the member_id is also a hash tag, so
// a portal's keys stay together.
type Store struct {
	rdb     redis.UniversalClient
	seal    *Sealer
	clock   func() time.Time
	limiter *redis_rate.Limiter // the sign-in checks' budgets
}

// NewStore returns a Store; clock defaults to time.Now.
func NewStore(rdb redis.UniversalClient, seal *Sealer, clock func() time.Time) *Store {
	if clock == nil {
		clock = time.Now
	}
	return &Store{rdb: rdb, seal: seal, clock: clock, limiter: redis_rate.NewLimiter(rdb)}
}

// Now is the store's clock: what the app takes as the time now.
func (s *Store) Now() time.Time { return s.clock() }

const portalsKey = keyspace.Portals

func portalKey(memberID, part string) string { return keyspace.Portal(memberID, part) }

// keyPrefix is the prefix of every key a portal owns.
func keyPrefix(memberID string) string { return keyspace.PortalPrefix(memberID) }

var _ bitrix.TokenStore = (*Store)(nil)

// Portal returns the portal, or an ENotFound error.
func (s *Store) Portal(ctx context.Context, memberID string) (*Portal, error) {
	b, err := s.rdb.Get(ctx, portalKey(memberID, "portal")).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, Errorf(ENotFound, "This Bitrix24 portal has not installed Segmentor.")
	}
	if err != nil {
		return nil, fmt.Errorf("load portal %s: %w", memberID, err)
	}
	var p Portal
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("decode portal %s: %w", memberID, err)
	}
	return &p, nil
}

// Portals lists the member_ids of every known portal.
func (s *Store) Portals(ctx context.Context) ([]string, error) {
	return s.rdb.SMembers(ctx, portalsKey).Result()
}

// UpdatePortal changes a portal atomically: fn edits a fresh copy (a new,
// zero Portal with MemberID set when none exists yet) and the result is
// written only if nobody changed the portal in between; on a race it retries.
func (s *Store) UpdatePortal(ctx context.Context, memberID string, fn func(p *Portal, exists bool) error) (*Portal, error) {
	key := portalKey(memberID, "portal")
	var out *Portal
	txf := func(tx *redis.Tx) error {
		p := &Portal{MemberID: memberID}
		b, err := tx.Get(ctx, key).Bytes()
		exists := err == nil
		switch {
		case exists:
			if err := json.Unmarshal(b, p); err != nil {
				return fmt.Errorf("decode portal %s: %w", memberID, err)
			}
		case !errors.Is(err, redis.Nil):
			return err
		}
		if err := fn(p, exists); err != nil {
			return err
		}
		now := s.clock().UTC()
		if p.CreatedAt.IsZero() {
			p.CreatedAt = now
		}
		p.UpdatedAt = now
		p.MemberID = memberID
		nb, err := json.Marshal(p)
		if err != nil {
			return err
		}
		// The portal is listed before its record is written, outside the
		// transaction: seg:portals has no hash tag, so on a Redis Cluster it
		// lives in another slot than the portal's keys and one MULTI cannot
		// hold both (CROSSSLOT). Listing first never loses a portal (a crash
		// in between leaves a listed id without a record, which every reader
		// of Portals skips); SADD is idempotent, so a retried transaction
		// lists it once.
		if err := s.rdb.SAdd(ctx, portalsKey, memberID).Err(); err != nil {
			return fmt.Errorf("list portal %s: %w", memberID, err)
		}
		_, err = tx.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
			pipe.Set(ctx, key, nb, 0)
			return nil
		})
		out = p
		return err
	}
	for i := 0; i < 20; i++ {
		err := s.rdb.Watch(ctx, txf, key)
		if errors.Is(err, redis.TxFailedErr) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return out, nil
	}
	return nil, Errorf(EConflict, "The portal record is changing too often; try again.")
}

// SetState moves a portal to state, with a reason shown to admins.
func (s *Store) SetState(ctx context.Context, memberID string, state PortalState, reason string) error {
	_, err := s.UpdatePortal(ctx, memberID, func(p *Portal, exists bool) error {
		if !exists {
			return Errorf(ENotFound, "This Bitrix24 portal has not installed Segmentor.")
		}
		p.State, p.StateReason = state, reason
		return nil
	})
	return err
}

// CountNeedsReauth counts portals whose tokens died.
func (s *Store) CountNeedsReauth(ctx context.Context) (int, error) {
	ids, err := s.Portals(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		p, err := s.Portal(ctx, id)
		if ErrorCode(err) == ENotFound {
			continue
		}
		if err != nil {
			return 0, err
		}
		if p.State == StateNeedsReauth {
			n++
		}
	}
	return n, nil
}

// Load implements bitrix.TokenStore.
func (s *Store) Load(ctx context.Context, memberID string) (*bitrix.Token, error) {
	p, err := s.Portal(ctx, memberID)
	if ErrorCode(err) == ENotFound {
		return nil, fmt.Errorf("portal %s: %w", memberID, bitrix.ErrNoToken)
	}
	if err != nil {
		return nil, err
	}
	switch p.State {
	case StateNeedsReauth:
		return nil, &bitrix.ReauthError{MemberID: memberID, Err: errors.New(p.StateReason)}
	case StateUninstalled:
		return nil, fmt.Errorf("portal %s uninstalled the app: %w", memberID, bitrix.ErrNoToken)
	}
	var t bitrix.Token
	if err := s.openJSON(ctx, memberID, "token", &t); err != nil {
		if errors.Is(err, redis.Nil) {
			return nil, fmt.Errorf("portal %s: %w", memberID, bitrix.ErrNoToken)
		}
		return nil, err
	}
	return &t, nil
}

// Save implements bitrix.TokenStore: it stores the sealed token and keeps
// the portal's endpoints in step with what the OAuth server reported.
func (s *Store) Save(ctx context.Context, t *bitrix.Token) error {
	if t == nil || t.MemberID == "" {
		return errors.New("save token: no member_id")
	}
	if err := s.sealJSON(ctx, t.MemberID, "token", t); err != nil {
		return err
	}
	_, err := s.UpdatePortal(ctx, t.MemberID, func(p *Portal, exists bool) error {
		if !exists {
			p.State = StateInstalling
		}
		if t.ClientEndpoint != "" {
			p.ClientEndpoint = t.ClientEndpoint
		}
		if t.ServerEndpoint != "" {
			p.ServerEndpoint = t.ServerEndpoint
		}
		if t.Domain != "" {
			p.Domain = t.Domain
		}
		if t.Scope != "" {
			p.Scope = t.Scope
		}
		if t.Status != "" {
			p.Status = t.Status
		}
		return nil
	})
	return err
}

// MarkNeedsReauth implements bitrix.TokenStore.
func (s *Store) MarkNeedsReauth(ctx context.Context, memberID string, cause error) error {
	reason := "the portal's tokens were refused"
	if cause != nil {
		reason = cause.Error()
	}
	return s.SetState(ctx, memberID, StateNeedsReauth, reason)
}

// ApplicationToken returns the stored application_token that every event
// from the portal must carry; "" when none is known yet.
func (s *Store) ApplicationToken(ctx context.Context, memberID string) (string, error) {
	var tok string
	err := s.openJSON(ctx, memberID, "apptoken", &tok)
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	return tok, err
}

// SetApplicationToken stores the application_token (sealed).
func (s *Store) SetApplicationToken(ctx context.Context, memberID, token string) error {
	return s.sealJSON(ctx, memberID, "apptoken", token)
}

// DeleteApplicationToken forgets the application token, so the next
// verified event establishes it again (a reinstall from an older portal
// whose installer sends none).
func (s *Store) DeleteApplicationToken(ctx context.Context, memberID string) error {
	return s.rdb.Del(ctx, portalKey(memberID, "apptoken")).Err()
}

// DeleteTokens forgets the portal's OAuth tokens (on uninstall).
func (s *Store) DeleteTokens(ctx context.Context, memberID string) error {
	return s.rdb.Del(ctx, portalKey(memberID, "token")).Err()
}

// DeleteEverything removes every key the portal owns except its portal
// record, which is kept (state uninstalled) so that an audit of who was
// installed remains; used on uninstall with CLEAN.
func (s *Store) DeleteEverything(ctx context.Context, memberID string) error {
	keep := portalKey(memberID, "portal")
	// Every key found shares the portal's hash tag, so one DEL may hold a
	// whole batch even on a Redis Cluster.
	return keyspace.Scan(ctx, s.rdb, keyPrefix(memberID)+"*", func(keys []string) error {
		keys = slices.DeleteFunc(keys, func(k string) bool { return k == keep })
		if len(keys) == 0 {
			return nil
		}
		return s.rdb.Del(ctx, keys...).Err()
	})
}

func (s *Store) sealJSON(ctx context.Context, memberID, part string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	sealed, err := s.seal.Seal(b, memberID+"/"+part)
	if err != nil {
		return err
	}
	return s.rdb.Set(ctx, portalKey(memberID, part), sealed, 0).Err()
}

func (s *Store) openJSON(ctx context.Context, memberID, part string, v any) error {
	sealed, err := s.rdb.Get(ctx, portalKey(memberID, part)).Bytes()
	if err != nil {
		return err
	}
	b, err := s.seal.Open(sealed, memberID+"/"+part)
	if err != nil {
		return fmt.Errorf("portal %s %s: %w", memberID, part, err)
	}
	return json.Unmarshal(b, v)
}

// receivedCap bounds the record of received changes per portal.
const receivedCap = 10000

// RecordReceived keeps a merged batch of CRM changes as received, newest
// last (what the event pipeline delivered, for inspection and tests).
func (s *Store) RecordReceived(ctx context.Context, memberID string, batch any) error {
	b, err := json.Marshal(batch)
	if err != nil {
		return err
	}
	key := portalKey(memberID, "received")
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.RPush(ctx, key, b)
		p.LTrim(ctx, key, -receivedCap, -1)
		return nil
	})
	return err
}

// Received returns the recorded batches, oldest first, as raw JSON.
func (s *Store) Received(ctx context.Context, memberID string) ([]json.RawMessage, error) {
	items, err := s.rdb.LRange(ctx, portalKey(memberID, "received"), 0, -1).Result()
	if err != nil {
		return nil, err
	}
	out := make([]json.RawMessage, len(items))
	for i, it := range items {
		out[i] = json.RawMessage(it)
	}
	return out, nil
}
