package monitor

import (
	"encoding/json"
	"slices"
	"text/template"
	"time"

	"github.com/geowatch/geowatch/geo"
	"github.com/paulmach/orb"
)

// Rule decides whether activity clusters at a watch. Rules are pure: the same
// input gives the same findings, so backtests and tests run them on any clock.
//
// A rule never reads the store nor builds the watch's area: the engine reads
// one window for all of a watch's rules and hands each the observations it
// reads (Input.Obs).
type Rule interface {
	// Window is how far before now the rule reads observations.
	Window() time.Duration
	// ReachMeters is how far beyond the watch's shape the rule reads, such as a
	// cluster's eps, so that a cluster straddling the edge is seen whole.
	ReachMeters() float64
	// Kinds restricts the observations the rule reads; empty means all.
	Kinds() []string
	// Evaluate returns what holds in in. No finding means the rule does not hold.
	Evaluate(in Input) []Finding
}

// Input is what a rule evaluates: the observations it reads at one instant.
type Input struct {
	Now   time.Time
	Watch *Watch
	// Obs are the observations of [Now-Window, Now) of the rule's kinds,
	// sources and precisions, within the watch's area grown by the rule's
	// reach, sorted by (Time, FID, ID) so that whatever is computed from them,
	// down to the rounding of sums, does not depend on how the store returned
	// them. They are shared with the watch's other rules: read-only.
	Obs []*Observation
}

// Finding is one instance of a rule holding: the activity an alert reports.
type Finding struct {
	Count     int       // observations in it
	Weight    float64   // their summed weight
	Center    orb.Point // centroid
	Hull      orb.Polygon
	FirstSeen time.Time // earliest observation time
	LastSeen  time.Time // latest observation time
	FIDs      []int64   // the observations' store ids
	// Stats are a rule's own figures, such as a surge's observed, expected,
	// ratio and p; nil for rules that have none.
	Stats map[string]float64
	// Progression is a progression rule's account of activity moving along a
	// corridor; nil for other rules.
	Progression *Progression
}

// Progression is activity that advanced along a corridor: its steps in order,
// the speed they imply, and where and when the next step is expected.
type Progression struct {
	Direction string            `json:"direction"` // "forward" (positions increase) or "backward"
	Steps     []ProgressionStep `json:"steps"`
	SpeedKmh  float64           `json:"speed_kmh"` // least-squares fit of position on time
	// Next is the next step expected at SpeedKmh: at the next gazetteer place
	// along the corridor at least min_gap beyond the last step, or, with none,
	// one mean step spacing on; nil when the last step is at the corridor's end.
	Next *ProgressionStep `json:"next,omitempty"`
	// End is the corridor's end in the direction of travel, when it would be
	// reached at SpeedKmh; nil when the last step is there.
	End *ProgressionStep `json:"end,omitempty"`
}

// ProgressionStep is one step of a progression (or a predicted one): a cluster
// of activity at a position along the corridor.
type ProgressionStep struct {
	AlongKm float64   `json:"along_km"` // position along the corridor from its start
	At      time.Time `json:"at"`       // when its first report came, or the predicted time
	Count   int       `json:"count"`    // reports in it; 0 for a predicted step
	Lat     float64   `json:"lat"`
	Lon     float64   `json:"lon"`
	Place   string    `json:"place,omitempty"` // the nearest gazetteer place within 10 km, if any
	FIDs    []int64   `json:"fids,omitempty"`
}

// MarshalJSON writes At as the database writes times (UTC, milliseconds, fixed
// width), so that a progression's times in the alerts column, the sinks and the
// commands' JSON sort and compare as text like every other time there.
func (s ProgressionStep) MarshalJSON() ([]byte, error) {
	type plain ProgressionStep
	return json.Marshal(struct {
		plain
		At string `json:"at"`
	}{plain(s), s.At.UTC().Format("2006-01-02T15:04:05.000Z")})
}

// Watch is a watched place and the rules evaluated for it: a circle (Center and
// RadiusMeters) or, when Shape is set, another shape such as a geo.Polygon or a
// geo.Corridor (a route and a width).
// Its methods are the one place that says what the watched area is.
type Watch struct {
	Name  string
	Place string // the place name it was configured with, if any
	// Center is a circle's centre, or a polygon's centroid: where a watch is
	// shown, and the longitude rules unwrap others around, so that neighbours
	// across the antimeridian stay neighbours.
	Center orb.Point
	// RadiusMeters is a circle's radius; zero for other shapes.
	RadiusMeters float64
	// Shape is the watched area when it is not the circle; nil for a circle.
	Shape Shape
	Rules []NamedRule
}

// Area returns the watch's shape grown by reach metres: what a rule that reads
// reach beyond the watch reads. A polygon's own buffer and reach add up once.
func (w *Watch) Area(reach float64) Shape {
	switch s := w.Shape.(type) {
	case nil:
		return geo.Circle{Center: w.Center, RadiusMeters: w.RadiusMeters}.Buffered(reach)
	case geo.Circle:
		return s.Buffered(reach)
	case geo.Polygon:
		return s.Buffered(reach)
	case geo.Corridor:
		return s.Buffered(reach)
	default:
		return s // a shape geo cannot grow is read as it is
	}
}

// QueryArea is the watch's area grown by the farthest reach of its rules: what
// one evaluation reads, and so where new observations can change its outcome.
func (w *Watch) QueryArea() Shape {
	var reach float64
	for _, nr := range w.Rules {
		reach = max(reach, nr.Rule.ReachMeters())
	}
	return w.Area(reach)
}

// Contains reports whether p is in the watch's own area, as a finding's centre
// must be.
func (w *Watch) Contains(p orb.Point) bool { return w.Area(0).Contains(p) }

// Along returns where p lies along a corridor watch's line, in metres from its
// start, and its distance from the line; ok is false for other shapes.
func (w *Watch) Along(p orb.Point) (alongMeters, offsetMeters float64, ok bool) {
	c, ok := w.Shape.(geo.Corridor)
	if !ok {
		return 0, 0, false
	}
	along, off := c.Project(p)
	return along, off, true
}

// NamedRule is a rule as configured on a watch, with its alerting policy.
type NamedRule struct {
	Name     string
	Type     string // "count", "cluster", "surge", "scan"
	Severity Severity
	Rule     Rule
	// For is how long the rule must hold before its alert fires; until then the
	// alert is pending and not announced. Zero fires at once.
	For time.Duration
	// KeepFiringFor keeps a firing alert firing this long after the rule stopped
	// holding, so a cluster that flickers does not resolve and re-open.
	KeepFiringFor time.Duration
	// Repeat re-announces a firing alert at this interval; zero announces it once.
	Repeat time.Duration
	// Labels are copied onto the rule's alerts for subscribers' filters.
	Labels map[string]string
	// Summary renders an alert's one-line summary; nil leaves it empty.
	Summary *template.Template
	// Select narrows the observations the rule reads beyond its kinds.
	Select Selector
	// Dedupe counts near-duplicates once (see CollapseNearDuplicates).
	Dedupe Dedupe
}

// Selector picks observations by source and precision. The zero value takes
// every source and leaves out observations located only to a country.
type Selector struct {
	Sources    []string    // empty: all
	Precisions []Precision // empty: exact, city and region
}

// Match reports whether o is selected.
func (s Selector) Match(o *Observation) bool {
	if len(s.Sources) > 0 && !slices.Contains(s.Sources, o.Source) {
		return false
	}
	if len(s.Precisions) == 0 {
		return o.Precision != PrecisionCountry
	}
	return slices.Contains(s.Precisions, o.Precision)
}
