package postgis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/store"
	"github.com/geowatch/geowatch/store/internal/rowcodec"
	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"
)

// The window of a query with open ends: the years Validate allows.
var (
	minTime = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC)
)

const (
	selectBrief  = `SELECT o.fid, o.source, o.ext_id, o.observed_at, o.lon, o.lat, o.kind, o.weight, o.precision`
	selectDetail = `, o.ingested_at, o.place, o.title, o.url, o.properties::text, o.geometry::text`
)

// window returns the stored-time bounds of [since, until), open ends as
// the years Validate allows, and false when it is empty.
func window(since, until time.Time) (time.Time, time.Time, bool) {
	s, u := minTime, maxTime
	if !since.IsZero() {
		s = rowcodec.CeilMilli(since.UTC())
	}
	if !until.IsZero() {
		u = rowcodec.CeilMilli(until.UTC())
	}
	return s, u, s.Before(u)
}

// boxes returns the SQL condition that geom lies in one of bounds (the
// index prefilter, inclusive of the edges), appending its parameters to
// args; "" when bounds is empty.
func boxes(bounds []orb.Bound, args []any) (string, []any) {
	var ors []string
	for _, bd := range bounds {
		minLon, maxLon := max(bd.Min.Lon(), -180), min(bd.Max.Lon(), 180)
		minLat, maxLat := max(bd.Min.Lat(), -90), min(bd.Max.Lat(), 90)
		if minLon > maxLon || minLat > maxLat {
			continue
		}
		n := len(args)
		args = append(args, minLon, minLat, maxLon, maxLat)
		ors = append(ors, fmt.Sprintf("o.geom && ST_MakeEnvelope($%d, $%d, $%d, $%d, 4326)", n+1, n+2, n+3, n+4))
	}
	if len(ors) == 0 {
		return "", args
	}
	return "(" + strings.Join(ors, " OR ") + ")", args
}

// Observations returns the observations whose point q.Area contains,
// observed in [q.Since, q.Until), of q.Kinds if any, in time order (then
// fid). A zero Since or Until leaves that end open.
//
// The SQL narrows to q.Area's bounding boxes through the GiST index on geom
// and to the window through observed_at; the exact test is q.Area.Contains
// in Go, so any Shape works and the answer is the SQLite store's.
func (db *DB) Observations(ctx context.Context, q monitor.Query) ([]monitor.Observation, error) {
	obs, err := db.observations(ctx, q)
	if err != nil {
		return nil, db.wrap(err, "query observations in %s", db.name)
	}
	return obs, nil
}

func (db *DB) observations(ctx context.Context, q monitor.Query) ([]monitor.Observation, error) {
	if q.Area == nil {
		return nil, errors.New("query has no area")
	}
	since, until, ok := window(q.Since, q.Until)
	if !ok {
		return nil, nil
	}
	args := []any{since, until}
	in, args := boxes(q.Area.Bounds(), args)
	if in == "" {
		return nil, nil
	}
	sql := selectBrief
	if q.Detail {
		sql += selectDetail
	}
	sql += ` FROM observations AS o WHERE o.observed_at >= $1 AND o.observed_at < $2 AND ` + in
	if len(q.Kinds) > 0 {
		args = append(args, q.Kinds)
		sql += ` AND o.kind = ANY($` + strconv.Itoa(len(args)) + `)`
	}
	sql += ` ORDER BY o.observed_at, o.fid`
	rows, err := db.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var obs []monitor.Observation
	for rows.Next() {
		o, err := scanObservation(rows, q.Detail)
		if err != nil {
			return nil, err
		}
		if q.Area.Contains(o.Point) {
			obs = append(obs, o)
		}
	}
	return obs, rows.Err()
}

var precisions = map[string]monitor.Precision{}

func init() {
	for p := monitor.PrecisionExact; p <= monitor.PrecisionCountry; p++ {
		precisions[p.String()] = p
	}
}

