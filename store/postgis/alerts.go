package postgis

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/store"
	"github.com/geowatch/geowatch/store/internal/rowcodec"
	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkb"
)

var alertColumns = []string{"geom", "shape", "watch", "rule", "rule_type", "severity", "state", "radius_m", "window_s",
	"starts_at", "updated_at", "ends_at", "count", "weight", "lat", "lon", "first_seen", "last_seen", "fids", "stats",
	"active_at", "last_held_at", "last_notified_at", "labels", "summary", "progression"}

// alertValues is the SQL of the values of alertColumns, $1 to $26; the
// geometry goes as WKB.
var alertValues = func() []string {
	vs := make([]string, len(alertColumns))
	for i, c := range alertColumns {
		vs[i] = "$" + strconv.Itoa(i+1)
		switch c {
		case "geom":
			vs[i] = "ST_SetSRID(ST_GeomFromWKB($1), 4326)"
		case "fids", "stats", "labels", "progression":
			vs[i] += "::json"
		}
	}
	return vs
}()

var (
	insertAlertSQL = `INSERT INTO alerts (` + strings.Join(alertColumns, ", ") + `) VALUES (` +
		strings.Join(alertValues, ", ") + `) RETURNING id`
	updateAlertSQL = func() string {
		set := make([]string, len(alertColumns))
		for i, c := range alertColumns {
			set[i] = c + " = " + alertValues[i]
		}
		return `UPDATE alerts SET ` + strings.Join(set, ", ") + ` WHERE id = $` + strconv.Itoa(len(alertColumns)+1)
	}()
)

// alertArgs returns the parameters of a's row in alertColumns order.
func alertArgs(a *monitor.Alert) ([]any, error) {
	g, shape := rowcodec.AlertGeometry(a)
	blob, err := wkb.Marshal(g)
	if err != nil {
		return nil, fmt.Errorf("encode geometry: %w", err)
	}
	j, err := rowcodec.EncodeAlertJSON(a)
	if err != nil {
		return nil, err
	}
	f := &a.Finding
	// starts_at is NOT NULL, as on SQLite: a pending alert keeps its
	// active_at there until it fires.
	starts := a.StartsAt
	if starts.IsZero() {
		starts = a.ActiveAt
	}
	return []any{blob, shape, a.Watch, a.Rule, a.RuleType, a.Severity.String(), a.State.String(),
		a.RadiusMeters, a.Window.Seconds(), pgTime(starts), pgTime(a.UpdatedAt),
		nullTime(a.EndsAt), f.Count, f.Weight, f.Center.Lat(), f.Center.Lon(),
		nullTime(f.FirstSeen), nullTime(f.LastSeen), j.FIDs, j.Stats,
		nullTime(a.ActiveAt), nullTime(a.LastHeldAt), nullTime(a.LastNotifiedAt), j.Labels, rowcodec.NullString(a.Summary), j.Progression}, nil
}

// writeAlert inserts a new alert (a.ID zero) or updates a stored one, and
// returns its id.
func writeAlert(ctx context.Context, tx pgx.Tx, a *monitor.Alert) (int64, error) {
	args, err := alertArgs(a)
	if err != nil {
		return 0, err
	}
	if a.ID == 0 {
		var id int64
		err := tx.QueryRow(ctx, insertAlertSQL, args...).Scan(&id)
		return id, err
	}
	tag, err := tx.Exec(ctx, updateAlertSQL, append(args, a.ID)...)
	if err != nil {
		return 0, err
	}
	if tag.RowsAffected() == 0 {
		return 0, fmt.Errorf("alert %d: %w", a.ID, store.ErrNotFound)
	}
	return a.ID, nil
}

// SaveAlerts stores the changes of one evaluation in one transaction: each
// alert's new state (a new alert, ID zero, is inserted) and its transition,
// if any. On success the alerts' IDs and the transitions' IDs and AlertIDs
// are set; on failure nothing is stored and nothing is set. A transition
// that subscribers do not receive (pending ones, silenced ones) is marked
// notified at once.
func (db *DB) SaveAlerts(ctx context.Context, changes []monitor.Change) error {
	if err := db.saveAlerts(ctx, changes); err != nil {
		return db.wrap(err, "save %d alert changes in %s", len(changes), db.name)
	}
	return nil
}

