package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/store"
	"github.com/geowatch/geowatch/store/sqlite"
	"github.com/paulmach/orb"
)

// route is a corridor due east along a parallel, with a station every 30 km
// from km 15, as a config's places.
type route struct {
	lat, lon0, lon1 float64 // the line, west to east; lon1 may be past 180
	offsetKm        float64 // how far north of the line the reports are
}

// at returns the point km along the route (offset north), longitude normalised.
func (r route) at(km float64) orb.Point {
	kmLon := 111.195 * math.Cos(r.lat*math.Pi/180)
	lon := math.Remainder(r.lon0+km/kmLon, 360)
	return orb.Point{lon, r.lat + r.offsetKm/111.195}
}

func (r route) station(i int) float64 { return 15 + 30*float64(i-1) } // km of Station-i

// config is the YAML of a corridor watch on r with a progression rule.
func (r route) config(dir, feedURL string) string {
	var places []string
	for i := 1; i <= 8; i++ {
		p := route{lat: r.lat, lon0: r.lon0}.at(r.station(i))
		places = append(places, fmt.Sprintf("  - {name: Station-%d, lat: %.5f, lon: %.5f}", i, p.Lat(), p.Lon()))
	}
	lon1 := math.Remainder(r.lon1, 360)
	return fmt.Sprintf(`
database: %s
places:
%s
sources:
  - {name: feed, type: geojson, url: %s, schedule: "@every 1h"}
watches:
  - name: line
    corridor:
      coordinates: [[%g, %g], [%g, %g]]
      width: 5km
    schedule: "@every 1h"
    rules:
      - name: journey
        type: progression
        kinds: [crowd, road_closure]
        window: 12h
        min_steps: 3
        min_gap: 20km
        speed: 20-120km/h
subscribers:
  - {name: log, sink: log}
  - {name: file, sink: file, path: %s}
`, filepath.Join(dir, "geowatch.gpkg"), strings.Join(places, "\n"), feedURL, r.lon0, r.lat, lon1, r.lat, filepath.Join(dir, "alerts.jsonl"))
}

// journeyFeed is a GeoJSON feed of three reports (crowds, a closure) at each
// given station, the i-th group starting at times[i].
func journeyFeed(r route, stations []int, times []time.Time) []byte {
	var fs []string
	for i, st := range stations {
		for j, kind := range []string{"crowd", "road_closure", "crowd"} {
			p := r.at(r.station(st) + 0.3*float64(j))
			at := times[i].Add(time.Duration(j) * 4 * time.Minute)
			fs = append(fs, fmt.Sprintf(`{"type":"Feature","id":"s%d-%d","geometry":{"type":"Point","coordinates":[%.6f,%.6f]},
				"properties":{"time":%d,"type":%q,"title":"report %d at station %d"}}`, st, j, p.Lon(), p.Lat(), at.UnixMilli(), kind, j, st))
		}
	}
	return []byte(`{"type":"FeatureCollection","features":[` + strings.Join(fs, ",") + `]}`)
}

// every returns n times step apart, the last at last.
func every(n int, step time.Duration, last time.Time) []time.Time {
	out := make([]time.Time, n)
	for i := range out {
		out[i] = last.Add(-time.Duration(n-1-i) * step)
	}
	return out
}

// runJourney serves body, runs the daemon on r's config until fired (or, when
// want is false, until the first evaluation has run), and returns the stored
// alerts and the alerts file's firing lines, and the daemon's firing log lines.
func runJourney(t *testing.T, r route, body []byte, want bool) ([]monitor.Alert, []map[string]any, []map[string]any) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write(body) }))
	defer srv.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "geowatch.yaml")
	writeFile(t, cfg, r.config(dir, srv.URL))
	until := func(b *syncBuffer) bool { return len(b.find(t, "scheduler started")) > 0 }
	if want {
		until = func(b *syncBuffer) bool { return len(b.find(t, "alert firing")) > 0 }
	}
	logged := runFor(t, cfg, until).find(t, "alert firing")
	st, err := sqlite.Open(t.Context(), filepath.Join(dir, "geowatch.gpkg"), store.ReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	alerts, err := st.Alerts(t.Context(), store.AlertFilter{})
	if err != nil {
		t.Fatal(err)
	}
	// An analyst's `geowatch alerts --format json` shows the stored progression.
	var out, errOut bytes.Buffer
	if err := run(t.Context(), []string{"alerts", "--db", filepath.Join(dir, "geowatch.gpkg"), "--format", "json"}, &out, &errOut); err != nil {
		t.Fatalf("alerts: %v\n%s", err, errOut.String())
	}
	var listed []alertJSON
	if err := json.Unmarshal(out.Bytes(), &listed); err != nil {
		t.Fatalf("alerts --format json: %v\n%s", err, out.String())
	}
	if len(listed) > 0 {
		assertFixedWidthTimes(t, out.Bytes()) // the progression's step times too
	}
	if len(listed) != len(alerts) {
		t.Errorf("alerts --format json lists %d alerts, the store has %d", len(listed), len(alerts))
	}
	for _, a := range listed {
		for _, s := range alerts {
			if s.ID == a.ID && s.Finding.Progression != nil && (a.Progression == nil || len(a.Progression.Steps) != len(s.Finding.Progression.Steps)) {
				t.Errorf("alerts --format json: alert %d progression %+v, want the stored one's %d steps", a.ID, a.Progression, len(s.Finding.Progression.Steps))
			}
		}
	}
	var lines []map[string]any
	if data, err := os.ReadFile(filepath.Join(dir, "alerts.jsonl")); err == nil {
		for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			var m map[string]any
			if l != "" && json.Unmarshal([]byte(l), &m) == nil && m["msg"] == "alert firing" {
				lines = append(lines, m)
			}
		}
	}
	return alerts, lines, logged
}

