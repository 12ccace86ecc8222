package rule

import (
	"cmp"
	"math"
	"slices"
	"time"

	"github.com/geowatch/geowatch/geo"
	"github.com/geowatch/geowatch/monitor"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/quadtree"
)

// DefaultMinPoints is the MinPoints a config should use when it gives none:
// scikit-learn's default min_samples, with which its DBSCAN figures are measured.
const DefaultMinPoints = 5

// ClusterParams configures a Cluster rule. Configuration names are in brackets.
type ClusterParams struct {
	// EpsMeters is DBSCAN's neighbourhood radius [eps], in metres of geodesic
	// (haversine) distance: two observations at most this far apart are neighbours.
	// Required, no default; must be positive.
	EpsMeters float64
	// MinPoints is how many observations, itself included, a neighbourhood needs for
	// its centre to be a core point [min_points]; it is also the least a cluster must
	// hold to be reported. Observations count once each, whatever their weight.
	// Must be at least 2; configs default it to DefaultMinPoints.
	MinPoints int
	// Window is how far back from now observations are read [window]: those with a
	// time in [now-Window, now). Required, no default; must be positive.
	Window time.Duration
	// Kinds restricts the rule to observations of these kinds [kinds], matched
	// exactly. Default (empty): every kind.
	Kinds []string
	// TimeEps makes the rule ST-DBSCAN [time_eps]: two observations are
	// neighbours only when they are also at most TimeEps apart in time (Birant
	// and Kut 2007, "ST-DBSCAN: An algorithm for clustering spatial–temporal
	// data", Data & Knowledge Engineering 60(1):208–221, their Eps2 for time).
	// Default zero: purely spatial DBSCAN. Must not be negative.
	TimeEps time.Duration
}

// Cluster runs DBSCAN over the observations near a watch and reports each cluster
// whose centroid lies within the watch's radius. It reads EpsMeters beyond the radius
// so that a cluster straddling the edge is seen whole.
type Cluster struct {
	p ClusterParams
}

var _ monitor.Rule = (*Cluster)(nil)

// NewCluster validates p and returns the rule. A bad parameter is reported as a
// *ParamError naming it.
func NewCluster(p ClusterParams) (*Cluster, error) {
	if !positive(p.EpsMeters) {
		return nil, &ParamError{"eps", p.EpsMeters, ErrNotPositive}
	}
	if p.MinPoints < 2 {
		// With 1 every lone observation is a cluster: that is a Count rule.
		return nil, &ParamError{"min_points", p.MinPoints, ErrTooSmall}
	}
	if p.TimeEps < 0 {
		return nil, &ParamError{"time_eps", p.TimeEps, ErrNegative}
	}
	if err := checkCommon(p.Window, p.Kinds); err != nil {
		return nil, err
	}
	p.Kinds = slices.Clone(p.Kinds)
	return &Cluster{p: p}, nil
}

// Params returns the rule's parameters, so that a reload can tell whether a rule
// changed.
func (c *Cluster) Params() ClusterParams {
	p := c.p
	p.Kinds = slices.Clone(p.Kinds)
	return p
}

// Window returns the rule's window.
func (c *Cluster) Window() time.Duration { return c.p.Window }

// ReachMeters returns EpsMeters: the rule reads that far beyond the watch's radius.
func (c *Cluster) ReachMeters() float64 { return c.p.EpsMeters }

// Kinds returns the kinds the rule reads; empty means all.
func (c *Cluster) Kinds() []string { return slices.Clone(c.p.Kinds) }

// Evaluate clusters the observations of the window within the watch's shape grown
// by EpsMeters and returns one finding per cluster of at least MinPoints
// observations whose centroid is within the shape, largest first. The engine
// sorts the input by (Time, FID, ID): DBSCAN gives a border point to the first
// cluster that reaches it, so the order must not depend on how the store returned
// the rows.
func (c *Cluster) Evaluate(input monitor.Input) []monitor.Finding {
	in := input.Obs
	if len(in) < c.p.MinPoints {
		return nil
	}
	pts := make([]orb.Point, len(in))
	for i, o := range in {
		pts[i] = o.Point
	}
	ref := input.Watch.Center.Lon()
	var labels []int
	var n int
	if c.p.TimeEps > 0 {
		times := make([]int64, len(in))
		for i, o := range in {
			times[i] = o.Time.UnixNano()
		}
		labels, n = stdbscan(pts, times, ref, c.p.EpsMeters, int64(c.p.TimeEps), c.p.MinPoints)
	} else {
		labels, n = dbscan(pts, ref, c.p.EpsMeters, c.p.MinPoints)
	}
	groups := make([][]*monitor.Observation, n)
	for i, l := range labels {
		if l > 0 {
			groups[l-1] = append(groups[l-1], in[i]) // sorted, as in is
		}
	}
	var out []monitor.Finding
	for _, g := range groups {
		if len(g) < c.p.MinPoints {
			// Its core point's neighbours were mostly borders claimed earlier.
			continue
		}
		f := finding(g)
		if input.Watch.Contains(f.Center) {
			out = append(out, f)
		}
	}
	// Stable, so equal clusters stay in the order DBSCAN found them.
	slices.SortStableFunc(out, func(a, b monitor.Finding) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(b.Weight, a.Weight))
	})
	return out
}

