package sqlite

import (
	"fmt"
	"math"

	sqlite3 "github.com/mattn/go-sqlite3"
)

// exampleDistanceSQL is the README's distance example for the stock sqlite3 shell
// (Debian's 3.40 has the math functions): the observations within 50 km of
// Vladivostok observed on 2026-11-26, in time order, with their distance. Edit the
// first line for another place, radius (metres) or window.
//
// The R*Tree narrows to the circle's bounding box (the box's half-width in
// longitude is asin(sin(d) / cos(lat)), the circle's widest point); the
// haversine on the sphere of radius 6378137 m is the one geowatch's rules use
// (orb's DistanceHaversine), so it selects exactly the rows Observations does.
// It does not handle circles that reach a pole or cross the antimeridian.
const exampleDistanceSQL = `WITH q(lat, lon, radius_m, since, until) AS (
  VALUES (43.1155, 131.8855, 50000.0, '2026-11-26T00:00:00.000Z', '2026-11-27T00:00:00.000Z')),
box AS (
  SELECT q.*, degrees(radius_m / 6378137.0) + 1e-6 AS dlat,
         degrees(asin(min(1.0, sin(radius_m / 6378137.0) / cos(radians(lat))))) + 1e-6 AS dlon
  FROM q),
half_sines AS (
  SELECT o.fid, o.source, o.ext_id, o.observed_at, o.kind, o.lat, o.lon, box.radius_m,
         sin(radians(o.lat - box.lat) / 2) AS s_lat, sin(radians(o.lon - box.lon) / 2) AS s_lon,
         cos(radians(o.lat)) * cos(radians(box.lat)) AS cos_lats
  FROM box
  JOIN rtree_observations_geom AS r
    ON r.minx <= box.lon + box.dlon AND r.maxx >= box.lon - box.dlon
   AND r.miny <= box.lat + box.dlat AND r.maxy >= box.lat - box.dlat
  JOIN observations AS o ON o.fid = r.id
  WHERE o.observed_at >= box.since AND o.observed_at < box.until),
near AS (
  SELECT *, 2 * 6378137.0 * atan2(sqrt(s_lat * s_lat + cos_lats * s_lon * s_lon),
                                  sqrt(1 - (s_lat * s_lat + cos_lats * s_lon * s_lon))) AS distance_m
  FROM half_sines)
SELECT fid, source, ext_id, observed_at, kind, lat, lon, round(distance_m) AS distance_m
FROM near WHERE distance_m <= radius_m
ORDER BY observed_at, fid;`

// registerMathFunctions gives geowatch's connections the SQL math functions the
// stock sqlite3 shell has (SQLITE_ENABLE_MATH_FUNCTIONS), which go-sqlite3 leaves
// out unless built with the sqlite_math_functions tag, so the README's distance
// SQL runs the same in both and the tests can check it.
func registerMathFunctions(c *sqlite3.SQLiteConn) error {
	fns := []struct {
		name string
		impl any
	}{
		{"sin", math.Sin}, {"cos", math.Cos}, {"asin", math.Asin}, {"sqrt", math.Sqrt},
		{"atan2", math.Atan2},
		{"radians", func(d float64) float64 { return d * (math.Pi / 180) }},
		{"degrees", func(r float64) float64 { return r * (180 / math.Pi) }},
	}
	for _, f := range fns {
		if err := c.RegisterFunc(f.name, f.impl, true); err != nil {
			return fmt.Errorf("register %s: %w", f.name, err)
		}
	}
	return nil
}
