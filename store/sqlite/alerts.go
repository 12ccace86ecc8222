package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/geowatch/geowatch/store"
	"github.com/geowatch/geowatch/store/internal/rowcodec"

	"github.com/geowatch/geowatch/monitor"
	"github.com/paulmach/orb"
)

const alertColumns = `geom, shape, watch, rule, rule_type, severity, state, radius_m, window_s,
	starts_at, updated_at, ends_at, count, weight, lat, lon, first_seen, last_seen, fids, stats,
	active_at, last_held_at, last_notified_at, labels, summary, progression`

// alertArgs returns the parameters of a's row in alertColumns order, and the
// envelope of its geometry for the rtree.
func alertArgs(a *monitor.Alert) ([]any, orb.Bound, error) {
	g, shape := rowcodec.AlertGeometry(a)
	blob, err := geometryBlob(g)
	if err != nil {
		return nil, orb.Bound{}, fmt.Errorf("encode geometry: %w", err)
	}
	j, err := rowcodec.EncodeAlertJSON(a)
	if err != nil {
		return nil, orb.Bound{}, err
	}
	f := &a.Finding
	// starts_at is NOT NULL from the first schema, when alerts opened firing: a
	// pending alert keeps its active_at there until it fires.
	starts := a.StartsAt
	if starts.IsZero() {
		starts = a.ActiveAt
	}
	return []any{blob, shape, a.Watch, a.Rule, a.RuleType, a.Severity.String(), a.State.String(),
		a.RadiusMeters, a.Window.Seconds(), formatTime(starts), formatTime(a.UpdatedAt),
		nullTime(a.EndsAt), f.Count, f.Weight, f.Center.Lat(), f.Center.Lon(),
		nullTime(f.FirstSeen), nullTime(f.LastSeen), j.FIDs, j.Stats,
		nullTime(a.ActiveAt), nullTime(a.LastHeldAt), nullTime(a.LastNotifiedAt), j.Labels, rowcodec.NullString(a.Summary), j.Progression}, g.Bound(), nil
}

// writeAlert inserts a new alert (a.ID zero) or updates a stored one, and its
// rtree row (the triggers are suppressed in geowatch's connections, see
// registerGPKGFunctions). It returns the alert's id.
func writeAlert(ctx context.Context, tx *sql.Tx, a *monitor.Alert) (int64, error) {
	args, bd, err := alertArgs(a)
	if err != nil {
		return 0, err
	}
	id := a.ID
	if id == 0 {
		err = tx.QueryRowContext(ctx, `INSERT INTO alerts (`+alertColumns+`) VALUES (`+
			strings.Repeat("?, ", len(args)-1)+`?) RETURNING id`, args...).Scan(&id)
		if err != nil {
			return 0, err
		}
	} else {
		cols := strings.Split(alertColumns, ",")
		for i := range cols {
			cols[i] = strings.TrimSpace(cols[i]) + " = ?"
		}
		r, err := tx.ExecContext(ctx, `UPDATE alerts SET `+strings.Join(cols, ", ")+` WHERE id = ?`, append(args, id)...)
		if err != nil {
			return 0, err
		}
		if n, err := r.RowsAffected(); err != nil {
			return 0, err
		} else if n == 0 {
			return 0, fmt.Errorf("alert %d: %w", id, store.ErrNotFound)
		}
	}
	_, err = tx.ExecContext(ctx, `INSERT OR REPLACE INTO rtree_alerts_geom VALUES (?, ?, ?, ?, ?)`,
		id, bd.Min.Lon(), bd.Max.Lon(), bd.Min.Lat(), bd.Max.Lat())
	return id, err
}

// SaveAlerts stores the changes of one evaluation in one transaction: each
// alert's new state (a new alert, ID zero, is inserted) and its transition, if
// any. On success the alerts' IDs and the transitions' IDs and AlertIDs are set;
// on failure nothing is stored and nothing is set. A transition that subscribers
// do not receive (pending ones, silenced ones) is marked notified at once.
func (db *DB) SaveAlerts(ctx context.Context, changes []monitor.Change) error {
	if err := db.saveAlerts(ctx, changes); err != nil {
		return fmt.Errorf("store: save %d alert changes in %s: %w", len(changes), db.path, err)
	}
	return nil
}

