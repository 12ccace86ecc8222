package sqlite

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/geowatch/geowatch/monitor"
	"github.com/paulmach/orb"
)

func TestPointBlob(t *testing.T) {
	b := pointBlob(orb.Point{131.8855, 43.1155})
	if len(b) != 29 || string(b[:2]) != "GP" || b[2] != 0 || b[3] != 1 {
		t.Fatalf("pointBlob header = % x", b[:8])
	}
	g, err := decodeBlob(b)
	if err != nil || g != (orb.Point{131.8855, 43.1155}) {
		t.Errorf("decodeBlob = %v, %v", g, err)
	}
}

// ogrinfo runs GDAL's ogrinfo and returns stdout, failing on a non-zero exit or
// on anything on stderr: Debian 12's GDAL 3.6 warned on every open of the
// GeoPackage 1.4 files geowatch used to write.
func ogrinfo(t *testing.T, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command("ogrinfo", args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("ogrinfo %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	if e := strings.TrimSpace(stderr.String()); e != "" {
		t.Errorf("ogrinfo %s: stderr: %s", strings.Join(args, " "), e)
	}
	return stdout.String()
}

// validateGPKG is GDAL's GeoPackage validator as Debian's python3-gdal ships it.
var validateGPKG = []string{
	"/usr/lib/python3/dist-packages/osgeo_utils/samples/validate_gpkg.py",
	"/usr/share/doc/python3-gdal/examples/validate_gpkg.py",
}

// TestValidateGPKG runs GDAL's validate_gpkg.py on a store with rows and an
// alert: it checks the header, the tables, the rtree triggers of the version
// written, and every geometry blob.
func TestValidateGPKG(t *testing.T) {
	script := ""
	for _, p := range validateGPKG {
		if _, err := os.Stat(p); err == nil {
			script = p
			break
		}
	}
	if script == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("validate_gpkg.py not installed (apt-get install python3-gdal)")
		}
		t.Skip("validate_gpkg.py not installed (apt-get install python3-gdal)")
	}
	path := filepath.Join(t.TempDir(), "geowatch.gpkg")
	db := openTestDB(t, path)
	ingest(t, db, "grid", monitor.Batch{Observations: []monitor.Observation{obs("v1", 131.9, 43.1, t0), obs("v2", 132, 43.2, t0)}})
	a, tr := testAlert(), monitor.Transition{At: t0, To: monitor.StateFiring}
	if err := db.SaveTransition(t.Context(), &a, &tr); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("python3", script, path).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("validate_gpkg.py %s: %v\n%s", path, err, out)
	}
}

// TestGDALReadsGeoPackage checks that GDAL opens the file as a GeoPackage with
// both layers, counts the features, and finds them through the rtree.
func TestGDALReadsGeoPackage(t *testing.T) {
	if _, err := exec.LookPath("ogrinfo"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("ogrinfo not installed (apt-get install gdal-bin)")
		}
		t.Skip("ogrinfo not installed (apt-get install gdal-bin)")
	}
	path := filepath.Join(t.TempDir(), "geowatch.gpkg")
	db := openTestDB(t, path)
	var batch []monitor.Observation
	for i := range 100 { // a 10 × 10 grid over lon 0–9, lat 40–49
		batch = append(batch, obs(fmt.Sprintf("g%02d", i), float64(i%10), 40+float64(i/10), t0))
	}
	ingest(t, db, "grid", monitor.Batch{Observations: batch})
	moved := batch[0]
	moved.Point = orb.Point{-20, -20}
	ingest(t, db, "grid", monitor.Batch{Observations: []monitor.Observation{moved}})
	a, tr := testAlert(), monitor.Transition{At: t0, To: monitor.StateFiring}
	if err := db.SaveTransition(t.Context(), &a, &tr); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	out := ogrinfo(t, "-ro", "-so", path, "observations")
	for _, want := range []string{"Geometry: Point", "Feature Count: 100", "FID Column = fid",
		"Geometry Column = geom", "observed_at: DateTime", "ID[\"EPSG\",4326]"} {
		if !strings.Contains(out, want) {
			t.Errorf("ogrinfo -so observations lacks %q:\n%s", want, out)
		}
	}
	out = ogrinfo(t, "-ro", "-al", "-so", path)
	for _, want := range []string{"Layer name: observations", "Layer name: alerts", "Geometry: Unknown (any)",
		"Feature Count: 1", "Layer name: rejects", "Layer name: sources", "Layer name: alert_transitions"} {
		if !strings.Contains(out, want) {
			t.Errorf("ogrinfo -al -so lacks %q:\n%s", want, out)
		}
	}
	// Through the rtree: the box holds lon 2–4 × lat 41–43 = 9 points, and the
	// moved point is found at its new place only.
	for _, tc := range []struct {
		bbox []string
		want int
	}{
		{[]string{"1.5", "40.5", "4.5", "43.5"}, 9},
		{[]string{"-21", "-21", "-19", "-19"}, 1},
		{[]string{"-0.5", "39.5", "0.5", "40.5"}, 0},
	} {
		out := ogrinfo(t, append(append([]string{"-ro", "-so", "-spat"}, tc.bbox...), path, "observations")...)
		m := regexp.MustCompile(`Feature Count: (\d+)`).FindStringSubmatch(out)
		if m == nil || m[1] != fmt.Sprint(tc.want) {
			t.Errorf("-spat %v: feature count %v, want %d", tc.bbox, m, tc.want)
		}
	}
}
