package main

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/geowatch/geowatch/configs"
	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/store"
	"github.com/geowatch/geowatch/store/sqlite"
	"github.com/paulmach/orb"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func lifecycleAlert(watch, rule string, at time.Time) monitor.Alert {
	return monitor.Alert{
		Watch: watch, Rule: rule, RuleType: "count", Severity: monitor.SeverityWarning, State: monitor.StateFiring,
		RadiusMeters: 50e3, Window: 6 * time.Hour, StartsAt: at, UpdatedAt: at,
		Finding: monitor.Finding{Count: 3, Weight: 3, Center: vladivostok, FirstSeen: at.Add(-time.Hour), LastSeen: at, FIDs: []int64{1, 2, 3}},
	}
}

// saveAlert stores a's opening transition and, with resolveAt set, its resolution;
// every transition is marked notified.
func saveAlert(t *testing.T, st store.Backend, a *monitor.Alert, resolveAt time.Time) {
	t.Helper()
	open := monitor.Transition{At: a.StartsAt, To: monitor.StateFiring}
	if err := st.SaveAlerts(t.Context(), []monitor.Change{{Alert: a, Transition: &open}}); err != nil {
		t.Fatal(err)
	}
	if err := st.MarkNotified(t.Context(), open.ID, open.At); err != nil {
		t.Fatal(err)
	}
	if resolveAt.IsZero() {
		return
	}
	res := monitor.Transition{At: resolveAt, From: monitor.StateFiring, To: monitor.StateResolved}
	a.State, a.EndsAt, a.UpdatedAt = monitor.StateResolved, resolveAt, resolveAt
	if err := st.SaveAlerts(t.Context(), []monitor.Change{{Alert: a, Transition: &res}}); err != nil {
		t.Fatal(err)
	}
	if err := st.MarkNotified(t.Context(), res.ID, resolveAt); err != nil {
		t.Fatal(err)
	}
}

func TestAlertsCommand(t *testing.T) {
	now := time.Now().UTC()
	path := filepath.Join(t.TempDir(), "geowatch.gpkg")
	st, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	old := lifecycleAlert("vlad", "count", now.Add(-72*time.Hour))
	saveAlert(t, st, &old, now.Add(-70*time.Hour))
	firing := lifecycleAlert("vlad", "cluster", now.Add(-time.Hour))
	firing.Finding.Hull = orb.Polygon{{{131.8, 43}, {132, 43}, {132, 43.2}, {131.8, 43}}}
	saveAlert(t, st, &firing, time.Time{})
	other := lifecycleAlert("khasan", "count", now.Add(-2*time.Hour))
	saveAlert(t, st, &other, now.Add(-30*time.Minute))
	st.Close()

	alerts := func(t *testing.T, args ...string) []alertJSON {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if err := run(t.Context(), append([]string{"alerts", "--db", path, "--format", "json"}, args...), &stdout, &stderr); err != nil {
			t.Fatalf("alerts %v: %v\n%s", args, err, stderr.String())
		}
		var as []alertJSON
		if err := json.Unmarshal(stdout.Bytes(), &as); err != nil {
			t.Fatalf("alerts %v: %v\n%s", args, err, stdout.String())
		}
		if len(as) > 0 {
			assertFixedWidthTimes(t, stdout.Bytes())
		}
		return as
	}
	ids := func(as []alertJSON) string {
		var s []string
		for _, a := range as {
			s = append(s, fmt.Sprintf("%s/%s:%s:%d", a.Watch, a.Rule, a.State, len(a.Transitions)))
		}
		return strings.Join(s, " ")
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"all", nil, "khasan/count:resolved:0 vlad/cluster:firing:0 vlad/count:resolved:0"},
		{"state", []string{"--state", "firing"}, "vlad/cluster:firing:0"},
		{"watch", []string{"--watch", "vlad"}, "vlad/cluster:firing:0 vlad/count:resolved:0"},
		{"since", []string{"--since", "24h"}, "khasan/count:resolved:0 vlad/cluster:firing:0"},
		{"history", []string{"--history"}, "khasan/count:resolved:2 vlad/cluster:firing:1 vlad/count:resolved:2"},
		{"history since", []string{"--history", "--since", "100m"}, "khasan/count:resolved:1 vlad/cluster:firing:1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ids(alerts(t, tc.args...)); got != tc.want {
				t.Errorf("alerts %v = %s, want %s", tc.args, got, tc.want)
			}
		})
	}
	t.Run("transition fields", func(t *testing.T) {
		as := alerts(t, "--history", "--watch", "khasan")
		tr := as[0].Transitions[1]
		if tr.From == nil || *tr.From != "firing" || tr.To != "resolved" || tr.NotifiedAt == nil || tr.AlertID != as[0].ID {
			t.Errorf("transition = %+v", tr)
		}
	})
	t.Run("table", func(t *testing.T) {
		var stdout bytes.Buffer
		if err := run(t.Context(), []string{"alerts", "--db", path, "--history"}, &stdout, os.Stderr); err != nil {
			t.Fatal(err)
		}
		out := stdout.String()
		if strings.Count(out, "\n") != 1+3+3+5 || !strings.Contains(out, "transitions:") || !strings.Contains(out, "firing  resolved") {
			t.Errorf("table:\n%s", out)
		}
	})
	t.Run("geojson", func(t *testing.T) {
		var stdout bytes.Buffer
		if err := run(t.Context(), []string{"alerts", "--db", path, "--format", "geojson", "--state", "firing"}, &stdout, os.Stderr); err != nil {
			t.Fatal(err)
		}
		var fc struct {
			Features []struct {
				Geometry struct{ Type string } `json:"geometry"`
			} `json:"features"`
		}
		if err := json.Unmarshal(stdout.Bytes(), &fc); err != nil || len(fc.Features) != 1 || fc.Features[0].Geometry.Type != "Polygon" {
			t.Errorf("geojson (%v):\n%s", err, stdout.String())
		}
	})
	t.Run("bad state", func(t *testing.T) {
		err := run(t.Context(), []string{"alerts", "--db", path, "--state", "burning"}, &bytes.Buffer{}, &bytes.Buffer{})
		if exitCode(err) != 2 {
			t.Errorf("error %v, want a usage error", err)
		}
	})
}

