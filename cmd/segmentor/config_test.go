package main

import (
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadConfigEmbeddedDefaults(t *testing.T) {
	c, warns, err := loadConfig(env(nil), "")
	if err != nil {
		t.Fatalf("no configuration must run on embedded defaults, got %v", err)
	}
	if c.Role != "all" || c.ListenAddr != ":8080" || c.AppBaseURL != "http://localhost:8080" || len(c.SecretKey) != 32 || c.OAuthURL != "https://oauth.bitrix.info" {
		t.Errorf("defaults = %+v", c)
	}
	if len(warns) != 4 || !c.RegistrySim {
		t.Errorf("want warnings for APP_BASE_URL, client credentials, the key and the registry simulator, got %q (simulator %v)", warns, c.RegistrySim)
	}
}

// The registry's address: the simulator only with the embedded defaults;
// in production GUS's own (REGISTRY_URL empty: gus.ProductionURL); a bad
// address refused.
func TestLoadConfigRegistry(t *testing.T) {
	prod := map[string]string{"REDIS_URL": "redis://localhost:6379/0", "APP_BASE_URL": "https://seg.example.com",
		"B24_CLIENT_ID": "app.1", "B24_CLIENT_SECRET": "s", "APP_SECRET_KEY": strings.Repeat("ab", 32)}
	c, _, err := loadConfig(env(prod), "")
	if err != nil || c.RegistrySim || c.RegistryURL != "" {
		t.Errorf("production without REGISTRY_URL: sim %v, url %q, %v; want GUS's own address", c.RegistrySim, c.RegistryURL, err)
	}
	prod["REGISTRY_URL"], prod["REGISTRY_KEY"] = "https://wyszukiwarkaregontest.stat.gov.pl/wsBIR/UslugaBIRzewnPubl.svc", "k"
	if c, _, err = loadConfig(env(prod), ""); err != nil || c.RegistryURL != prod["REGISTRY_URL"] || c.RegistryKey != "k" {
		t.Errorf("REGISTRY_URL and REGISTRY_KEY: %+v, %v", c, err)
	}
	if _, _, err := loadConfig(env(map[string]string{"REGISTRY_URL": "wyszukiwarka"}), ""); err == nil || !strings.Contains(err.Error(), "REGISTRY_URL") {
		t.Errorf("a REGISTRY_URL that is no URL: %v", err)
	}
}

func TestLoadConfigProduction(t *testing.T) {
	full := map[string]string{
		"REDIS_URL": "redis://localhost:6379/0", "APP_BASE_URL": "https://seg.example.com/",
		"B24_CLIENT_ID": "app.1", "B24_CLIENT_SECRET": "s", "APP_SECRET_KEY": strings.Repeat("ab", 32),
		"B24_ALLOW_HTTP": "true", "LISTEN_ADDR": ":9000",
	}
	c, warns, err := loadConfig(env(full), "web")
	if err != nil || len(warns) != 0 {
		t.Fatalf("full config: err=%v warns=%q", err, warns)
	}
	if c.AppBaseURL != "https://seg.example.com" || !c.AllowHTTP || c.Role != "web" || c.SecretKey[0] != 0xab {
		t.Errorf("parsed %+v", c)
	}
	if c.ReconcileEvery != 0 || c.UninstallGrace != 0 || c.UninstallCleanGrace != 0 {
		t.Errorf("periods unset must keep their defaults (0 here): %s %s %s", c.ReconcileEvery, c.UninstallGrace, c.UninstallCleanGrace)
	}
	full2 := map[string]string{"RECONCILE_EVERY": "90s", "UNINSTALL_GRACE": "240h", "UNINSTALL_CLEAN_GRACE": "2h"}
	for k, v := range full {
		full2[k] = v
	}
	if c, _, err := loadConfig(env(full2), "web"); err != nil || c.ReconcileEvery != 90*time.Second ||
		c.UninstallGrace != 240*time.Hour || c.UninstallCleanGrace != 2*time.Hour {
		t.Errorf("periods: %s %s %s, %v", c.ReconcileEvery, c.UninstallGrace, c.UninstallCleanGrace, err)
	}
	if c.OpsPassword != "" || c.OpsUser != "ops" {
		t.Errorf("the queue view must be off by default, user ops: %q %q", c.OpsUser, c.OpsPassword)
	}
	if _, warns, _ := loadConfig(env(map[string]string{"OPS_USER": "admin"}), ""); !strings.Contains(strings.Join(warns, "\n"), "OPS_USER is set without OPS_PASSWORD") {
		t.Errorf("OPS_USER alone: want a warning that the queue view is off, got %q", warns)
	}

	tests := []struct {
		name   string
		change map[string]string
		role   string
		want   string
	}{
		{"missing base url", map[string]string{"APP_BASE_URL": ""}, "", "APP_BASE_URL is required"},
		{"worker needs the base url too", map[string]string{"APP_BASE_URL": ""}, "worker", "APP_BASE_URL is required"},
		{"missing secret key", map[string]string{"APP_SECRET_KEY": ""}, "", "APP_SECRET_KEY is required"},
		{"short key", map[string]string{"APP_SECRET_KEY": "abcd"}, "", "must be 32 bytes"},
		{"base64 key", map[string]string{"APP_SECRET_KEY": "q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s="}, "", ""},
		{"missing client", map[string]string{"B24_CLIENT_SECRET": ""}, "", "B24_CLIENT_ID and B24_CLIENT_SECRET"},
		{"bad role", nil, "admin", `ROLE "admin"`},
		{"bad bool", map[string]string{"B24_ALLOW_HTTP": "maybe"}, "", "B24_ALLOW_HTTP"},
		{"bad oauth url", map[string]string{"B24_OAUTH_URL": "oauth.bitrix.info"}, "", "B24_OAUTH_URL"},
		{"operator password", map[string]string{"OPS_PASSWORD": strings.Repeat("p", 16)}, "", ""},
		{"short operator password", map[string]string{"OPS_PASSWORD": "hunter2"}, "", "OPS_PASSWORD: use at least 16"},
		{"operator user with a colon", map[string]string{"OPS_USER": "a:b", "OPS_PASSWORD": strings.Repeat("p", 16)}, "", "OPS_USER"},
		{"reconcile every 2 minutes", map[string]string{"RECONCILE_EVERY": "2m"}, "", ""},
		{"reconcile not a duration", map[string]string{"RECONCILE_EVERY": "5"}, "", `RECONCILE_EVERY "5": use a duration from 10s to 24h0m0s`},
		{"reconcile too often", map[string]string{"RECONCILE_EVERY": "1s"}, "", "RECONCILE_EVERY"},
		{"a year's grace", map[string]string{"UNINSTALL_GRACE": "8760h"}, "", ""},
		{"no grace", map[string]string{"UNINSTALL_CLEAN_GRACE": "0s"}, "", "UNINSTALL_CLEAN_GRACE"},
	}
	for _, tt := range tests {
		m := map[string]string{}
		for k, v := range full {
			m[k] = v
		}
		for k, v := range tt.change {
			m[k] = v
		}
		_, _, err := loadConfig(env(m), tt.role)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: unexpected error %v", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: error %v, want it to contain %q", tt.name, err, tt.want)
		}
	}
}

