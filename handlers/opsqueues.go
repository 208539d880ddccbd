package handlers

import (
	"cmp"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"html/template"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/hibiken/asynq"

	"segmentor/jobs"
)

// QueueReader is what the operator view reads of the job queues. It has no
// method that changes anything: the view is read-only by its type, not by
// a flag.
type QueueReader interface {
	Queues() ([]string, error)
	GetQueueInfo(queue string) (*asynq.QueueInfo, error)
	Groups(queue string) ([]*asynq.GroupInfo, error)
	ListRetryTasks(queue string, opts ...asynq.ListOption) ([]*asynq.TaskInfo, error)
	ListArchivedTasks(queue string, opts ...asynq.ListOption) ([]*asynq.TaskInfo, error)
}

var _ QueueReader = (*asynq.Inspector)(nil)

// OpsQueues is the operator's read-only view of the job queues, at
// GET /ops/queues (HTML, or JSON with ?format=json), behind HTTP Basic
// authentication. It stands in for asynqmon (see README, Operate).
type OpsQueues struct {
	Queues QueueReader
	// User and Password are the one operator credential (OPS_USER,
	// OPS_PASSWORD); it also guards /metrics on the public router. With no
	// Password neither route exists there.
	User, Password string
	// Recent is how many retrying and archived tasks are listed per queue,
	// and how many of the largest groups; default 20.
	Recent int
	Log    *slog.Logger

	// The last read, kept opsCacheTTL: asynq's queue info and group
	// listing walk every aggregating group (a portal's entity each, up to
	// four in a flood), so operators reloading the page, or a script
	// polling it, read the queues once per TTL at most.
	mu     sync.Mutex
	readAt time.Time
	last   []OpsQueueView
}

// opsCacheTTL is how long a read of the queues is shown again.
const opsCacheTTL = 5 * time.Second

// OpsQueueView is one queue as the view shows it. The events queue and its
// shards (jobs.EventsQueue) are one view: its figures are their sums, its
// lists the largest, soonest or newest over all of them.
type OpsQueueView struct {
	Name           string         `json:"name"`
	Queues         []string       `json:"queues"` // the asynq queues it shows: itself, or the events queue and its shards
	Paused         bool           `json:"paused"`
	Size           int            `json:"size"` // every task but the completed ones
	Pending        int            `json:"pending"`
	Active         int            `json:"active"`
	Scheduled      int            `json:"scheduled"`
	Retry          int            `json:"retry"`
	Archived       int            `json:"archived"`
	Completed      int            `json:"completed"`
	Aggregating    int            `json:"aggregating"`
	ProcessedToday int            `json:"processed_today"`
	FailedToday    int            `json:"failed_today"`
	LatencySeconds float64        `json:"latency_seconds"` // age of the oldest pending task
	MemoryBytes    int64          `json:"memory_bytes"`    // asynq's estimate (sampled)
	GroupCount     int            `json:"group_count"`
	Groups         []OpsGroupView `json:"groups"` // the largest, at most Recent
	Retrying       []OpsTaskView  `json:"retrying"`
	ArchivedTasks  []OpsTaskView  `json:"archived_tasks"` // newest first
}

// OpsGroupView is an aggregating group (a portal's entity, or in a flood
// one of its overflow lanes) and its size.
type OpsGroupView struct {
	Group string `json:"group"`
	Size  int    `json:"size"`
}

// OpsTaskView is a failed task. Of its payload only the portal is shown:
// the view never prints a payload whole.
type OpsTaskView struct {
	ID            string    `json:"id"`
	Type          string    `json:"type"`
	Portal        string    `json:"portal,omitempty"`
	Retried       int       `json:"retried"`
	MaxRetry      int       `json:"max_retry"`
	LastError     string    `json:"last_error,omitempty"`
	LastFailedAt  time.Time `json:"last_failed_at,omitzero"`
	NextProcessAt time.Time `json:"next_process_at,omitzero"`
}

// hasCredential reports whether an operator can sign in at all.
func (o *OpsQueues) hasCredential() bool { return o != nil && o.Password != "" }

// enabled reports whether the view is configured.
func (o *OpsQueues) enabled() bool { return o.hasCredential() && o.Queues != nil }

