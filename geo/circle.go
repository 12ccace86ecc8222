package geo

import (
	"math"

	"github.com/paulmach/orb"
)

// Circle is a point with a geodesic radius: the shape of a watched place.
type Circle struct {
	Center       orb.Point // lon, lat
	RadiusMeters float64
}

// Contains reports whether p is within the circle's radius of its centre.
func (c Circle) Contains(p orb.Point) bool {
	return Distance(c.Center, p) <= c.RadiusMeters
}

// Bounds returns the lon/lat boxes that cover the circle. A circle that crosses the
// antimeridian yields two boxes, one on each side, so callers never see a box whose
// west edge is east of its east edge. A circle that reaches a pole covers every
// longitude.
func (c Circle) Bounds() []orb.Bound {
	lat, lon := c.Center.Lat(), c.Center.Lon()
	// A hair wider than the exact extent, so that points on the circle itself are
	// inside despite rounding: the boxes are a prefilter.
	dLat := c.RadiusMeters/EarthRadiusMeters*180/math.Pi + 1e-9
	minLat, maxLat := lat-dLat, lat+dLat
	if minLat <= -90 || maxLat >= 90 {
		return []orb.Bound{{Min: orb.Point{-180, math.Max(minLat, -90)}, Max: orb.Point{180, math.Min(maxLat, 90)}}}
	}
	// The widest longitude span is at the latitude farthest from the equator.
	cos := math.Min(math.Cos(minLat*math.Pi/180), math.Cos(maxLat*math.Pi/180))
	dLon := dLat/cos + 1e-9
	if dLon >= 180 {
		return []orb.Bound{{Min: orb.Point{-180, minLat}, Max: orb.Point{180, maxLat}}}
	}
	minLon, maxLon := lon-dLon, lon+dLon
	switch {
	case minLon < -180:
		return []orb.Bound{
			{Min: orb.Point{minLon + 360, minLat}, Max: orb.Point{180, maxLat}},
			{Min: orb.Point{-180, minLat}, Max: orb.Point{maxLon, maxLat}},
		}
	case maxLon > 180:
		return []orb.Bound{
			{Min: orb.Point{minLon, minLat}, Max: orb.Point{180, maxLat}},
			{Min: orb.Point{-180, minLat}, Max: orb.Point{maxLon - 360, maxLat}},
		}
	}
	return []orb.Bound{{Min: orb.Point{minLon, minLat}, Max: orb.Point{maxLon, maxLat}}}
}

// Polygon returns the circle as a closed ring of n vertices, for storing a watch's
// shape as a geometry.
func (c Circle) Polygon(n int) orb.Polygon {
	ring := make(orb.Ring, 0, n+1)
	for i := range n {
		ring = append(ring, destination(c.Center, 360*float64(i)/float64(n), c.RadiusMeters))
	}
	ring = append(ring, ring[0])
	return orb.Polygon{ring}
}

// destination is the point at distance metres from p along the bearing in degrees,
// normalised to [-180, 180] longitude.
func destination(p orb.Point, bearing, meters float64) orb.Point {
	lat1, lon1 := p.Lat()*math.Pi/180, p.Lon()*math.Pi/180
	b := bearing * math.Pi / 180
	d := meters / EarthRadiusMeters
	lat2 := math.Asin(math.Sin(lat1)*math.Cos(d) + math.Cos(lat1)*math.Sin(d)*math.Cos(b))
	lon2 := lon1 + math.Atan2(math.Sin(b)*math.Sin(d)*math.Cos(lat1), math.Cos(d)-math.Sin(lat1)*math.Sin(lat2))
	lon := math.Mod(lon2*180/math.Pi+540, 360) - 180
	return orb.Point{lon, lat2 * 180 / math.Pi}
}

// Buffered returns the circle grown by meters, so that circles and polygons grow
// alike. A negative or NaN distance counts as zero.
func (c Circle) Buffered(meters float64) Circle {
	if meters > 0 {
		c.RadiusMeters += meters
	}
	return c
}
