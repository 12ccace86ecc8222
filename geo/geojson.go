package geo

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/paulmach/orb"
)

// Sentinel errors LoadPolygon wraps.
var (
	ErrNoMatch      = errors.New("no feature matches the filter")
	ErrGeometryType = errors.New("geometry is not a Polygon or MultiPolygon")
	ErrBadRing      = errors.New("ring has fewer than four positions")
	ErrLineType     = errors.New("geometry is not a LineString or MultiLineString")
)

// LoadPolygon reads a watch area from GeoJSON (RFC 7946): a Polygon or
// MultiPolygon geometry, a Feature holding one, or a FeatureCollection, of which
// it takes the first feature whose properties match every key=value of filter
// (string properties compare as text, others as their JSON, so cartodb_id=12
// matches the number 12). An empty filter matches any feature; a bare geometry
// has no properties and matches only an empty filter.
//
// It decodes the geometry itself with encoding/json rather than with
// orb/geojson, whose module pulls in a BSON dependency geowatch does not need.
// Coordinates must be valid lon/lat; altitudes are ignored.
func LoadPolygon(data []byte, filter map[string]string) (Polygon, error) {
	return load(data, filter, decodeGeometry)
}

// LoadLine reads a corridor's line from GeoJSON as LoadPolygon reads a polygon:
// a LineString or MultiLineString geometry, a Feature holding one, or the first
// feature of a FeatureCollection whose properties match filter.
func LoadLine(data []byte, filter map[string]string) (orb.MultiLineString, error) {
	return load(data, filter, decodeLine)
}

// load selects the geometry LoadPolygon and LoadLine read and decodes it.
func load[T any](data []byte, filter map[string]string, decode func(json.RawMessage) (T, error)) (T, error) {
	var zero T
	var top gjObject
	if err := json.Unmarshal(data, &top); err != nil {
		return zero, fmt.Errorf("geojson: %w", err)
	}
	switch top.Type {
	case "FeatureCollection":
		for i, f := range top.Features {
			ok, err := matches(f.Properties, filter)
			if err != nil {
				return zero, fmt.Errorf("geojson: features[%d].properties: %w", i, err)
			}
			if ok {
				g, err := decode(f.Geometry)
				if err != nil {
					return zero, fmt.Errorf("geojson: features[%d].geometry: %w", i, err)
				}
				return g, nil
			}
		}
		return zero, fmt.Errorf("geojson: %d features: %w %s", len(top.Features), ErrNoMatch, describe(filter))
	case "Feature":
		ok, err := matches(top.Properties, filter)
		if err != nil {
			return zero, fmt.Errorf("geojson: properties: %w", err)
		}
		if !ok {
			return zero, fmt.Errorf("geojson: feature: %w %s", ErrNoMatch, describe(filter))
		}
		g, err := decode(top.Geometry)
		if err != nil {
			return zero, fmt.Errorf("geojson: geometry: %w", err)
		}
		return g, nil
	}
	if len(filter) > 0 {
		return zero, fmt.Errorf("geojson: bare %s geometry: %w %s", top.Type, ErrNoMatch, describe(filter))
	}
	g, err := decode(data)
	if err != nil {
		return zero, fmt.Errorf("geojson: %w", err)
	}
	return g, nil
}

// decodeLine reads a LineString or MultiLineString geometry object.
func decodeLine(raw json.RawMessage) (orb.MultiLineString, error) {
	if len(raw) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return nil, fmt.Errorf("%w: no geometry", ErrLineType)
	}
	var g gjObject
	if err := json.Unmarshal(raw, &g); err != nil {
		return nil, err
	}
	var lines [][][]float64
	switch g.Type {
	case "LineString":
		var c [][]float64
		if err := json.Unmarshal(g.Coordinates, &c); err != nil {
			return nil, fmt.Errorf("coordinates: %w", err)
		}
		lines = [][][]float64{c}
	case "MultiLineString":
		if err := json.Unmarshal(g.Coordinates, &lines); err != nil {
			return nil, fmt.Errorf("coordinates: %w", err)
		}
	default:
		return nil, fmt.Errorf("%w: %q", ErrLineType, g.Type)
	}
	if len(lines) == 0 {
		return nil, fmt.Errorf("coordinates: %w", ErrShortLine)
	}
	ml := make(orb.MultiLineString, len(lines))
	for i, lc := range lines {
		if len(lc) < 2 {
			return nil, fmt.Errorf("coordinates[%d]: %w", i, ErrShortLine)
		}
		for j, pos := range lc {
			if len(pos) < 2 {
				return nil, fmt.Errorf("coordinates[%d][%d]: position has %d numbers, want 2 or 3", i, j, len(pos))
			}
			p := orb.Point{pos[0], pos[1]}
			if err := CheckPoint(p); err != nil {
				return nil, fmt.Errorf("coordinates[%d][%d]: %w", i, j, err)
			}
			ml[i] = append(ml[i], p)
		}
	}
	return ml, nil
}

