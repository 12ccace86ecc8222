package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/geowatch/geowatch/monitor"
	"github.com/paulmach/orb"
)

// TestDistanceNeedsUnit: a bare number was silently metres ("query --radius
// 50" found 6 rows where 50 km holds 53). It is now a usage error that suggests
// 50km, in query and in check-config alike, and 50km still finds the rows.
func TestDistanceNeedsUnit(t *testing.T) {
	now := time.Now().UTC()
	vlad := orb.Point{131.8855, 43.1155}
	obs := []monitor.Observation{
		testObs("near", at(vlad, 90, 30), now.Add(-time.Hour)),   // 30 m
		testObs("mid", at(vlad, 90, 20000), now.Add(-time.Hour)), // 20 km
	}
	db := newQueryDB(t, now, obs)

	var stdout, stderr bytes.Buffer
	err := run(t.Context(), []string{"query", "--near", "43.1155,131.8855", "--radius", "50", "--db", db, "--format", "csv"}, &stdout, &stderr)
	if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "50km") {
		t.Fatalf("query --radius 50 = %v (exit %d), want a usage error suggesting 50km", err, exitCode(err))
	}
	if stdout.Len() > 0 {
		t.Errorf("query --radius 50 printed rows:\n%s", stdout.String())
	}
	stdout.Reset()
	if err := run(t.Context(), []string{"query", "--near", "43.1155,131.8855", "--radius", "50km", "--db", db, "--format", "csv"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(stdout.String(), "\n") - 1; n != 2 {
		t.Errorf("query --radius 50km: %d rows, want 2:\n%s", n, stdout.String())
	}

	cfg := filepath.Join(t.TempDir(), "geowatch.yaml")
	writeFile(t, cfg, "watches:\n  - name: w\n    lat: 43.1\n    lon: 131.9\n    radius: 50\n    rules: [{type: count, min: 1, window: 1h}]\n")
	stdout.Reset()
	stderr.Reset()
	err = run(t.Context(), []string{"check-config", cfg}, &stdout, &stderr)
	if err == nil || !strings.Contains(stderr.String(), "watches[0].radius") || !strings.Contains(stderr.String(), "50km") {
		t.Errorf("check-config with radius: 50 = %v, stderr %q; want an error at watches[0].radius suggesting 50km", err, stderr.String())
	}
}

// TestTimeFlags: every time flag takes RFC 3339, a date, a duration back from
// now and now, and says so in words when it cannot read one (backtest without
// --from printed Go's layout; backtest --from 12h was refused though query
// --since 24h worked; silence add --start tomorrow printed the layout).
func TestTimeFlags(t *testing.T) {
	t.Chdir(t.TempDir())
	now := time.Now().UTC()
	vlad := orb.Point{131.8855, 43.1155}
	db := newQueryDB(t, now, []monitor.Observation{testObs("a", vlad, now.Add(-2*time.Hour))})

	bad := [][]string{
		{"backtest", "--db", db, "--to", "now"},
		{"backtest", "--db", db, "--from", "yesterday", "--to", "now"},
		{"silence", "add", "--db", db, "--watch", "vladivostok", "--for", "2h", "--comment", "c", "--start", "tomorrow"},
		{"query", "--db", db, "--near", "Vladivostok", "--radius", "5km", "--since", "last week"},
	}
	for _, args := range bad {
		var stdout, stderr bytes.Buffer
		err := run(t.Context(), args, &stdout, &stderr)
		if err == nil || exitCode(err) != 2 {
			t.Errorf("geowatch %q = %v, want a usage error", args, err)
			continue
		}
		if msg := err.Error(); strings.Contains(msg, "2006") || !strings.Contains(msg, "RFC 3339") || !strings.Contains(msg, "date") || !strings.Contains(msg, "duration") || !strings.Contains(msg, "now") {
			t.Errorf("geowatch %q: %q, want the forms in words", args, msg)
		}
	}

	for _, args := range [][]string{
		{"backtest", "--db", db, "--from", "12h", "--to", "now"},
		{"backtest", "--db", db, "--from", now.AddDate(0, 0, -1).Format(time.DateOnly), "--to", now.Format(time.RFC3339)},
		{"query", "--db", db, "--near", "Vladivostok", "--radius", "5km", "--since", now.AddDate(0, 0, -1).Format(time.DateOnly), "--until", "now", "--format", "csv"},
	} {
		var stdout, stderr bytes.Buffer
		if err := run(t.Context(), args, &stdout, &stderr); err != nil {
			t.Errorf("geowatch %q = %v\n%s", args, err, stderr.String())
		}
		if args[0] == "backtest" && (!strings.HasPrefix(stdout.String(), "AT ") || strings.Contains(stdout.String(), "transitions over") || !strings.Contains(stderr.String(), "transitions over")) {
			t.Errorf("geowatch %q: stdout %q, stderr %q; want the table on stdout, the summary on stderr", args, stdout.String(), stderr.String())
		}
		if args[0] == "query" && !strings.Contains(stdout.String(), ",a,") {
			t.Errorf("geowatch %q found no row:\n%s", args, stdout.String())
		}
	}
}

// TestGeotagCommand: no argument is a usage error (it used to wait on stdin),
// - reads stdin, --format json gives byte offsets, as the table's BYTES does.
func TestGeotagCommand(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := geotag(nil, strings.NewReader("unused"), &stdout, &stderr); err == nil || exitCode(err) != 2 {
		t.Errorf("geotag with no argument = %v, want a usage error", err)
	}
	text := "Протест в Vladivostok"
	if err := geotag([]string{"-", "--format", "json"}, strings.NewReader(text), &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	var got []geotagJSON
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("%v\n%s", err, stdout.String())
	}
	if len(got) == 0 || got[0].Place != "Vladivostok" || text[got[0].StartByte:got[0].EndByte] != "Vladivostok" {
		t.Errorf("geotag - --format json = %+v, want Vladivostok at its byte offsets in %q", got, text)
	}
	stdout.Reset()
	if err := geotag([]string{"Vladivostok"}, nil, &stdout, &stderr); err != nil || !strings.Contains(stdout.String(), "BYTES") || !strings.Contains(stdout.String(), "0-11") {
		t.Errorf("geotag Vladivostok = %v:\n%s", err, stdout.String())
	}
}

// TestAlertsUnknownWatch: alerts --watch nosuch said nothing and exited 0,
// like a watch that had no alerts; it now names the watches it knows.
func TestAlertsUnknownWatch(t *testing.T) {
	db := newQueryDB(t, time.Now())
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), []string{"alerts", "--db", db, "--watch", "nosuch"}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), `no watch "nosuch"`) || !strings.Contains(err.Error(), "vladivostok") {
		t.Errorf("alerts --watch nosuch = %v, want no such watch, naming the config's", err)
	}
	if err := run(t.Context(), []string{"alerts", "--db", db, "--watch", "vladivostok"}, &stdout, &stderr); err != nil {
		t.Errorf("alerts --watch vladivostok (no alerts yet) = %v, want success", err)
	}
}
