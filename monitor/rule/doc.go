// Package rule holds geowatch's rules: Count (enough weighted activity near a
// watch) and Cluster (DBSCAN clusters of activity centred near a watch). Each is a
// monitor.Rule, a pure function of (now, watch, observations): the same inputs give
// the same findings in any order, on any clock.
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
