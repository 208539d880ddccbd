package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

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
// A token the portal refuses is not remembered: it costs its request each
// time, within the page's turn in the budget (at most one urgent turn in
// 2 s, bitrix.Client.AsUser). Rationing refusals per portal was tried and
// dropped: ten made-up tokens a minute would then lock every user out of
// the page, a far cheaper attack than the one it bounds.

// SignInTTL is how long a confirmed token is remembered. Bitrix24's access
// tokens live an hour; a session issued from one lasts an hour as well.
const SignInTTL = 15 * time.Minute

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