// TestBackupCommand backs up a database while another connection writes to it,
// then opens the copy.
func TestBackupCommand(t *testing.T) {
	now := time.Now().UTC()
	dir := t.TempDir()
	path := filepath.Join(dir, "geowatch.gpkg")
	st, err := sqlite.Open(t.Context(), path) // the running daemon's store
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var batch []monitor.Observation
	for i := range 1000 {
		batch = append(batch, testObs(fmt.Sprintf("b%04d", i), at(vladivostok, float64(i), 1e3), now.Add(-time.Duration(i)*time.Minute)))
	}
	if _, err := st.Ingest(t.Context(), "test", monitor.Batch{Observations: batch}, now); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(dir, "backup.gpkg")
	var stdout, stderr bytes.Buffer
	if err := run(t.Context(), []string{"backup", dest, "--db", path}, &stdout, &stderr); err != nil {
		t.Fatalf("backup: %v\n%s", err, stderr.String())
	}
	// The summary is not data: stderr, and stdout stays empty.
	if !strings.HasPrefix(stderr.String(), "backed up "+path+" to "+dest) || stdout.Len() > 0 || strings.Contains(stderr.String(), "warning") {
		t.Errorf("stdout = %q, stderr = %q; want the summary on stderr only", stdout.String(), stderr.String())
	}
	// A name GDAL and QGIS will not open as a GeoPackage is written, with a warning.
	stderr.Reset()
	if err := run(t.Context(), []string{"backup", filepath.Join(dir, "x.sqlite"), "--db", path}, &stdout, &stderr); err != nil {
		t.Fatalf("backup x.sqlite: %v", err)
	}
	if !strings.Contains(stderr.String(), `warning: `) || !strings.Contains(stderr.String(), ".gpkg") {
		t.Errorf("backup x.sqlite: stderr %q, want a warning that GDAL/QGIS need .gpkg", stderr.String())
	}
	for _, side := range []string{"-wal", "-shm", "-journal"} {
		if _, err := os.Stat(dest + side); err == nil {
			t.Errorf("backup left %s%s", dest, side)
		}
	}
	// The daemon goes on writing.
	if _, err := st.Ingest(t.Context(), "test", monitor.Batch{Observations: []monitor.Observation{testObs("late", vladivostok, now)}}, now); err != nil {
		t.Fatal(err)
	}
	cp, err := sqlite.Open(t.Context(), dest, store.ReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	n, err := cp.CountObservations(t.Context())
	cp.Close()
	if err != nil || n != 1000 {
		t.Errorf("backup holds %d observations (%v), want 1000", n, err)
	}
	if err := run(t.Context(), []string{"backup", "--db", path, dest}, &stdout, &stderr); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("backup over an existing file: %v, want a refusal", err)
	}
	if err := run(t.Context(), []string{"backup", "--db", path}, &stdout, &stderr); exitCode(err) != 2 {
		t.Errorf("backup without DEST: %v, want a usage error", err)
	}
}

