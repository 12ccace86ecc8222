package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/store/internal/rowcodec"
	sqlite3 "github.com/mattn/go-sqlite3"
	"github.com/paulmach/orb"
)

// The query grid: cells of cellDegrees, numbered row-major from (-90, -180), so
// that the cells of one latitude row between two longitudes form one contiguous
// range of ids. 0.25° (~28 km) keeps a 50 km circle to about 5 rows × 6 cells.
const (
	cellDegrees = 0.25
	gridRows    = int(180 / cellDegrees)
	gridCols    = int(360 / cellDegrees)
)

// cellRow and cellCol return the grid row of a latitude and column of a
// longitude; the north pole and the antimeridian's east side fold into the
// last row and column.
func cellRow(lat float64) int { return min(int((lat+90)/cellDegrees), gridRows-1) }
func cellCol(lon float64) int { return min(int((lon+180)/cellDegrees), gridCols-1) }

func cellOf(p orb.Point) int { return cellRow(p.Lat())*gridCols + cellCol(p.Lon()) }

// hourBucket is the number of whole hours since the Unix epoch before t.
func hourBucket(t time.Time) int64 {
	s := t.Unix()
	h := s / 3600
	if s%3600 < 0 {
		h--
	}
	return h
}

// obsColumns are the columns Ingest writes, in the order of rowArgs.
const obsColumns = `geom, source, ext_id, observed_at, ingested_at, lat, lon, place, kind, title, url,
	weight, precision, properties, geometry, hour_bucket, cell, revised_at, id_ns`

const obsParams = 19

// upsertReturning ends every insert of observation rows (VALUES or SELECT).
// A (source, ext_id) already stored is rewritten only when some content
// differs (keeping its fid and ingested_at); RETURNING then names every row
// written, with its source and id, so that rows absent from the result were
// unchanged. The same update serves a conflict on (source, ext_id) and, for a
// source with an id namespace, on (id_ns, ext_id): the row keeps its source. A
// record revised before the stored one (both with a revised_at) is an older
// revision and leaves the row as it is.
const upsertReturning = ` ON CONFLICT (source, ext_id)` + upsertSet +
	` ON CONFLICT (id_ns, ext_id) WHERE id_ns IS NOT NULL` + upsertSet +
	` RETURNING fid, source, ext_id`

const upsertSet = ` DO UPDATE SET
	geom = excluded.geom, observed_at = excluded.observed_at, lat = excluded.lat, lon = excluded.lon,
	place = excluded.place, kind = excluded.kind, title = excluded.title, url = excluded.url,
	weight = excluded.weight, precision = excluded.precision, properties = excluded.properties,
	geometry = excluded.geometry, hour_bucket = excluded.hour_bucket, cell = excluded.cell,
	revised_at = coalesce(excluded.revised_at, observations.revised_at)
WHERE (observations.observed_at IS NOT excluded.observed_at
	OR observations.lat IS NOT excluded.lat OR observations.lon IS NOT excluded.lon
	OR observations.place IS NOT excluded.place OR observations.kind IS NOT excluded.kind
	OR observations.title IS NOT excluded.title OR observations.url IS NOT excluded.url
	OR observations.weight IS NOT excluded.weight OR observations.precision IS NOT excluded.precision
	OR observations.properties IS NOT excluded.properties OR observations.geometry IS NOT excluded.geometry
	OR (excluded.revised_at IS NOT NULL AND observations.revised_at IS NOT excluded.revised_at))
	AND NOT coalesce(excluded.revised_at < observations.revised_at, 0)`

// insertSQL inserts n rows of parameters (obsColumns order), upsertReturning.
func insertSQL(n int) string {
	row := "(" + strings.Repeat("?,", obsParams-1) + "?)"
	var b strings.Builder
	b.WriteString("INSERT INTO observations (" + obsColumns + ") VALUES ")
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(row)
	}
	b.WriteString(upsertReturning)
	return b.String()
}

// insertSizes are the row counts of the prepared inserts: a batch goes in
// statements of 1,000 rows (19,000 parameters, within SQLite's 32,766; fewer
// round trips through cgo and the VDBE: 12–24 % faster loads than 100-row
// statements on the bench workload) and its remainder in statements of 100,
// 10 and 1, so four statements serve every size.
var insertSizes = [...]int{1000, 100, 10, 1}

