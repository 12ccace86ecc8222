package geo

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/paulmach/orb"
)

// regions is the directory of the shared Russian admin-1 boundaries (GIS-Lab /
// OpenStreetMap via click_that_hood, ODbL; see its README.txt).
var regions = filepath.Join("..", "..", "shared", "data", "russia-regions")

func readRegion(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(regions, name))
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("%s not found: the shared boundary data is not checked out next to the repository", filepath.Join(regions, name))
	}
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// Places around Primorsky Krai, (lon, lat).
var (
	vladivostok = orb.Point{131.8855, 43.1155}
	ussuriysk   = orb.Point{131.9511, 43.7979}
	khasan      = orb.Point{130.65, 42.43}
	tumangang   = orb.Point{130.62, 42.35} // North Korea, across the Tumen
	harbin      = orb.Point{126.6425, 45.7567}
)

func TestLoadPolygonPrimorsky(t *testing.T) {
	tests := []struct {
		name   string
		file   string
		filter map[string]string
	}{
		{"derived file", "primorsky_krai.geojson", nil},
		{"derived file, filtered", "primorsky_krai.geojson", map[string]string{"name_latin": "Primorsky Krai"}},
		{"all subjects by latin name", "russia_federal_subjects.geojson", map[string]string{"name_latin": "Primorsky Krai"}},
		{"all subjects by Russian name and id", "russia_federal_subjects.geojson", map[string]string{"name": "Приморский край", "cartodb_id": "12"}},
	}
	places := []struct {
		name string
		p    orb.Point
		in   bool
	}{
		{"Vladivostok", vladivostok, true},
		{"Ussuriysk", ussuriysk, true},
		{"Khasan", khasan, true},
		{"Tumangang", tumangang, false},
		{"Harbin", harbin, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pg, err := LoadPolygon(readRegion(t, tc.file), tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			if n := len(pg.MultiPolygon()); n != 10 {
				t.Errorf("%d parts, want 10 (the README's count)", n)
			}
			for _, pl := range places {
				if got := pg.Contains(pl.p); got != pl.in {
					t.Errorf("Contains(%s %v) = %v, want %v", pl.name, pl.p, got, pl.in)
				}
				inBox := false
				for _, b := range pg.Bounds() {
					inBox = inBox || b.Contains(pl.p)
				}
				if pl.in && !inBox {
					t.Errorf("%s is inside but in none of Bounds() %v", pl.name, pg.Bounds())
				}
			}
			c := pg.Centroid()
			if c.Lon() < 130.4 || c.Lon() > 139.1 || c.Lat() < 42.3 || c.Lat() > 48.5 {
				t.Errorf("Centroid() = %v, outside the krai's bbox", c)
			}
		})
	}
}

func TestPolygonBuffer(t *testing.T) {
	pg, err := LoadPolygon(readRegion(t, "primorsky_krai.geojson"), nil)
	if err != nil {
		t.Fatal(err)
	}
	// Tumangang is across the Tumen river from Khasan: a few kilometres from the
	// krai's boundary, so a 10 km buffer takes it in and a 1 km one does not.
	d := pg.DistanceToBoundary(tumangang)
	if d < 1e3 || d > 10e3 {
		t.Fatalf("DistanceToBoundary(Tumangang) = %.0f m, want between 1 and 10 km", d)
	}
	if pg.Buffered(1e3).Contains(tumangang) {
		t.Errorf("1 km buffer contains Tumangang at %.0f m", d)
	}
	if !pg.Buffered(10e3).Contains(tumangang) {
		t.Errorf("10 km buffer misses Tumangang at %.0f m", d)
	}
	if pg.Buffered(100e3).Contains(harbin) {
		t.Errorf("100 km buffer contains Harbin, some 400 km away")
	}
	if got := pg.Buffered(5e3).Buffered(5e3).BufferMeters(); got != 10e3 {
		t.Errorf("Buffered(5 km).Buffered(5 km).BufferMeters() = %v, want 10000", got)
	}
	for _, b := range pg.Buffered(10e3).Bounds() {
		if b.Contains(tumangang) {
			return
		}
	}
	t.Errorf("buffered Bounds() miss Tumangang")
}

