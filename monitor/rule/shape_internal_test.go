package rule

import (
	"testing"
	"time"

	"github.com/geowatch/geowatch/geo"
	"github.com/geowatch/geowatch/monitor"
	"github.com/paulmach/orb"
)

// TestFilterPolygon checks that rules read what a polygon area holds, buffer
// included, so that a polygon watch needs no change here once shapeOf returns it.
func TestFilterPolygon(t *testing.T) {
	now := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	sq := geo.NewPolygon(orb.MultiPolygon{{{{0, 0}, {1, 0}, {1, 1}, {0, 1}, {0, 0}}}})
	obs := []monitor.Observation{
		{FID: 1, Time: now.Add(-time.Minute), Point: orb.Point{0.5, 0.5}},
		{FID: 2, Time: now.Add(-time.Minute), Point: orb.Point{1.05, 0.5}}, // 5.6 km east
		{FID: 3, Time: now.Add(-time.Minute), Point: orb.Point{1.5, 0.5}},  // 56 km east
	}
	for _, tc := range []struct {
		reach float64
		want  int
	}{{0, 1}, {10e3, 2}, {100e3, 3}} {
		if got := filter(now, time.Hour, nil, sq.Buffered(tc.reach), obs); len(got) != tc.want {
			t.Errorf("filter(polygon grown by %.0f m) = %d observations, want %d", tc.reach, len(got), tc.want)
		}
	}
	w := &monitor.Watch{Center: orb.Point{0, 0}, RadiusMeters: 1e3}
	if a, ok := area(w, 500).(geo.Circle); !ok || a.RadiusMeters != 1500 || !inWatch(w, orb.Point{0, 0.005}) || inWatch(w, orb.Point{0, 0.01}) {
		t.Errorf("area(w, 500) = %v; want the 1 km circle grown to 1.5 km", area(w, 500))
	}
}
