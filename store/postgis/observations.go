package postgis

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/store/internal/rowcodec"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// How a batch goes in, fastest first (measured on 100k rows of the shared
// workload's shape, BenchmarkIngest against BenchmarkPlainCopy on one 2-core
// machine, the server beside the client):
//
//  1. All new (an import, a first fetch): COPY straight into observations
//     under a savepoint (copyDirect), 0.9–1.0× a plain COPY of the same
//     rows into the same table. A record already stored fails the COPY on a
//     unique index; it is undone to the savepoint and the batch staged, and
//     so are that source's next batches until one is all new again.
//  2. Staged: COPY into a temporary table, then one merge statement per
//     round (mergeSQL): an update by fid of the stored rows whose content
//     differs, a plain INSERT … SELECT of the rest. About 0.8× a plain COPY
//     for new records; unchanged ones go at ~90k rows/s.
//  3. Raced: another writer stored one of the batch's new records since the
//     merge looked, and its insert failed on the unique index; the batch is
//     done again with INSERT … ON CONFLICT (upsertSQL), which waits for the
//     other writer and never fails so. Its speculative insertion costs half
//     as much again as a plain insert, hence the other two.
//
// stagingDDL is the session's staging table. It lives as long as the connection and is emptied at every commit, so the
// catalog is not churned by a table per batch. It is a temporary table,
// which PostgreSQL never WAL-logs.
const stagingDDL = `CREATE TEMP TABLE IF NOT EXISTS geowatch_staging (
	ord integer NOT NULL,
	round integer NOT NULL,
	src text NOT NULL,
	ext_id text NOT NULL,
	observed_at timestamptz NOT NULL,
	lat double precision NOT NULL,
	lon double precision NOT NULL,
	place text,
	kind text,
	title text,
	url text,
	weight double precision NOT NULL,
	precision text NOT NULL,
	properties text,
	geometry text,
	revised_at timestamptz
) ON COMMIT DELETE ROWS`

var stagingColumns = []string{"ord", "round", "src", "ext_id", "observed_at", "lat", "lon", "place", "kind",
	"title", "url", "weight", "precision", "properties", "geometry", "revised_at"}

// upsertSQL moves one round of the staging table into observations. A
// (source, ext_id) already stored is rewritten only when some content
// differs (keeping its fid and ingested_at), and never by an older revision
// (both with a revised_at); RETURNING names every row written, and xmax = 0
// tells a row inserted from one updated. The rows go in batch order, so
// their fids follow it as on SQLite.
const upsertSQL = `INSERT INTO observations AS o (geom, source, ext_id, observed_at, ingested_at, lat, lon,
	place, kind, title, url, weight, precision, properties, geometry, revised_at, id_ns)
SELECT ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326), s.src, s.ext_id, s.observed_at, $1, s.lat, s.lon,
	s.place, s.kind, s.title, s.url, s.weight, s.precision, s.properties::json, s.geometry::json, s.revised_at, $2
FROM geowatch_staging AS s WHERE s.round = $3 ORDER BY s.ord
ON CONFLICT (source, ext_id) DO UPDATE SET
	geom = excluded.geom, observed_at = excluded.observed_at, lat = excluded.lat, lon = excluded.lon,
	place = excluded.place, kind = excluded.kind, title = excluded.title, url = excluded.url,
	weight = excluded.weight, precision = excluded.precision, properties = excluded.properties,
	geometry = excluded.geometry, revised_at = coalesce(excluded.revised_at, o.revised_at)
WHERE ((o.observed_at, o.lat, o.lon, o.place, o.kind, o.title, o.url, o.weight, o.precision,
		o.properties::text, o.geometry::text)
	IS DISTINCT FROM (excluded.observed_at, excluded.lat, excluded.lon, excluded.place, excluded.kind,
		excluded.title, excluded.url, excluded.weight, excluded.precision,
		excluded.properties::text, excluded.geometry::text)
	OR (excluded.revised_at IS NOT NULL AND o.revised_at IS DISTINCT FROM excluded.revised_at))
	AND NOT coalesce(excluded.revised_at < o.revised_at, false)
RETURNING o.fid, o.source, o.ext_id, (o.xmax = 0)`

