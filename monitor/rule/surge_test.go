package rule_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/monitor/rule"
)

func TestPoissonTail(t *testing.T) {
	tests := []struct {
		k, lambda float64
		want      float64
	}{
		// 1 − e^{-1}(1 + 1 + 1/2 + 1/6 + 1/24) = 1 − 0.99634015 = 0.00365985
		{5, 1, 0.00365984682734366},
		{1, 0.5, 0.3934693402873666}, // 1 − e^{-0.5}
		{10, 2.5, 0.0002773520946208752},
		// Deep tails, where 1 − Σ in floating point loses every digit; the wanted
		// values are that sum in 50-digit decimal arithmetic.
		{50, 20, 1.245892607971937923e-8},
		{30, 1, 1.43308141672231825e-33},
		{3, 1.0 / 112, 1.178384738154061504e-7}, // three reports where the floor rate is expected
		{0, 3, 1},
		{-1, 3, 1},
		{1, 0, 0},
		{2, 1000, 1},
	}
	for _, tc := range tests {
		got := rule.PoissonTail(tc.k, tc.lambda)
		if math.Abs(got-tc.want) > 1e-12*tc.want+1e-300 {
			t.Errorf("PoissonTail(%v, %v) = %.15g, want %.15g", tc.k, tc.lambda, got, tc.want)
		}
	}
	// Monotone: decreasing in k, increasing in lambda, continuous across the
	// series/continued-fraction switch at k = lambda+1.
	for _, lambda := range []float64{0.01, 0.7, 3, 25, 400} {
		prev := 1.0
		for k := 0.0; k < 3*lambda+30; k += 0.25 {
			p := rule.PoissonTail(k, lambda)
			if p > prev || p < 0 || math.IsNaN(p) {
				t.Fatalf("PoissonTail(%v, %v) = %v after %v: not decreasing in k", k, lambda, p, prev)
			}
			if q := rule.PoissonTail(k, lambda*1.01); q < p {
				t.Fatalf("PoissonTail(%v, %v) = %v < PoissonTail(%v, %v) = %v: not increasing in lambda", k, lambda*1.01, q, k, lambda, p)
			}
			prev = p
		}
	}
}

func mustSurge(t testing.TB, p rule.SurgeParams) *rule.Surge {
	t.Helper()
	s, err := rule.NewSurge(p)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNewSurgeRejects(t *testing.T) {
	ok := rule.SurgeParams{Window: 6 * time.Hour, Baseline: 14 * 24 * time.Hour, Alpha: 0.01, Min: 3}
	with := func(f func(p *rule.SurgeParams)) rule.SurgeParams {
		p := ok
		f(&p)
		return p
	}
	tests := []struct {
		name  string
		p     rule.SurgeParams
		param string
		err   error
	}{
		{"zero window", with(func(p *rule.SurgeParams) { p.Window = 0 }), "window", rule.ErrNotPositive},
		{"zero baseline", with(func(p *rule.SurgeParams) { p.Baseline = 0 }), "baseline", rule.ErrNotPositive},
		{"alpha 0", with(func(p *rule.SurgeParams) { p.Alpha = 0 }), "alpha", rule.ErrOutOfRange},
		{"alpha 1", with(func(p *rule.SurgeParams) { p.Alpha = 1 }), "alpha", rule.ErrOutOfRange},
		{"alpha NaN", with(func(p *rule.SurgeParams) { p.Alpha = math.NaN() }), "alpha", rule.ErrOutOfRange},
		{"zero min", with(func(p *rule.SurgeParams) { p.Min = 0 }), "min", rule.ErrNotPositive},
		{"empty kind", with(func(p *rule.SurgeParams) { p.Kinds = []string{""} }), "kinds[0]", rule.ErrEmpty},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := rule.NewSurge(tc.p)
			var pe *rule.ParamError
			if !errors.As(err, &pe) || pe.Param != tc.param || !errors.Is(err, tc.err) {
				t.Errorf("NewSurge(%+v) = %v, want a ParamError on %s wrapping %v", tc.p, err, tc.param, tc.err)
			}
		})
	}
	s := mustSurge(t, ok)
	if s.Window() != 6*time.Hour+14*24*time.Hour || s.ReachMeters() != 0 {
		t.Errorf("Window() = %v, ReachMeters() = %v; want window+baseline, 0", s.Window(), s.ReachMeters())
	}
}

