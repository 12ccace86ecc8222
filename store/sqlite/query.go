package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/geowatch/geowatch/store"
	"github.com/geowatch/geowatch/store/internal/rowcodec"

	"github.com/geowatch/geowatch/monitor"
)

// exportChunkHours is how many hour buckets one statement of Query covers. Rows
// come out of observations_hour_cell in hour order, so SQLite sorts only one
// chunk at a time by time: memory grows with the rows of six hours, not with
// the export.
const exportChunkHours = 6

// Query calls fn for each observation f selects, with every field (as
// monitor.Query's Detail), in time order (then fid), without holding more than
// a few hours' rows in memory: for geowatch query and export. It stops at fn's
// first error and returns it.
//
// It reads one snapshot (a read transaction), so a long export sees no row
// ingested after it started; meanwhile the WAL cannot be checkpointed past that
// snapshot, so it grows until the export ends.
func (db *DB) Query(ctx context.Context, f store.QueryFilter, fn func(monitor.Observation) error) error {
	err := db.query(ctx, f, fn)
	var fe *callbackError
	if errors.As(err, &fe) {
		return fe.err
	}
	if err != nil {
		return fmt.Errorf("store: query observations in %s: %w", db.path, err)
	}
	return nil
}

// callbackError carries fn's error out of query unwrapped.
type callbackError struct{ err error }

func (e *callbackError) Error() string { return e.err.Error() }

func (db *DB) query(ctx context.Context, f store.QueryFilter, fn func(monitor.Observation) error) error {
	since, until := minTime, maxTime
	if !f.Since.IsZero() {
		since = rowcodec.CeilMilli(f.Since.UTC())
	}
	if !f.Until.IsZero() {
		until = rowcodec.CeilMilli(f.Until.UTC())
	}
	ranges := [][2]int{{0, gridRows*gridCols - 1}}
	if f.Area != nil {
		ranges = cellRanges(f.Area.Bounds())
	}
	if !since.Before(until) || len(ranges) == 0 {
		return nil
	}
	rj, _ := json.Marshal(ranges) // [][2]int always marshals
	q := `WITH RECURSIVE hours(b) AS (SELECT ?1 UNION ALL SELECT b + 1 FROM hours WHERE b < ?2)
SELECT o.fid, o.source, o.ext_id, +o.observed_at, o.lon, o.lat, o.kind, o.weight, o.precision` + queryDetail + `
FROM hours CROSS JOIN json_each(?3) AS r CROSS JOIN observations AS o INDEXED BY observations_hour_cell
WHERE o.hour_bucket = hours.b AND o.cell BETWEEN r.value ->> 0 AND r.value ->> 1
  AND o.observed_at >= ?4 AND o.observed_at < ?5`
	args := []any{nil, nil, string(rj), formatTime(since), formatTime(until)}
	for _, in := range []struct {
		col  string
		vals []string
	}{{"kind", f.Kinds}, {"source", f.Sources}} {
		if len(in.vals) == 0 {
			continue
		}
		j, err := json.Marshal(in.vals)
		if err != nil {
			return err
		}
		args = append(args, string(j))
		q += fmt.Sprintf(" AND o.%s IN (SELECT value FROM json_each(?%d))", in.col, len(args))
	}
	q += "\nORDER BY o.observed_at, o.fid"

	tx, err := db.r.BeginTx(ctx, nil) // deferred: the snapshot starts at the first read
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var first, last sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT max(?1, (SELECT min(hour_bucket) FROM observations)),
		min(?2, (SELECT max(hour_bucket) FROM observations))`,
		hourBucket(since), hourBucket(until.Add(-time.Millisecond))).Scan(&first, &last); err != nil {
		return err
	}
	if !first.Valid || !last.Valid { // no observations
		return nil
	}
	st, err := tx.PrepareContext(ctx, q)
	if err != nil {
		return err
	}
	defer st.Close()
	next, err := tx.PrepareContext(ctx, `SELECT min(hour_bucket) FROM observations WHERE hour_bucket > ?`)
	if err != nil {
		return err
	}
	defer next.Close()
	sent := 0
	for b := first.Int64; b <= last.Int64; {
		e := min(b+exportChunkHours-1, last.Int64)
		args[0], args[1] = b, e
		done, err := db.queryChunk(ctx, st, args, f, fn, &sent)
		if err != nil || done {
			return err
		}
		var n sql.NullInt64 // skip empty hours in one seek
		if err := next.QueryRowContext(ctx, e).Scan(&n); err != nil {
			return err
		}
		if !n.Valid {
			return nil
		}
		b = n.Int64
	}
	return nil
}

// queryChunk streams one chunk's rows to fn; done reports that the limit is reached.
func (db *DB) queryChunk(ctx context.Context, st *sql.Stmt, args []any, f store.QueryFilter,
	fn func(monitor.Observation) error, sent *int) (done bool, err error) {
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	for rows.Next() {
		o, err := scanObservation(rows, true)
		if err != nil {
			return false, err
		}
		if f.Area != nil && !f.Area.Contains(o.Point) {
			continue
		}
		if err := fn(o); err != nil {
			return false, &callbackError{err}
		}
		if *sent++; f.Limit > 0 && *sent >= f.Limit {
			return true, nil
		}
	}
	return false, rows.Err()
}