func (db *DB) prepareInserts(ctx context.Context) error {
	for i, n := range insertSizes {
		st, err := db.w.PrepareContext(ctx, insertSQL(n))
		if err != nil {
			return fmt.Errorf("prepare insert of %d rows: %w", n, err)
		}
		db.inserts[i] = st
	}
	return nil
}

// rowArgs appends the parameters of one observation row in obsColumns order.
func rowArgs(args []any, o *monitor.Observation, source, ns, ingested string) ([]any, error) {
	geometry, err := rowcodec.ObservationGeometry(o)
	if err != nil {
		return args, err
	}
	var props any
	if len(o.Properties) > 0 {
		props = string(o.Properties)
	}
	var revised any
	if !o.Revised.IsZero() {
		revised = formatTime(o.Revised)
	}
	return append(args,
		pointBlob(o.Point), source, o.ID, formatTime(o.Time), ingested,
		o.Point.Lat(), o.Point.Lon(), rowcodec.NullString(o.Place), rowcodec.NullString(o.Kind),
		rowcodec.NullString(o.Title), rowcodec.NullString(o.URL), o.Weight, o.Precision.String(),
		props, geometry, hourBucket(o.Time), cellOf(o.Point), revised, rowcodec.NullString(ns),
	), nil
}

// Ingest stores a batch and counts what happened to each record. Each
// observation is normalised and validated; one that fails becomes a rejects
// row naming its field and never fails the batch. now stamps ingested_at and
// rejected_at; the zero time means the DB's clock. Times are stored to the
// millisecond.
//
// Batches of concurrent calls share a transaction (see group.go), each in a
// savepoint of its own: a batch is stored whole or not at all, and the call
// returns once the transaction holding it has committed.
func (db *DB) Ingest(ctx context.Context, source string, b monitor.Batch, now time.Time) (monitor.IngestResult, error) {
	res, err := db.ingest(ctx, source, b, now)
	if err != nil {
		err = fmt.Errorf("store: ingest %s into %s: %w", source, db.path, err)
		if !errors.Is(err, context.Canceled) { // the caller left: says nothing of the store
			db.lastWrite.Store(&err)
		}
		return monitor.IngestResult{}, err
	}
	db.lastWrite.Store(nil)
	return res, nil
}

func (db *DB) ingest(ctx context.Context, source string, b monitor.Batch, now time.Time) (monitor.IngestResult, error) {
	if db.w == nil {
		return monitor.IngestResult{}, errReadOnly
	}
	if now.IsZero() {
		now = db.now()
	}
	c := newIngestCall(ctx, source, b, formatTime(now))
	if err := db.group.run(c, db.writeGroup); err != nil {
		return c.res, err
	}
	for _, w := range c.written {
		o := &b.Observations[w.index]
		o.FID, o.Source = w.fid, w.source
	}
	return c.res, nil
}

// newIngestCall validates b's observations: those that fail become rejects.
func newIngestCall(ctx context.Context, source string, b monitor.Batch, stamp string) *ingestCall {
	c := &ingestCall{ctx: ctx, source: source, b: b, stamp: stamp}
	c.res.Seen = len(b.Observations) + len(b.Rejects)
	c.rejects = b.Rejects
	// The rows are validated here, on the caller's goroutine and before the
	// transaction, and their parameters built one statement at a time inside
	// it: the parameters of a whole 50k-row batch were 25 MB held at once,
	// and most of an import's garbage.
	c.ok = make([]int32, 0, len(b.Observations))
	for i := range b.Observations {
		o := b.Observations[i] // a copy: the caller's batch stays as it was
		o.Normalize()
		err := o.Validate()
		if err == nil {
			err = rowcodec.CheckGeometry(&o)
		}
		if err != nil {
			c.rejects = append(c.rejects, rowcodec.ObservationReject(i, &o, err))
			continue
		}
		c.ok = append(c.ok, int32(i))
	}
	c.res.Rejected = len(c.rejects)
	return c
}

