package main

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/geowatch/geowatch/store"
	"github.com/paulmach/orb"
)

// matrixShape is a watch shape as a user writes it in YAML, with a place
// inside it where a planted cluster must fire every rule and a place just
// outside it (beyond the radius, the buffer or a corridor's width, inside the
// hole, between the parts, in the feature the filter leaves out) where the same
// cluster must fire none.
type matrixShape struct {
	name    string
	yaml    string    // the watch's shape keys, indented for a watch entry
	inside  orb.Point // where the cluster fires; background sits around it, inside the shape too
	outside orb.Point
	files   map[string]string // polygon files the shape reads, by name in the temp dir
	// alongKm is, for a corridor, where inside lies along it: every alert's
	// along_km must say so.
	alongKm float64
}

var matrixShapes = []matrixShape{
	{name: "circle", yaml: "lat: 43.1\n    lon: 131.9\n    radius: 10km",
		inside: orb.Point{131.92, 43.1}, outside: orb.Point{132.085, 43.1}}, // 5 km beyond the radius
	{name: "circle_antimeridian", yaml: "lat: 65\n    lon: 179.98\n    radius: 10km",
		inside: orb.Point{179.998, 65}, outside: orb.Point{-179.65, 65}}, // the cluster straddles 180°; outside is 7 km beyond
	{name: "polygon_inline", yaml: "polygon:\n      coordinates: [[[131.8, 43.0], [132.0, 43.0], [132.0, 43.2], [131.8, 43.2], [131.8, 43.0]]]",
		inside: orb.Point{131.9, 43.1}, outside: orb.Point{132.07, 43.1}}, // 5.7 km east of the edge
	{name: "polygon_file_filter", yaml: "polygon:\n      file: {{dir}}/regions.geojson\n      filter: {name: B}",
		inside: orb.Point{131.9, 43.1}, outside: orb.Point{130.1, 42.1}, // in region A, which the filter leaves out
		files: map[string]string{"regions.geojson": `{"type":"FeatureCollection","features":[
			{"type":"Feature","properties":{"name":"A"},"geometry":{"type":"Polygon","coordinates":[[[130.0,42.0],[130.2,42.0],[130.2,42.2],[130.0,42.2],[130.0,42.0]]]}},
			{"type":"Feature","properties":{"name":"B"},"geometry":{"type":"Polygon","coordinates":[[[131.8,43.0],[132.0,43.0],[132.0,43.2],[131.8,43.2],[131.8,43.0]]]}}]}`}},
	{name: "polygon_hole", yaml: "polygon:\n      coordinates: [[[131.7, 42.9], [132.1, 42.9], [132.1, 43.3], [131.7, 43.3], [131.7, 42.9]], [[131.85, 43.05], [131.95, 43.05], [131.95, 43.15], [131.85, 43.15], [131.85, 43.05]]]",
		inside: orb.Point{131.78, 43.1}, outside: orb.Point{131.9, 43.1}}, // the hole's middle, 4 km from its edge
	{name: "multipolygon", yaml: "polygon:\n      file: {{dir}}/parts.geojson",
		inside: orb.Point{132.05, 43.05}, outside: orb.Point{131.95, 43.05}, // between the parts, 4 km from each
		files: map[string]string{"parts.geojson": `{"type":"MultiPolygon","coordinates":[
			[[[131.8,43.0],[131.9,43.0],[131.9,43.1],[131.8,43.1],[131.8,43.0]]],
			[[[132.0,43.0],[132.1,43.0],[132.1,43.1],[132.0,43.1],[132.0,43.0]]]]}`}},
	{name: "polygon_buffered", yaml: "polygon:\n      coordinates: [[[131.8, 43.0], [132.0, 43.0], [132.0, 43.2], [131.8, 43.2], [131.8, 43.0]]]\n      buffer: 5km",
		inside: orb.Point{132.031, 43.1}, outside: orb.Point{132.123, 43.1}}, // 2.5 km and 10 km east of the edge
	{name: "corridor_inline", yaml: "corridor:\n      coordinates: [[131.8, 43.1], [132.0, 43.1]]\n      width: 5km",
		inside: orb.Point{131.9, 43.1}, outside: orb.Point{131.9, 43.19}, alongKm: 8.12}, // on the line; 10 km north of it
	{name: "corridor_file_filter", yaml: "corridor:\n      file: {{dir}}/routes.geojson\n      filter: {name: B}\n      width: 5km",
		inside: orb.Point{131.9, 43.1}, outside: orb.Point{130.1, 42.0}, alongKm: 13.77, // on route B; on route A, which the filter leaves out
		files: map[string]string{"routes.geojson": `{"type":"FeatureCollection","features":[
			{"type":"Feature","properties":{"name":"A"},"geometry":{"type":"LineString","coordinates":[[130.0,42.0],[130.2,42.0]]}},
			{"type":"Feature","properties":{"name":"B"},"geometry":{"type":"MultiLineString","coordinates":[[[131.8,43.0],[131.9,43.1]],[[131.9,43.1],[132.0,43.2]]]}}]}`}},
	{name: "corridor_antimeridian", yaml: "corridor:\n      coordinates: [[179.8, 65], [-179.8, 65]]\n      width: 5km",
		inside: orb.Point{179.998, 65}, outside: orb.Point{179.998, 65.09}, alongKm: 9.30}, // the cluster straddles 180° on the line; outside is 10 km north
}

