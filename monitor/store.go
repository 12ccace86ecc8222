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
	// with their reasons. now stamps ingestion times.
	Ingest(ctx context.Context, source string, b Batch, now time.Time) (IngestResult, error)
	// Observations returns the observations q selects, in time order.
	Observations(ctx context.Context, q Query) ([]Observation, error)
	// RecordCheck saves the outcome of one run of a check in the sources table.
	RecordCheck(ctx context.Context, run CheckRun) error
}

// AlertStore persists alerts and their transitions.
type AlertStore interface {
	// OpenAlerts returns the alerts that are not resolved, to resume after a restart.
	OpenAlerts(ctx context.Context) ([]Alert, error)
	// SaveTransition stores a's new state and the transition row in one
	// transaction, setting a.ID on a new alert and t.ID.
	SaveTransition(ctx context.Context, a *Alert, t *Transition) error
	// UpdateAlert saves a firing alert's latest finding without a transition.
	UpdateAlert(ctx context.Context, a *Alert) error
	// UnnotifiedTransitions returns persisted transitions not yet marked notified,
	// oldest first, with their alerts, so a restart re-sends them.
	UnnotifiedTransitions(ctx context.Context) ([]Event, error)
	// MarkNotified records that a transition was handed to every sink.
	MarkNotified(ctx context.Context, transitionID int64, at time.Time) error
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
