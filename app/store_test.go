package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"segmentor/app"
	"segmentor/bitrix"
	"segmentor/internal/keyspace"
	"segmentor/internal/redistest"
)

func newStore(t *testing.T) (*app.Store, *app.Sealer) {
	t.Helper()
	rdb, _ := redistest.New(t)
	seal, err := app.NewSealer(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return app.NewStore(rdb, seal, func() time.Time { return time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC) }), seal
}

func TestTokensAreSealedAndBoundToTheirPortal(t *testing.T) {
	ctx := context.Background()
	rdb, _ := redistest.New(t)
	seal, _ := app.NewSealer(bytes.Repeat([]byte{7}, 32))
	s := app.NewStore(rdb, seal, nil)

	if _, err := s.Load(ctx, "m1"); !errors.Is(err, bitrix.ErrNoToken) {
		t.Fatalf("unknown portal Load = %v, want ErrNoToken", err)
	}
	tok := &bitrix.Token{MemberID: "m1", AccessToken: "access-secret-1", RefreshToken: "refresh-secret-1",
		ClientEndpoint: "https://a.bitrix24.com/rest/", Domain: "a.bitrix24.com", Scope: "crm", Status: "F"}
	if err := s.Save(ctx, tok); err != nil {
		t.Fatal(err)
	}
	got, err := s.Load(ctx, "m1")
	if err != nil || got.AccessToken != tok.AccessToken || got.RefreshToken != tok.RefreshToken {
		t.Fatalf("Load = %+v, %v", got, err)
	}
	p, err := s.Portal(ctx, "m1")
	if err != nil || p.ClientEndpoint != tok.ClientEndpoint || p.State != app.StateInstalling || p.Domain != "a.bitrix24.com" {
		t.Fatalf("portal after first Save = %+v, %v", p, err)
	}
	// Nothing secret is readable in Redis.
	keys := rdb.Keys(ctx, "*").Val()
	for _, k := range keys {
		if !strings.Contains(k, "{m1}") && k != keyspace.Portals {
			t.Errorf("key %q does not carry the portal", k)
		}
		v, _ := rdb.Dump(ctx, k).Result()
		if strings.Contains(v, "secret") {
			t.Errorf("key %q holds a token in clear", k)
		}
	}
	// A sealed token copied into another portal's key does not open.
	raw := rdb.Get(ctx, keyspace.Portal("m1", "token")).Val()
	rdb.Set(ctx, keyspace.Portal("m2", "token"), raw, 0)
	if err := s.Save(ctx, &bitrix.Token{MemberID: "m2", AccessToken: "x"}); err != nil {
		t.Fatal(err)
	}
	rdb.Set(ctx, keyspace.Portal("m2", "token"), raw, 0)
	if _, err := s.Load(ctx, "m2"); err == nil || !strings.Contains(err.Error(), "tampered") {
		t.Errorf("swapped token Load = %v, want a refusal", err)
	}
	// Another key cannot open it either.
	other, _ := app.NewSealer(bytes.Repeat([]byte{8}, 32))
	if _, err := app.NewStore(rdb, other, nil).Load(ctx, "m1"); err == nil {
		t.Error("a different APP_SECRET_KEY opened the token")
	}
}

func TestNeedsReauthAndCounts(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	for _, m := range []string{"m1", "m2", "m3"} {
		if err := s.Save(ctx, &bitrix.Token{MemberID: m, AccessToken: "a"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.MarkNeedsReauth(ctx, "m2", errors.New("invalid_grant")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx, "m2"); !errors.Is(err, bitrix.ErrNeedsReauth) {
		t.Errorf("Load after MarkNeedsReauth = %v", err)
	}
	if n, err := s.CountNeedsReauth(ctx); err != nil || n != 1 {
		t.Errorf("CountNeedsReauth = %d, %v", n, err)
	}
	if err := s.SetState(ctx, "nope", app.StateActive, ""); app.ErrorCode(err) != app.ENotFound {
		t.Errorf("SetState on unknown portal = %v", err)
	}
}

func TestApplicationTokenAndDeletion(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	if tok, err := s.ApplicationToken(ctx, "m1"); err != nil || tok != "" {
		t.Fatalf("no app token yet = %q, %v", tok, err)
	}
	_ = s.Save(ctx, &bitrix.Token{MemberID: "m1", AccessToken: "a"})
	_ = s.Save(ctx, &bitrix.Token{MemberID: "m9", AccessToken: "b"})
	if err := s.SetApplicationToken(ctx, "m1", "apptok"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutConfig(ctx, "m1", 0, json.RawMessage(`{"schemes":[]}`), 1); err != nil {
		t.Fatal(err)
	}
	if tok, _ := s.ApplicationToken(ctx, "m1"); tok != "apptok" {
		t.Fatalf("app token = %q", tok)
	}
	if err := s.DeleteTokens(ctx, "m1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx, "m1"); !errors.Is(err, bitrix.ErrNoToken) {
		t.Errorf("Load after DeleteTokens = %v", err)
	}
	if tok, _ := s.ApplicationToken(ctx, "m1"); tok != "apptok" {
		t.Error("DeleteTokens must keep the application token (uninstall without CLEAN)")
	}
	if err := s.DeleteEverything(ctx, "m1"); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.Config(ctx, "m1"); c.Version != 0 {
		t.Errorf("config survived DeleteEverything: %+v", c)
	}
	if _, err := s.Portal(ctx, "m1"); err != nil {
		t.Errorf("portal record must stay after DeleteEverything: %v", err)
	}
	if _, err := s.Load(ctx, "m9"); err != nil {
		t.Errorf("another portal was touched: %v", err)
	}
}

func TestConfigVersionsRefuseConcurrentEdits(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	c, err := s.Config(ctx, "m1")
	if err != nil || c.Version != 0 || c.Config != nil {
		t.Fatalf("empty config = %+v, %v", c, err)
	}
	v1, err := s.PutConfig(ctx, "m1", 0, json.RawMessage(`{"schemes":[{"entity":"contact"}]}`), 1)
	if err != nil || v1 != 1 {
		t.Fatalf("first save = %d, %v", v1, err)
	}
	if _, err := s.PutConfig(ctx, "m1", 0, json.RawMessage(`{}`), 2); app.ErrorCode(err) != app.EConflict {
		t.Errorf("stale save = %v, want a conflict", err)
	}
	if _, err := s.PutConfig(ctx, "m1", 1, json.RawMessage(`{broken`), 2); app.ErrorCode(err) != app.EInvalid {
		t.Errorf("invalid JSON save = %v", err)
	}
	// Many editors race from the same base: exactly one wins.
	var wg sync.WaitGroup
	wins := make(chan int, 10)
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if v, err := s.PutConfig(ctx, "m1", 1, json.RawMessage(`{"schemes":[]}`), 3); err == nil {
				wins <- v
			}
		}()
	}
	wg.Wait()
	close(wins)
	if len(wins) != 1 {
		t.Errorf("%d concurrent saves from version 1 won, want exactly 1", len(wins))
	}
	c, _ = s.Config(ctx, "m1")
	if c.Version != 2 || c.SavedBy != 3 {
		t.Errorf("current = %+v", c)
	}
	old, err := s.ConfigVersion(ctx, "m1", 1)
	if err != nil || !strings.Contains(string(old.Config), "contact") {
		t.Errorf("version 1 = %+v, %v", old, err)
	}
	if _, err := s.ConfigVersion(ctx, "m1", 99); app.ErrorCode(err) != app.ENotFound {
		t.Errorf("missing version = %v", err)
	}
}
