package geo

import (
	"slices"

	"github.com/paulmach/orb"
)

// ConvexHull returns the convex hull of pts as a polygon (Andrew's monotone chain in
// lon/lat, fine for the clusters geowatch reports, which span kilometres, not
// hemispheres). Fewer than three distinct points give a degenerate but closed
// four-point ring (a point repeated, or a segment there and back), so that every
// hull encodes as a polygon readers accept. No points give nil.
func ConvexHull(pts []orb.Point) orb.Polygon {
	ps := slices.Clone(pts)
	slices.SortFunc(ps, func(a, b orb.Point) int {
		if a[0] != b[0] {
			if a[0] < b[0] {
				return -1
			}
			return 1
		}
		switch {
		case a[1] < b[1]:
			return -1
		case a[1] > b[1]:
			return 1
		}
		return 0
	})
	ps = slices.Compact(ps)
	if len(ps) == 0 {
		return nil
	}
	switch len(ps) {
	case 1:
		return orb.Polygon{{ps[0], ps[0], ps[0], ps[0]}}
	case 2:
		return orb.Polygon{{ps[0], ps[1], ps[0], ps[0]}}
	}
	cross := func(o, a, b orb.Point) float64 {
		return (a[0]-o[0])*(b[1]-o[1]) - (a[1]-o[1])*(b[0]-o[0])
	}
	hull := make(orb.Ring, 0, 2*len(ps))
	for _, p := range ps { // lower hull
		for len(hull) >= 2 && cross(hull[len(hull)-2], hull[len(hull)-1], p) <= 0 {
			hull = hull[:len(hull)-1]
		}
		hull = append(hull, p)
	}
	lower := len(hull) + 1
	for i := len(ps) - 2; i >= 0; i-- { // upper hull
		p := ps[i]
		for len(hull) >= lower && cross(hull[len(hull)-2], hull[len(hull)-1], p) <= 0 {
			hull = hull[:len(hull)-1]
		}
		hull = append(hull, p)
	}
	return orb.Polygon{hull} // counter-clockwise, closed: the last point is ps[0]
}