// checkJourney checks a progression over Station-1..5 at 60 km/h whose last
// step began at last: five steps named by their stations, the speed, and
// Station-6 expected 30 minutes after the last step.
func checkJourney(t *testing.T, alerts []monitor.Alert, lines, logged []map[string]any, last time.Time) {
	t.Helper()
	if len(alerts) != 1 || len(lines) != 1 {
		t.Fatalf("%d alerts stored, %d firing lines delivered; want 1 and 1: %+v", len(alerts), len(lines), alerts)
	}
	p := alerts[0].Finding.Progression
	if p == nil || len(p.Steps) != 5 || p.Direction != "forward" {
		t.Fatalf("progression %+v, want 5 forward steps", p)
	}
	for i, s := range p.Steps {
		if want := fmt.Sprintf("Station-%d", i+1); s.Place != want || s.Count != 3 || math.Abs(s.AlongKm-(15+30*float64(i)+0.3)) > 0.5 {
			t.Errorf("step %d: %+v, want %s at km %.1f with 3 reports", i+1, s, want, 15+30*float64(i)+0.3)
		}
	}
	if math.Abs(p.SpeedKmh-60) > 3 {
		t.Errorf("speed %.1f km/h, want about 60", p.SpeedKmh)
	}
	if p.Next == nil || p.Next.Place != "Station-6" {
		t.Fatalf("next %+v, want Station-6", p.Next)
	}
	if eta := last.Add(30 * time.Minute); p.Next.At.Sub(eta).Abs() > 2*time.Minute {
		t.Errorf("Station-6 expected at %v, want about %v", p.Next.At, eta)
	}
	// The subscriber gets the same account.
	lp, _ := lines[0]["progression"].(map[string]any)
	next, _ := lp["next"].(map[string]any)
	if steps, _ := lp["steps"].([]any); len(steps) != 5 || next["place"] != "Station-6" {
		t.Errorf("alerts file progression = %v, want 5 steps and next Station-6", lines[0]["progression"])
	}
	// The log line's text says it in words.
	if len(logged) != 1 {
		t.Fatalf("%d firing log lines, want 1", len(logged))
	}
	if text, _ := logged[0]["text"].(string); !strings.Contains(text, "5 steps along the route at 60 km/h, next Station-6") {
		t.Errorf("alert text %q does not say where the journey is heading", text)
	}
}

