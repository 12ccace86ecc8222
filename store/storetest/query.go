package storetest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/geowatch/geowatch/geo"
	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/store"
	"github.com/paulmach/orb"
)

func (c *contract) queryTests() []subtest {
	return []subtest{
		{"RoundTrip", testRoundTrip},
		{"BruteForce", testBruteForce},
		{"WindowBoundaries", testWindowBoundaries},
		{"Filters", testFilters},
		{"NoArea", testNoArea},
	}
}

// testRoundTrip: with Detail every field comes back as stored; without it
// only what rules read.
func testRoundTrip(t *testing.T, db store.Backend) {
	o := fullObservation("full")
	ingestAt(t, db, "src", monitor.Batch{Observations: []monitor.Observation{o}}, t0.Add(time.Hour+250*time.Millisecond))
	area := geo.Circle{Center: orb.Point{131.9, 43.1}, RadiusMeters: 1000}
	got, err := db.Observations(t.Context(), monitor.Query{Area: area, Since: t0, Until: t0.Add(time.Hour), Detail: true})
	if err != nil || len(got) != 1 {
		t.Fatalf("Observations = %v, %v; want one", got, err)
	}
	want := o
	want.FID, want.Source, want.Ingested = got[0].FID, "src", t0.Add(time.Hour+250*time.Millisecond)
	if got[0].FID <= 0 {
		t.Errorf("FID = %d, want a positive row id", got[0].FID)
	}
	if g, w := fmt.Sprintf("%+v", got[0]), fmt.Sprintf("%+v", want); g != w {
		t.Errorf("detail round trip:\n got %s\nwant %s", g, w)
	}
	if got[0].Time.Location() != time.UTC || got[0].Ingested.Location() != time.UTC {
		t.Errorf("times not in UTC: %v, %v", got[0].Time, got[0].Ingested)
	}
	if q := queryAll(t, db, store.QueryFilter{}); len(q) != 1 || fmt.Sprintf("%+v", q[0]) != fmt.Sprintf("%+v", want) {
		t.Errorf("Query round trip:\n got %+v\nwant %+v", q, want)
	}
	if q, err := db.ObservationsByFID(t.Context(), []int64{want.FID}); err != nil || len(q) != 1 || fmt.Sprintf("%+v", q[0]) != fmt.Sprintf("%+v", want) {
		t.Errorf("ObservationsByFID round trip = %+v, %v\nwant %+v", q, err, want)
	}

	got, err = db.Observations(t.Context(), monitor.Query{Area: area, Since: t0, Until: t0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	summary := monitor.Observation{FID: want.FID, Source: "src", ID: "full", Time: o.Time, Point: o.Point, Kind: "fire",
		Weight: 2.5, Precision: monitor.PrecisionCity}
	if len(got) != 1 || fmt.Sprintf("%+v", got[0]) != fmt.Sprintf("%+v", summary) {
		t.Errorf("summary round trip = %+v, want %+v", got, summary)
	}
	for _, kinds := range [][]string{{"fire"}, {"flood", "fire"}, {"flood"}, {""}} {
		got, err := db.Observations(t.Context(), monitor.Query{Area: area, Since: t0, Until: t0.Add(time.Hour), Kinds: kinds})
		if err != nil {
			t.Fatal(err)
		}
		if want := slices.Contains(kinds, "fire"); (len(got) == 1) != want {
			t.Errorf("Kinds %q: %d results", kinds, len(got))
		}
	}
	// A record without a kind is selected by no kinds filter, not even {""}.
	kindless := obs("kindless", 131.9, 43.1, t0)
	kindless.Kind = ""
	ingest(t, db, "src", monitor.Batch{Observations: []monitor.Observation{kindless}})
	if got, err := db.Observations(t.Context(), monitor.Query{Area: area, Kinds: []string{"", "fire"}}); err != nil || len(got) != 1 || got[0].ID != "full" {
		t.Errorf("Observations(kinds \"\", fire) = %+v, %v; want only the fire", got, err)
	}
	if got := queryAll(t, db, store.QueryFilter{Kinds: []string{""}}); len(got) != 0 {
		t.Errorf("Query(kinds \"\") = %+v, want none", got)
	}
	if got := byID(t, db, "src", "kindless"); got.Kind != "" {
		t.Errorf("kind = %q, want none", got.Kind)
	}
	// Every precision round-trips; a point geometry is the point, and reads
	// back as none.
	for p := monitor.PrecisionExact; p <= monitor.PrecisionCountry; p++ {
		o := obs(fmt.Sprintf("p%d", p), -60, -30, t0)
		o.Precision, o.Geometry = p, orb.Point{-60, -30}
		ingest(t, db, "prec", monitor.Batch{Observations: []monitor.Observation{o}})
		if got := byID(t, db, "prec", o.ID); got.Precision != p || got.Geometry != nil {
			t.Errorf("precision %v: got %v, geometry %v", p, got.Precision, got.Geometry)
		}
	}
}

// shapeCase is a query area of the brute-force test.
type shapeCase struct {
	name string
	area monitor.Shape
}

// hole is a square polygon with a square hole in it, and points exactly on
// its rings.
var (
	holeOuter = orb.Ring{{2, 42}, {18, 42}, {18, 58}, {2, 58}, {2, 42}}
	holeInner = orb.Ring{{6, 46}, {14, 46}, {14, 54}, {6, 54}, {6, 46}}
	withHole  = geo.NewPolygon(orb.MultiPolygon{{holeOuter, holeInner}})
	// acrossAntimeridian is split at ±180 as GeoJSON asks, with a hole in its
	// east part.
	acrossAntimeridian = geo.NewPolygon(orb.MultiPolygon{
		{{{170, -5}, {180, -5}, {180, 5}, {170, 5}}, {{174, -2}, {177, -2}, {177, 2}, {174, 2}}},
		{{{-180, -5}, {-170, -5}, {-170, 5}, {-180, 5}}},
	})
)

// bruteForceData returns n observations from a fixed seed: clusters across the
// antimeridian, near the north pole, around the polygon with a hole and over
// East Asia, some anywhere; points exactly on the polygon's rings, at the
// edges of the map and repeated; times over 30 days at whole milliseconds,
// some shared.
func bruteForceData(n int) []monitor.Observation {
	rng := rand.New(rand.NewPCG(1, 2))
	start := t0.Add(-30 * 24 * time.Hour)
	var all []monitor.Observation
	for i := range n {
		var p orb.Point
		switch i % 5 {
		case 0:
			p = orb.Point{170 + rng.Float64()*20, rng.Float64()*20 - 10}
			if p[0] > 180 {
				p[0] -= 360
			}
		case 1:
			p = orb.Point{rng.Float64()*360 - 180, 85 + rng.Float64()*5}
		case 2:
			p = orb.Point{rng.Float64() * 20, 40 + rng.Float64()*20}
		case 3:
			p = orb.Point{100 + rng.Float64()*50, 20 + rng.Float64()*35}
		default:
			p = orb.Point{rng.Float64()*360 - 180, rng.Float64()*180 - 90}
		}
		at := start.Add(time.Duration(rng.Int64N(int64(30 * 24 * time.Hour)))).Truncate(time.Millisecond)
		if i%7 == 6 {
			at = all[i-1].Time // the same time: fid orders them
		}
		o := obs(fmt.Sprintf("r%05d", i), p[0], p[1], at)
		o.Kind = []string{"fire", "flood", "storm"}[i%3]
		o.Title = "t" + o.ID
		all = append(all, o)
	}
	special := []orb.Point{
		{2, 42}, {18, 50}, {10, 58}, {6, 46}, {14, 50}, {10, 54}, {10, 50}, // on the rings, and the hole's centre
		{180, 0}, {-180, 0}, {175.5, 2}, {179.999, 3}, {-179.999, -3}, {0, 90}, {0, -90}, {180, 90}, {-180, -90},
		{10, 50}, {10, 50}, {131.8855, 43.1155},
	}
	for i, p := range special {
		o := obs(fmt.Sprintf("s%02d", i), p[0], p[1], start.Add(time.Duration(i)*time.Hour))
		o.Kind, o.Title = "fire", "ts"
		all = append(all, o)
	}
	return all
}

// testBruteForce compares every query shape with a filter over what was
// ingested: circles (small, large, across the antimeridian, at a pole), a
// polygon with a hole, one split at the antimeridian and a buffered one,
// with open, long, odd and empty windows, kinds, sources and limits, through
// Observations and Query.
func testBruteForce(t *testing.T, db store.Backend) {
	all := bruteForceData(4000)
	source := func(i int) string { return []string{"a", "b"}[i/1000%2] }
	for i := 0; i < len(all); i += 1000 {
		ingest(t, db, source(i), monitor.Batch{Observations: all[i:min(i+1000, len(all))]})
	}
	// Index what was ingested by (source, id), and learn the fids.
	type key struct{ source, id string }
	ingested := map[key]monitor.Observation{}
	for i, o := range all {
		o.Source = source(i - i%1000)
		ingested[key{o.Source, o.ID}] = o
	}
	stored := queryAll(t, db, store.QueryFilter{})
	if len(stored) != len(all) {
		t.Fatalf("stored %d observations, want %d", len(stored), len(all))
	}
	for _, o := range stored {
		in, ok := ingested[key{o.Source, o.ID}]
		if !ok {
			t.Fatalf("stored %s/%s, never ingested", o.Source, o.ID)
		}
		in.FID, in.Ingested = o.FID, o.Ingested
		ingested[key{o.Source, o.ID}] = in
	}
	start := t0.Add(-30 * 24 * time.Hour)
	shapes := []shapeCase{
		{"circle 50km", geo.Circle{Center: orb.Point{131.8855, 43.1155}, RadiusMeters: 50e3}},
		{"circle 300km", geo.Circle{Center: orb.Point{10, 50}, RadiusMeters: 300e3}},
		{"circle 1000km", geo.Circle{Center: orb.Point{125, 40}, RadiusMeters: 1000e3}},
		{"circle 10m", geo.Circle{Center: orb.Point{10, 50}, RadiusMeters: 10}},
		{"antimeridian east 500km", geo.Circle{Center: orb.Point{179.5, 0}, RadiusMeters: 500e3}},
		{"antimeridian west 200km", geo.Circle{Center: orb.Point{-179.9, 5}, RadiusMeters: 200e3}},
		{"north pole 300km", geo.Circle{Center: orb.Point{0, 89}, RadiusMeters: 300e3}},
		{"south pole 500km", geo.Circle{Center: orb.Point{0, -90}, RadiusMeters: 500e3}},
		{"half the globe", geo.Circle{Center: orb.Point{0, 0}, RadiusMeters: 10000e3}},
		{"polygon with hole", withHole},
		{"polygon with hole buffered 50km", withHole.Buffered(50e3)},
		{"polygon across the antimeridian", acrossAntimeridian},
	}
	windows := []struct {
		name         string
		since, until time.Time
	}{
		{"open", time.Time{}, time.Time{}},
		{"30 days", start, t0},
		{"a week", t0.Add(-7 * 24 * time.Hour), t0},
		{"one day", t0.Add(-24 * time.Hour), t0},
		{"odd boundaries", all[3].Time, all[11].Time},
		{"open start", time.Time{}, all[20].Time},
		{"open end", all[20].Time, time.Time{}},
		{"empty", all[5].Time, all[5].Time},
		{"inverted", t0, start},
	}
	inWindow := func(o monitor.Observation, since, until time.Time) bool {
		return (since.IsZero() || !o.Time.Before(since)) && (until.IsZero() || o.Time.Before(until))
	}
	// check compares got with the brute force's keys, in (time, fid) order,
	// every field as ingested.
	check := func(t *testing.T, got []monitor.Observation, want map[key]bool, detail bool, limit int) {
		t.Helper()
		for i, o := range got {
			if i > 0 {
				p := got[i-1]
				if o.Time.Before(p.Time) || o.Time.Equal(p.Time) && o.FID <= p.FID {
					t.Fatalf("not in (time, fid) order at %d: %v/%d after %v/%d", i, o.Time, o.FID, p.Time, p.FID)
				}
			}
			in := ingested[key{o.Source, o.ID}]
			if !detail {
				in = monitor.Observation{FID: in.FID, Source: in.Source, ID: in.ID, Time: in.Time, Point: in.Point,
					Kind: in.Kind, Weight: 1, Precision: in.Precision}
			} else {
				in.Weight = 1
			}
			if !sameObservation(o, in) {
				t.Fatalf("result %d:\n got %+v\nwant %+v", i, o, in)
			}
		}
		if limit > 0 {
			if len(got) != min(limit, len(want)) {
				t.Errorf("%d results with limit %d, want %d", len(got), limit, min(limit, len(want)))
			}
			for _, o := range got {
				if !want[key{o.Source, o.ID}] {
					t.Errorf("%s/%s should not be selected", o.Source, o.ID)
				}
			}
			return
		}
		gotKeys := map[key]bool{}
		for _, o := range got {
			gotKeys[key{o.Source, o.ID}] = true
		}
		var missing, extra []string
		for k := range want {
			if !gotKeys[k] {
				missing = append(missing, k.source+"/"+k.id)
			}
		}
		for k := range gotKeys {
			if !want[k] {
				extra = append(extra, k.source+"/"+k.id)
			}
		}
		slices.Sort(missing)
		slices.Sort(extra)
		if len(missing) > 0 || len(extra) > 0 || len(got) != len(want) {
			t.Errorf("got %d, want %d (brute force); missing %.10v, extra %.10v", len(got), len(want), missing, extra)
		}
	}
	total := 0
	for _, sc := range shapes {
		t.Run(sc.name, func(t *testing.T) {
			for _, w := range windows {
				t.Run(w.name, func(t *testing.T) {
					for _, kinds := range [][]string{nil, {"fire", "storm"}} {
						want := map[key]bool{}
						for k, o := range ingested {
							if sc.area.Contains(o.Point) && inWindow(o, w.since, w.until) && (kinds == nil || slices.Contains(kinds, o.Kind)) {
								want[k] = true
							}
						}
						total += len(want)
						for _, detail := range []bool{false, true} {
							got, err := db.Observations(t.Context(), monitor.Query{Area: sc.area, Since: w.since, Until: w.until, Kinds: kinds, Detail: detail})
							if err != nil {
								t.Fatal(err)
							}
							check(t, got, want, detail, 0)
						}
						check(t, queryAll(t, db, store.QueryFilter{Area: sc.area, Since: w.since, Until: w.until, Kinds: kinds}), want, true, 0)
					}
					// Sources, and a limit: the first rows of the full answer.
					want := map[key]bool{}
					for k, o := range ingested {
						if sc.area.Contains(o.Point) && inWindow(o, w.since, w.until) && o.Source == "b" && o.Kind == "flood" {
							want[k] = true
						}
					}
					f := store.QueryFilter{Area: sc.area, Since: w.since, Until: w.until, Kinds: []string{"flood"}, Sources: []string{"b", "nobody"}}
					full := queryAll(t, db, f)
					check(t, full, want, true, 0)
					f.Limit = 5
					limited := queryAll(t, db, f)
					check(t, limited, want, true, 5)
					if len(limited) <= len(full) && fmt.Sprint(limited) != fmt.Sprint(full[:len(limited)]) {
						t.Errorf("limit 5: not the first rows of the full answer")
					}
				})
			}
		})
	}
	if total < 2000 {
		t.Errorf("the cases select %d observations in all: too few to test anything", total)
	}
	t.Run("no area", func(t *testing.T) {
		for _, w := range windows {
			want := map[key]bool{}
			for k, o := range ingested {
				if inWindow(o, w.since, w.until) && o.Source == "a" {
					want[k] = true
				}
			}
			check(t, queryAll(t, db, store.QueryFilter{Since: w.since, Until: w.until, Sources: []string{"a"}}), want, true, 0)
		}
	})
}

// testWindowBoundaries: [Since, Until) at millisecond precision, with
// sub-millisecond bounds rounded up (a bound a nanosecond after a stored time
// is the next millisecond).
func testWindowBoundaries(t *testing.T, db store.Backend) {
	at := t0.Add(90 * time.Minute)
	ingest(t, db, "s", monitor.Batch{Observations: []monitor.Observation{obs("x", 5, 5, at)}})
	c := geo.Circle{Center: orb.Point{5, 5}, RadiusMeters: 10}
	for _, tc := range []struct {
		name         string
		since, until time.Time
		want         int
	}{
		{"since is inclusive", at, at.Add(time.Hour), 1},
		{"until is exclusive", at.Add(-time.Hour), at, 0},
		{"until one ms later", at.Add(-time.Hour), at.Add(time.Millisecond), 1},
		{"until one ns later", at.Add(-time.Hour), at.Add(time.Nanosecond), 1},
		{"since one ns later", at.Add(time.Nanosecond), at.Add(time.Hour), 0},
		{"since one ms earlier", at.Add(-time.Millisecond), at.Add(time.Hour), 1},
		{"one ms window", at, at.Add(time.Millisecond), 1},
		{"open ends", time.Time{}, time.Time{}, 1},
		{"open start", time.Time{}, at, 0},
		{"open end", at, time.Time{}, 1},
		{"in another zone", at.In(time.FixedZone("UTC-5", -5*3600)), at.Add(time.Millisecond).In(time.FixedZone("UTC+3", 3*3600)), 1},
		{"since equals until", at, at, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := db.Observations(t.Context(), monitor.Query{Area: c, Since: tc.since, Until: tc.until})
			if err != nil || len(got) != tc.want {
				t.Errorf("Observations = %d, %v; want %d", len(got), err, tc.want)
			}
			if q := queryAll(t, db, store.QueryFilter{Area: c, Since: tc.since, Until: tc.until}); len(q) != tc.want {
				t.Errorf("Query = %d, want %d", len(q), tc.want)
			}
			if q := queryAll(t, db, store.QueryFilter{Since: tc.since, Until: tc.until}); len(q) != tc.want {
				t.Errorf("Query without an area = %d, want %d", len(q), tc.want)
			}
		})
	}
}

// testFilters ports store/sqlite's TestQuery: Query's sources, kinds and
// limit, the same answer as Observations, and a failing callback.
func testFilters(t *testing.T, db store.Backend) {
	c := geo.Circle{Center: orb.Point{10, 50}, RadiusMeters: 200e3}
	var batch []monitor.Observation
	for i := range 3000 { // 5 days, 2 sources, 3 kinds, lon 8–12 × lat 48–52
		o := obs(fmt.Sprintf("q%04d", i), 8+float64(i%40)/10, 48+float64(i%37)/9, t0.Add(time.Duration(i*143)*time.Second))
		o.Kind = []string{"fire", "flood", "storm"}[i%3]
		o.Title = "t" + o.ID
		batch = append(batch, o)
	}
	ingest(t, db, "a", monitor.Batch{Observations: batch[:1500]})
	ingest(t, db, "b", monitor.Batch{Observations: batch[1500:]})
	since, until := t0.Add(24*time.Hour), t0.Add(72*time.Hour)
	want, err := db.Observations(t.Context(), monitor.Query{Area: c, Since: since, Until: until, Kinds: []string{"fire", "storm"}, Detail: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(want) == 0 {
		t.Fatal("Observations found nothing")
	}
	for _, tc := range []struct {
		name string
		f    store.QueryFilter
		want func(monitor.Observation) bool
		n    int
	}{
		{"everything", store.QueryFilter{}, func(monitor.Observation) bool { return true }, 3000},
		{"as Observations", store.QueryFilter{Area: c, Since: since, Until: until, Kinds: []string{"fire", "storm"}}, nil, len(want)},
		{"one source", store.QueryFilter{Sources: []string{"b"}}, func(o monitor.Observation) bool { return o.Source == "b" }, 1500},
		{"two sources", store.QueryFilter{Sources: []string{"b", "a"}}, nil, 3000},
		{"unknown source", store.QueryFilter{Sources: []string{"c"}}, nil, 0},
		{"one kind", store.QueryFilter{Kinds: []string{"storm"}}, func(o monitor.Observation) bool { return o.Kind == "storm" }, 1000},
		{"limit", store.QueryFilter{Sources: []string{"b"}, Kinds: []string{"flood"}, Limit: 7},
			func(o monitor.Observation) bool { return o.Source == "b" && o.Kind == "flood" }, 7},
		{"limit above the answer", store.QueryFilter{Sources: []string{"a"}, Limit: 5000}, nil, 1500},
		{"empty window", store.QueryFilter{Since: t0.Add(-time.Hour), Until: t0}, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := queryAll(t, db, tc.f)
			if len(got) != tc.n {
				t.Fatalf("Query = %d observations, want %d", len(got), tc.n)
			}
			for i, o := range got {
				if i > 0 && (o.Time.Before(got[i-1].Time) || (o.Time.Equal(got[i-1].Time) && o.FID <= got[i-1].FID)) {
					t.Fatalf("not in time order at %d", i)
				}
				if tc.want != nil && !tc.want(o) {
					t.Errorf("unexpected %+v", o)
				}
				if o.Title != "t"+o.ID || o.Ingested.IsZero() {
					t.Errorf("%s: detail fields missing: %+v", o.ID, o)
				}
			}
			if tc.name == "as Observations" && fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("Query differs from Observations")
			}
			if tc.name == "limit" {
				first := queryAll(t, db, store.QueryFilter{Sources: []string{"b"}, Kinds: []string{"flood"}})[:7]
				if fmt.Sprint(got) != fmt.Sprint(first) {
					t.Errorf("limit: not the first rows")
				}
			}
		})
	}
	stopErr := errors.New("enough")
	n := 0
	err = db.Query(t.Context(), store.QueryFilter{}, func(monitor.Observation) error {
		if n++; n == 10 {
			return stopErr
		}
		return nil
	})
	if !errors.Is(err, stopErr) || n != 10 {
		t.Errorf("Query with a failing fn = %v after %d rows, want %v after 10", err, n, stopErr)
	}
}

// testNoArea: a rule's query must have an area.
func testNoArea(t *testing.T, db store.Backend) {
	ingest(t, db, "s", monitor.Batch{Observations: []monitor.Observation{obs("x", 5, 5, t0)}})
	if _, err := db.Observations(t.Context(), monitor.Query{}); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Errorf("query without area: err = %v", err)
	}
}

// sameObservation compares the fields of a and b that the brute-force data
// sets (no geometry, no properties), times as instants in UTC: as
// fmt.Sprintf("%+v") would, a hundred times faster.
func sameObservation(a, b monitor.Observation) bool {
	return a.FID == b.FID && a.Source == b.Source && a.ID == b.ID &&
		a.Time.Equal(b.Time) && a.Time.Location() == time.UTC && a.Ingested.Equal(b.Ingested) &&
		(a.Ingested.IsZero() || a.Ingested.Location() == time.UTC) && a.Revised.IsZero() &&
		a.Point == b.Point && a.Geometry == nil && b.Geometry == nil && a.Place == b.Place && a.Kind == b.Kind &&
		a.Title == b.Title && a.URL == b.URL && a.Weight == b.Weight && a.Precision == b.Precision &&
		a.Properties == nil && b.Properties == nil && a.Pos == b.Pos
}
