package replay

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/geowatch/geowatch/geo"
	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/monitor/source/geojson"
	"github.com/paulmach/orb"
)

const scenario = "../../../configs/scenario/vladivostok.geojson"

var scenarioOptions = Options{GeoJSON: geojson.Options{KindProperty: "kind"}}

type collector struct {
	batches []monitor.Batch
	err     error
}

func (c *collector) emit(_ context.Context, b monitor.Batch) error {
	if c.err != nil {
		return c.err
	}
	c.batches = append(c.batches, b)
	return nil
}

func (c *collector) observations() []monitor.Observation {
	var obs []monitor.Observation
	for _, b := range c.batches {
		obs = append(obs, b.Observations...)
	}
	return obs
}

func TestScenarioRebased(t *testing.T) {
	src, err := Open(scenario, scenarioOptions)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)
	var c collector
	if err := src.Pull(t.Context(), now, c.emit); err != nil {
		t.Fatal(err)
	}
	if len(c.batches) != 1 || c.batches[0].Origin != scenario {
		t.Fatalf("batches = %d, want 1 from %s", len(c.batches), scenario)
	}
	b := c.batches[0]
	if len(b.Observations) != 121 || len(b.Rejects) != 0 {
		t.Fatalf("%d observations, %d rejects; want 121, 0", len(b.Observations), len(b.Rejects))
	}
	ids := make(map[string]bool)
	first, last := b.Observations[0].Time, b.Observations[0].Time
	for _, o := range b.Observations {
		if err := o.Validate(); err != nil {
			t.Errorf("%s: %v", o.ID, err)
		}
		if ids[o.ID] || !strings.HasPrefix(o.ID, "scn-") {
			t.Errorf("id %q repeated or not scn-", o.ID)
		}
		ids[o.ID] = true
		if o.Kind == "" || o.Place == "" || o.Title == "" {
			t.Errorf("%s: kind %q, place %q, title %q; want all set", o.ID, o.Kind, o.Place, o.Title)
		}
		first, last = minTime(first, o.Time), maxTime(last, o.Time)
	}
	if !last.Equal(now) {
		t.Errorf("last event at %v, want now %v", last, now)
	}
	if span := last.Sub(first); span < 11*time.Hour || span > 12*time.Hour {
		t.Errorf("span = %v, want about 12h", span)
	}
	// The recording ends 2019-04-24T17:59+10:00.
	if off, ok := src.Offset(); !ok || off != now.Sub(time.Date(2019, 4, 24, 7, 59, 0, 0, time.UTC)) {
		t.Errorf("Offset = %v, %v", off, ok)
	}
	// Everything is delivered: later pulls emit nothing.
	if err := src.Pull(t.Context(), now.Add(time.Hour), c.emit); err != nil || len(c.batches) != 1 {
		t.Errorf("second pull: %v, %d batches; want nothing new", err, len(c.batches))
	}
}

// TestScenarioFires checks the data against the demo watches' rules: a count
// rule (at least min of the kind within the radius in a window) and a DBSCAN
// cluster rule, which fires when some point has min_points within eps in the
// window (a core point), and that the background reports alone fire neither.
func TestScenarioFires(t *testing.T) {
	src, err := Open(scenario, scenarioOptions)
	if err != nil {
		t.Fatal(err)
	}
	var c collector
	if err := src.Pull(t.Context(), time.Now(), c.emit); err != nil {
		t.Fatal(err)
	}
	all := c.observations()
	vladivostok := geo.Circle{Center: orb.Point{131.8855, 43.1155}, RadiusMeters: 50e3}
	border := geo.Circle{Center: orb.Point{130.646, 42.418}, RadiusMeters: 25e3}
	const eps = 2e3

	police := filter(all, vladivostok, "police_presence")
	if n := maxInWindow(police, 6*time.Hour); n < 5 {
		t.Errorf("Vladivostok: at most %d police_presence in 6h, want >= 5", n)
	}
	if n := maxCore(filter(all, vladivostok, ""), eps, 12*time.Hour); n < 4 {
		t.Errorf("Vladivostok: densest point has %d within 2 km in 12h, want >= 4", n)
	}
	if n := maxCore(police, eps, 12*time.Hour); n < 4 {
		t.Errorf("Vladivostok police_presence: densest point has %d within 2 km in 12h, want >= 4", n)
	}
	rail := filter(all, border, "rail_activity")
	if n := maxInWindow(rail, 6*time.Hour); n < 5 {
		t.Errorf("Khasan-Tumangang: at most %d rail_activity in 6h, want >= 5", n)
	}
	if n := maxCore(rail, eps, 12*time.Hour); n < 4 {
		t.Errorf("Khasan-Tumangang: densest point has %d within 2 km in 12h, want >= 4", n)
	}

	var background []monitor.Observation
	for _, o := range all {
		if strings.Contains(string(o.Properties), `"thread":"background"`) {
			background = append(background, o)
		}
	}
	if len(background) < 20 {
		t.Fatalf("%d background reports, want the noise", len(background))
	}
	for _, w := range []geo.Circle{vladivostok, border} {
		for _, kind := range []string{"police_presence", "rail_activity"} {
			if n := len(filter(background, w, kind)); n > 0 {
				t.Errorf("background has %d %s within %v", n, kind, w.Center)
			}
		}
		if n := maxCore(filter(background, w, ""), eps, 12*time.Hour); n >= 4 {
			t.Errorf("background near %v: a point has %d within 2 km, want < 4", w.Center, n)
		}
	}
	if n := maxCore(background, eps, 24*time.Hour); n >= 4 {
		t.Errorf("background anywhere: a point has %d within 2 km, want < 4", n)
	}
}

