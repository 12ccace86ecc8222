package postgis

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// This file holds the yardsticks `geowatch bench --db postgres://…` measures
// geowatch against in the same run, on the same server: what a user would do
// with PostgreSQL directly.

// ReferenceRow is one row of the shared bench workload
// (id,source,kind,time,lat,lon), with the properties geowatch stores for it.
type ReferenceRow struct {
	ID, Source, Kind string
	Time             time.Time
	Lat, Lon         float64
	Properties       []byte // JSON
}

// CopyReference measures a plain COPY of rows into a new table with the
// columns and every index of observations (CREATE TABLE … (LIKE
// observations INCLUDING ALL): its primary key, GiST, time and unique
// indexes), batch rows per transaction, dropped afterwards. The COPY text is
// built before the clock starts, so it measures the server alone: no
// parsing, no validation, no conflict handling. It returns the time from the
// first COPY to the last commit.
func (db *DB) CopyReference(ctx context.Context, rows []ReferenceRow, batch int) (time.Duration, error) {
	if batch <= 0 {
		batch = 10_000
	}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	var chunks [][]byte
	for i := 0; i < len(rows); i += batch {
		var buf bytes.Buffer
		for _, r := range rows[i:min(i+batch, len(rows))] {
			buf.WriteString(hex.EncodeToString(pointEWKB(r.Lon, r.Lat)))
			fmt.Fprintf(&buf, "\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t1\texact\t%s\n", copyText(r.Source), copyText(r.ID),
				r.Time.UTC().Format(time.RFC3339Nano), now, strconv.FormatFloat(r.Lat, 'g', -1, 64),
				strconv.FormatFloat(r.Lon, 'g', -1, 64), copyText(r.Kind), copyText(string(r.Properties)))
		}
		chunks = append(chunks, buf.Bytes())
	}
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return 0, db.wrap(err, "copy reference into %s", db.name)
	}
	defer conn.Release()
	const table = "geowatch_bench_copy_reference"
	if _, err := conn.Exec(ctx, `DROP TABLE IF EXISTS `+table+`; CREATE TABLE `+table+` (LIKE observations INCLUDING ALL)`); err != nil {
		return 0, db.wrap(err, "copy reference into %s", db.name)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `DROP TABLE IF EXISTS `+table) //nolint:errcheck // best effort
	start := time.Now()
	for _, c := range chunks {
		tx, err := conn.Begin(ctx)
		if err != nil {
			return 0, db.wrap(err, "copy reference into %s", db.name)
		}
		if _, err := conn.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(c),
			`COPY `+table+` (geom, source, ext_id, observed_at, ingested_at, lat, lon, kind, weight, precision, properties) FROM STDIN`); err != nil {
			tx.Rollback(ctx) //nolint:errcheck // the error is the COPY's
			return 0, db.wrap(err, "copy reference into %s", db.name)
		}
		if err := tx.Commit(ctx); err != nil {
			return 0, db.wrap(err, "copy reference into %s", db.name)
		}
	}
	return time.Since(start), nil
}

// copyText escapes s for COPY's text format.
func copyText(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\t", `\t`, "\n", `\n`, "\r", `\r`).Replace(s)
}

// ServerTime runs EXPLAIN (ANALYZE) of query runs times and returns the
// median of the server's own execution time: what psql's \timing would show
// without the client or the network.
func (db *DB) ServerTime(ctx context.Context, query string, runs int, args ...any) (time.Duration, error) {
	var took []time.Duration
	for range max(runs, 1) {
		rows, err := db.pool.Query(ctx, `EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) `+query, args...)
		if err != nil {
			return 0, db.wrap(err, "explain in %s", db.name)
		}
		var plan []struct {
			Execution float64 `json:"Execution Time"` // ms
		}
		for rows.Next() {
			var raw []byte
			if err := rows.Scan(&raw); err != nil {
				rows.Close()
				return 0, db.wrap(err, "explain in %s", db.name)
			}
			if err := json.Unmarshal(raw, &plan); err != nil {
				rows.Close()
				return 0, fmt.Errorf("store: explain in %s: %w", db.name, err)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return 0, db.wrap(err, "explain in %s", db.name)
		}
		if len(plan) != 1 {
			return 0, fmt.Errorf("store: explain in %s: %d plans", db.name, len(plan))
		}
		took = append(took, time.Duration(plan[0].Execution*float64(time.Millisecond)))
	}
	slices.Sort(took)
	return took[len(took)/2], nil
}

// Empty deletes every observation, reject, source run, alert, transition,
// cursor and silence, and restarts their ids: for the rounds of `geowatch
// bench`, which load the same rows again into the same database.
func (db *DB) Empty(ctx context.Context) error {
	_, err := db.pool.Exec(ctx, `TRUNCATE observations, rejects, sources, alerts, alert_transitions,
		subscriber_cursors, silences RESTART IDENTITY`)
	return db.wrap(err, "empty %s", db.name)
}

// ObservationsSize returns the bytes on disk of the observations table with
// its indexes and TOAST (pg_total_relation_size).
func (db *DB) ObservationsSize(ctx context.Context) (int64, error) {
	var n int64
	err := db.pool.QueryRow(ctx, `SELECT pg_total_relation_size('observations')`).Scan(&n)
	return n, db.wrap(err, "size of observations in %s", db.name)
}

// Analyze updates the planner's statistics of observations, as autovacuum
// would after a bulk load, so the bench's query plans are the settled ones.
func (db *DB) Analyze(ctx context.Context) error {
	_, err := db.pool.Exec(ctx, `ANALYZE observations`)
	return db.wrap(err, "analyze %s", db.name)
}
