// Package sqlite keeps geowatch's observations, alerts and source runs in one SQLite
// file that is also a GeoPackage 1.3 (see migrations/010_gpkg_1_3.sql): QGIS and GDAL open it as layers
// (observations, alerts) and attribute tables (rejects, sources,
// alert_transitions), and sqlite3 users find plain lon/lat and ISO-8601 columns.
//
// It is the only package that imports database/sql and the SQLite driver. It
// imports monitor and geo, and implements monitor.Store.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/geowatch/geowatch/store"

	"github.com/geowatch/geowatch/monitor"
	sqlite3 "github.com/mattn/go-sqlite3"
	"go.uber.org/zap"
)

//go:embed migrations/*.sql
var migrations embed.FS

// driverName is go-sqlite3 with a ConnectHook that registers the GeoPackage
// ST_* functions that the rtree triggers call (see gpkg.go).
const driverName = "sqlite3_geowatch"

func init() {
	sql.Register(driverName, &sqlite3.SQLiteDriver{ConnectHook: registerGPKGFunctions})
}

// pageSize is set when the file is created. 8 KiB pages measured ~30 % faster
// ingest than 4 KiB on the reference workload (bench/ingest-design.md).
const pageSize = 8192

// ErrFileGone is returned by writes when the database's path no longer names
// the file the store opened: it was removed, or replaced. SQLite would go on
// writing to the unlinked file, and what it stored would vanish with the
// process, so the store refuses: a spooled file stays in the spool.
var ErrFileGone = errors.New("database file removed or replaced since it was opened")

// ErrWALLimit is an ingest refused because the WAL is past its hard limit.
var ErrWALLimit = errors.New("write-ahead log past wal_max (a read transaction holds an old snapshot); refusing writes rather than filling the disk")

// DB is a geowatch database. It is safe for concurrent use: writes are
// serialised on one connection, reads use a pool.
type DB struct {
	path string
	now  func() time.Time
	log  *zap.Logger

	file os.FileInfo // the file opened, to notice it removed or replaced (checkFile)

	w *sql.DB // one connection: SQLite has one writer, and a queue in Go beats busy retries
	r *sql.DB // readers; WAL lets them run while w commits

	inserts [len(insertSizes)]*sql.Stmt // on w, by insertSizes
	group   commitGroup                 // Ingest's calls, in shared transactions
	queries [4]*sql.Stmt                // on r, by queryStmt

	// The background checkpointer (see checkpointLoop): its own connection, a
	// kick after bulk commits, and its stop path.
	ckpt *sql.DB
	busy time.Duration // the connections' busy timeout

	lastWrite atomic.Pointer[error] // the last ingest's failure; nil after a success

	rtree bool // the observations layer has its R*Tree (spatial.go); set at Open

	walWarn, walMax int64        // store.WithWALLimits
	walBytes        atomic.Int64 // the WAL's size at the last look (checkpointLoop)
	walNext         int64        // the next warning threshold; checkpointLoop's own
	kick            chan struct{}
	stopCkpt        context.CancelFunc
	wg              sync.WaitGroup

	writes writeCount // ForeignWrites
}

// errReadOnly is returned by writes to a database opened with store.ReadOnly.
var errReadOnly = errors.New("database opened read-only")

var _ monitor.Store = (*DB)(nil)

// Open opens or creates the database at path and applies pending migrations.
// Opening an up-to-date file reads only the migrations table.
func Open(ctx context.Context, path string, opts ...store.Option) (*DB, error) {
	o := store.Apply(opts...)
	db := &DB{path: path, now: o.Now, log: o.Log, busy: o.BusyTimeout, walWarn: o.WALWarn, walMax: o.WALMax, walNext: o.WALWarn}
	if err := db.open(ctx, o); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	return db, nil
}

