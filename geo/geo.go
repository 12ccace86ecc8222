// Package geo holds places and geometry on orb values: validated points, geodesic
// distance, parsed distances, circles (a point with a radius) and their bounding boxes,
// and convex hulls.
//
// It imports only orb and the standard library; nothing of geowatch's.
package geo

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"

	"github.com/paulmach/orb"
	orbgeo "github.com/paulmach/orb/geo"
)

// EarthRadiusMeters is the mean radius orb's haversine distance uses.
const EarthRadiusMeters = orb.EarthRadius

// Sentinel errors for coordinates that cannot be a place on Earth.
var (
	ErrNotFinite      = errors.New("coordinate is not a finite number")
	ErrLatitudeRange  = errors.New("latitude outside [-90, 90]")
	ErrLongitudeRange = errors.New("longitude outside [-180, 180]")
)

// CheckLatitude reports whether lat is a finite latitude in [-90, 90].
func CheckLatitude(lat float64) error {
	switch {
	case math.IsNaN(lat) || math.IsInf(lat, 0):
		return ErrNotFinite
	case lat < -90 || lat > 90:
		return ErrLatitudeRange
	}
	return nil
}

// CheckLongitude reports whether lon is a finite longitude in [-180, 180].
func CheckLongitude(lon float64) error {
	switch {
	case math.IsNaN(lon) || math.IsInf(lon, 0):
		return ErrNotFinite
	case lon < -180 || lon > 180:
		return ErrLongitudeRange
	}
	return nil
}

// CheckPoint validates an orb point given as (lon, lat).
func CheckPoint(p orb.Point) error {
	if err := CheckLatitude(p.Lat()); err != nil {
		return err
	}
	return CheckLongitude(p.Lon())
}

// Distance returns the great-circle (haversine) distance in metres between a and b.
// Haversine is within 0.5 % of the ellipsoidal distance, far inside the precision of
// the reports geowatch watches, and stable near antipodes.
func Distance(a, b orb.Point) float64 {
	return orbgeo.DistanceHaversine(a, b)
}

// ErrNoUnit means a distance was a bare number: metres or kilometres?
var ErrNoUnit = errors.New("no unit")

// ParseDistance parses a distance such as "50km", "500m", "1.5 km" or "12mi" into
// metres. The result must be positive and finite.
//
// A number without a unit is an error wrapping ErrNoUnit that suggests one.
func ParseDistance(s string) (float64, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return unicode.IsLetter(r) })
	if i < 0 {
		if _, err := strconv.ParseFloat(t, 64); err == nil {
			// A bare number was once metres, silently: "--radius 50" meant 50 m.
			return 0, fmt.Errorf("distance %q: %w: write %skm or %sm", s, ErrNoUnit, t, t)
		}
		return 0, fmt.Errorf("distance %q: want a number with a unit such as 50km or 500m", s)
	}
	num, unit := strings.TrimSpace(t[:i]), strings.ToLower(strings.TrimSpace(t[i:]))
	v, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("distance %q: want a number with a unit such as 50km or 500m", s)
	}
	var scale float64
	switch unit {
	case "m":
		scale = 1
	case "km":
		scale = 1000
	case "mi":
		scale = 1609.344
	case "nmi":
		scale = 1852
	default:
		return 0, fmt.Errorf("distance %q: unknown unit %q (use m, km, mi or nmi)", s, unit)
	}
	m := v * scale
	if math.IsNaN(m) || math.IsInf(m, 0) || m <= 0 {
		return 0, fmt.Errorf("distance %q: must be positive", s)
	}
	return m, nil
}

// FormatDistance renders metres the way ParseDistance reads them: "50km", "500m".
func FormatDistance(m float64) string {
	if m >= 1000 && math.Mod(m, 1000) == 0 {
		return strconv.FormatFloat(m/1000, 'f', -1, 64) + "km"
	}
	if m >= 1000 {
		return strconv.FormatFloat(m/1000, 'f', 1, 64) + "km"
	}
	return strconv.FormatFloat(m, 'f', -1, 64) + "m"
}
