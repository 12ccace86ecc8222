package monitor_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/geowatch/geowatch/geo"
	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/store/sqlite"
	"github.com/paulmach/orb"
	"go.uber.org/zap"
)

// TestRecentMatchesStore writes random batches through the engine into a real
// store (new records, records moved in space and time, unchanged repeats,
// rejects, a shared id namespace, retention) and asserts after every step that
// the engine's in-memory answer to random radius, polygon and window questions
// is exactly the store's.
func TestRecentMatchesStore(t *testing.T) {
	ctx := t.Context()
	st, e := recentEngine(t, filepath.Join(t.TempDir(), "recent.gpkg"))
	now := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	rng := rand.New(rand.NewPCG(11, 12))
	kinds := []string{"fire", "flood", "news"}
	// Points near Vladivostok and across the antimeridian, at times within and
	// before the window, to the nanosecond (the store keeps milliseconds).
	point := func() orb.Point {
		if rng.IntN(4) == 0 {
			return orb.Point{179.5 + rng.Float64()*-1 + rng.Float64(), 60 + rng.Float64()} // both sides of 180°
		}
		return orb.Point{131 + 2*rng.Float64(), 42.5 + 1.5*rng.Float64()}
	}
	record := func(id int) monitor.Observation {
		p := point()
		if p.Lon() > 180 {
			p[0] -= 360
		}
		return monitor.Observation{ID: fmt.Sprintf("r%d", id), Time: now.Add(-time.Duration(rng.Int64N(int64(72 * time.Hour)))),
			Point: p, Kind: kinds[rng.IntN(len(kinds))], Weight: float64(1 + rng.IntN(3)), Precision: monitor.Precision(rng.IntN(4))}
	}
	ingest := func(source, ns string, obs []monitor.Observation) {
		t.Helper()
		if _, err := e.Ingest(ctx, source, monitor.Batch{Namespace: ns, Observations: obs}, now); err != nil {
			t.Fatal(err)
		}
	}
	batch := func(n, ids int) []monitor.Observation {
		obs := make([]monitor.Observation, n)
		for i := range obs {
			obs[i] = record(rng.IntN(ids))
		}
		return obs
	}
	check := func(step string) {
		t.Helper()
		for q := range 60 {
			c := geo.Circle{Center: point(), RadiusMeters: float64(5_000 + rng.IntN(150_000))}
			var area monitor.Shape = c
			if q%3 == 0 {
				area = geo.NewPolygon(orb.MultiPolygon{c.Polygon(7)})
			}
			query := monitor.Query{Area: area, Since: now.Add(-time.Duration(rng.Int64N(int64(48 * time.Hour)))), Until: now}
			if q%4 == 0 {
				query.Kinds = kinds[:1+rng.IntN(2)]
			}
			if q%5 == 0 {
				query.Until = now.Add(-time.Duration(rng.Int64N(int64(24*time.Hour))) - 123456)
			}
			got, ok := e.RecentQuery(query)
			if !ok {
				t.Fatalf("%s: query %d not answered from memory", step, q)
			}
			want, err := st.Observations(ctx, query)
			if err != nil {
				t.Fatal(err)
			}
			if !sameRows(got, want) {
				t.Fatalf("%s: query %d (%+v): memory has %d rows, the store %d\nmemory: %v\nstore:  %v", step, q, query, len(got), len(want), got, want)
			}
		}
	}

	ingest("a", "", batch(3000, 2000))
	if _, ok := e.RecentQuery(monitor.Query{Area: monitor.World{}, Since: now.Add(-time.Hour)}); ok {
		t.Fatal("answered from memory before any load")
	}
	// Writes committed while the load runs wait and apply after its rows.
	err := e.LoadRecentWith(ctx, now.Add(-50*time.Hour), func() {
		ingest("a", "", batch(500, 2500))
	})
	if err != nil {
		t.Fatal(err)
	}
	check("loaded")
	for round := range 5 {
		ingest("a", "", batch(800, 3000)) // new ids, moved ones, unchanged repeats
		bad := record(rng.IntN(3000))
		bad.Point = orb.Point{200, 95}
		ingest("a", "", []monitor.Observation{bad})
		ingest("b", "shared", batch(200, 300))
		ingest("c", "shared", batch(200, 300)) // updates b's rows: they keep source b
		check(fmt.Sprintf("round %d", round))
	}
	// Retention: the engine forgets what the store prunes.
	before := now.Add(-30 * time.Hour)
	e.Forget(before)
	if _, err := st.Prune(ctx, before, 0); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.RecentQuery(monitor.Query{Area: monitor.World{}, Since: now.Add(-40 * time.Hour)}); ok {
		t.Fatal("answered from memory before the pruned horizon")
	}
	got, _ := e.RecentQuery(monitor.Query{Area: monitor.World{}, Since: before})
	want, err := st.Observations(ctx, monitor.Query{Area: monitor.World{}, Since: before})
	if err != nil || !sameRows(got, want) || len(want) == 0 {
		t.Fatalf("after retention: memory %d rows, store %d (%v)", len(got), len(want), err)
	}
}

