package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/geowatch/geowatch/configs"
	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/store"
	"github.com/geowatch/geowatch/store/postgis/pgtest"
	"github.com/geowatch/geowatch/store/sqlite"
)

// syncBuffer collects the daemon's log while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines returns the JSON log lines written so far.
func (b *syncBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b.buf.Bytes()))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line is not JSON: %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

func (b *syncBuffer) find(t *testing.T, msg string) []map[string]any {
	var out []map[string]any
	for _, l := range b.lines(t) {
		if l["msg"] == msg {
			out = append(out, l)
		}
	}
	return out
}

// feed returns a USGS-style FeatureCollection: n reports within a few km of
// Vladivostok in the last hours before now, two far away, and one with a latitude
// out of range.
func feed(now time.Time, n int) []byte {
	var fs []string
	add := func(id string, lon, lat float64, t time.Time) {
		fs = append(fs, fmt.Sprintf(`{"type":"Feature","id":%q,"geometry":{"type":"Point","coordinates":[%v,%v,10]},
			"properties":{"time":%d,"place":"near Vladivostok","type":"police_presence","title":"report %s","mag":1.5}}`,
			id, lon, lat, t.UnixMilli(), id))
	}
	for i := range n {
		add(fmt.Sprintf("near-%d", i), 131.8855+0.01*float64(i%3), 43.1155+0.01*float64(i%2), now.Add(-time.Duration(i+1)*10*time.Minute))
	}
	add("far-1", 135.0, 48.0, now.Add(-time.Hour))
	add("far-2", 120.0, 30.0, now.Add(-time.Hour))
	add("bad-lat", 131.9, 95.0, now.Add(-time.Hour))
	return []byte(`{"type":"FeatureCollection","features":[` + strings.Join(fs, ",") + `]}`)
}

// runFor runs the daemon on cfg until the log shows want (or a timeout), then
// stops it and returns the log.
func runFor(t *testing.T, cfg string, want func(*syncBuffer) bool) *syncBuffer {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"run", "--config", cfg}, out, out) }()
	deadline := time.After(30 * time.Second)
	for !want(out) {
		select {
		case err := <-done:
			t.Fatalf("daemon exited early: %v\nlog:\n%s", err, out.buf.String())
		case <-deadline:
			cancel()
			<-done
			t.Fatalf("timed out waiting for the daemon; log:\n%s", out.buf.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	return out
}

// TestDaemonEndToEnd runs the daemon in-process against a GeoJSON feed served on
// 127.0.0.1 and checks the stored rows, the alert row, the alert log line and the
// alerts file; a second run on the same feed adds nothing and announces nothing.
//
// It runs on each backend (testBackends).
func TestDaemonEndToEnd(t *testing.T) {
	for _, be := range testBackends {
		t.Run(be.name, func(t *testing.T) { testDaemonEndToEnd(t, be.database) })
	}
}

func testDaemonEndToEnd(t *testing.T, database func(t *testing.T, dir string) string) {
	now := time.Now()
	body := feed(now, 6)
	var hits sync.Map
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Store(r.Header.Get("User-Agent"), true)
		w.Header().Set("Content-Type", "application/geo+json")
		w.Write(body)
	}))
	defer srv.Close()

	dir := t.TempDir()
	db := database(t, dir)
	alertsFile := filepath.Join(dir, "alerts.jsonl")
	cfg := filepath.Join(dir, "geowatch.yaml")
	writeFile(t, cfg, fmt.Sprintf(`
database: %s
sources:
  - name: feed
    type: geojson
    url: %s/all_hour.geojson
    schedule: "@every 1h"
watches:
  - name: vladivostok
    place: Vladivostok
    radius: 50km
    schedule: "@every 1h"
    rules:
      - name: reports
        type: count
        min: 5
        window: 6h
        kinds: [police_presence]
subscribers:
  - {name: log, sink: log}
  - {name: file, sink: file, path: %s}
`, db, srv.URL, alertsFile))

	out := runFor(t, cfg, func(b *syncBuffer) bool { return len(b.find(t, "scheduler started")) > 0 })

	checks := out.find(t, "check done")
	if len(checks) != 1 {
		t.Fatalf("%d check done lines, want 1", len(checks))
	}
	if c := checks[0]; c["seen"] != 9.0 || c["added"] != 8.0 || c["rejected"] != 1.0 {
		t.Errorf("check done = %v, want seen 9, added 8, rejected 1", c)
	}
	rej := out.find(t, "record rejected")
	if len(rej) != 1 || rej[0]["source"] != "feed" || rej[0]["field"] != "geometry.coordinates" || !strings.Contains(rej[0]["record"].(string), "bad-lat") {
		t.Errorf("record rejected lines = %v, want one naming source feed, record bad-lat, its coordinates", rej)
	}
	firing := out.find(t, "alert firing")
	if len(firing) != 1 {
		t.Fatalf("%d alert firing lines, want 1; log:\n%s", len(firing), out.buf.String())
	}
	a := firing[0]
	for k, want := range map[string]any{"watch": "vladivostok", "rule": "reports", "severity": "warning",
		"count": 6.0, "radius_m": 50000.0, "window": "6h0m0s", "alert_id": 1.0} {
		if a[k] != want {
			t.Errorf("alert firing %s = %v, want %v", k, a[k], want)
		}
	}
	for _, k := range []string{"lat", "lon", "first_seen", "last_seen", "transition_id"} {
		if _, ok := a[k]; !ok {
			t.Errorf("alert firing line lacks %s: %v", k, a)
		}
	}
	if _, ok := hits.Load("geowatch/devel (+https://github.com/geowatch/geowatch)"); !ok {
		var uas []any
		hits.Range(func(k, _ any) bool { uas = append(uas, k); return true })
		t.Errorf("feed saw User-Agents %v, want geowatch's", uas)
	}

	st, err := openStore(t.Context(), db, store.ReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	n, err := st.CountObservations(t.Context())
	if err != nil || n != 8 {
		t.Errorf("stored %d observations (%v), want 8", n, err)
	}
	alerts, err := st.Alerts(t.Context(), store.AlertFilter{})
	if err != nil || len(alerts) != 1 || alerts[0].Watch != "vladivostok" || alerts[0].Finding.Count != 6 {
		t.Errorf("alerts = %+v (%v), want one firing on vladivostok with count 6", alerts, err)
	}
	st.Close()

	lines := strings.Split(strings.TrimSpace(readFile(t, alertsFile)), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], `"msg":"alert firing"`) {
		t.Errorf("alerts file = %q, want one alert firing line", lines)
	}

	// The same feed again, after a restart: nothing new is stored and the alert
	// that is still firing is not announced again.
	out = runFor(t, cfg, func(b *syncBuffer) bool { return len(b.find(t, "scheduler started")) > 0 })
	if c := out.find(t, "check done"); len(c) != 1 || c[0]["added"] != 0.0 || c[0]["unchanged"] != 8.0 {
		t.Errorf("second run check done = %v, want added 0, unchanged 8", c)
	}
	if f := out.find(t, "alert firing"); len(f) != 0 {
		t.Errorf("second run announced %v again", f)
	}
	st, err = openStore(t.Context(), db, store.ReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if n, err := st.CountObservations(t.Context()); err != nil || n != 8 {
		t.Errorf("after the second run: %d observations (%v), want 8", n, err)
	}
}