// TestRetention prunes a real store as the daemon's retention job does: old
// observations, rejects and resolved alerts go, recent ones stay, and the
// R*Tree indexes stay consistent.
func TestRetention(t *testing.T) {
	now := time.Now().UTC()
	path := filepath.Join(t.TempDir(), "geowatch.gpkg")
	st, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const retention = 90 * 24 * time.Hour
	var batch []monitor.Observation
	for i := range 12_000 { // more than two prune batches of old rows
		age := time.Duration(i) * 4 * time.Hour / 10 // 0 to 200 days
		batch = append(batch, testObs(fmt.Sprintf("r%05d", i), at(vladivostok, float64(i%360), float64(i%50)*1e3), now.Add(-age)))
	}
	pruneAt := now.Add(30 * time.Second) // no row exactly at the cut
	wantOld := 0
	for _, o := range batch {
		if o.Time.Before(pruneAt.Add(-retention)) {
			wantOld++
		}
	}
	if _, err := st.Ingest(t.Context(), "test", monitor.Batch{Observations: batch}, now); err != nil {
		t.Fatal(err)
	}
	oldAlert := lifecycleAlert("vlad", "count", now.Add(-100*24*time.Hour))
	saveAlert(t, st, &oldAlert, now.Add(-99*24*time.Hour))
	openOld := lifecycleAlert("vlad", "cluster", now.Add(-100*24*time.Hour)) // still firing: kept
	saveAlert(t, st, &openOld, time.Time{})
	recent := lifecycleAlert("khasan", "count", now.Add(-48*time.Hour))
	saveAlert(t, st, &recent, now.Add(-47*time.Hour))

	core, logs := observer.New(zapcore.InfoLevel)
	prune(t.Context(), st, pruneAt.Add(-retention), zap.New(core))
	entries := logs.FilterMessage("retention pruned").All()
	if len(entries) != 1 {
		t.Fatalf("logs: %v", logs.All())
	}
	f := entries[0].ContextMap()
	if f["observations"] != int64(wantOld) || f["alerts"] != int64(1) || f["transitions"] != int64(2) {
		t.Errorf("retention pruned %v, want %d observations, 1 alert, 2 transitions", f, wantOld)
	}
	n, err := st.CountObservations(t.Context())
	if err != nil || n != int64(len(batch)-wantOld) {
		t.Errorf("%d observations left (%v), want %d", n, err, len(batch)-wantOld)
	}
	as, err := st.Alerts(t.Context(), store.AlertFilter{})
	if err != nil || len(as) != 2 {
		t.Errorf("%d alerts left (%v), want 2 (the firing one and the recent one)", len(as), err)
	}

	db, err := sql.Open(analystDriver, "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []struct{ sql, want string }{
		{`SELECT rtreecheck('rtree_observations_geom')`, "ok"},
		{`SELECT rtreecheck('rtree_alerts_geom')`, "ok"},
		{`SELECT (SELECT count(*) FROM rtree_observations_geom) = (SELECT count(*) FROM observations)`, "1"},
		{`SELECT (SELECT count(*) FROM rtree_alerts_geom) = (SELECT count(*) FROM alerts)`, "1"},
		{`SELECT count(*) FROM observations WHERE observed_at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-90 days', '-1 minute')`, "0"},
	} {
		var got string
		if err := db.QueryRowContext(t.Context(), q.sql).Scan(&got); err != nil || got != q.want {
			t.Errorf("%s = %q (%v), want %q", q.sql, got, err, q.want)
		}
	}
}

// TestRetentionSchedule runs the daemon's retention job on a one-second
// schedule and checks it prunes, logs and stops.
func TestRetentionSchedule(t *testing.T) {
	now := time.Now().UTC()
	path := filepath.Join(t.TempDir(), "geowatch.gpkg")
	st, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	obs := []monitor.Observation{testObs("old", vladivostok, now.Add(-48*time.Hour)), testObs("new", vladivostok, now)}
	if _, err := st.Ingest(t.Context(), "test", monitor.Batch{Observations: obs}, now); err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zapcore.InfoLevel)
	plan := &configs.Plan{Retention: 24 * time.Hour, RetentionSchedule: "@every 1s"}
	stop := startRetention(t.Context(), plan, st, nil, zap.New(core))
	deadline := time.Now().Add(10 * time.Second)
	for logs.FilterMessage("retention pruned").Len() == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	if logs.FilterMessage("retention pruned").Len() == 0 {
		t.Fatalf("no retention pruned log in 10s: %v", logs.All())
	}
	if n, err := st.CountObservations(t.Context()); err != nil || n != 1 {
		t.Errorf("%d observations left (%v), want 1", n, err)
	}
	startRetention(t.Context(), &configs.Plan{}, st, nil, zap.NewNop())() // off: nothing starts, stop returns at once
}
