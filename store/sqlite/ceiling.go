package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// CeilingRow is one row of the shared bench workload as ../shared/bench/ceiling.py
// stages it.
type CeilingRow struct {
	ID, Source, Kind, Time string
	Lat, Lon               float64
}

// Ceiling measures what SQLite itself does with rows, as
// ../shared/bench/ceiling.py does, in this process and its SQLite: the rows
// are staged in an in-memory table before the clock starts; then each
// transaction of batch rows is an INSERT … SELECT into a table with no index
// but its rowid, and with rtree the R*Tree filled from it. A new file at path
// (WAL, synchronous=NORMAL, a 64 MB cache, as ceiling.py), removed by the
// caller. It returns the time from the first transaction to the last commit.
//
// It is the reference `geowatch bench` reports ingest against: no Go on the
// clock, no parsing, no validation, no dedupe, no query index.
func Ceiling(ctx context.Context, path string, rows []CeilingRow, batch int, rtree bool) (time.Duration, error) {
	if batch <= 0 {
		batch = 50_000
	}
	c, err := sql.Open("sqlite3", "file:"+escapePath(path)+"?_journal_mode=WAL&_synchronous=NORMAL&_cache_size=-65536")
	if err != nil {
		return 0, err
	}
	defer c.Close()
	c.SetMaxOpenConns(1)
	conn, err := c.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	for _, q := range []string{
		`ATTACH ':memory:' AS m`,
		`CREATE TABLE m.stage (id TEXT, source TEXT, kind TEXT, time TEXT, lat REAL, lon REAL)`,
		`CREATE TABLE obs (fid INTEGER PRIMARY KEY, id TEXT, source TEXT, kind TEXT, time TEXT, lat REAL, lon REAL)`,
		`CREATE VIRTUAL TABLE rt USING rtree(id, minx, maxx, miny, maxy)`,
	} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return 0, fmt.Errorf("ceiling: %s: %w", q, err)
		}
	}
	if err := stage(ctx, conn, rows); err != nil {
		return 0, fmt.Errorf("ceiling: stage rows: %w", err)
	}
	ins, err := conn.PrepareContext(ctx, `INSERT INTO obs (id, source, kind, time, lat, lon)
		SELECT id, source, kind, time, lat, lon FROM m.stage WHERE rowid > ? AND rowid <= ?`)
	if err != nil {
		return 0, err
	}
	defer ins.Close()
	fill, err := conn.PrepareContext(ctx, `INSERT INTO rt SELECT fid, lon, lon, lat, lat FROM obs WHERE fid > ?`)
	if err != nil {
		return 0, err
	}
	defer fill.Close()
	start := time.Now()
	for i := 0; i < len(rows); i += batch {
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return 0, err
		}
		_, err = tx.StmtContext(ctx, ins).ExecContext(ctx, i, i+batch)
		if err == nil && rtree {
			_, err = tx.StmtContext(ctx, fill).ExecContext(ctx, i)
		}
		if err == nil {
			err = tx.Commit()
		}
		if err != nil {
			tx.Rollback()
			return 0, fmt.Errorf("ceiling: rows %d-%d: %w", i+1, i+batch, err)
		}
	}
	return time.Since(start), nil
}

// stage loads rows into m.stage in one transaction, rowids 1..len(rows).
func stage(ctx context.Context, conn *sql.Conn, rows []CeilingRow) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, `INSERT INTO m.stage VALUES (?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer st.Close()
	for _, r := range rows {
		if _, err := st.ExecContext(ctx, r.ID, r.Source, r.Kind, r.Time, r.Lat, r.Lon); err != nil {
			return err
		}
	}
	return tx.Commit()
}
