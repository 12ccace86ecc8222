package rule

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/paulmach/orb"
)

// TestIndexScanMatchesQuadtree checks that the scan a small index answers
// neighbours with finds exactly what the quadtree finds, near the antimeridian
// and a pole included.
func TestIndexScanMatchesQuadtree(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := range 300 {
		center := [...]orb.Point{{131.9, 43.1}, {179.9, 65}, {-179.95, -10}, {10, 89.9}}[trial%4]
		n := 1 + rng.IntN(bruteForceLocations)
		pts := make([]orb.Point, n)
		for i := range pts {
			lon := center.Lon() + rng.NormFloat64()*0.3
			if lon > 180 {
				lon -= 360
			} else if lon < -180 {
				lon += 360
			}
			pts[i] = orb.Point{lon, min(center.Lat()+rng.NormFloat64()*0.2, 90)}
			if i > 0 && rng.IntN(5) == 0 {
				pts[i] = pts[rng.IntN(i)] // a repeated location
			}
		}
		eps := 2000 + rng.Float64()*20000
		scan, tree := newIndex(pts, center.Lon(), eps), newIndex(pts, center.Lon(), eps)
		if scan.qt != nil {
			t.Fatalf("an index of %d points built a quadtree", n)
		}
		tree.buildTree()
		for k := range scan.locs {
			a, b := scan.neighbours(nil, k), tree.neighbours(nil, k)
			slices.Sort(a)
			slices.Sort(b)
			if !slices.Equal(a, b) {
				t.Fatalf("trial %d, location %d of %d (eps %.0f m): the scan finds %v, the quadtree %v", trial, k, len(scan.locs), eps, a, b)
			}
		}
	}
}
