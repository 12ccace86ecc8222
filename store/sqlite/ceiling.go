package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/paulmach/orb"

	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/store"
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

// SchemaFloor measures what SQLite itself does with rows in geowatch's own
// schema: a database opened at path as the store opens it (every index, the
// R*Tree when rtree), the rows staged in an in-memory table in their stored
// form (GeoPackage blob, times, hour bucket and cell) before the clock
// starts; then each transaction of batch rows is one INSERT … SELECT with the
// store's upsert and RETURNING, whose rows are read as Ingest reads them, and
// the R*Tree filled from the new rows. It returns the time from the first
// transaction to the last commit.
//
// It is the floor under Ingest for the same semantics (dedupe on (source, id),
// the query index, a per-record outcome), without Go's work on the rows:
// `geowatch bench` reports it beside the ceilings, so the part of a gap that
// the schema costs and the part the engine costs show apart.
func SchemaFloor(ctx context.Context, path string, rows []CeilingRow, batch int, rtree bool) (time.Duration, error) {
	if batch <= 0 {
		batch = 50_000
	}
	spatial := store.SpatialIndexOff
	if rtree {
		spatial = store.SpatialIndexRTree
	}
	db, err := Open(ctx, path, store.WithSpatialIndex(spatial))
	if err != nil {
		return 0, err
	}
	defer db.Close()
	conn, err := db.w.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	stamp := formatTime(time.Now())
	if _, err := conn.ExecContext(ctx, `ATTACH ':memory:' AS m`); err != nil {
		return 0, fmt.Errorf("schema floor: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `DETACH m`) //nolint:errcheck // the connection closes next
	if _, err := conn.ExecContext(ctx, `CREATE TABLE m.stage (`+obsColumns+`)`); err != nil {
		return 0, fmt.Errorf("schema floor: %w", err)
	}
	if err := stageStored(ctx, conn, rows, stamp); err != nil {
		return 0, fmt.Errorf("schema floor: stage rows: %w", err)
	}
	ins, err := conn.PrepareContext(ctx, `INSERT INTO observations (`+obsColumns+`) SELECT `+obsColumns+
		` FROM m.stage WHERE rowid > ? AND rowid <= ?`+upsertReturning)
	if err != nil {
		return 0, err
	}
	defer ins.Close()
	var fill *sql.Stmt
	if rtree {
		if fill, err = conn.PrepareContext(ctx, `INSERT INTO rtree_observations_geom SELECT fid, lon, lon, lat, lat FROM observations WHERE fid > ?`); err != nil {
			return 0, err
		}
		defer fill.Close()
	}
	start := time.Now()
	for i := 0; i < len(rows); i += batch {
		if err := floorBatch(ctx, conn, ins, fill, i, batch); err != nil {
			return 0, fmt.Errorf("schema floor: rows %d-%d: %w", i+1, i+batch, err)
		}
	}
	return time.Since(start), nil
}

// floorBatch is one transaction of SchemaFloor: rows (lo, lo+n] of m.stage,
// and the R*Tree filled when fill is not nil.
func floorBatch(ctx context.Context, conn *sql.Conn, ins, fill *sql.Stmt, lo, n int) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var maxFID int64
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(fid), 0) FROM observations`).Scan(&maxFID); err != nil {
		return err
	}
	rs, err := tx.StmtContext(ctx, ins).QueryContext(ctx, lo, lo+n)
	if err != nil {
		return err
	}
	for rs.Next() {
		var fid int64
		var source, id string
		if err := rs.Scan(&fid, &source, &id); err != nil {
			rs.Close()
			return err
		}
	}
	if err := rs.Close(); err != nil {
		return err
	}
	if fill != nil {
		if _, err := tx.StmtContext(ctx, fill).ExecContext(ctx, maxFID); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// stageStored loads rows into m.stage as Ingest would store them, in one
// transaction, rowids 1..len(rows).
func stageStored(ctx context.Context, conn *sql.Conn, rows []CeilingRow, stamp string) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, `INSERT INTO m.stage VALUES (`+strings.Repeat("?, ", obsParams-1)+`?)`)
	if err != nil {
		return err
	}
	defer st.Close()
	for i, r := range rows {
		o := monitor.Observation{ID: r.ID, Kind: r.Kind, Point: orb.Point{r.Lon, r.Lat}, Weight: 1}
		if o.Time, err = time.Parse(time.RFC3339, r.Time); err != nil {
			return fmt.Errorf("row %d (%s): time: %w", i+1, r.ID, err)
		}
		o.Normalize()
		args, err := rowArgs(nil, &o, r.Source, "", stamp)
		if err != nil {
			return fmt.Errorf("row %d (%s): %w", i+1, r.ID, err)
		}
		if _, err := st.ExecContext(ctx, args...); err != nil {
			return err
		}
	}
	return tx.Commit()
}
