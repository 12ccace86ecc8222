package rule_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"runtime"
	"testing"
	"time"

	"github.com/geowatch/geowatch/geo"
	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/monitor/rule"
	"github.com/paulmach/orb"
)

const day = 24 * time.Hour

func mustScan(t testing.TB, p rule.ScanParams) *rule.Scan {
	t.Helper()
	s, err := rule.NewScan(p)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// scanParams is a daily scan of 30 days for clusters of up to 10 km and 7 days
// that fires at any p: tests read p from the finding.
func scanParams(replicates int, seed uint64) rule.ScanParams {
	return rule.ScanParams{Period: 30 * day, MaxRadiusMeters: 10e3, MaxWindow: 7 * day, Replicates: replicates,
		Seed: seed, EvalEvery: day, Recurrence: day}
}

func TestNewScanRejects(t *testing.T) {
	ok := rule.ScanParams{AreaMeters: 100e3, Period: 30 * day, MaxRadiusMeters: 10e3, MaxWindow: 7 * day, EvalEvery: day, Recurrence: 100 * day}
	with := func(f func(p *rule.ScanParams)) rule.ScanParams {
		p := ok
		f(&p)
		return p
	}
	tests := []struct {
		name  string
		p     rule.ScanParams
		param string
		err   error
	}{
		{"negative area", with(func(p *rule.ScanParams) { p.AreaMeters = -1 }), "area", rule.ErrNegative},
		{"zero period", with(func(p *rule.ScanParams) { p.Period = 0 }), "period", rule.ErrNotPositive},
		{"period of one unit", with(func(p *rule.ScanParams) { p.Period, p.MaxWindow = day, day }), "period", rule.ErrTooSmall},
		{"zero max radius", with(func(p *rule.ScanParams) { p.MaxRadiusMeters = 0 }), "max_radius", rule.ErrNotPositive},
		{"max window under a unit", with(func(p *rule.ScanParams) { p.MaxWindow = time.Hour }), "max_window", rule.ErrTooSmall},
		{"max window over half", with(func(p *rule.ScanParams) { p.MaxWindow = 16 * day }), "max_window", rule.ErrTooLarge},
		{"negative replicates", with(func(p *rule.ScanParams) { p.Replicates = -1 }), "replicates", rule.ErrNotPositive},
		{"zero every", with(func(p *rule.ScanParams) { p.EvalEvery = 0 }), "every", rule.ErrNotPositive},
		{"zero recurrence", with(func(p *rule.ScanParams) { p.Recurrence = 0 }), "recurrence", rule.ErrNotPositive},
		{"unreachable recurrence", with(func(p *rule.ScanParams) { p.Replicates, p.Recurrence = 99, 101*day }), "recurrence", rule.ErrTooLarge},
		{"empty kind", with(func(p *rule.ScanParams) { p.Kinds = []string{""} }), "kinds[0]", rule.ErrEmpty},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := rule.NewScan(tc.p)
			var pe *rule.ParamError
			if !errors.As(err, &pe) || pe.Param != tc.param || !errors.Is(err, tc.err) {
				t.Errorf("NewScan(%+v) = %v, want a ParamError on %s wrapping %v", tc.p, err, tc.param, tc.err)
			}
		})
	}
	s := mustScan(t, ok)
	if p := s.Params(); p.Replicates != rule.DefaultScanReplicates || p.TimeUnit != rule.DefaultScanTimeUnit ||
		s.Window() != 30*day || s.ReachMeters() != 100e3 {
		t.Errorf("NewScan(%+v) = %+v, window %v, reach %v; want defaults filled, window 30d, reach 100 km", ok, p, s.Window(), s.ReachMeters())
	}
}

// background draws n cases uniformly over a 1° square around (0, 0) (about
// 111 km a side) and over the 30 days before now.
func background(r *rand.Rand, n int) []monitor.Observation {
	obs := make([]monitor.Observation, n)
	for i := range obs {
		p := orb.Point{r.Float64() - 0.5, r.Float64() - 0.5}
		obs[i] = ob(int64(i+1), p, time.Duration(r.Int64N(int64(30*day)))+1)
	}
	return obs
}

// square is a watch covering the whole square.
var square = &monitor.Watch{Name: "square", Center: orb.Point{0, 0}, RadiusMeters: 80e3}

// TestScanNull: with locations and dates drawn independently there is no
// space-time interaction, so p is uniform: over 20 data sets p ≤ 0.05 should
// come up about once, and more than four times has probability 0.016.
func TestScanNull(t *testing.T) {
	small := 0
	for seed := range uint64(20) {
		obs := background(rand.New(rand.NewPCG(100, seed)), 500)
		got := eval(mustScan(t, scanParams(199, seed)), now, square, obs)
		if len(got) != 1 {
			t.Fatalf("seed %d: %d findings, want 1 (the watch covers the study area and any p fires)", seed, len(got))
		}
		if got[0].Stats["p"] <= 0.05 {
			small++
		}
	}
	if small > 4 {
		t.Errorf("p ≤ 0.05 in %d of 20 null data sets, want at most 4", small)
	}
	t.Logf("p ≤ 0.05 in %d of 20 null data sets", small)
}

