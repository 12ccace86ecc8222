package sqlite

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/mattn/go-sqlite3"
)

// ErrCorrupt is a database that fails SQLite's integrity check.
var ErrCorrupt = errors.New("database fails integrity check")

// IntegrityCheck runs PRAGMA integrity_check over the whole file (every table,
// index and the R*Trees' shadow tables) and returns an error wrapping
// ErrCorrupt with SQLite's findings unless it answers "ok" (damage that stops
// the check itself, SQLITE_CORRUPT or SQLITE_NOTADB, wraps it too). It reads every
// page, so it takes seconds on a large file; it works on a read-only DB.
func (db *DB) IntegrityCheck(ctx context.Context) error {
	found, err := db.integrityCheck(ctx)
	if se := (sqlite3.Error{}); errors.As(err, &se) && (se.Code == sqlite3.ErrCorrupt || se.Code == sqlite3.ErrNotADB) {
		return fmt.Errorf("store: %s: %w: %w", db.path, ErrCorrupt, err)
	}
	if err != nil {
		return fmt.Errorf("store: integrity check of %s: %w", db.path, err)
	}
	if len(found) == 1 && found[0] == "ok" {
		return nil
	}
	return fmt.Errorf("store: %s: %w: %s", db.path, ErrCorrupt, strings.Join(found, "; "))
}

func (db *DB) integrityCheck(ctx context.Context) ([]string, error) {
	rows, err := db.r.QueryContext(ctx, `PRAGMA integrity_check`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var found []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		found = append(found, s)
	}
	return found, rows.Err()
}
