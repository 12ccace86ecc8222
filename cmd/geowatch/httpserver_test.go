package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/geowatch/geowatch/configs"
	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/monitor/daemon"
	"github.com/geowatch/geowatch/store/sqlite"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"
)

// TestHTTPServer runs the HTTP listener as runDaemon wires it, on a real store:
// readiness follows the scheduler and the store, a push is stored, and the
// metrics after a check run and an alert carry the expected values.
func TestHTTPServer(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	feedSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		var fs []string
		for i := range 3 {
			fs = append(fs, fmt.Sprintf(`{"type":"Feature","id":"f%d","geometry":{"type":"Point","coordinates":[131.9,43.1]},"properties":{"time":%q,"type":"rally"}}`,
				i, now.Add(-time.Duration(i+1)*time.Hour).Format(time.RFC3339)))
		}
		io.WriteString(w, `{"type":"FeatureCollection","features":[`+strings.Join(fs, ",")+`]}`)
	}))
	defer feedSrv.Close()
	dbPath := filepath.Join(t.TempDir(), "geowatch.gpkg")
	cfg := `database: ` + dbPath + `
http:
  listen: 127.0.0.1:0
sources:
  - name: feed
    type: geojson
    url: ` + feedSrv.URL + `
    schedule: "@every 1h"
  - name: field
    type: push
    kind: field_report
watches:
  - name: vlad
    lat: 43.1
    lon: 131.9
    radius: 50km
    schedule: "@every 1h"
    rules:
      - name: busy
        type: count
        severity: critical
        min: 2
        window: 6h
subscribers:
  - name: journal
    sink: log
`
	c, err := configs.Parse([]byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := c.Build()
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	st, err := sqlite.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	log := zap.NewNop()
	engine, err := monitor.NewEngine(ctx, st, log)
	if err != nil {
		t.Fatal(err)
	}
	subs, err := openSubscribers(plan.Subscribers, log)
	if err != nil {
		t.Fatal(err)
	}
	engine.SetNotifiers(subs.notifiers)
	rec := newMetrics(plan, engine)
	engine.SetMetrics(rec)
	d := daemon.New(engine, log, daemon.Options{Metrics: rec, Now: func() time.Time { return now }})
	if _, err := d.Apply(plan.Checks, plan.Watches); err != nil {
		t.Fatal(err)
	}
	api, err := openHTTP(plan, st, engine, d, rec, log)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	api.serve(runCtx)
	base := "http://" + api.srv.Addr().String()

	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	expect := func(path string, wantCode int, wantBody string) {
		t.Helper()
		if code, body := get(path); code != wantCode || body != wantBody {
			t.Errorf("GET %s = %d %q, want %d %q", path, code, body, wantCode, wantBody)
		}
	}
	expect("/healthz", 200, "ok\n")
	expect("/readyz", 503, "not ready: scheduler\n")

	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- d.Run(runCtx, func() { close(ready) }) }()
	<-ready
	expect("/readyz", 200, "ok\n")

	body := `{"type":"Feature","id":"p1","geometry":{"type":"Point","coordinates":[131.88,43.11]},"properties":{"time":"` + now.Add(-time.Minute).Format(time.RFC3339) + `"}}`
	resp, err := http.Post(base+"/v1/observations", "application/geo+json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := `{"stored":1,"added":1,"updated":0,"duplicates":0,"rejected":[]}` + "\n"; resp.StatusCode != 200 || string(b) != want {
		t.Errorf("POST = %d %s, want 200 %s", resp.StatusCode, b, want)
	}

	// Deliveries are asynchronous: the subscriber has the alert once the outbox
	// is flushed.
	if err := engine.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`
# HELP geowatch_alert_transitions_total Persisted alert transitions per watch and rule, by the state entered.
# TYPE geowatch_alert_transitions_total counter
geowatch_alert_transitions_total{rule="busy",to="firing",watch="vlad"} 1
# HELP geowatch_alerts_firing Alerts currently firing per watch, rule and severity.
# TYPE geowatch_alerts_firing gauge
geowatch_alerts_firing{rule="busy",severity="critical",watch="vlad"} 1
# HELP geowatch_check_failures_total Check runs that failed, per source.
# TYPE geowatch_check_failures_total counter
geowatch_check_failures_total{source="feed"} 0
# HELP geowatch_check_last_success_timestamp_seconds When the last successful check run per source ended, in Unix seconds.
# TYPE geowatch_check_last_success_timestamp_seconds gauge
geowatch_check_last_success_timestamp_seconds{source="feed"} %d
# HELP geowatch_notifications_sent_total Alert events delivered per subscriber (filtered-out events included).
# TYPE geowatch_notifications_sent_total counter
geowatch_notifications_sent_total{subscriber="journal"} 1
# HELP geowatch_observations_total Records received per source, by result: added, updated, duplicate or rejected.
# TYPE geowatch_observations_total counter
geowatch_observations_total{result="added",source="feed"} 3
geowatch_observations_total{result="added",source="field"} 1
geowatch_observations_total{result="duplicate",source="feed"} 0
geowatch_observations_total{result="duplicate",source="field"} 0
geowatch_observations_total{result="rejected",source="feed"} 0
geowatch_observations_total{result="rejected",source="field"} 0
geowatch_observations_total{result="updated",source="feed"} 0
geowatch_observations_total{result="updated",source="field"} 0
# HELP geowatch_push_requests_total Requests to the push endpoint by HTTP status code.
# TYPE geowatch_push_requests_total counter
geowatch_push_requests_total{code="200"} 1
`, now.Unix())
	if err := testutil.GatherAndCompare(rec.Registry(), strings.NewReader(want),
		"geowatch_alert_transitions_total", "geowatch_alerts_firing", "geowatch_check_failures_total",
		"geowatch_check_last_success_timestamp_seconds", "geowatch_notifications_sent_total",
		"geowatch_observations_total", "geowatch_push_requests_total"); err != nil {
		t.Error(err)
	}

	// The same through the listener, with the histograms and the scrape-time gauge.
	code, scrape := get("/metrics")
	if code != 200 {
		t.Fatalf("GET /metrics = %d", code)
	}
	for _, line := range []string{
		`geowatch_check_duration_seconds_count{source="feed"} 1`,
		`geowatch_evaluation_duration_seconds_count{rule="busy",watch="vlad"} 1`,
		`geowatch_alerts_firing{rule="busy",severity="critical",watch="vlad"} 1`,
		`go_goroutines `,
		`process_open_fds `,
	} {
		if !strings.Contains(scrape, line) {
			t.Errorf("/metrics lacks %q", line)
		}
	}
	m := regexp.MustCompile(`(?m)^geowatch_database_size_bytes (\S+)$`).FindStringSubmatch(scrape)
	if m == nil {
		t.Error("/metrics lacks geowatch_database_size_bytes")
	} else if v, _ := strconv.ParseFloat(m[1], 64); v <= 0 {
		t.Errorf("geowatch_database_size_bytes = %v, want > 0", v)
	}

	// A pushed feature's "kind" property is its kind without any fields:
	// mapping; one without keeps the source's kind.
	body = `{"type":"Feature","id":"p2","geometry":{"type":"Point","coordinates":[131.88,43.11]},"properties":{"time":"` + now.Add(-time.Minute).Format(time.RFC3339) + `","kind":"checkpoint"}}`
	resp, err = http.Post(base+"/v1/observations", "application/geo+json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	kinds := map[string]string{}
	ro, err := sql.Open("sqlite3", "file:"+dbPath+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	rows, err := ro.QueryContext(ctx, `SELECT ext_id, kind FROM observations WHERE source = 'field'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, kind string
		if err := rows.Scan(&id, &kind); err != nil {
			t.Fatal(err)
		}
		kinds[id] = kind
	}
	rows.Close()
	if want := map[string]string{"p1": "field_report", "p2": "checkpoint"}; !maps.Equal(kinds, want) {
		t.Errorf("pushed kinds = %v, want %v", kinds, want)
	}

	st.Close()
	expect("/readyz", 503, "not ready: store\n")
	expect("/healthz", 200, "ok\n")

	stop()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
	api.wait()
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("the listener still answers after shutdown")
	}
}
