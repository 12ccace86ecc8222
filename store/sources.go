package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/geowatch/geowatch/monitor"
)

// SourceStatus is one row of the sources table: how a check's last run went and
// what it has brought in so far.
type SourceStatus struct {
	Name, Type          string
	LastRun             time.Time // start of the last run
	LastSuccess         time.Time // start of the last run that succeeded; zero if none
	LastError           string    // the last run's error; empty if it succeeded
	ConsecutiveFailures int
	LastDuration        time.Duration
	Last, Total         monitor.IngestResult
}

// RecordCheck saves the outcome of one run of a check: its last-run columns are
// replaced and its totals grow by the run's counts.
func (db *DB) RecordCheck(ctx context.Context, run monitor.CheckRun) error {
	if db.w == nil {
		return fmt.Errorf("store: record check %s in %s: %w", run.Source, db.path, errReadOnly)
	}
	var success, lastErr any = formatTime(run.Started), nil
	failures := 0
	if run.Err != nil {
		success, lastErr, failures = nil, run.Err.Error(), 1
	}
	r := run.Result
	_, err := db.w.ExecContext(ctx, `INSERT INTO sources (name, type, last_run, last_success, last_error,
		consecutive_failures, last_duration_ms,
		last_seen, last_added, last_updated, last_unchanged, last_rejected,
		total_seen, total_added, total_updated, total_unchanged, total_rejected)
	VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?8, ?9, ?10, ?11, ?12)
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
		run.Source, run.Type, formatTime(run.Started), success, lastErr, failures,
		float64(run.Duration)/float64(time.Millisecond),
		r.Seen, r.Added, r.Updated, r.Unchanged, r.Rejected)
	if err != nil {
		return fmt.Errorf("store: record check %s in %s: %w", run.Source, db.path, err)
	}
	return nil
}

// Sources returns every source's status, by name.
func (db *DB) Sources(ctx context.Context) ([]SourceStatus, error) {
	ss, err := db.sources(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: list sources in %s: %w", db.path, err)
	}
	return ss, nil
}

func (db *DB) sources(ctx context.Context) ([]SourceStatus, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT name, type, last_run, last_success, last_error,
		consecutive_failures, last_duration_ms,
		last_seen, last_added, last_updated, last_unchanged, last_rejected,
		total_seen, total_added, total_updated, total_unchanged, total_rejected
		FROM sources ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ss []SourceStatus
	for rows.Next() {
		var (
			s       SourceStatus
			success sql.NullTime // go-sqlite3 parses DATETIME columns
			lastErr sql.NullString
			ms      float64
		)
		l, t := &s.Last, &s.Total
		if err := rows.Scan(&s.Name, &s.Type, &s.LastRun, &success, &lastErr, &s.ConsecutiveFailures, &ms,
			&l.Seen, &l.Added, &l.Updated, &l.Unchanged, &l.Rejected,
			&t.Seen, &t.Added, &t.Updated, &t.Unchanged, &t.Rejected); err != nil {
			return nil, err
		}
		s.LastSuccess = success.Time
		s.LastError = lastErr.String
		s.LastDuration = time.Duration(ms * float64(time.Millisecond))
		ss = append(ss, s)
	}
	return ss, rows.Err()
}
