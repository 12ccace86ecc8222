package sqlite

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/geowatch/geowatch/store"

	"github.com/geowatch/geowatch/monitor"
)

func TestIntegrityCheck(t *testing.T) {
	path := filepath.Join(t.TempDir(), "geowatch.gpkg")
	db, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.IntegrityCheck(t.Context()); err != nil {
		t.Errorf("IntegrityCheck on a new file = %v, want nil", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	ro, err := Open(t.Context(), path, store.ReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if err := ro.IntegrityCheck(t.Context()); err != nil {
		t.Errorf("IntegrityCheck read-only = %v, want nil", err)
	}
}

func TestIntegrityCheckCorrupt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "geowatch.gpkg")
	db, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	ingest(t, db, "grid", monitor.Batch{Observations: gridBatch("g", 5000)})
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// Scribble over the last page, one of the observations' tables or indexes:
	// the schema stays readable, so the file opens and the check, not Open, has
	// to find the damage.
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	junk := make([]byte, pageSize)
	for i := range junk {
		junk[i] = 0xA5
	}
	if _, err := f.WriteAt(junk, fi.Size()-pageSize); err != nil {
		t.Fatal(err)
	}
	f.Close()
	ro, err := Open(t.Context(), path, store.ReadOnly())
	if err != nil {
		t.Skipf("the damaged file no longer opens (%v); nothing left to check", err)
	}
	defer ro.Close()
	if err := ro.IntegrityCheck(t.Context()); !errors.Is(err, ErrCorrupt) {
		t.Errorf("IntegrityCheck on a damaged file = %v, want ErrCorrupt", err)
	} else {
		t.Log(err)
	}
}
