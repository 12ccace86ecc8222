package main

import (
	"bufio"
	"bytes"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/geowatch/geowatch/geo"
	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/store"
	"github.com/geowatch/geowatch/store/sqlite"
	"github.com/paulmach/orb"
)

// analystDriver is the store's registered go-sqlite3 driver, which has the SQL
// math functions the stock sqlite3 shell has. Only tests open it directly: they
// run the README's SQL through the Go driver as an analyst's program would.
const analystDriver = "sqlite3_geowatch"

// vladivostok is the gazetteer's point for Vladivostok.
var vladivostok = orb.Point{131.8855, 43.1155}

// newQueryDB writes obs into a new database and closes it, returning its path.
func newQueryDB(t *testing.T, now time.Time, batches ...[]monitor.Observation) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "geowatch.gpkg")
	st, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range batches {
		if _, err := st.Ingest(t.Context(), "test", monitor.Batch{Observations: b}, now); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func testObs(id string, p orb.Point, at time.Time) monitor.Observation {
	return monitor.Observation{ID: id, Time: at, Point: p, Kind: "police_presence", Place: "somewhere",
		Title: "report " + id + ", with a comma and \"quotes\"", Weight: 1, Properties: json.RawMessage(`{"n":1}`)}
}

// at returns the point d metres from c on the given bearing (degrees), on
// the sphere geo.Distance measures.
func at(c orb.Point, bearingDeg, d float64) orb.Point {
	rad := math.Pi / 180
	lat1, lon1, brg, ang := c.Lat()*rad, c.Lon()*rad, bearingDeg*rad, d/geo.EarthRadiusMeters
	lat2 := math.Asin(math.Sin(lat1)*math.Cos(ang) + math.Cos(lat1)*math.Sin(ang)*math.Cos(brg))
	lon2 := lon1 + math.Atan2(math.Sin(brg)*math.Sin(ang)*math.Cos(lat1), math.Cos(ang)-math.Sin(lat1)*math.Sin(lat2))
	return orb.Point{lon2 / rad, lat2 / rad}
}

// readmeSection returns the first sh block under the README heading that starts
// with heading.
func readmeSection(t *testing.T, heading string) string {
	t.Helper()
	return readmeBlock(t, "\n## "+heading, "sh")
}

// readmeBlock returns the first code block in lang after the README line that
// starts with heading (which includes its leading newline and #s).
func readmeBlock(t *testing.T, heading, lang string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), heading)
	if !ok {
		t.Fatalf("README has no section %q", strings.TrimSpace(heading))
	}
	_, rest, ok = strings.Cut(rest, "```"+lang+"\n")
	if !ok {
		t.Fatalf("README section %q has no %s block", strings.TrimSpace(heading), lang)
	}
	block, _, _ := strings.Cut(rest, "```")
	return block
}

// readmeCommands splits a sh block into commands: runs of non-blank lines.
func readmeCommands(block string) map[string]string {
	cmds := map[string]string{}
	for c := range strings.SplitSeq(block, "\n\n") {
		c = strings.TrimSpace(c)
		if name, _, ok := strings.Cut(c, " "); ok {
			cmds[name] = c
		}
	}
	return cmds
}

// requireTool skips a test part without tool, except under CI, where it fails.
func requireTool(t *testing.T, tool, pkg string) bool {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s not installed (apt-get install %s)", tool, pkg)
		}
		t.Logf("%s not installed (apt-get install %s): skipping that way", tool, pkg)
		return false
	}
	return true
}

// shellIn runs a README command with geowatch.gpkg replaced by path, in sh.
func shellIn(t *testing.T, command, path string) string {
	t.Helper()
	command = strings.ReplaceAll(command, "geowatch.gpkg", "'"+path+"'")
	cmd := exec.Command("sh", "-c", command)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", command, err, stderr.String())
	}
	return stdout.String()
}