// mergeSQL is the staged path's one statement per round: it probes the unique
// index once per record (m), updates the stored rows whose content differs
// (by fid), and inserts the rest with a plain INSERT … SELECT, and returns
// every row written: its fid, source and ext_id, and whether it was inserted.
const mergeSQL = `WITH m AS MATERIALIZED (
	SELECT s.ord, o.fid,
		((o.observed_at, o.lat, o.lon, o.place, o.kind, o.title, o.url, o.weight, o.precision,
			o.properties::text, o.geometry::text)
		IS DISTINCT FROM (s.observed_at, s.lat, s.lon, s.place, s.kind, s.title, s.url, s.weight, s.precision,
			s.properties, s.geometry)
		OR (s.revised_at IS NOT NULL AND o.revised_at IS DISTINCT FROM s.revised_at))
		AND NOT coalesce(s.revised_at < o.revised_at, false) AS changed
	FROM geowatch_staging AS s JOIN observations AS o ON o.source = s.src AND o.ext_id = s.ext_id
	WHERE s.round = $3),
upd AS (
	UPDATE observations AS o SET
		geom = ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326), observed_at = s.observed_at, lat = s.lat, lon = s.lon,
		place = s.place, kind = s.kind, title = s.title, url = s.url,
		weight = s.weight, precision = s.precision, properties = s.properties::json,
		geometry = s.geometry::json, revised_at = coalesce(s.revised_at, o.revised_at)
	FROM m JOIN geowatch_staging AS s ON s.ord = m.ord
	WHERE o.fid = m.fid AND m.changed
	RETURNING o.fid, o.source, o.ext_id),
ins AS (
	INSERT INTO observations (geom, source, ext_id, observed_at, ingested_at, lat, lon,
		place, kind, title, url, weight, precision, properties, geometry, revised_at, id_ns)
	SELECT ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326), s.src, s.ext_id, s.observed_at, $1, s.lat, s.lon,
		s.place, s.kind, s.title, s.url, s.weight, s.precision, s.properties::json, s.geometry::json, s.revised_at, $2
	FROM geowatch_staging AS s
	WHERE s.round = $3 AND NOT EXISTS (SELECT 1 FROM m WHERE m.ord = s.ord)
	ORDER BY s.ord
	RETURNING fid, source, ext_id)
SELECT fid, source, ext_id, true FROM ins
UNION ALL SELECT fid, source, ext_id, false FROM upd`

// redirectSQL points the staging rows of a batch with an id namespace at
// the source that stored their (id_ns, ext_id) first, so that the upsert's
// conflict on (source, ext_id) updates that row: SQLite's second ON
// CONFLICT clause, which PostgreSQL's INSERT cannot have. A row the batch's
// own source already stores stays its own, as SQLite's first clause wins.
const redirectSQL = `UPDATE geowatch_staging AS s SET src = o.source
FROM observations AS o
WHERE o.id_ns = $1 AND o.ext_id = s.ext_id AND o.source <> s.src
	AND NOT EXISTS (SELECT 1 FROM observations AS x WHERE x.source = s.src AND x.ext_id = s.ext_id)`

// checkStorable fails on what PostgreSQL cannot store although the record is
// valid: properties that are JSON but not UTF-8 (Go's JSON accepts invalid
// bytes in strings; a json column does not). SQLite would keep them; here
// they are a reject of that field rather than a failed batch.
func checkStorable(o *monitor.Observation) error {
	if len(o.Properties) > 0 && !utf8.Valid(o.Properties) {
		return &monitor.FieldError{Field: "properties", Err: monitor.ErrBadUTF8}
	}
	return nil
}

// Ingest stores a batch in one transaction and counts what happened to each
// record, with the SQLite store's semantics: each observation is normalised
// and validated, and one that fails becomes a rejects row naming its field
// and never fails the batch; a record for a stored (source, id) updates it
// when its content differs; several records for one id in the batch apply
// in order, the first adding, later ones updating when they differ. now
// stamps ingested_at and rejected_at; the zero time means the store's clock.
// Times are stored to the millisecond. The result is returned once the
// transaction has committed. See stagingDDL for how a batch goes in.
func (db *DB) Ingest(ctx context.Context, source string, b monitor.Batch, now time.Time) (monitor.IngestResult, error) {
	res, err := db.ingest(ctx, source, b, now)
	if err != nil {
		err = db.wrap(err, "ingest %s into %s", source, db.name)
		if !errors.Is(err, context.Canceled) { // the caller left: says nothing of the store
			db.lastWrite.Store(&err)
		}
		return monitor.IngestResult{}, err
	}
	db.lastWrite.Store(nil)
	return res, nil
}

