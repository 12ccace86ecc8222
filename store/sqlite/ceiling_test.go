package sqlite

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/paulmach/orb"
)

// TestCeiling stores every row, in transactions of batch rows, with and
// without the R*Tree.
func TestCeiling(t *testing.T) {
	var rows []CeilingRow
	for i := range 2500 {
		rows = append(rows, CeilingRow{ID: fmt.Sprintf("obs-%07d", i), Source: "bench", Kind: "fire",
			Time: "2026-11-26T00:00:00Z", Lat: 20 + float64(i%35), Lon: 100 + float64(i%50)})
	}
	for _, rtree := range []bool{true, false} {
		path := filepath.Join(t.TempDir(), "ceiling.db")
		took, err := Ceiling(t.Context(), path, rows, 1000, rtree)
		if err != nil || took <= 0 {
			t.Fatalf("Ceiling(rtree %v) = %v, %v", rtree, took, err)
		}
		c, err := sql.Open("sqlite3", path)
		if err != nil {
			t.Fatal(err)
		}
		var n, r int
		if err := c.QueryRow(`SELECT (SELECT count(*) FROM obs), (SELECT count(*) FROM rt)`).Scan(&n, &r); err != nil {
			t.Fatal(err)
		}
		c.Close()
		want := 0
		if rtree {
			want = len(rows)
		}
		if n != len(rows) || r != want {
			t.Errorf("rtree %v: %d rows, %d in the R*Tree; want %d, %d", rtree, n, r, len(rows), want)
		}
	}
}

// TestSchemaFloor runs the floor on rows that repeat ids (the upsert leaves a
// repeated, unchanged row as it is) and checks it left what Ingest would have
// stored: a geowatch database with each id once, its R*Tree filled when asked,
// and the rows as Query reads them.
func TestSchemaFloor(t *testing.T) {
	var rows []CeilingRow
	for i := range 2500 {
		rows = append(rows, CeilingRow{ID: fmt.Sprintf("obs-%07d", i%2000), Source: "bench", Kind: "fire",
			Time: "2026-11-26T00:00:00Z", Lat: 20 + float64(i%2000%35), Lon: 100 + float64(i%2000%50)})
	}
	for _, rtree := range []bool{true, false} {
		path := filepath.Join(t.TempDir(), "floor.gpkg")
		took, err := SchemaFloor(t.Context(), path, rows, 1000, rtree)
		if err != nil || took <= 0 {
			t.Fatalf("SchemaFloor(rtree %v) = %v, %v", rtree, took, err)
		}
		db := openTestDB(t, path)
		if n := queryInt(t, db, `SELECT count(*) FROM observations`); n != 2000 || db.SpatialIndexOn() != rtree {
			t.Errorf("rtree %v: %d rows, R*Tree %v; want 2000", rtree, n, db.SpatialIndexOn())
		}
		if rtree {
			if r := queryInt(t, db, `SELECT count(*) FROM rtree_observations_geom`); r != 2000 {
				t.Errorf("%d rows in the R*Tree, want 2000", r)
			}
		}
		obs, err := db.ObservationsByFID(t.Context(), []int64{1})
		if err != nil || len(obs) != 1 || obs[0].ID != "obs-0000000" || !obs[0].Time.Equal(t0) || obs[0].Point != (orb.Point{100, 20}) || obs[0].Kind != "fire" {
			t.Errorf("row 1 reads %+v, %v", obs, err)
		}
	}
}
