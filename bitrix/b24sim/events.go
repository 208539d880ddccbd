package b24sim

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Event is a CRM or app event to deliver to bound handlers.
type Event struct {
	Name       string            // e.g. ONCRMDEALUPDATE
	Fields     map[string]string // data[FIELDS][...]: ID, and CATEGORY_ID/STAGE_ID for a pipeline move
	UserID     int               // the user who made the change
	Automation bool              // made by a robot/workflow: no access_token in auth[]
}

// EventStats count event deliveries.
type EventStats struct {
	Queued    int // events put on the delivery queue
	Delivered int // POSTs answered 2xx
	Failed    int // POSTs answered otherwise, or transport errors (never retried)
	Dropped   int // lost on purpose by the drop rate
	HeldBack  int // not delivered because installation was not finished
}

// binding is one event.bind.
type binding struct {
	id       int
	event    string // upper case
	handler  string
	authType int
	offline  bool
	owner    int // the user who bound it
}

// placementBinding is one placement.bind.
type placementBinding struct {
	id          int
	placement   string
	handler     string
	title       string
	description string
	groupName   string
	langAll     any
	options     any
}

// delivery is one queued POST. The body is built when the event happens
// except ts, which is the time the queue sends it.
type delivery struct {
	url    string
	before []kv // up to data[...]
	after  []kv // auth[...]
	due    time.Time
}

type kv struct{ k, v string }

// eventState holds the app's installation on the portal: bindings,
// placements, options, the application token and the delivery queue.
// Guarded by p.mu.
type eventState struct {
	bindings   []*binding
	placements []*placementBinding
	nextID     int
	options    map[string]any
	optOrder   []string

	installed   bool
	appToken    string
	version     int    // app.info's VERSION
	label       string // the version's name in events; "" names it by number
	lang        string
	installUser int
	installURL  string
	legacy      bool
	scope       []string // the install's scope (InstallOptions.Scopes); nil: AppScope

	delay    time.Duration
	dropRate float64
	tokens   map[int]Tokens // per user: the token put in auth[access_token]

	// The delivery goroutine runs only while the queue has work: an idle
	// portal costs none (a Host serves a thousand of them).
	queue   []delivery
	pending int           // queued + in flight
	idle    chan struct{} // closed when pending drops to 0
	loop    chan struct{} // closed when the running delivery goroutine ends; nil when none runs
	stopped bool
	ctx     context.Context
	cancel  context.CancelFunc
	client  *http.Client

	stats EventStats
}

func (p *Portal) initEvents() {
	ctx, cancel := context.WithCancel(context.Background())
	p.events = eventState{
		nextID:      1,
		options:     map[string]any{},
		version:     1,
		lang:        "en",
		installUser: 1,
		delay:       p.opts.EventDelay,
		dropRate:    p.opts.EventDropRate,
		tokens:      map[int]Tokens{},
		ctx:         ctx,
		cancel:      cancel,
		client:      eventClient,
	}
}

// eventClient POSTs events and robot runs for every portal: it follows no
// redirects and gives up after 10 s.
var eventClient = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// stopEvents cancels delivery, waits for the delivery goroutine and counts
// what was still queued as failed.
func (p *Portal) stopEvents() {
	p.mu.Lock()
	if p.events.stopped {
		p.mu.Unlock()
		return
	}
	p.events.stopped = true
	p.events.cancel()
	loop := p.events.loop
	p.mu.Unlock()
	if loop != nil {
		<-loop
	}
	p.drainQueue()
}

// SetEventDelivery changes the delay before an event is POSTed and the share
// of events that are lost, at run time.
func (p *Portal) SetEventDelivery(delay time.Duration, dropRate float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.events.delay, p.events.dropRate = delay, dropRate
}

// EventStats returns the delivery counters.
func (p *Portal) EventStats() EventStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.events.stats
}

// emit queues ev for every online handler bound to its name.
//
// The caller MUST hold p.mu: emit never locks, never blocks and never does
// I/O; the POST happens later on the delivery goroutine. Before installation
// is finished events are not delivered (they are counted as HeldBack); a
// share of them is lost by the drop rate.
func (p *Portal) emit(ev Event) {
	name := strings.ToUpper(ev.Name)
	es := &p.events
	for _, b := range es.bindings {
		if b.event != name || b.offline {
			continue
		}
		if !es.installed {
			es.stats.HeldBack++
			continue
		}
		if es.dropRate > 0 && p.rng.Float64() < es.dropRate {
			es.stats.Dropped++
			continue
		}
		user := ev.UserID
		if user == 0 {
			user = es.installUser
		}
		if b.authType != 0 {
			user = b.authType
		}
		before := []kv{{"event", name}, {"event_handler_id", strconv.Itoa(b.id)}}
		before = append(before, fieldsKV(ev.Fields)...)
		p.enqueueLocked(b.handler, before, p.authKVLocked(user, !ev.Automation, false))
	}
}

