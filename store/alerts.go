package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/geowatch/geowatch/geo"
	"github.com/geowatch/geowatch/monitor"
	"github.com/paulmach/orb"
)

// circleVertices is how many vertices a watch's circle gets as an alert geometry.
const circleVertices = 64

// Alert geometry kinds, in the alerts.shape column.
const (
	shapeHull   = "hull"   // the finding's convex hull
	shapeCircle = "circle" // the watch's radius around the finding's centre
	shapePoint  = "point"  // the finding's centre
)

// alertGeometry returns what an alert shows on a map: the cluster's hull when the
// finding has one, else the watch's circle, else the centre.
func alertGeometry(a *monitor.Alert) (orb.Geometry, string) {
	f := &a.Finding
	switch {
	case len(f.Hull) > 0 && len(f.Hull[0]) >= 4:
		return f.Hull, shapeHull
	case a.RadiusMeters > 0:
		return geo.Circle{Center: f.Center, RadiusMeters: a.RadiusMeters}.Polygon(circleVertices), shapeCircle
	}
	return f.Center, shapePoint
}

const alertColumns = `geom, shape, watch, rule, rule_type, severity, state, radius_m, window_s,
	starts_at, updated_at, ends_at, count, weight, lat, lon, first_seen, last_seen, fids, stats,
	active_at, last_held_at, last_notified_at, labels, summary`

// alertArgs returns the parameters of a's row in alertColumns order, and the
// envelope of its geometry for the rtree.
func alertArgs(a *monitor.Alert) ([]any, orb.Bound, error) {
	g, shape := alertGeometry(a)
	blob, err := geometryBlob(g)
	if err != nil {
		return nil, orb.Bound{}, fmt.Errorf("encode geometry: %w", err)
	}
	fids := a.Finding.FIDs
	if fids == nil {
		fids = []int64{}
	}
	fj, err := json.Marshal(fids)
	if err != nil {
		return nil, orb.Bound{}, err
	}
	f := &a.Finding
	stats, err := marshalStats(f.Stats)
	if err != nil {
		return nil, orb.Bound{}, fmt.Errorf("encode stats: %w", err)
	}
	var labels any
	if len(a.Labels) > 0 {
		lj, err := json.Marshal(a.Labels)
		if err != nil {
			return nil, orb.Bound{}, err
		}
		labels = string(lj)
	}
	// starts_at is NOT NULL from the first schema, when alerts opened firing: a
	// pending alert keeps its active_at there until it fires.
	starts := a.StartsAt
	if starts.IsZero() {
		starts = a.ActiveAt
	}
	return []any{blob, shape, a.Watch, a.Rule, a.RuleType, a.Severity.String(), a.State.String(),
		a.RadiusMeters, a.Window.Seconds(), formatTime(starts), formatTime(a.UpdatedAt),
		nullTime(a.EndsAt), f.Count, f.Weight, f.Center.Lat(), f.Center.Lon(),
		nullTime(f.FirstSeen), nullTime(f.LastSeen), string(fj), stats,
		nullTime(a.ActiveAt), nullTime(a.LastHeldAt), nullTime(a.LastNotifiedAt), labels, nullString(a.Summary)}, g.Bound(), nil
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
			return 0, fmt.Errorf("alert %d: %w", id, ErrNotFound)
		}
	}
	_, err = tx.ExecContext(ctx, `INSERT OR REPLACE INTO rtree_alerts_geom VALUES (?, ?, ?, ?, ?)`,
		id, bd.Min.Lon(), bd.Max.Lon(), bd.Min.Lat(), bd.Max.Lat())
	return id, err
}

// SaveTransition stores a's state and t in one transaction. A new alert (a.ID
// zero) is inserted; on success a.ID, t.ID and t.AlertID are set.
func (db *DB) SaveTransition(ctx context.Context, a *monitor.Alert, t *monitor.Transition) error {
	if err := db.saveTransition(ctx, a, t); err != nil {
		return fmt.Errorf("store: save %s transition of alert %s/%s in %s: %w", t.To, a.Watch, a.Rule, db.path, err)
	}
	return nil
}