// TRUSTED_PROXIES names the reverse proxies whose X-Forwarded-For is the
// client's address (the sign-in checks are budgeted per address); a value
// that is neither an IP nor a CIDR is refused with its name.
func TestLoadConfigTrustedProxies(t *testing.T) {
	c, _, err := loadConfig(env(map[string]string{"TRUSTED_PROXIES": " 10.0.0.0/8, 127.0.0.1 ,"}), "")
	if err != nil || strings.Join(c.TrustedProxies, " ") != "10.0.0.0/8 127.0.0.1" {
		t.Errorf("TRUSTED_PROXIES: %q, %v", c.TrustedProxies, err)
	}
	if c, _, err := loadConfig(env(nil), ""); err != nil || c.TrustedProxies != nil {
		t.Errorf("no TRUSTED_PROXIES: %q, %v", c.TrustedProxies, err)
	}
	_, _, err = loadConfig(env(map[string]string{"TRUSTED_PROXIES": "10.0.0.0/8,proxy.local"}), "")
	if err == nil || !strings.Contains(err.Error(), `TRUSTED_PROXIES: "proxy.local" is neither an IP address nor a CIDR`) {
		t.Errorf("a host name in TRUSTED_PROXIES: %v", err)
	}
}

// REDIS_CLUSTER_ADDRS runs Segmentor on a Redis Cluster: seed nodes as
// host:port, credentials in REDIS_USERNAME/REDIS_PASSWORD. It stands for
// REDIS_URL (production values are required, nothing is embedded) and is
// refused beside it, as are credentials that would be ignored.
func TestLoadConfigRedisCluster(t *testing.T) {
	prod := map[string]string{
		"REDIS_CLUSTER_ADDRS": " redis-1:6379,redis-2:6379 ,10.0.0.3:7001,", "REDIS_PASSWORD": "pw", "REDIS_USERNAME": "seg",
		"APP_BASE_URL": "https://seg.example.com", "B24_CLIENT_ID": "app.1", "B24_CLIENT_SECRET": "s",
		"APP_SECRET_KEY": strings.Repeat("ab", 32),
	}
	c, warns, err := loadConfig(env(prod), "worker")
	if err != nil || len(warns) != 0 {
		t.Fatalf("cluster config: err=%v warns=%q", err, warns)
	}
	if strings.Join(c.RedisClusterAddrs, " ") != "redis-1:6379 redis-2:6379 10.0.0.3:7001" || c.RedisPassword != "pw" ||
		c.RedisUsername != "seg" || c.RedisURL != "" {
		t.Errorf("parsed %q user %q password %q url %q", c.RedisClusterAddrs, c.RedisUsername, c.RedisPassword, c.RedisURL)
	}
	if got := defaultCommand(env(map[string]string{"REDIS_CLUSTER_ADDRS": "r:6379"})); got != "serve" {
		t.Errorf("with REDIS_CLUSTER_ADDRS set the default command is %q, want serve", got)
	}
	// Not embedded: what production requires is required with a cluster too.
	if _, _, err := loadConfig(env(map[string]string{"REDIS_CLUSTER_ADDRS": "r:6379"}), ""); err == nil ||
		!strings.Contains(err.Error(), "APP_SECRET_KEY is required with REDIS_URL or REDIS_CLUSTER_ADDRS") ||
		!strings.Contains(err.Error(), "APP_BASE_URL is required") {
		t.Errorf("a cluster with nothing else configured: %v, want APP_SECRET_KEY and APP_BASE_URL required", err)
	}
	for _, tt := range []struct {
		name   string
		change map[string]string
		want   string
	}{
		{"both", map[string]string{"REDIS_URL": "redis://r:6379/0", "REDIS_PASSWORD": ""}, "REDIS_URL and REDIS_CLUSTER_ADDRS are both set"},
		{"no port", map[string]string{"REDIS_CLUSTER_ADDRS": "redis-1:6379,redis-2"}, `REDIS_CLUSTER_ADDRS: "redis-2" is not host:port`},
		{"bad port", map[string]string{"REDIS_CLUSTER_ADDRS": "redis-1:http"}, `"redis-1:http" is not host:port`},
		{"no host", map[string]string{"REDIS_CLUSTER_ADDRS": ":6379"}, `":6379" is not host:port`},
		{"only commas", map[string]string{"REDIS_CLUSTER_ADDRS": " , "}, "list the cluster's nodes"},
		{"a URL", map[string]string{"REDIS_CLUSTER_ADDRS": "redis://r:6379"}, "is not host:port"},
		{"password without a cluster", map[string]string{"REDIS_CLUSTER_ADDRS": "", "REDIS_URL": "redis://r:6379/0"}, "with REDIS_URL put them in the URL"},
		{"no password", map[string]string{"REDIS_PASSWORD": "", "REDIS_USERNAME": ""}, ""},
		{"IPv6", map[string]string{"REDIS_CLUSTER_ADDRS": "[::1]:7001,[fd00::2]:7002"}, ""},
	} {
		m := map[string]string{}
		for k, v := range prod {
			m[k] = v
		}
		for k, v := range tt.change {
			m[k] = v
		}
		_, _, err := loadConfig(env(m), "")
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: unexpected error %v", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: error %v, want it to contain %q", tt.name, err, tt.want)
		}
	}
	if _, _, err := loadConfig(env(map[string]string{"REDIS_PASSWORD": "pw"}), ""); err == nil || !strings.Contains(err.Error(), "need REDIS_CLUSTER_ADDRS") {
		t.Errorf("REDIS_PASSWORD alone: %v, want it refused", err)
	}
}

