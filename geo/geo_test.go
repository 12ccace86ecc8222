package geo

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/paulmach/orb"
)

func TestDistance(t *testing.T) {
	tests := []struct {
		name string
		a, b orb.Point
		want float64 // metres, haversine on orb's sphere
	}{
		{"vladivostok to khasan", orb.Point{131.8855, 43.1155}, orb.Point{130.64, 42.43}, 127203.5},
		{"across the antimeridian", orb.Point{179.9, 0}, orb.Point{-179.9, 0}, 22263.9},
		{"same point", orb.Point{10, 10}, orb.Point{10, 10}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Distance(tc.a, tc.b); math.Abs(got-tc.want) > 0.5 {
				t.Errorf("Distance(%v, %v) = %.1f, want %.1f", tc.a, tc.b, got, tc.want)
			}
		})
	}
}

func TestParseDistance(t *testing.T) {
	tests := []struct {
		in      string
		want    float64
		wantErr bool
	}{
		{"50km", 50000, false},
		{"500m", 500, false},
		{"1.5 km", 1500, false},
		{"2KM", 2000, false},
		{"1mi", 1609.344, false},
		{"1nmi", 1852, false},
		{"750", 0, true}, // no unit: 750 m or 750 km?
		{" 50 ", 0, true},
		{"", 0, true},
		{"km", 0, true},
		{"-5km", 0, true},
		{"0m", 0, true},
		{"5 parsecs", 0, true},
		{"NaNkm", 0, true},
	}
	for _, tc := range tests {
		got, err := ParseDistance(tc.in)
		if (err != nil) != tc.wantErr || (!tc.wantErr && math.Abs(got-tc.want) > 1e-9) {
			t.Errorf("ParseDistance(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
	if _, err := ParseDistance("50"); !errors.Is(err, ErrNoUnit) || !strings.Contains(err.Error(), "50km") {
		t.Errorf("ParseDistance(50) = %v, want ErrNoUnit suggesting 50km", err)
	}
	for _, m := range []float64{500, 50000, 1500, 12345} {
		back, err := ParseDistance(FormatDistance(m))
		if err != nil || math.Abs(back-m) > 50 {
			t.Errorf("ParseDistance(FormatDistance(%v)) = %v, %v", m, back, err)
		}
	}
}

func TestCheckPoint(t *testing.T) {
	tests := []struct {
		p    orb.Point
		want error
	}{
		{orb.Point{131.9, 43.1}, nil},
		{orb.Point{180, 90}, nil},
		{orb.Point{0, 90.0001}, ErrLatitudeRange},
		{orb.Point{-180.5, 0}, ErrLongitudeRange},
		{orb.Point{math.NaN(), 0}, ErrNotFinite},
		{orb.Point{0, math.Inf(1)}, ErrNotFinite},
		{orb.Point{1e308, 0}, ErrLongitudeRange},
	}
	for _, tc := range tests {
		if got := CheckPoint(tc.p); !errors.Is(got, tc.want) {
			t.Errorf("CheckPoint(%v) = %v, want %v", tc.p, got, tc.want)
		}
	}
}

// TestCircleBounds checks that every point of the circle lies in one of its
// boxes, including circles that cross the antimeridian or reach a pole.
func TestCircleBounds(t *testing.T) {
	tests := []struct {
		name  string
		c     Circle
		boxes int
	}{
		{"vladivostok 50km", Circle{orb.Point{131.8855, 43.1155}, 50000}, 1},
		{"east of the antimeridian", Circle{orb.Point{179.9, 65}, 30000}, 2},
		{"west of the antimeridian", Circle{orb.Point{-179.95, -16}, 20000}, 2},
		{"at the pole", Circle{orb.Point{0, 89.9}, 50000}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bs := tc.c.Bounds()
			if len(bs) != tc.boxes {
				t.Fatalf("Bounds() = %d boxes %v, want %d", len(bs), bs, tc.boxes)
			}
			for _, b := range bs {
				if b.Min.Lon() > b.Max.Lon() || b.Min.Lon() < -180 || b.Max.Lon() > 180 {
					t.Errorf("box %v is not a plain lon/lat box", b)
				}
			}
			for _, p := range tc.c.Polygon(360)[0] {
				in := false
				for _, b := range bs {
					in = in || b.Contains(p)
				}
				if !in {
					t.Errorf("circle point %v is in none of %v", p, bs)
				}
				if d := Distance(tc.c.Center, p); math.Abs(d-tc.c.RadiusMeters) > 1 {
					t.Errorf("circle vertex %v at %.1f m, want %.1f", p, d, tc.c.RadiusMeters)
				}
			}
		})
	}
}

func TestConvexHull(t *testing.T) {
	pts := []orb.Point{{0, 0}, {2, 0}, {1, 1}, {2, 2}, {0, 2}, {1, 0.5}, {2, 0}}
	h := ConvexHull(pts)
	want := orb.Ring{{0, 0}, {2, 0}, {2, 2}, {0, 2}, {0, 0}}
	if len(h) != 1 || !h[0].Equal(want) {
		t.Errorf("ConvexHull = %v, want %v", h, want)
	}
	if h := ConvexHull([]orb.Point{{1, 1}, {1, 1}}); len(h[0]) != 4 || !h[0].Closed() {
		t.Errorf("ConvexHull(one point) = %v, want a closed degenerate ring", h)
	}
	if h := ConvexHull(nil); h != nil {
		t.Errorf("ConvexHull(nil) = %v, want nil", h)
	}
}