func (db *DB) saveTransition(ctx context.Context, a *monitor.Alert, t *monitor.Transition) error {
	if db.w == nil {
		return errReadOnly
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	id, err := writeAlert(ctx, tx, a)
	if err != nil {
		return err
	}
	var from any
	if t.From != 0 {
		from = t.From.String()
	}
	var tid int64
	if err := tx.QueryRowContext(ctx, `INSERT INTO alert_transitions (alert_id, at, from_state, to_state)
		VALUES (?, ?, ?, ?) RETURNING id`, id, formatTime(t.At), from, t.To.String()).Scan(&tid); err != nil {
		return err
	}
	if err := db.checkFile(); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	a.ID, t.ID, t.AlertID = id, tid, id
	return nil
}

// UpdateAlert saves a stored alert's latest finding without a transition.
func (db *DB) UpdateAlert(ctx context.Context, a *monitor.Alert) error {
	err := db.updateAlert(ctx, a)
	if err != nil {
		return fmt.Errorf("store: update alert %d in %s: %w", a.ID, db.path, err)
	}
	return nil
}

func (db *DB) updateAlert(ctx context.Context, a *monitor.Alert) error {
	if db.w == nil {
		return errReadOnly
	}
	if a.ID == 0 {
		return fmt.Errorf("alert %s/%s was never saved: %w", a.Watch, a.Rule, ErrNotFound)
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := writeAlert(ctx, tx, a); err != nil {
		return err
	}
	return tx.Commit()
}

const alertSelect = `SELECT a.id, a.geom, a.shape, a.watch, a.rule, a.rule_type, a.severity, a.state,
	a.radius_m, a.window_s, a.starts_at, a.updated_at, a.ends_at, a.count, a.weight, a.lat, a.lon,
	a.first_seen, a.last_seen, a.fids, a.stats, a.active_at, a.last_held_at, a.last_notified_at,
	a.labels, a.summary`

var (
	severities = map[string]monitor.Severity{}
	states     = map[string]monitor.AlertState{}
)

func init() {
	for s := monitor.SeverityInfo; s <= monitor.SeverityCritical; s++ {
		severities[s.String()] = s
	}
	for _, s := range []monitor.AlertState{monitor.StatePending, monitor.StateFiring, monitor.StateResolved} {
		states[s.String()] = s
	}
}

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
		stats                  sql.NullString
		active, held, notified sql.NullTime
		labels, summary        sql.NullString
	)
	dest := append([]any{&a.ID, &blob, &shape, &a.Watch, &a.Rule, &a.RuleType, &severity, &state,
		&a.RadiusMeters, &windowS, &a.StartsAt, &a.UpdatedAt, &ends, &a.Finding.Count, &a.Finding.Weight,
		&lat, &lon, &first, &last, &fids, &stats, &active, &held, &notified, &labels, &summary}, extra...)
	if err := rows.Scan(dest...); err != nil {
		return a, err
	}
	var (
		ok  bool
		err error
	)
	if a.Severity, ok = severities[severity]; !ok {
		return a, fmt.Errorf("alert %d: unknown severity %q", a.ID, severity)
	}
	if a.State, ok = states[state]; !ok {
		return a, fmt.Errorf("alert %d: unknown state %q", a.ID, state)
	}
	a.ActiveAt, a.LastHeldAt, a.LastNotifiedAt, a.Summary = active.Time, held.Time, notified.Time, summary.String
	if a.State == monitor.StatePending {
		a.StartsAt = time.Time{}
	}
	if labels.Valid {
		if err := json.Unmarshal([]byte(labels.String), &a.Labels); err != nil {
			return a, fmt.Errorf("alert %d: labels: %w", a.ID, err)
		}
	}
	a.Window = time.Duration(windowS * float64(time.Second))
	a.Finding.Center = orb.Point{lon.Float64, lat.Float64}
	a.EndsAt, a.Finding.FirstSeen, a.Finding.LastSeen = ends.Time, first.Time, last.Time
	if err = json.Unmarshal([]byte(fids), &a.Finding.FIDs); err != nil {
		return a, fmt.Errorf("alert %d: fids: %w", a.ID, err)
	}
	if stats.Valid {
		if a.Finding.Stats, err = unmarshalStats(stats.String); err != nil {
			return a, fmt.Errorf("alert %d: stats: %w", a.ID, err)
		}
	}
	if shape == shapeHull {
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

// AlertFilter selects alerts for Alerts; zero fields select everything.
type AlertFilter struct {
	Watch string
	State monitor.AlertState
	Since time.Time // alerts updated at or after
	Limit int       // at most this many, newest first
}

// Alerts lists alerts newest first, for the CLI.
func (db *DB) Alerts(ctx context.Context, f AlertFilter) ([]monitor.Alert, error) {
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
		where, args = append(where, "a.updated_at >= ?"), append(args, formatTime(f.Since))
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

// UnnotifiedTransitions returns the transitions not yet marked notified, oldest
// first, each with its alert. Only the alert's latest state is stored, so the
// event's alert is the current row with State (and a cleared EndsAt for a firing
// transition) set as the transition left it.
func (db *DB) UnnotifiedTransitions(ctx context.Context) ([]monitor.Event, error) {
	evs, err := db.unnotified(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: unnotified transitions in %s: %w", db.path, err)
	}
	return evs, nil
}

func (db *DB) unnotified(ctx context.Context) ([]monitor.Event, error) {
	rows, err := db.r.QueryContext(ctx, alertSelect+`, t.id, t.at, t.from_state, t.to_state
		FROM alert_transitions t JOIN alerts a ON a.id = t.alert_id
		WHERE t.notified_at IS NULL ORDER BY t.id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var evs []monitor.Event
	for rows.Next() {
		var (
			t    monitor.Transition
			to   string
			from sql.NullString
		)
		a, err := scanAlert(rows, &t.ID, &t.At, &from, &to)
		if err != nil {
			return nil, err
		}
		t.AlertID = a.ID
		var ok bool
		if t.To, ok = states[to]; !ok {
			return nil, fmt.Errorf("transition %d: unknown state %q", t.ID, to)
		}
		if from.Valid {
			if t.From, ok = states[from.String]; !ok {
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

// MarkNotified records that transition id was handed to every sink at at.
func (db *DB) MarkNotified(ctx context.Context, id int64, at time.Time) error {
	if db.w == nil {
		return fmt.Errorf("store: mark transition %d notified in %s: %w", id, db.path, errReadOnly)
	}
	r, err := db.w.ExecContext(ctx, `UPDATE alert_transitions SET notified_at = ? WHERE id = ?`, formatTime(at), id)
	if err == nil {
		var n int64
		if n, err = r.RowsAffected(); err == nil && n == 0 {
			err = ErrNotFound
		}
	}
	if err != nil {
		return fmt.Errorf("store: mark transition %d notified in %s: %w", id, db.path, err)
	}
	return nil
}

// marshalStats encodes a finding's stats as a JSON object, or NULL when there are
// none. JSON has no NaN or infinities (a surge's ratio over an expected 0 is
// +Inf), so those become the strings "NaN", "+Inf" and "-Inf".
func marshalStats(stats map[string]float64) (any, error) {
	if len(stats) == 0 {
		return nil, nil
	}
	m := make(map[string]any, len(stats))
	for k, v := range stats {
		switch {
		case math.IsNaN(v):
			m[k] = "NaN"
		case math.IsInf(v, 1):
			m[k] = "+Inf"
		case math.IsInf(v, -1):
			m[k] = "-Inf"
		default:
			m[k] = v
		}
	}
	b, err := json.Marshal(m)
	return string(b), err
}

// unmarshalStats decodes what marshalStats wrote.
func unmarshalStats(s string) (map[string]float64, error) {
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, err
	}
	stats := make(map[string]float64, len(m))
	for k, v := range m {
		switch v := v.(type) {
		case float64:
			stats[k] = v
		case string:
			f, err := strconv.ParseFloat(v, 64) // accepts NaN, +Inf, -Inf
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			stats[k] = f
		default:
			return nil, fmt.Errorf("%s: %v is not a number", k, v)
		}
	}
	return stats, nil
}
