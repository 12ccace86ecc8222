package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/geowatch/geowatch/store"
	"github.com/geowatch/geowatch/store/sqlite"
)

// cmdBackup writes a consistent copy of the database to DEST while the daemon
// runs: one read snapshot (store.Backup), so writers are never blocked.
func cmdBackup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("backup", stderr)
	cfgPath := fs.String("config", "", "config `FILE` naming the database (default: the embedded default config)")
	dbPath := fs.String("db", "", "database: a SQLite `PATH` or a postgres:// URL (default: the config's database)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{"backup takes one DEST"}
	}
	dest := pos[0]
	if _, err := os.Lstat(dest); err == nil {
		return fmt.Errorf("backup: %s exists; give a new path", dest)
	}
	path, err := databasePath(*cfgPath, *dbPath)
	if err != nil {
		return err
	}
	if store.KindOf(path) == store.PostgreSQL {
		return fmt.Errorf("backup: %s is a PostgreSQL database: back it up with its own tools, e.g. pg_dump --format=custom --file=%s '%s'",
			store.Redact(path), dest, store.Redact(path))
	}
	st, err := sqlite.Open(ctx, path, store.ReadOnly())
	if err != nil {
		return err
	}
	defer st.Close()
	start := time.Now()
	if err := st.Backup(ctx, dest); err != nil {
		return err
	}
	// VACUUM INTO leaves the copy in rollback-journal mode, which a read-only
	// open (query, export, a read-only restore check) cannot switch back to WAL:
	// open it once read-write, as the daemon would, so it is ready for either.
	cp, err := sqlite.Open(ctx, dest)
	if err == nil {
		err = cp.Close()
	}
	if err != nil {
		return fmt.Errorf("backup: %s written, but it does not open: %w", dest, err)
	}
	info, err := os.Stat(dest)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if ext := strings.ToLower(filepath.Ext(dest)); ext != ".gpkg" {
		fmt.Fprintf(stderr, "backup: warning: %s has extension %q: GDAL and QGIS open a GeoPackage only as .gpkg\n", dest, ext)
	}
	_, err = fmt.Fprintf(stderr, "backed up %s to %s (%.1f MB in %s)\n", path, dest,
		float64(info.Size())/(1<<20), time.Since(start).Round(time.Millisecond))
	return err
}
