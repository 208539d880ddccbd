package b24sim

import (
	"net/url"
	"testing"
	"time"
)

func refreshForm(p *Portal, rt string) url.Values {
	return url.Values{"grant_type": {"refresh_token"}, "client_id": {p.ClientID()}, "client_secret": {p.ClientSecret()}, "refresh_token": {rt}}
}

func TestOAuthRefreshRotation(t *testing.T) {
	clk := newFakeClock()
	p := New(Options{Clock: clk.Now, Seed: 1})
	defer p.Close()
	first := p.IssueTokens(1)
	if r := callForm(t, p, "profile", first.AccessToken, nil); r.Status != 200 {
		t.Fatalf("profile with a fresh token = %d %s", r.Status, r.Raw)
	}

	// refresh by GET with the query (settings/oauth/auto-renewal.md) → a new pair with every field of §2.2
	r := oauthGet(t, p, refreshForm(p, first.RefreshToken))
	if r.Status != 200 {
		t.Fatalf("refresh = %d %s", r.Status, r.Raw)
	}
	for _, k := range []string{"access_token", "client_endpoint", "domain", "expires", "expires_in", "member_id", "refresh_token", "scope", "server_endpoint", "status", "user_id"} {
		if _, ok := r.Body[k]; !ok {
			t.Errorf("token response lacks %q: %s", k, r.Raw)
		}
	}
	if r.Body["client_endpoint"] != p.ClientEndpoint() || r.Body["server_endpoint"] != p.OAuthURL()+"/rest/" ||
		r.Body["domain"] != "oauth.bitrix.info" || r.Body["scope"] != AppScope ||
		r.Body["member_id"] != p.MemberID() || r.Body["user_id"] != float64(1) || r.Body["expires_in"] != float64(3600) ||
		r.Body["expires"] != float64(clk.Now().Add(time.Hour).Unix()) {
		t.Errorf("token response = %s", r.Raw)
	}
	second := r.Body["access_token"].(string)
	secondRT := r.Body["refresh_token"].(string)
	if second == first.AccessToken || secondRT == first.RefreshToken {
		t.Error("refresh did not rotate the pair")
	}

	// the old access token died with its refresh token; reuse → invalid_grant
	if r := callForm(t, p, "profile", first.AccessToken, nil); r.Status != 401 || r.errCode() != "invalid_token" {
		t.Errorf("old access token = %d %s", r.Status, r.Raw)
	}
	if r := oauthGet(t, p, refreshForm(p, first.RefreshToken)); r.Status != 400 || r.errCode() != "invalid_grant" {
		t.Errorf("refresh token reuse = %d %s", r.Status, r.Raw)
	}
	if r := callForm(t, p, "profile", second, nil); r.Status != 200 {
		t.Errorf("new token = %d %s", r.Status, r.Raw)
	}

	// refresh by GET query works too
	if r := oauthGet(t, p, refreshForm(p, secondRT)); r.Status != 200 || r.Body["access_token"] == "" {
		t.Errorf("GET refresh = %d %s", r.Status, r.Raw)
	}
	if p.Refreshes() != 2 || p.Stats().Refreshes != 2 {
		t.Errorf("Refreshes = %d", p.Refreshes())
	}
}

