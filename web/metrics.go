package web

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"idletrace/store"
)

// metrics are the server's Prometheus metrics, in a registry of its own
// (not the global one), so that several servers in one process (tests)
// do not collide.
type metrics struct {
	reg              *prometheus.Registry
	ingestEvents     *prometheus.CounterVec
	ingestBytes      prometheus.Counter
	ingestErrors     prometheus.Counter
	ingestDuration   prometheus.Histogram
	analysisDuration prometheus.Histogram
	httpDuration     *prometheus.HistogramVec
	pushed           *prometheus.CounterVec
	readsWaiting     prometheus.Gauge   // admission.go
	readsRunning     prometheus.Gauge   // admission.go
	dashRenders      prometheus.Counter // report.go
	analysisScratch  prometheus.Gauge   // live (SetWorkingMemory)
}

func newMetrics(db store.Store) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		ingestEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "idletrace_ingest_events_total",
			Help: "Outlook events ingested, by result: new or duplicate (already stored).",
		}, []string{"result"}),
		ingestBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "idletrace_ingest_bytes_total",
			Help: "Bytes of input ingested (uploaded files and batches).",
		}),
		ingestErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "idletrace_ingest_errors_total",
			Help: "Ingests that failed or stopped early.",
		}),
		ingestDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "idletrace_ingest_duration_seconds",
			Help:    "Time to ingest one input.",
			Buckets: prometheus.ExponentialBuckets(0.01, 4, 9), // 10 ms … 11 min
		}),
		analysisDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "idletrace_analysis_duration_seconds",
			Help:    "Time to load and analyze the stored events.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 9), // 1 ms … 66 s
		}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "idletrace_http_request_duration_seconds",
			Help: "HTTP request latency by route pattern, method and status.",
			// Finer than the default below 100 ms, where a page's p99 sits.
			Buckets: []float64{.001, .0025, .005, .01, .02, .035, .05, .075, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method", "status"}),
		pushed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "idletrace_push_total",
			Help: "Diagnoses forwarded to push targets, by target kind and result.",
		}, []string{"target", "result"}),
		readsWaiting: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "idletrace_read_requests_waiting",
			Help: "Read requests waiting for their turn to run (-max-concurrent-reads).",
		}),
		readsRunning: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "idletrace_read_requests_running",
			Help: "Read requests running their handler (at most -max-concurrent-reads).",
		}),
		dashRenders: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "idletrace_dashboard_renders_total",
			Help: "Renders of the dashboard page: one per change of the analysis or its freshness, however many clients load it.",
		}),
		analysisScratch: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "idletrace_analysis_working_memory_bytes",
			Help: "Working memory the analysis keeps for its next update while updates follow each other; let go after 10 s without one.",
		}),
	}
	dbSize := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "idletrace_database_size_bytes",
		Help: "Size of the database (the SQLite file and its write-ahead log).",
	}, func() float64 {
		n, _ := db.Size(context.Background())
		return float64(n)
	})
	m.reg.MustRegister(m.ingestEvents, m.ingestBytes, m.ingestErrors, m.ingestDuration, m.analysisDuration,
		m.httpDuration, m.pushed, m.readsWaiting, m.readsRunning, m.dashRenders, m.analysisScratch, dbSize,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.ingestEvents.WithLabelValues("new")
	m.ingestEvents.WithLabelValues("duplicate")
	return m
}

// ObserveIngest records one finished ingest of u (nil when it never
// began): intake.Metrics.
func (m *metrics) ObserveIngest(u *store.Upload, took time.Duration, err error) {
	if u != nil {
		m.ingestEvents.WithLabelValues("new").Add(float64(u.NewEvents))
		m.ingestEvents.WithLabelValues("duplicate").Add(float64(u.DuplicateEvents))
		m.ingestBytes.Add(float64(u.Bytes))
	}
	if err != nil {
		m.ingestErrors.Inc()
	}
	m.ingestDuration.Observe(took.Seconds())
}

// SetWorkingMemory records the analysis's kept working memory (live.Metrics).
func (m *metrics) SetWorkingMemory(bytes int64) { m.analysisScratch.Set(float64(bytes)) }

// ObserveAnalysis records a recompute (live.Metrics).
func (m *metrics) ObserveAnalysis(took time.Duration) { m.analysisDuration.Observe(took.Seconds()) }

// handler serves the registry in the Prometheus text format.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// instrument times every request by its chi route pattern (bounded label
// values: "/api/v1/computers/{name}", never the name itself).
func (m *metrics) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		start := time.Now()
		defer func() {
			route := "unmatched"
			if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
				route = rc.RoutePattern()
			}
			status := ww.Status()
			if status == 0 {
				status = http.StatusOK
			}
			m.httpDuration.WithLabelValues(route, methodLabel(r.Method), strconv.Itoa(status)).Observe(time.Since(start).Seconds())
		}()
		next.ServeHTTP(ww, r)
	})
}

// methodLabel bounds the method label: clients may send any token.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	}
	return "other"
}
