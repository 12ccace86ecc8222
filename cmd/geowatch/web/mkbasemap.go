//go:build ignore

// mkbasemap writes the live map's basemap (basemap.geojson) from Natural
// Earth's 1:50m admin-0 countries: each country's name and ISO code, and its
// outline simplified (Douglas–Peucker) finely around the reference scenario's
// region (the Russian Far East, the Korean peninsula, north-east China and
// Japan) and coarsely elsewhere, coordinates rounded to match.
//
//	go run cmd/geowatch/web/mkbasemap.go ../shared/data/naturalearth/ne_50m_admin_0_countries.geojson >cmd/geowatch/web/basemap.geojson
package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
	"github.com/paulmach/orb/simplify"
)

// region is where the outlines keep their detail.
var region = orb.Bound{Min: orb.Point{115, 33}, Max: orb.Point{150, 55}}

const (
	fineTolerance   = 0.01 // degrees, about 1 km
	coarseTolerance = 0.25
	fineDigits      = 3
	coarseDigits    = 2
	minCoarseArea   = 0.5 // square degrees: smaller islands far from the region are dropped
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go run mkbasemap.go ne_50m_admin_0_countries.geojson")
		os.Exit(2)
	}
	data, err := os.ReadFile(os.Args[1])
	if err != nil {
		fail(err)
	}
	var in struct {
		Features []struct {
			Properties map[string]any `json:"properties"`
			Geometry   struct {
				Type        string          `json:"type"`
				Coordinates json.RawMessage `json:"coordinates"`
			} `json:"geometry"`
		} `json:"features"`
	}
	if err := json.Unmarshal(data, &in); err != nil {
		fail(err)
	}
	type geometry struct {
		Type        string `json:"type"`
		Coordinates any    `json:"coordinates"`
	}
	type feature struct {
		Type       string            `json:"type"`
		Properties map[string]string `json:"properties"`
		Geometry   geometry          `json:"geometry"`
	}
	out := struct {
		Type     string    `json:"type"`
		Features []feature `json:"features"`
	}{Type: "FeatureCollection"}
	for _, f := range in.Features {
		var mp orb.MultiPolygon
		switch f.Geometry.Type {
		case "Polygon":
			var p orb.Polygon
			if err := json.Unmarshal(f.Geometry.Coordinates, &p); err != nil {
				fail(err)
			}
			mp = orb.MultiPolygon{p}
		case "MultiPolygon":
			if err := json.Unmarshal(f.Geometry.Coordinates, &mp); err != nil {
				fail(err)
			}
		default:
			continue
		}
		var keep orb.MultiPolygon
		for _, p := range mp {
			if q := simplifyPolygon(p); q != nil {
				keep = append(keep, q)
			}
		}
		if len(keep) == 0 {
			continue
		}
		g := geometry{Type: "MultiPolygon", Coordinates: keep}
		if len(keep) == 1 {
			g = geometry{Type: "Polygon", Coordinates: keep[0]}
		}
		name, _ := f.Properties["name"].(string)
		iso, _ := f.Properties["adm0_a3"].(string)
		out.Features = append(out.Features, feature{Type: "Feature", Geometry: g,
			Properties: map[string]string{"name": name, "iso_a3": iso}})
	}
	b, err := json.Marshal(out)
	if err != nil {
		fail(err)
	}
	os.Stdout.Write(append(b, '\n'))
}

// simplifyPolygon simplifies p's rings at the tolerance of where they are; nil
// when its exterior is too small or too simple to keep.
func simplifyPolygon(p orb.Polygon) orb.Polygon {
	fine := p.Bound().Intersects(region)
	tol, digits := coarseTolerance, coarseDigits
	if fine {
		tol, digits = fineTolerance, fineDigits
	} else if math.Abs(planar.Area(p[0])) < minCoarseArea {
		return nil
	}
	var out orb.Polygon
	for i, r := range p {
		s := simplify.DouglasPeucker(tol).Simplify(r.Clone()).(orb.Ring)
		s = round(s, digits)
		if len(s) < 4 {
			if i == 0 {
				return nil
			}
			continue
		}
		out = append(out, s)
	}
	return out
}

func round(r orb.Ring, digits int) orb.Ring {
	m := math.Pow(10, float64(digits))
	out := r[:0]
	for _, pt := range r {
		q := orb.Point{math.Round(pt[0]*m) / m, math.Round(pt[1]*m) / m}
		if n := len(out); n > 0 && out[n-1] == q {
			continue
		}
		out = append(out, q)
	}
	return out
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "mkbasemap:", err)
	os.Exit(1)
}
