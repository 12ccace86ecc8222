package geojson

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"

	"github.com/geowatch/geowatch/geo"
	"github.com/geowatch/geowatch/monitor"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
)

// Geometry is decoded here rather than with orb/geojson, which would bring in the
// MongoDB driver (for BSON) as a dependency, and which reads a position of one
// number as (lon, 0) and drops a third coordinate without a trace; here a short
// position is an error and a Point's third coordinate is returned.

// decodeGeometry reads a feature's geometry member. It returns the geometry, a
// Point's third coordinate if it has one (USGS: depth in km), or a
// *monitor.FieldError. Every position must be on Earth and no part may be empty.
func decodeGeometry(raw json.RawMessage) (orb.Geometry, *float64, error) {
	if isNull(raw) {
		return nil, nil, &monitor.FieldError{Field: "geometry", Err: monitor.ErrMissing}
	}
	return geometry(raw, "geometry")
}

func geometry(raw json.RawMessage, path string) (orb.Geometry, *float64, error) {
	var g struct {
		Type        string            `json:"type"`
		Coordinates json.RawMessage   `json:"coordinates"`
		Geometries  []json.RawMessage `json:"geometries"`
	}
	if err := json.Unmarshal(raw, &g); err != nil {
		return nil, nil, &monitor.FieldError{Field: path, Err: fmt.Errorf("%w: not a geometry object", monitor.ErrBadValue)}
	}
	field := path + ".coordinates"
	fail := func(err error) (orb.Geometry, *float64, error) {
		return nil, nil, &monitor.FieldError{Field: field, Err: err}
	}
	if g.Type == "GeometryCollection" {
		if len(g.Geometries) == 0 {
			return nil, nil, &monitor.FieldError{Field: path + ".geometries", Err: monitor.ErrMissing}
		}
		c := make(orb.Collection, 0, len(g.Geometries))
		for i, m := range g.Geometries {
			mg, _, err := geometry(m, fmt.Sprintf("%s.geometries[%d]", path, i))
			if err != nil {
				return nil, nil, err
			}
			c = append(c, mg)
		}
		return c, nil, nil
	}
	if isNull(g.Coordinates) {
		return fail(monitor.ErrMissing)
	}
	decode := func(v any) error {
		if err := json.Unmarshal(g.Coordinates, v); err != nil {
			return fmt.Errorf("%w: coordinates of a %s: %v", monitor.ErrBadValue, g.Type, err)
		}
		return nil
	}
	switch g.Type {
	case "Point":
		var p []float64
		if err := decode(&p); err != nil {
			return fail(err)
		}
		pt, err := position(p)
		if err != nil {
			return fail(err)
		}
		if len(p) > 2 {
			return pt, &p[2], nil
		}
		return pt, nil, nil
	case "MultiPoint":
		var ps [][]float64
		if err := decode(&ps); err != nil {
			return fail(err)
		}
		mp, err := positions(ps)
		if err != nil {
			return fail(err)
		}
		return orb.MultiPoint(mp), nil, nil
	case "LineString":
		var ps [][]float64
		if err := decode(&ps); err != nil {
			return fail(err)
		}
		ls, err := positions(ps)
		if err != nil {
			return fail(err)
		}
		return orb.LineString(ls), nil, nil
	case "MultiLineString", "Polygon":
		var pss [][][]float64
		if err := decode(&pss); err != nil {
			return fail(err)
		}
		parts, err := lines(pss)
		if err != nil {
			return fail(err)
		}
		if g.Type == "Polygon" {
			return polygon(parts), nil, nil
		}
		mls := make(orb.MultiLineString, len(parts))
		for i, l := range parts {
			mls[i] = orb.LineString(l)
		}
		return mls, nil, nil
	case "MultiPolygon":
		var psss [][][][]float64
		if err := decode(&psss); err != nil {
			return fail(err)
		}
		if len(psss) == 0 {
			return fail(monitor.ErrMissing)
		}
		mp := make(orb.MultiPolygon, len(psss))
		for i, pss := range psss {
			rings, err := lines(pss)
			if err != nil {
				return fail(err)
			}
			mp[i] = polygon(rings)
		}
		return mp, nil, nil
	case "":
		return nil, nil, &monitor.FieldError{Field: path + ".type", Err: monitor.ErrMissing}
	}
	return nil, nil, &monitor.FieldError{Field: path + ".type", Err: fmt.Errorf("%w: unknown geometry type %q", monitor.ErrBadValue, g.Type)}
}

// position reads a GeoJSON position [lon, lat, ...] and checks it is on Earth.
func position(p []float64) (orb.Point, error) {
	if len(p) < 2 {
		return orb.Point{}, fmt.Errorf("%w: position %v needs longitude and latitude", monitor.ErrBadValue, p)
	}
	pt := orb.Point{p[0], p[1]}
	if err := geo.CheckPoint(pt); err != nil {
		return orb.Point{}, fmt.Errorf("position [%v, %v]: %w", p[0], p[1], err)
	}
	return pt, nil
}

// positions reads a non-empty list of positions.
func positions(ps [][]float64) ([]orb.Point, error) {
	if len(ps) == 0 {
		return nil, monitor.ErrMissing
	}
	pts := make([]orb.Point, len(ps))
	for i, p := range ps {
		var err error
		if pts[i], err = position(p); err != nil {
			return nil, err
		}
	}
	return pts, nil
}