// TestQueryThreeWays stores observations near Vladivostok in the last day,
// outside the radius, and older, and checks that the README's geowatch query,
// sqlite3 SQL (through the Go driver and the sqlite3 shell) and ogrinfo
// commands select the same fids.
func TestQueryThreeWays(t *testing.T) {
	now := time.Now().UTC()
	rng := rand.New(rand.NewPCG(3, 4))
	var batch []monitor.Observation
	add := func(kind string, n int, dMin, dMax float64, ageMin, ageMax time.Duration) {
		for i := range n {
			p := at(vladivostok, rng.Float64()*360, dMin+rng.Float64()*(dMax-dMin))
			age := ageMin + time.Duration(rng.Int64N(int64(ageMax-ageMin)))
			batch = append(batch, testObs(fmt.Sprintf("%s-%03d", kind, i), p, now.Add(-age)))
		}
	}
	add("near", 40, 0, 48e3, time.Minute, 23*time.Hour)     // the answer
	add("ring", 20, 52e3, 69e3, time.Minute, 23*time.Hour)  // in the bounding box, beyond 50 km
	add("far", 20, 100e3, 400e3, time.Minute, 23*time.Hour) // far away
	add("old", 20, 0, 48e3, 25*time.Hour, 30*24*time.Hour)  // near, but older than a day
	path := newQueryDB(t, now, batch)

	var want []int64 // the fids of the near rows, in time order
	{
		st, err := sqlite.Open(t.Context(), path, store.ReadOnly())
		if err != nil {
			t.Fatal(err)
		}
		err = st.Query(t.Context(), store.QueryFilter{}, func(o monitor.Observation) error {
			if strings.HasPrefix(o.ID, "near-") {
				want = append(want, o.FID)
			}
			return nil
		})
		st.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(want) != 40 {
		t.Fatalf("%d near rows stored, want 40", len(want))
	}
	cmds := readmeCommands(readmeSection(t, "Querying: what happened near Vladivostok in the last day, three ways"))

	t.Run("geowatch query", func(t *testing.T) {
		line, ok := cmds["geowatch"]
		if !ok {
			t.Fatal("README section has no geowatch command")
		}
		args := append(strings.Fields(line)[1:], "--db", path)
		var stdout, stderr bytes.Buffer
		if err := run(t.Context(), args, &stdout, &stderr); err != nil {
			t.Fatalf("%s: %v\n%s", line, err, stderr.String())
		}
		rows, err := csv.NewReader(&stdout).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) == 0 || !slices.Equal(rows[0], csvHeader) {
			t.Fatalf("csv header = %v, want %v", rows[:min(1, len(rows))], csvHeader)
		}
		if got := csvFIDs(t, rows[1:]); !slices.Equal(got, want) {
			t.Errorf("geowatch query fids = %v,\nwant %v", got, want)
		}
	})

	command, ok := cmds["sqlite3"]
	if !ok {
		t.Fatal("README section has no sqlite3 command")
	}
	_, query, _ := strings.Cut(command, `"`)
	query = strings.TrimSuffix(query, `"`)
	t.Run("SQL through the Go driver", func(t *testing.T) {
		db, err := sql.Open(analystDriver, "file:"+path+"?mode=ro")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		rows, err := db.QueryContext(t.Context(), query)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var got []int64
		for rows.Next() {
			var (
				fid                    int64
				source, id, when, kind string
				lat, lon, distance     float64
			)
			if err := rows.Scan(&fid, &source, &id, &when, &kind, &lat, &lon, &distance); err != nil {
				t.Fatal(err)
			}
			if d := geo.Distance(vladivostok, orb.Point{lon, lat}); d-distance > 0.5 || distance-d > 0.5 {
				t.Errorf("fid %d: distance_m = %.0f, want %.0f", fid, distance, d)
			}
			got = append(got, fid)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("README SQL fids = %v,\nwant %v", got, want)
		}
	})
	t.Run("sqlite3 shell", func(t *testing.T) {
		if !requireTool(t, "sqlite3", "sqlite3") {
			return
		}
		rows, err := csv.NewReader(strings.NewReader(shellIn(t, command, path))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if got := csvFIDs(t, rows); !slices.Equal(got, want) {
			t.Errorf("sqlite3 fids = %v,\nwant %v", got, want)
		}
	})
	t.Run("ogrinfo", func(t *testing.T) {
		command, ok := cmds["ogrinfo"]
		if !ok {
			t.Fatal("README section has no ogrinfo command")
		}
		// The README's box must hold the circle's, or ogrinfo would miss rows.
		f := strings.Fields(command[strings.Index(command, "-spat"):])[1:5]
		var box [4]float64
		for i, s := range f {
			var err error
			if box[i], err = strconv.ParseFloat(s, 64); err != nil {
				t.Fatalf("-spat %v: %v", f, err)
			}
		}
		b := geo.Circle{Center: vladivostok, RadiusMeters: 50e3}.Bounds()[0]
		if box[0] > b.Min.Lon() || box[1] > b.Min.Lat() || box[2] < b.Max.Lon() || box[3] < b.Max.Lat() {
			t.Errorf("README -spat %v does not hold the circle's bounds %v", box, b)
		}
		if !requireTool(t, "ogrinfo", "gdal-bin") {
			return
		}
		feats := ogrFeatures(t, shellIn(t, command, path))
		var got []int64
		ring := 0
		for _, ft := range feats {
			if geo.Distance(vladivostok, orb.Point{ft.lon, ft.lat}) <= 50e3 {
				got = append(got, ft.fid)
			} else {
				ring++
			}
		}
		slices.Sort(got)
		sorted := slices.Sorted(slices.Values(want))
		if !slices.Equal(got, sorted) {
			t.Errorf("ogrinfo fids within 50 km = %v,\nwant %v", got, sorted)
		}
		if ring == 0 {
			t.Error("ogrinfo's box listed no row beyond 50 km: the test no longer checks the distance step")
		}
	})
}

func csvFIDs(t *testing.T, rows [][]string) []int64 {
	t.Helper()
	var fids []int64
	for _, r := range rows {
		fid, err := strconv.ParseInt(r[0], 10, 64)
		if err != nil {
			t.Fatalf("csv row %v: %v", r, err)
		}
		fids = append(fids, fid)
	}
	return fids
}

type ogrFeature struct {
	fid      int64
	lat, lon float64
}

// ogrFeatures reads ogrinfo's feature dump: "OGRFeature(observations):FID" and
// then "  lat (Real) = …" lines.
func ogrFeatures(t *testing.T, out string) []ogrFeature {
	t.Helper()
	var fs []ogrFeature
	for line := range strings.Lines(out) {
		line = strings.TrimSpace(line)
		if s, ok := strings.CutPrefix(line, "OGRFeature(observations):"); ok {
			fid, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				t.Fatalf("ogrinfo line %q: %v", line, err)
			}
			fs = append(fs, ogrFeature{fid: fid})
			continue
		}
		for _, f := range []struct {
			prefix string
			dst    func(*ogrFeature) *float64
		}{{"lat (Real) = ", func(f *ogrFeature) *float64 { return &f.lat }}, {"lon (Real) = ", func(f *ogrFeature) *float64 { return &f.lon }}} {
			if s, ok := strings.CutPrefix(line, f.prefix); ok && len(fs) > 0 {
				v, err := strconv.ParseFloat(s, 64)
				if err != nil {
					t.Fatalf("ogrinfo line %q: %v", line, err)
				}
				*f.dst(&fs[len(fs)-1]) = v
			}
		}
	}
	return fs
}

