// Package store is what geowatch's storage backends share: the Backend
// contract the daemon and every CLI command use, the types its methods take
// and return, Open's options, and the schema version policy. The backends
// are its subpackages: store/sqlite (one SQLite file that is also a
// GeoPackage) and store/postgis (PostgreSQL with PostGIS); cmd/geowatch
// picks one from the database setting alone (see Kind).
package store

import (
	"errors"
	"fmt"
	"time"

	"github.com/geowatch/geowatch/monitor"
	"go.uber.org/zap"
)

// AlertFilter selects alerts for Alerts; zero fields select everything.
type AlertFilter struct {
	Watch string
	State monitor.AlertState
	Since time.Time // alerts updated at or after
	Limit int       // at most this many, newest first
}

// TransitionRecord is one stored alert transition, with when every sink had it.
type TransitionRecord struct {
	monitor.Transition
	// NotifiedAt is when every subscriber had it; zero while it is pending.
	NotifiedAt time.Time
}

// TransitionFilter selects transitions for Transitions; zero fields select everything.
type TransitionFilter struct {
	AlertIDs []int64   // of these alerts only; nil for any
	Since    time.Time // at or after
}

// DefaultPruneBatch is how many rows Prune deletes per transaction when the
// caller gives no batch size: small enough that an Ingest waiting for the write
// lock waits tens of milliseconds, not the whole prune.
const DefaultPruneBatch = 5000

// PruneResult counts the rows Prune deleted.
type PruneResult struct {
	Observations int64
	Rejects      int64
	Alerts       int64 // resolved alerts, with their transitions
	Transitions  int64
}

// QueryFilter selects observations for Query; zero fields select everything.
type QueryFilter struct {
	Area         monitor.Shape // observations whose Point it contains; nil for anywhere
	Since, Until time.Time     // observation time in [Since, Until); zero leaves that end open
	Kinds        []string      // any of these kinds
	Sources      []string      // from any of these sources
	Limit        int           // at most this many
}

// ErrSilenceEnds is returned by AddSilence for a silence that does not end after
// it starts.
var ErrSilenceEnds = errors.New("silence must end after it starts")

// SilenceRecord is one row of the silences table: a silence with when it was
// created and, if it was expired early, when.
type SilenceRecord struct {
	monitor.Silence
	CreatedAt time.Time
	ExpiredAt time.Time // zero unless ExpireSilence ended it
}

// SourceStatus is one row of the sources table: how a check's last run went and
// what it has brought in so far.
type SourceStatus struct {
	Name, Type          string
	LastRun             time.Time // start of the last run
	LastSuccess         time.Time // start of the last run that succeeded; zero if none
	LastError           string    // the last run's error; empty if it succeeded
	ConsecutiveFailures int
	LastDuration        time.Duration
	Last, Total         monitor.IngestResult
}

// Running is the last_error of a run begun by StartRun and not yet finished:
// for a run that was killed, what `geowatch sources` keeps showing.
const Running = "interrupted: started, not finished (still running, or killed)"

// SpatialIndex says whether the observations layer has its GeoPackage R*Tree
// (rtree_observations_geom, its gpkg_extensions row and its triggers).
type SpatialIndex uint8

const (
	// SpatialIndexKeep (the zero value) leaves the file as it is; a new file
	// gets the R*Tree.
	SpatialIndexKeep SpatialIndex = iota
	// SpatialIndexRTree builds the R*Tree if the file lacks it.
	SpatialIndexRTree
	// SpatialIndexOff drops it: ingest no longer fills it (it is the
	// largest cost of a row: bench/ingest-design.md), and GDAL and QGIS
	// answer a spatial filter on observations by reading every row. The
	// daemon's own queries never use it (they use observations_hour_cell).
	SpatialIndexOff
)

// ParseSpatialIndex reads the config's spatial_index: "rtree", "off", or ""
// for SpatialIndexKeep.
func ParseSpatialIndex(s string) (SpatialIndex, error) {
	switch s {
	case "":
		return SpatialIndexKeep, nil
	case "rtree":
		return SpatialIndexRTree, nil
	case "off":
		return SpatialIndexOff, nil
	}
	return 0, fmt.Errorf("spatial index %q: want rtree or off", s)
}

