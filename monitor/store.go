package monitor

import (
	"context"
	"time"

	"github.com/geowatch/geowatch/geo"
	"github.com/paulmach/orb"
)

// Shape is a watched area: it covers some lon/lat boxes and says exactly which
// points it contains. geo.Circle is one.
type Shape interface {
	Bounds() []orb.Bound
	Contains(p orb.Point) bool
}

var _ Shape = geo.Circle{}

// Query selects observations for a rule or an analyst.
type Query struct {
	Area         Shape     // required: observations whose Point it contains
	Since, Until time.Time // observation time in [Since, Until)
	Kinds        []string  // any of these kinds; empty means all
	// Detail asks for every field. Without it the store fills only what rules
	// read: FID, Source, ID, Time, Point, Kind, Weight, Precision.
	Detail bool
}

// ObservationStore is what checks and rules need of the database.
type ObservationStore interface {
	// Ingest stores a batch in one transaction: observations are added or, when
	// (source, id) is already stored with other content, updated; rejects are kept
	// with their reasons. now stamps ingestion times. Once it has committed, each
	// observation of b that added or updated a row has that row's FID and Source
	// (for an id namespace, the source that stored the row first); the others,
	// unchanged or rejected, keep FID 0. It changes nothing else in b.
	Ingest(ctx context.Context, source string, b Batch, now time.Time) (IngestResult, error)
	// Observations returns the observations q selects, in time order.
	Observations(ctx context.Context, q Query) ([]Observation, error)
	// RecordCheck saves the outcome of one run of a check in the sources table.
	RecordCheck(ctx context.Context, run CheckRun) error
}

// AlertStore persists alerts and their transitions, and is the outbox they are
// delivered from.
type AlertStore interface {
	// OpenAlerts returns the alerts that are not resolved, to resume after a restart.
	OpenAlerts(ctx context.Context) ([]Alert, error)
	// SaveAlerts stores one evaluation's changes in one transaction, setting the
	// IDs of new alerts and of the transitions; on error it stores nothing.
	SaveAlerts(ctx context.Context, changes []Change) error
	// TransitionsAfter returns up to limit persisted transitions with ids above
	// after, oldest first, with their alerts: a subscriber's queue.
	TransitionsAfter(ctx context.Context, after int64, limit int) ([]Event, error)
	// Cursor returns the id of the last transition subscriber has; one never
	// seen before starts at the oldest transition not yet notified.
	Cursor(ctx context.Context, subscriber string) (int64, error)
	// SetCursor records that subscriber has every transition up to id.
	SetCursor(ctx context.Context, subscriber string, id int64, at time.Time) error
	// MarkNotified records that every subscriber has the transitions up to id.
	MarkNotified(ctx context.Context, upTo int64, at time.Time) error
}

// ForeignWriter is a store that counts the transactions that wrote
// observations other than through it (another process's geowatch ingest or
// prune): the engine loads what it keeps in memory again when the count grows.
type ForeignWriter interface {
	// ForeignWrites returns the count so far; it never decreases and never
	// counts a write of the store's own.
	ForeignWrites(ctx context.Context) (int64, error)
}

// Store is everything the engine needs of the database.
type Store interface {
	ObservationStore
	AlertStore
}

// CheckRun is the outcome of one run of a check, for the sources table.
type CheckRun struct {
	Source   string
	Type     string
	Started  time.Time
	Duration time.Duration
	Result   IngestResult
	Err      error // nil on success
}