// TestScanPlanted plants 30 cases within about 1 km of a point in the last two
// days among 2,000 background cases over 30 days.
func TestScanPlanted(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	obs := background(r, 2000)
	plant := orb.Point{0.2, 0.1}
	for i := range 30 {
		p := orb.Point{plant.Lon() + r.NormFloat64()*0.005, plant.Lat() + r.NormFloat64()*0.005}
		obs = append(obs, ob(int64(10000+i), p, time.Duration(r.Int64N(int64(2*day)))+1))
	}
	p := scanParams(999, 1)
	p.Recurrence = 100 * day // p ≤ 0.01 with daily evaluation
	got := eval(mustScan(t, p), now, square, obs)
	if len(got) != 1 {
		t.Fatalf("no finding for the planted cluster")
	}
	f := got[0]
	centre := orb.Point{f.Stats["center_lon"], f.Stats["center_lat"]}
	if d := geo.Distance(centre, plant); d > 5e3 || f.Stats["p"] > 0.01 || f.Stats["recurrence_days"] < 100 || f.Stats["days"] > 3 {
		t.Errorf("cluster %v, centre %.1f km from the plant; want p ≤ 0.01, within 5 km, at most 3 days", f.Stats, d/1e3)
	}
	planted := 0
	for _, id := range f.FIDs {
		if id >= 10000 {
			planted++
		}
	}
	if planted < 20 || f.Count != int(f.Stats["observed"]) || len(f.Hull) != 1 {
		t.Errorf("finding of %d cases, %d planted, hull %v; want most of the 30, observed = count", f.Count, planted, f.Hull)
	}
	// Outside the watch, the same cluster does not fire it.
	if got := eval(mustScan(t, p), now, &monitor.Watch{Name: "w", Center: orb.Point{-0.3, -0.3}, RadiusMeters: 10e3}, obs); len(got) != 0 {
		t.Errorf("a watch away from the cluster fired: %v", got[0].Stats)
	}
	t.Logf("%v", f.Stats)
}

// TestScanReproducible: the same seed gives the same finding, on one core or two;
// another seed gives another p.
func TestScanReproducible(t *testing.T) {
	obs := background(rand.New(rand.NewPCG(9, 9)), 800)
	run := func(seed uint64) monitor.Finding {
		got := eval(mustScan(t, scanParams(199, seed)), now, square, obs)
		if len(got) != 1 {
			t.Fatalf("seed %d: %d findings", seed, len(got))
		}
		return got[0]
	}
	a := run(7)
	prev := runtime.GOMAXPROCS(1)
	b := run(7)
	runtime.GOMAXPROCS(prev)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("seed 7 gave %v on %d cores and %v on one", a.Stats, prev, b.Stats)
	}
	ps := map[float64]bool{}
	for seed := range uint64(5) {
		ps[run(seed).Stats["p"]] = true
	}
	if len(ps) < 2 {
		t.Errorf("five seeds gave the same p %v: the seed is not used", ps)
	}
	if p := a.Stats["p"]; p <= 0 || p > 1 || math.Abs(a.Stats["recurrence_days"]-1/p) > 1e-9 {
		t.Errorf("p %v, recurrence %v days; want recurrence = 1 day / p", p, a.Stats["recurrence_days"])
	}
}

// TestScanCentersAtTheWatch: a strong outbreak elsewhere in the study area
// does not hide a weaker one at the watch when cylinders are centred at the
// watch (the default); the textbook whole-area scan finds the stronger one
// first and, as it is not at the watch, stays silent.
func TestScanCentersAtTheWatch(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	obs := background(r, 400)
	add := func(p orb.Point, n int) {
		for range n {
			obs = append(obs, ob(int64(len(obs)+1), p, time.Duration(r.Int64N(int64(2*day)))+1))
		}
	}
	add(orb.Point{0.3, 0.3}, 40)   // strong, 45 km from the watch
	add(orb.Point{-0.2, -0.2}, 12) // weaker, at the watch
	w := &monitor.Watch{Name: "w", Center: orb.Point{-0.2, -0.2}, RadiusMeters: 10e3}
	p := scanParams(199, 1)
	p.AreaMeters, p.Recurrence = 200e3, 50*day
	got := eval(mustScan(t, p), now, w, obs)
	if len(got) != 1 || geo.Distance(got[0].Center, w.Center) > 10e3 || got[0].Stats["observed"] < 12 {
		t.Fatalf("centred at the watch: %+v, want one finding of the outbreak at the watch", got)
	}
	p.Centers = rule.ScanCentersArea
	if got := eval(mustScan(t, p), now, w, obs); len(got) != 0 {
		t.Errorf("whole area: %+v, want none (the area's most likely cluster is elsewhere)", got)
	}
}

// TestScanRecurrenceError names what would reach an unreachable recurrence.
func TestScanRecurrenceError(t *testing.T) {
	_, err := rule.NewScan(rule.ScanParams{Period: 30 * day, MaxRadiusMeters: 10e3, MaxWindow: 7 * day,
		Replicates: 99, EvalEvery: day, Recurrence: 365 * day})
	want := "recurrence: too large: the smallest p 99 replicates can give is 1/100, so evaluated every 24h0m0s a scan shows " +
		"recurrences up to 100d (every × (replicates+1)); use replicates: 364 or more, or a schedule whose ticks are at least 87h36m0s apart (got 8760h0m0s)"
	if err == nil || err.Error() != want {
		t.Errorf("NewScan = %v\nwant %s", err, want)
	}
}