// B24_RATE_LIMIT paces every portal at the operator's budget instead of
// its plan's (an on-premise Bitrix24, or a portal whose limit was
// raised): RATE or RATE/BURST, whole requests a second; without a burst,
// one second's requests. Anything else is refused with its name.
func TestLoadConfigRateLimit(t *testing.T) {
	if c, _, err := loadConfig(env(nil), ""); err != nil || c.RateLimit != 0 || c.RateBurst != 0 {
		t.Errorf("no B24_RATE_LIMIT: %d/%d, %v; want 0 (each portal's plan)", c.RateLimit, c.RateBurst, err)
	}
	for _, tt := range []struct {
		v           string
		rate, burst int
		want        string
	}{
		{v: "50/250", rate: 50, burst: 250},
		{v: " 20 / 400 ", rate: 20, burst: 400},
		{v: "50", rate: 50, burst: 50},
		{v: "1/1", rate: 1, burst: 1},
		{v: "10000/100000", rate: 10000, burst: 100000},
		{v: "0", want: "the rate must be 1 to 10000"},
		{v: "-5/10", want: "the rate must be 1 to 10000"},
		{v: "10001", want: "the rate must be 1 to 10000"},
		{v: "50/0", want: "the burst must be 1 to 100000"},
		{v: "50/100001", want: "the burst must be 1 to 100000"},
		{v: "2.5/50", want: "use RATE or RATE/BURST"},
		{v: "50/", want: "use RATE or RATE/BURST"},
		{v: "/250", want: "use RATE or RATE/BURST"},
		{v: "50/250/1", want: "use RATE or RATE/BURST"},
		{v: "50/s", want: "use RATE or RATE/BURST"},
		{v: "enterprise", want: "use RATE or RATE/BURST"},
	} {
		c, _, err := loadConfig(env(map[string]string{"B24_RATE_LIMIT": tt.v}), "")
		switch {
		case tt.want == "" && (err != nil || c.RateLimit != tt.rate || c.RateBurst != tt.burst):
			t.Errorf("B24_RATE_LIMIT %q: %d/%d, %v; want %d/%d", tt.v, c.RateLimit, c.RateBurst, err, tt.rate, tt.burst)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), `B24_RATE_LIMIT "`+tt.v+`": `) || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("B24_RATE_LIMIT %q: error %v, want it named and to contain %q", tt.v, err, tt.want)
		}
	}
}
