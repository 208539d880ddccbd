package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// Sign-ins.
//
// The settings page and the card tabs start a session with the access token
// Bitrix24 gave the page, and the portal confirms whose token it is, in one
// REST request (a batch: profile, app.info, and the card's record) from the
// portal's budget of about 2 a second, shared with the jobs. A sales rep
// opening cards opens a tab each time, with the same token for up to an
// hour. So a confirmed token is remembered (by its hash, never the token)
// for SignInTTL, and opening another card costs nothing, or one request
// when the user's access to that record is not yet known.
//
// Anyone can send a made-up token, so checking one that is not remembered
// takes a turn of a budget of its own (TakeTokenCheck), never more than a
// quarter of the smallest plan's 2 requests a second:
//   - per client address, a few a minute, so that one script cannot take
//     the portal's share;
//   - per portal, two pools: an address's first unconfirmed sign-in, and
//     those of an address a sign-in was confirmed from lately, share
//     CheckShare; the others share a smaller SuspectShare. A flood of
//     made-up tokens from many addresses costs each address one turn of
//     the first pool, then competes only with itself.
//   - a page whose current session vouches for its user pays from that
//     user's budget (TakeUserCheck), not from the pools: people who use
//     Segmentor sign in whatever the flood.
//
// A token the portal refused is remembered for RefusalTTL and refused again
// without asking.

// SignInTTL is how long a confirmed token is remembered. Bitrix24's access
// tokens live an hour.
const SignInTTL = 15 * time.Minute

// RefusalTTL is how long a token the portal refused is refused without
// asking again.
const RefusalTTL = 10 * time.Minute

// The token checks' budgets (TakeTokenCheck). In any minute the two
// portal pools allow at most 2+20 and 1+4 requests: 27 of the 120 the
// smallest plan allows (22.5 %); larger plans allow more, so the share is
// smaller there.
var (
	CheckShare      = redis_rate.Limit{Rate: 1, Period: 3 * time.Second, Burst: 2}
	SuspectShare    = redis_rate.Limit{Rate: 1, Period: 15 * time.Second, Burst: 1}
	checkPerAddress = redis_rate.Limit{Rate: 6, Period: time.Minute, Burst: 6}
	checkPerUser    = redis_rate.Limit{Rate: 12, Period: time.Minute, Burst: 6}
)

// CheckLimitedError says a token check cannot have its turn now: the
// client's address used its share (Address), or the portal's share of its
// requests for checks is spent.
type CheckLimitedError struct {
	RetryIn time.Duration
	Address bool
}

func (e *CheckLimitedError) Error() string {
	if e.Address {
		return fmt.Sprintf("too many sign-in checks from this address; next in %v", e.RetryIn)
	}
	return fmt.Sprintf("the portal's share for sign-in checks is spent; next in %v", e.RetryIn)
}

// SignIn is what the portal confirmed about a token's owner.
type SignIn struct {
	UserID   int64  `json:"u"`
	Name     string `json:"n,omitempty"`
	LastName string `json:"l,omitempty"`
	Admin    bool   `json:"a"`
	At       int64  `json:"t,omitempty"` // when the portal confirmed it, unix seconds
	// Records the portal confirmed the user may read ("deal:17"), newest
	// last, at most maxSignInRecords.
	Records []string `json:"r,omitempty"`
}

const maxSignInRecords = 32

// CanRead reports whether the portal confirmed the user may read rec.
func (si *SignIn) CanRead(rec string) bool { return slices.Contains(si.Records, rec) }

// AddRecord notes that the portal confirmed the user may read rec.
func (si *SignIn) AddRecord(rec string) {
	if rec == "" || si.CanRead(rec) {
		return
	}
	si.Records = append(si.Records, rec)
	if n := len(si.Records) - maxSignInRecords; n > 0 {
		si.Records = si.Records[n:]
	}
}

func tokenHash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

func signInKey(memberID, token string) string {
	return portalKey(memberID, "signin:"+tokenHash(token))
}

func refusedKey(memberID, token string) string {
	return portalKey(memberID, "signin-refused:"+tokenHash(token))
}

// ConfirmedSignIn returns what the portal confirmed about token within
// SignInTTL, or nil.
func (s *Store) ConfirmedSignIn(ctx context.Context, memberID, token string) (*SignIn, error) {
	b, err := s.rdb.Get(ctx, signInKey(memberID, token)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sign-in of %s: %w", memberID, err)
	}
	var si SignIn
	if err := json.Unmarshal(b, &si); err != nil || si.UserID <= 0 || si.At <= 0 {
		return nil, nil // unreadable or of an older layout: confirm again
	}
	return &si, nil
}

