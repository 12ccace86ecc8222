package monitor_test

import (
	"bytes"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/monitor/source/csv"
	"github.com/paulmach/orb"
)

func ids(obs []*monitor.Observation) []string {
	var out []string
	for _, o := range obs {
		out = append(out, o.Source+"/"+o.ID)
	}
	return out
}

func TestCollapseNearDuplicates(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)
	vlad := orb.Point{131.8855, 43.1155}
	east := func(m float64) orb.Point { return orb.Point{vlad.Lon() + m/81_000, vlad.Lat()} } // ~81 km per degree at 43°N
	o := func(src, id, kind string, p orb.Point, after time.Duration) monitor.Observation {
		return monitor.Observation{Source: src, ID: id, Kind: kind, Point: p, Time: t0.Add(after)}
	}
	obs := []monitor.Observation{
		o("wire", "b", "protest", east(500), 10*time.Minute), // a second report of a: 500 m, 10 min
		o("wire", "a", "protest", vlad, 0),
		o("wire", "c", "protest", east(5000), 5*time.Minute),  // 5 km away: another event
		o("wire", "d", "riot", vlad, 2*time.Minute),           // another kind
		o("wire", "e", "protest", vlad, 2*time.Hour),          // after the window: another event
		o("blog", "a", "protest", vlad, 0),                    // same time as wire/a: blog sorts first
		o("wire", "f", "protest", east(900), 50*time.Minute),  // near c? no, 4.1 km; near a: 900 m, 50 min
		o("wire", "g", "protest", east(1900), 55*time.Minute), // 1 km from f, 1.9 km from a: kept (no chaining)
	}
	in := slices.Clone(obs)
	got := ids(monitor.CollapseNearDuplicates(ptrs(obs), 1000, time.Hour))
	want := []string{"blog/a", "wire/d", "wire/c", "wire/g", "wire/e"}
	if !slices.Equal(got, want) {
		t.Errorf("collapsed = %v, want %v", got, want)
	}
	if !slices.EqualFunc(obs, in, func(a, b monitor.Observation) bool { return a.ID == b.ID && a.Source == b.Source }) {
		t.Error("the input was reordered")
	}
	// Any input order gives the same answer.
	r := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		r.Shuffle(len(obs), func(i, j int) { obs[i], obs[j] = obs[j], obs[i] })
		if again := ids(monitor.CollapseNearDuplicates(ptrs(obs), 1000, time.Hour)); !slices.Equal(again, want) {
			t.Fatalf("shuffled input: %v, want %v", again, want)
		}
	}
	if got := monitor.CollapseNearDuplicates(ptrs(obs), 1000, 0); len(got) != len(obs) {
		t.Errorf("window 0 kept %d of %d, want all", len(got), len(obs))
	}
	if got := monitor.CollapseNearDuplicates(nil, 1000, time.Hour); len(got) != 0 {
		t.Errorf("nil input gave %d", len(got))
	}
	if (monitor.Dedupe{}).Enabled() || !(monitor.Dedupe{Within: 0, Window: time.Hour}).Enabled() {
		t.Error("Dedupe.Enabled: the zero value must be off, a window on")
	}
}

// TestCollapseGDELT collapses the real GDELT 2.0 file, where one event is
// coded from many articles: every row has the same DATEADDED, so with a zero
// distance the rows left are the distinct (EventCode, ActionGeo point) pairs,
// counted here independently of the function.
func TestCollapseGDELT(t *testing.T) {
	data, err := os.ReadFile("../../shared/data/gdelt/gdelt2_20191024143000.export.CSV")
	if err != nil {
		t.Skipf("real data absent (%v)", err)
	}
	b, err := csv.Parse(bytes.NewReader(data), csv.Options{Preset: "gdelt2"})
	if err != nil {
		t.Fatal(err)
	}
	distinct := map[[3]any]bool{}
	for _, o := range b.Observations {
		distinct[[3]any{o.Kind, o.Point.Lon(), o.Point.Lat()}] = true
	}
	same := monitor.CollapseNearDuplicates(ptrs(b.Observations), 0, 15*time.Minute)
	if len(same) != len(distinct) || len(same) >= len(b.Observations) {
		t.Errorf("collapsed at 0 m: %d of %d rows, want the %d distinct (kind, point) pairs", len(same), len(b.Observations), len(distinct))
	}
	near := monitor.CollapseNearDuplicates(ptrs(b.Observations), 25_000, 15*time.Minute)
	if len(near) > len(same) {
		t.Errorf("collapsed at 25 km: %d rows, more than at 0 m (%d)", len(near), len(same))
	}
	t.Logf("GDELT 20191024143000: %d rows stored, %d after collapsing same kind and point, %d within 25 km", len(b.Observations), len(same), len(near))
}

func ptrs(obs []monitor.Observation) []*monitor.Observation {
	out := make([]*monitor.Observation, len(obs))
	for i := range obs {
		out[i] = &obs[i]
	}
	return out
}