// TestPolygonShapes checks holes, buffers and distances on a square 2° a side
// round the equator with a 1° square hole, where distances are easy to compute.
func TestPolygonShapes(t *testing.T) {
	outer := orb.Ring{{-1, -1}, {1, -1}, {1, 1}, {-1, 1}, {-1, -1}}
	hole := orb.Ring{{-0.5, -0.5}, {-0.5, 0.5}, {0.5, 0.5}, {0.5, -0.5}} // open: NewPolygon closes it
	pg := NewPolygon(orb.MultiPolygon{{outer, hole}, {{{10, 0}, {11, 0}, {11, 1}, {10, 0}}}})
	deg := EarthRadiusMeters * math.Pi / 180 // metres per degree on the equator
	tests := []struct {
		name   string
		p      orb.Point
		in     bool
		buffer float64 // metres
		dist   float64 // to the boundary, metres
	}{
		{"in the ring", orb.Point{0.75, 0}, true, 0, 0.25 * deg},
		{"in the hole", orb.Point{0, 0}, false, 0, 0.5 * deg},
		{"in the hole, buffer reaches", orb.Point{0.4, 0}, true, 0.11 * deg, 0.1 * deg},
		{"outside", orb.Point{1.2, 0}, false, 0, 0.2 * deg},
		{"outside, buffer reaches", orb.Point{1.2, 0}, true, 0.21 * deg, 0.2 * deg},
		{"outside, buffer short", orb.Point{1.2, 0}, false, 0.19 * deg, 0.2 * deg},
		{"on the edge", orb.Point{1, 0.3}, true, 0, 0},
		{"second part", orb.Point{10.8, 0.2}, true, 0, 0.2 * deg * math.Cos(0.2*math.Pi/180)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := pg.Buffered(tc.buffer).Contains(tc.p); got != tc.in {
				t.Errorf("Buffered(%.0f).Contains(%v) = %v, want %v", tc.buffer, tc.p, got, tc.in)
			}
			if got := pg.DistanceToBoundary(tc.p); math.Abs(got-tc.dist) > 0.002*tc.dist+1 {
				t.Errorf("DistanceToBoundary(%v) = %.0f, want %.0f", tc.p, got, tc.dist)
			}
		})
	}
	if got := len(pg.Bounds()); got != 2 {
		t.Errorf("Bounds() = %v, want one box per part", pg.Bounds())
	}
	if got := len(pg.Buffered(5 * deg).Bounds()); got != 1 {
		t.Errorf("Buffered(5°).Bounds() = %v, want the overlapping boxes merged", pg.Buffered(5*deg).Bounds())
	}
	if (Polygon{}).Contains(orb.Point{0, 0}) || (Polygon{}).Buffered(1e3).Contains(orb.Point{0, 0}) {
		t.Errorf("the zero Polygon contains a point")
	}
}

func TestLoadPolygonErrors(t *testing.T) {
	tests := []struct {
		name   string
		data   string
		filter map[string]string
		want   error // nil: any error
	}{
		{"not JSON", `{"type":`, nil, nil},
		{"point", `{"type":"Point","coordinates":[1,2]}`, nil, ErrGeometryType},
		{"feature without geometry", `{"type":"Feature","properties":{},"geometry":null}`, nil, ErrGeometryType},
		{"short ring", `{"type":"Polygon","coordinates":[[[0,0],[1,0],[0,0]]]}`, nil, ErrBadRing},
		{"no rings", `{"type":"Polygon","coordinates":[]}`, nil, ErrBadRing},
		{"latitude", `{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,91],[0,0]]]}`, nil, ErrLatitudeRange},
		{"bare geometry, filtered", `{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}`, map[string]string{"name": "x"}, ErrNoMatch},
		{"no match", `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"name":"a"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}}]}`, map[string]string{"name": "b"}, ErrNoMatch},
		{"feature, no match", `{"type":"Feature","properties":{"name":"a"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}}`, map[string]string{"name": "b"}, ErrNoMatch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadPolygon([]byte(tc.data), tc.filter)
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Errorf("LoadPolygon(%s) = %v, want %v", tc.data, err, tc.want)
			}
		})
	}
	// A feature collection takes the first match.
	fc := `{"type":"FeatureCollection","features":[
		{"type":"Feature","properties":{"name":"a","n":1},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}},
		{"type":"Feature","properties":{"name":"b","n":2},"geometry":{"type":"MultiPolygon","coordinates":[[[[5,5],[6,5],[6,6],[5,5]]]]}},
		{"type":"Feature","properties":{"name":"b","n":3},"geometry":{"type":"Polygon","coordinates":[[[9,9],[8,9],[8,8],[9,9]]]}}]}`
	pg, err := LoadPolygon([]byte(fc), map[string]string{"name": "b"})
	if err != nil || !pg.Contains(orb.Point{5.9, 5.1}) || pg.Contains(orb.Point{8.5, 8.9}) {
		t.Errorf("LoadPolygon(name=b) = %v, %v; want the first feature named b", pg.MultiPolygon(), err)
	}
	if pg, err := LoadPolygon([]byte(fc), map[string]string{"n": "3"}); err != nil || !pg.Contains(orb.Point{8.5, 8.9}) {
		t.Errorf("LoadPolygon(n=3) = %v, %v; want the feature with the number 3", pg.MultiPolygon(), err)
	}
}

func FuzzLoadPolygon(f *testing.F) {
	f.Add([]byte(`{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]],[[0.2,0.2],[0.3,0.2],[0.3,0.3],[0.2,0.2]]]}`), "")
	f.Add([]byte(`{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"name":"a"},"geometry":{"type":"MultiPolygon","coordinates":[[[[0,0],[1,0],[1,1],[0,0]]]]}}]}`), "a")
	f.Add([]byte(`{"type":"Feature","properties":null,"geometry":{"type":"Polygon","coordinates":[[[179,0],[180,0],[180,1,5],[179,0]]]}}`), "")
	f.Fuzz(func(t *testing.T, data []byte, name string) {
		var filter map[string]string
		if name != "" {
			filter = map[string]string{"name": name}
		}
		pg, err := LoadPolygon(data, filter)
		if err != nil {
			return
		}
		for _, p := range pg.MultiPolygon() {
			for _, r := range p {
				if len(r) < 4 || !r.Closed() {
					t.Fatalf("ring %v: want closed, at least four positions", r)
				}
				for _, pt := range r {
					if err := CheckPoint(pt); err != nil {
						t.Fatalf("position %v: %v", pt, err)
					}
				}
			}
		}
		pg.Buffered(1e3).Contains(orb.Point{0, 0})
		_ = pg.Bounds()
	})
}
