package main

import (
	"bytes"
	"database/sql"
	"encoding/csv"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/geowatch/geowatch/geo"
	"github.com/paulmach/orb"
)

// TestSpatialIndexGDAL ingests the shared bench workload's first rows through
// the CLI with spatial_index: rtree, then switches the same file to off and
// back (ingesting more rows each time), and after each step checks that GDAL's
// spatial filters (ogrinfo -spat, ogr2ogr -spat) return exactly the rows that
// geowatch query --within returns for the same rectangle, and, for --near, the
// rows of the circle's box that are within the radius; that GDAL sees a
// spatial index only with rtree, and that the R*Tree rebuilt holds every row.
func TestSpatialIndexGDAL(t *testing.T) {
	if !requireTool(t, "ogrinfo", "gdal-bin") || !requireTool(t, "ogr2ogr", "gdal-bin") {
		t.Skip("no GDAL")
	}
	dir := t.TempDir()
	all := benchSlice(t, dir, "ndjson", 6000)
	b, err := os.ReadFile(all)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(strings.TrimSpace(string(b)), "\n")
	parts := make([]string, 3)
	for i := range parts {
		parts[i] = filepath.Join(dir, fmt.Sprintf("part%d.ndjson", i))
		writeFile(t, parts[i], strings.Join(lines[i*2000:(i+1)*2000], ""))
	}
	db := filepath.Join(dir, "bench.gpkg")
	for i, setting := range []string{"rtree", "off", "rtree"} {
		cfg := filepath.Join(dir, "geowatch.yaml")
		writeFile(t, cfg, "database: "+db+"\nspatial_index: "+setting+"\n")
		if got := ingestFile(t, parts[i], db, "bench", []string{"--config", cfg}); got.Added != 2000 {
			t.Fatalf("step %d (%s): ingest = %+v, want 2000 added", i, setting, got)
		}
		t.Run(fmt.Sprintf("%d-%s", i, setting), func(t *testing.T) {
			checkSpatialIndex(t, dir, db, setting == "rtree", 2000*(i+1))
		})
	}
}

