package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const russiaRegions = "../../../shared/data/russia-regions/russia_federal_subjects.geojson"

// readmeYAML returns the first yaml block under the README heading "### "+heading.
func readmeYAML(t *testing.T, heading string) string {
	t.Helper()
	return readmeBlock(t, "\n### "+heading+"\n", "yaml")
}

// backtestRows runs geowatch backtest as the README shows and returns the
// transitions it reports.
func backtestRows(t *testing.T, args ...string) []backtestRow {
	t.Helper()
	report := filepath.Join(t.TempDir(), "transitions.json")
	var out, errOut strings.Builder
	if err := run(t.Context(), append(append([]string{"backtest"}, args...), "--json", report), &out, &errOut); err != nil {
		t.Fatalf("backtest %v: %v\n%s", args, err, errOut.String())
	}
	data, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var rows []backtestRow
	if err := json.Unmarshal(data, &rows); err != nil {
		t.Fatal(err)
	}
	t.Logf("backtest:\n%s", out.String())
	return rows
}

// firstFiring returns when each watch/rule first fired.
func firstFiring(rows []backtestRow) map[string]time.Time {
	fired := map[string]time.Time{}
	for _, r := range rows {
		if k := r.Watch + "/" + r.Rule; r.To == "firing" && fired[k].IsZero() {
			fired[k] = r.At.Time
		}
	}
	return fired
}

// TestReadmeWatchExamples runs the README's watch and rule examples, as
// written, through geowatch backtest: the polygon watches on planted reports
// in Vladivostok's port (inside Primorsky Krai, from the real regions file),
// the surge and scan on the real USGS catalog around the Challis mainshock.
func TestReadmeWatchExamples(t *testing.T) {
	dir := t.TempDir()
	t.Run("watches", func(t *testing.T) {
		regions, err := filepath.Abs(russiaRegions)
		if err == nil {
			_, err = os.Stat(regions)
		}
		if err != nil {
			if os.Getenv("CI") != "" {
				t.Fatal(err)
			}
			t.Skipf("shared data absent: %v", err)
		}
		block := strings.ReplaceAll(readmeYAML(t, "Watches"), "/etc/geowatch/russia_federal_subjects.geojson", regions)
		cfg := filepath.Join(dir, "watches.yaml")
		writeFile(t, cfg, "database: "+filepath.Join(dir, "unused.gpkg")+"\n"+block)
		at := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
		var fs []string
		for i := range 8 {
			fs = append(fs, fmt.Sprintf(`{"type":"Feature","id":"r%d","geometry":{"type":"Point","coordinates":[%.4f,%.4f]},"properties":{"time":%q,"type":"police_presence"}}`,
				i, 131.895+0.001*float64(i%3), 43.115+0.001*float64(i%2), at.Add(-time.Duration(i+1)*15*time.Minute).Format(time.RFC3339)))
		}
		feed := filepath.Join(dir, "planted.geojson")
		writeFile(t, feed, `{"type":"FeatureCollection","features":[`+strings.Join(fs, ",")+`]}`)
		fired := firstFiring(backtestRows(t, "--config", cfg, "--file", feed, "--source", "reports",
			"--from", at.Add(-time.Hour).Format(time.RFC3339), "--to", at.Format(time.RFC3339), "--step", "1h"))
		for _, k := range []string{"primorsky/cluster", "port/reports"} {
			if !fired[k].Equal(at) {
				t.Errorf("%s: fired at %v, want %v (an hour earlier 4 reports are too few)", k, fired[k], at)
			}
		}
	})
	t.Run("rules", func(t *testing.T) {
		if _, err := os.Stat(usgsMonth); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatal(err)
			}
			t.Skipf("shared data absent: %v", err)
		}
		cfg := filepath.Join(dir, "rules.yaml")
		writeFile(t, cfg, "database: "+filepath.Join(dir, "unused.gpkg")+"\n"+readmeYAML(t, "Rules"))
		fired := firstFiring(backtestRows(t, "--config", cfg, "--file", usgsMonth, "--source", "usgs", "--preset", "usgs-csv",
			"--from", "2020-03-31T22:00:00Z", "--to", "2020-04-01T04:00:00Z", "--step", "30m"))
		mainshock := time.Date(2020, 3, 31, 23, 52, 0, 0, time.UTC)
		for _, k := range []string{"challis/quake-surge", "challis/scan"} {
			if at := fired[k]; at.Before(mainshock) || at.After(mainshock.Add(2*time.Hour)) {
				t.Errorf("%s: first fired at %v, want within 2 h after the mainshock at %v", k, at, mainshock)
			}
		}
	})
}