func (db *DB) ingest(ctx context.Context, source string, b monitor.Batch, now time.Time) (monitor.IngestResult, error) {
	if db.readOnly {
		return monitor.IngestResult{}, errReadOnly
	}
	if now.IsZero() {
		now = db.now()
	}
	stamp := pgTime(now)
	res := monitor.IngestResult{Seen: len(b.Observations) + len(b.Rejects)}
	rejects := b.Rejects

	// Validate first, and give each record its round: the how-many-th record
	// for its id it is in this batch. One INSERT … ON CONFLICT may not touch a
	// row twice (and an UPDATE … FROM would take one of the records at
	// random), so the rounds go in order, each with one record per id.
	rows := make([][]any, 0, len(b.Observations))
	seen := make(map[string]int32, len(b.Observations))
	rounds := int32(0)
	for i := range b.Observations {
		o := b.Observations[i] // a copy: the caller's batch stays as it was
		o.Normalize()
		err := o.Validate()
		if err == nil {
			err = rowcodec.CheckGeometry(&o)
		}
		if err == nil {
			err = checkStorable(&o)
		}
		if err != nil {
			rejects = append(rejects, rowcodec.ObservationReject(i, &o, err))
			continue
		}
		r := seen[o.ID] + 1
		seen[o.ID] = r
		rounds = max(rounds, r)
		row, err := stagingRow(int32(i), r, source, &o)
		if err != nil { // CheckGeometry passed it
			return res, fmt.Errorf("record %d: %w", i, err)
		}
		rows = append(rows, row)
	}
	res.Rejected = len(rejects)

	rr := make([][]any, len(rejects))
	for i, r := range rejects {
		var raw, field any
		if r.Raw != "" {
			raw = pgText(monitor.RawRecord([]byte(r.Raw)))
		}
		if r.Field != "" {
			field = pgText(r.Field)
		}
		rr[i] = []any{source, pgText(r.Record), field, pgText(rowcodec.RejectReason(r)), raw, stamp}
	}
	b2 := stagedBatch{source: source, rows: rows, rounds: rounds, rejects: rr, ns: b.Namespace, stamp: stamp}
	n, err := db.ingestTx(ctx, &b2, false)
	if isUniqueViolation(err) {
		// Another writer stored one of these records since the insert
		// looked: again, with the upsert, which waits for it.
		n, err = db.ingestTx(ctx, &b2, true)
	}
	if err != nil {
		return res, err
	}
	// Committed: now the records that wrote learn their rows (a failed
	// first attempt's are gone with b2.written).
	for _, w := range b2.written {
		o := &b.Observations[w.ord]
		o.FID, o.Source = w.fid, w.source
	}
	res.Added, res.Updated = n.Added, n.Updated
	res.Unchanged = len(rows) - res.Added - res.Updated
	if res.Added+res.Updated > 0 {
		db.countWrite(ctx)
	}
	return res, nil
}

// isUniqueViolation reports whether err is PostgreSQL's duplicate key error.
func isUniqueViolation(err error) bool {
	pgErr, ok := errors.AsType[*pgconn.PgError](err)
	return ok && pgErr.Code == "23505"
}

// stagedBatch is a validated batch, as rows of the staging table and of
// rejects.
type stagedBatch struct {
	source  string
	rows    [][]any // in stagingColumns order
	rounds  int32
	rejects [][]any
	ns      string
	stamp   time.Time
	// written is filled by ingestTx: the row each record wrote, by its
	// index in the batch (its staging ord).
	written []writtenRow
}

// writtenRow is the row a batch's record ord added or updated.
type writtenRow struct {
	ord    int32
	fid    int64
	source string
}

// ords maps each staged record's (round, ext_id), unique by construction, to
// its ord, so that a round's returned rows find their records.
func (b *stagedBatch) ords() map[roundID]int32 {
	m := make(map[roundID]int32, len(b.rows))
	for _, r := range b.rows {
		m[roundID{r[1].(int32), r[3].(string)}] = r[0].(int32)
	}
	return m
}

// roundID is a staged record's round and ext_id.
type roundID struct {
	round int32
	id    string
}

