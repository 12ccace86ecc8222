package metrics

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/geowatch/geowatch/monitor"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestRecorder(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "geowatch.gpkg")
	if err := os.WriteFile(db, make([]byte, 8192), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(db+"-wal", make([]byte, 100), 0o600); err != nil {
		t.Fatal(err)
	}
	clock := time.Unix(1_700_000_000, 0)
	open := []monitor.Alert{
		{Watch: "w", Rule: "r", Severity: monitor.SeverityWarning, State: monitor.StateFiring},
		{Watch: "w", Rule: "r2", Severity: monitor.SeverityCritical, State: monitor.StateFiring},
	}
	r := New(Options{DatabasePath: db, OpenAlerts: func() []monitor.Alert { return open }, Now: func() time.Time { return clock }})

	r.CheckDone("feed", clock, 2*time.Second, nil)
	r.CheckDone("feed", clock.Add(time.Minute), time.Second, errors.New("503"))
	done := r.RuleEvaluation("w", "r")
	clock = clock.Add(250 * time.Millisecond)
	done()
	r.Notified("journal", nil)
	r.Notified("file", errors.New("disk full"))
	r.Transitioned(open[0], monitor.Transition{To: monitor.StateResolved})

	const want = `
# HELP geowatch_alert_transitions_total Persisted alert transitions per watch and rule, by the state entered.
# TYPE geowatch_alert_transitions_total counter
geowatch_alert_transitions_total{rule="r",to="resolved",watch="w"} 1
# HELP geowatch_alerts_firing Alerts currently firing per watch, rule and severity.
# TYPE geowatch_alerts_firing gauge
geowatch_alerts_firing{rule="r",severity="warning",watch="w"} 1
geowatch_alerts_firing{rule="r2",severity="critical",watch="w"} 1
# HELP geowatch_check_failures_total Check runs that failed, per source.
# TYPE geowatch_check_failures_total counter
geowatch_check_failures_total{source="feed"} 1
# HELP geowatch_check_last_success_timestamp_seconds When the last successful check run per source ended, in Unix seconds.
# TYPE geowatch_check_last_success_timestamp_seconds gauge
geowatch_check_last_success_timestamp_seconds{source="feed"} 1.700000002e+09
# HELP geowatch_database_size_bytes Size of the database file plus its write-ahead log, read at scrape time.
# TYPE geowatch_database_size_bytes gauge
geowatch_database_size_bytes 8292
# HELP geowatch_notifications_failed_total Failed deliveries per subscriber; each is retried later.
# TYPE geowatch_notifications_failed_total counter
geowatch_notifications_failed_total{subscriber="file"} 1
# HELP geowatch_notifications_sent_total Alert events delivered per subscriber (filtered-out events included).
# TYPE geowatch_notifications_sent_total counter
geowatch_notifications_sent_total{subscriber="journal"} 1
`
	if err := testutil.GatherAndCompare(r.Registry(), strings.NewReader(want),
		"geowatch_alert_transitions_total", "geowatch_alerts_firing", "geowatch_check_failures_total",
		"geowatch_check_last_success_timestamp_seconds", "geowatch_database_size_bytes",
		"geowatch_notifications_failed_total", "geowatch_notifications_sent_total"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(r.evalDuration); n != 1 {
		t.Errorf("%d evaluation series, want 1", n)
	}
	if err := testutil.GatherAndCompare(r.Registry(), strings.NewReader(`
# HELP geowatch_evaluation_duration_seconds Duration of evaluating one rule of a watch and stepping its alert.
# TYPE geowatch_evaluation_duration_seconds histogram
geowatch_evaluation_duration_seconds_bucket{rule="r",watch="w",le="0.0005"} 0
geowatch_evaluation_duration_seconds_bucket{rule="r",watch="w",le="0.001"} 0
geowatch_evaluation_duration_seconds_bucket{rule="r",watch="w",le="0.0025"} 0
geowatch_evaluation_duration_seconds_bucket{rule="r",watch="w",le="0.005"} 0
geowatch_evaluation_duration_seconds_bucket{rule="r",watch="w",le="0.01"} 0
geowatch_evaluation_duration_seconds_bucket{rule="r",watch="w",le="0.025"} 0
geowatch_evaluation_duration_seconds_bucket{rule="r",watch="w",le="0.05"} 0
geowatch_evaluation_duration_seconds_bucket{rule="r",watch="w",le="0.1"} 0
geowatch_evaluation_duration_seconds_bucket{rule="r",watch="w",le="0.25"} 1
geowatch_evaluation_duration_seconds_bucket{rule="r",watch="w",le="0.5"} 1
geowatch_evaluation_duration_seconds_bucket{rule="r",watch="w",le="1"} 1
geowatch_evaluation_duration_seconds_bucket{rule="r",watch="w",le="2.5"} 1
geowatch_evaluation_duration_seconds_bucket{rule="r",watch="w",le="+Inf"} 1
geowatch_evaluation_duration_seconds_sum{rule="r",watch="w"} 0.25
geowatch_evaluation_duration_seconds_count{rule="r",watch="w"} 1
`), "geowatch_evaluation_duration_seconds"); err != nil {
		t.Error(err)
	}
	problems, err := testutil.GatherAndLint(r.Registry())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "geowatch_") {
			t.Errorf("lint: %s: %s", p.Metric, p.Text)
		}
	}
}
