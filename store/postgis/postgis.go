// Package postgis keeps geowatch's observations, alerts and source runs in a
// PostgreSQL database with PostGIS, behind the same store.Backend contract as
// store/sqlite and with the same semantics: the same ingest counts, query
// answers, alert outbox and retention. observations and alerts are PostGIS
// layers (a primary key and a registered geometry column) that QGIS and GDAL
// open as they stand, and the analyst views are the SQLite file's.
//
// It talks to the server through a pgx pool, which reconnects by itself after
// the server restarts; bulk ingest goes through the COPY protocol.
package postgis

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/store"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is a geowatch database on a PostgreSQL server. It is safe for concurrent
// use, also by several processes on the same database.
type DB struct {
	name     string // the URL without its password, for errors and logs
	secret   string // the password, scrubbed from every error
	now      func() time.Time
	log      *zap.Logger
	readOnly bool
	pool     *pgxpool.Pool

	lastWrite atomic.Pointer[error] // the last ingest's failure; nil after a success

	// noDirect holds the sources whose last batch found records already
	// stored: their batches are staged, not first COPYed straight in.
	noDirect sync.Map

	writes writeCount // ForeignWrites
}

var (
	_ store.Backend = (*DB)(nil)
	_ monitor.Store = (*DB)(nil)
)

// errReadOnly is returned by writes to a database opened with store.ReadOnly.
var errReadOnly = errors.New("database opened read-only")

// connectTimeout bounds a connection attempt when the URL sets none
// (connect_timeout), so that a server that is down fails a write, a ping or
// a readiness probe in seconds rather than at the kernel's TCP timeout.
const connectTimeout = 5 * time.Second

// migrationLock is the pg_advisory_xact_lock key under which migrations
// run, so that several geowatch processes opening one database at once
// apply each migration once: "geowatch" in ASCII.
const migrationLock int64 = 0x67656f7761746368

// Open connects to the database url names (a postgres:// or postgresql://
// URL, or a libpq key/value string; sslmode, passfile and PGPASSFILE work as
// in libpq) and applies pending migrations. Of the options it honours Now,
// Log and ReadOnly; the others are SQLite's.
//
// ReadOnly applies no migrations, requires every one to be applied, and runs
// every transaction read-only on the server.
func Open(ctx context.Context, url string, opts ...store.Option) (*DB, error) {
	o := store.Apply(opts...)
	db := &DB{name: store.Redact(url), now: o.Now, log: o.Log, readOnly: o.ReadOnly}
	if err := db.open(ctx, url, o.PasswordFile); err != nil {
		db.Close()
		return nil, db.wrap(err, "open %s", db.name)
	}
	return db, nil
}

func (db *DB) open(ctx context.Context, url, passwordFile string) error {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The reason may quote any part of the setting, the password too.
		return errors.New("cannot parse the database setting as a PostgreSQL URL or key/value string " +
			"(percent-encode special characters in a URL's password, or use a password file)")
	}
	db.secret = cfg.ConnConfig.Password
	if passwordFile != "" {
		// Read now, so a missing file fails Open, and again at each new
		// connection, so a rotated password is picked up.
		if db.secret, err = readPassword(passwordFile); err != nil {
			return err
		}
		cfg.BeforeConnect = func(_ context.Context, cc *pgx.ConnConfig) error {
			pw, err := readPassword(passwordFile)
			if err != nil {
				return err
			}
			cc.Password = pw
			return nil
		}
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = connectTimeout
	}
	if cfg.ConnConfig.RuntimeParams == nil {
		cfg.ConnConfig.RuntimeParams = map[string]string{}
	}
	if _, set := cfg.ConnConfig.RuntimeParams["application_name"]; !set {
		cfg.ConnConfig.RuntimeParams["application_name"] = "geowatch"
	}
	// Times go over the wire as timestamptz and come back in UTC.
	cfg.ConnConfig.RuntimeParams["timezone"] = "UTC"
	if db.readOnly {
		cfg.ConnConfig.RuntimeParams["default_transaction_read_only"] = "on"
	}
	if db.pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return err
	}
	if db.readOnly {
		err = db.checkSchema(ctx)
	} else {
		err = db.migrate(ctx)
	}
	if err != nil {
		return err
	}
	return db.readWrites(ctx)
}

// wrap prefixes err with "store: " and the formatted context, and scrubs the
// password from its text; errors.Is and As still see err.
func (db *DB) wrap(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return &scrubbed{msg: "store: " + fmt.Sprintf(format, args...), err: err, secret: db.secret}
}

// scrubbed is an error whose text never holds the database password.
type scrubbed struct {
	msg    string
	err    error
	secret string
}

func (e *scrubbed) Error() string {
	s := e.msg + ": " + e.err.Error()
	if e.secret != "" {
		s = strings.ReplaceAll(s, e.secret, "xxxxx")
	}
	return s
}

func (e *scrubbed) Unwrap() error { return e.err }

