package b24sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// InstallOptions shape the installer POST.
type InstallOptions struct {
	UserID int    // the installing user; default 1 (the admin)
	Lang   string // LANG and data[LANGUAGE_ID]; default "en"
	// Legacy leaves out SERVER_ENDPOINT, APPLICATION_TOKEN and
	// APPLICATION_SCOPE, as older portals do (here and on later page opens).
	Legacy           bool
	PlacementOptions string       // PLACEMENT_OPTIONS; default "{}"
	Client           *http.Client // default: a client that does not follow redirects
	// Scopes is the scope the install grants (e.g. without bizproc or im):
	// the installer's, page opens', events' and robot runs' tokens carry
	// it, and APPLICATION_SCOPE names it. Default: AppScope.
	Scopes []string
}

// appScope is the scope of the current install. Caller holds p.mu.
func (es *eventState) appScope() []string {
	if es.scope != nil {
		return es.scope
	}
	return splitScope(AppScope)
}

var noRedirectClient = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// Install POSTs the installer page as Bitrix24 does when an admin installs
// the app (protocol §1.2): query DOMAIN, PROTOCOL, LANG, APP_SID; form
// AUTH_ID, AUTH_EXPIRES, REFRESH_ID, [SERVER_ENDPOINT, APPLICATION_TOKEN,
// APPLICATION_SCOPE,] member_id, status, PLACEMENT=DEFAULT,
// PLACEMENT_OPTIONS, with fresh tokens of the installing user. A new
// application token is generated; the app is not installed until
// FinishInstall. The response is returned unread and redirects are not followed.
func (p *Portal) Install(ctx context.Context, installURL string, opt InstallOptions) (*http.Response, error) {
	if opt.UserID == 0 {
		opt.UserID = 1
	}
	if opt.Lang == "" {
		opt.Lang = "en"
	}
	p.mu.Lock()
	if p.users[opt.UserID] == nil {
		p.mu.Unlock()
		return nil, fmt.Errorf("b24sim: install: no user %d", opt.UserID)
	}
	es := &p.events
	es.appToken = p.randHex(32)
	es.installed = false
	es.installUser = opt.UserID
	es.installURL = installURL
	es.legacy = opt.Legacy
	es.lang = opt.Lang
	es.scope, es.tokens = slices.Clone(opt.Scopes), map[int]Tokens{}
	p.mu.Unlock()
	po := opt.PlacementOptions
	if po == "" {
		po = "{}"
	}
	return p.postFrame(ctx, opt.Client, installURL, opt.UserID, opt.Lang, "DEFAULT", po)
}

// postFrame POSTs an iframe page (installer, app page, placement) as
// Bitrix24 does (protocol §9.2), with fresh tokens of the user.
func (p *Portal) postFrame(ctx context.Context, client *http.Client, target string, userID int, lang, placement, placementOptions string) (*http.Response, error) {
	p.mu.Lock()
	tk := p.issueLocked(userID, p.events.appScope())
	appToken, legacy := p.events.appToken, p.events.legacy
	base := p.baseURL
	sid := p.randHex(32)
	p.mu.Unlock()

	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("b24sim: bad handler URL %q: %w", target, err)
	}
	pu, _ := url.Parse(base)
	proto := "0"
	if pu.Scheme == "https" {
		proto = "1"
	}
	q := []kv{{"DOMAIN", pu.Host}, {"PROTOCOL", proto}, {"LANG", lang}, {"APP_SID", sid}}
	if u.RawQuery != "" {
		u.RawQuery += "&" + encodeKV(q)
	} else {
		u.RawQuery = encodeKV(q)
	}
	form := []kv{
		{"AUTH_ID", tk.AccessToken},
		{"AUTH_EXPIRES", strconv.Itoa(tk.ExpiresIn)},
		{"REFRESH_ID", tk.RefreshToken},
	}
	if !legacy {
		form = append(form,
			kv{"SERVER_ENDPOINT", tk.ServerEndpoint},
			kv{"APPLICATION_TOKEN", appToken},
			kv{"APPLICATION_SCOPE", tk.Scope})
	}
	form = append(form,
		kv{"member_id", tk.MemberID},
		kv{"status", tk.Status},
		kv{"PLACEMENT", placement},
		kv{"PLACEMENT_OPTIONS", placementOptions})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), strings.NewReader(encodeKV(form)))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if client == nil {
		client = noRedirectClient
	}
	return client.Do(req)
}

// FinishInstall is what BX24.installFinish() does in the installer page:
// the app becomes installed, placements show and events are delivered from
// now on. Handlers bound to ONAPPINSTALL get it (asynchronously), with
// auth[refresh_token] and the application token.
func (p *Portal) FinishInstall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	es := &p.events
	if es.installed {
		return
	}
	es.installed = true
	if es.appToken == "" {
		es.appToken = p.randHex(32)
	}
	for _, b := range p.handlersLocked("ONAPPINSTALL") {
		user := es.installUser
		if b.authType != 0 {
			user = b.authType
		}
		before := []kv{{"event", "ONAPPINSTALL"}, {"event_handler_id", strconv.Itoa(b.id)},
			{"data[VERSION]", es.versionLabel()}, {"data[ACTIVE]", "Y"}, {"data[INSTALLED]", "Y"},
			{"data[LANGUAGE_ID]", es.lang}}
		p.enqueueLocked(b.handler, before, p.authKVLocked(user, true, true))
	}
}

// Installed reports whether installation has been finished.
func (p *Portal) Installed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.events.installed
}

// ApplicationToken is the current application token ("" before Install).
func (p *Portal) ApplicationToken() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.events.appToken
}

// AppVersion is the installed version of the app (1, +1 per TriggerAppUpdate).
func (p *Portal) AppVersion() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.events.version
}

// ErrNotInstalled is returned when a page is opened for a user before
// installation is finished (Bitrix24 shows its own notice instead).
var ErrNotInstalled = errors.New("b24sim: the application is not fully installed yet")

// OpenApp POSTs the app's main page (placement DEFAULT) as the iframe does
// when a user opens the app. Before installation is finished an admin gets
// the installer again (when Install was used) and others get ErrNotInstalled.
func (p *Portal) OpenApp(ctx context.Context, appURL string, userID int, lang string) (*http.Response, error) {
	if lang == "" {
		lang = "en"
	}
	p.mu.Lock()
	u := p.users[userID]
	installed, installURL := p.events.installed, p.events.installURL
	p.mu.Unlock()
	if u == nil {
		return nil, fmt.Errorf("b24sim: open app: no user %d", userID)
	}
	if !installed {
		if !u.Admin || installURL == "" {
			return nil, ErrNotInstalled
		}
		appURL = installURL
	}
	return p.postFrame(ctx, nil, appURL, userID, lang, "DEFAULT", "{}")
}

// OpenPlacement POSTs the handler bound (placement.bind) to a placement as
// the iframe does when a user opens it, e.g. CRM_DEAL_DETAIL_TAB with
// options {"ID": "8061"}. It fails when nothing is bound there or the app
// is not installed.
func (p *Portal) OpenPlacement(ctx context.Context, placement string, userID int, options map[string]string) (*http.Response, error) {
	placement = strings.ToUpper(placement)
	handler, lang, err := p.placementFrame(placement, userID)
	if err != nil {
		return nil, err
	}
	if options == nil {
		options = map[string]string{}
	}
	po, _ := json.Marshal(options)
	// PHP's json_encode escapes slashes: {"URI":"\/crm\/deal\/details\/8061\/"}.
	return p.postFrame(ctx, nil, handler, userID, lang, placement, strings.ReplaceAll(string(po), "/", `\/`))
}