// TestEvaluateLoadsRecent checks that an engine that was not preloaded loads
// its recent index on its first evaluation, in the background, and answers the
// next ones from memory with the alerts the store's answers gave.
func TestEvaluateLoadsRecent(t *testing.T) {
	ctx := t.Context()
	_, e := recentEngine(t, filepath.Join(t.TempDir(), "recent.gpkg"))
	now := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	w := countWatch(t, monitor.NamedRule{})
	var obs []monitor.Observation
	for i := range 5 {
		obs = append(obs, monitor.Observation{ID: fmt.Sprint(i), Time: now.Add(-time.Duration(i+1) * time.Minute), Point: w.Center})
	}
	if _, err := e.Ingest(ctx, "s", monitor.Batch{Observations: obs}, now); err != nil {
		t.Fatal(err)
	}
	if err := e.Evaluate(ctx, w, now); err != nil {
		t.Fatal(err)
	}
	e.WaitRecent()
	q := monitor.Query{Area: w.QueryArea(), Since: now.Add(-time.Hour), Until: now}
	got, ok := e.RecentQuery(q)
	if !ok || len(got) != 5 {
		t.Fatalf("after the first evaluation memory answers %v with %d rows, want 5", ok, len(got))
	}
	if err := e.Evaluate(ctx, w, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if open := e.OpenAlerts(); len(open) != 1 || open[0].Finding.Count != 5 {
		t.Fatalf("open alerts %+v, want one of 5", open)
	}
}

// sameRows reports whether two answers hold the same rows in the same order,
// every field equal.
func sameRows(a, b []monitor.Observation) bool {
	return len(a) == len(b) && (len(a) == 0 || reflect.DeepEqual(a, b))
}

// TestRecentLimit checks that an engine whose recent observations outgrow its
// limit stops answering from memory and still evaluates from the store.
func TestRecentLimit(t *testing.T) {
	ctx := t.Context()
	_, e := recentEngine(t, filepath.Join(t.TempDir(), "recent.gpkg"))
	e.SetRecentLimit(4)
	now := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	w := countWatch(t, monitor.NamedRule{})
	ingest := func(ids ...string) {
		var b monitor.Batch
		for _, id := range ids {
			b.Observations = append(b.Observations, monitor.Observation{ID: id, Time: now.Add(-time.Minute), Point: w.Center})
		}
		if _, err := e.Ingest(ctx, "s", b, now); err != nil {
			t.Fatal(err)
		}
	}
	ingest("1", "2", "3")
	if err := e.Preload(ctx, []*monitor.Watch{w}, now); err != nil {
		t.Fatal(err)
	}
	q := monitor.Query{Area: w.QueryArea(), Since: now.Add(-time.Hour), Until: now}
	if got, ok := e.RecentQuery(q); !ok || len(got) != 3 {
		t.Fatalf("under the limit: memory answers %v with %d rows, want 3", ok, len(got))
	}
	ingest("4", "5")
	if _, ok := e.RecentQuery(q); ok {
		t.Fatal("past the limit, memory still answers")
	}
	if err := e.Evaluate(ctx, w, now); err != nil {
		t.Fatal(err)
	}
	if open := e.OpenAlerts(); len(open) != 1 || open[0].Finding.Count != 5 {
		t.Fatalf("open alerts %+v, want one of 5 from the store", open)
	}
}

// TestRecentSeesForeignWrites checks that rows another handle on the same file
// writes (as geowatch ingest in another process does) reach the engine's
// evaluations within foreignCheck, while its own writes never reload it.
func TestRecentSeesForeignWrites(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "recent.gpkg")
	st, e := recentEngine(t, path)
	other, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	now := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	w := countWatch(t, monitor.NamedRule{})
	batch := func(ids ...string) monitor.Batch {
		var b monitor.Batch
		for _, id := range ids {
			b.Observations = append(b.Observations, monitor.Observation{ID: id, Time: now.Add(-time.Minute), Point: w.Center})
		}
		return b
	}
	count := func(at time.Time) int {
		t.Helper()
		if err := e.Evaluate(ctx, w, at); err != nil {
			t.Fatal(err)
		}
		open := e.OpenAlerts()
		if len(open) != 1 {
			t.Fatalf("open alerts %+v, want one", open)
		}
		return open[0].Finding.Count
	}
	if _, err := e.Ingest(ctx, "s", batch("1", "2", "3"), now); err != nil {
		t.Fatal(err)
	}
	if err := e.Preload(ctx, []*monitor.Watch{w}, now); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Ingest(ctx, "s", batch("4"), now); err != nil {
		t.Fatal(err)
	}
	if n, err := st.ForeignWrites(ctx); err != nil || n != 0 {
		t.Fatalf("the engine's own writes count as %d foreign (%v)", n, err)
	}
	if got := count(now); got != 4 {
		t.Fatalf("count %d, want 4", got)
	}
	q := monitor.Query{Area: w.QueryArea(), Since: now.Add(-time.Hour), Until: now}
	if _, ok := e.RecentQuery(q); !ok {
		t.Fatal("own writes made the engine drop its memory")
	}
	if _, err := other.Ingest(ctx, "s", batch("5", "6"), now); err != nil {
		t.Fatal(err)
	}
	if got := count(now.Add(2 * time.Second)); got != 6 {
		t.Fatalf("after another handle's write, count %d, want 6", got)
	}
	e.WaitRecent()
	if got, ok := e.RecentQuery(q); !ok || len(got) != 6 {
		t.Fatalf("after the reload memory answers %v with %d rows, want 6", ok, len(got))
	}
	// Another process's prune too.
	if _, err := other.Prune(ctx, now, 0); err != nil {
		t.Fatal(err)
	}
	if err := e.Evaluate(ctx, w, now.Add(4*time.Second)); err != nil {
		t.Fatal(err)
	}
	e.WaitRecent()
	if got, ok := e.RecentQuery(q); !ok || len(got) != 0 {
		t.Fatalf("after the prune memory answers %v with %d rows, want 0", ok, len(got))
	}
}

// recentEngine opens a store at path and an engine on it, both closed when t ends.
func recentEngine(t *testing.T, path string) (*sqlite.DB, *monitor.Engine) {
	t.Helper()
	st, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e, err := monitor.NewEngine(t.Context(), st, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(context.Background()) })
	return st, e
}
