package postgis

import (
	"context"
	"time"

	"github.com/geowatch/geowatch/store"
	"github.com/geowatch/geowatch/store/internal/rowcodec"
)

// Prune deletes what ended before before: observations observed before it,
// rejects rejected before it, and resolved alerts that ended before it
// together with their transitions. A resolved alert with a transition not
// yet notified is kept until it is, so pruning never loses a notification.
//
// It deletes at most batch rows (store.DefaultPruneBatch if batch <= 0) per
// transaction, each committing on its own, so a cancelled Prune keeps what it
// deleted and ingest never waits behind a long delete.
func (db *DB) Prune(ctx context.Context, before time.Time, batch int) (store.PruneResult, error) {
	var res store.PruneResult
	if db.readOnly {
		return res, db.wrap(errReadOnly, "prune %s", db.name)
	}
	if batch <= 0 {
		batch = store.DefaultPruneBatch
	}
	cut := rowcodec.CeilMilli(before.UTC()) // stored times are whole milliseconds
	for _, s := range []struct {
		what string
		n    *int64
		del  func(context.Context) (int64, error)
	}{
		{"observations", &res.Observations, func(ctx context.Context) (int64, error) {
			tag, err := db.pool.Exec(ctx, `DELETE FROM observations WHERE fid IN (
				SELECT fid FROM observations WHERE observed_at < $1 LIMIT $2)`, cut, batch)
			if err == nil && tag.RowsAffected() > 0 {
				db.countWrite(ctx)
			}
			return tag.RowsAffected(), err
		}},
		{"rejects", &res.Rejects, func(ctx context.Context) (int64, error) {
			tag, err := db.pool.Exec(ctx, `DELETE FROM rejects WHERE id IN (
				SELECT id FROM rejects WHERE rejected_at < $1 ORDER BY id LIMIT $2)`, cut, batch)
			return tag.RowsAffected(), err
		}},
		{"alerts", &res.Alerts, func(ctx context.Context) (int64, error) {
			var alerts, transitions int64
			err := db.pool.QueryRow(ctx, `WITH doomed AS (
				SELECT id FROM alerts AS a WHERE state = 'resolved' AND ends_at < $1
					AND NOT EXISTS (SELECT 1 FROM alert_transitions AS t WHERE t.alert_id = a.id AND t.notified_at IS NULL)
				ORDER BY id LIMIT $2 FOR UPDATE),
			gone_transitions AS (
				DELETE FROM alert_transitions WHERE alert_id IN (SELECT id FROM doomed) RETURNING 1),
			gone AS (
				DELETE FROM alerts WHERE id IN (SELECT id FROM doomed) RETURNING 1)
			SELECT (SELECT count(*) FROM gone), (SELECT count(*) FROM gone_transitions)`, cut, batch).Scan(&alerts, &transitions)
			res.Transitions += transitions
			return alerts, err
		}},
	} {
		for {
			if err := ctx.Err(); err != nil {
				return res, db.wrap(err, "prune %s in %s", s.what, db.name)
			}
			n, err := s.del(ctx)
			if err != nil {
				return res, db.wrap(err, "prune %s in %s", s.what, db.name)
			}
			*s.n += n
			if n < int64(batch) {
				break
			}
		}
	}
	return res, nil
}