// scanObservation reads the columns of selectBrief, and of selectDetail
// when detail.
func scanObservation(rows pgx.Rows, detail bool) (monitor.Observation, error) {
	var (
		o                                      monitor.Observation
		precision                              string
		kind                                   *string
		lon, lat                               float64
		ingested                               time.Time
		place, title, url, props, geometryJSON *string
	)
	dest := []any{&o.FID, &o.Source, &o.ID, &o.Time, &lon, &lat, &kind, &o.Weight, &precision}
	if detail {
		dest = append(dest, &ingested, &place, &title, &url, &props, &geometryJSON)
	}
	if err := rows.Scan(dest...); err != nil {
		return o, fmt.Errorf("observation %d: %w", o.FID, err)
	}
	o.Time = o.Time.UTC()
	o.Point, o.Kind, o.Precision = orb.Point{lon, lat}, deref(kind), precisions[precision]
	if !detail {
		return o, nil
	}
	o.Ingested = ingested.UTC()
	o.Place, o.Title, o.URL = deref(place), deref(title), deref(url)
	if props != nil {
		o.Properties = json.RawMessage(*props)
	}
	if geometryJSON != nil {
		var err error
		if o.Geometry, err = rowcodec.UnmarshalGeoJSON([]byte(*geometryJSON)); err != nil {
			return o, fmt.Errorf("observation %d: geometry: %w", o.FID, err)
		}
	}
	return o, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// queryChunk is how many rows Query fetches from its cursor at a time.
const queryChunk = 2000

// Query calls fn for each observation f selects, with every field, in time
// order (then fid), through a server-side cursor, so that memory holds one
// chunk of rows, not the export. It reads one snapshot: a long export sees
// no row ingested after it started. It stops at fn's first error and
// returns it.
func (db *DB) Query(ctx context.Context, f store.QueryFilter, fn func(monitor.Observation) error) error {
	err := db.query(ctx, f, fn)
	if fe, ok := errors.AsType[*callbackError](err); ok {
		return fe.err
	}
	if err != nil {
		return db.wrap(err, "query observations in %s", db.name)
	}
	return nil
}

// callbackError carries fn's error out of query unwrapped.
type callbackError struct{ err error }

func (e *callbackError) Error() string { return e.err.Error() }

func (db *DB) query(ctx context.Context, f store.QueryFilter, fn func(monitor.Observation) error) error {
	since, until, ok := window(f.Since, f.Until)
	if !ok {
		return nil
	}
	args := []any{since, until}
	sql := selectBrief + selectDetail + ` FROM observations AS o WHERE o.observed_at >= $1 AND o.observed_at < $2`
	if f.Area != nil {
		var in string
		if in, args = boxes(f.Area.Bounds(), args); in == "" {
			return nil
		}
		sql += ` AND ` + in
	}
	for _, c := range []struct {
		col  string
		vals []string
	}{{"kind", f.Kinds}, {"source", f.Sources}} {
		if len(c.vals) > 0 {
			args = append(args, c.vals)
			sql += fmt.Sprintf(` AND o.%s = ANY($%d)`, c.col, len(args))
		}
	}
	sql += ` ORDER BY o.observed_at, o.fid`
	if f.Limit > 0 && f.Area == nil { // with an area, Contains decides in Go which count
		args = append(args, f.Limit)
		sql += ` LIMIT $` + strconv.Itoa(len(args))
	}

	tx, err := db.pool.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // read-only
	if _, err := tx.Exec(ctx, `DECLARE geowatch_export NO SCROLL CURSOR FOR `+sql, args...); err != nil {
		return err
	}
	sent := 0
	for {
		rows, err := tx.Query(ctx, `FETCH `+strconv.Itoa(queryChunk)+` FROM geowatch_export`)
		if err != nil {
			return err
		}
		n := 0
		for rows.Next() {
			n++
			o, err := scanObservation(rows, true)
			if err != nil {
				rows.Close()
				return err
			}
			if f.Area != nil && !f.Area.Contains(o.Point) {
				continue
			}
			if err := fn(o); err != nil {
				rows.Close()
				return &callbackError{err}
			}
			if sent++; f.Limit > 0 && sent >= f.Limit {
				rows.Close()
				return nil
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if n < queryChunk {
			return nil
		}
	}
}

// ObservationsByFID returns the stored observations among fids, with every
// field, in time order (then fid): an alert's contributing observations.
// Fids no longer stored (pruned) are left out.
func (db *DB) ObservationsByFID(ctx context.Context, fids []int64) ([]monitor.Observation, error) {
	if len(fids) == 0 {
		return nil, nil
	}
	rows, err := db.pool.Query(ctx, selectBrief+selectDetail+
		` FROM observations AS o WHERE o.fid = ANY($1) ORDER BY o.observed_at, o.fid`, fids)
	if err != nil {
		return nil, db.wrap(err, "observations by fid in %s", db.name)
	}
	defer rows.Close()
	var obs []monitor.Observation
	for rows.Next() {
		o, err := scanObservation(rows, true)
		if err != nil {
			return nil, db.wrap(err, "observations by fid in %s", db.name)
		}
		obs = append(obs, o)
	}
	if err := rows.Err(); err != nil {
		return nil, db.wrap(err, "observations by fid in %s", db.name)
	}
	return obs, nil
}

// ObservedAt returns when the observation stored under (source, id) was
// observed, and false when there is none.
func (db *DB) ObservedAt(ctx context.Context, source, id string) (time.Time, bool, error) {
	var t time.Time
	err := db.pool.QueryRow(ctx, `SELECT observed_at FROM observations WHERE source = $1 AND ext_id = $2`, source, id).Scan(&t)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return time.Time{}, false, nil
	case err != nil:
		return time.Time{}, false, db.wrap(err, "observation %s/%s in %s", source, id, db.name)
	}
	return t.UTC(), true, nil
}

// CountObservations returns the number of stored observations.
func (db *DB) CountObservations(ctx context.Context) (int64, error) {
	var n int64
	if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM observations`).Scan(&n); err != nil {
		return 0, db.wrap(err, "count observations in %s", db.name)
	}
	return n, nil
}

// Latest returns the highest observation fid and alert transition id stored
// (0 for none): two primary-key seeks.
func (db *DB) Latest(ctx context.Context) (fid, transition int64, err error) {
	var f, t *int64
	if err := db.pool.QueryRow(ctx, `SELECT (SELECT max(fid) FROM observations), (SELECT max(id) FROM alert_transitions)`).Scan(&f, &t); err != nil {
		return 0, 0, db.wrap(err, "latest ids in %s", db.name)
	}
	if f != nil {
		fid = *f
	}
	if t != nil {
		transition = *t
	}
	return fid, transition, nil
}