// writeGroup stores calls' batches in one transaction, each in its own
// savepoint, and sets each call's result or error. A call whose context ended
// before its turn is not written.
func (db *DB) writeGroup(ctx context.Context, calls []*ingestCall) {
	fail := func(err error) {
		for _, c := range calls {
			if c.err == nil {
				c.err = err
			}
		}
	}
	if db.walMax > 0 {
		if size := fileSize(db.path + "-wal"); size >= db.walMax {
			fail(fmt.Errorf("%w: %d MiB, wal_max %d MiB", ErrWALLimit, size>>20, db.walMax>>20))
			return
		}
	}
	tx, release, err := db.beginWrite(ctx)
	if err != nil {
		fail(err)
		return
	}
	defer release()
	defer tx.Rollback()
	counted := false
	for _, c := range calls {
		if c.err = c.ctx.Err(); c.err != nil {
			continue
		}
		if len(calls) == 1 {
			if c.err = db.writeBatch(ctx, tx, c); c.err != nil {
				return
			}
		} else {
			if _, err := tx.ExecContext(ctx, `SAVEPOINT batch`); err != nil {
				fail(err)
				return
			}
			if c.err = db.writeBatch(ctx, tx, c); c.err != nil {
				c.written = nil
				c.res.Added, c.res.Updated, c.res.Unchanged = 0, 0, 0
				if _, err := tx.ExecContext(ctx, `ROLLBACK TO batch`); err != nil {
					fail(fmt.Errorf("undo a failed batch (%v): %w", c.err, err))
					return
				}
			}
			if _, err := tx.ExecContext(ctx, `RELEASE batch`); err != nil {
				fail(err)
				return
			}
		}
		counted = counted || c.err == nil && c.res.Added+c.res.Updated > 0
	}
	if err := db.checkFile(); err != nil {
		fail(err)
		return
	}
	if counted {
		if err := db.countWrite(ctx, tx); err != nil {
			fail(err)
			return
		}
	}
	if err := tx.Commit(); err != nil {
		if counted {
			db.ownFailed()
		}
		fail(err)
		return
	}
	db.kickCheckpoint()
}

// writeBatch writes one call's rows and rejects in tx and counts them in c.res.
func (db *DB) writeBatch(ctx context.Context, tx *sql.Tx, c *ingestCall) error {
	b, ok, res := c.b, c.ok, &c.res
	valid := len(ok)
	var maxFID int64
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(fid), 0) FROM observations`).Scan(&maxFID); err != nil {
		return err
	}
	newFIDs := make(map[int64]bool, valid)
	var moved []int64 // stored rows rewritten: their rtree entries must follow
	args := make([]any, 0, min(valid, insertSizes[0])*obsParams)
	// RETURNING names a written row by its id, not by the VALUES row that
	// wrote it: a batch with two records for one id goes one row a statement,
	// so that each record's write is its own.
	sizes := insertSizes[:]
	if hasRepeatedID(b.Observations, ok) {
		sizes = insertSizes[len(insertSizes)-1:]
	}
	c.written = make([]writtenRow, 0, valid)
	inChunk := make(map[string]int32, min(valid, insertSizes[0]))
	for done := 0; done < valid; {
		i := slices.IndexFunc(sizes, func(n int) bool { return n <= valid-done })
		n := sizes[i]
		args = args[:0]
		clear(inChunk)
		var err error
		for _, k := range ok[done : done+n] {
			o := b.Observations[k]
			o.Normalize()
			if args, err = rowArgs(args, &o, c.source, b.Namespace, c.stamp); err != nil { // CheckGeometry passed it
				return fmt.Errorf("record %d: %w", k, err)
			}
			inChunk[o.ID] = k
		}
		rows, err := tx.StmtContext(ctx, db.inserts[slices.Index(insertSizes[:], n)]).QueryContext(ctx, args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var fid int64
			var rowSource, extID string
			if err := rows.Scan(&fid, &rowSource, &extID); err != nil {
				rows.Close()
				return err
			}
			c.written = append(c.written, writtenRow{index: inChunk[extID], fid: fid, source: rowSource})
			switch {
			case fid <= maxFID:
				res.Updated++
				moved = append(moved, fid)
			case newFIDs[fid]: // a second record for a row added earlier in this batch
				res.Updated++
			default:
				newFIDs[fid] = true
				res.Added++
			}
		}
		if err := rows.Close(); err != nil {
			return err
		}
		done += n
	}
	res.Unchanged = valid - res.Added - res.Updated

	// The rtree rows, written here rather than by the suppressed triggers (see
	// registerGPKGFunctions): one bulk insert of the rows this batch added, in
	// fid order, and a replace for stored rows it rewrote.
	if res.Added > 0 && db.rtree {
		if _, err := tx.ExecContext(ctx, `INSERT INTO rtree_observations_geom
			SELECT fid, lon, lon, lat, lat FROM observations WHERE fid > ?`, maxFID); err != nil {
			return fmt.Errorf("fill rtree: %w", err)
		}
	}
	if len(moved) > 0 && db.rtree {
		ids, _ := json.Marshal(moved) // []int64 always marshals
		if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO rtree_observations_geom
			SELECT fid, lon, lon, lat, lat FROM observations WHERE fid IN (SELECT value FROM json_each(?))`,
			string(ids)); err != nil {
			return fmt.Errorf("update rtree: %w", err)
		}
	}
	for _, r := range c.rejects {
		if _, err := tx.ExecContext(ctx, `INSERT INTO rejects (source, record, field, reason, raw, rejected_at)
			VALUES (?, ?, ?, ?, ?, ?)`, c.source, r.Record, rowcodec.NullString(r.Field), rowcodec.RejectReason(r),
			rowcodec.NullString(monitor.RawRecord([]byte(r.Raw))), c.stamp); err != nil {
			return fmt.Errorf("insert reject %s: %w", r.Record, err)
		}
	}
	return nil
}