func checkSpatialIndex(t *testing.T, dir, db string, rtree bool, rows int) {
	out := ogr(t, "ogrinfo", "-ro", "-q", "-sql", "SELECT HasSpatialIndex('observations', 'geom')", db)
	if want := map[bool]string{true: "= 1", false: "= 0"}[rtree]; !strings.Contains(out, want) {
		t.Errorf("GDAL HasSpatialIndex: %q, want %q", out, want)
	}
	c, err := sql.Open("sqlite3", "file:"+db+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var ext, n int
	if err := c.QueryRow(`SELECT (SELECT count(*) FROM gpkg_extensions WHERE table_name = 'observations' AND extension_name = 'gpkg_rtree_index'),
		(SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'observations')`).Scan(&ext, &n); err != nil {
		t.Fatal(err)
	}
	if want := map[bool][2]int{true: {1, 6}, false: {0, 0}}[rtree]; [2]int{ext, n} != want {
		t.Errorf("gpkg_extensions rows, triggers = %d, %d; want %v", ext, n, want)
	}
	for _, script := range validateGPKGScripts {
		if _, err := os.Stat(script); err == nil {
			if out, err := exec.Command("python3", script, db).CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
				t.Errorf("validate_gpkg.py: %v\n%s", err, out)
			}
			break
		}
	}
	if rtree {
		var check string
		var count int
		if err := c.QueryRow(`SELECT rtreecheck('rtree_observations_geom'), (SELECT count(*) FROM rtree_observations_geom)`).Scan(&check, &count); err != nil {
			t.Fatal(err)
		}
		if check != "ok" || count != rows {
			t.Errorf("rtree: rtreecheck %q, %d rows; want ok, %d", check, count, rows)
		}
	}

	for i, box := range []orb.Bound{
		{Min: orb.Point{131.1234567, 42.7654321}, Max: orb.Point{132.5432109, 43.6789012}}, // around Vladivostok
		{Min: orb.Point{100.0000001, 20.0000001}, Max: orb.Point{112.3456789, 31.9876543}}, // a uniform corner
		{Min: orb.Point{140.5, 50.5}, Max: orb.Point{140.5000001, 50.5000001}},             // nothing
	} {
		poly := filepath.Join(dir, "box.geojson")
		r := orb.Ring{box.Min, {box.Max[0], box.Min[1]}, box.Max, {box.Min[0], box.Max[1]}, box.Min}
		writeFile(t, poly, fmt.Sprintf(`{"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":[[%s]]}}`, ringJSON(r)))
		cli := queryFIDs(t, "query", "--within", poly, "--db", db, "--format", "csv")
		if i < 2 && len(cli) == 0 {
			t.Errorf("box %v: no rows; the test would not compare anything", box)
		}
		spat := []string{"-spat", ftoa(box.Min[0]), ftoa(box.Min[1]), ftoa(box.Max[0]), ftoa(box.Max[1])}
		info := ogrFIDs(ogrFeatures(t, ogr(t, "ogrinfo", append(append([]string{"-ro", "-q"}, spat...), db, "observations")...)))
		conv := ogr(t, "ogr2ogr", append(append([]string{"-f", "CSV", "/vsistdout/"}, spat...), db, "observations", "-select", "ext_id")...)
		if !slices.Equal(info, cli) {
			t.Errorf("box %v: ogrinfo -spat %d fids, geowatch query --within %d: %v vs %v", box, len(info), len(cli), head(info), head(cli))
		}
		if got := strings.Count(strings.TrimSpace(conv), "\n"); got != len(cli) {
			t.Errorf("box %v: ogr2ogr -spat %d rows, geowatch query --within %d", box, got, len(cli))
		}
	}

	center, radius := orb.Point{131.8855, 43.1155}, 50000.0
	cli := queryFIDs(t, "query", "--near", "43.1155,131.8855", "--radius", "50km", "--db", db, "--format", "csv")
	bd := geo.Circle{Center: center, RadiusMeters: radius}.Bounds()[0]
	var near []int64
	for _, f := range ogrFeatures(t, ogr(t, "ogrinfo", "-ro", "-q", "-spat", ftoa(bd.Min[0]), ftoa(bd.Min[1]), ftoa(bd.Max[0]), ftoa(bd.Max[1]), db, "observations")) {
		if geo.Distance(center, orb.Point{f.lon, f.lat}) <= radius {
			near = append(near, f.fid)
		}
	}
	slices.Sort(near)
	if len(cli) == 0 || !slices.Equal(near, cli) {
		t.Errorf("near: ogrinfo -spat box within 50 km %d fids, geowatch query --near %d", len(near), len(cli))
	}
}

// validateGPKGScripts are where Debian's python3-gdal puts GDAL's validator.
var validateGPKGScripts = []string{
	"/usr/lib/python3/dist-packages/osgeo_utils/samples/validate_gpkg.py",
	"/usr/share/doc/python3-gdal/examples/validate_gpkg.py",
}

func ftoa(v float64) string { return fmt.Sprintf("%.7f", v) }

func ringJSON(r orb.Ring) string {
	var s []string
	for _, p := range r {
		s = append(s, fmt.Sprintf("[%s,%s]", ftoa(p[0]), ftoa(p[1])))
	}
	return strings.Join(s, ",")
}

func head(f []int64) []int64 { return f[:min(5, len(f))] }

func ogr(t *testing.T, tool string, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(tool, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %q: %v\n%s", tool, args, err, stderr.String())
	}
	if s := stderr.String(); strings.Contains(s, "ERROR") || strings.Contains(s, "Warning") {
		t.Errorf("%s %q: %s", tool, args, s)
	}
	return stdout.String()
}

func ogrFIDs(fs []ogrFeature) []int64 {
	var out []int64
	for _, f := range fs {
		out = append(out, f.fid)
	}
	slices.Sort(out)
	return out
}

// queryFIDs runs geowatch query with --format csv and returns the fids, sorted.
func queryFIDs(t *testing.T, args ...string) []int64 {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if err := run(t.Context(), args, &stdout, &stderr); err != nil {
		t.Fatalf("geowatch %q: %v\n%s", args, err, stderr.String())
	}
	rows, err := csv.NewReader(&stdout).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	fids := csvFIDs(t, rows[1:])
	slices.Sort(fids)
	return fids
}