func (db *DB) saveAlerts(ctx context.Context, changes []monitor.Change) error {
	if db.readOnly {
		return errReadOnly
	}
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit it is a no-op
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
			notified = pgTime(t.At)
		}
		if err := tx.QueryRow(ctx, `INSERT INTO alert_transitions (alert_id, at, from_state, to_state, silence_id, notified_at)
			VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`, ids[i], pgTime(t.At), from, t.To.String(), silence, notified).Scan(&tids[i]); err != nil {
			return fmt.Errorf("%s transition of alert %s/%s: %w", t.To, c.Alert.Watch, c.Alert.Rule, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
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

const alertSelect = `SELECT a.id, ST_AsBinary(a.geom), a.shape, a.watch, a.rule, a.rule_type, a.severity, a.state,
	a.radius_m, a.window_s, a.starts_at, a.updated_at, a.ends_at, a.count, a.weight, a.lat, a.lon,
	a.first_seen, a.last_seen, a.fids::text, a.stats::text, a.active_at, a.last_held_at, a.last_notified_at,
	a.labels::text, a.summary, a.progression::text`

// scanAlert reads the columns of alertSelect, then extra destinations.
func scanAlert(rows pgx.Rows, extra ...any) (monitor.Alert, error) {
	var (
		a                          monitor.Alert
		blob                       []byte
		shape, severity, state     string
		starts, updated            time.Time
		ends, first, last          *time.Time
		windowS                    float64
		lat, lon                   *float64
		fids                       string
		stats, labels, progression *string
		summary                    *string
		active, held, notified     *time.Time
	)
	dest := append([]any{&a.ID, &blob, &shape, &a.Watch, &a.Rule, &a.RuleType, &severity, &state,
		&a.RadiusMeters, &windowS, &starts, &updated, &ends, &a.Finding.Count, &a.Finding.Weight,
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
	a.StartsAt, a.UpdatedAt = starts.UTC(), updated.UTC()
	a.ActiveAt, a.LastHeldAt, a.LastNotifiedAt, a.Summary = utc(active), utc(held), utc(notified), deref(summary)
	if a.State == monitor.StatePending {
		a.StartsAt = time.Time{}
	}
	a.Window = time.Duration(windowS * float64(time.Second))
	var clat, clon float64
	if lat != nil {
		clat = *lat
	}
	if lon != nil {
		clon = *lon
	}
	a.Finding.Center = orb.Point{clon, clat}
	a.EndsAt, a.Finding.FirstSeen, a.Finding.LastSeen = utc(ends), utc(first), utc(last)
	if err := rowcodec.DecodeAlertJSON(&a, fids, stats, labels, progression); err != nil {
		return a, err
	}
	if shape == rowcodec.ShapeHull {
		g, err := wkb.Unmarshal(blob)
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
	as, err := db.alerts(ctx, alertSelect+` FROM alerts a WHERE a.state <> 'resolved' ORDER BY a.id`)
	if err != nil {
		return nil, db.wrap(err, "open alerts in %s", db.name)
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
		args = append(args, f.Watch)
		where = append(where, "a.watch = $"+strconv.Itoa(len(args)))
	}
	if f.State != 0 {
		args = append(args, f.State.String())
		where = append(where, "a.state = $"+strconv.Itoa(len(args)))
	}
	if !f.Since.IsZero() {
		// SQLite compares the stored text with the formatted (truncated)
		// Since; truncating here gives the same rows.
		args = append(args, pgTime(f.Since))
		where = append(where, "a.updated_at >= $"+strconv.Itoa(len(args)))
	}
	q := alertSelect + ` FROM alerts a`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY a.id DESC"
	if f.Limit > 0 {
		args = append(args, f.Limit)
		q += " LIMIT $" + strconv.Itoa(len(args))
	}
	as, err := db.alerts(ctx, q, args...)
	if err != nil {
		return nil, db.wrap(err, "list alerts in %s", db.name)
	}
	return as, nil
}

func (db *DB) alerts(ctx context.Context, q string, args ...any) ([]monitor.Alert, error) {
	rows, err := db.pool.Query(ctx, q, args...)
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

// TransitionsAfter returns up to limit transitions with ids above after, in
// id order, each with its alert: a subscriber's queue. Only the alert's
// latest state is stored, so the event's alert is the current row with State
// (and a cleared EndsAt for a firing transition) set as the transition left it.
func (db *DB) TransitionsAfter(ctx context.Context, after int64, limit int) ([]monitor.Event, error) {
	evs, err := db.transitionsAfter(ctx, after, limit)
	if err != nil {
		return nil, db.wrap(err, "transitions after %d in %s", after, db.name)
	}
	return evs, nil
}

func (db *DB) transitionsAfter(ctx context.Context, after int64, limit int) ([]monitor.Event, error) {
	rows, err := db.pool.Query(ctx, alertSelect+`, t.id, t.at, t.from_state, t.to_state, t.silence_id
		FROM alert_transitions t JOIN alerts a ON a.id = t.alert_id
		WHERE t.id > $1 ORDER BY t.id LIMIT $2`, after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var evs []monitor.Event
	for rows.Next() {
		var (
			t       monitor.Transition
			to      string
			from    *string
			silence *int64
		)
		a, err := scanAlert(rows, &t.ID, &t.At, &from, &to, &silence)
		if err != nil {
			return nil, err
		}
		t.At = t.At.UTC()
		t.AlertID = a.ID
		if silence != nil {
			t.SilenceID = *silence
		}
		var ok bool
		if t.To, ok = rowcodec.State(to); !ok {
			return nil, fmt.Errorf("transition %d: unknown state %q", t.ID, to)
		}
		if from != nil {
			if t.From, ok = rowcodec.State(*from); !ok {
				return nil, fmt.Errorf("transition %d: unknown state %q", t.ID, *from)
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
	err := db.pool.QueryRow(ctx, `SELECT coalesce(
		(SELECT transition_id FROM subscriber_cursors WHERE subscriber = $1),
		(SELECT min(id) - 1 FROM alert_transitions WHERE notified_at IS NULL),
		(SELECT max(id) FROM alert_transitions),
		0)`, subscriber).Scan(&id)
	if err != nil {
		return 0, db.wrap(err, "cursor of subscriber %s in %s", subscriber, db.name)
	}
	return id, nil
}

// SetCursor records that subscriber has every transition up to id.
func (db *DB) SetCursor(ctx context.Context, subscriber string, id int64, at time.Time) error {
	if db.readOnly {
		return db.wrap(errReadOnly, "set cursor of subscriber %s in %s", subscriber, db.name)
	}
	_, err := db.pool.Exec(ctx, `INSERT INTO subscriber_cursors (subscriber, transition_id, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (subscriber) DO UPDATE SET transition_id = excluded.transition_id, updated_at = excluded.updated_at`,
		subscriber, id, pgTime(at))
	if err != nil {
		return db.wrap(err, "set cursor of subscriber %s in %s", subscriber, db.name)
	}
	return nil
}

// MarkNotified records that every subscriber has the transitions up to id.
func (db *DB) MarkNotified(ctx context.Context, upTo int64, at time.Time) error {
	if db.readOnly {
		return db.wrap(errReadOnly, "mark transitions notified in %s", db.name)
	}
	_, err := db.pool.Exec(ctx, `UPDATE alert_transitions SET notified_at = $1 WHERE id <= $2 AND notified_at IS NULL`, pgTime(at), upTo)
	if err != nil {
		return db.wrap(err, "mark transitions up to %d notified in %s", upTo, db.name)
	}
	return nil
}

// Transitions lists stored alert transitions in the order they happened (by
// id), for geowatch alerts --history.
func (db *DB) Transitions(ctx context.Context, f store.TransitionFilter) ([]store.TransitionRecord, error) {
	q := `SELECT id, alert_id, at, from_state, to_state, silence_id, notified_at FROM alert_transitions`
	var (
		where []string
		args  []any
	)
	if f.AlertIDs != nil {
		args = append(args, f.AlertIDs)
		where = append(where, "alert_id = ANY($"+strconv.Itoa(len(args))+")")
	}
	if !f.Since.IsZero() {
		args = append(args, rowcodec.CeilMilli(f.Since.UTC()))
		where = append(where, "at >= $"+strconv.Itoa(len(args)))
	}
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id"
	ts, err := db.transitions(ctx, q, args...)
	if err != nil {
		return nil, db.wrap(err, "list alert transitions in %s", db.name)
	}
	return ts, nil
}

func (db *DB) transitions(ctx context.Context, q string, args ...any) ([]store.TransitionRecord, error) {
	rows, err := db.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ts []store.TransitionRecord
	for rows.Next() {
		var (
			t        store.TransitionRecord
			from     *string
			to       string
			silence  *int64
			notified *time.Time
		)
		if err := rows.Scan(&t.ID, &t.AlertID, &t.At, &from, &to, &silence, &notified); err != nil {
			return nil, err
		}
		var ok bool
		if from != nil {
			if t.From, ok = rowcodec.State(*from); !ok {
				return nil, fmt.Errorf("transition %d: unknown state %q", t.ID, *from)
			}
		}
		if t.To, ok = rowcodec.State(to); !ok {
			return nil, fmt.Errorf("transition %d: unknown state %q", t.ID, to)
		}
		if silence != nil {
			t.SilenceID = *silence
		}
		t.At, t.NotifiedAt = t.At.UTC(), utc(notified)
		ts = append(ts, t)
	}
	return ts, rows.Err()
}