// authorize checks HTTP Basic credentials in constant time; both parts
// are hashed first so that their lengths do not show either.
func (o *OpsQueues) authorize(c *gin.Context) {
	user, pass, ok := c.Request.BasicAuth()
	hu, hp := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(pass))
	wu, wp := sha256.Sum256([]byte(cmp.Or(o.User, "ops"))), sha256.Sum256([]byte(o.Password))
	match := subtle.ConstantTimeCompare(hu[:], wu[:]) & subtle.ConstantTimeCompare(hp[:], wp[:])
	if !ok || match != 1 {
		c.Header("WWW-Authenticate", `Basic realm="segmentor ops", charset="UTF-8"`)
		c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"error": "unauthorized", "message": "Operator credentials required."})
		return
	}
	c.Next()
}

// Show answers GET /ops/queues.
func (o *OpsQueues) Show(c *gin.Context) {
	views, readAt, err := o.read()
	if err != nil {
		logger(o.Log).Error("ops queues: read", "error", err)
		c.JSON(http.StatusServiceUnavailable, gin.H{"error": "queues_unavailable", "message": "Could not read the queues."})
		return
	}
	if c.Query("format") == "json" {
		c.JSON(http.StatusOK, gin.H{"queues": views, "read_at": readAt})
		return
	}
	c.Header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	c.Header("Content-Type", "text/html; charset=utf-8")
	c.Status(http.StatusOK)
	if err := opsQueuesPage.Execute(c.Writer, map[string]any{"Queues": views, "ReadAt": readAt.Format(time.RFC3339)}); err != nil {
		logger(o.Log).Error("ops queues: render", "error", err)
	}
}

func (o *OpsQueues) recent() int {
	if o.Recent > 0 {
		return o.Recent
	}
	return 20
}

// read reads the queues, or answers the last read while it is fresh.
func (o *OpsQueues) read() ([]OpsQueueView, time.Time, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.last != nil && time.Since(o.readAt) < opsCacheTTL {
		return o.last, o.readAt, nil
	}
	views, err := o.readAll()
	if err != nil {
		return nil, time.Time{}, err
	}
	o.last, o.readAt = views, time.Now().UTC()
	return views, o.readAt, nil
}

func (o *OpsQueues) readAll() ([]OpsQueueView, error) {
	names, err := o.Queues.Queues()
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	var classes []string
	views := map[string][]OpsQueueView{}
	for _, name := range names {
		v, err := o.readQueue(name)
		if err != nil {
			return nil, err
		}
		class := jobs.QueueClass(name)
		if _, ok := views[class]; !ok {
			classes = append(classes, class)
		}
		views[class] = append(views[class], v)
	}
	slices.Sort(classes)
	out := make([]OpsQueueView, 0, len(classes))
	for _, class := range classes {
		out = append(out, o.merge(class, views[class]))
	}
	return out, nil
}

// merge shows the queues of one class as one.
func (o *OpsQueues) merge(class string, views []OpsQueueView) OpsQueueView {
	if len(views) == 1 {
		views[0].Name = class
		return views[0]
	}
	m := OpsQueueView{Name: class, Groups: []OpsGroupView{}, Retrying: []OpsTaskView{}, ArchivedTasks: []OpsTaskView{}}
	for _, v := range views {
		m.Queues = append(m.Queues, v.Queues...)
		m.Paused = m.Paused || v.Paused
		m.Size += v.Size
		m.Pending += v.Pending
		m.Active += v.Active
		m.Scheduled += v.Scheduled
		m.Retry += v.Retry
		m.Archived += v.Archived
		m.Completed += v.Completed
		m.Aggregating += v.Aggregating
		m.ProcessedToday += v.ProcessedToday
		m.FailedToday += v.FailedToday
		m.LatencySeconds = max(m.LatencySeconds, v.LatencySeconds)
		m.MemoryBytes += v.MemoryBytes
		m.GroupCount += v.GroupCount
		m.Groups = append(m.Groups, v.Groups...)
		m.Retrying = append(m.Retrying, v.Retrying...)
		m.ArchivedTasks = append(m.ArchivedTasks, v.ArchivedTasks...)
	}
	n := o.recent()
	slices.SortFunc(m.Groups, func(a, b OpsGroupView) int { return cmp.Or(b.Size-a.Size, cmp.Compare(a.Group, b.Group)) })
	slices.SortStableFunc(m.Retrying, func(a, b OpsTaskView) int { return a.NextProcessAt.Compare(b.NextProcessAt) })
	slices.SortStableFunc(m.ArchivedTasks, func(a, b OpsTaskView) int { return b.LastFailedAt.Compare(a.LastFailedAt) })
	m.Groups, m.Retrying, m.ArchivedTasks = m.Groups[:min(n, len(m.Groups))], m.Retrying[:min(n, len(m.Retrying))], m.ArchivedTasks[:min(n, len(m.ArchivedTasks))]
	return m
}

