package rule_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/geowatch/geowatch/geo"
	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/monitor/rule"
	"github.com/paulmach/orb"
)

func mustCluster(t testing.TB, p rule.ClusterParams) *rule.Cluster {
	t.Helper()
	c, err := rule.NewCluster(p)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNewClusterRejects(t *testing.T) {
	ok := rule.ClusterParams{EpsMeters: 1000, MinPoints: 3, Window: time.Hour}
	with := func(f func(p *rule.ClusterParams)) rule.ClusterParams {
		p := ok
		f(&p)
		return p
	}
	tests := []struct {
		name  string
		p     rule.ClusterParams
		param string
		err   error
	}{
		{"zero eps", with(func(p *rule.ClusterParams) { p.EpsMeters = 0 }), "eps", rule.ErrNotPositive},
		{"NaN eps", with(func(p *rule.ClusterParams) { p.EpsMeters = math.NaN() }), "eps", rule.ErrNotPositive},
		{"min points 1", with(func(p *rule.ClusterParams) { p.MinPoints = 1 }), "min_points", rule.ErrTooSmall},
		{"min points 0", with(func(p *rule.ClusterParams) { p.MinPoints = 0 }), "min_points", rule.ErrTooSmall},
		{"zero window", with(func(p *rule.ClusterParams) { p.Window = 0 }), "window", rule.ErrNotPositive},
		{"empty kind", with(func(p *rule.ClusterParams) { p.Kinds = []string{""} }), "kinds[0]", rule.ErrEmpty},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := rule.NewCluster(tc.p)
			var pe *rule.ParamError
			if !errors.As(err, &pe) || pe.Param != tc.param || !errors.Is(err, tc.err) {
				t.Errorf("NewCluster(%+v) = %v, want a ParamError on %s wrapping %v", tc.p, err, tc.param, tc.err)
			}
		})
	}
	c, err := rule.NewCluster(ok)
	if err != nil || c.ReachMeters() != 1000 || c.Window() != time.Hour {
		t.Errorf("NewCluster(%+v) = %v, %v; want reach 1000 m, window 1h", ok, c, err)
	}
}

// line places observations along the equator at the given kilometres east,
// the first observed first.
func line(firstFID int64, kms ...float64) []monitor.Observation {
	obs := make([]monitor.Observation, len(kms))
	for i, km := range kms {
		obs[i] = ob(firstFID+int64(i), east(km), time.Hour-time.Duration(firstFID+int64(i))*time.Second)
	}
	return obs
}

func fids(fs []monitor.Finding) [][]int64 {
	var out [][]int64
	for _, f := range fs {
		out = append(out, f.FIDs)
	}
	return out
}

func TestClusterBorderGoesToFirstCluster(t *testing.T) {
	// eps 10 km, min 4. A = 0-1.5 km; C = 20.9-22.4 km; B at 11.2 km is within eps
	// of 1.5 and 20.9 only, so it is no core but a border point both clusters reach.
	c := mustCluster(t, rule.ClusterParams{EpsMeters: 10e3, MinPoints: 4, Window: 2 * time.Hour})
	a, b, cc := line(1, 0, 0.5, 1, 1.5), line(5, 11.2), line(6, 20.9, 21.4, 21.9, 22.4)
	obs := slices.Concat(cc, b, a) // input order must not matter: A is observed first
	got := eval(c, now, watch(100), obs)
	if want := [][]int64{{1, 2, 3, 4, 5}, {6, 7, 8, 9}}; !reflect.DeepEqual(fids(got), want) {
		t.Errorf("A observed first: clusters %v, want %v", fids(got), want)
	}
	// Observed the other way round, C is found first and takes B.
	for i := range obs {
		obs[i].Time = now.Add(-time.Duration(obs[i].FID) * time.Second)
	}
	got = eval(c, now, watch(100), obs)
	if want := [][]int64{{5, 6, 7, 8, 9}, {1, 2, 3, 4}}; !reflect.DeepEqual(fids(got), want) {
		t.Errorf("C observed first: clusters %v, want %v", fids(got), want)
	}
}