func (db *DB) saveAlerts(ctx context.Context, changes []monitor.Change) error {
	if db.w == nil {
		return errReadOnly
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	ids := make([]int64, len(changes))
	tids := make([]int64, len(changes))
	for i, c := range changes {
		if ids[i], err = writeAlert(ctx, tx, c.Alert); err != nil {
			return fmt.Errorf("alert %s/%s: %w", c.Alert.Watch, c.Alert.Rule, err)
		}
		t := c.Transition
		if t == nil {
			continue
		}
		var from, silence, notified any
		if t.From != 0 {
			from = t.From.String()
		}
		if t.SilenceID != 0 {
			silence = t.SilenceID
		}
		if !monitor.Deliverable(*t) {
			notified = formatTime(t.At)
		}
		if err := tx.QueryRowContext(ctx, `INSERT INTO alert_transitions (alert_id, at, from_state, to_state, silence_id, notified_at)
			VALUES (?, ?, ?, ?, ?, ?) RETURNING id`, ids[i], formatTime(t.At), from, t.To.String(), silence, notified).Scan(&tids[i]); err != nil {
			return fmt.Errorf("%s transition of alert %s/%s: %w", t.To, c.Alert.Watch, c.Alert.Rule, err)
		}
	}
	if err := db.checkFile(); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	for i, c := range changes {
		c.Alert.ID = ids[i]
		if c.Transition != nil {
			c.Transition.ID, c.Transition.AlertID = tids[i], ids[i]
		}
	}
	return nil
}

const alertSelect = `SELECT a.id, a.geom, a.shape, a.watch, a.rule, a.rule_type, a.severity, a.state,
	a.radius_m, a.window_s, a.starts_at, a.updated_at, a.ends_at, a.count, a.weight, a.lat, a.lon,
	a.first_seen, a.last_seen, a.fids, a.stats, a.active_at, a.last_held_at, a.last_notified_at,
	a.labels, a.summary, a.progression`

// scanAlert reads the columns of alertSelect, then extra destinations.
func scanAlert(rows *sql.Rows, extra ...any) (monitor.Alert, error) {
	var (
		a                      monitor.Alert
		blob                   []byte
		shape, severity, state string
		ends, first, last      sql.NullTime // go-sqlite3 parses DATETIME columns
		windowS                float64
		lat, lon               sql.NullFloat64
		fids                   string
		stats                  *string
		active, held, notified sql.NullTime
		labels                 *string
		summary                sql.NullString
		progression            *string
	)
	dest := append([]any{&a.ID, &blob, &shape, &a.Watch, &a.Rule, &a.RuleType, &severity, &state,
		&a.RadiusMeters, &windowS, &a.StartsAt, &a.UpdatedAt, &ends, &a.Finding.Count, &a.Finding.Weight,
		&lat, &lon, &first, &last, &fids, &stats, &active, &held, &notified, &labels, &summary, &progression}, extra...)
	if err := rows.Scan(dest...); err != nil {
		return a, err
	}
	var ok bool
	if a.Severity, ok = rowcodec.Severity(severity); !ok {
		return a, fmt.Errorf("alert %d: unknown severity %q", a.ID, severity)
	}
	if a.State, ok = rowcodec.State(state); !ok {
		return a, fmt.Errorf("alert %d: unknown state %q", a.ID, state)
	}
	a.ActiveAt, a.LastHeldAt, a.LastNotifiedAt, a.Summary = active.Time, held.Time, notified.Time, summary.String
	if a.State == monitor.StatePending {
		a.StartsAt = time.Time{}
	}
	a.Window = time.Duration(windowS * float64(time.Second))
	a.Finding.Center = orb.Point{lon.Float64, lat.Float64}
	a.EndsAt, a.Finding.FirstSeen, a.Finding.LastSeen = ends.Time, first.Time, last.Time
	if err := rowcodec.DecodeAlertJSON(&a, fids, stats, labels, progression); err != nil {
		return a, err
	}
	if shape == rowcodec.ShapeHull {
		g, err := decodeBlob(blob)
		if err != nil {
			return a, fmt.Errorf("alert %d: geometry: %w", a.ID, err)
		}
		if a.Finding.Hull, ok = g.(orb.Polygon); !ok {
			return a, fmt.Errorf("alert %d: hull is a %s", a.ID, g.GeoJSONType())
		}
	}
	return a, nil
}

// OpenAlerts returns the alerts that are not resolved, oldest first.
func (db *DB) OpenAlerts(ctx context.Context) ([]monitor.Alert, error) {
	as, err := db.alerts(ctx, alertSelect+` FROM alerts a WHERE a.state != 'resolved' ORDER BY a.id`)
	if err != nil {
		return nil, fmt.Errorf("store: open alerts in %s: %w", db.path, err)
	}
	return as, nil
}

// Alerts lists alerts newest first, for the CLI.
func (db *DB) Alerts(ctx context.Context, f store.AlertFilter) ([]monitor.Alert, error) {
	var (
		where []string
		args  []any
	)
	if f.Watch != "" {
		where, args = append(where, "a.watch = ?"), append(args, f.Watch)
	}
	if f.State != 0 {
		where, args = append(where, "a.state = ?"), append(args, f.State.String())
	}
	if !f.Since.IsZero() {
		where, args = append(where, "a.updated_at >= ?"), append(args, formatTime(rowcodec.CeilMilli(f.Since.UTC())))
	}
	q := alertSelect + ` FROM alerts a`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY a.id DESC"
	if f.Limit > 0 {
		q, args = q+" LIMIT ?", append(args, f.Limit)
	}
	as, err := db.alerts(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list alerts in %s: %w", db.path, err)
	}
	return as, nil
}

func (db *DB) alerts(ctx context.Context, q string, args ...any) ([]monitor.Alert, error) {
	rows, err := db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var as []monitor.Alert
	for rows.Next() {
		a, err := scanAlert(rows)
		if err != nil {
			return nil, err
		}
		as = append(as, a)
	}
	return as, rows.Err()
}

// TransitionsAfter returns up to limit transitions with ids above after, in id
// order, each with its alert: a subscriber's queue. Only the alert's latest
// state is stored, so the event's alert is the current row with State (and a
// cleared EndsAt for a firing transition) set as the transition left it.
func (db *DB) TransitionsAfter(ctx context.Context, after int64, limit int) ([]monitor.Event, error) {
	evs, err := db.transitionsAfter(ctx, after, limit)
	if err != nil {
		return nil, fmt.Errorf("store: transitions after %d in %s: %w", after, db.path, err)
	}
	return evs, nil
}

func (db *DB) transitionsAfter(ctx context.Context, after int64, limit int) ([]monitor.Event, error) {
	rows, err := db.r.QueryContext(ctx, alertSelect+`, t.id, t.at, t.from_state, t.to_state, t.silence_id
		FROM alert_transitions t JOIN alerts a ON a.id = t.alert_id
		WHERE t.id > ? ORDER BY t.id LIMIT ?`, after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var evs []monitor.Event
	for rows.Next() {
		var (
			t       monitor.Transition
			to      string
			from    sql.NullString
			silence sql.NullInt64
		)
		a, err := scanAlert(rows, &t.ID, &t.At, &from, &to, &silence)
		if err != nil {
			return nil, err
		}
		t.AlertID, t.SilenceID = a.ID, silence.Int64
		var ok bool
		if t.To, ok = rowcodec.State(to); !ok {
			return nil, fmt.Errorf("transition %d: unknown state %q", t.ID, to)
		}
		if from.Valid {
			if t.From, ok = rowcodec.State(from.String); !ok {
				return nil, fmt.Errorf("transition %d: unknown state %q", t.ID, from.String)
			}
		}
		a.State = t.To
		if t.To == monitor.StateFiring {
			a.EndsAt = time.Time{}
		}
		evs = append(evs, monitor.Event{Alert: a, Transition: t})
	}
	return evs, rows.Err()
}

// Cursor returns the last transition subscriber has. A subscriber never seen
// before starts before the oldest transition not yet notified, or after the
// last one when every one is: it receives what is still being delivered, not
// the history.
func (db *DB) Cursor(ctx context.Context, subscriber string) (int64, error) {
	var id int64
	err := db.r.QueryRowContext(ctx, `SELECT coalesce(
		(SELECT transition_id FROM subscriber_cursors WHERE subscriber = ?),
		(SELECT min(id) - 1 FROM alert_transitions WHERE notified_at IS NULL),
		(SELECT max(id) FROM alert_transitions),
		0)`, subscriber).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("store: cursor of subscriber %s in %s: %w", subscriber, db.path, err)
	}
	return id, nil
}

// SetCursor records that subscriber has every transition up to id.
func (db *DB) SetCursor(ctx context.Context, subscriber string, id int64, at time.Time) error {
	if db.w == nil {
		return fmt.Errorf("store: set cursor of subscriber %s in %s: %w", subscriber, db.path, errReadOnly)
	}
	_, err := db.w.ExecContext(ctx, `INSERT INTO subscriber_cursors (subscriber, transition_id, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (subscriber) DO UPDATE SET transition_id = excluded.transition_id, updated_at = excluded.updated_at`,
		subscriber, id, formatTime(at))
	if err != nil {
		return fmt.Errorf("store: set cursor of subscriber %s in %s: %w", subscriber, db.path, err)
	}
	return nil
}

// MarkNotified records that every subscriber has the transitions up to id.
func (db *DB) MarkNotified(ctx context.Context, upTo int64, at time.Time) error {
	if db.w == nil {
		return fmt.Errorf("store: mark transitions notified in %s: %w", db.path, errReadOnly)
	}
	_, err := db.w.ExecContext(ctx, `UPDATE alert_transitions SET notified_at = ? WHERE id <= ? AND notified_at IS NULL`, formatTime(at), upTo)
	if err != nil {
		return fmt.Errorf("store: mark transitions up to %d notified in %s: %w", upTo, db.path, err)
	}
	return nil
}
