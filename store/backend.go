package store

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/geowatch/geowatch/monitor"
)

// Backend is a geowatch database: what the daemon and every CLI command need
// of it, whichever engine keeps it. store/sqlite and store/postgis implement
// it, and storetest holds the contract both pass.
type Backend interface {
	monitor.Store
	monitor.SilenceStore
	monitor.ForeignWriter

	// Query calls fn for each observation f selects, with every field, in
	// time order (then fid), without holding the whole answer in memory. It
	// stops at fn's first error and returns it.
	Query(ctx context.Context, f QueryFilter, fn func(monitor.Observation) error) error
	// ObservationsByFID returns the stored observations among fids, with every
	// field, in time order (then fid); fids no longer stored are left out.
	ObservationsByFID(ctx context.Context, fids []int64) ([]monitor.Observation, error)
	// ObservedAt returns when the observation stored under (source, id) was
	// observed, and false when there is none.
	ObservedAt(ctx context.Context, source, id string) (time.Time, bool, error)
	// CountObservations returns the number of stored observations.
	CountObservations(ctx context.Context) (int64, error)
	// Latest returns the highest observation fid and alert transition id
	// stored (0 for none).
	Latest(ctx context.Context) (fid, transition int64, err error)
	// Prune deletes observations and rejects older than before, and resolved
	// alerts (with their transitions) that ended before it, at most batch
	// rows per transaction; a resolved alert with a transition not yet
	// notified is kept.
	Prune(ctx context.Context, before time.Time, batch int) (PruneResult, error)

	// Alerts lists alerts newest first.
	Alerts(ctx context.Context, f AlertFilter) ([]monitor.Alert, error)
	// Transitions lists stored alert transitions in the order they happened.
	Transitions(ctx context.Context, f TransitionFilter) ([]TransitionRecord, error)

	// AddSilence stores s and sets its ID; a zero StartsAt means now.
	AddSilence(ctx context.Context, s *monitor.Silence) error
	// ListSilences returns the silences not yet ended, or every one when all.
	ListSilences(ctx context.Context, all bool) ([]SilenceRecord, error)
	// ExpireSilence ends silence id at now; ErrNotFound for an unknown id.
	ExpireSilence(ctx context.Context, id int64, now time.Time) error

	// Sources returns the sources table, by name.
	Sources(ctx context.Context) ([]SourceStatus, error)
	// StartRun, AddRunProgress and FinishRun record a long run (an import)
	// as it goes, so a killed one shows as interrupted with what it stored.
	StartRun(ctx context.Context, source, typ string, started time.Time) error
	AddRunProgress(ctx context.Context, source string, r monitor.IngestResult, elapsed time.Duration) error
	FinishRun(ctx context.Context, source string, started time.Time, duration time.Duration, runErr error) error

	// SchemaVersion returns the name of the last migration applied.
	SchemaVersion(ctx context.Context) (string, error)
	// Ping checks that the database can take a write now.
	Ping(ctx context.Context) error
	// String names the database for logs and errors, without a password.
	String() string
	Close() error
}

// Kind is which backend a database setting names.
type Kind uint8

const (
	// SQLite is a file path (or a file: URI): store/sqlite.
	SQLite Kind = iota
	// PostgreSQL is a postgres:// or postgresql:// URL, or a libpq key/value
	// string such as "host=db dbname=geowatch": store/postgis.
	PostgreSQL
)

func (k Kind) String() string {
	if k == PostgreSQL {
		return "postgresql"
	}
	return "sqlite"
}

// libpqKey matches the start of a libpq key/value connection string.
var libpqKey = regexp.MustCompile(`^\s*(host|hostaddr|port|dbname|user|password|passfile|sslmode|service|application_name|connect_timeout)\s*=`)

// KindOf says which backend database names: a PostgreSQL URL or key/value
// string, or else a SQLite file.
func KindOf(database string) Kind {
	if strings.HasPrefix(database, "postgres://") || strings.HasPrefix(database, "postgresql://") ||
		libpqKey.MatchString(database) {
		return PostgreSQL
	}
	return SQLite
}

// libpqPassword matches a password in a key/value string, quoted or not.
var libpqPassword = regexp.MustCompile(`(?i)(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)`)

// Redact returns database with any password replaced by "xxxxx", for logs,
// errors and check-config.
func Redact(database string) string {
	if KindOf(database) != PostgreSQL {
		return database
	}
	if scheme, _, isURL := strings.Cut(database, "://"); isURL {
		u, err := url.Parse(database)
		if err != nil {
			// Where the password is in a URL that does not parse is
			// anyone's guess: show none of it.
			return scheme + "://(unparseable URL, not shown)"
		}
		if _, set := u.User.Password(); set {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
		q := u.Query()
		if q.Has("password") {
			q.Set("password", "xxxxx")
			u.RawQuery = q.Encode()
		}
		return u.String()
	}
	return libpqPassword.ReplaceAllString(database, "${1}xxxxx")
}
