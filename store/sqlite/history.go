package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/geowatch/geowatch/store"
	"github.com/geowatch/geowatch/store/internal/rowcodec"
)

// Transitions lists stored alert transitions in the order they happened (by
// id), for geowatch alerts --history.
func (db *DB) Transitions(ctx context.Context, f store.TransitionFilter) ([]store.TransitionRecord, error) {
	q := `SELECT id, alert_id, at, from_state, to_state, silence_id, notified_at FROM alert_transitions`
	var (
		where []string
		args  []any
	)
	if f.AlertIDs != nil {
		ids := make([]string, len(f.AlertIDs))
		for i, id := range f.AlertIDs {
			ids[i] = fmt.Sprint(id)
		}
		where, args = append(where, "alert_id IN (SELECT value FROM json_each(?))"), append(args, "["+strings.Join(ids, ",")+"]")
	}
	if !f.Since.IsZero() {
		where, args = append(where, "at >= ?"), append(args, formatTime(rowcodec.CeilMilli(f.Since.UTC())))
	}
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id"
	ts, err := db.transitions(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list alert transitions in %s: %w", db.path, err)
	}
	return ts, nil
}

func (db *DB) transitions(ctx context.Context, q string, args ...any) ([]store.TransitionRecord, error) {
	rows, err := db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ts []store.TransitionRecord
	for rows.Next() {
		var (
			t        store.TransitionRecord
			from     sql.NullString
			to       string
			silence  sql.NullInt64
			notified sql.NullTime
		)
		if err := rows.Scan(&t.ID, &t.AlertID, &t.At, &from, &to, &silence, &notified); err != nil {
			return nil, err
		}
		var ok bool
		if from.Valid {
			if t.From, ok = rowcodec.State(from.String); !ok {
				return nil, fmt.Errorf("transition %d: unknown state %q", t.ID, from.String)
			}
		}
		if t.To, ok = rowcodec.State(to); !ok {
			return nil, fmt.Errorf("transition %d: unknown state %q", t.ID, to)
		}
		t.SilenceID = silence.Int64
		t.At, t.NotifiedAt = t.At.UTC(), notified.Time.UTC()
		if !notified.Valid {
			t.NotifiedAt = time.Time{}
		}
		ts = append(ts, t)
	}
	return ts, rows.Err()
}
