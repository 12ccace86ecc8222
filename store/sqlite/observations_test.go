package sqlite

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/geowatch/geowatch/store"

	"github.com/geowatch/geowatch/geo"
	"github.com/geowatch/geowatch/monitor"
	"github.com/paulmach/orb"
)

func ingest(t testing.TB, db *DB, source string, b monitor.Batch) monitor.IngestResult {
	t.Helper()
	res, err := db.Ingest(t.Context(), source, b, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if sum := res.Added + res.Updated + res.Unchanged + res.Rejected; sum != res.Seen {
		t.Errorf("%+v: Added+Updated+Unchanged+Rejected = %d, want Seen", res, sum)
	}
	return res
}

// checkRtree verifies the observations rtree is well formed and has one row per
// observation, at its point.
func checkRtree(t *testing.T, db *DB) {
	t.Helper()
	if got := queryString(t, db, `SELECT rtreecheck('rtree_observations_geom')`); got != "ok" {
		t.Errorf("rtreecheck = %q", got)
	}
	n := queryInt(t, db, `SELECT count(*) FROM observations`)
	if m := queryInt(t, db, `SELECT count(*) FROM rtree_observations_geom`); m != n {
		t.Errorf("rtree rows = %d, want %d", m, n)
	}
	// float32 boxes round outwards, so each point lies inside its box.
	if bad := queryInt(t, db, `SELECT count(*) FROM observations o LEFT JOIN rtree_observations_geom r ON r.id = o.fid
		WHERE r.id IS NULL OR o.lon < r.minx OR o.lon > r.maxx OR o.lat < r.miny OR o.lat > r.maxy
		OR r.maxx - r.minx > 1e-4 OR r.maxy - r.miny > 1e-4`); bad != 0 {
		t.Errorf("%d observations lack a matching rtree box", bad)
	}
}

func TestIngestIdempotentAndUpdates(t *testing.T) {
	db := openTestDB(t, "")
	var batch []monitor.Observation
	for i := range 250 { // 2 statements of 100, 5 of 10
		o := obs(fmt.Sprintf("ev-%03d", i), 130+float64(i)/100, 40+float64(i)/200, t0.Add(time.Duration(i)*time.Minute))
		o.Properties = json.RawMessage(`{"mag":3.1}`)
		batch = append(batch, o)
	}
	res := ingest(t, db, "usgs", monitor.Batch{Observations: batch})
	if want := (monitor.IngestResult{Seen: 250, Added: 250}); res != want {
		t.Errorf("first ingest = %+v, want %+v", res, want)
	}
	checkRtree(t, db)

	res = ingest(t, db, "usgs", monitor.Batch{Observations: batch})
	if want := (monitor.IngestResult{Seen: 250, Unchanged: 250}); res != want {
		t.Errorf("re-ingest = %+v, want %+v", res, want)
	}
	if n, _ := db.CountObservations(t.Context()); n != 250 {
		t.Errorf("rows after re-ingest = %d, want 250", n)
	}

	// A revision: new magnitude and a moved point. Same id in another source is a new row.
	var ingested string
	db.r.QueryRow(`SELECT CAST(ingested_at AS TEXT) FROM observations WHERE ext_id = 'ev-007'`).Scan(&ingested)
	fid := queryInt(t, db, `SELECT fid FROM observations WHERE ext_id = 'ev-007'`)
	rev := batch[7]
	rev.Properties = json.RawMessage(`{"mag":4.5}`)
	rev.Point = orb.Point{-170.5, -33.25}
	res, err := db.Ingest(t.Context(), "usgs", monitor.Batch{Observations: []monitor.Observation{rev, batch[8]}}, t0.Add(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if want := (monitor.IngestResult{Seen: 2, Updated: 1, Unchanged: 1}); res != want {
		t.Errorf("revision = %+v, want %+v", res, want)
	}
	var got struct {
		fid              int64
		lon, lat         float64
		props, ingested2 string
	}
	db.r.QueryRow(`SELECT fid, lon, lat, properties, CAST(ingested_at AS TEXT) FROM observations WHERE ext_id = 'ev-007'`).
		Scan(&got.fid, &got.lon, &got.lat, &got.props, &got.ingested2)
	if got.fid != fid || got.lon != -170.5 || got.lat != -33.25 || got.props != `{"mag":4.5}` || got.ingested2 != ingested {
		t.Errorf("revised row = %+v, want fid %d at (-170.5, -33.25), mag 4.5, ingested %s", got, fid, ingested)
	}
	if n := queryInt(t, db, `SELECT count(*) FROM rtree_observations_geom WHERE id = ? AND minx <= -170.5 AND maxx >= -170.5 AND miny <= -33.25 AND maxy >= -33.25`, fid); n != 1 {
		t.Errorf("rtree row of the moved point not at its new place")
	}
	checkRtree(t, db)
}

func TestIngestDuplicatesInBatch(t *testing.T) {
	db := openTestDB(t, "")
	a := obs("dup", 10, 10, t0)
	a2 := a
	a2.Title = "revised"
	b := obs("other", 11, 11, t0)
	res := ingest(t, db, "s", monitor.Batch{Observations: []monitor.Observation{a, b, a, a2}})
	if want := (monitor.IngestResult{Seen: 4, Added: 2, Unchanged: 1, Updated: 1}); res != want {
		t.Errorf("Ingest = %+v, want %+v", res, want)
	}
	if n, _ := db.CountObservations(t.Context()); n != 2 {
		t.Errorf("rows = %d, want 2", n)
	}
	if s := queryString(t, db, `SELECT title FROM observations WHERE ext_id = 'dup'`); s != "revised" {
		t.Errorf("title = %q, want the last revision", s)
	}
	checkRtree(t, db)
}

func TestIngestRejects(t *testing.T) {
	db := openTestDB(t, "")
	good := obs("good", 1, 1, t0)
	badLat := obs("bad-lat", 1, 91, t0)
	noID := obs("", 1, 1, t0)
	badProps := obs("bad-props", 1, 1, t0)
	badProps.Properties = json.RawMessage(`{"mag":`)
	b := monitor.Batch{
		Observations: []monitor.Observation{good, badLat, noID, badProps},
		Rejects: []monitor.Reject{{Record: "line 42", Field: "time", Err: fmt.Errorf("%w: %q", monitor.ErrBadTime, "yesterday"),
			Raw: "x,yesterday"}},
	}
	res := ingest(t, db, "feed", b)
	if want := (monitor.IngestResult{Seen: 5, Added: 1, Rejected: 4}); res != want {
		t.Errorf("Ingest = %+v, want %+v", res, want)
	}
	rows, err := db.r.Query(`SELECT source, record, field, reason, raw, CAST(rejected_at AS TEXT) FROM rejects ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	type reject struct{ source, record, field, reason, raw, at string }
	var got []reject
	for rows.Next() {
		var r reject
		if err := rows.Scan(&r.source, &r.record, &r.field, &r.reason, &r.raw, &r.at); err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	want := []reject{
		{"feed", "line 42", "time", `unparseable time: "yesterday"`, "x,yesterday", "2026-11-26T01:00:00.000Z"},
		{"feed", `id "bad-lat"`, "lat", geo.ErrLatitudeRange.Error(), "", "2026-11-26T01:00:00.000Z"},
		{"feed", "index 2", "id", monitor.ErrMissing.Error(), "", "2026-11-26T01:00:00.000Z"},
		{"feed", `id "bad-props"`, "properties", "invalid value: not JSON", "", "2026-11-26T01:00:00.000Z"},
	}
	if len(got) != len(want) {
		t.Fatalf("rejects = %+v, want %d rows", got, len(want))
	}
	for i := range want {
		g := got[i]
		if i > 0 { // raw of an observation is a dump of its fields: check it names the id
			if want[i].record != "index 2" && !strings.Contains(g.raw, "id="+strings.TrimPrefix(want[i].record, "id ")) {
				t.Errorf("reject %d raw = %q, want it to name %s", i, g.raw, want[i].record)
			}
			g.raw = ""
		}
		if g != want[i] {
			t.Errorf("reject %d = %+v, want %+v", i, g, want[i])
		}
	}
	checkRtree(t, db)
}

func TestObservationsRoundTrip(t *testing.T) {
	db := openTestDB(t, "")
	o := monitor.Observation{
		ID: "full", Time: t0.Add(1500 * time.Millisecond), Point: orb.Point{131.9, 43.1},
		Geometry: orb.Polygon{{{131, 43}, {132, 43}, {132, 44}, {131, 43}}},
		Place:    "Vladivostok", Kind: "fire", Title: "t", URL: "https://example.org/1", Weight: 2.5,
		Precision: monitor.PrecisionCity, Properties: json.RawMessage(`{"a":1}`),
	}
	ingest(t, db, "src", monitor.Batch{Observations: []monitor.Observation{o}})
	area := geo.Circle{Center: orb.Point{131.9, 43.1}, RadiusMeters: 1000}
	got, err := db.Observations(t.Context(), monitor.Query{Area: area, Since: t0, Until: t0.Add(time.Hour), Detail: true})
	if err != nil || len(got) != 1 {
		t.Fatalf("Observations = %v, %v, want one", got, err)
	}
	g := got[0]
	o.FID, o.Source, o.Ingested = 1, "src", t0.Add(time.Hour)
	if fmt.Sprint(g) != fmt.Sprint(o) {
		t.Errorf("detail round trip:\n got %+v\nwant %+v", g, o)
	}
	got, _ = db.Observations(t.Context(), monitor.Query{Area: area, Since: t0, Until: t0.Add(time.Hour)})
	want := monitor.Observation{FID: 1, Source: "src", ID: "full", Time: o.Time, Point: o.Point, Kind: "fire",
		Weight: 2.5, Precision: monitor.PrecisionCity}
	if len(got) != 1 || fmt.Sprint(got[0]) != fmt.Sprint(want) {
		t.Errorf("summary round trip = %+v, want %+v", got, want)
	}
	for _, kinds := range [][]string{{"fire"}, {"flood", "fire"}, {"flood"}} {
		got, _ = db.Observations(t.Context(), monitor.Query{Area: area, Since: t0, Until: t0.Add(time.Hour), Kinds: kinds})
		if want := slices.Contains(kinds, "fire"); (len(got) == 1) != want {
			t.Errorf("Kinds %v: %d results", kinds, len(got))
		}
	}
}

// TestObservationsMatchBruteForce compares queries with a geodesic filter over
// every stored point: several radii, a circle across the antimeridian, one at a
// pole, long and short windows.
func TestObservationsMatchBruteForce(t *testing.T) {
	db := openTestDB(t, "")
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 20000
	start := t0.Add(-30 * 24 * time.Hour)
	var all []monitor.Observation
	for i := range n {
		var p orb.Point
		switch i % 4 {
		case 0: // around the antimeridian
			p = orb.Point{170 + rng.Float64()*20, rng.Float64()*20 - 10}
			if p[0] > 180 {
				p[0] -= 360
			}
		case 1: // near the north pole
			p = orb.Point{rng.Float64()*360 - 180, 85 + rng.Float64()*5}
		default:
			p = orb.Point{100 + rng.Float64()*50, 20 + rng.Float64()*35}
		}
		o := obs(fmt.Sprintf("r%05d", i), p[0], p[1], start.Add(time.Duration(rng.Int64N(int64(30*24*time.Hour)))).Truncate(time.Millisecond))
		o.Kind = []string{"fire", "flood"}[i%2]
		all = append(all, o)
	}
	for i := 0; i < n; i += 5000 {
		ingest(t, db, "rnd", monitor.Batch{Observations: all[i : i+5000]})
	}
	checkRtree(t, db)
	for _, tc := range []struct {
		name         string
		c            geo.Circle
		since, until time.Time
	}{
		{"50km one day", geo.Circle{Center: orb.Point{131.8855, 43.1155}, RadiusMeters: 50e3}, t0.Add(-24 * time.Hour), t0},
		{"300km 30 days", geo.Circle{Center: orb.Point{120, 30}, RadiusMeters: 300e3}, start, t0},
		{"1000km a week", geo.Circle{Center: orb.Point{125, 40}, RadiusMeters: 1000e3}, t0.Add(-7 * 24 * time.Hour), t0},
		{"antimeridian 500km", geo.Circle{Center: orb.Point{179.5, 0}, RadiusMeters: 500e3}, start, t0},
		{"antimeridian west 200km", geo.Circle{Center: orb.Point{-179.9, 5}, RadiusMeters: 200e3}, t0.Add(-10 * 24 * time.Hour), t0},
		{"pole 300km", geo.Circle{Center: orb.Point{0, 89}, RadiusMeters: 300e3}, start, t0},
		{"odd boundaries", geo.Circle{Center: orb.Point{125, 40}, RadiusMeters: 2000e3}, all[3].Time, all[11].Time},
		{"empty window", geo.Circle{Center: orb.Point{125, 40}, RadiusMeters: 2000e3}, t0, t0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var want []int64
			for i, o := range all {
				if tc.c.Contains(o.Point) && !o.Time.Before(tc.since) && o.Time.Before(tc.until) {
					want = append(want, int64(i+1))
				}
			}
			got, err := db.Observations(t.Context(), monitor.Query{Area: tc.c, Since: tc.since, Until: tc.until})
			if err != nil {
				t.Fatal(err)
			}
			var fids []int64
			for i, o := range got {
				fids = append(fids, o.FID)
				if i > 0 && o.Time.Before(got[i-1].Time) {
					t.Fatalf("results not in time order at %d", i)
				}
			}
			slices.Sort(fids)
			if !slices.Equal(fids, want) {
				t.Errorf("got %d observations, want %d (brute force)", len(fids), len(want))
			}
		})
	}
}

func TestObservationsWindowBoundaries(t *testing.T) {
	db := openTestDB(t, "")
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
		{"open ends", time.Time{}, time.Time{}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := db.Observations(t.Context(), monitor.Query{Area: c, Since: tc.since, Until: tc.until})
			if err != nil || len(got) != tc.want {
				t.Errorf("Observations = %d, %v, want %d", len(got), err, tc.want)
			}
		})
	}
	if _, err := db.Observations(t.Context(), monitor.Query{}); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Errorf("query without area: err = %v", err)
	}
}