// matrixRules are every rule type, configured as the README shows, each able to
// fire on 10 reports in the last two hours against a background of 24 older ones.
const matrixRules = `
      - {name: count, type: count, min: 8, window: 6h}
      - {name: cluster, type: cluster, eps: 1km, min_points: 5, window: 6h}
      - {name: surge, type: surge, window: 6h, baseline: 6d, alpha: 0.01, min: 8}
      - {name: scan, type: scan, period: 7d, area: 5km, max_radius: 2km, max_window: 1d, replicates: 99, recurrence: 2d}`

var matrixRuleNames = []string{"count", "cluster", "surge", "scan"}

const plantedReports = 10

// plantedFeed is a GeoJSON feed: 10 reports within 200 m of cluster in the last
// two hours, and 24 on a 1.2 km grid around background, one every 5 hours from a
// day ago back, too sparse and too old for any rule alone.
func plantedFeed(now time.Time, cluster, background orb.Point) []byte {
	var fs []string
	add := func(id string, p orb.Point, at time.Time) {
		lon := math.Remainder(p.Lon(), 360)
		fs = append(fs, fmt.Sprintf(`{"type":"Feature","id":%q,"geometry":{"type":"Point","coordinates":[%.6f,%.6f]},
			"properties":{"time":%d,"type":"report","title":"%s"}}`, id, lon, p.Lat(), at.UnixMilli(), id))
	}
	for i := range plantedReports {
		dx, dy := 0.002*float64(i%3-1), 0.0015*float64(i%2)
		add(fmt.Sprintf("planted-%d", i), orb.Point{cluster.Lon() + dx, cluster.Lat() + dy}, now.Add(-time.Duration(i+1)*10*time.Minute))
	}
	kmLat := 1 / 111.2
	kmLon := kmLat / math.Cos(background.Lat()*math.Pi/180)
	for i := range 24 {
		gx, gy := float64(i%4)-1.5, float64(i/4)-2.5
		p := orb.Point{background.Lon() + 1.2*gx*kmLon, background.Lat() + 1.2*gy*kmLat}
		add(fmt.Sprintf("background-%d", i), p, now.Add(-26*time.Hour-time.Duration(i)*5*time.Hour))
	}
	return []byte(`{"type":"FeatureCollection","features":[` + strings.Join(fs, ",") + `]}`)
}