func TestQueryFormats(t *testing.T) {
	now := time.Now().UTC()
	var batch []monitor.Observation
	for i := range 5 {
		batch = append(batch, testObs(fmt.Sprintf("a%d", i), at(vladivostok, 90, float64(i)*5e3), now.Add(-time.Duration(5-i)*time.Hour)))
	}
	far := testObs("far", orb.Point{140, 35}, now.Add(-time.Hour))
	far.Kind = "earthquake"
	batch = append(batch, far)
	path := newQueryDB(t, now, batch)
	polygon := filepath.Join(t.TempDir(), "area.geojson")
	writeFile(t, polygon, `{"type":"FeatureCollection","features":[
{"type":"Feature","properties":{"name":"japan"},"geometry":{"type":"Polygon","coordinates":[[[139,34],[141,34],[141,36],[139,36],[139,34]]]}},
{"type":"Feature","properties":{"name":"vlad"},"geometry":{"type":"Polygon","coordinates":[[[131.8,43],[132.2,43],[132.2,43.3],[131.8,43.3],[131.8,43]]]}}]}`)
	for _, tc := range []struct {
		name string
		args []string
		want int // rows
	}{
		{"table", []string{"--near", "Vladivostok", "--radius", "50km"}, 5},
		{"lat,lon", []string{"--near", "43.1155,131.8855", "--radius", "12km", "--format", "csv"}, 3},
		{"since", []string{"--near", "Vladivostok", "--radius", "50km", "--since", "150m", "--format", "ndjson"}, 2},
		{"until rfc3339", []string{"--near", "Vladivostok", "--radius", "50km", "--until", now.Add(-3*time.Hour - time.Minute).Format(time.RFC3339), "--format", "ndjson"}, 2},
		{"limit", []string{"--near", "Vladivostok", "--radius", "50km", "--limit", "2", "--format", "geojson"}, 2},
		{"kind", []string{"--near", "35,140", "--radius", "10km", "--kind", "earthquake,news", "--format", "geojson"}, 1},
		{"kind excludes", []string{"--near", "35,140", "--radius", "10km", "--kind", "news", "--format", "geojson"}, 0},
		{"source", []string{"--near", "Vladivostok", "--radius", "50km", "--source", "other", "--format", "csv"}, 0},
		{"within", []string{"--within", polygon, "--filter", "name=vlad", "--format", "ndjson"}, 5},
		{"within first feature", []string{"--within", polygon, "--format", "ndjson"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append([]string{"query", "--db", path}, tc.args...)
			if err := run(t.Context(), args, &stdout, &stderr); err != nil {
				t.Fatalf("%v: %v\n%s", args, err, stderr.String())
			}
			if stderr.Len() > 0 {
				t.Errorf("stderr: %s", stderr.String())
			}
			format := "table"
			if i := slices.Index(tc.args, "--format"); i >= 0 {
				format = tc.args[i+1]
			}
			if got := countRows(t, format, &stdout); got != tc.want {
				t.Errorf("%d rows, want %d:\n%s", got, tc.want, stdout.String())
			}
		})
	}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"no area", []string{"query"}},
		{"radius without near", []string{"query", "--radius", "5km"}},
		{"near without radius", []string{"query", "--near", "Vladivostok"}},
		{"unknown place", []string{"query", "--near", "Atlantis", "--radius", "5km"}},
		{"bad radius", []string{"query", "--near", "Vladivostok", "--radius", "5 parsecs"}},
		{"bad since", []string{"query", "--near", "Vladivostok", "--radius", "5km", "--since", "yesterday"}},
		{"bad format", []string{"query", "--near", "Vladivostok", "--radius", "5km", "--format", "xml"}},
		{"latitude range", []string{"query", "--near", "95,10", "--radius", "5km"}},
		{"export table", []string{"export", "--format", "table"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(t.Context(), append(tc.args, "--db", path), &stdout, &stderr)
			if exitCode(err) != 2 {
				t.Errorf("%v: error %v (exit %d), want a usage error", tc.args, err, exitCode(err))
			}
			if stdout.Len() > 0 {
				t.Errorf("stdout: %s", stdout.String())
			}
		})
	}
	t.Run("missing database", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "none.gpkg")
		err := run(t.Context(), []string{"query", "--db", missing, "--near", "Vladivostok", "--radius", "5km"}, io.Discard, io.Discard)
		if err == nil {
			t.Error("query on a missing database: no error")
		}
		if _, err := os.Stat(missing); err == nil {
			t.Error("query created the missing database")
		}
	})
}

