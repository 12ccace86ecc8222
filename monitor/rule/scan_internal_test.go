package rule

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/geowatch/geowatch/geo"
	"github.com/geowatch/geowatch/monitor"
	"github.com/paulmach/orb"
)

func TestLLR(t *testing.T) {
	tests := []struct {
		name         string
		c, mu, total float64
		want         float64
	}{
		// 3·ln(3/1.5) + 7·ln(7/8.5) = 2.0794415 − 1.3590921 = 0.7203494
		{"3 of 10 where 1.5 expected", 3, 1.5, 10, 0.7203494405931332},
		// 3·ln(3/2) + 7·ln(7/8) = 1.2163953 − 0.9347198 = 0.2816756
		{"3 of 10 where 2 expected", 3, 2, 10, 0.28167557595283477},
		// c = C: the second term vanishes; 10·ln(10/4) = 9.1629073
		{"all cases", 10, 4, 10, 9.162907318741551},
		{"as expected", 2, 2, 10, 0},
		{"fewer than expected", 1, 2, 10, 0},
	}
	for _, tc := range tests {
		if got := llr(tc.c, tc.mu, tc.total); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("llr(%v, %v, %v) = %.10f, want %.10f", tc.c, tc.mu, tc.total, got, tc.want)
		}
	}
}

// TestScanTiny scans two places 100 km apart with a 10 km cap, so each circle is
// one place, over ten days with cylinders of one or two days:
//
//	A: 3 cases today (unit 0), 2 in unit 5      B: 1 in unit 1, 4 in units 3, 4, 6, 8
//	C = 10; cases in the last day C₁ = 3, in the last two C₂ = 4; C_A = C_B = 5.
//	A, 1 day: c = 3, μ = 5·3/10 = 1.5: 3·ln 2 + 7·ln(7/8.5) = 0.7203494
//	A, 2 days: c = 3, μ = 5·4/10 = 2: 3·ln 1.5 + 7·ln(7/8) = 0.2816756
//	B, 1 day: c = 0; B, 2 days: c = 1 < μ = 2. Both score 0.
//
// So the most likely cluster is A over one day, with LLR 0.7203494.
func TestScanTiny(t *testing.T) {
	s, err := NewScan(ScanParams{Period: 10 * 24 * time.Hour, MaxRadiusMeters: 10e3, MaxWindow: 48 * time.Hour,
		EvalEvery: 24 * time.Hour, Recurrence: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	a, b := orb.Point{0, 0}, orb.Point{0.9, 0}
	var obs []*monitor.Observation
	add := func(p orb.Point, units ...int) {
		for _, u := range units {
			obs = append(obs, &monitor.Observation{FID: int64(len(obs) + 1), Point: p, Weight: 1,
				Time: now.Add(-time.Duration(u)*24*time.Hour - time.Hour)})
		}
	}
	add(a, 0, 0, 0, 5, 5)
	add(b, 1, 3, 4, 6, 8)
	sc := s.prepare(now, 0, obs, nil)
	mlc := sc.mostLikely()
	if sc.locPoint[sc.centre[mlc.centre]] != a || mlc.d != 1 || math.Abs(mlc.llr-0.7203494405931332) > 1e-12 {
		t.Errorf("most likely cluster at %v over %d days, LLR %.7f; want %v, 1, 0.7203494", sc.locPoint[sc.centre[mlc.centre]], mlc.d, mlc.llr, a)
	}
}

// bruteScan is the most likely cluster's LLR by the definition: every centre,
// every radius at which a location joins (up to maxR and half the cases), every
// duration, counting cases directly.
func bruteScan(pts []orb.Point, units []int32, maxR float64, maxD int) float64 {
	C := len(pts)
	best := 0.0
	cd := make([]int, maxD+1)
	for _, u := range units {
		for d := int(u) + 1; d <= maxD; d++ {
			cd[d]++
		}
	}
	dist := make([][]float64, C)
	for i := range pts {
		dist[i] = make([]float64, C)
		for j := range pts {
			dist[i][j] = geo.Distance(pts[i], pts[j])
		}
	}
	for k := range pts {
		radii := map[float64]bool{}
		for _, r := range dist[k] {
			if r <= maxR {
				radii[r] = true
			}
		}
		for r := range radii {
			cz, c := 0, make([]int, maxD+1)
			for i := range pts {
				if dist[k][i] <= r {
					cz++
					for d := int(units[i]) + 1; d <= maxD; d++ {
						c[d]++
					}
				}
			}
			if 2*cz > C {
				continue
			}
			for d := 1; d <= maxD; d++ {
				best = math.Max(best, llr(float64(c[d]), float64(cz)*float64(cd[d])/float64(C), float64(C)))
			}
		}
	}
	return best
}

// TestScanMatchesBruteForce checks the pruned sweep, on the observed dates and on
// permutations, against bruteScan, with co-located cases and tied distances (a
// 0.01° grid) so that tie groups and multiplicities are exercised.
func TestScanMatchesBruteForce(t *testing.T) {
	const maxR = 8e3
	s, err := NewScan(ScanParams{Period: 20 * 24 * time.Hour, MaxRadiusMeters: maxR, MaxWindow: 5 * 24 * time.Hour,
		EvalEvery: 24 * time.Hour, Recurrence: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	gen := snapped(clumps([]orb.Point{{0, 0}, {0.1, 0.05}}, 0.04, orb.Bound{Min: orb.Point{-0.2, -0.2}, Max: orb.Point{0.2, 0.2}}), 0.01)
	for seed := range uint64(4) {
		r := rand.New(rand.NewPCG(3, seed))
		obs := make([]*monitor.Observation, 250)
		pts := make([]orb.Point, len(obs))
		for i := range obs {
			pts[i] = gen(r)
			ago := time.Duration(r.Int64N(int64(20 * 24 * time.Hour)))
			if i < 15 { // a small outbreak, so the observed MLC is not noise
				pts[i], ago = orb.Point{0.05, 0.05}, time.Duration(r.Int64N(int64(48*time.Hour)))
			}
			obs[i] = &monitor.Observation{FID: int64(i + 1), Point: pts[i], Time: now.Add(-ago - 1), Weight: 1}
		}
		sc := s.prepare(now, 0, obs, nil)
		w := sc.newWork()
		for rep := range 6 {
			if rep > 0 {
				w.pcg.Seed(seed, uint64(rep))
				w.rng.Shuffle(len(w.units), func(i, j int) { w.units[i], w.units[j] = w.units[j], w.units[i] })
			}
			sc.load(w)
			got, _ := sc.sweep(w, 0, false)
			want := bruteScan(pts, w.units, maxR, sc.maxD)
			if math.Abs(got.llr-want) > 1e-9*want {
				t.Errorf("seed %d, permutation %d: max LLR %.9f, want %.9f", seed, rep, got.llr, want)
			}
			// A replicate sweep with the maximum as threshold finds a cylinder; with
			// a hair more it finds none.
			if _, ok := sc.sweep(w, want*(1-1e-12), true); !ok {
				t.Errorf("seed %d, permutation %d: stopping sweep misses LLR %.9f", seed, rep, want)
			}
			if _, ok := sc.sweep(w, want*(1+1e-9), true); ok {
				t.Errorf("seed %d, permutation %d: stopping sweep beats the maximum %.9f", seed, rep, want)
			}
		}
	}
}
