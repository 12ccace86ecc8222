package rule

import (
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/geowatch/geowatch/geo"
	"github.com/geowatch/geowatch/monitor"
	"github.com/paulmach/orb"
)

// checkCommon validates the parameters every rule shares.
func checkCommon(window time.Duration, kinds []string) error {
	if window <= 0 {
		return &ParamError{"window", window, ErrNotPositive}
	}
	for i, k := range kinds {
		if k == "" {
			return &ParamError{Param: "kinds[" + strconv.Itoa(i) + "]", Value: `""`, Err: ErrEmpty}
		}
	}
	return nil
}

// positive reports whether v is a finite number above zero: NaN compares false with
// everything, so "v <= 0" alone would let it through.
func positive(v float64) bool { return v > 0 && !math.IsInf(v, 1) }

// finding summarises a group of observations, which must be non-empty and sorted by
// compareObs.
func finding(obs []*monitor.Observation) monitor.Finding {
	f := monitor.Finding{
		Count:     len(obs),
		FirstSeen: obs[0].Time,
		LastSeen:  obs[len(obs)-1].Time,
		FIDs:      make([]int64, len(obs)),
	}
	for i, o := range obs {
		f.Weight += o.Weight
		f.FIDs[i] = o.FID
	}
	slices.Sort(f.FIDs)
	f.Center = centroid(obs, f.Weight)
	// Hull longitudes are unwrapped around the centre, so a group that straddles the
	// antimeridian gets a small hull with some longitudes beyond ±180 instead of one
	// that spans the globe.
	pts := make([]orb.Point, len(obs))
	for i, o := range obs {
		pts[i] = orb.Point{unwrap(o.Point.Lon(), f.Center.Lon()), o.Point.Lat()}
	}
	f.Hull = geo.ConvexHull(pts)
	return f
}

// centroid is the weighted mean of the observations' positions as unit vectors,
// projected back onto the sphere: unlike a mean of degrees it is right across the
// antimeridian and near the poles. When the weights sum to zero every observation
// counts once.
func centroid(obs []*monitor.Observation, total float64) orb.Point {
	var x, y, z float64
	for _, o := range obs {
		w := o.Weight
		if total <= 0 {
			w = 1
		}
		lat, lon := o.Point.Lat()*math.Pi/180, o.Point.Lon()*math.Pi/180
		x += w * math.Cos(lat) * math.Cos(lon)
		y += w * math.Cos(lat) * math.Sin(lon)
		z += w * math.Sin(lat)
	}
	if math.Hypot(x, y) < 1e-12 && math.Abs(z) < 1e-12 {
		// The positions cancel out (antipodal points): no meaningful mean.
		return obs[0].Point
	}
	return orb.Point{math.Atan2(y, x) * 180 / math.Pi, math.Atan2(z, math.Hypot(x, y)) * 180 / math.Pi}
}

// unwrap returns lon shifted by a multiple of 360 to lie within ±180 of ref.
func unwrap(lon, ref float64) float64 {
	return ref + math.Remainder(lon-ref, 360)
}
