package rowcodec

import (
	"encoding/json"
	"fmt"

	"github.com/geowatch/geowatch/monitor"
	"github.com/paulmach/orb"
)

// The geometry column keeps an observation's original non-point geometry as
// GeoJSON text, which sqlite3 users can read and SpatiaLite or GDAL can parse.
// orb's geojson package would pull in a BSON dependency for two small functions,
// hence this codec.

// geoJSONGeometry is a GeoJSON geometry object.
type geoJSONGeometry struct {
	Type        string            `json:"type"`
	Coordinates json.RawMessage   `json:"coordinates,omitempty"`
	Geometries  []geoJSONGeometry `json:"geometries,omitempty"`
}

// MarshalGeoJSON encodes g; orb's coordinate types are already nested arrays.
func MarshalGeoJSON(g orb.Geometry) ([]byte, error) {
	gj, err := toGeoJSON(g)
	if err != nil {
		return nil, err
	}
	return json.Marshal(gj)
}

// ObservationGeometry is the geometry column of o's row: NULL (nil) when o
// has no geometry or only its point, else o.Geometry as GeoJSON text. A
// geometry that cannot be encoded is a *monitor.FieldError of field geometry.
func ObservationGeometry(o *monitor.Observation) (any, error) {
	if o.Geometry == nil {
		return nil, nil
	}
	if _, isPoint := o.Geometry.(orb.Point); isPoint {
		return nil, nil
	}
	g, err := MarshalGeoJSON(o.Geometry)
	if err != nil {
		return nil, &monitor.FieldError{Field: "geometry", Err: err}
	}
	return string(g), nil
}

// CheckGeometry fails as ObservationGeometry would on a geometry that cannot
// be stored, so that a batch can reject the record before it writes.
func CheckGeometry(o *monitor.Observation) error {
	_, err := ObservationGeometry(o)
	return err
}

func toGeoJSON(g orb.Geometry) (geoJSONGeometry, error) {
	switch v := g.(type) {
	case orb.Ring:
		g = orb.Polygon{v}
	case orb.Bound:
		g = v.ToPolygon()
	case orb.Collection:
		gj := geoJSONGeometry{Type: "GeometryCollection", Geometries: []geoJSONGeometry{}}
		for _, m := range v {
			mj, err := toGeoJSON(m)
			if err != nil {
				return gj, err
			}
			gj.Geometries = append(gj.Geometries, mj)
		}
		return gj, nil
	}
	c, err := json.Marshal(g)
	return geoJSONGeometry{Type: g.GeoJSONType(), Coordinates: c}, err
}

// UnmarshalGeoJSON decodes what MarshalGeoJSON wrote.
func UnmarshalGeoJSON(data []byte) (orb.Geometry, error) {
	var gj geoJSONGeometry
	if err := json.Unmarshal(data, &gj); err != nil {
		return nil, err
	}
	return fromGeoJSON(gj)
}

func fromGeoJSON(gj geoJSONGeometry) (orb.Geometry, error) {
	var g orb.Geometry
	switch gj.Type {
	case "Point":
		g = &orb.Point{}
	case "MultiPoint":
		g = &orb.MultiPoint{}
	case "LineString":
		g = &orb.LineString{}
	case "MultiLineString":
		g = &orb.MultiLineString{}
	case "Polygon":
		g = &orb.Polygon{}
	case "MultiPolygon":
		g = &orb.MultiPolygon{}
	case "GeometryCollection":
		c := orb.Collection{}
		for _, m := range gj.Geometries {
			mg, err := fromGeoJSON(m)
			if err != nil {
				return nil, err
			}
			c = append(c, mg)
		}
		return c, nil
	default:
		return nil, fmt.Errorf("unknown GeoJSON geometry type %q", gj.Type)
	}
	if err := json.Unmarshal(gj.Coordinates, g); err != nil {
		return nil, fmt.Errorf("%s coordinates: %w", gj.Type, err)
	}
	// Dereference: callers get orb values, as from every other decoder.
	switch v := g.(type) {
	case *orb.Point:
		return *v, nil
	case *orb.MultiPoint:
		return *v, nil
	case *orb.LineString:
		return *v, nil
	case *orb.MultiLineString:
		return *v, nil
	case *orb.Polygon:
		return *v, nil
	}
	return *g.(*orb.MultiPolygon), nil
}