func (db *DB) open(ctx context.Context, o store.Options) error {
	if o.ReadOnly {
		if _, err := os.Stat(db.path); err != nil {
			return err
		}
	} else if err := create(ctx, db.path); err != nil {
		return err
	} else if db.file, err = os.Stat(db.path); err != nil {
		return err
	}
	var err error
	if db.r, err = sql.Open(driverName, dsn(db.path, o, true)); err != nil {
		return err
	}
	db.r.SetMaxOpenConns(max(2, runtime.GOMAXPROCS(0)))
	db.r.SetMaxIdleConns(max(2, runtime.GOMAXPROCS(0)))
	db.r.SetConnMaxIdleTime(5 * time.Minute)
	if o.ReadOnly {
		if err := db.checkSchema(ctx); err != nil {
			return err
		}
		if db.rtree, err = hasRTree(ctx, db.r); err != nil {
			return err
		}
		if err := db.readWrites(ctx); err != nil {
			return err
		}
		return db.prepareQueries(ctx)
	}
	if db.w, err = sql.Open(driverName, dsn(db.path, o, false)); err != nil {
		return err
	}
	db.w.SetMaxOpenConns(1)
	db.w.SetConnMaxIdleTime(0)
	db.w.SetConnMaxLifetime(0)
	// The one writer connection stays open (no idle or lifetime limit), so
	// these pragmas hold for the store's life; a connection reopened after an
	// error journals (and, low on memory, maps) in memory again, which costs
	// memory only.
	//
	// temp_store FILE lets a statement journal past 64 KiB go to a temporary
	// file. The R*Tree fill of a batch is one statement that rewrites most of
	// the tree's pages, and SQLite keeps their previous contents in that
	// journal while it runs: in memory, as much as the tree (70 MB past the
	// page cache at 1M rows, and growing with the file). On file the 1M-row
	// load also ran 4–8 % faster (two interleaved runs each).
	pragmas := `PRAGMA temp_store = FILE`
	if o.LowMemory {
		pragmas += `; PRAGMA mmap_size = 0`
	}
	if _, err := db.w.ExecContext(ctx, pragmas); err != nil {
		return err
	}
	if err := db.migrate(ctx, o); err != nil {
		return err
	}
	if err := db.readWrites(ctx); err != nil {
		return err
	}
	if err := db.prepareInserts(ctx); err != nil {
		return err
	}
	if err := db.prepareQueries(ctx); err != nil {
		return err
	}
	if db.ckpt, err = sql.Open(driverName, dsn(db.path, o, false)); err != nil {
		return err
	}
	db.ckpt.SetMaxOpenConns(1)
	db.kick = make(chan struct{}, 1)
	ckptCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	db.stopCkpt = stop
	db.wg.Add(1)
	go db.checkpointLoop(ckptCtx)
	return nil
}

// checkpointEvery spaces background checkpoints, so that a stream of small
// commits costs at most a few fsyncs a second.
const checkpointEvery = 250 * time.Millisecond

// walTruncateBytes is the WAL size past which the checkpointer truncates it.
// PASSIVE checkpoints copy frames but never restart the WAL while readers keep
// overlapping snapshots in it (checkpoint starvation): in a 10-minute soak with
// a reader every 100 ms the WAL grew to 29 MiB and kept growing.
const walTruncateBytes = 16 << 20

// walTruncateWait bounds how long a truncating checkpoint waits for readers to
// leave the WAL; it holds off writers meanwhile, so it is kept short and simply
// tried again after a later commit when readers do not leave in time.
const walTruncateWait = 200 * time.Millisecond

// walWatchEvery is how often the checkpointer looks at the WAL when no
// commit kicks it, so that the size is current and a truncation is retried
// when ingest is refused at wal_max (and so commits nothing).
const walWatchEvery = time.Second

// truncateAt is the WAL size past which the checkpointer truncates it.
func (db *DB) truncateAt() int64 {
	if db.walWarn > 0 {
		return min(walTruncateBytes, db.walWarn)
	}
	return walTruncateBytes
}

// truncateWAL runs a TRUNCATE checkpoint, waiting at most walTruncateWait
// for readers, and reports whether it restarted the WAL.
func (db *DB) truncateWAL(ctx context.Context, size int64) bool {
	conn, err := db.ckpt.Conn(ctx)
	if err != nil {
		return false
	}
	defer conn.Close()
	var busy, frames, done int
	_, err = conn.ExecContext(ctx, fmt.Sprintf(`PRAGMA busy_timeout = %d`, walTruncateWait.Milliseconds()))
	if err == nil {
		err = conn.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &frames, &done)
	}
	// The connection's own busy timeout comes back for its next use.
	conn.ExecContext(context.WithoutCancel(ctx), fmt.Sprintf(`PRAGMA busy_timeout = %d`, db.busy.Milliseconds())) //nolint:errcheck // best effort
	switch {
	case err != nil && ctx.Err() == nil:
		db.log.Warn("truncating checkpoint failed", zap.String("path", db.path), zap.Error(err))
	case busy == 0 && err == nil:
		db.log.Debug("wal truncated", zap.String("path", db.path), zap.Int64("wal_bytes", size))
		return true
	}
	return false
}