// Close releases the pool's connections.
func (db *DB) Close() error {
	if db.pool != nil {
		db.pool.Close()
	}
	return nil
}

// String names the database for logs and errors: its URL without the password.
func (db *DB) String() string { return db.name }

// Ping checks that the database can take a write now: the last ingest did
// not fail, a pooled connection answers, and the server is a primary
// accepting writes (not a standby in recovery, not read-only by default).
// While the server is down it fails within the connect timeout.
func (db *DB) Ping(ctx context.Context) error {
	if db.readOnly {
		return db.wrap(errReadOnly, "ping %s", db.name)
	}
	if err := db.lastWrite.Load(); err != nil {
		return db.wrap(*err, "ping %s: last write failed", db.name)
	}
	var recovery bool
	var readOnly string
	err := db.pool.QueryRow(ctx, `SELECT pg_is_in_recovery(), current_setting('transaction_read_only')`).Scan(&recovery, &readOnly)
	switch {
	case err != nil:
		return db.wrap(err, "ping %s", db.name)
	case recovery:
		return db.wrap(errors.New("server is a standby in recovery"), "ping %s", db.name)
	case readOnly == "on":
		return db.wrap(errors.New("server takes read-only transactions only (default_transaction_read_only)"), "ping %s", db.name)
	}
	return nil
}

// applied returns the versions recorded in schema_migrations.
func applied(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}) (map[string]bool, error) {
	rows, err := q.Query(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return nil, err
	}
	vs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	done := make(map[string]bool, len(vs))
	for _, v := range vs {
		done[v] = true
	}
	return done, nil
}

// migrate applies the embedded migrations not yet recorded, each in one
// transaction with its schema_migrations row, under an advisory lock that
// the transaction holds: processes opening the database at once take turns,
// and each finds what the one before it applied.
func (db *DB) migrate(ctx context.Context) error {
	names, err := store.MigrationNames(migrations)
	if err != nil {
		return err
	}
	for {
		name, err := db.migrateOne(ctx, names)
		if err != nil && name == "" {
			return fmt.Errorf("migrate: %w", err)
		} else if err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
		if name == "" {
			return nil
		}
		db.log.Info("migration applied", zap.String("version", name), zap.String("database", db.name))
	}
}

// migrateOne applies the first pending migration and returns its name, or ""
// when none is pending.
func (db *DB) migrateOne(ctx context.Context, names []string) (string, error) {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return "", err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit it is a no-op
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
		return "", err
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version text PRIMARY KEY, applied_at timestamptz NOT NULL)`); err != nil {
		return "", err
	}
	done, err := applied(ctx, tx)
	if err != nil {
		return "", err
	}
	if err := store.CheckMigrations(done, names); err != nil {
		return "", err
	}
	i := slices.IndexFunc(names, func(n string) bool { return !done[n] })
	if i < 0 {
		return "", tx.Commit(ctx)
	}
	name := names[i]
	body, err := migrations.ReadFile("migrations/" + name + ".sql")
	if err != nil {
		return name, err
	}
	if _, err := tx.Exec(ctx, string(body)); err != nil {
		return name, err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`,
		name, pgTime(db.now())); err != nil {
		return name, err
	}
	return name, tx.Commit(ctx)
}

// checkSchema verifies that a database opened read-only has every migration
// this binary knows.
func (db *DB) checkSchema(ctx context.Context) error {
	names, err := store.MigrationNames(migrations)
	if err != nil {
		return err
	}
	done, err := applied(ctx, db.pool)
	if err != nil {
		return err
	}
	if err := store.CheckMigrations(done, names); err != nil {
		return err
	}
	for _, n := range names {
		if !done[n] {
			return fmt.Errorf("migration %s not applied: open the database read-write once to migrate it", n)
		}
	}
	return nil
}

// SchemaVersion returns the name of the last migration applied.
func (db *DB) SchemaVersion(ctx context.Context) (string, error) {
	var v string
	if err := db.pool.QueryRow(ctx, `SELECT max(version) FROM schema_migrations`).Scan(&v); err != nil {
		return "", db.wrap(err, "schema version of %s", db.name)
	}
	return v, nil
}

// pgTime is t as stored: UTC, truncated to the millisecond, as the SQLite
// store's text (formatTime) keeps it, so both answer with equal times.
func pgTime(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

// nullTime is pgTime(t), or NULL for the zero time.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return pgTime(t)
}

// utc reads a nullable timestamptz: the zero time for NULL.
func utc(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// pgText makes s storable in a text column: PostgreSQL refuses NUL bytes and
// invalid UTF-8, which rejects' locators and raw copies may hold (a raw copy
// is cut at MaxRawBytes, maybe mid-rune), so those become U+FFFD.
func pgText(s string) string {
	if strings.IndexByte(s, 0) < 0 && utf8.ValidString(s) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// readPassword returns the first line of a password file.
func readPassword(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("password file: %w", err)
	}
	pw, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimSuffix(pw, "\r"), nil
}
