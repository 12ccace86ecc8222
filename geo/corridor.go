package geo

import (
	"errors"
	"fmt"
	"math"

	"github.com/paulmach/orb"
	orbgeo "github.com/paulmach/orb/geo"
)

// ErrShortLine means a corridor's line has fewer than two positions.
var ErrShortLine = errors.New("line has fewer than two positions")

// Corridor is a watched route: a line (a LineString, or the parts of a
// MultiLineString one after the other) and the band within WidthMeters of it on
// each side. Like Circle and Polygon it has Bounds and Contains; it also places
// a point along the route (Project) and a position along the route on the map
// (PointAt).
//
// Positions along the corridor are metres from the start of its first part,
// following the parts in order: the second part starts where the first ends,
// whatever the gap between them, so a route given in pieces is measured as one.
//
// Each part's longitudes are unwrapped at construction so that consecutive
// vertices are less than 180° apart: a line from 179.5° to -179.5° crosses the
// antimeridian (1° of longitude), not the rest of the globe.
type Corridor struct {
	parts        []orb.LineString // unwrapped longitudes
	cum          [][]float64      // metres along the corridor at each vertex
	boxes        []orb.Bound      // each part's unwrapped bound, before the width
	length       float64
	widthMeters  float64
	bufferMeters float64 // what Buffered added, kept apart from the width
}

// NewCorridor returns the corridor within widthMeters of ml. Every part needs at
// least two positions; coordinates must be valid lon/lat. A width that is not
// positive and finite is an error.
func NewCorridor(ml orb.MultiLineString, widthMeters float64) (Corridor, error) {
	if !(widthMeters > 0) || math.IsInf(widthMeters, 1) {
		return Corridor{}, fmt.Errorf("corridor width %v: must be positive", widthMeters)
	}
	if len(ml) == 0 {
		return Corridor{}, fmt.Errorf("corridor: no line: %w", ErrShortLine)
	}
	c := Corridor{widthMeters: widthMeters}
	for i, ls := range ml {
		if len(ls) < 2 {
			return Corridor{}, fmt.Errorf("corridor: part %d: %w", i, ErrShortLine)
		}
		part := make(orb.LineString, len(ls))
		cum := make([]float64, len(ls))
		for j, p := range ls {
			if err := CheckPoint(p); err != nil {
				return Corridor{}, fmt.Errorf("corridor: part %d position %d: %w", i, j, err)
			}
			if j == 0 {
				part[j], cum[j] = p, c.length
				continue
			}
			prev := part[j-1]
			part[j] = orb.Point{prev.Lon() + math.Remainder(p.Lon()-prev.Lon(), 360), p.Lat()}
			c.length += Distance(prev, part[j])
			cum[j] = c.length
		}
		c.parts = append(c.parts, part)
		c.cum = append(c.cum, cum)
		c.boxes = append(c.boxes, part.Bound())
	}
	return c, nil
}

// MultiLineString returns a copy of the corridor's line, longitudes normalised
// to [-180, 180].
func (c Corridor) MultiLineString() orb.MultiLineString {
	out := make(orb.MultiLineString, len(c.parts))
	for i, part := range c.parts {
		out[i] = make(orb.LineString, len(part))
		for j, p := range part {
			out[i][j] = normalise(p)
		}
	}
	return out
}

// LengthMeters returns the corridor's length along its line.
func (c Corridor) LengthMeters() float64 { return c.length }

// WidthMeters returns how far each side of the line the corridor reaches,
// any buffer included.
func (c Corridor) WidthMeters() float64 { return c.widthMeters + c.bufferMeters }

// Buffered returns the corridor widened by meters on each side, so that a rule
// reading beyond a watch reads beyond a corridor as it does beyond a polygon.
// A negative or NaN distance counts as zero.
func (c Corridor) Buffered(meters float64) Corridor {
	if meters > 0 {
		c.bufferMeters += meters
	}
	return c
}

// Contains reports whether p is within the corridor's width of its line.
func (c Corridor) Contains(p orb.Point) bool {
	_, off := c.Project(p)
	return off <= c.WidthMeters()
}

// Project returns where p lies along the corridor: the position (metres from
// the start) of the nearest point of the line, and the distance from p to it.
// An empty corridor gives (0, +Inf).
//
// Each segment is measured in a local equirectangular projection centred on p,
// as Polygon.DistanceToBoundary measures edges, with the segment's longitudes
// taken relative to p's modulo 360, so that segments on either side of the
// antimeridian are as near as they are on the ground. The position along the
// segment is the projection's fraction of the segment's great-circle length.
func (c Corridor) Project(p orb.Point) (alongMeters, offsetMeters float64) {
	best, along := math.Inf(1), 0.0
	lat0 := p.Lat() * math.Pi / 180
	ky := EarthRadiusMeters * math.Pi / 180
	kx := ky * math.Cos(lat0)
	for i, part := range c.parts {
		// A part whose box, grown by the best distance so far, misses p cannot
		// be nearer: most parts of a long route are skipped so.
		if !math.IsInf(best, 1) && !nearBox(c.boxes[i], p, best) {
			continue
		}
		for j := 0; j+1 < len(part); j++ {
			a, b := part[j], part[j+1]
			ay, by := (a.Lat()-p.Lat())*ky, (b.Lat()-p.Lat())*ky
			if (ay > best && by > best) || (ay < -best && by < -best) {
				continue
			}
			ax := math.Remainder(a.Lon()-p.Lon(), 360) * kx
			bx := ax + (b.Lon()-a.Lon())*kx // the part is unwrapped: b follows a
			dx, dy := bx-ax, by-ay
			l2 := dx*dx + dy*dy
			t := 0.0
			if l2 > 0 {
				t = math.Max(0, math.Min(1, -(ax*dx+ay*dy)/l2))
			}
			if d := math.Hypot(ax+t*dx, ay+t*dy); d < best {
				best = d
				along = c.cum[i][j] + t*(c.cum[i][j+1]-c.cum[i][j])
			}
		}
	}
	return along, best
}