// TestSurgeHand: a window of 1h after a baseline of 10h holding 10 observations,
// so expected = 10·1/10 = 1, and P(X ≥ 5 | 1) = 0.00366 < alpha 0.01 while
// P(X ≥ 4 | 1) = 0.01899 is not.
func TestSurgeHand(t *testing.T) {
	s := mustSurge(t, rule.SurgeParams{Window: time.Hour, Baseline: 10 * time.Hour, Alpha: 0.01, Min: 2})
	var obs []monitor.Observation
	for i := range 10 { // the baseline, one an hour
		obs = append(obs, ob(int64(i+1), east(1), time.Hour+time.Duration(i)*time.Hour+time.Minute))
	}
	obs = append(obs, ob(99, east(50), 30*time.Minute)) // outside the 10 km watch
	for n := range 6 {
		cur := append([]monitor.Observation(nil), obs...)
		for i := range n {
			cur = append(cur, ob(int64(100+i), east(2), time.Duration(i+1)*time.Minute))
		}
		got := eval(s, now, watch(10), cur)
		if fire := n >= 5; (len(got) == 1) != fire {
			t.Fatalf("%d observed: %d findings, want firing %v", n, len(got), fire)
		}
		if len(got) == 0 {
			continue
		}
		f := got[0]
		want := map[string]float64{"observed": 5, "expected": 1, "ratio": 5, "p": 0.00365984682734366}
		for k, v := range want {
			if math.Abs(f.Stats[k]-v) > 1e-9 {
				t.Errorf("Stats[%q] = %v, want %v", k, f.Stats[k], v)
			}
		}
		if f.Count != 5 || f.FIDs[0] != 100 {
			t.Errorf("finding of %d observations %v, want the window's 5", f.Count, f.FIDs)
		}
	}
}

// TestSurgeFloor: with no baseline at all, expected is floored at half an
// observation per baseline, so one observation gives p = 1 − e^{−0.05}, not 0,
// and Min decides.
func TestSurgeFloor(t *testing.T) {
	obs := []monitor.Observation{ob(1, east(0), time.Minute)}
	s := mustSurge(t, rule.SurgeParams{Window: time.Hour, Baseline: 10 * time.Hour, Alpha: 0.1, Min: 1})
	got := eval(s, now, watch(10), obs)
	if len(got) != 1 || math.Abs(got[0].Stats["expected"]-0.05) > 1e-12 || math.Abs(got[0].Stats["p"]-(1-math.Exp(-0.05))) > 1e-12 {
		t.Fatalf("Evaluate = %+v, want expected 0.05, p 1 − e^{−0.05}", got)
	}
	if got := eval(mustSurge(t, rule.SurgeParams{Window: time.Hour, Baseline: 10 * time.Hour, Alpha: 0.1, Min: 2}), now, watch(10), obs); len(got) != 0 {
		t.Errorf("Min 2 fired on one observation: %+v", got)
	}
}

// TestSurgeSynthetic draws a steady Poisson stream of 2 an hour over two weeks:
// at alpha 0.001 a 6h window fires in few of the 56 windows; tripling the rate
// in the last six hours makes it fire.
func TestSurgeSynthetic(t *testing.T) {
	s := mustSurge(t, rule.SurgeParams{Window: 6 * time.Hour, Baseline: 14 * 24 * time.Hour, Alpha: 0.001, Min: 5})
	r := rand.New(rand.NewPCG(1, 2))
	var obs []monitor.Observation
	span := 28 * 24 * time.Hour
	for i := range int(span.Hours() * 2) {
		obs = append(obs, ob(int64(i+1), east(r.Float64()*9), time.Duration(r.Int64N(int64(span)))))
	}
	fired := 0
	for h := 0; h < 14*24; h += 6 {
		if len(eval(s, now.Add(-time.Duration(h)*time.Hour), watch(10), obs)) > 0 {
			fired++
		}
	}
	if fired > 2 {
		t.Errorf("steady rate: fired in %d of 56 windows at alpha 0.001", fired)
	}
	for i := range 24 { // 12 expected in the last 6h; 36 is p ≈ 1e-8
		obs = append(obs, ob(int64(100000+i), east(5), time.Duration(r.Int64N(int64(6*time.Hour)))))
	}
	got := eval(s, now, watch(10), obs)
	if len(got) != 1 {
		t.Fatalf("tripled rate: no finding; window stats %v", eval(mustSurge(t, rule.SurgeParams{Window: 6 * time.Hour, Baseline: 14 * 24 * time.Hour, Alpha: 0.9999, Min: 1}), now, watch(10), obs)[0].Stats)
	}
	t.Logf("tripled rate: %v", got[0].Stats)
}
