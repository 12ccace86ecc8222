package rule

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/geowatch/geowatch/geo"
	"github.com/paulmach/orb"
)

// referenceDBSCAN is DBSCAN by its definition, in O(n²) and without an index:
// core points have at least minPts points within eps (themselves included); core
// points within eps of each other share a cluster; clusters are numbered by their
// first core point; a non-core point within eps of a core point is a border point of
// the earliest-numbered such cluster; the rest is noise (0).
func referenceDBSCAN(pts []orb.Point, eps float64, minPts int) []int {
	return referenceNear(len(pts), func(i, j int) bool { return geo.Distance(pts[i], pts[j]) <= eps }, minPts)
}

// referenceNear is DBSCAN by its definition on n points whose neighbour relation
// is isNear, which must be symmetric and reflexive.
func referenceNear(n int, isNear func(i, j int) bool, minPts int) []int {
	pts := make([]struct{}, n)
	near := make([][]int, n)
	for i := range pts {
		for j := range pts {
			if isNear(i, j) {
				near[i] = append(near[i], j)
			}
		}
	}
	core := func(i int) bool { return len(near[i]) >= minPts }
	parent := make([]int, n)
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		if parent[i] != i {
			parent[i] = find(parent[i])
		}
		return parent[i]
	}
	for i := range pts {
		for _, j := range near[i] {
			if core(i) && core(j) {
				// Union towards the smaller index, so a root is its component's first point.
				a, b := find(i), find(j)
				parent[max(a, b)] = min(a, b)
			}
		}
	}
	label := make([]int, n)
	number := map[int]int{} // component root -> cluster number
	for i := range pts {
		if core(i) {
			r := find(i)
			if _, ok := number[r]; !ok {
				number[r] = len(number) + 1
			}
			label[i] = number[r]
		}
	}
	for i := range pts {
		if core(i) {
			continue
		}
		for _, j := range near[i] {
			if core(j) && (label[i] == 0 || label[j] < label[i]) {
				label[i] = label[j]
			}
		}
	}
	return label
}

func TestDBSCANMatchesReference(t *testing.T) {
	tests := []struct {
		name   string
		ref    float64 // longitude the index unwraps around, as a watch centre would be
		eps    float64
		minPts int
		// straddle asks that some cluster have points on both sides of the antimeridian.
		straddle bool
		gen      func(r *rand.Rand) orb.Point
	}{
		{
			name: "mid-latitude clumps", ref: 10, eps: 15e3, minPts: 4,
			gen: clumps([]orb.Point{{10, 45}, {10.5, 45.2}, {9.6, 44.7}}, 0.15, orb.Bound{Min: orb.Point{8, 43}, Max: orb.Point{12, 47}}),
		},
		{
			name: "antimeridian, centre east of it", ref: 179.8, eps: 4e3, minPts: 4, straddle: true,
			gen: clumps([]orb.Point{{180, 60}, {-179.7, 60.3}, {179.6, 59.8}}, 0.2, orb.Bound{Min: orb.Point{178, 59}, Max: orb.Point{182, 61}}),
		},
		{
			name: "antimeridian, centre west of it", ref: -179.9, eps: 6e3, minPts: 4, straddle: true,
			gen: clumps([]orb.Point{{180, -40}, {-179.8, -40.1}}, 0.1, orb.Bound{Min: orb.Point{178.5, -41}, Max: orb.Point{181.5, -39}}),
		},
		{
			name: "north pole", ref: 0, eps: 30e3, minPts: 4,
			gen: clumps([]orb.Point{{0, 89.9}, {90, 89.5}, {-170, 88.8}}, 0.2, orb.Bound{Min: orb.Point{-180, 87.5}, Max: orb.Point{180, 90}}),
		},
		{
			name: "high latitude south", ref: 45, eps: 25e3, minPts: 5,
			gen: clumps([]orb.Point{{45, -84}, {50, -84.2}}, 0.3, orb.Bound{Min: orb.Point{30, -86}, Max: orb.Point{60, -82}}),
		},
		{
			name: "co-located points", ref: 0, eps: 5e3, minPts: 6,
			gen: snapped(clumps([]orb.Point{{0, 0}, {0.1, 0}}, 0.05, orb.Bound{Min: orb.Point{-0.5, -0.5}, Max: orb.Point{0.5, 0.5}}), 0.02),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for seed := range uint64(5) {
				r := rand.New(rand.NewPCG(42, seed))
				pts := make([]orb.Point, 800)
				for i := range pts {
					p := tc.gen(r)
					pts[i] = orb.Point{normLon(p.Lon()), math.Max(-90, math.Min(90, p.Lat()))}
				}
				got, n := dbscan(pts, tc.ref, tc.eps, tc.minPts)
				want := referenceDBSCAN(pts, tc.eps, tc.minPts)
				if !slices.Equal(got, want) {
					for i := range got {
						if got[i] != want[i] {
							t.Fatalf("seed %d: point %d %v: cluster %d, want %d", seed, i, pts[i], got[i], want[i])
						}
					}
				}
				if n != slices.Max(want) {
					t.Errorf("seed %d: %d clusters, want %d", seed, n, slices.Max(want))
				}
				if noise := slices.Index(want, 0); n < 2 || noise < 0 {
					t.Errorf("seed %d: %d clusters, noise at %d: the data does not exercise DBSCAN", seed, n, noise)
				}
				if tc.straddle && !straddles(pts, want) {
					t.Errorf("seed %d: no cluster straddles the antimeridian", seed)
				}
				t.Logf("seed %d: %d clusters, %d noise", seed, n, count(want, 0))
			}
		})
	}
}

