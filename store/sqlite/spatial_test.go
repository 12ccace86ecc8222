package sqlite

import (
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/geowatch/geowatch/store"

	"github.com/geowatch/geowatch/monitor"
)

// TestSpatialIndexSwitch drops the observations R*Tree, ingests, moves and
// prunes rows without it, and builds it back: the rebuilt tree holds exactly
// the rows stored, and a file opened without the option keeps what it has.
func TestSpatialIndexSwitch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "geowatch.gpkg")
	open := func(s store.SpatialIndex) *DB {
		t.Helper()
		db, err := Open(t.Context(), path, store.WithSpatialIndex(s))
		if err != nil {
			t.Fatal(err)
		}
		return db
	}
	db := open(store.SpatialIndexKeep)
	if !db.SpatialIndexOn() {
		t.Error("a new file has no R*Tree")
	}
	ingest(t, db, "s", monitor.Batch{Observations: []monitor.Observation{obs("a", 131.9, 43.1, t0), obs("b", 132, 43.2, t0)}})
	db.Close()

	db = open(store.SpatialIndexOff)
	if db.SpatialIndexOn() || queryInt(t, db, `SELECT count(*) FROM sqlite_master WHERE name LIKE 'rtree_observations_geom%'`) != 0 {
		t.Fatal("spatial_index off left the R*Tree or its triggers")
	}
	ingest(t, db, "s", monitor.Batch{Observations: []monitor.Observation{
		obs("a", 131.5, 43.5, t0), // moved
		obs("c", 132.1, 43.3, t0.Add(48*time.Hour)),
	}})
	if res, err := db.Prune(t.Context(), t0.Add(time.Hour), 100); err != nil || res.Observations != 2 {
		t.Fatalf("prune without R*Tree = %+v, %v; want 2 observations", res, err)
	}
	db.Close()

	db = open(store.SpatialIndexKeep)
	if db.SpatialIndexOn() {
		t.Error("opening without the option rebuilt the R*Tree")
	}
	db.Close()

	db = open(store.SpatialIndexRTree)
	defer db.Close()
	if !db.SpatialIndexOn() || queryString(t, db, `SELECT rtreecheck('rtree_observations_geom')`) != "ok" {
		t.Fatal("spatial_index rtree did not rebuild a consistent R*Tree")
	}
	if n := queryInt(t, db, `SELECT count(*) FROM rtree_observations_geom r JOIN observations o ON o.fid = r.id
		WHERE r.minx <= o.lon AND r.maxx >= o.lon AND r.miny <= o.lat AND r.maxy >= o.lat`); n != 1 || queryInt(t, db, `SELECT count(*) FROM rtree_observations_geom`) != 1 {
		t.Errorf("rebuilt R*Tree: %d matching rows, want exactly the 1 stored", n)
	}
	ingest(t, db, "s", monitor.Batch{Observations: []monitor.Observation{obs("d", 131, 42, t0.Add(72*time.Hour))}})
	if queryInt(t, db, `SELECT count(*) FROM rtree_observations_geom`) != 2 {
		t.Error("ingest after the rebuild did not fill the R*Tree")
	}
}

// TestParseStoredTime reads formatTime's layout by hand and the other forms a
// row written by another program may hold.
func TestParseStoredTime(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"2026-11-26T07:22:32.123Z", time.Date(2026, 11, 26, 7, 22, 32, 123e6, time.UTC), true},
		{"0001-01-01T00:00:00.000Z", time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{"2026-02-30T00:00:00.000Z", time.Time{}, false},
		{"2026-11-26T07:22:32Z", time.Date(2026, 11, 26, 7, 22, 32, 0, time.UTC), true},
		{"2026-11-26 07:22:32", time.Date(2026, 11, 26, 7, 22, 32, 0, time.UTC), true},
		{"2026-11-26T09:22:32.5+02:00", time.Date(2026, 11, 26, 7, 22, 32, 5e8, time.UTC), true},
		{"yesterday", time.Time{}, false},
	} {
		got, err := parseStoredTime(tc.in)
		if (err == nil) != tc.ok || !got.Equal(tc.want) || (tc.ok && got.Location() != time.UTC) {
			t.Errorf("parseStoredTime(%q) = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 1000 {
		at := time.UnixMilli(rng.Int64N(253402300799999)).UTC() // to 9999-12-31
		if got, err := parseStoredTime(formatTime(at)); err != nil || !got.Equal(at) {
			t.Fatalf("parseStoredTime(formatTime(%v)) = %v, %v", at, got, err)
		}
	}
}
