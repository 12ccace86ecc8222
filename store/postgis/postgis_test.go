package postgis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/geowatch/geowatch/geo"
	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/store"
	"github.com/geowatch/geowatch/store/internal/rowcodec"
	"github.com/geowatch/geowatch/store/postgis/pgtest"
	"github.com/geowatch/geowatch/store/sqlite"
	"github.com/paulmach/orb"
)

var t0 = time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)

func openURL(t testing.TB, url string, opts ...store.Option) *DB {
	t.Helper()
	db, err := Open(t.Context(), url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func openTestDB(t testing.TB) (*DB, string) {
	t.Helper()
	url := pgtest.URL(t)
	return openURL(t, url), url
}

func obs(id string, lon, lat float64, at time.Time) monitor.Observation {
	return monitor.Observation{ID: id, Time: at, Point: orb.Point{lon, lat}, Kind: "seismic"}
}

func ingest(t testing.TB, db store.Backend, source string, b monitor.Batch) monitor.IngestResult {
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

func queryInt(t testing.TB, db *DB, q string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := db.pool.QueryRow(t.Context(), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func queryString(t testing.TB, db *DB, q string, args ...any) string {
	t.Helper()
	var s string
	if err := db.pool.QueryRow(t.Context(), q, args...).Scan(&s); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return s
}

func TestOpenMigrations(t *testing.T) {
	db, url := openTestDB(t)
	names, _ := store.MigrationNames(migrations)
	v, err := db.SchemaVersion(t.Context())
	if err != nil || v != names[len(names)-1] {
		t.Fatalf("SchemaVersion = %q, %v, want %s", v, err, names[len(names)-1])
	}
	db.Close()

	// Several processes opening one database at once: each migration once.
	var wg sync.WaitGroup
	errs := make([]error, 4)
	fresh := pgtest.URL(t)
	for i := range errs {
		wg.Go(func() {
			db, err := Open(t.Context(), fresh)
			if err == nil {
				db.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("concurrent opens: %v", err)
	}

	ro := openURL(t, url, store.ReadOnly())
	if _, err := ro.CountObservations(t.Context()); err != nil {
		t.Errorf("read-only count: %v", err)
	}
	if _, err := ro.Ingest(t.Context(), "s", monitor.Batch{Observations: []monitor.Observation{obs("a", 1, 1, t0)}}, t0); !errors.Is(err, errReadOnly) {
		t.Errorf("read-only ingest: %v, want errReadOnly", err)
	}
	// The server refuses writes too, whatever the Go checks miss.
	if _, err := ro.pool.Exec(t.Context(), `INSERT INTO rejects (source, record, reason, rejected_at) VALUES ('s', 'r', 'x', now())`); err == nil {
		t.Error("read-only pool wrote a row")
	}
	if err := ro.Ping(t.Context()); err == nil {
		t.Error("read-only Ping succeeded")
	}

	// A database never migrated cannot be opened read-only.
	if _, err := Open(t.Context(), pgtest.URL(t), store.ReadOnly()); err == nil {
		t.Error("read-only open of an empty database succeeded")
	}

	// A newer geowatch's migration: refused, read-write and read-only.
	rw := openURL(t, url)
	if _, err := rw.pool.Exec(t.Context(), `INSERT INTO schema_migrations VALUES ('999_future', now())`); err != nil {
		t.Fatal(err)
	}
	for _, opts := range [][]store.Option{nil, {store.ReadOnly()}} {
		if _, err := Open(t.Context(), url, opts...); !errors.Is(err, store.ErrSchemaTooNew) {
			t.Errorf("open %v with an unknown migration: %v, want ErrSchemaTooNew", opts, err)
		}
	}
}

func TestRedactedErrors(t *testing.T) {
	const secret = "s3cr3t-pw"
	for _, url := range []string{
		"postgres://geowatch:" + secret + "@127.0.0.1:1/geowatch?sslmode=disable&connect_timeout=2",
		"host=127.0.0.1 port=1 user=geowatch password=" + secret + " dbname=geowatch sslmode=disable connect_timeout=2",
		"host=127.0.0.1 port=1 user=geowatch password='" + secret + " x' dbname=geowatch connect_timeout=2",
		"postgres://geowatch:" + secret + "%zz@127.0.0.1:1/geowatch", // does not parse
		"postgres://geowatch:" + secret + "@127.0.0.1:1/geowatch?sslmode=bogus",
	} {
		db, err := Open(t.Context(), url)
		if err == nil {
			db.Close()
			t.Fatalf("open %s succeeded", url)
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error shows the password: %v", err)
		}
		if !strings.Contains(err.Error(), "xxxxx") && !strings.Contains(err.Error(), "not shown") {
			t.Errorf("error does not name the database: %v", err)
		}
	}
	// A wrong password on a live server.
	base := pgtest.URL(t)
	bad := strings.Replace(base, "postgres@", "nosuchuser:"+secret+"@", 1)
	if _, err := Open(t.Context(), bad); err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("open as an unknown user: %v", err)
	}
	db := openURL(t, base)
	if s := (&DB{name: store.Redact(bad)}).String(); strings.Contains(s, secret) {
		t.Errorf("String() = %s", s)
	}
	_ = db
}

func TestIngestCounts(t *testing.T) {
	db, _ := openTestDB(t)
	var batch []monitor.Observation
	for i := range 250 {
		o := obs(fmt.Sprintf("ev-%03d", i), 130+float64(i)/100, 40+float64(i)/200, t0.Add(time.Duration(i)*time.Minute))
		o.Properties = json.RawMessage(`{"mag":3.1}`)
		batch = append(batch, o)
	}
	if res, want := ingest(t, db, "usgs", monitor.Batch{Observations: batch}), (monitor.IngestResult{Seen: 250, Added: 250}); res != want {
		t.Errorf("first ingest = %+v, want %+v", res, want)
	}
	if res, want := ingest(t, db, "usgs", monitor.Batch{Observations: batch}), (monitor.IngestResult{Seen: 250, Unchanged: 250}); res != want {
		t.Errorf("re-ingest = %+v, want %+v", res, want)
	}
	ingested := queryString(t, db, `SELECT ingested_at::text FROM observations WHERE ext_id = 'ev-007'`)
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
	if f := queryInt(t, db, `SELECT fid FROM observations WHERE ext_id = 'ev-007'`); f != fid {
		t.Errorf("fid after update = %d, want %d", f, fid)
	}
	if s := queryString(t, db, `SELECT ingested_at::text FROM observations WHERE ext_id = 'ev-007'`); s != ingested {
		t.Errorf("ingested_at after update = %s, want %s", s, ingested)
	}
	if s := queryString(t, db, `SELECT ST_AsText(geom) || ' ' || properties::text FROM observations WHERE ext_id = 'ev-007'`); s != `POINT(-170.5 -33.25) {"mag":4.5}` {
		t.Errorf("updated row = %s", s)
	}
	// The same id from another source is a row of its own.
	if res := ingest(t, db, "emsc", monitor.Batch{Observations: batch[:1]}); res.Added != 1 {
		t.Errorf("other source: %+v", res)
	}

	// Within a batch: the first record adds, an exact repeat is unchanged, a
	// changed one updates; the last revision is stored.
	a := obs("dup", 10, 10, t0)
	a2 := a
	a2.Title = "revised"
	b := obs("other", 11, 11, t0)
	if res, want := ingest(t, db, "s", monitor.Batch{Observations: []monitor.Observation{a, b, a, a2}}),
		(monitor.IngestResult{Seen: 4, Added: 2, Unchanged: 1, Updated: 1}); res != want {
		t.Errorf("duplicates in batch = %+v, want %+v", res, want)
	}
	if s := queryString(t, db, `SELECT title FROM observations WHERE source = 's' AND ext_id = 'dup'`); s != "revised" {
		t.Errorf("title = %q, want the last revision", s)
	}

	// Revisions: an older one never replaces a newer.
	r1 := obs("rev", 1, 1, t0)
	r1.Revised, r1.Title = t0.Add(2*time.Hour), "newer"
	r0 := r1
	r0.Revised, r0.Title = t0.Add(time.Hour), "older"
	ingest(t, db, "r", monitor.Batch{Observations: []monitor.Observation{r1}})
	if res := ingest(t, db, "r", monitor.Batch{Observations: []monitor.Observation{r0}}); res.Unchanged != 1 {
		t.Errorf("older revision = %+v, want unchanged", res)
	}
	if s := queryString(t, db, `SELECT title FROM observations WHERE source = 'r'`); s != "newer" {
		t.Errorf("title after an older revision = %q", s)
	}
}

func TestIngestNamespace(t *testing.T) {
	db, _ := openTestDB(t)
	hour := obs("us1", 1, 1, t0)
	ingest(t, db, "usgs_hour", monitor.Batch{Namespace: "usgs", Observations: []monitor.Observation{hour}})
	day := hour
	day.Title = "updated in the day feed"
	res := ingest(t, db, "usgs_day", monitor.Batch{Namespace: "usgs", Observations: []monitor.Observation{day, obs("us2", 2, 2, t0)}})
	if want := (monitor.IngestResult{Seen: 2, Added: 1, Updated: 1}); res != want {
		t.Errorf("second feed = %+v, want %+v", res, want)
	}
	if s := queryString(t, db, `SELECT source || ' ' || title FROM observations WHERE ext_id = 'us1'`); s != "usgs_hour updated in the day feed" {
		t.Errorf("us1 = %q, want kept under its first source and updated", s)
	}
	if n := queryInt(t, db, `SELECT count(*) FROM observations`); n != 2 {
		t.Errorf("rows = %d, want 2", n)
	}
}

func TestIngestRejects(t *testing.T) {
	db, _ := openTestDB(t)
	good := obs("good", 1, 1, t0)
	badLat := obs("bad-lat", 1, 91, t0)
	noID := obs("", 1, 1, t0)
	badProps := obs("bad-props", 1, 1, t0)
	badProps.Properties = json.RawMessage(`{"mag":`)
	notUTF8 := obs("not-utf8", 1, 1, t0)
	notUTF8.Properties = json.RawMessage("{\"a\":\"\xff\"}")
	nul := obs("nul", 1, 1, t0)
	nul.Properties = json.RawMessage(`{"a":"\u0000"}`) // valid JSON: stored as sent
	b := monitor.Batch{
		Observations: []monitor.Observation{good, badLat, noID, badProps, notUTF8, nul},
		Rejects: []monitor.Reject{{Record: "line 42", Field: "time", Err: fmt.Errorf("%w: %q", monitor.ErrBadTime, "yesterday"),
			Raw: "x,yesterday\x00\xff"}},
	}
	if res, want := ingest(t, db, "feed", b), (monitor.IngestResult{Seen: 7, Added: 2, Rejected: 5}); res != want {
		t.Errorf("Ingest = %+v, want %+v", res, want)
	}
	rows, err := db.pool.Query(t.Context(), `SELECT source, record, coalesce(field, ''), reason, coalesce(raw, ''),
		to_char(rejected_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') FROM rejects ORDER BY id`)
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
	const at = "2026-11-26T01:00:00.000Z"
	want := []reject{
		{"feed", "line 42", "time", `unparseable time: "yesterday"`, "x,yesterday\uFFFD\uFFFD", at},
		{"feed", `id "bad-lat"`, "lat", geo.ErrLatitudeRange.Error(), "", at},
		{"feed", "index 2", "id", monitor.ErrMissing.Error(), "", at},
		{"feed", `id "bad-props"`, "properties", "invalid value: not JSON", "", at},
		{"feed", `id "not-utf8"`, "properties", monitor.ErrBadUTF8.Error(), "", at},
	}
	if len(got) != len(want) {
		t.Fatalf("rejects = %+v, want %d rows", got, len(want))
	}
	for i := range want {
		g := got[i]
		if i > 0 {
			if want[i].record != "index 2" && !strings.Contains(g.raw, "id="+strings.TrimPrefix(want[i].record, "id ")) {
				t.Errorf("reject %d raw = %q, want it to name %s", i, g.raw, want[i].record)
			}
			g.raw = ""
		}
		if g != want[i] {
			t.Errorf("reject %d = %+v, want %+v", i, g, want[i])
		}
	}
	if s := queryString(t, db, `SELECT properties::text FROM observations WHERE ext_id = 'nul'`); s != `{"a":"\u0000"}` {
		t.Errorf("properties = %s, want as sent", s)
	}
}

// randomObservations are n observations around the antimeridian, near the
// north pole and over East Asia, over 30 days before t0, with every field.
func randomObservations(n int) []monitor.Observation {
	rng := rand.New(rand.NewPCG(1, 2))
	start := t0.Add(-30 * 24 * time.Hour)
	var all []monitor.Observation
	for i := range n {
		var p orb.Point
		switch i % 4 {
		case 0:
			p = orb.Point{170 + rng.Float64()*20, rng.Float64()*20 - 10}
			if p[0] > 180 {
				p[0] -= 360
			}
		case 1:
			p = orb.Point{rng.Float64()*360 - 180, 85 + rng.Float64()*5}
		default:
			p = orb.Point{100 + rng.Float64()*50, 20 + rng.Float64()*35}
		}
		// Nanoseconds: both stores keep milliseconds.
		o := obs(fmt.Sprintf("r%05d", i), p[0], p[1], start.Add(time.Duration(rng.Int64N(int64(30*24*time.Hour)))))
		o.Kind = []string{"fire", "flood"}[i%2]
		o.Title, o.Place, o.URL = fmt.Sprintf("event %d", i), "somewhere", fmt.Sprintf("https://example.org/%d", i)
		o.Weight = float64(1 + i%3)
		o.Precision = monitor.Precision(i % 4)
		o.Properties = json.RawMessage(fmt.Sprintf(`{"i": %d,"z":[1, 2]}`, i))
		if i%7 == 0 {
			o.Geometry = orb.LineString{p, {p[0] / 2, p[1] / 2}}
		}
		all = append(all, o)
	}
	return all
}

// TestQueriesEqualSQLite stores the same records in both backends and asks
// both the same questions: the answers are equal, field by field, and equal
// a brute-force filter.
func TestQueriesEqualSQLite(t *testing.T) {
	pg, _ := openTestDB(t)
	lite, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "geowatch.gpkg"))
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()
	const n = 20000
	all := randomObservations(n)
	for _, db := range []store.Backend{pg, lite} {
		for i := 0; i < n; i += 5000 {
			ingest(t, db, "rnd", monitor.Batch{Observations: all[i : i+5000]})
		}
	}
	start := t0.Add(-30 * 24 * time.Hour)
	hole := geo.NewPolygon(orb.MultiPolygon{{
		{{110, 25}, {140, 25}, {140, 50}, {110, 50}, {110, 25}},
		{{120, 30}, {130, 30}, {130, 40}, {120, 40}, {120, 30}},
	}})
	for _, tc := range []struct {
		name         string
		area         monitor.Shape
		since, until time.Time
		kinds        []string
	}{
		{"50km one day", geo.Circle{Center: orb.Point{131.8855, 43.1155}, RadiusMeters: 50e3}, t0.Add(-24 * time.Hour), t0, nil},
		{"300km 30 days", geo.Circle{Center: orb.Point{120, 30}, RadiusMeters: 300e3}, start, t0, nil},
		{"1000km a week fires", geo.Circle{Center: orb.Point{125, 40}, RadiusMeters: 1000e3}, t0.Add(-7 * 24 * time.Hour), t0, []string{"fire"}},
		{"antimeridian 500km", geo.Circle{Center: orb.Point{179.5, 0}, RadiusMeters: 500e3}, start, t0, nil},
		{"antimeridian west 200km", geo.Circle{Center: orb.Point{-179.9, 5}, RadiusMeters: 200e3}, t0.Add(-10 * 24 * time.Hour), t0, nil},
		{"pole 300km", geo.Circle{Center: orb.Point{0, 89}, RadiusMeters: 300e3}, start, t0, nil},
		{"polygon with hole", hole, start, t0, nil},
		{"odd boundaries", geo.Circle{Center: orb.Point{125, 40}, RadiusMeters: 2000e3}, all[3].Time, all[11].Time, nil},
		{"open window", geo.Circle{Center: orb.Point{125, 40}, RadiusMeters: 500e3}, time.Time{}, time.Time{}, nil},
		{"empty window", geo.Circle{Center: orb.Point{125, 40}, RadiusMeters: 2000e3}, t0, t0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var want []int64
			for i, o := range all {
				in := tc.area.Contains(o.Point) && (tc.since.IsZero() || !o.Time.Before(rowcodec.CeilMilli(tc.since))) &&
					(tc.until.IsZero() || o.Time.Truncate(time.Millisecond).Before(rowcodec.CeilMilli(tc.until)))
				if in && (tc.kinds == nil || slices.Contains(tc.kinds, o.Kind)) {
					want = append(want, int64(i+1))
				}
			}
			for _, detail := range []bool{false, true} {
				q := monitor.Query{Area: tc.area, Since: tc.since, Until: tc.until, Kinds: tc.kinds, Detail: detail}
				got, err := pg.Observations(t.Context(), q)
				if err != nil {
					t.Fatal(err)
				}
				ref, err := lite.Observations(t.Context(), q)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, ref) {
					t.Errorf("detail %v: %d observations, SQLite %d; first difference %s", detail, len(got), len(ref), firstDiff(got, ref))
				}
				fids := make([]int64, len(got))
				for i, o := range got {
					fids[i] = o.FID
				}
				slices.Sort(fids)
				if !slices.Equal(fids, want) {
					t.Errorf("detail %v: %d observations, want %d (brute force)", detail, len(fids), len(want))
				}
			}
			// The export path: same rows again, limit too.
			for _, limit := range []int{0, 7} {
				f := store.QueryFilter{Area: tc.area, Since: tc.since, Until: tc.until, Kinds: tc.kinds, Limit: limit}
				var got, ref []monitor.Observation
				if err := pg.Query(t.Context(), f, func(o monitor.Observation) error { got = append(got, o); return nil }); err != nil {
					t.Fatal(err)
				}
				if err := lite.Query(t.Context(), f, func(o monitor.Observation) error { ref = append(ref, o); return nil }); err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, ref) {
					t.Errorf("Query limit %d: %d observations, SQLite %d; first difference %s", limit, len(got), len(ref), firstDiff(got, ref))
				}
			}
		})
	}
	// Export of everything, by source, and a callback error that stops it.
	var got, ref []monitor.Observation
	f := store.QueryFilter{Sources: []string{"rnd"}}
	pg.Query(t.Context(), f, func(o monitor.Observation) error { got = append(got, o); return nil })   //nolint:errcheck
	lite.Query(t.Context(), f, func(o monitor.Observation) error { ref = append(ref, o); return nil }) //nolint:errcheck
	if len(got) != n || !reflect.DeepEqual(got, ref) {
		t.Errorf("full export: %d rows, SQLite %d; first difference %s", len(got), len(ref), firstDiff(got, ref))
	}
	stop := errors.New("stop")
	calls := 0
	if err := pg.Query(t.Context(), f, func(monitor.Observation) error { calls++; return stop }); err != stop || calls != 1 {
		t.Errorf("Query with a failing callback = %v after %d calls", err, calls)
	}
	byFID, err := pg.ObservationsByFID(t.Context(), []int64{5, 3, 99999})
	refFID, _ := lite.ObservationsByFID(t.Context(), []int64{5, 3, 99999})
	if err != nil || len(byFID) != 2 || !reflect.DeepEqual(byFID, refFID) {
		t.Errorf("ObservationsByFID = %v, %v; SQLite %v", byFID, err, refFID)
	}
	at, ok, err := pg.ObservedAt(t.Context(), "rnd", "r00003")
	refAt, _, _ := lite.ObservedAt(t.Context(), "rnd", "r00003")
	if err != nil || !ok || !at.Equal(refAt) {
		t.Errorf("ObservedAt = %v, %v, %v; SQLite %v", at, ok, err, refAt)
	}
	if _, ok, err := pg.ObservedAt(t.Context(), "rnd", "nope"); ok || err != nil {
		t.Errorf("ObservedAt(missing) = %v, %v", ok, err)
	}
	fid, _, err := pg.Latest(t.Context())
	if err != nil || fid != n {
		t.Errorf("Latest = %d, %v", fid, err)
	}
}

func firstDiff(got, want []monitor.Observation) string {
	for i := range min(len(got), len(want)) {
		if !reflect.DeepEqual(got[i], want[i]) {
			return fmt.Sprintf("at %d:\n got %#v\nwant %#v", i, got[i], want[i])
		}
	}
	return "none in the common prefix"
}

func testAlert() monitor.Alert {
	return monitor.Alert{
		Watch: "vladivostok", Rule: "quakes", RuleType: "count", Severity: monitor.SeverityCritical,
		State: monitor.StateFiring, RadiusMeters: 50000, Window: time.Hour,
		StartsAt: t0, UpdatedAt: t0, ActiveAt: t0, LastHeldAt: t0, LastNotifiedAt: t0,
		Finding: monitor.Finding{Count: 3, Weight: 3, Center: orb.Point{131.9, 43.1},
			FirstSeen: t0.Add(-time.Hour), LastSeen: t0, FIDs: []int64{1, 2, 3},
			Stats: map[string]float64{"ratio": 2.5, "inf": posInf()}},
		Labels: map[string]string{"team": "east"}, Summary: "3 quakes",
	}
}

func posInf() float64 { v := 1e308; return v * 10 }

func TestAlertsAndOutbox(t *testing.T) {
	db, url := openTestDB(t)
	ctx := t.Context()
	a := testAlert()
	open := monitor.Transition{At: t0, To: monitor.StateFiring}
	if err := db.SaveAlerts(ctx, []monitor.Change{{Alert: &a, Transition: &open}}); err != nil {
		t.Fatal(err)
	}
	if a.ID == 0 || open.ID == 0 || open.AlertID != a.ID {
		t.Fatalf("ids not set: alert %d, transition %+v", a.ID, open)
	}
	if shape := queryString(t, db, `SELECT shape || ' ' || GeometryType(geom) || ' ' || ST_NPoints(geom) FROM alerts`); shape != "circle POLYGON 65" {
		t.Errorf("circle alert geometry = %s", shape)
	}
	a.Finding.Hull = orb.Polygon{{{131.8, 43}, {132, 43}, {132, 43.2}, {131.8, 43}}}
	a.Finding.Progression = &monitor.Progression{Direction: "forward", SpeedKmh: 12}
	a.Finding.Count, a.UpdatedAt = 4, t0.Add(time.Minute)
	if err := db.SaveAlerts(ctx, []monitor.Change{{Alert: &a}}); err != nil {
		t.Fatal(err)
	}
	pending := testAlert()
	pending.Watch, pending.State, pending.StartsAt = "other", monitor.StatePending, time.Time{}
	pend := monitor.Transition{At: t0, To: monitor.StatePending}
	if err := db.SaveAlerts(ctx, []monitor.Change{{Alert: &pending, Transition: &pend}}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db = openURL(t, url) // a restart
	got, err := db.OpenAlerts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !reflect.DeepEqual(got[0], a) || !reflect.DeepEqual(got[1], pending) {
		t.Fatalf("OpenAlerts after restart:\n got %+v\nwant %+v\n and %+v", got, a, pending)
	}
	if shape := queryString(t, db, `SELECT shape || ' ' || ST_AsText(geom) FROM alerts WHERE id = $1`, a.ID); shape != "hull POLYGON((131.8 43,132 43,132 43.2,131.8 43))" {
		t.Errorf("hull = %s", shape)
	}
	// A missing alert fails the whole change set.
	ghost := testAlert()
	ghost.ID = 999
	other := testAlert()
	if err := db.SaveAlerts(ctx, []monitor.Change{{Alert: &other}, {Alert: &ghost}}); !errors.Is(err, store.ErrNotFound) || other.ID != 0 {
		t.Errorf("SaveAlerts with a missing alert = %v (new alert id %d)", err, other.ID)
	}

	resolve := monitor.Transition{At: t0.Add(time.Hour), From: monitor.StateFiring, To: monitor.StateResolved}
	a.State, a.EndsAt, a.UpdatedAt = monitor.StateResolved, resolve.At, resolve.At
	if err := db.SaveAlerts(ctx, []monitor.Change{{Alert: &a, Transition: &resolve}}); err != nil {
		t.Fatal(err)
	}
	evs, err := db.TransitionsAfter(ctx, 0, 10)
	if err != nil || len(evs) != 3 {
		t.Fatalf("TransitionsAfter = %d events, %v", len(evs), err)
	}
	if evs[0].Transition != open || evs[2].Transition != resolve || evs[0].Alert.State != monitor.StateFiring ||
		!evs[0].Alert.EndsAt.IsZero() || evs[2].Alert.State != monitor.StateResolved {
		t.Errorf("events = %+v", evs)
	}
	if evs, _ := db.TransitionsAfter(ctx, open.ID, 1); len(evs) != 1 || evs[0].Transition.ID != pend.ID {
		t.Errorf("TransitionsAfter(open, 1) = %+v", evs)
	}

	// The outbox: pending was marked notified at once; a new subscriber starts
	// before the oldest unnotified transition.
	if c, err := db.Cursor(ctx, "webhook"); err != nil || c != open.ID-1 {
		t.Errorf("Cursor(new) = %d, %v, want %d", c, err, open.ID-1)
	}
	if err := db.SetCursor(ctx, "webhook", open.ID, t0); err != nil {
		t.Fatal(err)
	}
	if err := db.SetCursor(ctx, "webhook", resolve.ID, t0); err != nil {
		t.Fatal(err)
	}
	if c, _ := db.Cursor(ctx, "webhook"); c != resolve.ID {
		t.Errorf("Cursor = %d, want %d", c, resolve.ID)
	}
	if err := db.MarkNotified(ctx, resolve.ID, t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if c, _ := db.Cursor(ctx, "newcomer"); c != resolve.ID {
		t.Errorf("Cursor(newcomer) after all notified = %d, want the last %d", c, resolve.ID)
	}
	ts, err := db.Transitions(ctx, store.TransitionFilter{AlertIDs: []int64{a.ID}})
	if err != nil || len(ts) != 2 || ts[0].NotifiedAt != t0.Add(2*time.Hour) || ts[1].Transition != resolve {
		t.Errorf("Transitions = %+v, %v", ts, err)
	}
	if ts, _ := db.Transitions(ctx, store.TransitionFilter{Since: t0.Add(time.Nanosecond)}); len(ts) != 1 || ts[0].ID != resolve.ID {
		t.Errorf("Transitions since = %+v", ts)
	}
	if ts, _ := db.Transitions(ctx, store.TransitionFilter{}); len(ts) != 3 || ts[1].NotifiedAt != t0 {
		t.Errorf("all Transitions = %+v (pending notified at its time)", ts)
	}
	list, err := db.Alerts(ctx, store.AlertFilter{Watch: "vladivostok", State: monitor.StateResolved, Limit: 5})
	if err != nil || len(list) != 1 || !reflect.DeepEqual(list[0], a) {
		t.Errorf("Alerts = %+v, %v", list, err)
	}
	if list, _ := db.Alerts(ctx, store.AlertFilter{Since: t0.Add(30 * time.Minute)}); len(list) != 1 {
		t.Errorf("Alerts since = %d", len(list))
	}
	if _, tr, _ := db.Latest(ctx); tr != resolve.ID {
		t.Errorf("Latest transition = %d", tr)
	}
}

func TestSilences(t *testing.T) {
	now := t0
	db := openURL(t, pgtest.URL(t), store.WithNow(func() time.Time { return now }))
	ctx := t.Context()
	s := monitor.Silence{Watch: "w", EndsAt: t0.Add(time.Hour), CreatedBy: "ann", Comment: "maintenance"}
	if err := db.AddSilence(ctx, &s); err != nil || s.ID == 0 || !s.StartsAt.Equal(t0) {
		t.Fatalf("AddSilence = %v, %+v", err, s)
	}
	later := monitor.Silence{Rule: "r", StartsAt: t0.Add(2 * time.Hour), EndsAt: t0.Add(3 * time.Hour)}
	if err := db.AddSilence(ctx, &later); err != nil {
		t.Fatal(err)
	}
	bad := monitor.Silence{EndsAt: t0}
	if err := db.AddSilence(ctx, &bad); !errors.Is(err, store.ErrSilenceEnds) {
		t.Errorf("silence ending at its start = %v", err)
	}
	got, err := db.Silences(ctx, t0.Add(90*time.Minute))
	if err != nil || len(got) != 1 || got[0] != later {
		t.Errorf("Silences = %+v, %v", got, err)
	}
	if err := db.ExpireSilence(ctx, later.ID, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := db.ExpireSilence(ctx, 999, t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ExpireSilence(999) = %v", err)
	}
	rs, err := db.ListSilences(ctx, true)
	if err != nil || len(rs) != 2 {
		t.Fatalf("ListSilences(all) = %+v, %v", rs, err)
	}
	e := rs[1]
	if !e.StartsAt.Equal(t0.Add(time.Minute)) || !e.EndsAt.Equal(t0.Add(time.Minute)) || !e.ExpiredAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("expired silence = %+v", e)
	}
	if rs[0].Silence != s || !rs[0].CreatedAt.Equal(t0) || !rs[0].ExpiredAt.IsZero() {
		t.Errorf("first silence = %+v, want %+v", rs[0], s)
	}
	now = t0.Add(30 * time.Minute)
	if rs, _ := db.ListSilences(ctx, false); len(rs) != 1 || rs[0].ID != s.ID {
		t.Errorf("ListSilences = %+v", rs)
	}
}

func TestSourcesRuns(t *testing.T) {
	db, _ := openTestDB(t)
	ctx := t.Context()
	r := monitor.IngestResult{Seen: 5, Added: 3, Unchanged: 1, Rejected: 1}
	if err := db.RecordCheck(ctx, monitor.CheckRun{Source: "usgs", Type: "geojson", Started: t0, Duration: 1500 * time.Millisecond, Result: r}); err != nil {
		t.Fatal(err)
	}
	if err := db.RecordCheck(ctx, monitor.CheckRun{Source: "usgs", Type: "geojson", Started: t0.Add(time.Minute), Duration: time.Second, Err: errors.New("HTTP 503")}); err != nil {
		t.Fatal(err)
	}
	if err := db.StartRun(ctx, "import", "csv", t0); err != nil {
		t.Fatal(err)
	}
	if err := db.AddRunProgress(ctx, "import", r, time.Second); err != nil {
		t.Fatal(err)
	}
	ss, err := db.Sources(ctx)
	if err != nil || len(ss) != 2 {
		t.Fatalf("Sources = %+v, %v", ss, err)
	}
	imp, usgs := ss[0], ss[1]
	if imp.LastError != store.Running || imp.Last != r || imp.Total != r || !imp.LastSuccess.IsZero() {
		t.Errorf("interrupted import = %+v", imp)
	}
	if usgs.LastError != "HTTP 503" || usgs.ConsecutiveFailures != 1 || !usgs.LastSuccess.Equal(t0) ||
		usgs.Total != r || !usgs.LastRun.Equal(t0.Add(time.Minute)) || usgs.LastDuration != time.Second {
		t.Errorf("usgs = %+v", usgs)
	}
	if err := db.FinishRun(ctx, "import", t0, 2*time.Second, nil); err != nil {
		t.Fatal(err)
	}
	ss, _ = db.Sources(ctx)
	if imp := ss[0]; imp.LastError != "" || !imp.LastSuccess.Equal(t0) || imp.ConsecutiveFailures != 0 || imp.LastDuration != 2*time.Second {
		t.Errorf("finished import = %+v", imp)
	}
	if err := db.FinishRun(ctx, "import", t0, time.Second, errors.New("boom")); err != nil {
		t.Fatal(err)
	}
	ss, _ = db.Sources(ctx)
	if imp := ss[0]; imp.LastError != "boom" || imp.ConsecutiveFailures != 1 || !imp.LastSuccess.Equal(t0) {
		t.Errorf("failed import = %+v", imp)
	}
	if h := queryString(t, db, `SELECT string_agg(name || '=' || healthy, ',') FROM source_health`); h != "import=false,usgs=false" {
		t.Errorf("source_health = %s", h)
	}
}

func TestPrune(t *testing.T) {
	db, _ := openTestDB(t)
	ctx := t.Context()
	var batch []monitor.Observation
	for i := range 30 {
		batch = append(batch, obs(fmt.Sprint(i), 1, 1, t0.Add(time.Duration(i)*time.Hour)))
	}
	batch = append(batch, obs("", 1, 1, t0)) // a reject at t0+1h
	ingest(t, db, "s", monitor.Batch{Observations: batch})
	old := testAlert()
	old.State, old.EndsAt = monitor.StateResolved, t0.Add(time.Hour)
	unsent := testAlert()
	unsent.State, unsent.EndsAt = monitor.StateResolved, t0.Add(time.Hour)
	firing := testAlert()
	tOld := monitor.Transition{At: t0, To: monitor.StateFiring}
	tUnsent := monitor.Transition{At: t0, To: monitor.StateFiring}
	if err := db.SaveAlerts(ctx, []monitor.Change{{Alert: &old, Transition: &tOld}, {Alert: &unsent, Transition: &tUnsent}, {Alert: &firing}}); err != nil {
		t.Fatal(err)
	}
	if err := db.MarkNotified(ctx, tOld.ID, t0); err != nil {
		t.Fatal(err)
	}
	res, err := db.Prune(ctx, t0.Add(10*time.Hour+time.Nanosecond), 3)
	if err != nil {
		t.Fatal(err)
	}
	// Observations at t0 .. t0+10h (11, the last one ns before the cut); the
	// reject at t0+1h; the notified resolved alert and its transition.
	if want := (store.PruneResult{Observations: 11, Rejects: 1, Alerts: 1, Transitions: 1}); res != want {
		t.Errorf("Prune = %+v, want %+v", res, want)
	}
	if n, _ := db.CountObservations(ctx); n != 19 {
		t.Errorf("observations left = %d", n)
	}
	if as, _ := db.Alerts(ctx, store.AlertFilter{}); len(as) != 2 {
		t.Errorf("alerts left = %d, want the unnotified and the firing one", len(as))
	}
}

func TestViews(t *testing.T) {
	db, _ := openTestDB(t)
	want := map[string]string{
		"recent_observations": "fid source ext_id observed_at ingested_at lat lon place kind title url weight precision properties geometry geom",
		"open_alerts":         "id watch rule rule_type severity starts_at updated_at count weight lat lon first_seen last_seen radius_m window_s shape stats fids geom",
		"alert_history":       "transition_id alert_id watch rule severity from_state to_state at notified_at",
		"source_health":       "name type last_run last_success last_error consecutive_failures last_duration_ms total_seen total_added total_updated total_unchanged total_rejected healthy",
	}
	for view, cols := range want {
		got := queryString(t, db, `SELECT string_agg(column_name, ' ' ORDER BY ordinal_position) FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name = $1`, view)
		if got != cols {
			t.Errorf("%s columns:\n got %s\nwant %s", view, got, cols)
		}
	}
	// The layers QGIS lists: a registered geometry column with its type and SRID.
	layers := queryString(t, db, `SELECT string_agg(f_table_name || '.' || f_geometry_column || ' ' || type || ' ' || srid, ', ' ORDER BY f_table_name)
		FROM geometry_columns WHERE f_table_name IN ('observations', 'alerts')`)
	if layers != "alerts.geom GEOMETRY 4326, observations.geom POINT 4326" {
		t.Errorf("geometry_columns = %s", layers)
	}
	ingest(t, db, "s", monitor.Batch{Observations: []monitor.Observation{obs("now", 131.9, 43.1, time.Now()), obs("old", 1, 1, t0.AddDate(-1, 0, 0))}})
	if s := queryString(t, db, `SELECT string_agg(ext_id, ',') FROM recent_observations`); s != "now" {
		t.Errorf("recent_observations = %s", s)
	}
	// The README's distance question in PostGIS terms.
	d := queryInt(t, db, `SELECT round(ST_Distance(geom::geography, ST_MakePoint(131.8855, 43.1155)::geography))::bigint
		FROM observations WHERE ext_id = 'now'`)
	if d < 1000 || d > 5000 {
		t.Errorf("distance = %d m", d)
	}
}

// TestServerRestart stops the server under an open store: ingest and Ping
// fail while it is down, and succeed once it is back, without reopening.
func TestServerRestart(t *testing.T) {
	srv := pgtest.Start(t)
	db := openURL(t, srv.URL())
	ctx := t.Context()
	ingest(t, db, "s", monitor.Batch{Observations: []monitor.Observation{obs("a", 1, 1, t0)}})
	srv.Stop()
	if _, err := db.Ingest(ctx, "s", monitor.Batch{Observations: []monitor.Observation{obs("b", 1, 1, t0)}}, t0); err == nil {
		t.Fatal("ingest with the server down succeeded")
	}
	if err := db.Ping(ctx); err == nil {
		t.Error("Ping with the server down succeeded")
	}
	srv.Start()
	res := ingest(t, db, "s", monitor.Batch{Observations: []monitor.Observation{obs("a", 1, 1, t0), obs("b", 1, 1, t0)}})
	if want := (monitor.IngestResult{Seen: 2, Added: 1, Unchanged: 1}); res != want {
		t.Errorf("ingest after restart = %+v, want %+v", res, want)
	}
	if err := db.Ping(ctx); err != nil {
		t.Errorf("Ping after restart: %v", err)
	}
}

func TestPingCancelled(t *testing.T) {
	db, _ := openTestDB(t)
	if err := db.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := db.Ping(ctx); err == nil {
		t.Error("Ping with a cancelled context succeeded")
	}
}

// TestIngestRace has another writer insert one of a batch's new records
// while the batch's insert waits on it: the fast path's insert fails on the
// unique index, and the batch is stored again through the upsert.
func TestIngestRace(t *testing.T) {
	db, url := openTestDB(t)
	ctx := t.Context()
	other := openURL(t, url)
	tx, err := other.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	if _, err := tx.Exec(ctx, `INSERT INTO observations (geom, source, ext_id, observed_at, ingested_at, lat, lon, weight, precision)
		VALUES (ST_SetSRID(ST_MakePoint(1, 1), 4326), 's', 'b', $1, $1, 1, 1, 1, 'exact')`, t0); err != nil {
		t.Fatal(err)
	}
	type result struct {
		res monitor.IngestResult
		err error
	}
	done := make(chan result, 1)
	batch := []monitor.Observation{obs("a", 1, 1, t0), obs("b", 2, 2, t0)}
	go func() {
		res, err := db.Ingest(ctx, "s", monitor.Batch{Observations: batch}, t0)
		done <- result{res, err}
	}()
	// Wait until the ingest waits for the other transaction's lock.
	for {
		var waiting bool
		if err := other.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock')`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting {
			break
		}
		select {
		case r := <-done:
			t.Fatalf("ingest did not wait: %+v, %v", r.res, r.err)
		default:
		}
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if want := (monitor.IngestResult{Seen: 2, Added: 1, Updated: 1}); r.err != nil || r.res != want {
		t.Errorf("ingest = %+v, %v, want %+v", r.res, r.err, want)
	}
	if s := queryString(t, db, `SELECT string_agg(ext_id || ' ' || lon, ',' ORDER BY ext_id) FROM observations`); s != "a 1,b 2" {
		t.Errorf("rows = %s", s)
	}
	// The upsert's rows, not the failed merge's.
	if s, want := fmt.Sprintf("%s %d,%s %d", batch[0].Source, batch[0].FID, batch[1].Source, batch[1].FID),
		queryString(t, db, `SELECT string_agg(source || ' ' || fid, ',' ORDER BY ext_id) FROM observations`); s != want {
		t.Errorf("reported rows = %s, want %s", s, want)
	}
}

// TestIngestDirectThenStaged covers the switch between a batch COPYed
// straight in and a staged one: a stored record late in a batch undoes the
// COPY, and the batch is counted as SQLite counts it.
func TestIngestDirectThenStaged(t *testing.T) {
	db, _ := openTestDB(t)
	a := obs("a", 1, 1, t0)
	ingest(t, db, "mix", monitor.Batch{Observations: []monitor.Observation{a}})
	a2 := a
	a2.Title = "changed"
	mixed := []monitor.Observation{obs("b", 2, 2, t0), obs("c", 3, 3, t0), a2}
	if res, want := ingest(t, db, "mix", monitor.Batch{Observations: mixed}),
		(monitor.IngestResult{Seen: 3, Added: 2, Updated: 1}); res != want {
		t.Errorf("mixed batch = %+v, want %+v", res, want)
	}
	// The staged rows, not the undone COPY's.
	if s, want := fmt.Sprintf("%s %d,%s %d,%s %d", mixed[2].ID, mixed[2].FID, mixed[0].ID, mixed[0].FID, mixed[1].ID, mixed[1].FID),
		queryString(t, db, `SELECT string_agg(ext_id || ' ' || fid, ',' ORDER BY ext_id) FROM observations`); s != want {
		t.Errorf("reported rows = %s, want %s", s, want)
	}
	if db.tryDirect("mix") {
		t.Error("source still COPYed straight in after a batch with a stored record")
	}
	ingest(t, db, "mix", monitor.Batch{Observations: []monitor.Observation{obs("d", 4, 4, t0)}}) // staged, all new
	if !db.tryDirect("mix") {
		t.Error("source not COPYed straight in again after an all-new batch")
	}
	if s := queryString(t, db, `SELECT string_agg(ext_id || ':' || coalesce(title, '-'), ',' ORDER BY fid) FROM observations`); s != "a:changed,b:-,c:-,d:-" {
		t.Errorf("rows = %s", s)
	}
}
