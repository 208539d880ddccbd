package handlers

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"segmentor/bitrix"
	"segmentor/jobs"
)

// Metrics is the app's Prometheus registry and its instruments. It has a
// registry of its own (no global state), fed by the HTTP middleware, the
// event handler, the job middleware and the Bitrix24 client's hook.
type Metrics struct {
	reg *prometheus.Registry

	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec
	events       *prometheus.CounterVec
	jobs         *prometheus.CounterVec
	jobDuration  *prometheus.HistogramVec
	rest         *prometheus.CounterVec
	restDuration *prometheus.HistogramVec
	limiterWait  *prometheus.HistogramVec
	operating    *prometheus.GaugeVec
}

// NewMetrics builds the registry. inspector, when not nil, adds queue depth
// and latency (read at most every 15 s: asynq's queue info is not free).
func NewMetrics(inspector *asynq.Inspector) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "segmentor_http_requests_total",
		Help: "HTTP requests by route and status."}, []string{"route", "status"})
	m.httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "segmentor_http_request_duration_seconds",
		Help: "HTTP request duration by route.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}, []string{"route"})
	m.events = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "segmentor_events_total",
		Help: "Bitrix24 events by result: queued, coalesced (record already waiting in a job), refused, app."}, []string{"result"})
	m.jobs = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "segmentor_jobs_total",
		Help: "Jobs by type and outcome."}, []string{"type", "outcome"})
	m.jobDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "segmentor_job_duration_seconds",
		Help: "Job duration by type.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 14)}, []string{"type"})
	m.rest = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "segmentor_rest_requests_total",
		Help: "HTTP requests to Bitrix24 by REST method and outcome (ok or the error code)."}, []string{"method", "outcome"})
	m.restDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "segmentor_rest_request_duration_seconds",
		Help: "Bitrix24 request duration by method.", Buckets: prometheus.ExponentialBuckets(0.01, 2, 12)}, []string{"method"})
	m.limiterWait = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "segmentor_rest_limiter_wait_seconds",
		Help: "Time waited for a portal's request budget before a request.", Buckets: prometheus.ExponentialBuckets(0.01, 2, 14)}, []string{"portal"})
	m.operating = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "segmentor_rest_operating_seconds",
		Help: "Last reported per-method operating time (of 480 s per 10 min) by portal and method."}, []string{"portal", "method"})
	m.reg.MustRegister(m.httpRequests, m.httpDuration, m.events, m.jobs, m.jobDuration, m.rest, m.restDuration,
		m.limiterWait, m.operating, prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	if inspector != nil {
		m.reg.MustRegister(&queueCollector{insp: inspector})
	}
	return m
}

// Handler serves /metrics. Some series are labelled by portal (member_id),
// so the routers serve it to operators only: see Router and OpsRouter.
func (m *Metrics) Handler() gin.HandlerFunc {
	h := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
	return gin.WrapH(h)
}

func (m *Metrics) middleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		m.httpRequests.WithLabelValues(route, strconv.Itoa(c.Writer.Status())).Inc()
		m.httpDuration.WithLabelValues(route).Observe(time.Since(start).Seconds())
	}
}

func (m *Metrics) event(result string) {
	if m != nil {
		m.events.WithLabelValues(result).Inc()
	}
}

// ObserveJob records a finished job (for the asynq middleware in jobs).
func (m *Metrics) ObserveJob(taskType, outcome string, d time.Duration) {
	m.jobs.WithLabelValues(taskType, outcome).Inc()
	m.jobDuration.WithLabelValues(taskType).Observe(d.Seconds())
}

// ObserveREST is the Bitrix24 client's OnRequest hook.
func (m *Metrics) ObserveREST(_ context.Context, info bitrix.RequestInfo) {
	outcome := "ok"
	switch {
	case info.ErrorCode != "":
		outcome = info.ErrorCode
	case info.Err != nil:
		outcome = "transport_error"
	}
	m.rest.WithLabelValues(info.Method, outcome).Inc()
	m.restDuration.WithLabelValues(info.Method).Observe(info.Duration.Seconds())
	if info.LimiterWait > 0 {
		m.limiterWait.WithLabelValues(info.MemberID).Observe(info.LimiterWait.Seconds())
	}
}

// ObserveOperating records a method's reported operating time (the
// Bitrix24 client's OnOperating hook).
func (m *Metrics) ObserveOperating(_ context.Context, memberID, method string, seconds float64) {
	m.operating.WithLabelValues(memberID, method).Set(seconds)
}

// queueCollector reports queue depth and latency from asynq, cached so a
// busy scraper cannot pin Redis (asynq's queue info walks every group).
type queueCollector struct {
	insp *asynq.Inspector
	mu   sync.Mutex
	at   time.Time
	last []*asynq.QueueInfo
}

var (
	queueSizeDesc    = prometheus.NewDesc("segmentor_queue_tasks", "Tasks in a queue by state.", []string{"queue", "state"}, nil)
	queueLatencyDesc = prometheus.NewDesc("segmentor_queue_latency_seconds", "Age of the oldest pending task.", []string{"queue"}, nil)
)

func (q *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueSizeDesc
	ch <- queueLatencyDesc
}

func (q *queueCollector) Collect(ch chan<- prometheus.Metric) {
	q.mu.Lock()
	if time.Since(q.at) > 15*time.Second {
		var infos []*asynq.QueueInfo
		if names, err := q.insp.Queues(); err == nil {
			for _, n := range names {
				if info, err := q.insp.GetQueueInfo(n); err == nil {
					infos = append(infos, info)
				}
			}
		}
		// The events queue's shards (jobs.EventsQueue) are one queue here:
		// the series stay the same however many shards there are.
		q.last, q.at = jobs.MergeQueueInfo(infos), time.Now()
	}
	infos := q.last
	q.mu.Unlock()
	for _, i := range infos {
		for state, n := range map[string]int{"pending": i.Pending, "active": i.Active, "scheduled": i.Scheduled,
			"retry": i.Retry, "archived": i.Archived, "aggregating": i.Aggregating} {
			ch <- prometheus.MustNewConstMetric(queueSizeDesc, prometheus.GaugeValue, float64(n), i.Queue, state)
		}
		ch <- prometheus.MustNewConstMetric(queueLatencyDesc, prometheus.GaugeValue, i.Latency.Seconds(), i.Queue)
	}
}
