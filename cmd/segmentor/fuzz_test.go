package main

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzConfigEnv loads arbitrary environments, as an operator could set
// them. Nothing may panic; a refused one says what is wrong; an accepted
// one has a known role, http(s) URLs and a 32-byte key.
func FuzzConfigEnv(f *testing.F) {
	f.Add("worker", "redis://127.0.0.1:6379/0", "https://seg.example.com", "https://oauth.bitrix.info", "true", strings.Repeat("ab", 32), "id", "secret")
	f.Add("", "", "", "", "", "", "", "")
	f.Add("web", "redis://x", "ftp://x", "http://", "maybe", "c2hvcnQ=", "", "")
	f.Add("all", "rediss://u:p@h:1/2", "http://[::1]:8080/", "https://o/", "0", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "a", "b")
	f.Fuzz(func(t *testing.T, role, redisURL, baseURL, oauthURL, allowHTTP, key, id, secret string) {
		c, _, err := loadConfig(env(map[string]string{
			"ROLE": role, "REDIS_URL": redisURL, "APP_BASE_URL": baseURL, "B24_OAUTH_URL": oauthURL,
			"B24_ALLOW_HTTP": allowHTTP, "APP_SECRET_KEY": key, "B24_CLIENT_ID": id, "B24_CLIENT_SECRET": secret,
		}), "")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "configuration: ") && !strings.Contains(err.Error(), "key") {
				t.Fatalf("unclear error %q", err)
			}
			return
		}
		if !roles[c.Role] || len(c.SecretKey) != 32 {
			t.Fatalf("accepted %+v", c)
		}
		for _, s := range []string{c.AppBaseURL, c.OAuthURL} {
			if u, err := url.Parse(s); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
				t.Fatalf("accepted URL %q", s)
			}
		}
	})
}
