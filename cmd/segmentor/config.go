package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"segmentor/handlers"
	"segmentor/registry"
)

// config is the process configuration, read from the environment; app.json
// documents the same variables.
type config struct {
	Role         string // all, web, worker
	ListenAddr   string
	AppBaseURL   string
	ClientID     string
	ClientSecret string
	OAuthURL     string
	AllowHTTP    bool
	RedisURL     string
	// RedisClusterAddrs are the seed nodes of a Redis Cluster
	// (REDIS_CLUSTER_ADDRS, host:port each), used instead of RedisURL;
	// RedisUsername and RedisPassword (REDIS_USERNAME, REDIS_PASSWORD) are
	// its credentials, which REDIS_URL carries in the URL instead.
	RedisClusterAddrs            []string
	RedisUsername, RedisPassword string
	SecretKey                    []byte
	// OpsAddr is where every role serves the probes, /metrics and the
	// queue view to operators only; "" for none: then /metrics and the
	// queue view are on LISTEN_ADDR behind the operator's password, or
	// nowhere without one.
	OpsAddr string
	// OpsUser and OpsPassword guard the operator's queue view
	// (/ops/queues) and, without OPS_ADDR, /metrics; with no password
	// neither is served on LISTEN_ADDR.
	OpsUser, OpsPassword string
	// ReconcileEvery is how often every portal is scanned for changes whose
	// events were lost (RECONCILE_EVERY, jobs.DefaultReconcileEvery).
	ReconcileEvery time.Duration
	// UninstallGrace and UninstallCleanGrace are how long a confirmed
	// uninstall keeps a portal's data, without and with "delete app data"
	// (UNINSTALL_GRACE, UNINSTALL_CLEAN_GRACE; app.DefaultGrace and
	// app.DefaultCleanGrace).
	UninstallGrace, UninstallCleanGrace time.Duration
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names a
	// request's client (TRUSTED_PROXIES); none: the connection's peer.
	TrustedProxies []string
	// RegistryURL is the company registry's service (REGISTRY_URL, GUS
	// BIR; default its production address) and RegistryKey the operator's
	// key for portals without their own (REGISTRY_KEY). With the embedded
	// defaults and no REGISTRY_URL, RegistrySim runs the registry's
	// simulator in the process instead.
	RegistryURL, RegistryKey string
	RegistrySim              bool
	// RegistryRate is each registry key's budget in requests a minute
	// (REGISTRY_RATE); 0: registry.DefaultLimit's.
	RegistryRate int
	// RateLimit and RateBurst are every portal's REST budget, requests a
	// second and the bucket (B24_RATE_LIMIT: an on-premise Bitrix24, or a
	// portal whose limit was raised); RateLimit 0: each portal's plan's.
	RateLimit, RateBurst int
}

// maxRateLimit and maxRateBurst bound B24_RATE_LIMIT: far above any
// portal's limit, low enough to catch a typo.
const (
	maxRateLimit = 10_000
	maxRateBurst = 100_000
)

// minOpsPassword is the shortest operator password accepted: without
// OPS_ADDR, /metrics and the queue view answer on the public port, behind
// HTTP Basic only.
const minOpsPassword = 16

var roles = map[string]bool{"all": true, "web": true, "worker": true}