// gjObject holds the members of any GeoJSON object that LoadPolygon reads.
type gjObject struct {
	Type        string          `json:"type"`
	Features    []gjFeature     `json:"features"`
	Properties  json.RawMessage `json:"properties"`
	Geometry    json.RawMessage `json:"geometry"`
	Coordinates json.RawMessage `json:"coordinates"`
}

type gjFeature struct {
	Properties json.RawMessage `json:"properties"`
	Geometry   json.RawMessage `json:"geometry"`
}

// matches reports whether the JSON object props has every key=value of filter.
func matches(props json.RawMessage, filter map[string]string) (bool, error) {
	if len(filter) == 0 {
		return true, nil
	}
	var m map[string]json.RawMessage
	if len(props) > 0 {
		if err := json.Unmarshal(props, &m); err != nil {
			return false, err
		}
	}
	for k, want := range filter {
		raw, ok := m[k]
		if !ok {
			return false, nil
		}
		var s string
		if json.Unmarshal(raw, &s) == nil {
			if s != want {
				return false, nil
			}
			continue
		}
		if string(bytes.TrimSpace(raw)) != want {
			return false, nil
		}
	}
	return true, nil
}

// describe renders a filter in a stable order for error messages.
func describe(filter map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(filter)) {
		parts = append(parts, k+"="+filter[k])
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// decodeGeometry reads a Polygon or MultiPolygon geometry object.
func decodeGeometry(raw json.RawMessage) (Polygon, error) {
	if len(raw) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return Polygon{}, fmt.Errorf("%w: no geometry", ErrGeometryType)
	}
	var g gjObject
	if err := json.Unmarshal(raw, &g); err != nil {
		return Polygon{}, err
	}
	var mp orb.MultiPolygon
	switch g.Type {
	case "Polygon":
		var c [][][]float64
		if err := json.Unmarshal(g.Coordinates, &c); err != nil {
			return Polygon{}, fmt.Errorf("coordinates: %w", err)
		}
		p, err := polygonOf(c)
		if err != nil {
			return Polygon{}, fmt.Errorf("coordinates%w", err)
		}
		mp = orb.MultiPolygon{p}
	case "MultiPolygon":
		var c [][][][]float64
		if err := json.Unmarshal(g.Coordinates, &c); err != nil {
			return Polygon{}, fmt.Errorf("coordinates: %w", err)
		}
		for i, pc := range c {
			p, err := polygonOf(pc)
			if err != nil {
				return Polygon{}, fmt.Errorf("coordinates[%d]%w", i, err)
			}
			mp = append(mp, p)
		}
	default:
		return Polygon{}, fmt.Errorf("%w: %q", ErrGeometryType, g.Type)
	}
	if len(mp) == 0 {
		return Polygon{}, fmt.Errorf("coordinates: %w: no polygons", ErrBadRing)
	}
	return NewPolygon(mp), nil
}

// polygonOf converts one polygon's rings, checking every position. Its errors
// start with the index path below the polygon, such as "[0][12]: …".
func polygonOf(rings [][][]float64) (orb.Polygon, error) {
	if len(rings) == 0 {
		return nil, fmt.Errorf(": %w: no rings", ErrBadRing)
	}
	p := make(orb.Polygon, len(rings))
	for i, rc := range rings {
		if len(rc) < 4 {
			return nil, fmt.Errorf("[%d]: %w", i, ErrBadRing)
		}
		r := make(orb.Ring, len(rc))
		for j, pos := range rc {
			if len(pos) < 2 {
				return nil, fmt.Errorf("[%d][%d]: position has %d numbers, want 2 or 3", i, j, len(pos))
			}
			r[j] = orb.Point{pos[0], pos[1]}
			if err := CheckPoint(r[j]); err != nil {
				return nil, fmt.Errorf("[%d][%d]: %w", i, j, err)
			}
		}
		p[i] = r
	}
	return p, nil
}