// ingestTx stores b in one transaction and returns its added and updated
// counts: COPYed straight in, else staged and merged (mergeSQL) or, with
// upsert, staged and upserted (upsertSQL).
func (db *DB) ingestTx(ctx context.Context, b *stagedBatch, upsert bool) (monitor.IngestResult, error) {
	var res monitor.IngestResult
	b.written = b.written[:0]
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return res, err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit it is a no-op
	rows := b.rows         // those to stage
	direct := !upsert && b.rounds == 1 && db.tryDirect(b.source)
	if direct {
		switch added, err := copyDirect(ctx, tx, b); {
		case err == nil:
			res.Added, rows = added, nil
		case isUniqueViolation(err):
			// Some record is stored already: the batch goes the staged way,
			// and so do the source's next ones until one is all new again.
			db.noDirect.Store(b.source, true)
		default:
			return res, err
		}
	}
	if len(rows) > 0 {
		// The upsert sorts the staging rows by ord: in memory, not on disk at
		// the default 4 MB (50k rows measured an external merge).
		if _, err := tx.Exec(ctx, `SET LOCAL work_mem = '64MB'`); err != nil {
			return res, err
		}
		if _, err := tx.Exec(ctx, stagingDDL); err != nil {
			return res, fmt.Errorf("staging table: %w", err)
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"geowatch_staging"}, stagingColumns, pgx.CopyFromRows(rows)); err != nil {
			return res, fmt.Errorf("copy into staging: %w", err)
		}
		if b.ns != "" {
			if _, err := tx.Exec(ctx, redirectSQL, b.ns); err != nil {
				return res, fmt.Errorf("id namespace %s: %w", b.ns, err)
			}
		}
		var ords map[roundID]int32 // built for the first row written: not for an unchanged batch
		for r := int32(1); r <= b.rounds; r++ {
			if err := moveRound(ctx, tx, upsert, r, b, &ords, &res); err != nil {
				return res, err
			}
		}
		if !upsert && res.Added == len(rows) {
			db.noDirect.Delete(b.source)
		}
	}
	if len(b.rejects) > 0 {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"rejects"},
			[]string{"source", "record", "field", "reason", "raw", "rejected_at"}, pgx.CopyFromRows(b.rejects)); err != nil {
			return res, fmt.Errorf("insert rejects: %w", err)
		}
	}
	return res, tx.Commit(ctx)
}

// observationColumns are the columns copyDirect fills.
var observationColumns = []string{"fid", "geom", "source", "ext_id", "observed_at", "ingested_at", "lat", "lon",
	"place", "kind", "title", "url", "weight", "precision", "properties", "geometry", "revised_at", "id_ns"}

// tryDirect reports whether a batch of source's with one record per id is
// first COPYed straight into observations (copyDirect): unless its last
// batch found records already stored.
func (db *DB) tryDirect(source string) bool {
	_, no := db.noDirect.Load(source)
	return !no
}

// copyDirect COPYs the batch straight into observations, under a savepoint:
// the quickest way in for a batch of new records (an import, a first
// fetch), with nothing staged. It fails with a unique violation, undone to
// the savepoint, when some record is already stored (under its source or
// its id namespace); the caller then stages the batch.
func copyDirect(ctx context.Context, tx pgx.Tx, b *stagedBatch) (int, error) {
	if err := registerGeometry(ctx, tx.Conn()); err != nil {
		return 0, err
	}
	sp, err := tx.Begin(ctx) // a savepoint
	if err != nil {
		return 0, err
	}
	// The fids are taken first, so that they are known without reading the
	// rows back, and given in batch order, so that they follow it.
	var fids []int64
	if err := sp.QueryRow(ctx, nextFIDsSQL, len(b.rows)).Scan(&fids); err != nil {
		sp.Rollback(ctx) //nolint:errcheck // the error says why
		return 0, fmt.Errorf("fids: %w", err)
	}
	if len(fids) != len(b.rows) {
		sp.Rollback(ctx) //nolint:errcheck // the error says why
		return 0, fmt.Errorf("fids: %d for %d records", len(fids), len(b.rows))
	}
	slices.Sort(fids)
	ns := rowcodec.NullString(b.ns)
	i := -1
	n, err := sp.CopyFrom(ctx, pgx.Identifier{"observations"}, observationColumns, pgx.CopyFromFunc(func() ([]any, error) {
		if i++; i >= len(b.rows) {
			return nil, nil
		}
		r := b.rows[i] // stagingColumns order
		lat, lon := r[5].(float64), r[6].(float64)
		return []any{fids[i], pointEWKB(lon, lat), r[2], r[3], r[4], b.stamp, lat, lon,
			r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14], r[15], ns}, nil
	}))
	if err != nil {
		sp.Rollback(ctx) //nolint:errcheck // the error says why; the transaction goes on or is rolled back
		return 0, err
	}
	if err := sp.Commit(ctx); err != nil {
		return 0, err
	}
	b.written = slices.Grow(b.written, len(b.rows))
	for i, r := range b.rows {
		b.written = append(b.written, writtenRow{ord: r[0].(int32), fid: fids[i], source: b.source})
	}
	return int(n), nil
}