// fieldsKV orders data[FIELDS][...]: ID, CATEGORY_ID, STAGE_ID, then the rest.
func fieldsKV(f map[string]string) []kv {
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	rank := map[string]int{"ID": 0, "CATEGORY_ID": 1, "STAGE_ID": 2}
	sort.Slice(keys, func(i, j int) bool {
		ri, oki := rank[keys[i]]
		rj, okj := rank[keys[j]]
		switch {
		case oki && okj:
			return ri < rj
		case oki != okj:
			return oki
		}
		return keys[i] < keys[j]
	})
	out := make([]kv, 0, len(keys))
	for _, k := range keys {
		out = append(out, kv{"data[FIELDS][" + k + "]", f[k]})
	}
	return out
}

// eventTokenLocked returns a live token of the user for auth[...], reusing
// one while it has more than a minute to live. Caller holds p.mu.
func (p *Portal) eventTokenLocked(user int) Tokens {
	t, ok := p.events.tokens[user]
	if ok {
		if at := p.auth.access[t.AccessToken]; at != nil && !at.dead && at.expires.Sub(p.now()) > time.Minute {
			return t
		}
	}
	t = p.issueLocked(user, p.events.appScope())
	p.events.tokens[user] = t
	return t
}

// authKVLocked builds auth[...] as protocol §7.2 orders it. Caller holds p.mu.
func (p *Portal) authKVLocked(user int, withAccess, withRefresh bool) []kv {
	t := p.eventTokenLocked(user)
	var out []kv
	if withAccess {
		out = append(out, kv{"auth[access_token]", t.AccessToken})
	}
	out = append(out,
		kv{"auth[expires]", strconv.FormatInt(t.Expires.Unix(), 10)},
		kv{"auth[expires_in]", strconv.Itoa(t.ExpiresIn)},
		kv{"auth[scope]", strings.Join(p.events.appScope(), ",")},
		kv{"auth[domain]", p.opts.Domain},
		kv{"auth[server_endpoint]", p.serverEndpointLocked()},
		kv{"auth[status]", p.auth.status},
		kv{"auth[client_endpoint]", p.baseURL + "/rest/"},
		kv{"auth[member_id]", p.opts.MemberID},
		kv{"auth[user_id]", strconv.Itoa(user)},
	)
	if withRefresh {
		out = append(out, kv{"auth[refresh_token]", t.RefreshToken})
	}
	return append(out, kv{"auth[application_token]", p.events.appToken})
}

// enqueueLocked puts one POST on the queue. Caller holds p.mu.
func (p *Portal) enqueueLocked(handler string, before, after []kv) {
	es := &p.events
	if es.stopped {
		return
	}
	es.queue = append(es.queue, delivery{url: handler, before: before, after: after, due: time.Now().Add(es.delay)})
	es.stats.Queued++
	if es.pending == 0 {
		es.idle = make(chan struct{})
	}
	es.pending++
	if es.loop == nil {
		es.loop = make(chan struct{})
		go p.deliverLoop(es.ctx, es.loop)
	}
}

func encodeKV(kvs []kv) string {
	var b strings.Builder
	for i, x := range kvs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(x.k))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(x.v))
	}
	return b.String()
}

// body joins a delivery's parts with ts as of now.
func (p *Portal) deliveryBody(d delivery) string {
	all := append(append(append([]kv(nil), d.before...), kv{"ts", strconv.FormatInt(p.now().Unix(), 10)}), d.after...)
	return encodeKV(all)
}

// deliverLoop POSTs queued events one by one, never under p.mu, and ends
// when the queue is empty or the portal closes (enqueueLocked starts it again).
func (p *Portal) deliverLoop(ctx context.Context, done chan struct{}) {
	defer close(done)
	for {
		p.mu.Lock()
		if len(p.events.queue) == 0 || ctx.Err() != nil {
			p.events.loop = nil
			p.mu.Unlock()
			return
		}
		d := p.events.queue[0]
		p.events.queue = p.events.queue[1:]
		client := p.events.client
		p.mu.Unlock()

		if wait := time.Until(d.due); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
			}
		}
		ok := ctx.Err() == nil && p.post(ctx, client, d.url, p.deliveryBody(d)) == nil
		p.mu.Lock()
		if ok {
			p.events.stats.Delivered++
		} else {
			p.events.stats.Failed++
		}
		p.donePendingLocked(1)
		p.mu.Unlock()
	}
}

// drainQueue forgets what is still queued when the portal closes.
func (p *Portal) drainQueue() {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.events.queue)
	p.events.queue = nil
	p.events.stats.Failed += n
	p.donePendingLocked(n)
}

func (p *Portal) donePendingLocked(n int) {
	if n == 0 {
		return
	}
	p.events.pending -= n
	if p.events.pending <= 0 {
		p.events.pending = 0
		if p.events.idle != nil {
			close(p.events.idle)
			p.events.idle = nil
		}
	}
}