// walTruncateBackoffMax caps the pause between TRUNCATE attempts that a
// reader keeps failing: each holds off writers for up to walTruncateWait.
const walTruncateBackoffMax = 8 * time.Second

// checkpointLoop copies committed WAL frames into the database file on its own
// connection, on the second core, after each bulk commit (kickCheckpoint). A
// PASSIVE checkpoint never blocks the writer or readers, so Ingest no longer
// pays for the copy and its fsyncs inside a commit: measured, that took a
// third of commit time at 50k rows per batch (bench/ingest-design.md and the
// store benchmarks). The writer's own autocheckpoint (wal_autocheckpoint,
// registerGPKGFunctions) stays on as the backstop, and finds little left to
// copy; it is also what lets the WAL restart from its beginning.
//
// Past truncateAt it truncates the WAL. An attempt that a reader foils (it
// holds an old snapshot) held off writers for walTruncateWait, so failures
// back off, doubling up to walTruncateBackoffMax: a QGIS window left open
// costs ingest a 200 ms stall every 8 s, not every 250 ms. It also keeps the
// WAL's size for WALStatus and warns as it grows (watchWAL).
func (db *DB) checkpointLoop(ctx context.Context) {
	defer db.wg.Done()
	var backoff time.Duration
	var nextTruncate time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-db.kick:
		case <-time.After(walWatchEvery):
		}
		if db.checkFile() != nil {
			// The file was removed or replaced: a connection opened now would
			// create a new one in its place. Ingest reports it (ErrFileGone).
			continue
		}
		var busy, frames, done int
		err := db.ckpt.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &done)
		if err != nil && ctx.Err() == nil {
			db.log.Warn("checkpoint failed", zap.String("path", db.path), zap.Error(err))
		}
		size := fileSize(db.path + "-wal")
		if err == nil && size >= db.truncateAt() && !time.Now().Before(nextTruncate) {
			if db.truncateWAL(ctx, size) {
				backoff = 0
			} else {
				backoff = min(max(2*backoff, checkpointEvery), walTruncateBackoffMax)
			}
			nextTruncate = time.Now().Add(backoff)
			size = fileSize(db.path + "-wal")
		}
		db.walBytes.Store(size)
		db.watchWAL(size, frames, done)
		select {
		case <-ctx.Done():
			return
		case <-time.After(checkpointEvery):
		}
	}
}

// watchWAL warns once per threshold crossed (walWarn, then each doubling)
// and notes when the WAL is back under walWarn.
func (db *DB) watchWAL(size int64, frames, done int) {
	if db.walWarn <= 0 {
		return
	}
	if size < db.walWarn {
		if db.walNext > db.walWarn {
			db.log.Info("wal back under threshold", zap.String("path", db.path), zap.Int64("wal_bytes", size),
				zap.Int64("threshold_bytes", db.walWarn))
		}
		db.walNext = db.walWarn
		return
	}
	if size < db.walNext {
		return
	}
	crossed := db.walNext
	for db.walNext <= size {
		db.walNext *= 2
	}
	db.log.Warn("wal growing past threshold", zap.String("path", db.path), zap.Int64("wal_bytes", size),
		zap.Int64("threshold_bytes", crossed), zap.Int64("max_bytes", db.walMax),
		zap.Int("wal_frames", frames), zap.Int("checkpointed_frames", done),
		zap.String("cause", walCause))
}

// walCause is what a WAL past its threshold means.
const walCause = "a read transaction (an analyst's sqlite3, QGIS or GDAL session, a long query, export or backup) holds an old snapshot, so checkpoints cannot restart the WAL until it ends"

// WALStatus returns the WAL's size at the checkpointer's last look, and an
// error saying so and why when it is past the warning threshold (for
// readiness and the service status).
func (db *DB) WALStatus() (int64, error) {
	size := db.walBytes.Load()
	if db.walWarn > 0 && size >= db.walWarn {
		return size, fmt.Errorf("WAL %d MiB past wal_warn %d MiB: %s", size>>20, db.walWarn>>20, walCause)
	}
	return size, nil
}

// fileSize is the size of the file at path, 0 when it is missing.
func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// kickCheckpoint asks checkpointLoop for a checkpoint, without waiting.
func (db *DB) kickCheckpoint() {
	select {
	case db.kick <- struct{}{}:
	default: // one is already due
	}
}