// nextFIDsSQL takes $1 fids from observations' identity sequence.
// One array rather than a row per fid, which the client would scan one by one.
const nextFIDsSQL = `SELECT array_agg(nextval(pg_get_serial_sequence('observations', 'fid')))
FROM generate_series(1, $1)`

// pointEWKB is (lon, lat) as EWKB with SRID 4326: PostGIS's binary form of
// a geometry, which COPY's binary format carries.
func pointEWKB(lon, lat float64) []byte {
	b := make([]byte, 25)
	b[0] = 1                                         // little endian
	binary.LittleEndian.PutUint32(b[1:], 0x20000001) // a point with an SRID
	binary.LittleEndian.PutUint32(b[5:], 4326)
	binary.LittleEndian.PutUint64(b[9:], math.Float64bits(lon))
	binary.LittleEndian.PutUint64(b[17:], math.Float64bits(lat))
	return b
}

// registerGeometry teaches conn's type map PostGIS's geometry type, whose
// binary form is EWKB bytes, once per connection.
func registerGeometry(ctx context.Context, conn *pgx.Conn) error {
	m := conn.TypeMap()
	if _, ok := m.TypeForName("geometry"); ok {
		return nil
	}
	var oid uint32
	if err := conn.QueryRow(ctx, `SELECT 'geometry'::regtype::oid`).Scan(&oid); err != nil {
		return fmt.Errorf("geometry type: %w", err)
	}
	m.RegisterType(&pgtype.Type{Name: "geometry", OID: oid, Codec: pgtype.ByteaCodec{}})
	return nil
}

// moveRound moves round r of the staging table into observations, with
// mergeSQL (updates of stored rows whose content differs, then inserts of the
// rest) or, with upsert, upsertSQL; it notes the rows written in b.written and
// counts them. In the first round an inserted row is added and an updated one
// updated; in later rounds every row written is an update (of a row stored
// before the batch or added by an earlier round).
func moveRound(ctx context.Context, tx pgx.Tx, upsert bool, r int32, b *stagedBatch, ords *map[roundID]int32, res *monitor.IngestResult) error {
	query, what := mergeSQL, "merge"
	if upsert {
		query, what = upsertSQL, "upsert"
	}
	rows, err := tx.Query(ctx, query, b.stamp, rowcodec.NullString(b.ns), r)
	if err != nil {
		return fmt.Errorf("%s round %d: %w", what, r, err)
	}
	defer rows.Close()
	var (
		w        writtenRow
		extID    string
		inserted bool
	)
	for rows.Next() {
		if err := rows.Scan(&w.fid, &w.source, &extID, &inserted); err != nil {
			return fmt.Errorf("%s round %d: %w", what, r, err)
		}
		if *ords == nil {
			*ords = b.ords()
		}
		ord, ok := (*ords)[roundID{r, extID}]
		if !ok {
			return fmt.Errorf("%s round %d wrote %s/%s, which it does not stage", what, r, w.source, extID)
		}
		w.ord = ord
		b.written = append(b.written, w)
		if inserted && r == 1 {
			res.Added++
		} else {
			res.Updated++
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s round %d: %w", what, r, err)
	}
	return nil
}

// stagingRow is o's row of the staging table, in stagingColumns order.
func stagingRow(ord, round int32, source string, o *monitor.Observation) ([]any, error) {
	geometry, err := rowcodec.ObservationGeometry(o)
	if err != nil {
		return nil, err
	}
	var props any
	if len(o.Properties) > 0 {
		props = string(o.Properties)
	}
	return []any{ord, round, source, o.ID, pgTime(o.Time), o.Point.Lat(), o.Point.Lon(),
		rowcodec.NullString(o.Place), rowcodec.NullString(o.Kind), rowcodec.NullString(o.Title), rowcodec.NullString(o.URL),
		o.Weight, o.Precision.String(), props, geometry, nullTime(o.Revised)}, nil
}
