package rule_test

import (
	"errors"
	"fmt"
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

var now = time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)

// east is the point km kilometres east of (0, 0) along the equator, where a degree
// of longitude is the same length everywhere.
func east(km float64) orb.Point {
	return orb.Point{km * 1000 / geo.EarthRadiusMeters * 180 / math.Pi, 0}
}

// ob is an observation of weight 1 at p, ago before now.
func ob(fid int64, p orb.Point, ago time.Duration) monitor.Observation {
	return monitor.Observation{FID: fid, ID: fmt.Sprintf("obs-%d", fid), Source: "test", Kind: "fire", Time: now.Add(-ago), Point: p, Weight: 1}
}

func watch(radiusKm float64) *monitor.Watch {
	return &monitor.Watch{Name: "w", Center: orb.Point{0, 0}, RadiusMeters: radiusKm * 1000}
}

// eval runs r the way the engine does: on the input the engine builds for it
// from what the store returned.
func eval(r monitor.Rule, now time.Time, w *monitor.Watch, obs []monitor.Observation) []monitor.Finding {
	return r.Evaluate(monitor.NewInput(now, w, monitor.NamedRule{Rule: r}, obs))
}

func mustCount(t testing.TB, p rule.CountParams) *rule.Count {
	t.Helper()
	c, err := rule.NewCount(p)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNewCountRejects(t *testing.T) {
	tests := []struct {
		name  string
		p     rule.CountParams
		param string
		err   error
	}{
		{"zero min", rule.CountParams{Min: 0, Window: time.Hour}, "min", rule.ErrNotPositive},
		{"negative min", rule.CountParams{Min: -1, Window: time.Hour}, "min", rule.ErrNotPositive},
		{"NaN min", rule.CountParams{Min: math.NaN(), Window: time.Hour}, "min", rule.ErrNotPositive},
		{"infinite min", rule.CountParams{Min: math.Inf(1), Window: time.Hour}, "min", rule.ErrNotPositive},
		{"zero window", rule.CountParams{Min: 1}, "window", rule.ErrNotPositive},
		{"negative window", rule.CountParams{Min: 1, Window: -time.Second}, "window", rule.ErrNotPositive},
		{"empty kind", rule.CountParams{Min: 1, Window: time.Hour, Kinds: []string{"fire", ""}}, "kinds[1]", rule.ErrEmpty},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := rule.NewCount(tc.p)
			var pe *rule.ParamError
			if !errors.As(err, &pe) || pe.Param != tc.param || !errors.Is(err, tc.err) {
				t.Errorf("NewCount(%+v) = %v, want a ParamError on %s wrapping %v", tc.p, err, tc.param, tc.err)
			}
		})
	}
}

func TestCountRadius(t *testing.T) {
	c := mustCount(t, rule.CountParams{Min: 3, Window: time.Hour})
	obs := []monitor.Observation{
		ob(1, east(0), time.Minute),
		ob(2, east(5), time.Minute),
		ob(3, east(9.9), time.Minute),
		ob(4, east(10.1), time.Minute), // outside the 10 km radius
		ob(5, orb.Point{180, 0}, time.Minute),
	}
	got := eval(c, now, watch(10), obs)
	if len(got) != 1 || !slices.Equal(got[0].FIDs, []int64{1, 2, 3}) {
		t.Fatalf("Evaluate = %+v, want one finding of FIDs [1 2 3]", got)
	}
	if got := eval(c, now, watch(9.85), obs); got != nil {
		t.Errorf("Evaluate with 9.85 km radius = %+v, want no finding (2 < 3)", got)
	}
}

func TestCountWindow(t *testing.T) {
	c := mustCount(t, rule.CountParams{Min: 1, Window: time.Hour})
	tests := []struct {
		name string
		ago  time.Duration
		want bool
	}{
		{"at now-window, included", time.Hour, true},
		{"just before now-window, excluded", time.Hour + time.Nanosecond, false},
		{"just before now, included", time.Nanosecond, true},
		{"at now, excluded", 0, false},
		{"after now, excluded", -time.Minute, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := eval(c, now, watch(10), []monitor.Observation{ob(1, east(1), tc.ago)})
			if (len(got) == 1) != tc.want {
				t.Errorf("observation %v before now: Evaluate = %+v, want holding %v", tc.ago, got, tc.want)
			}
		})
	}
}