// TestCorridorProgression drives a progression rule the way the README shows:
// a corridor watch in YAML, the daemon reading a GeoJSON feed on 127.0.0.1,
// the database and a file subscriber. A journey at 60 km/h along the line
// fires and names the next station; the same reports in shuffled order along
// the line, a journey at 1,000 km/h, and one 30 km off the line do not; a
// corridor across the antimeridian works as any other.
func TestCorridorProgression(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the daemon 5 times")
	}
	now := time.Now()
	east := route{lat: 43, lon0: 131, lon1: 134}
	last := now.Add(-20 * time.Minute)
	times := every(5, 30*time.Minute, last) // 30 km every 30 minutes: 60 km/h

	t.Run("journey", func(t *testing.T) {
		t.Parallel()
		alerts, lines, logged := runJourney(t, east, journeyFeed(east, []int{1, 2, 3, 4, 5}, times), true)
		checkJourney(t, alerts, lines, logged, last)
	})
	t.Run("antimeridian", func(t *testing.T) {
		t.Parallel()
		// 3° of longitude at 60° N (167 km) from 179° E to 178° W: Station-2
		// is west of 180°, Station-3 east of it.
		wrap := route{lat: 60, lon0: 179, lon1: 182}
		alerts, lines, logged := runJourney(t, wrap, journeyFeed(wrap, []int{1, 2, 3, 4, 5}, times), true)
		checkJourney(t, alerts, lines, logged, last)
	})
	for _, neg := range []struct {
		name string
		r    route
		body []byte
	}{
		// The same reports at the same times, the stations in an order with no
		// three advancing along the line.
		{"shuffled", east, journeyFeed(east, []int{3, 5, 1, 4, 2}, times)},
		// 30 km every 108 seconds.
		{"1000kmh", east, journeyFeed(east, []int{1, 2, 3, 4, 5}, every(5, 108*time.Second, last))},
		// The journey 30 km north of the line, beyond its 5 km width.
		{"off_the_line", route{lat: 43, lon0: 131, lon1: 134, offsetKm: 30}, journeyFeed(route{lat: 43, lon0: 131, lon1: 134, offsetKm: 30}, []int{1, 2, 3, 4, 5}, times)},
	} {
		t.Run(neg.name, func(t *testing.T) {
			t.Parallel()
			cfgRoute := neg.r
			cfgRoute.offsetKm = 0 // the watch is on the line; only the reports move
			alerts, lines, _ := runJourney(t, cfgRoute, neg.body, false)
			if len(alerts) != 0 || len(lines) != 0 {
				t.Errorf("%d alerts, %d delivered; want none: %+v", len(alerts), len(lines), alerts)
			}
		})
	}
}

// TestCorridorBacktest replays the 60 km/h journey with backtest: the
// progression fires at its third step, predicting Station-4, and each later
// step is a row of its own.
func TestCorridorBacktest(t *testing.T) {
	dir := t.TempDir()
	east := route{lat: 43, lon0: 131, lon1: 134}
	start := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	times := every(5, 30*time.Minute, start.Add(2*time.Hour)) // 08:00 … 10:00
	feedFile := filepath.Join(dir, "journey.geojson")
	writeFile(t, feedFile, string(journeyFeed(east, []int{1, 2, 3, 4, 5}, times)))
	cfg := filepath.Join(dir, "geowatch.yaml")
	writeFile(t, cfg, east.config(dir, "http://127.0.0.1:1/unused"))
	report := filepath.Join(dir, "transitions.json")
	var out, errOut bytes.Buffer
	args := []string{"backtest", "--config", cfg, "--file", feedFile, "--json", report,
		"--from", "2026-05-01T07:00:00Z", "--to", "2026-05-01T11:00:00Z", "--step", "5m"}
	if err := run(t.Context(), args, &out, &errOut); err != nil {
		t.Fatalf("backtest: %v\n%s", err, errOut.String())
	}
	t.Logf("backtest of the journey:\n%s", out.String())
	var rows []backtestRow
	if err := json.Unmarshal([]byte(readFile(t, report)), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 {
		t.Fatalf("%d rows, want firing at step 3 and a row for steps 4 and 5: %+v", len(rows), rows)
	}
	for i, r := range rows {
		step := i + 3
		wantTo := "step"
		if i == 0 {
			wantTo = "firing"
		}
		p := r.Progression
		if r.To != wantTo || p == nil || len(p.Steps) != step {
			t.Fatalf("row %d: %s>%s with %+v, want %s with %d steps", i, r.From, r.To, p, wantTo, step)
		}
		// Evaluated every 5 minutes: the step is seen at the first evaluation
		// after its second report (a step needs two), 4 minutes after its first.
		if seen := times[step-1].Add(4 * time.Minute); r.At.Before(seen) || r.At.After(seen.Add(5*time.Minute)) {
			t.Errorf("step %d reported at %v, want within 5 minutes after %v", step, r.At, seen)
		}
		if want := fmt.Sprintf("Station-%d", step+1); p.Next == nil || p.Next.Place != want {
			t.Errorf("step %d: next %+v, want %s", step, p.Next, want)
		} else if step < len(times) && p.Next.At.Sub(times[step]).Abs() > 3*time.Minute {
			t.Errorf("step %d: %s expected at %v, its step came at %v", step, want, p.Next.At, times[step])
		}
	}
	if !strings.Contains(out.String(), "firing>step") || !strings.Contains(out.String(), "next Station-4") {
		t.Errorf("backtest table does not show the progression:\n%s", out.String())
	}
}
