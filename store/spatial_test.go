package store

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/geowatch/geowatch/monitor"
)

// TestSpatialIndexSwitch drops the observations R*Tree, ingests, moves and
// prunes rows without it, and builds it back: the rebuilt tree holds exactly
// the rows stored, and a file opened without the option keeps what it has.
func TestSpatialIndexSwitch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "geowatch.gpkg")
	open := func(s SpatialIndex) *DB {
		t.Helper()
		db, err := Open(t.Context(), path, WithSpatialIndex(s))
		if err != nil {
			t.Fatal(err)
		}
		return db
	}
	db := open(SpatialIndexKeep)
	if !db.SpatialIndexOn() {
		t.Error("a new file has no R*Tree")
	}
	ingest(t, db, "s", monitor.Batch{Observations: []monitor.Observation{obs("a", 131.9, 43.1, t0), obs("b", 132, 43.2, t0)}})
	db.Close()

	db = open(SpatialIndexOff)
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

	db = open(SpatialIndexKeep)
	if db.SpatialIndexOn() {
		t.Error("opening without the option rebuilt the R*Tree")
	}
	db.Close()

	db = open(SpatialIndexRTree)
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