// nearBox reports whether p may be within meters of something in b, a box of
// unwrapped longitudes (they may run past ±180).
func nearBox(b orb.Bound, p orb.Point, meters float64) bool {
	dLat := meters / EarthRadiusMeters * 180 / math.Pi * (1 + 1e-9)
	minLat, maxLat := b.Min.Lat()-dLat, b.Max.Lat()+dLat
	if p.Lat() < minLat || p.Lat() > maxLat {
		return false
	}
	polar := math.Max(math.Abs(minLat), math.Abs(maxLat))
	if polar >= 90 {
		return true
	}
	dLon := dLat / math.Cos(polar*math.Pi/180)
	mid := (b.Min.Lon() + b.Max.Lon()) / 2
	lon := mid + math.Remainder(p.Lon()-mid, 360)
	return lon >= b.Min.Lon()-dLon && lon <= b.Max.Lon()+dLon
}

// PointAt returns the point of the line at alongMeters from its start, clamped
// to the line's ends, with its longitude normalised to [-180, 180]. Between a
// part's end and the next part's start (a gap in a MultiLineString) it is the
// next part's start.
func (c Corridor) PointAt(alongMeters float64) orb.Point {
	if len(c.parts) == 0 {
		return orb.Point{}
	}
	if alongMeters <= 0 {
		return normalise(c.parts[0][0])
	}
	for i, part := range c.parts {
		cum := c.cum[i]
		if alongMeters > cum[len(cum)-1] {
			continue
		}
		for j := 0; j+1 < len(part); j++ {
			if alongMeters > cum[j+1] {
				continue
			}
			switch {
			case alongMeters <= cum[j]:
				return normalise(part[j])
			case alongMeters == cum[j+1]:
				return normalise(part[j+1]) // exactly, not by a bearing's rounding
			}
			a, b := part[j], part[j+1]
			pt := orbgeo.PointAtBearingAndDistance(a, orbgeo.Bearing(a, b), alongMeters-cum[j])
			return normalise(pt)
		}
	}
	last := c.parts[len(c.parts)-1]
	return normalise(last[len(last)-1])
}

// Midpoint returns the point halfway along the corridor: where its watch is
// shown, and the longitude rules unwrap positions around.
func (c Corridor) Midpoint() orb.Point { return c.PointAt(c.length / 2) }

// Bounds returns lon/lat boxes that cover the corridor: one per part, grown by
// the width, split at the antimeridian where a part crosses it, with boxes that
// overlap merged.
func (c Corridor) Bounds() []orb.Bound {
	dLat := c.WidthMeters()/EarthRadiusMeters*180/math.Pi*(1+1e-9) + 1e-9
	var out []orb.Bound
	for _, b := range c.boxes {
		minLat, maxLat := math.Max(b.Min.Lat()-dLat, -90), math.Min(b.Max.Lat()+dLat, 90)
		polar := math.Max(math.Abs(minLat), math.Abs(maxLat))
		dLon := dLat / math.Cos(polar*math.Pi/180)
		minLon, maxLon := b.Min.Lon()-dLon, b.Max.Lon()+dLon
		if polar >= 90 || math.IsNaN(dLon) || maxLon-minLon >= 360 {
			out = appendMerged(out, orb.Bound{Min: orb.Point{-180, minLat}, Max: orb.Point{180, maxLat}})
			continue
		}
		// Shift the box so its west edge is in [-180, 180), then split what runs
		// past 180 onto the western side.
		shift := 360 * math.Floor((minLon+180)/360)
		minLon, maxLon = minLon-shift, maxLon-shift
		if maxLon > 180 {
			out = appendMerged(out, orb.Bound{Min: orb.Point{minLon, minLat}, Max: orb.Point{180, maxLat}})
			out = appendMerged(out, orb.Bound{Min: orb.Point{-180, minLat}, Max: orb.Point{maxLon - 360, maxLat}})
			continue
		}
		out = appendMerged(out, orb.Bound{Min: orb.Point{minLon, minLat}, Max: orb.Point{maxLon, maxLat}})
	}
	return out
}

// normalise returns p with its longitude in [-180, 180].
func normalise(p orb.Point) orb.Point {
	lon := p.Lon()
	if lon < -180 || lon > 180 {
		lon = math.Remainder(lon, 360)
	}
	return orb.Point{lon, p.Lat()}
}