// writtenRow is a row a batch wrote: the record's index in the batch, and the
// row's fid and source, which Ingest reports back in the batch once committed.
type writtenRow struct {
	index  int32
	fid    int64
	source string
}

// hasRepeatedID reports whether two of the records ok lists share an id.
func hasRepeatedID(obs []monitor.Observation, ok []int32) bool {
	seen := make(map[string]struct{}, len(ok))
	for _, k := range ok {
		if _, dup := seen[obs[k].ID]; dup {
			return true
		}
		seen[obs[k].ID] = struct{}{}
	}
	return false
}

// beginWrite begins a write transaction whose wait for the write lock ends
// at ctx's deadline, when it has one, rather than after the busy timeout: the
// wait for the one connection already ends with ctx, and SQLite's busy handler
// does not. release gives the connection back with its own busy timeout.
func (db *DB) beginWrite(ctx context.Context) (*sql.Tx, func(), error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		tx, err := db.w.BeginTx(ctx, nil)
		return tx, func() {}, err
	}
	conn, err := db.w.Conn(ctx)
	if err != nil {
		return nil, nil, err
	}
	wait := min(db.busy, time.Until(deadline))
	if wait <= 0 {
		conn.Close()
		return nil, nil, context.DeadlineExceeded
	}
	if _, err := conn.ExecContext(ctx, fmt.Sprintf(`PRAGMA busy_timeout = %d`, max(1, wait.Milliseconds()))); err != nil {
		conn.Close()
		return nil, nil, err
	}
	release := func() {
		// Best effort: a failure leaves a shorter timeout on the connection
		// until the next beginWrite sets it again.
		conn.ExecContext(context.WithoutCancel(ctx), fmt.Sprintf(`PRAGMA busy_timeout = %d`, db.busy.Milliseconds())) //nolint:errcheck
		conn.Close()
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		release()
		return nil, nil, fmt.Errorf("wait for the write lock (%s): %w", wait.Round(time.Millisecond), err)
	}
	return tx, release, nil
}

// Query statements: the recursive CTE lists the hour buckets of the window (clamped
// to those stored, two index lookups, so an open-ended window stays short) and
// json_each the cell ranges (one per latitude row per box), so a 30-day window or a
// 1000 km radius is still one short statement. CROSS JOIN fixes the loop order:
// for each hour and range, one seek into observations_hour_cell.
const (
	queryHead = `WITH RECURSIVE hours(b) AS (
  SELECT max(?1, (SELECT min(hour_bucket) FROM observations))
  UNION ALL SELECT b + 1 FROM hours WHERE b < min(?2, (SELECT max(hour_bucket) FROM observations)))
SELECT o.fid, o.source, o.ext_id, +o.observed_at, o.lon, o.lat, o.kind, o.weight, o.precision`
	queryDetail = `, +o.ingested_at, o.place, o.title, o.url, o.properties, o.geometry`
	queryBody   = `
FROM hours CROSS JOIN json_each(?3) AS r CROSS JOIN observations AS o INDEXED BY observations_hour_cell
WHERE o.hour_bucket = hours.b AND o.cell BETWEEN r.value ->> 0 AND r.value ->> 1
  AND o.observed_at >= ?4 AND o.observed_at < ?5`
	queryKinds = ` AND o.kind IN (SELECT value FROM json_each(?6))`
)