func TestCountKindsAndWeights(t *testing.T) {
	withKind := func(o monitor.Observation, kind string, w float64) monitor.Observation {
		o.Kind, o.Weight = kind, w
		return o
	}
	obs := []monitor.Observation{
		withKind(ob(1, east(1), time.Minute), "fire", 1),
		withKind(ob(2, east(2), time.Minute), "fire", 1),
		withKind(ob(3, east(3), time.Minute), "flood", 0.5),
		withKind(ob(4, east(4), time.Minute), "storm", 10),
	}
	tests := []struct {
		name   string
		p      rule.CountParams
		fids   []int64 // nil: no finding
		weight float64
	}{
		{"fire only, below", rule.CountParams{Min: 2.5, Window: time.Hour, Kinds: []string{"fire"}}, nil, 0},
		{"fire and flood, reaches 2.5", rule.CountParams{Min: 2.5, Window: time.Hour, Kinds: []string{"fire", "flood"}}, []int64{1, 2, 3}, 2.5},
		{"fire and flood, below 2.6", rule.CountParams{Min: 2.6, Window: time.Hour, Kinds: []string{"flood", "fire"}}, nil, 0},
		{"all kinds", rule.CountParams{Min: 12.5, Window: time.Hour}, []int64{1, 2, 3, 4}, 12.5},
		{"kind nobody reports", rule.CountParams{Min: 0.1, Window: time.Hour, Kinds: []string{"vessel"}}, nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := eval(mustCount(t, tc.p), now, watch(10), obs)
			switch {
			case tc.fids == nil && got != nil:
				t.Errorf("Evaluate = %+v, want no finding", got)
			case tc.fids != nil && (len(got) != 1 || !slices.Equal(got[0].FIDs, tc.fids) || got[0].Weight != tc.weight):
				t.Errorf("Evaluate = %+v, want FIDs %v weight %v", got, tc.fids, tc.weight)
			}
		})
	}
}

func TestCountFinding(t *testing.T) {
	a, b := ob(7, east(2), 30*time.Minute), ob(3, east(6), 10*time.Minute)
	b.Weight = 3
	c2 := ob(5, orb.Point{east(4).Lon(), 0.01}, 20*time.Minute)
	c2.Weight = 0 // counts in the hull and FIDs, not in the weight or centre
	got := eval(mustCount(t, rule.CountParams{Min: 4, Window: time.Hour}), now, watch(10), []monitor.Observation{b, c2, a})
	if len(got) != 1 {
		t.Fatalf("Evaluate = %+v, want one finding", got)
	}
	f := got[0]
	if f.Count != 3 || f.Weight != 4 {
		t.Errorf("Count, Weight = %d, %v, want 3, 4", f.Count, f.Weight)
	}
	if want := east(5); geo.Distance(f.Center, want) > 0.01 { // (1×2 km + 3×6 km) / 4
		t.Errorf("Center = %v, want %v", f.Center, want)
	}
	if !f.FirstSeen.Equal(now.Add(-30*time.Minute)) || !f.LastSeen.Equal(now.Add(-10*time.Minute)) {
		t.Errorf("FirstSeen, LastSeen = %v, %v, want now-30m, now-10m", f.FirstSeen, f.LastSeen)
	}
	if !slices.Equal(f.FIDs, []int64{3, 5, 7}) {
		t.Errorf("FIDs = %v, want [3 5 7]", f.FIDs)
	}
	wantHull := orb.Polygon{{east(2), east(6), c2.Point, east(2)}}
	if !reflect.DeepEqual(f.Hull, wantHull) {
		t.Errorf("Hull = %v, want %v", f.Hull, wantHull)
	}
}

// TestCountOrderIndependent checks that shuffled input gives the identical finding,
// down to the last bit of the weight and centre.
func TestCountOrderIndependent(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	obs := make([]monitor.Observation, 500)
	for i := range obs {
		obs[i] = ob(int64(i+1), orb.Point{r.Float64()*0.2 - 0.1, r.Float64()*0.2 - 0.1}, time.Duration(r.Int64N(int64(time.Hour))))
		obs[i].Weight = r.Float64()
	}
	c := mustCount(t, rule.CountParams{Min: 10, Window: time.Hour})
	want := eval(c, now, watch(10), obs)
	for range 5 {
		r.Shuffle(len(obs), func(i, j int) { obs[i], obs[j] = obs[j], obs[i] })
		if got := eval(c, now, watch(10), obs); !reflect.DeepEqual(got, want) {
			t.Fatalf("shuffled input: Evaluate = %+v, want %+v", got, want)
		}
	}
}

func TestCountAcrossAntimeridian(t *testing.T) {
	w := &monitor.Watch{Center: orb.Point{180, 10}, RadiusMeters: 50e3}
	obs := []monitor.Observation{
		ob(1, orb.Point{179.9, 10}, time.Minute),
		ob(2, orb.Point{-179.9, 10}, time.Minute),
		ob(3, orb.Point{-179.9, 10.1}, time.Minute),
	}
	got := eval(mustCount(t, rule.CountParams{Min: 3, Window: time.Hour}), now, w, obs)
	if len(got) != 1 {
		t.Fatalf("Evaluate = %+v, want one finding", got)
	}
	if d := geo.Distance(got[0].Center, orb.Point{-179.9667, 10.0333}); d > 200 {
		t.Errorf("Center = %v, %.0f m from the points' mean", got[0].Center, d)
	}
	if b := got[0].Hull.Bound(); b.Max.Lon()-b.Min.Lon() > 1 {
		t.Errorf("Hull spans %v: it wrapped around the globe", b)
	}
}
