// Package rowcodec holds what store/sqlite and store/postgis share of turning
// geowatch's values into row columns and back: the JSON and GeoJSON the
// columns hold, an alert's map geometry, the rejects a batch's invalid
// records become, and small conversions (NULL for "", milliseconds). SQL and
// driver-specific encodings (times, geometry blobs) stay in each backend.
package rowcodec

import "time"

// NullString stores "" as NULL, which sqlite3 and psql users filter with IS
// NULL.
func NullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// CeilMilli rounds t up to the millisecond, the precision times are stored
// at, so that comparing stored times with it gives exactly [Since, Until).
func CeilMilli(t time.Time) time.Time {
	if r := t.Truncate(time.Millisecond); !r.Equal(t) {
		return r.Add(time.Millisecond)
	}
	return t
}