// loadConfig reads the environment through getenv. With no REDIS_URL the app
// runs on embedded defaults: what production requires is filled with
// development values and reported as warnings instead of failing.
func loadConfig(getenv func(string) string, role string) (config, []string, error) {
	c := config{
		Role:         firstNonEmpty(role, getenv("ROLE"), "all"),
		ListenAddr:   firstNonEmpty(getenv("LISTEN_ADDR"), ":8080"),
		AppBaseURL:   strings.TrimRight(getenv("APP_BASE_URL"), "/"),
		ClientID:     getenv("B24_CLIENT_ID"),
		ClientSecret: getenv("B24_CLIENT_SECRET"),
		OAuthURL:     strings.TrimRight(firstNonEmpty(getenv("B24_OAUTH_URL"), "https://oauth.bitrix.info"), "/"),
		RedisURL:     getenv("REDIS_URL"),
		OpsAddr:      getenv("OPS_ADDR"),
		OpsUser:      firstNonEmpty(getenv("OPS_USER"), "ops"),
		OpsPassword:  getenv("OPS_PASSWORD"),
	}
	var warns []string
	var problems []string
	problems = append(problems, c.readRedisCluster(getenv)...)
	embedded := c.RedisURL == "" && len(c.RedisClusterAddrs) == 0
	if !roles[c.Role] {
		problems = append(problems, fmt.Sprintf("ROLE %q: use all, web or worker", c.Role))
	}
	if v := getenv("B24_ALLOW_HTTP"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			problems = append(problems, fmt.Sprintf("B24_ALLOW_HTTP %q: use true or false", v))
		}
		c.AllowHTTP = b
	}
	if _, _, err := net.SplitHostPort(c.OpsAddr); c.OpsAddr != "" && err != nil {
		problems = append(problems, fmt.Sprintf("OPS_ADDR %q: use host:port, e.g. :9090", c.OpsAddr))
	}
	switch {
	case c.OpsPassword != "" && len(c.OpsPassword) < minOpsPassword:
		problems = append(problems, fmt.Sprintf("OPS_PASSWORD: use at least %d characters (openssl rand -hex 16)", minOpsPassword))
	case strings.Contains(c.OpsUser, ":"):
		problems = append(problems, "OPS_USER: a user name for HTTP Basic cannot contain ':'")
	case getenv("OPS_USER") != "" && c.OpsPassword == "":
		warns = append(warns, "OPS_USER is set without OPS_PASSWORD: the queue view (/ops/queues) is not served, and /metrics only on OPS_ADDR")
	}
	if u, err := url.Parse(c.OAuthURL); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		problems = append(problems, fmt.Sprintf("B24_OAUTH_URL %q: not an http(s) URL", c.OAuthURL))
	}
	// Every role needs it: the worker's setup job binds event and card-tab
	// handlers to it.
	switch {
	case c.AppBaseURL == "" && embedded:
		c.AppBaseURL = "http://localhost" + portOf(c.ListenAddr)
		warns = append(warns, "APP_BASE_URL is not set: using "+c.AppBaseURL+"; Bitrix24 cannot reach it, so set a public https URL for real portals")
	case c.AppBaseURL == "":
		problems = append(problems, "APP_BASE_URL is required: the public https URL Bitrix24 posts events to")
	case c.AppBaseURL != "":
		if u, err := url.Parse(c.AppBaseURL); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			problems = append(problems, fmt.Sprintf("APP_BASE_URL %q: not an http(s) URL", c.AppBaseURL))
		}
	}
	if c.ClientID == "" || c.ClientSecret == "" {
		if embedded {
			warns = append(warns, "B24_CLIENT_ID/B24_CLIENT_SECRET are not set: installs from Bitrix24 will be refused")
		} else {
			problems = append(problems, "B24_CLIENT_ID and B24_CLIENT_SECRET are required: copy them from the app's card in the Bitrix24 vendor console")
		}
	}
	switch key := getenv("APP_SECRET_KEY"); {
	case key != "":
		k, err := parseKey(key)
		if err != nil {
			problems = append(problems, "APP_SECRET_KEY: "+err.Error())
		}
		c.SecretKey = k
	case embedded:
		c.SecretKey = make([]byte, 32)
		if _, err := rand.Read(c.SecretKey); err != nil {
			return c, nil, fmt.Errorf("generate a session key: %w", err)
		}
		warns = append(warns, "APP_SECRET_KEY is not set: using a random key, so sessions end when the process stops")
	default:
		problems = append(problems, "APP_SECRET_KEY is required with REDIS_URL or REDIS_CLUSTER_ADDRS: 32 bytes as hex (64 chars) or base64 — tokens are encrypted with it at rest")
	}
	tp, err := handlers.ParseTrustedProxies(getenv("TRUSTED_PROXIES"))
	if err != nil {
		problems = append(problems, "TRUSTED_PROXIES: "+err.Error())
	}
	c.TrustedProxies = tp
	c.RegistryURL, c.RegistryKey = strings.TrimSpace(getenv("REGISTRY_URL")), getenv("REGISTRY_KEY")
	switch u, err := url.Parse(c.RegistryURL); {
	case c.RegistryURL == "" && embedded:
		c.RegistrySim = true
		warns = append(warns, "REGISTRY_URL is not set: company registry lookups go to the built-in registry simulator (made-up companies)")
	case c.RegistryURL != "" && (err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http")):
		problems = append(problems, fmt.Sprintf("REGISTRY_URL %q: not an http(s) URL", c.RegistryURL))
	}
	if v := getenv("REGISTRY_RATE"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < registry.DefaultLookupCost || n > 100_000 {
			problems = append(problems, fmt.Sprintf("REGISTRY_RATE %q: requests a minute, %d to 100000 (GUS allows 99 a minute by day, more at night)", v, registry.DefaultLookupCost))
		}
		c.RegistryRate = n
	}
	if v := getenv("B24_RATE_LIMIT"); v != "" {
		rate, burst, err := parseRateLimit(v)
		if err != nil {
			problems = append(problems, fmt.Sprintf("B24_RATE_LIMIT %q: %v", v, err))
		}
		c.RateLimit, c.RateBurst = rate, burst
	}
	problems = append(problems, c.readDurations(getenv)...)
	if len(problems) > 0 {
		return c, warns, errors.New("configuration: " + strings.Join(problems, "; "))
	}
	return c, warns, nil
}

