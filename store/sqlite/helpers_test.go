package sqlite

import (
	"context"
	"time"

	"github.com/geowatch/geowatch/store"

	"github.com/geowatch/geowatch/monitor"
)

// Shorthands for tests that store one alert change at a time, as the engine's
// SaveAlerts does for a whole evaluation.

func (db *DB) SaveTransition(ctx context.Context, a *monitor.Alert, t *monitor.Transition) error {
	return db.SaveAlerts(ctx, []monitor.Change{{Alert: a, Transition: t}})
}

func (db *DB) UpdateAlert(ctx context.Context, a *monitor.Alert) error {
	if a.ID == 0 {
		return store.ErrNotFound
	}
	return db.SaveAlerts(ctx, []monitor.Change{{Alert: a}})
}

// UnnotifiedTransitions lists the transitions not yet marked notified.
func (db *DB) UnnotifiedTransitions(ctx context.Context) ([]monitor.Event, error) {
	all, err := db.TransitionsAfter(ctx, 0, 1<<30)
	if err != nil {
		return nil, err
	}
	var out []monitor.Event
	for _, ev := range all {
		var notified *string
		if err := db.r.QueryRowContext(ctx, `SELECT notified_at FROM alert_transitions WHERE id = ?`, ev.Transition.ID).Scan(&notified); err != nil {
			return nil, err
		}
		if notified == nil {
			out = append(out, ev)
		}
	}
	return out, nil
}

// markOne marks exactly transition id notified.
func (db *DB) markOne(ctx context.Context, id int64, at time.Time) error {
	r, err := db.w.ExecContext(ctx, `UPDATE alert_transitions SET notified_at = ? WHERE id = ?`, formatTime(at), id)
	if err != nil {
		return err
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return store.ErrNotFound
	}
	return nil
}
