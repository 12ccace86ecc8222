// Package metrics exports what geowatch does as Prometheus metrics: Recorder
// implements monitor.Metrics for the engine and the scheduler, counts push
// requests by status, and reads the database's size and the firing alerts at
// scrape time. It keeps its own registry (with the Go and process collectors),
// so nothing registers globally.
//
// It imports monitor, zap and the Prometheus client.
package metrics

import (
	"net/http"
	"os"
	"time"

	"github.com/geowatch/geowatch/monitor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const namespace = "geowatch"

// Options say where the scrape-time metrics come from.
type Options struct {
	// DatabasePath is the SQLite file; its size plus its -wal file's is reported
	// as geowatch_database_size_bytes. Empty leaves the metric out.
	DatabasePath string
	// OpenAlerts lists the firing alerts (the engine's OpenAlerts) for
	// geowatch_alerts_firing. Nil leaves the metric out.
	OpenAlerts func() []monitor.Alert
	// Now is the clock that times rule evaluations; default time.Now.
	Now func() time.Time
}

// Recorder holds geowatch's metrics and their registry. It implements
// monitor.Metrics and is safe for concurrent use.
type Recorder struct {
	reg *prometheus.Registry
	now func() time.Time

	observations  *prometheus.CounterVec
	checkDuration *prometheus.HistogramVec
	checkFailures *prometheus.CounterVec
	checkSuccess  *prometheus.GaugeVec
	evalDuration  *prometheus.HistogramVec
	transitions   *prometheus.CounterVec
	notifySent    *prometheus.CounterVec
	notifyFailed  *prometheus.CounterVec
	pushRequests  *prometheus.CounterVec
}

var _ monitor.Metrics = (*Recorder)(nil)

// New returns a recorder with every metric registered.
func New(opt Options) *Recorder {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	r := &Recorder{
		reg: prometheus.NewRegistry(),
		now: opt.Now,
		observations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "observations_total",
			Help: "Records received per source, by result: added, updated, duplicate or rejected.",
		}, []string{"source", "result"}),
		checkDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "check_duration_seconds",
			Help: "Duration of check runs per source, failed ones included.",
			// Feeds answer in tens of milliseconds to tens of seconds; the timeout
			// is a minute by default.
			Buckets: []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"source"}),
		checkFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "check_failures_total",
			Help: "Check runs that failed, per source.",
		}, []string{"source"}),
		checkSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Name: "check_last_success_timestamp_seconds",
			Help: "When the last successful check run per source ended, in Unix seconds.",
		}, []string{"source"}),
		evalDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "evaluation_duration_seconds",
			Help:    "Duration of evaluating one rule of a watch and stepping its alert.",
			Buckets: []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5},
		}, []string{"watch", "rule"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "alert_transitions_total",
			Help: "Persisted alert transitions per watch and rule, by the state entered.",
		}, []string{"watch", "rule", "to"}),
		notifySent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "notifications_sent_total",
			Help: "Alert events delivered per subscriber (filtered-out events included).",
		}, []string{"subscriber"}),
		notifyFailed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "notifications_failed_total",
			Help: "Failed deliveries per subscriber; each is retried later.",
		}, []string{"subscriber"}),
		pushRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "push_requests_total",
			Help: "Requests to the push endpoint by HTTP status code.",
		}, []string{"code"}),
	}
	r.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		r.observations, r.checkDuration, r.checkFailures, r.checkSuccess, r.evalDuration,
		r.transitions, r.notifySent, r.notifyFailed, r.pushRequests,
	)
	if opt.DatabasePath != "" {
		path := opt.DatabasePath
		r.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: namespace, Name: "database_size_bytes",
			Help: "Size of the database file plus its write-ahead log, read at scrape time.",
		}, func() float64 { return float64(fileSize(path) + fileSize(path+"-wal")) }))
		r.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: namespace, Name: "wal_bytes",
			Help: "Size of the database's write-ahead log, read at scrape time. It grows while a read transaction holds an old snapshot.",
		}, func() float64 { return float64(fileSize(path + "-wal")) }))
	}
	if opt.OpenAlerts != nil {
		r.reg.MustRegister(firingCollector{opt.OpenAlerts})
	}
	return r
}