func TestOAuthExpiryAndErrors(t *testing.T) {
	clk := newFakeClock()
	p := New(Options{Clock: clk.Now, AccessTokenTTL: 10 * time.Minute})
	defer p.Close()
	tk := p.IssueTokens(1)
	if tk.ExpiresIn != 600 {
		t.Errorf("ExpiresIn = %d", tk.ExpiresIn)
	}
	clk.Advance(9 * time.Minute)
	if r := callForm(t, p, "server.time", tk.AccessToken, nil); r.Status != 200 {
		t.Errorf("before expiry = %d", r.Status)
	}
	clk.Advance(time.Minute)
	r := callForm(t, p, "server.time", tk.AccessToken, nil)
	if r.Status != 401 || r.errCode() != "expired_token" || r.Body["error_description"] != "The access token provided has expired." {
		t.Errorf("after expiry = %d %s", r.Status, r.Raw)
	}
	// refresh still works after the access token expired
	if r := oauthGet(t, p, refreshForm(p, tk.RefreshToken)); r.Status != 200 {
		t.Errorf("refresh after expiry = %d %s", r.Status, r.Raw)
	}

	// "expire now"
	tk2 := p.IssueTokens(1)
	p.ExpireAccessTokens()
	if r := callForm(t, p, "server.time", tk2.AccessToken, nil); r.errCode() != "expired_token" {
		t.Errorf("ExpireAccessTokens: %s", r.Raw)
	}

	bad := refreshForm(p, tk2.RefreshToken)
	bad.Set("client_secret", "nope")
	if r := oauthGet(t, p, bad); r.Status != 401 || r.errCode() != "invalid_client" {
		t.Errorf("wrong secret = %d %s", r.Status, r.Raw)
	}
	bad = refreshForm(p, tk2.RefreshToken)
	bad.Set("client_id", "other.app")
	if r := oauthGet(t, p, bad); r.Status != 401 || r.errCode() != "invalid_client" {
		t.Errorf("wrong client_id = %d %s", r.Status, r.Raw)
	}
	if r := oauthGet(t, p, refreshForm(p, "no-such-token")); r.Status != 400 || r.errCode() != "invalid_grant" {
		t.Errorf("unknown refresh token = %d %s", r.Status, r.Raw)
	}
	if r := callForm(t, p, "server.time", "", nil); r.Status != 401 || r.errCode() != "NO_AUTH_FOUND" {
		t.Errorf("missing auth = %d %s", r.Status, r.Raw)
	}
	if r := callForm(t, p, "server.time", "garbage", nil); r.Status != 401 || r.errCode() != "invalid_token" {
		t.Errorf("unknown token = %d %s", r.Status, r.Raw)
	}

	// RevokeAll kills both kinds
	tk3 := p.IssueTokens(1)
	p.RevokeAll()
	if r := callForm(t, p, "server.time", tk3.AccessToken, nil); r.errCode() != "invalid_token" {
		t.Errorf("revoked access token: %s", r.Raw)
	}
	if r := oauthGet(t, p, refreshForm(p, tk3.RefreshToken)); r.errCode() != "invalid_grant" {
		t.Errorf("revoked refresh token: %s", r.Raw)
	}
}

func TestOAuthAuthorizationCode(t *testing.T) {
	clk := newFakeClock()
	p := New(Options{Clock: clk.Now})
	defer p.Close()
	u := p.AddUser(User{Name: "Bob", LastName: "User"})
	form := func(code string) url.Values {
		return url.Values{"grant_type": {"authorization_code"}, "client_id": {p.ClientID()}, "client_secret": {p.ClientSecret()}, "code": {code}}
	}
	code := p.AuthCode(u.ID)
	r := oauthGet(t, p, form(code))
	if r.Status != 200 || r.Body["user_id"] != float64(u.ID) {
		t.Fatalf("code exchange = %d %s", r.Status, r.Raw)
	}
	if r := callForm(t, p, "user.admin", r.Body["access_token"].(string), nil); r.Body["result"] != false {
		t.Errorf("user.admin of a non-admin = %s", r.Raw)
	}
	if r := oauthGet(t, p, form(code)); r.errCode() != "invalid_grant" {
		t.Errorf("code reuse: %s", r.Raw)
	}
	late := p.AuthCode(u.ID)
	clk.Advance(31 * time.Second)
	if r := oauthGet(t, p, form(late)); r.Status != 400 || r.errCode() != "invalid_grant" {
		t.Errorf("expired code = %d %s", r.Status, r.Raw)
	}
}

func TestScopeCheck(t *testing.T) {
	p := New(Options{})
	defer p.Close()
	p.methods["crm.test.ping"] = func(p *Portal, c *Call) (any, error) { return "pong", nil }
	full := p.IssueTokens(1)
	narrow := p.IssueTokensScope(1, "placement")
	if r := callForm(t, p, "crm.test.ping", full.AccessToken, nil); r.Status != 200 {
		t.Errorf("crm with crm scope = %d %s", r.Status, r.Raw)
	}
	if r := callForm(t, p, "crm.test.ping", narrow.AccessToken, nil); r.Status != 403 || r.errCode() != "insufficient_scope" {
		t.Errorf("crm without crm scope = %d %s", r.Status, r.Raw)
	}
	// inside a batch the command fails, the batch does not
	r := callJSON(t, p, "batch", narrow.AccessToken, `{"cmd":{"a":"crm.test.ping","b":"server.time"}}`)
	res := r.Body["result"].(map[string]any)
	if e := res["result_error"].(map[string]any)["a"].(map[string]any); e["error"] != "insufficient_scope" {
		t.Errorf("batch scope error = %s", r.Raw)
	}
	if r := callForm(t, p, "scope", narrow.AccessToken, nil); len(r.Body["result"].([]any)) != 1 {
		t.Errorf("scope = %s", r.Raw)
	}
}