func (s SpatialIndex) String() string {
	switch s {
	case SpatialIndexRTree:
		return "rtree"
	case SpatialIndexOff:
		return "off"
	}
	return "keep"
}

// WithSpatialIndex sets whether the observations layer keeps its R*Tree
// (see SpatialIndex). Switching takes one transaction at Open: dropping is
// instant, building reads every observation (~15 µs a row).
func WithSpatialIndex(s SpatialIndex) Option { return func(o *Options) { o.SpatialIndex = s } }

// ErrNotFound is returned when an update names a row that does not exist.
var ErrNotFound = errors.New("not found")

// ErrSchemaTooNew is returned by Open when the file was migrated by a newer
// geowatch than this one.
var ErrSchemaTooNew = errors.New("database schema is newer than this geowatch")

// Durability says when a commit is on disk.
type Durability uint8

const (
	// DurabilityNormal (synchronous=NORMAL, the default) fsyncs at checkpoints
	// only: in WAL mode a power cut can lose the last commits but never corrupts
	// the file.
	DurabilityNormal Durability = iota
	// DurabilityFull (synchronous=FULL) fsyncs the WAL at every commit.
	DurabilityFull
)

func (d Durability) String() string {
	if d == DurabilityFull {
		return "full"
	}
	return "normal"
}

// Option configures Open.
type Option func(*Options)

// Options are what Open's options set. Backends read the fields that apply
// to them; the ones marked SQLite mean nothing to PostgreSQL.
type Options struct {
	Now          func() time.Time // stamps rows when a caller passes no time
	Log          *zap.Logger
	ReadOnly     bool
	Durability   Durability    // SQLite: when a commit is on disk
	BusyTimeout  time.Duration // SQLite: wait for another process's lock
	WALWarn      int64         // SQLite: WithWALLimits
	WALMax       int64
	SpatialIndex SpatialIndex // SQLite: the GeoPackage R*Tree
	LowMemory    bool         // SQLite: WithLowMemory
	PasswordFile string       // PostgreSQL: WithPasswordFile
}

// WithPasswordFile has a PostgreSQL backend read the password from the first
// line of path at each new connection, so a rotated secret is picked up
// without a restart.
func WithPasswordFile(path string) Option { return func(o *Options) { o.PasswordFile = path } }

// Apply returns the options opts set over the defaults: time.Now, a no-op
// logger and a 5 s busy timeout.
func Apply(opts ...Option) Options {
	o := Options{Now: time.Now, Log: zap.NewNop(), BusyTimeout: 5 * time.Second}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// WithWALLimits sets the write-ahead log sizes past which the store warns
// (warn, and each doubling of it: logged once per threshold crossed, reported
// by WALStatus) and refuses to ingest (max, with ErrWALLimit); 0 turns either
// off. SQLite cannot checkpoint past a reader's snapshot, so a read
// transaction left open lets the WAL grow with every commit.
func WithWALLimits(warn, max int64) Option {
	return func(o *Options) { o.WALWarn, o.WALMax = warn, max }
}

// WithLowMemory keeps the writer's memory small for a bulk import of
// millions of rows within a memory budget (`geowatch ingest`): a 48 MB page
// cache instead of 256 MB, no memory-mapped reads on the writer, whose
// mapped pages of a large file otherwise count in the process's resident
// memory. Readers are as usual.
func WithLowMemory() Option { return func(o *Options) { o.LowMemory = true } }

// WithDurability sets when commits reach the disk; the default is DurabilityNormal.
func WithDurability(d Durability) Option { return func(o *Options) { o.Durability = d } }

// WithNow sets the clock that stamps rows when a caller passes no time; the
// default is time.Now. It is read once per transaction.
func WithNow(now func() time.Time) Option { return func(o *Options) { o.Now = now } }

// WithLogger sets the logger for migrations and maintenance; the default is a no-op.
func WithLogger(l *zap.Logger) Option { return func(o *Options) { o.Log = l } }

// WithBusyTimeout sets how long a statement waits for another process's lock
// before failing with "database is locked"; the default is 5 s. Tests of lock
// contention shorten it.
func WithBusyTimeout(d time.Duration) Option { return func(o *Options) { o.BusyTimeout = d } }

// ReadOnly opens an existing, up-to-date file for queries only (the CLI): no
// migrations, and every write fails.
func ReadOnly() Option { return func(o *Options) { o.ReadOnly = true } }