// fileMode is the mode of a new database file. It holds every observation and
// alert, so other users get nothing; the group may read (an analysts' group).
// SQLite gives the -wal and -shm files the database file's mode (it fchmods
// them to match, whatever the umask), so they are no wider.
const fileMode fs.FileMode = 0o640

// create makes a new file with 8 KiB pages in WAL mode. The page size must be set
// before the first write, and go-sqlite3 switches to WAL (a write) before a
// ConnectHook could set it, so a new file gets this one-off connection first.
//
// The file is created here with fileMode, before SQLite sees it: SQLite would
// create it 0644 less the umask, readable by everyone under the usual umask 022.
func create(ctx context.Context, path string) error {
	if st, err := os.Stat(path); err == nil && st.Size() > 0 {
		// SQLite reports a read-only file or mount as "unable to open database
		// file"; opening it here names the cause.
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			return err
		}
		return f.Close()
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, fileMode)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err == nil && st.Size() == 0 && st.Mode().Perm()&^fileMode != 0 {
		// The umask cannot widen a mode, but a leftover empty file can be wider.
		err = f.Chmod(st.Mode().Perm() & fileMode)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	c, err := sql.Open(driverName, "file:"+escapePath(path))
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.ExecContext(ctx, fmt.Sprintf("PRAGMA page_size = %d; PRAGMA journal_mode = WAL", pageSize))
	return err
}

// dsn returns the per-connection settings, so that every pooled connection has them.
func dsn(path string, o store.Options, reader bool) string {
	sync := "NORMAL"
	if o.Durability == store.DurabilityFull {
		sync = "FULL"
	}
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_busy_timeout", strconv.FormatInt(o.BusyTimeout.Milliseconds(), 10))
	q.Set("_foreign_keys", "on")
	q.Set("_synchronous", sync)
	q.Set("_cache_size", "-65536") // KiB: 64 MB for readers; the writer's is below
	q.Set("_txlock", "immediate")  // take the write lock at BEGIN, not mid-transaction
	if !reader {
		// The writer's page cache holds the hot pages of the R*Tree and the
		// (hour_bucket, cell) index of a 1M-row file, which outgrow 64 MB:
		// 256 MB measured ~4 % faster ingest at 1M rows (BenchmarkIngest).
		q.Set("_cache_size", "-262144")
		if o.LowMemory {
			q.Set("_cache_size", "-49152")
		}
		q.Set(triggersOff, "off") // see triggers.go
	}
	if reader {
		q.Set("_query_only", "on")
		q.Set("_txlock", "deferred")
	}
	if o.ReadOnly {
		q.Set("mode", "ro")
	}
	return "file:" + escapePath(path) + "?" + q.Encode()
}

// escapePath keeps ? and # in a file name from being read as URI syntax.
func escapePath(p string) string {
	return strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(p)
}

// checkFile returns an error wrapping ErrFileGone unless the path still names
// the file opened. Writes call it before they commit.
func (db *DB) checkFile() error {
	fi, err := os.Stat(db.path)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrFileGone, err)
	}
	if db.file != nil && !os.SameFile(fi, db.file) {
		return ErrFileGone
	}
	return nil
}

// Path returns the file name the database was opened with.
func (db *DB) Path() string { return db.path }

// Close runs PRAGMA optimize on a writable database and releases its connections.
func (db *DB) Close() error {
	var errs []error
	if db.stopCkpt != nil {
		db.stopCkpt()
		db.wg.Wait()
	}
	if db.ckpt != nil {
		errs = append(errs, db.ckpt.Close())
	}
	for _, st := range append(db.inserts[:], db.queries[:]...) {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	if db.w != nil {
		// optimize keeps planner statistics fresh at little cost (sqlite.org/pragma.html#pragma_optimize).
		if _, err := db.w.Exec("PRAGMA optimize"); err != nil {
			errs = append(errs, err)
		}
		errs = append(errs, db.w.Close())
	}
	if db.r != nil {
		errs = append(errs, db.r.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("store: close %s: %w", db.path, err)
	}
	return nil
}

// applied returns the versions recorded in schema_migrations.
func applied(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}) (map[string]bool, error) {
	done := map[string]bool{}
	rows, err := q.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		done[v] = true
	}
	return done, rows.Err()
}

