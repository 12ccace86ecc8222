package postgis

import (
	"context"
	"time"

	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/store"
)

// ms is d in milliseconds, as sources.last_duration_ms holds it.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// RecordCheck saves the outcome of one run of a check: its last-run columns
// are replaced and its totals grow by the run's counts.
func (db *DB) RecordCheck(ctx context.Context, run monitor.CheckRun) error {
	if db.readOnly {
		return db.wrap(errReadOnly, "record check %s in %s", run.Source, db.name)
	}
	var success, lastErr any = pgTime(run.Started), nil
	failures := 0
	if run.Err != nil {
		success, lastErr, failures = nil, pgText(run.Err.Error()), 1
	}
	r := run.Result
	_, err := db.pool.Exec(ctx, `INSERT INTO sources (name, type, last_run, last_success, last_error,
		consecutive_failures, last_duration_ms,
		last_seen, last_added, last_updated, last_unchanged, last_rejected,
		total_seen, total_added, total_updated, total_unchanged, total_rejected)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $8, $9, $10, $11, $12)
	ON CONFLICT (name) DO UPDATE SET
		type = excluded.type, last_run = excluded.last_run,
		last_success = coalesce(excluded.last_success, sources.last_success),
		last_error = excluded.last_error,
		consecutive_failures = CASE WHEN excluded.last_error IS NULL THEN 0 ELSE sources.consecutive_failures + 1 END,
		last_duration_ms = excluded.last_duration_ms,
		last_seen = excluded.last_seen, last_added = excluded.last_added, last_updated = excluded.last_updated,
		last_unchanged = excluded.last_unchanged, last_rejected = excluded.last_rejected,
		total_seen = sources.total_seen + excluded.last_seen,
		total_added = sources.total_added + excluded.last_added,
		total_updated = sources.total_updated + excluded.last_updated,
		total_unchanged = sources.total_unchanged + excluded.last_unchanged,
		total_rejected = sources.total_rejected + excluded.last_rejected`,
		run.Source, run.Type, pgTime(run.Started), success, lastErr, failures, ms(run.Duration),
		r.Seen, r.Added, r.Updated, r.Unchanged, r.Rejected)
	if err != nil {
		return db.wrap(err, "record check %s in %s", run.Source, db.name)
	}
	return nil
}

// Sources returns every source's status, by name.
func (db *DB) Sources(ctx context.Context) ([]store.SourceStatus, error) {
	ss, err := db.sources(ctx)
	if err != nil {
		return nil, db.wrap(err, "list sources in %s", db.name)
	}
	return ss, nil
}

func (db *DB) sources(ctx context.Context) ([]store.SourceStatus, error) {
	rows, err := db.pool.Query(ctx, `SELECT name, type, last_run, last_success, last_error,
		consecutive_failures, last_duration_ms,
		last_seen, last_added, last_updated, last_unchanged, last_rejected,
		total_seen, total_added, total_updated, total_unchanged, total_rejected
		FROM sources ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ss []store.SourceStatus
	for rows.Next() {
		var (
			s       store.SourceStatus
			success *time.Time
			lastErr *string
			dur     float64
		)
		l, t := &s.Last, &s.Total
		if err := rows.Scan(&s.Name, &s.Type, &s.LastRun, &success, &lastErr, &s.ConsecutiveFailures, &dur,
			&l.Seen, &l.Added, &l.Updated, &l.Unchanged, &l.Rejected,
			&t.Seen, &t.Added, &t.Updated, &t.Unchanged, &t.Rejected); err != nil {
			return nil, err
		}
		s.LastRun, s.LastSuccess, s.LastError = s.LastRun.UTC(), utc(success), deref(lastErr)
		s.LastDuration = time.Duration(dur * float64(time.Millisecond))
		ss = append(ss, s)
	}
	return ss, rows.Err()
}

// StartRun records a run of source as begun at started, before its first
// batch: last_run is started, last_error is store.Running and the last-run
// counts are zero; the totals, last_success and consecutive_failures stay.
func (db *DB) StartRun(ctx context.Context, source, typ string, started time.Time) error {
	if db.readOnly {
		return db.wrap(errReadOnly, "start run of %s in %s", source, db.name)
	}
	_, err := db.pool.Exec(ctx, `INSERT INTO sources (name, type, last_run, last_error)
	VALUES ($1, $2, $3, $4)
	ON CONFLICT (name) DO UPDATE SET
		type = excluded.type, last_run = excluded.last_run, last_error = excluded.last_error,
		last_duration_ms = 0, last_seen = 0, last_added = 0, last_updated = 0, last_unchanged = 0, last_rejected = 0`,
		source, typ, pgTime(started), store.Running)
	if err != nil {
		return db.wrap(err, "start run of %s in %s", source, db.name)
	}
	return nil
}

// AddRunProgress adds one stored batch's counts to source's last run and
// totals, with the run's duration so far.
func (db *DB) AddRunProgress(ctx context.Context, source string, r monitor.IngestResult, elapsed time.Duration) error {
	if db.readOnly {
		return db.wrap(errReadOnly, "record progress of %s in %s", source, db.name)
	}
	_, err := db.pool.Exec(ctx, `UPDATE sources SET last_duration_ms = $2,
		last_seen = last_seen + $3, last_added = last_added + $4, last_updated = last_updated + $5,
		last_unchanged = last_unchanged + $6, last_rejected = last_rejected + $7,
		total_seen = total_seen + $3, total_added = total_added + $4, total_updated = total_updated + $5,
		total_unchanged = total_unchanged + $6, total_rejected = total_rejected + $7
		WHERE name = $1`,
		source, ms(elapsed), r.Seen, r.Added, r.Updated, r.Unchanged, r.Rejected)
	if err != nil {
		return db.wrap(err, "record progress of %s in %s", source, db.name)
	}
	return nil
}

// FinishRun settles a run begun by StartRun at started: its error (nil for
// success), the success time and the failure streak, and its duration; the
// counts are those AddRunProgress recorded.
func (db *DB) FinishRun(ctx context.Context, source string, started time.Time, duration time.Duration, runErr error) error {
	if db.readOnly {
		return db.wrap(errReadOnly, "finish run of %s in %s", source, db.name)
	}
	var lastErr *string
	if runErr != nil {
		s := pgText(runErr.Error())
		lastErr = &s
	}
	_, err := db.pool.Exec(ctx, `UPDATE sources SET last_error = $2::text, last_duration_ms = $3,
		last_success = CASE WHEN $2::text IS NULL THEN $4 ELSE last_success END,
		consecutive_failures = CASE WHEN $2::text IS NULL THEN 0 ELSE consecutive_failures + 1 END
		WHERE name = $1`,
		source, lastErr, ms(duration), pgTime(started))
	if err != nil {
		return db.wrap(err, "finish run of %s in %s", source, db.name)
	}
	return nil
}