func TestClusterChain(t *testing.T) {
	c := mustCluster(t, rule.ClusterParams{EpsMeters: 10e3, MinPoints: 3, Window: 2 * time.Hour})
	tests := []struct {
		name string
		kms  []float64
		want [][]int64
	}{
		// Every inner link is a core point with both neighbours: one cluster, ends as borders.
		{"chain of 9 km links", []float64{0, 9, 18, 27, 36, 45}, [][]int64{{1, 2, 3, 4, 5, 6}}},
		// 11 km links: nobody has a neighbour.
		{"chain of 11 km links", []float64{0, 11, 22, 33}, nil},
		// Two cores joined by a border point that is itself no core: two clusters.
		{"pair of triples", []float64{0, 1, 2, 30, 31, 32}, [][]int64{{1, 2, 3}, {4, 5, 6}}},
		// Exactly min points, all within eps of each other.
		{"minimal cluster", []float64{0, 5, 10}, [][]int64{{1, 2, 3}}},
		// Two border points: the core 10 km chain needs its ends.
		{"too few", []float64{0, 5}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := eval(c, now, watch(100), line(1, tc.kms...))
			if !reflect.DeepEqual(fids(got), tc.want) {
				t.Errorf("clusters %v, want %v", fids(got), tc.want)
			}
		})
	}
}

func TestClusterCentroidOutsideRadius(t *testing.T) {
	// Watch radius 50 km, eps 10 km: the rule reads out to 60 km.
	c := mustCluster(t, rule.ClusterParams{EpsMeters: 10e3, MinPoints: 3, Window: 2 * time.Hour})
	tests := []struct {
		name string
		kms  []float64
		want int
	}{
		{"centroid at 55 km, outside", []float64{52, 55, 58}, 0},
		{"centroid at 45 km, inside", []float64{42, 45, 48}, 1},
		{"straddling the edge, centroid at 49 km", []float64{43, 46, 49, 52, 55}, 1},
		{"beyond the reach", []float64{61, 62, 63}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := eval(c, now, watch(50), line(1, tc.kms...))
			if len(got) != tc.want {
				t.Errorf("%d findings %+v, want %d", len(got), got, tc.want)
			}
		})
	}
	// The point at 61 km is within eps of the one at 58 km but beyond the reach, so it
	// is not read: the store would not have returned it either.
	got := eval(c, now, watch(50), line(1, 40, 44, 48, 52, 56, 58, 61))
	if want := [][]int64{{1, 2, 3, 4, 5, 6}}; !reflect.DeepEqual(fids(got), want) {
		t.Errorf("chain past the reach: clusters %v, want %v", fids(got), want)
	}
}

func TestClusterFinding(t *testing.T) {
	c := mustCluster(t, rule.ClusterParams{EpsMeters: 10e3, MinPoints: 3, Window: 2 * time.Hour, Kinds: []string{"fire"}})
	big := line(1, 0, 1, 2, 3)
	small := line(10, 30, 31, 32)
	small[2].Weight = 5 // heavier, but fewer: still second
	other := line(20, 0.5, 1.5)
	for i := range other {
		other[i].Kind = "flood"
	}
	old := line(30, 2.5)
	old[0].Time = now.Add(-3 * time.Hour)
	got := eval(c, now, watch(100), slices.Concat(old, other, small, big))
	if want := [][]int64{{1, 2, 3, 4}, {10, 11, 12}}; !reflect.DeepEqual(fids(got), want) {
		t.Fatalf("clusters %v, want %v", fids(got), want)
	}
	f := got[0]
	if f.Count != 4 || f.Weight != 4 || !f.FirstSeen.Equal(big[0].Time) || !f.LastSeen.Equal(big[3].Time) {
		t.Errorf("finding %+v: want count 4, weight 4, seen %v to %v", f, big[0].Time, big[3].Time)
	}
	if d := geo.Distance(f.Center, east(1.5)); d > 0.01 {
		t.Errorf("Center = %v, %.3f m from %v", f.Center, d, east(1.5))
	}
	if got[1].Weight != 7 {
		t.Errorf("second cluster weight %v, want 7", got[1].Weight)
	}
}

