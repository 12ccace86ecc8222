package geo

import (
	"math"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
)

// Polygon is a watched area bounded by one or more polygons with holes, such as
// an administrative region, optionally grown by a buffer distance. Like Circle it
// has Bounds and Contains, so it can stand wherever a watch's shape is wanted.
// The zero value contains nothing.
//
// Coordinates are lon/lat (WGS 84) and edges are straight in lon/lat, as GeoJSON
// draws them. A polygon that crosses the antimeridian must be split there, as
// GeoJSON (RFC 7946 §3.1.9) asks and as published boundaries are.
type Polygon struct {
	mp           orb.MultiPolygon
	parts        []orb.Bound // bound of each part's exterior ring
	bufferMeters float64
}

// NewPolygon returns the area covered by mp. Each polygon's first ring is its
// exterior and the others are holes; rings need not be closed nor wound any
// particular way.
func NewPolygon(mp orb.MultiPolygon) Polygon {
	pg := Polygon{mp: mp.Clone()}
	for i, p := range pg.mp {
		for j, r := range p {
			if len(r) > 0 && !r.Closed() {
				pg.mp[i][j] = append(r, r[0])
			}
		}
		b := orb.Bound{Min: orb.Point{math.Inf(1), math.Inf(1)}, Max: orb.Point{math.Inf(-1), math.Inf(-1)}}
		if len(p) > 0 && len(p[0]) > 0 {
			b = p[0].Bound()
		}
		pg.parts = append(pg.parts, b)
	}
	return pg
}

// MultiPolygon returns a copy of the polygon's geometry, without its buffer.
func (pg Polygon) MultiPolygon() orb.MultiPolygon { return pg.mp.Clone() }

// BufferMeters returns how far beyond its boundary the polygon reaches.
func (pg Polygon) BufferMeters() float64 { return pg.bufferMeters }

// Buffered returns the polygon grown by meters: a point is inside when it is in
// the polygon or within meters of its boundary. Buffers add up, so
// pg.Buffered(a).Buffered(b) is pg.Buffered(a+b). A negative or NaN distance
// counts as zero.
func (pg Polygon) Buffered(meters float64) Polygon {
	if meters > 0 {
		pg.bufferMeters += meters
	}
	return pg
}

// bufferDegrees is the buffer as degrees of latitude, padded for rounding.
func (pg Polygon) bufferDegrees() float64 {
	return pg.bufferMeters/EarthRadiusMeters*180/math.Pi*(1+1e-9) + 1e-9
}

// Bounds returns lon/lat boxes that cover the area: one per part, grown by the
// buffer, with boxes that overlap merged. Parts on both sides of the antimeridian
// give boxes on both sides rather than one spanning the globe.
func (pg Polygon) Bounds() []orb.Bound {
	dLat := pg.bufferDegrees()
	var out []orb.Bound
	for _, b := range pg.parts {
		if b.Min.Lon() > b.Max.Lon() {
			continue // an empty part
		}
		if pg.bufferMeters > 0 {
			b = growBound(b, dLat)
		}
		out = appendMerged(out, b)
	}
	return out
}

// growBound pads b by dLat degrees of latitude and the matching longitude at its
// most poleward latitude, splitting it where it runs past ±180.
func growBound(b orb.Bound, dLat float64) orb.Bound {
	minLat, maxLat := math.Max(b.Min.Lat()-dLat, -90), math.Min(b.Max.Lat()+dLat, 90)
	polar := math.Max(math.Abs(minLat), math.Abs(maxLat))
	dLon := dLat / math.Cos(polar*math.Pi/180)
	if polar >= 90 || dLon >= 180 || math.IsNaN(dLon) {
		return orb.Bound{Min: orb.Point{-180, minLat}, Max: orb.Point{180, maxLat}}
	}
	// Clamped rather than wrapped: a buffer that reaches over the antimeridian
	// misses the few points just beyond it. Published boundaries are split there,
	// so the part on the other side has its own box.
	return orb.Bound{
		Min: orb.Point{math.Max(b.Min.Lon()-dLon, -180), minLat},
		Max: orb.Point{math.Min(b.Max.Lon()+dLon, 180), maxLat},
	}
}

// appendMerged adds b to boxes, merging it with every box it overlaps, so that a
// region of many islands does not make the store run one query per island.
func appendMerged(boxes []orb.Bound, b orb.Bound) []orb.Bound {
	for {
		merged := false
		for i := 0; i < len(boxes); i++ {
			if boxes[i].Intersects(b) {
				b = b.Union(boxes[i])
				boxes = append(boxes[:i], boxes[i+1:]...)
				merged = true
				i--
			}
		}
		if !merged {
			return append(boxes, b)
		}
	}
}

// Contains reports whether p is inside the polygon (on its boundary counts as
// inside, in a hole as outside) or within the buffer distance of its boundary.
func (pg Polygon) Contains(p orb.Point) bool {
	for i, poly := range pg.mp {
		if len(poly) > 0 && pg.parts[i].Contains(p) && planar.PolygonContains(poly, p) {
			return true
		}
	}
	if pg.bufferMeters > 0 {
		return pg.DistanceToBoundary(p) <= pg.bufferMeters
	}
	return false
}

// DistanceToBoundary returns the distance in metres from p to the nearest edge of
// any ring, holes included, or +Inf for an empty polygon.
//
// Each edge is measured in a local equirectangular projection centred on p (x
// east scaled by cos(lat p), y north, metres on the sphere of EarthRadiusMeters),
// with the edge's longitudes unwrapped to within 180° of p. For the edges of
// administrative boundaries, which are metres to kilometres long, this is within a
// fraction of a percent of the geodesic distance; it grows with an edge's length
// and its distance from p, which only matters for buffers of hundreds of
// kilometres.
func (pg Polygon) DistanceToBoundary(p orb.Point) float64 {
	best := math.Inf(1)
	lat0 := p.Lat() * math.Pi / 180
	ky := EarthRadiusMeters * math.Pi / 180
	kx := ky * math.Cos(lat0)
	for _, poly := range pg.mp {
		for _, r := range poly {
			for j := 0; j+1 < len(r); j++ {
				a, b := r[j], r[j+1]
				ay, by := (a.Lat()-p.Lat())*ky, (b.Lat()-p.Lat())*ky
				// An edge entirely farther north or south than best cannot be nearer.
				if (ay > best && by > best) || (ay < -best && by < -best) {
					continue
				}
				ax := math.Remainder(a.Lon()-p.Lon(), 360) * kx
				bx := math.Remainder(b.Lon()-p.Lon(), 360) * kx
				best = math.Min(best, originToSegment(ax, ay, bx, by))
			}
		}
	}
	return best
}

// originToSegment is the planar distance from (0, 0) to the segment a–b.
func originToSegment(ax, ay, bx, by float64) float64 {
	dx, dy := bx-ax, by-ay
	l2 := dx*dx + dy*dy
	t := 0.0
	if l2 > 0 {
		t = math.Max(0, math.Min(1, -(ax*dx+ay*dy)/l2))
	}
	return math.Hypot(ax+t*dx, ay+t*dy)
}

// Centroid returns the area-weighted centroid of the polygon in lon/lat, for
// display and as a reference point; it need not be inside a concave polygon, and
// is meaningless for a region split at the antimeridian.
func (pg Polygon) Centroid() orb.Point {
	c, area := planar.CentroidArea(pg.mp)
	if area == 0 && len(pg.parts) > 0 {
		return pg.parts[0].Center()
	}
	return c
}
