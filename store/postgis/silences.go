package postgis

import (
	"context"
	"fmt"
	"time"

	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/store"
	"github.com/geowatch/geowatch/store/internal/rowcodec"
)

// AddSilence stores s and sets its ID. A zero StartsAt means now (the store's
// clock); EndsAt must be after StartsAt. Empty Watch or Rule are stored as
// NULL and match any.
func (db *DB) AddSilence(ctx context.Context, s *monitor.Silence) error {
	if err := db.addSilence(ctx, s); err != nil {
		return db.wrap(err, "add silence to %s", db.name)
	}
	return nil
}

func (db *DB) addSilence(ctx context.Context, s *monitor.Silence) error {
	if db.readOnly {
		return errReadOnly
	}
	now := db.now()
	starts := s.StartsAt
	if starts.IsZero() {
		starts = now
	}
	if !s.EndsAt.After(starts) {
		return fmt.Errorf("%w: starts %s, ends %s", store.ErrSilenceEnds, pgTime(starts).Format(timeLayout), pgTime(s.EndsAt).Format(timeLayout))
	}
	var id int64
	err := db.pool.QueryRow(ctx, `INSERT INTO silences (watch, rule, starts_at, ends_at, created_by, comment, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
		rowcodec.NullString(s.Watch), rowcodec.NullString(s.Rule), pgTime(starts), pgTime(s.EndsAt),
		rowcodec.NullString(s.CreatedBy), rowcodec.NullString(s.Comment), pgTime(now)).Scan(&id)
	if err != nil {
		return err
	}
	s.ID, s.StartsAt = id, starts
	return nil
}

// timeLayout is how errors show times: the SQLite store's stored form.
const timeLayout = "2006-01-02T15:04:05.000Z"

// Silences returns the silences that have not ended at now, active or yet to
// start, by id. It implements monitor.SilenceStore.
func (db *DB) Silences(ctx context.Context, now time.Time) ([]monitor.Silence, error) {
	rs, err := db.silences(ctx, `WHERE ends_at > $1`, pgTime(now))
	if err != nil {
		return nil, db.wrap(err, "silences in %s", db.name)
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
		rs, err = db.silences(ctx, `WHERE ends_at > $1`, pgTime(db.now()))
	}
	if err != nil {
		return nil, db.wrap(err, "list silences in %s", db.name)
	}
	return rs, nil
}

func (db *DB) silences(ctx context.Context, where string, args ...any) ([]store.SilenceRecord, error) {
	rows, err := db.pool.Query(ctx, `SELECT id, watch, rule, starts_at, ends_at, created_by, comment,
		created_at, expired_at FROM silences `+where+` ORDER BY id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var rs []store.SilenceRecord
	for rows.Next() {
		var (
			r                        store.SilenceRecord
			watch, rule, by, comment *string
			expired                  *time.Time
		)
		if err := rows.Scan(&r.ID, &watch, &rule, &r.StartsAt, &r.EndsAt, &by, &comment, &r.CreatedAt, &expired); err != nil {
			return nil, err
		}
		r.Watch, r.Rule, r.CreatedBy, r.Comment = deref(watch), deref(rule), deref(by), deref(comment)
		r.StartsAt, r.EndsAt, r.CreatedAt, r.ExpiredAt = r.StartsAt.UTC(), r.EndsAt.UTC(), r.CreatedAt.UTC(), utc(expired)
		rs = append(rs, r)
	}
	return rs, rows.Err()
}

// ExpireSilence ends silence id at now: its ends_at becomes now unless it had
// ended already, and a silence yet to start starts at now too, so it never
// mutes. It returns store.ErrNotFound for an unknown id; expiring a silence
// twice keeps the first expiry.
func (db *DB) ExpireSilence(ctx context.Context, id int64, now time.Time) error {
	if err := db.expireSilence(ctx, id, now); err != nil {
		return db.wrap(err, "expire silence %d in %s", id, db.name)
	}
	return nil
}

func (db *DB) expireSilence(ctx context.Context, id int64, now time.Time) error {
	if db.readOnly {
		return errReadOnly
	}
	tag, err := db.pool.Exec(ctx, `UPDATE silences SET
		expired_at = CASE WHEN expired_at IS NULL AND ends_at > $1 THEN $1 ELSE expired_at END,
		starts_at = least(starts_at, $1),
		ends_at = least(ends_at, $1)
		WHERE id = $2`, pgTime(now), id)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}