// clumps draws half its points from Gaussian clumps (sigma in degrees) around
// centres and half uniformly over b, which may run past ±180 to straddle the
// antimeridian.
func clumps(centres []orb.Point, sigma float64, b orb.Bound) func(r *rand.Rand) orb.Point {
	return func(r *rand.Rand) orb.Point {
		if r.IntN(2) == 0 {
			c := centres[r.IntN(len(centres))]
			return orb.Point{c.Lon() + r.NormFloat64()*sigma, c.Lat() + r.NormFloat64()*sigma/4}
		}
		return orb.Point{b.Min.Lon() + r.Float64()*(b.Max.Lon()-b.Min.Lon()), b.Min.Lat() + r.Float64()*(b.Max.Lat()-b.Min.Lat())}
	}
}

// snapped rounds gen's points to a grid of step degrees, making many co-located.
func snapped(gen func(r *rand.Rand) orb.Point, step float64) func(r *rand.Rand) orb.Point {
	return func(r *rand.Rand) orb.Point {
		p := gen(r)
		return orb.Point{math.Round(p.Lon()/step) * step, math.Round(p.Lat()/step) * step}
	}
}

func normLon(lon float64) float64 { return math.Remainder(lon, 360) }

func count(s []int, v int) int {
	n := 0
	for _, x := range s {
		if x == v {
			n++
		}
	}
	return n
}

// straddles reports whether a cluster has points both east and west of ±180.
func straddles(pts []orb.Point, labels []int) bool {
	east, west := map[int]bool{}, map[int]bool{}
	for i, l := range labels {
		if l == 0 {
			continue
		}
		if pts[i].Lon() > 90 {
			east[l] = true
		} else if pts[i].Lon() < -90 {
			west[l] = true
		}
	}
	for l := range east {
		if west[l] {
			return true
		}
	}
	return false
}

// TestDBSCANWidestNeighbour puts q and its mirror image at eps from p where their
// longitude differs most: slightly poleward of p, where a box padded for p's own
// latitude misses them. p is a core point only if it finds both.
func TestDBSCANWidestNeighbour(t *testing.T) {
	const eps = 100e3
	for _, lat := range []float64{0, 45, -70, 80, 89} {
		d := eps * (1 - 1e-7) / geo.EarthRadiusMeters
		phi := lat * math.Pi / 180
		q := orb.Point{
			math.Asin(math.Sin(d)/math.Cos(phi)) * 180 / math.Pi,
			math.Asin(math.Sin(phi)/math.Cos(d)) * 180 / math.Pi,
		}
		pts := []orb.Point{{0, lat}, q, {-q.Lon(), q.Lat()}}
		if got := geo.Distance(pts[0], q); got > eps {
			t.Fatalf("lat %v: test point at %.3f m, beyond eps", lat, got)
		}
		if got, n := dbscan(pts, 0, eps, 3); n != 1 || !slices.Equal(got, []int{1, 1, 1}) {
			t.Errorf("lat %v: dbscan(%v) = %v, want one cluster [1 1 1]", lat, pts, got)
		}
	}
}

// TestSTDBSCANMatchesReference checks ST-DBSCAN against DBSCAN by its definition
// with Birant and Kut's neighbourhood: within eps metres and timeEps of each
// other. Times are drawn from a few bursts plus background, and some are shared,
// so that the time condition splits spatial clusters and co-located points differ
// in time.
func TestSTDBSCANMatchesReference(t *testing.T) {
	const (
		eps     = 15e3
		timeEps = int64(6 * time.Hour)
		minPts  = 4
	)
	gen := snapped(clumps([]orb.Point{{10, 45}, {10.5, 45.2}, {179.9, 45}}, 0.15, orb.Bound{Min: orb.Point{8, 43}, Max: orb.Point{12, 47}}), 0.01)
	for seed := range uint64(5) {
		r := rand.New(rand.NewPCG(7, seed))
		pts := make([]orb.Point, 800)
		times := make([]int64, len(pts))
		for i := range pts {
			p := gen(r)
			pts[i] = orb.Point{normLon(p.Lon()), p.Lat()}
			burst := int64(r.IntN(4)) * int64(48*time.Hour)
			if r.IntN(3) == 0 {
				burst = r.Int64N(int64(10 * 24 * time.Hour))
			}
			times[i] = burst + r.Int64N(int64(3*time.Hour))/int64(time.Hour)*int64(time.Hour)
		}
		idx := make([]int, len(pts))
		for i := range idx {
			idx[i] = i
		}
		slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(times[a], times[b]) })
		sp, st := make([]orb.Point, len(pts)), make([]int64, len(pts))
		for i, j := range idx {
			sp[i], st[i] = pts[j], times[j]
		}
		got, n := stdbscan(sp, st, 10, eps, timeEps, minPts)
		want := referenceNear(len(sp), func(i, j int) bool {
			dt := st[i] - st[j]
			return geo.Distance(sp[i], sp[j]) <= eps && dt <= timeEps && -dt <= timeEps
		}, minPts)
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("seed %d: point %d %v at %d: cluster %d, want %d", seed, i, sp[i], st[i], got[i], want[i])
			}
		}
		spatial := referenceDBSCAN(sp, eps, minPts)
		if n != slices.Max(want) {
			t.Errorf("seed %d: %d clusters, want %d", seed, n, slices.Max(want))
		}
		if n < 2 || slices.Equal(want, spatial) {
			t.Errorf("seed %d: %d clusters, the same as DBSCAN's: the data does not exercise time_eps", seed, n)
		}
		t.Logf("seed %d: %d ST clusters (%d spatial), %d noise", seed, n, slices.Max(spatial), count(want, 0))
	}
}