// TestClusterOrderIndependent checks that shuffled input gives identical findings.
func TestClusterOrderIndependent(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	obs := make([]monitor.Observation, 2000)
	for i := range obs {
		p := orb.Point{r.NormFloat64() * 0.3, r.NormFloat64() * 0.3}
		// Equal times make the FID tie-break matter.
		obs[i] = ob(int64(i+1), p, time.Duration(r.IntN(60))*time.Minute)
	}
	c := mustCluster(t, rule.ClusterParams{EpsMeters: 3e3, MinPoints: 4, Window: 2 * time.Hour})
	want := eval(c, now, watch(200), obs)
	if len(want) < 2 {
		t.Fatalf("%d findings: the data does not exercise clustering", len(want))
	}
	for range 5 {
		r.Shuffle(len(obs), func(i, j int) { obs[i], obs[j] = obs[j], obs[i] })
		if got := eval(c, now, watch(200), obs); !reflect.DeepEqual(got, want) {
			t.Fatalf("shuffled input: findings differ: %v vs %v", fids(got), fids(want))
		}
	}
}

func TestClusterAcrossAntimeridian(t *testing.T) {
	w := &monitor.Watch{Center: orb.Point{179.5, 65}, RadiusMeters: 100e3}
	var obs []monitor.Observation
	for i, lon := range []float64{179.96, 179.98, -179.98, -179.96, -179.94} { // 0.94 km apart
		obs = append(obs, ob(int64(i+1), orb.Point{lon, 65}, time.Minute))
	}
	got := eval(mustCluster(t, rule.ClusterParams{EpsMeters: 3e3, MinPoints: 5, Window: time.Hour}), now, w, obs)
	if want := [][]int64{{1, 2, 3, 4, 5}}; !reflect.DeepEqual(fids(got), want) {
		t.Fatalf("clusters %v, want %v", fids(got), want)
	}
	if d := geo.Distance(got[0].Center, orb.Point{-179.988, 65}); d > 50 {
		t.Errorf("Center = %v, %.0f m from the points' mean", got[0].Center, d)
	}
}

// TestClusterTimeEps: two bursts at one place a day apart are one DBSCAN cluster
// and two ST-DBSCAN clusters with time_eps 1h.
func TestClusterTimeEps(t *testing.T) {
	var obs []monitor.Observation
	for i := range 5 {
		obs = append(obs, ob(int64(i+1), east(float64(i)*0.5), 30*time.Hour+time.Duration(i)*time.Minute))
		obs = append(obs, ob(int64(i+11), east(float64(i)*0.5), 6*time.Hour+time.Duration(i)*time.Minute))
	}
	p := rule.ClusterParams{EpsMeters: 2e3, MinPoints: 4, Window: 48 * time.Hour}
	if got := eval(mustCluster(t, p), now, watch(10), obs); len(got) != 1 || got[0].Count != 10 {
		t.Errorf("spatial: clusters %v, want one of 10", fids(got))
	}
	p.TimeEps = time.Hour
	got := eval(mustCluster(t, p), now, watch(10), obs)
	if want := [][]int64{{1, 2, 3, 4, 5}, {11, 12, 13, 14, 15}}; !reflect.DeepEqual(fids(got), want) {
		t.Errorf("time_eps 1h: clusters %v, want %v", fids(got), want)
	}
	p.TimeEps = -time.Second
	var pe *rule.ParamError
	if _, err := rule.NewCluster(p); !errors.As(err, &pe) || pe.Param != "time_eps" || !errors.Is(err, rule.ErrNegative) {
		t.Errorf("NewCluster(time_eps -1s) = %v, want a ParamError on time_eps", err)
	}
}