// lines reads a non-empty list of non-empty position lists.
func lines(pss [][][]float64) ([][]orb.Point, error) {
	if len(pss) == 0 {
		return nil, monitor.ErrMissing
	}
	out := make([][]orb.Point, len(pss))
	for i, ps := range pss {
		var err error
		if out[i], err = positions(ps); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func polygon(rings [][]orb.Point) orb.Polygon {
	p := make(orb.Polygon, len(rings))
	for i, r := range rings {
		p[i] = orb.Ring(r)
	}
	return p
}

// representative returns the point that stands for g in distance rules: the point
// itself; for several points the one nearest their mean; for lines the midpoint
// along the longest; for areas a point inside the largest; for a collection,
// that of its areas, else its lines, else its points. It works in lon/lat, so a
// shape crossing the antimeridian gets a wrong point; geowatch's sources report
// shapes of city scale, far from it.
func representative(g orb.Geometry) orb.Point {
	switch g := g.(type) {
	case orb.Point:
		return g
	case orb.MultiPoint:
		var mean orb.Point
		for _, p := range g {
			mean[0] += p[0] / float64(len(g))
			mean[1] += p[1] / float64(len(g))
		}
		best := g[0]
		for _, p := range g[1:] {
			if geo.Distance(p, mean) < geo.Distance(best, mean) {
				best = p
			}
		}
		return best
	case orb.LineString:
		return midpoint(g)
	case orb.MultiLineString:
		best, bestLen := g[0], -1.0
		for _, l := range g {
			if n := length(l); n > bestLen {
				best, bestLen = l, n
			}
		}
		return midpoint(best)
	case orb.Polygon:
		return interior(g)
	case orb.MultiPolygon:
		best, bestArea := g[0], -1.0
		for _, p := range g {
			if a := math.Abs(planar.Area(p)); a > bestArea {
				best, bestArea = p, a
			}
		}
		return interior(best)
	case orb.Collection:
		var polys orb.MultiPolygon
		var ls orb.MultiLineString
		var pts orb.MultiPoint
		flatten(g, &polys, &ls, &pts)
		switch {
		case len(polys) > 0:
			return representative(polys)
		case len(ls) > 0:
			return representative(ls)
		}
		return representative(pts)
	}
	return g.Bound().Center() // not reached: decodeGeometry makes none of orb's other types
}

func flatten(c orb.Collection, polys *orb.MultiPolygon, ls *orb.MultiLineString, pts *orb.MultiPoint) {
	for _, g := range c {
		switch g := g.(type) {
		case orb.Point:
			*pts = append(*pts, g)
		case orb.MultiPoint:
			*pts = append(*pts, g...)
		case orb.LineString:
			*ls = append(*ls, g)
		case orb.MultiLineString:
			*ls = append(*ls, g...)
		case orb.Polygon:
			*polys = append(*polys, g)
		case orb.MultiPolygon:
			*polys = append(*polys, g...)
		case orb.Collection:
			flatten(g, polys, ls, pts)
		}
	}
}

// length is a line's geodesic length in metres.
func length(ls orb.LineString) float64 {
	var n float64
	for i := 1; i < len(ls); i++ {
		n += geo.Distance(ls[i-1], ls[i])
	}
	return n
}

// midpoint is the point halfway along ls, interpolated linearly in lon/lat
// within its segment (segments are short next to the Earth's curvature).
func midpoint(ls orb.LineString) orb.Point {
	half := length(ls) / 2
	for i := 1; i < len(ls); i++ {
		a, b := ls[i-1], ls[i]
		d := geo.Distance(a, b)
		if d > 0 && half <= d {
			t := half / d
			return orb.Point{a[0] + t*(b[0]-a[0]), a[1] + t*(b[1]-a[1])}
		}
		half -= d
	}
	// A line of zero length, or rounding that ran past the last segment.
	return ls[len(ls)-1]
}

// interior returns the polygon's centroid if it lies inside; otherwise (a
// crescent, a district with a hole in the middle) the middle of the widest span
// that a horizontal line through the middle of the bounds cuts from it, which
// does. A polygon with no area gets its first vertex.
func interior(p orb.Polygon) orb.Point {
	if c, area := planar.CentroidArea(p); area != 0 && planar.PolygonContains(p, c) {
		return c
	}
	b := p.Bound()
	y := (b.Min[1] + b.Max[1]) / 2
	var xs []float64
	for _, r := range p {
		for i := range r {
			// (i+1)%len closes rings that the source left open.
			a, c := r[i], r[(i+1)%len(r)]
			if (a[1] > y) != (c[1] > y) {
				xs = append(xs, a[0]+(y-a[1])*(c[0]-a[0])/(c[1]-a[1]))
			}
		}
	}
	slices.Sort(xs)
	best, widest := p[0][0], -1.0
	for i := 0; i+1 < len(xs); i += 2 {
		if w := xs[i+1] - xs[i]; w > widest {
			best, widest = orb.Point{(xs[i] + xs[i+1]) / 2, y}, w
		}
	}
	return best
}