// noise labels a location that is in no cluster; clusters are numbered from 1.
const noise = -1

// dbscan clusters pts by haversine distance and returns each point's cluster
// (1…n, or 0 for noise) and the number of clusters n. Points are processed in the
// order given. They are indexed with longitudes unwrapped to within 180° of ref,
// the watch's longitude, so that neighbours across the antimeridian are neighbours
// in the index too.
//
// It works on distinct locations, each with its multiplicity: co-located points have
// the same neighbourhood and so the same fate, and sources that only know a city
// report many observations at one point, which would otherwise make neighbour
// search quadratic.
func dbscan(pts []orb.Point, ref, eps float64, minPts int) (labels []int, n int) {
	ix := newIndex(pts, ref, eps)
	lab, n := expand(ix, minPts)
	labels = make([]int, len(pts))
	for i, k := range ix.locOf {
		labels[i] = lab[k]
	}
	return labels, n
}

// neighbourhoods is what DBSCAN's expansion needs of its items: locations with a
// multiplicity for the spatial version, single observations for ST-DBSCAN.
type neighbourhoods interface {
	size() int
	// neighbours appends to dst the items within eps of item k, k included.
	neighbours(dst []int, k int) []int
	// weight is how many observations the items hold.
	weight(items []int) int
}

// expand is DBSCAN's cluster expansion (Ester, Kriegel, Sander and Xu 1996) over
// g's items in index order. It returns each item's cluster (1…n, or 0 for noise)
// and the number of clusters n.
func expand(g neighbourhoods, minPts int) (lab []int, n int) {
	lab = make([]int, g.size()) // 0: not yet visited
	var nb, frontier []int
	for k := range lab {
		if lab[k] != 0 {
			continue
		}
		nb = g.neighbours(nb[:0], k)
		if g.weight(nb) < minPts {
			lab[k] = noise // unless a cluster reaches it later as a border
			continue
		}
		n++
		lab[k] = n
		frontier = append(frontier[:0], nb...)
		for len(frontier) > 0 {
			j := frontier[len(frontier)-1]
			frontier = frontier[:len(frontier)-1]
			if lab[j] == noise {
				lab[j] = n // a border point: it was found to be no core itself
				continue
			}
			if lab[j] != 0 {
				continue
			}
			lab[j] = n
			nb = g.neighbours(nb[:0], j)
			if g.weight(nb) >= minPts {
				for _, m := range nb {
					if lab[m] <= 0 {
						frontier = append(frontier, m)
					}
				}
			}
		}
	}
	for k, l := range lab {
		lab[k] = max(l, 0)
	}
	return lab, n
}

// stdbscan is ST-DBSCAN's neighbourhood on DBSCAN's expansion: points are
// neighbours when within eps metres and timeEps nanoseconds of each other. times
// must be ascending, and points are processed in that order, so a border point
// goes to the earliest cluster that reaches it. Results are as dbscan's.
//
// The spatial index is dbscan's (distinct locations in a quadtree); each location
// keeps its points in time order, so the time condition is two binary searches per
// neighbouring location rather than a test per point.
func stdbscan(pts []orb.Point, times []int64, ref, eps float64, timeEps int64, minPts int) (labels []int, n int) {
	ix := newIndex(pts, ref, eps)
	st := &stIndex{ix: ix, times: times, timeEps: timeEps, at: make([][]int, len(ix.locs))}
	for i, k := range ix.locOf {
		st.at[k] = append(st.at[k], i) // ascending in time, as the points are
	}
	return expand(st, minPts)
}

// stIndex finds an observation's space-time neighbours.
type stIndex struct {
	ix      *index
	times   []int64 // per point, ascending
	timeEps int64
	at      [][]int // location -> its points, in time order
	locs    []int
}

func (st *stIndex) size() int { return len(st.times) }

func (st *stIndex) weight(items []int) int { return len(items) }

func (st *stIndex) neighbours(dst []int, i int) []int {
	t := st.times[i]
	st.locs = st.ix.neighbours(st.locs[:0], st.ix.locOf[i])
	for _, k := range st.locs {
		at := st.at[k]
		lo, _ := slices.BinarySearchFunc(at, t-st.timeEps, func(j int, v int64) int { return cmp.Compare(st.times[j], v) })
		for _, j := range at[lo:] {
			if st.times[j]-t > st.timeEps {
				break
			}
			dst = append(dst, j)
		}
	}
	return dst
}

