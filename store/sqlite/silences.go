package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/geowatch/geowatch/store"
	"github.com/geowatch/geowatch/store/internal/rowcodec"

	"github.com/geowatch/geowatch/monitor"
)

var _ monitor.SilenceStore = (*DB)(nil)

// AddSilence stores s and sets its ID. A zero StartsAt means now (the store's
// clock); EndsAt must be after StartsAt. Empty Watch or Rule are stored as NULL
// and match any.
func (db *DB) AddSilence(ctx context.Context, s *monitor.Silence) error {
	if err := db.addSilence(ctx, s); err != nil {
		return fmt.Errorf("store: add silence to %s: %w", db.path, err)
	}
	return nil
}

func (db *DB) addSilence(ctx context.Context, s *monitor.Silence) error {
	if db.w == nil {
		return errReadOnly
	}
	now := db.now()
	starts := s.StartsAt
	if starts.IsZero() {
		starts = now
	}
	if !s.EndsAt.After(starts) {
		return fmt.Errorf("%w: starts %s, ends %s", store.ErrSilenceEnds, formatTime(starts), formatTime(s.EndsAt))
	}
	r, err := db.w.ExecContext(ctx, `INSERT INTO silences (watch, rule, starts_at, ends_at, created_by, comment, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		rowcodec.NullString(s.Watch), rowcodec.NullString(s.Rule), formatTime(starts), formatTime(s.EndsAt),
		rowcodec.NullString(s.CreatedBy), rowcodec.NullString(s.Comment), formatTime(now))
	if err != nil {
		return err
	}
	id, err := r.LastInsertId()
	if err != nil {
		return err
	}
	s.ID, s.StartsAt = id, starts
	return nil
}

// Silences returns the silences that have not ended at now, active or yet to
// start, by id. It implements monitor.SilenceStore.
func (db *DB) Silences(ctx context.Context, now time.Time) ([]monitor.Silence, error) {
	rs, err := db.silences(ctx, `WHERE ends_at > ?`, formatTime(now))
	if err != nil {
		return nil, fmt.Errorf("store: silences in %s: %w", db.path, err)
	}
	out := make([]monitor.Silence, len(rs))
	for i, r := range rs {
		out[i] = r.Silence
	}
	return out, nil
}

// ListSilences returns the silences not yet ended at the store's clock, or
// every silence ever made when all is true, by id.
func (db *DB) ListSilences(ctx context.Context, all bool) ([]store.SilenceRecord, error) {
	var (
		rs  []store.SilenceRecord
		err error
	)
	if all {
		rs, err = db.silences(ctx, ``)
	} else {
		rs, err = db.silences(ctx, `WHERE ends_at > ?`, formatTime(db.now()))
	}
	if err != nil {
		return nil, fmt.Errorf("store: list silences in %s: %w", db.path, err)
	}
	return rs, nil
}

func (db *DB) silences(ctx context.Context, where string, args ...any) ([]store.SilenceRecord, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT id, watch, rule, starts_at, ends_at, created_by, comment,
		created_at, expired_at FROM silences `+where+` ORDER BY id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var rs []store.SilenceRecord
	for rows.Next() {
		var (
			r                        store.SilenceRecord
			watch, rule, by, comment sql.NullString
			expired                  sql.NullTime // go-sqlite3 parses DATETIME columns
		)
		if err := rows.Scan(&r.ID, &watch, &rule, &r.StartsAt, &r.EndsAt, &by, &comment, &r.CreatedAt, &expired); err != nil {
			return nil, err
		}
		r.Watch, r.Rule, r.CreatedBy, r.Comment = watch.String, rule.String, by.String, comment.String
		r.ExpiredAt = expired.Time
		rs = append(rs, r)
	}
	return rs, rows.Err()
}

// ExpireSilence ends silence id at now: its ends_at becomes now unless it had
// ended already, and a silence yet to start starts at now too, so it never
// mutes. It returns store.ErrNotFound for an unknown id; expiring a silence twice
// keeps the first expiry.
func (db *DB) ExpireSilence(ctx context.Context, id int64, now time.Time) error {
	if err := db.expireSilence(ctx, id, now); err != nil {
		return fmt.Errorf("store: expire silence %d in %s: %w", id, db.path, err)
	}
	return nil
}

func (db *DB) expireSilence(ctx context.Context, id int64, now time.Time) error {
	if db.w == nil {
		return errReadOnly
	}
	at := formatTime(now)
	// The times are fixed-width UTC text, so min() on them is the earlier time.
	r, err := db.w.ExecContext(ctx, `UPDATE silences SET
		expired_at = CASE WHEN expired_at IS NULL AND ends_at > ?1 THEN ?1 ELSE expired_at END,
		starts_at = min(starts_at, ?1),
		ends_at = min(ends_at, ?1)
		WHERE id = ?2`, at, id)
	if err != nil {
		return err
	}
	n, err := r.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}
