// Package rule holds geowatch's rules: Count (enough weighted activity near a
// watch), Cluster (DBSCAN, or with a time eps ST-DBSCAN, clusters of activity
// centred near a watch), Surge (a Poisson test of the current window against the
// place's own baseline rate) and Scan (the prospective space-time permutation
// scan statistic, with a Monte Carlo p and a recurrence interval). Each is a
// monitor.Rule, a pure function of (now, watch, observations): the same inputs give
// the same findings in any order, on any clock; Scan's permutations are seeded.
//
// Rules reach the watch's area only through shapeOf, area and inWatch in
// common.go, so that a watch shaped by a polygon (geo.Polygon) needs a change in
// one place.
//
// A finding's Center is the weighted mean position of its observations (as unit
// vectors, so it is right across the antimeridian and near the poles); its Hull is
// their convex hull in lon/lat with longitudes unwrapped around the centre, so a
// hull across the antimeridian has some longitudes beyond ±180 instead of spanning
// the globe.
//
// It imports monitor, geo and orb only.
package rule

import (
	"errors"
	"fmt"
)

// Sentinel errors that a *ParamError wraps.
var (
	ErrNotPositive = errors.New("must be positive")
	ErrTooSmall    = errors.New("too small")
	ErrEmpty       = errors.New("empty")
	ErrNegative    = errors.New("must not be negative")
	ErrTooLarge    = errors.New("too large")
	ErrOutOfRange  = errors.New("out of range")
)

// ParamError is a rule parameter that cannot work. Param is the parameter's
// configuration name ("min", "window", "eps", "min_points", "kinds[1]") so that the
// config can prefix it with the rule's path.
type ParamError struct {
	Param string
	Value any
	Err   error
}

func (e *ParamError) Error() string {
	return fmt.Sprintf("%s: %v (got %v)", e.Param, e.Err, e.Value)
}

func (e *ParamError) Unwrap() error { return e.Err }