// readRedisCluster reads the Redis Cluster's seed nodes and credentials;
// it returns what is wrong with them.
func (c *config) readRedisCluster(getenv func(string) string) []string {
	var problems []string
	raw := getenv("REDIS_CLUSTER_ADDRS")
	c.RedisUsername, c.RedisPassword = getenv("REDIS_USERNAME"), getenv("REDIS_PASSWORD")
	for _, a := range strings.Split(raw, ",") {
		if a = strings.TrimSpace(a); a == "" {
			continue
		}
		host, port, err := net.SplitHostPort(a)
		if n, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
			problems = append(problems, fmt.Sprintf("REDIS_CLUSTER_ADDRS: %q is not host:port (e.g. redis-1:6379)", a))
			continue
		}
		c.RedisClusterAddrs = append(c.RedisClusterAddrs, a)
	}
	switch {
	case strings.TrimSpace(raw) != "" && len(c.RedisClusterAddrs) == 0 && len(problems) == 0:
		problems = append(problems, "REDIS_CLUSTER_ADDRS: list the cluster's nodes as host:port, comma-separated")
	case raw != "" && c.RedisURL != "":
		problems = append(problems, "REDIS_URL and REDIS_CLUSTER_ADDRS are both set: use REDIS_URL for one Redis server, or REDIS_CLUSTER_ADDRS for a Redis Cluster, not both")
	case (c.RedisPassword != "" || c.RedisUsername != "") && c.RedisURL != "":
		problems = append(problems, "REDIS_USERNAME and REDIS_PASSWORD are for REDIS_CLUSTER_ADDRS: with REDIS_URL put them in the URL (redis://user:password@host:6379/0)")
	case (c.RedisPassword != "" || c.RedisUsername != "") && raw == "":
		problems = append(problems, "REDIS_USERNAME and REDIS_PASSWORD need REDIS_CLUSTER_ADDRS")
	}
	return problems
}

// readDurations reads the periods an operator may change, each a Go
// duration such as 5m or 720h; it returns what is wrong with them.
func (c *config) readDurations(getenv func(string) string) []string {
	var problems []string
	for _, d := range []struct {
		name, example string
		dst           *time.Duration
		min, max      time.Duration
	}{
		{"RECONCILE_EVERY", "5m", &c.ReconcileEvery, 10 * time.Second, 24 * time.Hour},
		{"UNINSTALL_GRACE", "720h", &c.UninstallGrace, time.Hour, 365 * 24 * time.Hour},
		{"UNINSTALL_CLEAN_GRACE", "24h", &c.UninstallCleanGrace, time.Hour, 365 * 24 * time.Hour},
	} {
		v := getenv(d.name)
		if v == "" {
			continue
		}
		n, err := time.ParseDuration(v)
		if err != nil || n < d.min || n > d.max {
			problems = append(problems, fmt.Sprintf("%s %q: use a duration from %s to %s, such as %s", d.name, v, d.min, d.max, d.example))
			continue
		}
		*d.dst = n
	}
	return problems
}

// parseRateLimit reads B24_RATE_LIMIT: RATE or RATE/BURST, whole requests
// a second and the bucket they drain from (Bitrix24's own are 2/50 and,
// on Enterprise, 5/250); without a burst, one second's requests.
func parseRateLimit(v string) (rate, burst int, err error) {
	const use = "use RATE or RATE/BURST, whole requests a second and the bucket, e.g. 50/250 (empty: each portal's plan)"
	r, b, hasBurst := strings.Cut(strings.TrimSpace(v), "/")
	rate, err = strconv.Atoi(strings.TrimSpace(r))
	if err != nil {
		return 0, 0, errors.New(use)
	}
	if rate < 1 || rate > maxRateLimit {
		return 0, 0, fmt.Errorf("the rate must be 1 to %d requests a second; %s", maxRateLimit, use)
	}
	burst = rate
	if hasBurst {
		if burst, err = strconv.Atoi(strings.TrimSpace(b)); err != nil {
			return 0, 0, errors.New(use)
		}
		if burst < 1 || burst > maxRateBurst {
			return 0, 0, fmt.Errorf("the burst must be 1 to %d requests; %s", maxRateBurst, use)
		}
	}
	return rate, burst, nil
}

// defaultCommand is what runs without a subcommand: the demo when nothing
// at all is configured (a newcomer's first run), serve otherwise.
func defaultCommand(getenv func(string) string) string {
	for _, k := range []string{"REDIS_URL", "REDIS_CLUSTER_ADDRS", "APP_BASE_URL", "B24_CLIENT_ID", "B24_CLIENT_SECRET", "APP_SECRET_KEY", "ROLE"} {
		if getenv(k) != "" {
			return "serve"
		}
	}
	return "demo"
}

// parseKey accepts a 32-byte key written as hex or standard/URL base64.
func parseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if k, err := hex.DecodeString(s); err == nil && len(k) == 32 {
		return k, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil && len(k) == 32 {
			return k, nil
		}
	}
	return nil, errors.New("must be 32 bytes written as 64 hex characters or base64 (for example: openssl rand -hex 32)")
}

func portOf(addr string) string {
	if i := strings.LastIndex(addr, ":"); i >= 0 {
		return addr[i:]
	}
	return ":8080"
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
