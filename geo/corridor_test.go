package geo

import (
	"errors"
	"math"
	"testing"

	"github.com/paulmach/orb"
)

// TestCorridorAntimeridian: a line from 179.5° E to 179.5° W at 60° N is 1° of
// longitude long (55.6 km), not 359°; points on both sides of 180° project onto
// it in order, its boxes are split at 180°, and PointAt comes back normalised.
func TestCorridorAntimeridian(t *testing.T) {
	c, err := NewCorridor(orb.MultiLineString{{{179.5, 60}, {-179.5, 60}}}, 5000)
	if err != nil {
		t.Fatal(err)
	}
	if km := c.LengthMeters() / 1000; math.Abs(km-55.6) > 0.2 {
		t.Fatalf("length %.1f km, want 55.6", km)
	}
	west, _ := c.Project(orb.Point{179.9, 60})
	east, off := c.Project(orb.Point{-179.9, 60.01})
	if !(west < east) || math.Abs((east-west)/1000-11.1) > 0.2 || math.Abs(off-1112) > 20 {
		t.Errorf("179.9 at %.0f m, -179.9 at %.0f m off %.0f m; want 11.1 km apart in order, 1.1 km off", west, east, off)
	}
	if !c.Contains(orb.Point{180, 60.04}) || c.Contains(orb.Point{180, 60.06}) || c.Contains(orb.Point{0, 60}) {
		t.Error("Contains: want 4.4 km off the line in, 6.7 km out, the far side of the globe out")
	}
	bs := c.Bounds()
	if len(bs) != 2 {
		t.Fatalf("bounds %v, want two boxes split at 180°", bs)
	}
	for _, b := range bs {
		if b.Min.Lon() < -180 || b.Max.Lon() > 180 || b.Max.Lon()-b.Min.Lon() > 1 {
			t.Errorf("box %v: want a small box within ±180°", b)
		}
	}
	if p := c.PointAt(c.LengthMeters() / 2); math.Abs(math.Abs(p.Lon())-180) > 1e-6 || math.Abs(p.Lat()-60) > 0.01 {
		t.Errorf("midpoint %v, want on 180° near 60° N", p)
	}
	if p := c.PointAt(c.LengthMeters()); p != (orb.Point{-179.5, 60}) {
		t.Errorf("end %v, want (-179.5, 60)", p)
	}
}

// TestCorridorParts: a MultiLineString is measured part after part.
func TestCorridorParts(t *testing.T) {
	a, b := orb.LineString{{0, 0}, {0.1, 0}}, orb.LineString{{0.5, 0}, {0.6, 0}}
	c, err := NewCorridor(orb.MultiLineString{a, b}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	part := Distance(a[0], a[1])
	if got, _ := c.Project(orb.Point{0.55, 0}); math.Abs(got-1.5*part) > 1 {
		t.Errorf("along the second part's middle = %.0f m, want %.0f", got, 1.5*part)
	}
	if c.Contains(orb.Point{0.3, 0}) {
		t.Error("the gap between the parts is inside")
	}
	if _, err := NewCorridor(orb.MultiLineString{{{0, 0}}}, 1000); !errors.Is(err, ErrShortLine) {
		t.Errorf("one-point line: %v, want ErrShortLine", err)
	}
	if _, err := NewCorridor(orb.MultiLineString{a}, 0); err == nil {
		t.Error("zero width accepted")
	}
}