func (o *OpsQueues) readQueue(name string) (OpsQueueView, error) {
	qi, err := o.Queues.GetQueueInfo(name)
	if err != nil {
		return OpsQueueView{}, err
	}
	v := OpsQueueView{Name: name, Queues: []string{name}, Paused: qi.Paused, Size: qi.Size, Pending: qi.Pending, Active: qi.Active,
		Scheduled: qi.Scheduled, Retry: qi.Retry, Archived: qi.Archived, Completed: qi.Completed,
		Aggregating: qi.Aggregating, ProcessedToday: qi.Processed, FailedToday: qi.Failed,
		LatencySeconds: qi.Latency.Seconds(), MemoryBytes: qi.MemoryUsage, GroupCount: qi.Groups,
		Groups: []OpsGroupView{}, Retrying: []OpsTaskView{}, ArchivedTasks: []OpsTaskView{}}
	n := o.recent()
	groups, err := o.Queues.Groups(name)
	if err != nil {
		return v, err
	}
	slices.SortFunc(groups, func(a, b *asynq.GroupInfo) int { return cmp.Or(b.Size-a.Size, cmp.Compare(a.Group, b.Group)) })
	for _, g := range groups[:min(n, len(groups))] {
		v.Groups = append(v.Groups, OpsGroupView{Group: g.Group, Size: g.Size})
	}
	// Retrying tasks come soonest first (their score is the next run).
	retry, err := o.Queues.ListRetryTasks(name, asynq.PageSize(n))
	if err != nil {
		return v, err
	}
	for _, t := range retry {
		v.Retrying = append(v.Retrying, taskView(t))
	}
	archived, err := o.lastArchived(name, qi.Archived, n)
	if err != nil {
		return v, err
	}
	for _, t := range archived {
		v.ArchivedTasks = append(v.ArchivedTasks, taskView(t))
	}
	return v, nil
}

// lastArchived lists the newest n of a queue's count archived tasks,
// newest first: the archive is kept oldest first, so it reads the last
// page and, when that is short, the one before it.
func (o *OpsQueues) lastArchived(queue string, count, n int) ([]*asynq.TaskInfo, error) {
	if count <= 0 {
		return nil, nil
	}
	last := (count-1)/n + 1
	tasks, err := o.Queues.ListArchivedTasks(queue, asynq.PageSize(n), asynq.Page(last))
	if err != nil {
		return nil, err
	}
	if len(tasks) < n && last > 1 {
		before, err := o.Queues.ListArchivedTasks(queue, asynq.PageSize(n), asynq.Page(last-1))
		if err != nil {
			return nil, err
		}
		tasks = append(before, tasks...)
	}
	tasks = tasks[max(0, len(tasks)-n):]
	slices.Reverse(tasks)
	return tasks, nil
}

func taskView(t *asynq.TaskInfo) OpsTaskView {
	var p struct {
		MemberID string `json:"member_id"`
	}
	_ = json.Unmarshal(t.Payload, &p) // a payload without a portal shows none
	return OpsTaskView{ID: t.ID, Type: t.Type, Portal: p.MemberID, Retried: t.Retried, MaxRetry: t.MaxRetry,
		LastError: redactError(t.LastErr), LastFailedAt: t.LastFailedAt, NextProcessAt: t.NextProcessAt}
}