// migrate applies the embedded migrations not yet recorded, each in one
// transaction together with its schema_migrations row.
//
// They run on a connection of their own with triggers on: the writer runs none
// (triggers.go), and a migration that moves or deletes features must keep the
// GeoPackage R*Trees current through the standard triggers. (geowatch's inert
// ST_IsEmpty means a migration that inserts or moves geometries must still
// write their rtree rows itself.) The write lock is taken per migration, and
// the writer connection is idle meanwhile.
func (db *DB) migrate(ctx context.Context, o store.Options) error {
	m, err := sql.Open(driverName, withTriggers(dsn(db.path, o, false)))
	if err != nil {
		return err
	}
	defer m.Close()
	m.SetMaxOpenConns(1)
	if err := db.migrateOn(ctx, m); err != nil {
		return err
	}
	return db.applySpatialIndex(ctx, m, o.SpatialIndex)
}

// withTriggers removes the writer's triggers-off parameter from a DSN.
func withTriggers(d string) string {
	base, query, _ := strings.Cut(d, "?")
	q, err := url.ParseQuery(query)
	if err != nil { // dsn built it: cannot happen
		panic(err)
	}
	q.Del(triggersOff)
	return base + "?" + q.Encode()
}

func (db *DB) migrateOn(ctx context.Context, w *sql.DB) error {
	if _, err := w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version TEXT PRIMARY KEY, applied_at DATETIME NOT NULL)`); err != nil {
		return err
	}
	names, err := store.MigrationNames(migrations)
	if err != nil {
		return err
	}
	done, err := applied(ctx, w)
	if err != nil {
		return err
	}
	if err := store.CheckMigrations(done, names); err != nil {
		return err
	}
	for _, name := range names {
		if done[name] {
			continue
		}
		body, err := migrations.ReadFile("migrations/" + name + ".sql")
		if err != nil {
			return err
		}
		if err := db.apply(ctx, w, name, string(body)); err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
		db.log.Info("migration applied", zap.String("version", name), zap.String("path", db.path))
	}
	return nil
}

func (db *DB) apply(ctx context.Context, w *sql.DB, name, body string) error {
	tx, err := w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, body); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`,
		name, formatTime(db.now())); err != nil {
		return err
	}
	return tx.Commit()
}

// checkSchema verifies that a read-only file has every migration this binary knows.
func (db *DB) checkSchema(ctx context.Context) error {
	names, err := store.MigrationNames(migrations)
	if err != nil {
		return err
	}
	done, err := applied(ctx, db.r)
	if err != nil {
		return err
	}
	if err := store.CheckMigrations(done, names); err != nil {
		return err
	}
	for _, n := range names {
		if !done[n] {
			return fmt.Errorf("migration %s not applied: open the file read-write once to migrate it", n)
		}
	}
	return nil
}

// SchemaVersion returns the name of the last migration applied.
func (db *DB) SchemaVersion(ctx context.Context) (string, error) {
	var v string
	err := db.r.QueryRowContext(ctx, `SELECT max(version) FROM schema_migrations`).Scan(&v)
	if err != nil {
		return "", fmt.Errorf("store: schema version of %s: %w", db.path, err)
	}
	return v, nil
}

// timeLayout is how times are stored: UTC, fixed millisecond width, so that text
// order is time order and GDAL reads the columns as DateTime.
const timeLayout = "2006-01-02T15:04:05.000Z"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

// nullTime formats t, or gives NULL for the zero time.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return formatTime(t)
}

// Ping checks that the database can take a write: the last ingest did not
// fail, and the write lock can be taken (and is released, writing nothing). A
// readiness probe fails while writes fail (a full disk lets the lock be taken
// but no page be written), when another process holds the lock past the busy
// timeout, the disk is read-only, or the file is gone.
func (db *DB) Ping(ctx context.Context) error {
	if db.w == nil {
		return fmt.Errorf("store: ping %s: %w", db.path, errReadOnly)
	}
	if err := db.lastWrite.Load(); err != nil {
		return fmt.Errorf("store: ping %s: last write failed: %w", db.path, *err)
	}
	tx, err := db.w.BeginTx(ctx, nil) // _txlock=immediate: takes the write lock now
	if err != nil {
		return fmt.Errorf("store: ping %s: %w", db.path, err)
	}
	if err := tx.Rollback(); err != nil {
		return fmt.Errorf("store: ping %s: %w", db.path, err)
	}
	if _, err := os.Stat(db.path); err != nil {
		return fmt.Errorf("store: ping %s: %w", db.path, err)
	}
	return nil
}

// String names the database for logs and errors: its path.
func (db *DB) String() string { return db.path }

var _ store.Backend = (*DB)(nil)
