package main

import (
	"context"
	"fmt"
	"os"

	"github.com/geowatch/geowatch/store"
	"github.com/geowatch/geowatch/store/postgis"
	"github.com/geowatch/geowatch/store/sqlite"
)

// openStore opens the database a config's database setting (or --db) names,
// with the backend it names (store.KindOf): every command goes through it.
func openStore(ctx context.Context, database string, opts ...store.Option) (store.Backend, error) {
	if store.KindOf(database) == store.PostgreSQL {
		return postgis.Open(ctx, database, opts...)
	}
	return sqlite.Open(ctx, database, opts...)
}

// openExisting opens a database read-only, refusing a SQLite path that does
// not exist (Open would create it).
func openExisting(ctx context.Context, database string) (store.Backend, error) {
	if store.KindOf(database) == store.SQLite {
		if _, err := os.Stat(database); err != nil {
			return nil, fmt.Errorf("database: %w", err)
		}
	}
	return openStore(ctx, database, store.ReadOnly())
}

// walStatuser is a backend with a write-ahead log whose size it watches
// (SQLite's: its readiness check and status line report it).
type walStatuser interface {
	WALStatus() (int64, error)
}
