package rule_test

import (
	"math"
	"testing"
	"time"

	"github.com/geowatch/geowatch/geo"
	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/monitor/rule"
	"github.com/paulmach/orb"
)

// corridorWatch is a 200 km corridor due east along the equator, 5 km wide.
func corridorWatch(t testing.TB) *monitor.Watch {
	t.Helper()
	c, err := geo.NewCorridor(orb.MultiLineString{{east(0), east(100), east(200)}}, 5000)
	if err != nil {
		t.Fatal(err)
	}
	return &monitor.Watch{Name: "line", Shape: c, Center: c.Midpoint()}
}

func mustProgression(t testing.TB, p rule.ProgressionParams) *rule.Progression {
	t.Helper()
	r, err := rule.NewProgression(p)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// journey plants 3 reports at each position (km along the equator), the
// i-th step ago[i] before now.
func journey(kms []float64, ago []time.Duration) []monitor.Observation {
	var obs []monitor.Observation
	fid := int64(1)
	for i, km := range kms {
		for j := range 3 {
			p := east(km + 0.3*float64(j))
			obs = append(obs, ob(fid, orb.Point{p.Lon(), 0.005 * float64(j)}, ago[i]-time.Duration(j)*time.Minute))
			fid++
		}
	}
	return obs
}

func TestProgressionAlongTheLine(t *testing.T) {
	r := mustProgression(t, rule.ProgressionParams{Window: 12 * time.Hour, MinGapMeters: 20000,
		MinSpeed: 20 / 3.6, MaxSpeed: 120 / 3.6,
		Places: []rule.Place{{Name: "Midtown", Point: east(125)}, {Name: "Terminus", Point: east(200)}}})
	w := corridorWatch(t)
	// 60 km/h: 30 km every 30 minutes.
	kms := []float64{10, 40, 70, 100}
	ago := []time.Duration{2 * time.Hour, 90 * time.Minute, time.Hour, 30 * time.Minute}
	fs := eval(r, now, w, journey(kms, ago))
	if len(fs) != 1 || fs[0].Progression == nil {
		t.Fatalf("findings %+v, want one progression", fs)
	}
	p := fs[0].Progression
	if len(p.Steps) != 4 || p.Direction != rule.DirectionForward {
		t.Fatalf("steps %+v, want 4 forward", p.Steps)
	}
	if math.Abs(p.SpeedKmh-60) > 2 {
		t.Errorf("speed %.1f km/h, want about 60", p.SpeedKmh)
	}
	if p.Next == nil || p.Next.Place != "Midtown" || math.Abs(p.Next.AlongKm-125) > 0.5 {
		t.Fatalf("next %+v, want Midtown at km 125", p.Next)
	}
	// 25 km beyond the last step at 60 km/h: 25 minutes after it.
	if got, want := p.Next.At, now.Add(-30*time.Minute+25*time.Minute); got.Sub(want).Abs() > 3*time.Minute {
		t.Errorf("next at %v, want about %v", got, want)
	}
	if p.End == nil || p.End.Place != "Terminus" {
		t.Errorf("end %+v, want Terminus", p.End)
	}

	// The same reports with the positions shuffled in time do not move along.
	if fs := eval(r, now, w, journey([]float64{70, 10, 100, 40}, ago)); len(fs) != 0 {
		t.Errorf("shuffled: %+v, want nothing", fs[0].Progression)
	}
	// At 1,000 km/h (30 km in 108 s) the steps are too fast.
	fast := []time.Duration{2 * time.Hour, 2*time.Hour - 108*time.Second, 2*time.Hour - 216*time.Second, 2*time.Hour - 324*time.Second}
	if fs := eval(r, now, w, journey(kms, fast)); len(fs) != 0 {
		t.Errorf("1000 km/h: %+v, want nothing", fs[0].Progression)
	}
	// Backward travel fires only with direction either (or backward).
	back := []float64{100, 70, 40, 10}
	if fs := eval(r, now, w, journey(back, ago)); len(fs) != 0 {
		t.Errorf("backward with direction forward: %+v, want nothing", fs[0].Progression)
	}
	either := mustProgression(t, rule.ProgressionParams{Window: 12 * time.Hour, MinGapMeters: 20000,
		MinSpeed: 20 / 3.6, MaxSpeed: 120 / 3.6, Direction: rule.DirectionEither})
	if fs := eval(either, now, w, journey(back, ago)); len(fs) != 1 || fs[0].Progression.Direction != rule.DirectionBackward {
		t.Errorf("backward with direction either: %+v, want a backward progression", fs)
	}
}