// An error text may carry a credential: a transport error prints the URL
// with its query string, and a few parameters are secrets by name.
var (
	queryInError  = regexp.MustCompile(`\?[^\s"']+`)
	secretInError = regexp.MustCompile(`(?i)\b(auth|access_token|refresh_token|client_secret|application_token|password)(["']?\s*[=:]\s*["']?)[^\s&"',;]+`)
)

// redactError shortens an error for the view and blanks what may be a
// secret in it.
func redactError(s string) string {
	s = queryInError.ReplaceAllString(s, "?…")
	s = secretInError.ReplaceAllString(s, "${1}${2}…")
	if r := []rune(s); len(r) > 500 {
		s = string(r[:500]) + "…"
	}
	return s
}

var opsQueuesPage = template.Must(template.New("queues").Funcs(template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05")
	},
	"secs": func(f float64) string {
		return (time.Duration(f * float64(time.Second))).Round(time.Millisecond).String()
	},
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex">
<title>Segmentor · queues</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#222;background:#fff}
h1{font-size:1.3rem}h2{font-size:1.1rem;margin-top:2rem}h3{font-size:.95rem;margin:1rem 0 .3rem}
table{border-collapse:collapse;margin:.3rem 0}td,th{border:1px solid #ddd;padding:.2rem .5rem;text-align:left;vertical-align:top}
th{background:#f5f5f5}td.n{text-align:right;font-variant-numeric:tabular-nums}.muted{color:#777}.err{max-width:40rem;word-break:break-word}
</style></head><body>
<h1>Job queues</h1>
<p class="muted">Read at {{.ReadAt}} (UTC). Read-only; JSON: <a href="?format=json">?format=json</a>.</p>
{{if not .Queues}}<p>No queue has held a task yet.</p>{{end}}
<table><tr><th>queue</th><th>size</th><th>pending</th><th>active</th><th>scheduled</th><th>retry</th><th>archived</th><th>completed</th><th>aggregating</th><th>groups</th><th>processed today</th><th>failed today</th><th>latency</th><th>paused</th></tr>
{{range .Queues}}<tr><td><a href="#q-{{.Name}}">{{.Name}}</a></td><td class="n">{{.Size}}</td><td class="n">{{.Pending}}</td><td class="n">{{.Active}}</td><td class="n">{{.Scheduled}}</td><td class="n">{{.Retry}}</td><td class="n">{{.Archived}}</td><td class="n">{{.Completed}}</td><td class="n">{{.Aggregating}}</td><td class="n">{{.GroupCount}}</td><td class="n">{{.ProcessedToday}}</td><td class="n">{{.FailedToday}}</td><td class="n">{{secs .LatencySeconds}}</td><td>{{if .Paused}}paused{{else}}no{{end}}</td></tr>
{{end}}</table>
{{range .Queues}}<h2 id="q-{{.Name}}">{{.Name}}</h2>
{{if gt (len .Queues) 1}}<p class="muted">The sum of {{len .Queues}} queues: {{range $i, $q := .Queues}}{{if $i}}, {{end}}{{$q}}{{end}}.</p>{{end}}
<h3>Aggregating groups{{if gt .GroupCount (len .Groups)}} (largest {{len .Groups}} of {{.GroupCount}}){{end}}</h3>
{{if .Groups}}<table><tr><th>group</th><th>tasks</th></tr>{{range .Groups}}<tr><td>{{.Group}}</td><td class="n">{{.Size}}</td></tr>{{end}}</table>{{else}}<p class="muted">none</p>{{end}}
<h3>Retrying (soonest first)</h3>
{{template "tasks" .Retrying}}
<h3>Archived (newest first)</h3>
{{template "tasks" .ArchivedTasks}}
{{end}}
</body></html>
{{define "tasks"}}{{if .}}<table><tr><th>task</th><th>type</th><th>portal</th><th>retried</th><th>last error</th><th>failed at</th><th>next run</th></tr>
{{range .}}<tr><td>{{.ID}}</td><td>{{.Type}}</td><td>{{.Portal}}</td><td class="n">{{.Retried}}/{{.MaxRetry}}</td><td class="err">{{.LastError}}</td><td>{{when .LastFailedAt}}</td><td>{{when .NextProcessAt}}</td></tr>
{{end}}</table>{{else}}<p class="muted">none</p>{{end}}{{end}}`))