// TestDedupeCountsEventsOnce: 10 reports of one event (one kind, one place,
// minutes apart) make a count of 10 without dedupe and of 1 with it, through
// the config and backtest.
func TestDedupeCountsEventsOnce(t *testing.T) {
	dir := t.TempDir()
	at := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	var fs []string
	add := func(id string, lon float64, ago time.Duration) {
		fs = append(fs, fmt.Sprintf(`{"type":"Feature","id":%q,"geometry":{"type":"Point","coordinates":[%.4f,43.1]},"properties":{"time":%q,"type":"protest"}}`,
			id, lon, at.Add(-ago).Format(time.RFC3339)))
	}
	for i := range 10 {
		add(fmt.Sprintf("article-%d", i), 131.90, time.Duration(i+1)*3*time.Minute) // one event, ten articles
	}
	feed := filepath.Join(dir, "reports.geojson")
	writeFile(t, feed, `{"type":"FeatureCollection","features":[`+strings.Join(fs, ",")+`]}`)
	for _, tc := range []struct {
		dedupe string
		count  int
	}{{"", 10}, {"\n        dedupe: {within: 1km, window: 1h}", 1}} {
		cfg := filepath.Join(dir, "dedupe.yaml")
		writeFile(t, cfg, fmt.Sprintf(`database: %s
watches:
  - name: square
    lat: 43.1
    lon: 131.9
    radius: 5km
    rules:
      - name: events
        type: count
        min: 1
        window: 6h%s
`, filepath.Join(dir, "unused.gpkg"), tc.dedupe))
		rows := backtestRows(t, "--config", cfg, "--file", feed, "--from", at.Add(-time.Hour).Format(time.RFC3339), "--to", at.Format(time.RFC3339), "--step", "1h")
		if len(rows) == 0 || rows[len(rows)-1].Count != tc.count {
			t.Errorf("dedupe %q: transitions %+v, want the alert counting %d", tc.dedupe, rows, tc.count)
		}
	}
}

// TestReadmeCorridor runs the README's corridor example as written: its
// config (the railway from the bundled file, the stations as places) and its
// backtest command over the bundled scenario, from the repository's root. The
// table it prints is the README's, row for row: the journey fires at its third
// step and each later step is a row naming the next station.
func TestReadmeCorridor(t *testing.T) {
	const heading = "Corridors: watching a route"
	cfg := filepath.Join(t.TempDir(), "railway.yaml")
	writeFile(t, cfg, "database: "+filepath.Join(filepath.Dir(cfg), "unused.gpkg")+"\n"+readmeYAML(t, heading))
	cmd := strings.Fields(strings.ReplaceAll(readmeBlock(t, "\n### "+heading+"\n", "sh"), "\\\n", " "))
	if len(cmd) < 2 || cmd[0] != "geowatch" || cmd[1] != "backtest" {
		t.Fatalf("README corridor command %q, want geowatch backtest …", cmd)
	}
	want := readmeBlock(t, "\n### "+heading+"\n", "text")
	t.Chdir(filepath.Join("..", ".."))
	args := cmd[1:]
	for i, a := range args {
		if a == "railway.yaml" {
			args[i] = cfg
		}
	}
	report := filepath.Join(filepath.Dir(cfg), "rows.json")
	var out, errOut strings.Builder
	if err := run(t.Context(), append(args, "--json", report), &out, &errOut); err != nil {
		t.Fatalf("%q: %v\n%s", cmd, err, errOut.String())
	}
	if out.String() != want {
		t.Errorf("backtest prints:\n%s\nthe README shows:\n%s", out.String(), want)
	}
	var rows []backtestRow
	if err := json.Unmarshal([]byte(readFile(t, report)), &rows); err != nil {
		t.Fatal(err)
	}
	stations := []string{"Khasan", "Kraskino", "Bamburovo", "Barabash", "Baranovsky", "Ugolnaya", "Vladivostok railway station"}
	if len(rows) != 5 || rows[0].To != "firing" {
		t.Fatalf("%d rows, want the firing at step 3 and rows for steps 4 to 7: %+v", len(rows), rows)
	}
	for i, r := range rows {
		p := r.Progression
		if p == nil || len(p.Steps) != i+3 {
			t.Fatalf("row %d: %+v, want %d steps", i, p, i+3)
		}
		for j, s := range p.Steps {
			if s.Place != stations[j] {
				t.Errorf("row %d step %d at %q, want %s", i, j+1, s.Place, stations[j])
			}
		}
		// The prediction against the step that came (the last has none).
		if i+3 < len(stations) && i+1 < len(rows) {
			came := rows[i+1].Progression.Steps[i+3].At
			if p.Next == nil || !strings.HasPrefix(stations[i+3], p.Next.Place) {
				t.Errorf("row %d: next %+v, want %s", i, p.Next, stations[i+3])
			} else if off := p.Next.At.Sub(came).Abs(); off > 5*time.Minute {
				t.Errorf("row %d: %s predicted at %v, came at %v (%v off)", i, p.Next.Place, p.Next.At, came, off)
			}
		}
	}
}