// countRows counts the rows of query's output in format, checking the
// document is well-formed.
func countRows(t *testing.T, format string, r io.Reader) int {
	t.Helper()
	switch format {
	case "table":
		n := -1 // the header
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			n++
		}
		return n
	case "csv":
		rows, err := csv.NewReader(r).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		return len(rows) - 1
	case "geojson":
		var fc struct {
			Type     string            `json:"type"`
			Features []json.RawMessage `json:"features"`
		}
		dec := json.NewDecoder(r)
		if err := dec.Decode(&fc); err != nil || fc.Type != "FeatureCollection" {
			t.Fatalf("not a FeatureCollection (%v)", err)
		}
		for _, f := range fc.Features {
			checkFeature(t, f)
		}
		return len(fc.Features)
	case "ndjson":
		n := 0
		sc := bufio.NewScanner(r)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			checkFeature(t, sc.Bytes())
			n++
		}
		return n
	}
	t.Fatalf("format %q", format)
	return 0
}

func checkFeature(t *testing.T, b []byte) {
	t.Helper()
	var f struct {
		Type     string `json:"type"`
		ID       int64  `json:"id"`
		Geometry struct {
			Type        string    `json:"type"`
			Coordinates []float64 `json:"coordinates"`
		} `json:"geometry"`
		Properties map[string]any `json:"properties"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("feature %s: %v", b, err)
	}
	if f.Type != "Feature" || f.ID == 0 || f.Geometry.Type != "Point" || len(f.Geometry.Coordinates) != 2 || f.Properties["observed_at"] == nil {
		t.Errorf("feature %s", b)
	}
}

// TestExport streams 50,000 observations through export in each format to a
// file and counts them back.
func TestExport(t *testing.T) {
	const n = 50_000
	now := time.Now().UTC()
	rng := rand.New(rand.NewPCG(5, 6))
	batch := make([]monitor.Observation, n)
	for i := range batch {
		p := orb.Point{100 + 60*rng.Float64(), 20 + 40*rng.Float64()}
		batch[i] = testObs(fmt.Sprintf("e%06d", i), p, now.Add(-time.Duration(rng.Int64N(int64(60*24*time.Hour)))))
	}
	path := newQueryDB(t, now, batch)
	dir := t.TempDir()
	for _, format := range []string{"csv", "ndjson", "geojson"} {
		t.Run(format, func(t *testing.T) {
			out := filepath.Join(dir, "export."+format)
			var stdout, stderr bytes.Buffer
			if err := run(t.Context(), []string{"export", "--db", path, "--format", format, "-o", out}, &stdout, &stderr); err != nil {
				t.Fatalf("export: %v\n%s", err, stderr.String())
			}
			if want := fmt.Sprintf("exported %d observations to %s\n", n, out); stderr.String() != want {
				t.Errorf("stderr = %q, want %q (no progress bar off a terminal)", stderr.String(), want)
			}
			f, err := os.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if got := countRows(t, format, f); got != n {
				t.Errorf("export --format %s: %d rows, want %d", format, got, n)
			}
			if st, err := f.Stat(); err == nil && st.Mode().Perm() != 0o640 {
				t.Errorf("mode %v, want 0640", st.Mode().Perm())
			}
		})
	}
	t.Run("filtered to stdout", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		if err := run(t.Context(), []string{"export", "--db", path, "--format", "ndjson", "--since", "7d", "--limit", "100"}, &stdout, &stderr); err != nil {
			t.Fatalf("export: %v\n%s", err, stderr.String())
		}
		if got := countRows(t, "ndjson", &stdout); got != 100 {
			t.Errorf("%d rows, want 100", got)
		}
	})
	t.Run("failed export keeps the old file", func(t *testing.T) {
		out := filepath.Join(dir, "keep.csv")
		writeFile(t, out, "old")
		err := run(t.Context(), []string{"export", "--db", path, "--format", "csv", "--kind", "x", "--since", "nonsense", "-o", out}, io.Discard, io.Discard)
		if err == nil {
			t.Fatal("no error")
		}
		if b, _ := os.ReadFile(out); string(b) != "old" {
			t.Errorf("%s = %q after a failed export", out, b)
		}
		if m, _ := filepath.Glob(filepath.Join(dir, ".keep.csv.*")); len(m) > 0 {
			t.Errorf("temporary files left: %v", m)
		}
	})
}

// assertFixedWidthTimes fails unless every time in the JSON document data is
// written as the database writes it: UTC to the millisecond, fixed width.
func assertFixedWidthTimes(t *testing.T, data []byte) {
	t.Helper()
	var doc any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	fixed := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)
	n := 0
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		case string:
			if _, err := time.Parse(time.RFC3339Nano, v); err == nil {
				n++
				if !fixed.MatchString(v) {
					t.Errorf("time %q is not fixed-width (want like 2026-12-01T08:00:00.000Z)", v)
				}
			}
		}
	}
	walk(doc)
	if n == 0 {
		t.Errorf("no times in %s", data)
	}
}