// post sends one form-encoded event; non-2xx is an error.
func (p *Portal) post(ctx context.Context, client *http.Client, target, body string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", "Bitrix24 Webhook Engine")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("b24sim: event handler %s answered %d", target, resp.StatusCode)
	}
	return nil
}

// WaitEvents blocks until every queued event has been POSTed (or failed).
func (p *Portal) WaitEvents(ctx context.Context) error {
	p.mu.Lock()
	if p.events.pending == 0 {
		p.mu.Unlock()
		return nil
	}
	ch := p.events.idle
	p.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// postNow sends app events synchronously and counts them.
func (p *Portal) postNow(ctx context.Context, posts []delivery) error {
	var first error
	for _, d := range posts {
		err := p.post(ctx, p.events.client, d.url, p.deliveryBody(d))
		p.mu.Lock()
		if err == nil {
			p.events.stats.Delivered++
		} else {
			p.events.stats.Failed++
		}
		p.mu.Unlock()
		if err != nil && first == nil {
			first = err
		}
	}
	return first
}

// handlersLocked returns the online bindings of an event. Caller holds p.mu.
func (p *Portal) handlersLocked(name string) []*binding {
	var out []*binding
	for _, b := range p.events.bindings {
		if b.event == name && !b.offline {
			out = append(out, b)
		}
	}
	return out
}

// versionLabel is the installed version as events name it. Caller holds p.mu.
func (es *eventState) versionLabel() string {
	if es.label != "" {
		return es.label
	}
	return strconv.Itoa(es.version)
}

// TriggerAppUpdate installs a new version of the app: a new application
// token, VERSION+1, event handlers dropped (as Bitrix24 does on update), and
// ONAPPUPDATE POSTed (synchronously) to the handlers bound for it before
// the update, with data[VERSION], data[PREVIOUS_VERSION], data[LANGUAGE_ID]
// and full auth[...] carrying the new application_token.
func (p *Portal) TriggerAppUpdate(ctx context.Context) error {
	return p.TriggerAppUpdateTo(ctx, "")
}

// TriggerAppUpdateTo is TriggerAppUpdate to a version named as the vendor
// names it ("2.1.0"): api-reference/common/events/on-app-update.md sends
// data[VERSION] and data[PREVIOUS_VERSION] as such strings. Empty names the
// new version by its number ("2"). app.info's VERSION stays the number.
func (p *Portal) TriggerAppUpdateTo(ctx context.Context, label string) error {
	p.mu.Lock()
	es := &p.events
	es.appToken = p.randHex(32)
	prev := es.versionLabel()
	es.version++
	es.label = label
	var posts []delivery
	for _, b := range p.handlersLocked("ONAPPUPDATE") {
		user := es.installUser
		if b.authType != 0 {
			user = b.authType
		}
		before := []kv{{"event", "ONAPPUPDATE"}, {"event_handler_id", strconv.Itoa(b.id)},
			{"data[VERSION]", es.versionLabel()}, {"data[PREVIOUS_VERSION]", prev},
			{"data[LANGUAGE_ID]", es.lang}}
		posts = append(posts, delivery{url: b.handler, before: before, after: p.authKVLocked(user, true, false)})
	}
	es.bindings = nil
	p.mu.Unlock()
	return p.postNow(ctx, posts)
}

// Uninstall removes the app as an admin does: ONAPPUNINSTALL is POSTed
// (synchronously) with data[LANGUAGE_ID], data[CLEAN] and auth[...] without
// tokens but with application_token; then event handlers and placements are
// removed, app options too when clean, and every token is revoked.
func (p *Portal) Uninstall(ctx context.Context, clean bool) error {
	p.mu.Lock()
	es := &p.events
	cleanV := "0"
	if clean {
		cleanV = "1"
	}
	var posts []delivery
	for _, b := range p.handlersLocked("ONAPPUNINSTALL") {
		before := []kv{{"event", "ONAPPUNINSTALL"}, {"event_handler_id", strconv.Itoa(b.id)},
			{"data[LANGUAGE_ID]", es.lang}, {"data[CLEAN]", cleanV}}
		after := []kv{
			{"auth[domain]", p.opts.Domain},
			{"auth[server_endpoint]", p.serverEndpointLocked()},
			{"auth[status]", p.auth.status},
			{"auth[client_endpoint]", p.baseURL + "/rest/"},
			{"auth[member_id]", p.opts.MemberID},
			{"auth[application_token]", es.appToken},
		}
		posts = append(posts, delivery{url: b.handler, before: before, after: after})
	}
	es.bindings, es.placements = nil, nil
	if clean {
		es.options, es.optOrder = map[string]any{}, nil
	}
	es.installed = false
	es.tokens = map[int]Tokens{}
	p.revokeAllLocked()
	p.mu.Unlock()
	return p.postNow(ctx, posts)
}