// queryStmt indexes DB.queries: bit 0 detail, bit 1 kinds filter.
func queryStmt(detail, kinds bool) int {
	i := 0
	if detail {
		i |= 1
	}
	if kinds {
		i |= 2
	}
	return i
}

func (db *DB) prepareQueries(ctx context.Context) error {
	for _, detail := range []bool{false, true} {
		for _, kinds := range []bool{false, true} {
			q := queryHead
			if detail {
				q += queryDetail
			}
			q += queryBody
			if kinds {
				q += queryKinds
			}
			st, err := db.r.PrepareContext(ctx, q)
			if err != nil {
				return fmt.Errorf("prepare query: %w", err)
			}
			db.queries[queryStmt(detail, kinds)] = st
		}
	}
	return nil
}

// cellRanges returns the sorted, merged cell id ranges covering bounds: per box,
// one range per grid row it spans.
func cellRanges(bounds []orb.Bound) [][2]int {
	var rs [][2]int
	for _, bd := range bounds {
		c0, c1 := cellCol(max(bd.Min.Lon(), -180)), cellCol(min(bd.Max.Lon(), 180))
		for r := cellRow(max(bd.Min.Lat(), -90)); r <= cellRow(min(bd.Max.Lat(), 90)); r++ {
			rs = append(rs, [2]int{r*gridCols + c0, r*gridCols + c1})
		}
	}
	slices.SortFunc(rs, func(a, b [2]int) int { return a[0] - b[0] })
	merged := rs[:0]
	for _, r := range rs {
		if n := len(merged); n > 0 && r[0] <= merged[n-1][1]+1 {
			merged[n-1][1] = max(merged[n-1][1], r[1])
			continue
		}
		merged = append(merged, r)
	}
	return merged
}

// The window of a query with open ends: the years Validate allows, whose times
// all format to the same width (year 10000 would not sort as text).
var (
	minTime = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC)
)

// Observations returns the observations whose point q.Area contains, observed in
// [q.Since, q.Until), of q.Kinds if any, in time order (then fid). A zero Since
// or Until leaves that end open (to the last millisecond of year 9999).
//
// The SQL narrows to grid cells and hours through observations_hour_cell; the
// exact test is q.Area.Contains in Go, so any Shape works.
func (db *DB) Observations(ctx context.Context, q monitor.Query) ([]monitor.Observation, error) {
	obs, err := db.observations(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("store: query observations in %s: %w", db.path, err)
	}
	return obs, nil
}

func (db *DB) observations(ctx context.Context, q monitor.Query) ([]monitor.Observation, error) {
	if q.Area == nil {
		return nil, errors.New("query has no area")
	}
	since, until := minTime, maxTime
	if !q.Since.IsZero() {
		since = rowcodec.CeilMilli(q.Since.UTC())
	}
	if !q.Until.IsZero() {
		until = rowcodec.CeilMilli(q.Until.UTC())
	}
	ranges := cellRanges(q.Area.Bounds())
	if !since.Before(until) || len(ranges) == 0 {
		return nil, nil
	}
	rj, _ := json.Marshal(ranges) // [][2]int always marshals
	args := []any{hourBucket(since), hourBucket(until.Add(-time.Millisecond)), string(rj),
		formatTime(since), formatTime(until)}
	if len(q.Kinds) > 0 {
		kj, err := json.Marshal(q.Kinds)
		if err != nil {
			return nil, err
		}
		args = append(args, string(kj))
	}
	rows, err := db.queries[queryStmt(q.Detail, len(q.Kinds) > 0)].QueryContext(ctx, args...)
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
	if err := rows.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(obs, func(a, b monitor.Observation) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		return int(a.FID - b.FID)
	})
	return obs, nil
}