// fileSize is the size of the file at path, 0 when it cannot be read.
func fileSize(path string) int64 {
	// A missing -wal file (after a checkpoint on close) counts as empty; any
	// other error too, as a scrape should not fail over a gauge.
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

// Registry returns the registry the metrics are in, for tests and for adding
// collectors.
func (r *Recorder) Registry() *prometheus.Registry { return r.reg }

// Handler serves the registry in the Prometheus exposition formats.
func (r *Recorder) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{Registry: r.reg})
}

// InstrumentPush counts h's responses in geowatch_push_requests_total by status.
func (r *Recorder) InstrumentPush(h http.Handler) http.Handler {
	return promhttp.InstrumentHandlerCounter(r.pushRequests, h)
}

// Ingested implements monitor.Metrics.
func (r *Recorder) Ingested(source string, res monitor.IngestResult) {
	for result, n := range map[string]int{
		"added": res.Added, "updated": res.Updated, "duplicate": res.Unchanged, "rejected": res.Rejected,
	} {
		// Add(0) still creates the series, so every result of a source shows up
		// from its first batch on and rate() has a starting point.
		r.observations.WithLabelValues(source, result).Add(float64(n))
	}
}

// CheckDone implements monitor.Metrics.
func (r *Recorder) CheckDone(source string, started time.Time, d time.Duration, err error) {
	r.checkDuration.WithLabelValues(source).Observe(d.Seconds())
	failures := r.checkFailures.WithLabelValues(source) // created at 0 on the first run
	if err != nil {
		failures.Inc()
		return
	}
	end := started.Add(d)
	r.checkSuccess.WithLabelValues(source).Set(float64(end.UnixNano()) / 1e9)
}

// RuleEvaluation implements monitor.Metrics.
func (r *Recorder) RuleEvaluation(watch, rule string) func() {
	start := r.now()
	obs := r.evalDuration.WithLabelValues(watch, rule)
	return func() { obs.Observe(r.now().Sub(start).Seconds()) }
}

// Transitioned implements monitor.Metrics.
func (r *Recorder) Transitioned(a monitor.Alert, t monitor.Transition) {
	r.transitions.WithLabelValues(a.Watch, a.Rule, t.To.String()).Inc()
}

// Notified implements monitor.Metrics.
func (r *Recorder) Notified(subscriber string, err error) {
	if err != nil {
		r.notifyFailed.WithLabelValues(subscriber).Inc()
		return
	}
	r.notifySent.WithLabelValues(subscriber).Inc()
}

// firingCollector reports the firing alerts per watch, rule and severity at
// scrape time, from the engine's open alerts, so the gauge is right from the
// start (alerts resumed after a restart) without tracking each change.
type firingCollector struct{ open func() []monitor.Alert }

var firingDesc = prometheus.NewDesc(namespace+"_alerts_firing",
	"Alerts currently firing per watch, rule and severity.", []string{"watch", "rule", "severity"}, nil)

func (c firingCollector) Describe(ch chan<- *prometheus.Desc) { ch <- firingDesc }

func (c firingCollector) Collect(ch chan<- prometheus.Metric) {
	type key struct{ watch, rule, severity string }
	counts := map[key]int{}
	for _, a := range c.open() {
		if a.State == monitor.StateFiring {
			counts[key{a.Watch, a.Rule, a.Severity.String()}]++
		}
	}
	for k, n := range counts {
		ch <- prometheus.MustNewConstMetric(firingDesc, prometheus.GaugeValue, float64(n), k.watch, k.rule, k.severity)
	}
}
