package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/geowatch/geowatch/store"
	"github.com/geowatch/geowatch/store/storetest"
)

// TestContract runs the store contract (store/storetest) against SQLite:
// each subtest gets a new file in its own temporary directory, and a restart
// is Close and Open of the same file.
func TestContract(t *testing.T) {
	open := func(t *testing.T, path string) store.Backend {
		t.Helper()
		db, err := Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() }) // a second Close, after reopen's, fails harmlessly
		return db
	}
	storetest.Run(t,
		func(t *testing.T) store.Backend {
			return open(t, filepath.Join(t.TempDir(), "geowatch.gpkg"))
		},
		func(t *testing.T, b store.Backend) store.Backend {
			t.Helper()
			db := b.(*DB)
			if err := db.Close(); err != nil {
				t.Fatalf("close before reopening: %v", err)
			}
			return open(t, db.Path())
		},
		func(t *testing.T, b store.Backend) store.Backend {
			return open(t, b.(*DB).Path())
		})
}