var precisions = map[string]monitor.Precision{}

func init() {
	for p := monitor.PrecisionExact; p <= monitor.PrecisionCountry; p++ {
		precisions[p.String()] = p
	}
}

func scanObservation(rows *sql.Rows, detail bool) (monitor.Observation, error) {
	var (
		o                                      monitor.Observation
		precision                              string
		kind                                   sql.NullString
		lon, lat                               float64
		place, title, url, props, geometryJSON sql.NullString
	)
	// The times are selected as +column, which has no declared type, so
	// go-sqlite3 hands over the text instead of trying its DATETIME layouts
	// one by one (three fail on every stored time: 22 % of Q's CPU).
	var observed, ingested string
	dest := []any{&o.FID, &o.Source, &o.ID, &observed, &lon, &lat, &kind, &o.Weight, &precision}
	if detail {
		dest = append(dest, &ingested, &place, &title, &url, &props, &geometryJSON)
	}
	if err := rows.Scan(dest...); err != nil {
		return o, fmt.Errorf("observation %d: %w", o.FID, err)
	}
	var err error
	if o.Time, err = parseStoredTime(observed); err != nil {
		return o, fmt.Errorf("observation %d: observed_at: %w", o.FID, err)
	}
	if detail {
		if o.Ingested, err = parseStoredTime(ingested); err != nil {
			return o, fmt.Errorf("observation %d: ingested_at: %w", o.FID, err)
		}
	}
	o.Point, o.Kind, o.Precision = orb.Point{lon, lat}, kind.String, precisions[precision]
	if !detail {
		return o, nil
	}
	o.Place, o.Title, o.URL = place.String, title.String, url.String
	if props.Valid {
		o.Properties = json.RawMessage(props.String)
	}
	if geometryJSON.Valid {
		if o.Geometry, err = rowcodec.UnmarshalGeoJSON([]byte(geometryJSON.String)); err != nil {
			return o, fmt.Errorf("observation %d: geometry: %w", o.FID, err)
		}
	}
	return o, nil
}

// parseStoredTime reads a stored time: formatTime's fixed layout, read by
// hand (it is on every row of every query), else RFC 3339 or SQLite's own
// forms, for rows another program wrote.
func parseStoredTime(s string) (time.Time, error) {
	if len(s) == len(timeLayout) && s[4] == '-' && s[7] == '-' && s[10] == 'T' && s[13] == ':' && s[16] == ':' &&
		s[19] == '.' && s[23] == 'Z' {
		num := func(i, n int) (int, bool) {
			v := 0
			for _, c := range []byte(s[i : i+n]) {
				if c < '0' || c > '9' {
					return 0, false
				}
				v = v*10 + int(c-'0')
			}
			return v, true
		}
		y, ok1 := num(0, 4)
		mo, ok2 := num(5, 2)
		d, ok3 := num(8, 2)
		h, ok4 := num(11, 2)
		mi, ok5 := num(14, 2)
		sec, ok6 := num(17, 2)
		ms, ok7 := num(20, 3)
		if ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h < 24 && mi < 60 && sec < 60 {
			t := time.Date(y, time.Month(mo), d, h, mi, sec, ms*1e6, time.UTC)
			if t.Day() == d { // not normalised from an impossible date such as 02-30
				return t, nil
			}
		}
	}
	for _, layout := range append([]string{time.RFC3339Nano}, sqlite3.SQLiteTimestampFormats...) {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time", s)
}

// ObservedAt returns when the observation stored under (source, id) was
// observed, and false when there is none.
func (db *DB) ObservedAt(ctx context.Context, source, id string) (time.Time, bool, error) {
	var t time.Time
	err := db.r.QueryRowContext(ctx, `SELECT observed_at FROM observations WHERE source = ? AND ext_id = ?`, source, id).Scan(&t)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return time.Time{}, false, nil
	case err != nil:
		return time.Time{}, false, fmt.Errorf("store: observation %s/%s in %s: %w", source, id, db.path, err)
	}
	return t.UTC(), true, nil
}

// CountObservations returns the number of stored observations.
func (db *DB) CountObservations(ctx context.Context) (int64, error) {
	var n int64
	if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM observations`).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count observations in %s: %w", db.path, err)
	}
	return n, nil
}