// filter keeps the observations within the circle grown by the cluster eps and,
// if kind is set, of that kind.
func filter(obs []monitor.Observation, c geo.Circle, kind string) []monitor.Observation {
	c.RadiusMeters += 2e3
	var out []monitor.Observation
	for _, o := range obs {
		if c.Contains(o.Point) && (kind == "" || o.Kind == kind) {
			out = append(out, o)
		}
	}
	return out
}

// maxInWindow is the most observations in any window ending at one of them.
func maxInWindow(obs []monitor.Observation, window time.Duration) int {
	best := 0
	for _, end := range obs {
		n := 0
		for _, o := range obs {
			if !o.Time.After(end.Time) && end.Time.Sub(o.Time) < window {
				n++
			}
		}
		best = max(best, n)
	}
	return best
}

// maxCore is the largest eps-neighbourhood (the point itself included) of any
// point, counting only observations in the window ending at that point.
func maxCore(obs []monitor.Observation, eps float64, window time.Duration) int {
	best := 0
	for _, p := range obs {
		n := 0
		for _, o := range obs {
			if geo.Distance(p.Point, o.Point) <= eps && !o.Time.After(p.Time) && p.Time.Sub(o.Time) < window {
				n++
			}
		}
		best = max(best, n)
	}
	return best
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// recording has events at 12:00, 12:06 and 12:10 UTC, and one bad feature.
const recording = `{"type":"FeatureCollection","features":[
{"type":"Feature","id":"c","geometry":{"type":"Point","coordinates":[130.64,42.43]},"properties":{"time":"2019-04-24T12:10:00Z"}},
{"type":"Feature","id":"a","geometry":{"type":"Point","coordinates":[130.64,42.43]},"properties":{"time":"2019-04-24T12:00:00Z"}},
{"type":"Feature","id":"b","geometry":{"type":"Point","coordinates":[130.64,42.43]},"properties":{"time":"2019-04-24T12:06:00Z"}},
{"type":"Feature","id":"x","geometry":{"type":"Point","coordinates":[130.64,142.43]},"properties":{"time":"2019-04-24T12:06:00Z"}}
]}`

func TestPullLead(t *testing.T) {
	src, err := New([]byte(recording), "recording", Options{Lead: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var c collector
	// c falls at now+5m, b at now+1m, a at now-5m.
	for _, step := range []struct {
		at      time.Duration
		batches int
		ids     string
	}{
		{0, 1, "a"},
		{30 * time.Second, 1, "a"},
		{time.Minute, 2, "a b"},
		{5 * time.Minute, 3, "a b c"},
		{10 * time.Minute, 3, "a b c"},
	} {
		if err := src.Pull(t.Context(), now.Add(step.at), c.emit); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, o := range c.observations() {
			ids = append(ids, o.ID)
			if o.Time.After(now.Add(step.at)) {
				t.Errorf("%s emitted at now+%v for %v, in the future", o.ID, step.at, o.Time)
			}
		}
		if got := strings.Join(ids, " "); len(c.batches) != step.batches || got != step.ids {
			t.Errorf("now+%v: %d batches with %q, want %d with %q", step.at, len(c.batches), got, step.batches, step.ids)
		}
	}
	if got, want := c.observations()[2].Time, now.Add(5*time.Minute); !got.Equal(want) {
		t.Errorf("last event at %v, want now+lead %v", got, want)
	}
	if r := c.batches[0].Rejects; len(r) != 1 || r[0].Record != "feature 3 (x)" {
		t.Errorf("first batch rejects = %+v, want feature 3 (x)", r)
	}
	if len(c.batches[1].Rejects)+len(c.batches[2].Rejects) != 0 {
		t.Error("rejects sent again")
	}
}

func TestPullEmitFails(t *testing.T) {
	src, err := New([]byte(recording), "recording", Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	down := &collector{err: errors.New("store down")}
	if err := src.Pull(t.Context(), now, down.emit); !errors.Is(err, down.err) {
		t.Fatalf("Pull = %v, want the emit error", err)
	}
	var c collector
	if err := src.Pull(t.Context(), now.Add(time.Minute), c.emit); err != nil {
		t.Fatal(err)
	}
	if len(c.batches) != 1 || len(c.batches[0].Observations) != 3 || len(c.batches[0].Rejects) != 1 {
		t.Errorf("after a refused batch: %+v, want everything offered again", c.batches)
	}
	// The offset was fixed by the first pull, not the retry.
	if got := c.batches[0].Observations[2].Time; !got.Equal(now) {
		t.Errorf("last event at %v, want the first pull's now %v", got, now)
	}
}

func TestNewNotGeoJSON(t *testing.T) {
	if _, err := New([]byte("<html>"), "page", Options{}); !errors.Is(err, geojson.ErrNotGeoJSON) {
		t.Errorf("New = %v, want ErrNotGeoJSON", err)
	}
	if _, err := Open("testdata/missing.geojson", Options{}); err == nil {
		t.Error("Open of a missing file succeeded")
	}
}