// testBackends are the databases the public-path tests run on: a SQLite file
// in the test's directory, and a new PostgreSQL database (store/postgis/pgtest).
var testBackends = []struct {
	name     string
	database func(t *testing.T, dir string) string
}{
	{"sqlite", func(_ *testing.T, dir string) string { return filepath.Join(dir, "geowatch.gpkg") }},
	{"postgis", func(t *testing.T, _ string) string { return pgtest.URL(t) }},
}

// TestDefaultConfigFires runs the embedded default config, as the README's first
// command does, and expects the bundled scenario to raise alerts on both watches.
func TestDefaultConfigFires(t *testing.T) {
	t.Chdir(t.TempDir()) // the default config writes ./geowatch.gpkg and ./alerts.jsonl
	ctx, cancel := context.WithCancel(t.Context())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"run"}, out, out) }()
	deadline := time.Now().Add(30 * time.Second)
	watches := map[any]bool{}
	for len(watches) < 3 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		for _, l := range out.find(t, "alert firing") {
			watches[l["watch"]] = true
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !watches["vladivostok"] || !watches["khasan-tumangang"] || !watches["khasan-vladivostok-railway"] {
		t.Errorf("alerts fired on %v, want vladivostok, khasan-tumangang and khasan-vladivostok-railway; log:\n%s", watches, out.buf.String())
	}
	if _, err := os.Stat("geowatch.gpkg"); err != nil {
		t.Error(err)
	}
	alertsAfter := func() []monitor.Alert {
		st, err := sqlite.Open(t.Context(), "geowatch.gpkg", store.ReadOnly())
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		as, err := st.Alerts(t.Context(), store.AlertFilter{})
		if err != nil {
			t.Fatal(err)
		}
		return as
	}
	first := alertsAfter()
	// The journey along the railway: the train from the border to Vladivostok,
	// station after station, at a train's speed.
	var journey *monitor.Progression
	for _, a := range first {
		if a.Watch == "khasan-vladivostok-railway" && a.Rule == "journey" {
			journey = a.Finding.Progression
		}
	}
	switch {
	case journey == nil:
		t.Errorf("no progression alert on the railway: %+v", first)
	case len(journey.Steps) < 3 || journey.Steps[0].Place != "Khasan" || journey.Steps[len(journey.Steps)-1].Place != "Vladivostok railway station":
		t.Errorf("the journey's steps %+v, want Khasan … Vladivostok railway station", journey.Steps)
	case journey.SpeedKmh < 20 || journey.SpeedKmh > 120:
		t.Errorf("the journey at %.0f km/h, outside its rule's 20-120 km/h", journey.SpeedKmh)
	}

	// The demo restarts stably: the replay resumes its stored timeline, so the
	// second run updates no row, opens no second alert and announces nothing.
	again := runFor(t, "", func(b *syncBuffer) bool { return len(b.find(t, "scheduler started")) > 0 })
	if n := len(again.find(t, "alert firing")); n != 0 {
		t.Errorf("the restarted demo announced %d alerts again", n)
	}
	if second := alertsAfter(); len(second) != len(first) {
		t.Errorf("the restarted demo has %d alerts, want the first run's %d: %+v", len(second), len(first), second)
	}
	st, err := sqlite.Open(t.Context(), "geowatch.gpkg", store.ReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srcs, err := st.Sources(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range srcs {
		if s.Name == "scenario" && (s.Last.Updated != 0 || s.Last.Added != 0) {
			t.Errorf("the restarted demo's check: %+v, want nothing added or updated", s.Last)
		}
	}
}

func TestCheckConfig(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	writeFile(t, bad, "watches:\n  - name: w\n    lat: 91\n    lon: 0\n    radius: 5 parsecs\n    rules: [{type: count, min: 1, window: 1h}]\n")
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), []string{"check-config", bad}, &stdout, &stderr)
	if err == nil {
		t.Fatal("check-config accepted a bad config")
	}
	for _, want := range []string{"line 3: watches[0].lat", "line 5: watches[0].radius"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("check-config output lacks %q:\n%s", want, stderr.String())
		}
	}
	// The three mistakes a newcomer makes at once are three lines, each with its
	// line and field, the unknown key with the one meant.
	three := filepath.Join(dir, "three.yaml")
	writeFile(t, three, "watches:\n  - name: w\n    place: Vladivostok\n    radious: 5km\n    schedule: \"every minute\"\n    rules: [{type: count, min: 1, window: 6 hours}]\n")
	stderr.Reset()
	err = run(t.Context(), []string{"check-config", three}, &stdout, &stderr)
	if err == nil || !strings.HasSuffix(err.Error(), ": 4 errors") {
		t.Errorf("check-config with three mistakes = %v, want 4 errors (the misspelt radius is also missing)", err)
	}
	for _, want := range []string{
		"line 2: watches[0].radius: required",
		`line 4: watches[0].radious: unknown key; did you mean "radius"? (the keys here: name, place, lat, lon, radius,`,
		"line 5: watches[0].schedule: every minute:",
		`line 6: watches[0].rules[0].window: duration "6 hours": unknown unit`,
	} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("check-config output lacks %q:\n%s", want, stderr.String())
		}
	}

	good := filepath.Join(dir, "good.yaml")
	writeFile(t, good, string(configs.DefaultYAML))
	stdout.Reset()
	if err := run(t.Context(), []string{"check-config", good}, &stdout, &stderr); err != nil {
		t.Fatalf("check-config on the default config: %v", err)
	}
	if !strings.Contains(stdout.String(), "ok") {
		t.Errorf("check-config printed %q", stdout.String())
	}

	// An empty file is not a config; one without watches is ok, with a warning;
	// one error is "1 error".
	empty := filepath.Join(dir, "empty.yaml")
	writeFile(t, empty, "# nothing yet\n\n")
	if err := run(t.Context(), []string{"check-config", empty}, &stdout, &stderr); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("check-config on an empty file = %v, want an error", err)
	}
	nowatch := filepath.Join(dir, "nowatch.yaml")
	writeFile(t, nowatch, "sources:\n  - name: s\n    type: geojson\n    url: http://127.0.0.1/feed\n    schedule: \"@every 1m\"\n")
	stderr.Reset()
	if err := run(t.Context(), []string{"check-config", nowatch}, &stdout, &stderr); err != nil || !strings.Contains(stderr.String(), "warning: no watches") {
		t.Errorf("check-config without watches = %v, stderr %q; want ok with a warning", err, stderr.String())
	}
	one := filepath.Join(dir, "one.yaml")
	writeFile(t, one, "watches:\n  - name: w\n    lat: 91\n    lon: 0\n    radius: 5km\n    rules: [{type: count, min: 1, window: 1h}]\n")
	if err := run(t.Context(), []string{"check-config", one}, &stdout, &stderr); err == nil || !strings.HasSuffix(err.Error(), ": 1 error") {
		t.Errorf("check-config with one error = %v, want \"1 error\"", err)
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