// location is a distinct indexed point and how many input points are there.
type location struct {
	p    orb.Point // unwrapped around the index's ref
	k, n int
}

// Point makes a location an orb.Pointer for the quadtree.
func (l *location) Point() orb.Point { return l.p }

// index finds the locations within eps of a location: a quadtree over lon/lat
// narrows the search to a padded box, then the haversine distance decides.
type index struct {
	locs  []location
	locOf []int // input point -> location
	qt    *quadtree.Quadtree
	ref   float64 // longitudes are unwrapped to [ref-180, ref+180]
	eps   float64
	dLat  float64 // eps as degrees of latitude, padded for rounding
	buf   []orb.Pointer
}

func newIndex(pts []orb.Point, ref, eps float64) *index {
	ix := &index{
		locOf: make([]int, len(pts)),
		ref:   ref,
		eps:   eps,
		dLat:  eps / geo.EarthRadiusMeters * 180 / math.Pi * (1 + 1e-9),
	}
	// After unwrapping, the only seam left is at ref±180, which neighbours handles.
	seen := make(map[orb.Point]int, len(pts))
	for i, p := range pts {
		u := orb.Point{unwrap(p.Lon(), ref), p.Lat()}
		k, ok := seen[u]
		if !ok {
			k = len(ix.locs)
			seen[u] = k
			ix.locs = append(ix.locs, location{p: u, k: k})
		}
		ix.locs[k].n++
		ix.locOf[i] = k
	}
	if len(ix.locs) > bruteForceLocations {
		ix.buildTree()
	}
	return ix
}

// buildTree puts the locations in a quadtree, which search then uses.
func (ix *index) buildTree() {
	b := orb.Bound{Min: ix.locs[0].p, Max: ix.locs[0].p}
	for _, l := range ix.locs {
		b = b.Extend(l.p)
	}
	ix.qt = quadtree.New(b)
	for i := range ix.locs {
		// Every point is inside b by construction, so Add cannot fail.
		_ = ix.qt.Add(&ix.locs[i])
	}
}

// neighbours appends to dst the locations within eps of location k, k included.
func (ix *index) neighbours(dst []int, k int) []int {
	p := ix.locs[k].p
	minLat, maxLat := p.Lat()-ix.dLat, p.Lat()+ix.dLat
	// A degree of longitude is shortest at the most poleward latitude of the box, so
	// pad for that one; a box that reaches a pole needs every longitude.
	polar := max(math.Abs(minLat), math.Abs(maxLat))
	dLon := ix.dLat / math.Cos(polar*math.Pi/180)
	if polar >= 90 || dLon >= 180 {
		return ix.search(dst, p, orb.Bound{Min: orb.Point{math.Inf(-1), minLat}, Max: orb.Point{math.Inf(1), maxLat}})
	}
	lo, hi := p.Lon()-dLon, p.Lon()+dLon
	dst = ix.search(dst, p, orb.Bound{Min: orb.Point{lo, minLat}, Max: orb.Point{hi, maxLat}})
	// Where the box runs off one edge of the unwrapped domain, the rest of it is
	// at the other edge. Both cannot happen, since the box spans under 360°.
	switch {
	case lo < ix.ref-180:
		dst = ix.search(dst, p, orb.Bound{Min: orb.Point{lo + 360, minLat}, Max: orb.Point{math.Inf(1), maxLat}})
	case hi > ix.ref+180:
		dst = ix.search(dst, p, orb.Bound{Min: orb.Point{math.Inf(-1), minLat}, Max: orb.Point{hi - 360, maxLat}})
	}
	return dst
}

// bruteForceLocations is how many distinct locations an index scans rather
// than builds a quadtree for: a watch's few points are answered sooner, and
// without the quadtree's allocations, by comparing them all.
const bruteForceLocations = 64

func (ix *index) search(dst []int, p orb.Point, b orb.Bound) []int {
	if ix.qt == nil {
		for _, l := range ix.locs {
			if b.Contains(l.p) && geo.Distance(p, l.p) <= ix.eps {
				dst = append(dst, l.k)
			}
		}
		return dst
	}
	ix.buf = ix.qt.InBound(ix.buf, b)
	for _, c := range ix.buf {
		l := c.(*location)
		if geo.Distance(p, l.p) <= ix.eps {
			dst = append(dst, l.k)
		}
	}
	return dst
}

func (ix *index) size() int { return len(ix.locs) }

// weight is how many input points the locations hold.
func (ix *index) weight(locs []int) int {
	n := 0
	for _, k := range locs {
		n += ix.locs[k].n
	}
	return n
}
