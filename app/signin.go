package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// Sign-ins.
//
// The settings page and the card tabs start a session with the access token
// Bitrix24 gave the page, and the portal confirms whose token it is: two
// REST requests from the portal's budget of about 2 a second, shared with
// the jobs. A sales rep opening cards opens a tab each time, with the same
// token for up to an hour. So a confirmed token is remembered (by its hash,
// never the token) for SignInTTL, and opening another card costs nothing.
//
// A token the portal refuses costs its request too, and anyone may send
// one. Refusals are therefore rationed per portal (SignInFailures): once a
// portal has refused that many, tokens not yet confirmed wait until the
// ration refills, without a request. Tokens already confirmed still work.

// SignInTTL is how long a confirmed token is remembered. Bitrix24's access
// tokens live an hour; a session issued from one lasts an hour as well.
const SignInTTL = 15 * time.Minute

// SignInFailures is the ration of refused sign-ins per portal.
var SignInFailures = redis_rate.Limit{Rate: 10, Period: time.Minute, Burst: 10}

// SignIn is what the portal confirmed about a token's owner.
type SignIn struct {
	UserID   int64  `json:"u"`
	Name     string `json:"n,omitempty"`
	LastName string `json:"l,omitempty"`
	Admin    bool   `json:"a"`
}

func signInKey(memberID, token string) string {
	h := sha256.Sum256([]byte(token))
	return portalKey(memberID, "signin:"+hex.EncodeToString(h[:]))
}

func signInFailKey(memberID string) string { return portalKey(memberID, "signin-refused") }

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
	if err := json.Unmarshal(b, &si); err != nil || si.UserID <= 0 {
		return nil, nil // unreadable: confirm again
	}
	return &si, nil
}

// ConfirmSignIn remembers what the portal confirmed about token.
func (s *Store) ConfirmSignIn(ctx context.Context, memberID, token string, si SignIn) error {
	b, _ := json.Marshal(si)
	if err := s.rdb.Set(ctx, signInKey(memberID, token), b, SignInTTL).Err(); err != nil {
		return fmt.Errorf("sign-in of %s: %w", memberID, err)
	}
	return nil
}

// SignInRefusalsLeft reports whether the portal may be asked about a token
// it has not confirmed yet, and if not, when it may again.
func (s *Store) SignInRefusalsLeft(ctx context.Context, memberID string) (retryIn time.Duration, ok bool, err error) {
	// A cost of 0 reads the ration without spending it.
	res, err := redis_rate.NewLimiter(s.rdb).AllowN(ctx, signInFailKey(memberID), SignInFailures, 0)
	if err != nil {
		return 0, false, fmt.Errorf("sign-in ration of %s: %w", memberID, err)
	}
	if res.Remaining >= 1 {
		return 0, true, nil
	}
	// The ration is empty until one refusal's interval has passed.
	interval := SignInFailures.Period / time.Duration(SignInFailures.Rate)
	return max(res.ResetAfter-time.Duration(SignInFailures.Burst-1)*interval, time.Second), false, nil
}

// SignInRefused spends one refusal of the portal's ration.
func (s *Store) SignInRefused(ctx context.Context, memberID string) error {
	if _, err := redis_rate.NewLimiter(s.rdb).Allow(ctx, signInFailKey(memberID), SignInFailures); err != nil {
		return fmt.Errorf("sign-in ration of %s: %w", memberID, err)
	}
	return nil
}
