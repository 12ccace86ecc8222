package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/geowatch/geowatch/store"

	"github.com/geowatch/geowatch/monitor"
	"github.com/paulmach/orb"
)

func openTestDB(t testing.TB, path string) *DB {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "geowatch.gpkg")
	}
	db, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// queryInt runs a one-value query on the reader pool.
func queryInt(t testing.TB, db *DB, q string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := db.r.QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func queryString(t testing.TB, db *DB, q string) string {
	t.Helper()
	var s string
	if err := db.r.QueryRow(q).Scan(&s); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return s
}

var t0 = time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)

func obs(id string, lon, lat float64, at time.Time) monitor.Observation {
	return monitor.Observation{ID: id, Time: at, Point: orb.Point{lon, lat}, Kind: "seismic"}
}

func TestOpenMigrations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "geowatch.gpkg")
	db := openTestDB(t, path)
	v1, err := db.SchemaVersion(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	names, _ := store.MigrationNames(migrations)
	if want := names[len(names)-1]; v1 != want {
		t.Errorf("SchemaVersion = %q, want %q", v1, want)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openTestDB(t, path) // idempotent: nothing to apply, nothing fails
	if n := queryInt(t, db, `SELECT count(*) FROM schema_migrations`); n != int64(len(names)) {
		t.Errorf("schema_migrations rows = %d, want %d", n, len(names))
	}
	for _, tc := range []struct {
		name, q string
		want    string
	}{
		{"journal mode", "PRAGMA journal_mode", "wal"},
		{"application id", "PRAGMA application_id", fmt.Sprint(0x47504B47)},
		{"user version", "PRAGMA user_version", "10300"}, // GeoPackage 1.3: see 010_gpkg_1_3.sql
		{"page size", "PRAGMA page_size", "8192"},
		{"foreign keys", "PRAGMA foreign_keys", "1"},
		{"integrity", "PRAGMA integrity_check", "ok"},
		{"srs rows", "SELECT group_concat(srs_id) FROM (SELECT srs_id FROM gpkg_spatial_ref_sys ORDER BY srs_id)", "-1,0,4326"},
		{"layers", "SELECT group_concat(table_name || ':' || data_type) FROM (SELECT * FROM gpkg_contents ORDER BY table_name)",
			"alert_transitions:attributes,alerts:features,observations:features,rejects:attributes,silences:attributes,sources:attributes,subscriber_cursors:attributes"},
		{"rtree extensions", "SELECT group_concat(table_name) FROM (SELECT table_name FROM gpkg_extensions WHERE extension_name = 'gpkg_rtree_index' ORDER BY 1)", "alerts,observations"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := queryString(t, db, tc.q); got != tc.want {
				t.Errorf("%s = %q, want %q", tc.q, got, tc.want)
			}
		})
	}
}

func TestOpenReadOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "geowatch.gpkg")
	db := openTestDB(t, path)
	if _, err := db.Ingest(t.Context(), "s", monitor.Batch{Observations: []monitor.Observation{obs("a", 1, 2, t0)}}, t0); err != nil {
		t.Fatal(err)
	}
	ro, err := Open(t.Context(), path, store.ReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if n, err := ro.CountObservations(t.Context()); err != nil || n != 1 {
		t.Errorf("CountObservations = %d, %v, want 1", n, err)
	}
	if _, err := ro.Ingest(t.Context(), "s", monitor.Batch{}, t0); err == nil {
		t.Error("Ingest on a read-only DB succeeded")
	}
	if _, err := Open(t.Context(), filepath.Join(t.TempDir(), "missing.gpkg"), store.ReadOnly()); err == nil {
		t.Error("read-only Open of a missing file succeeded")
	}
}
