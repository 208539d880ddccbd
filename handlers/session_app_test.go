package handlers_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"segmentor/bitrix"
	"segmentor/handlers"
	"segmentor/internal/testkit"
)

// otherApp stands for app.info answering for a different app installed on
// the same portal: the token is valid there, but not ours.
type otherApp struct{ handlers.TokenCheck }

func (o otherApp) WhoHolds(ctx context.Context, m, endpoint, token string, rec *bitrix.ItemRef) (bitrix.Holder, error) {
	h, err := o.TokenCheck.WhoHolds(ctx, m, endpoint, token, rec)
	h.AppID = "999"
	return h, err
}

func TestSessionRefusesAnotherAppsToken(t *testing.T) {
	s := newSettingsStack(t, "en")
	if p, _ := s.store.Portal(context.Background(), s.sim.MemberID()); p.AppID == "" {
		t.Fatal("setup did not store the app's ID from app.info")
	}
	// Our own admin token gets a session (through the stack's real checker).
	s.login(1)
	// A token that app.info attributes to another app does not, admin or not.
	foreign := &handlers.Sessions{Store: s.store, Check: otherApp{handlers.TokenCheck{Client: s.client}}, Key: sessionKey}
	web := httptest.NewServer(handlers.Router(handlers.Deps{Manifest: s.manifest, Sessions: foreign, API: &handlers.API{Store: s.store}}))
	defer web.Close()
	r := testkit.Request(t, web.URL, "POST", "/api/v1/session", "", map[string]string{"member_id": s.sim.MemberID(), "auth_id": s.sim.IssueTokens(1).AccessToken})
	if r.Status != 401 {
		t.Errorf("session from another app's admin token: %d %s", r.Status, r.Raw)
	}
}