// TestWatchMatrix runs every watch shape a user can write with every rule type
// through the public path: a YAML config, the daemon, a GeoJSON feed on
// 127.0.0.1, the database (each backend) and a file subscriber. A cluster planted inside fires
// every rule once, with the planted reports counted and its hull around them; the
// same cluster planted just outside fires nothing.
func TestWatchMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the daemon 40 times")
	}
	for _, be := range testBackends {
		for _, sh := range matrixShapes {
			for _, where := range []string{"inside", "outside"} {
				t.Run(be.name+"/"+sh.name+"/"+where, func(t *testing.T) {
					t.Parallel()
					cluster := sh.inside
					if where == "outside" {
						cluster = sh.outside
					}
					body := plantedFeed(time.Now(), cluster, sh.inside)
					srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write(body) }))
					defer srv.Close()
					dir := t.TempDir()
					for name, data := range sh.files {
						writeFile(t, filepath.Join(dir, name), data)
					}
					db := be.database(t, dir)
					alertsFile := filepath.Join(dir, "alerts.jsonl")
					cfg := filepath.Join(dir, "geowatch.yaml")
					writeFile(t, cfg, fmt.Sprintf(`
database: %s
sources:
  - {name: feed, type: geojson, url: %s, schedule: "@every 1h"}
watches:
  - name: %s
    %s
    schedule: "@every 1h"
    rules:%s
subscribers:
  - {name: log, sink: log}
  - {name: file, sink: file, path: %s}
`, db, srv.URL, sh.name, strings.ReplaceAll(sh.yaml, "{{dir}}", dir), matrixRules, alertsFile))

					want := func(b *syncBuffer) bool { return len(b.find(t, "scheduler started")) > 0 }
					if where == "inside" {
						want = func(b *syncBuffer) bool { return len(b.find(t, "alert firing")) >= len(matrixRuleNames) }
					}
					out := runFor(t, cfg, want)

					st, err := openStore(t.Context(), db, store.ReadOnly())
					if err != nil {
						t.Fatal(err)
					}
					defer st.Close()
					alerts, err := st.Alerts(t.Context(), store.AlertFilter{})
					if err != nil {
						t.Fatal(err)
					}
					var fileLines []map[string]any
					for _, l := range strings.Split(strings.TrimSpace(readFile(t, alertsFile)), "\n") {
						if l == "" {
							continue
						}
						var m map[string]any
						if err := json.Unmarshal([]byte(l), &m); err != nil {
							t.Fatalf("alerts file line %q: %v", l, err)
						}
						fileLines = append(fileLines, m)
					}
					if where == "outside" {
						if len(alerts) != 0 || len(fileLines) != 0 {
							t.Fatalf("cluster outside the watch: %d alerts stored, %d delivered, want none: %+v", len(alerts), len(fileLines), alerts)
						}
						return
					}
					byRule := map[string]int{}
					for _, a := range alerts {
						byRule[a.Rule]++
						if a.Finding.Count != plantedReports {
							t.Errorf("rule %s: alert counts %d reports, want the %d planted", a.Rule, a.Finding.Count, plantedReports)
						}
						if along, ok := a.Finding.Stats["along_km"]; sh.alongKm > 0 && (!ok || math.Abs(along-sh.alongKm) > 1) {
							t.Errorf("rule %s: along_km = %v (set %v), want about %v", a.Rule, along, ok, sh.alongKm)
						}
						if len(a.Finding.Hull) == 0 {
							t.Errorf("rule %s: alert has no hull", a.Rule)
							continue
						}
						for _, p := range a.Finding.Hull[0] {
							// Hull longitudes are unwrapped around the centre, so compare
							// across the antimeridian modulo 360.
							dLon := math.Remainder(p.Lon()-cluster.Lon(), 360)
							if math.Abs(dLon) > 0.0021 || p.Lat() < cluster.Lat()-1e-9 || p.Lat() > cluster.Lat()+0.0016 {
								t.Errorf("rule %s: hull vertex %v is not around the planted cluster at %v", a.Rule, p, cluster)
							}
						}
					}
					for _, r := range matrixRuleNames {
						if byRule[r] != 1 {
							t.Errorf("rule %s: %d alerts, want 1; log:\n%s", r, byRule[r], out.buf.String())
						}
					}
					firing := map[string]int{}
					for _, l := range fileLines {
						if l["msg"] == "alert firing" {
							firing[l["rule"].(string)]++
							if stats, _ := l["stats"].(map[string]any); sh.alongKm > 0 && stats["along_km"] == nil {
								t.Errorf("alerts file line of rule %s has no stats.along_km: %v", l["rule"], l)
							}
						}
					}
					for _, r := range matrixRuleNames {
						if firing[r] != 1 {
							t.Errorf("rule %s: %d firing lines in the alerts file, want 1", r, firing[r])
						}
					}
				})
			}
		}
	}
}