// ConfirmSignIn remembers what the portal confirmed about token, until
// SignInTTL after si.At (set to now when zero).
func (s *Store) ConfirmSignIn(ctx context.Context, memberID, token string, si SignIn) error {
	now := s.clock()
	if si.At <= 0 {
		si.At = now.Unix()
	}
	ttl := time.Unix(si.At, 0).Add(SignInTTL).Sub(now)
	if ttl < time.Second {
		return nil // too old to be worth remembering
	}
	b, _ := json.Marshal(si)
	if err := s.rdb.Set(ctx, signInKey(memberID, token), b, ttl).Err(); err != nil {
		return fmt.Errorf("sign-in of %s: %w", memberID, err)
	}
	return nil
}

// RefusedSignIn reports whether the portal refused token within RefusalTTL.
func (s *Store) RefusedSignIn(ctx context.Context, memberID, token string) (bool, error) {
	n, err := s.rdb.Exists(ctx, refusedKey(memberID, token)).Result()
	if err != nil {
		return false, fmt.Errorf("sign-in of %s: %w", memberID, err)
	}
	return n > 0, nil
}

// RefuseSignIn remembers that the portal refused token, for RefusalTTL:
// it is refused again without asking.
func (s *Store) RefuseSignIn(ctx context.Context, memberID, token string) error {
	if err := s.rdb.Set(ctx, refusedKey(memberID, token), 1, RefusalTTL).Err(); err != nil {
		return fmt.Errorf("sign-in of %s: %w", memberID, err)
	}
	return nil
}

// TrustAddress notes that a sign-in from addr was confirmed: for SignInTTL
// the address's unconfirmed sign-ins are checked from CheckShare (an
// office's colleagues behind one address, one after another).
func (s *Store) TrustAddress(ctx context.Context, memberID, addr string) error {
	a := addressKey(addr)
	if a == "" {
		return nil
	}
	if err := s.rdb.Set(ctx, portalKey(memberID, "signin-trusted:"+a), 1, SignInTTL).Err(); err != nil {
		return fmt.Errorf("sign-in of %s: %w", memberID, err)
	}
	return nil
}

// TakeTokenCheck takes a turn for asking the portal about a token nobody
// confirmed yet: first the client address's (addr; "" skips it), then its
// pool's in the portal's share, waiting for the latter up to maxWait. An
// address's first unconfirmed sign-in in RefusalTTL, and those of an
// address with a confirmed one in SignInTTL, are checked from CheckShare;
// the others from SuspectShare. A refusal is a *CheckLimitedError.
func (s *Store) TakeTokenCheck(ctx context.Context, memberID, addr string, maxWait time.Duration) error {
	pool, lim := "signin-checks", CheckShare
	if a := addressKey(addr); a != "" {
		res, err := s.limiter.Allow(ctx, portalKey(memberID, "signin-addr:"+a), checkPerAddress)
		if err != nil {
			return fmt.Errorf("sign-in checks of %s: %w", memberID, err)
		}
		if res.Allowed == 0 {
			return &CheckLimitedError{RetryIn: res.RetryAfter, Address: true}
		}
		first, err := s.rdb.SetNX(ctx, portalKey(memberID, "signin-seen:"+a), 1, RefusalTTL).Result()
		if err != nil {
			return fmt.Errorf("sign-in checks of %s: %w", memberID, err)
		}
		if !first {
			n, err := s.rdb.Exists(ctx, portalKey(memberID, "signin-trusted:"+a)).Result()
			if err != nil {
				return fmt.Errorf("sign-in checks of %s: %w", memberID, err)
			}
			if n == 0 {
				pool, lim = "signin-checks-suspect", SuspectShare
			}
		}
	}
	return s.takeTurn(ctx, portalKey(memberID, pool), lim, maxWait)
}

// TakeUserCheck takes a turn for asking the portal about a token of a user
// Segmentor already knows: a card's record for a signed-in user, or the
// sign-in of a page whose current session vouches for its user. A few a
// minute per user (checkPerUser), so one user's script cannot spend the
// portal's budget either.
func (s *Store) TakeUserCheck(ctx context.Context, memberID string, userID int64, maxWait time.Duration) error {
	return s.takeTurn(ctx, portalKey(memberID, fmt.Sprintf("signin-user:%d", userID)), checkPerUser, maxWait)
}

// takeTurn waits up to maxWait for a turn of lim at key.
func (s *Store) takeTurn(ctx context.Context, key string, lim redis_rate.Limit, maxWait time.Duration) error {
	deadline := time.Now().Add(maxWait)
	for {
		res, err := s.limiter.Allow(ctx, key, lim)
		if err != nil {
			return fmt.Errorf("sign-in checks: %w", err)
		}
		if res.Allowed > 0 {
			return nil
		}
		if time.Until(deadline) < res.RetryAfter {
			return &CheckLimitedError{RetryIn: res.RetryAfter}
		}
		t := time.NewTimer(res.RetryAfter)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// addressKey is the part of a client address its budget is kept by: an
// IPv4 address, or an IPv6 address's /64 (one subscriber's, usually). ""
// for no or an unreadable address.
func addressKey(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return ""
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}
