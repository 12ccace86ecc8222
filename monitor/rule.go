package monitor

import (
	"time"

	"github.com/paulmach/orb"
)

// Rule decides whether activity clusters at a watch. Rules are pure: the same
// observations and instant give the same findings, so backtests and tests run them
// on any clock.
type Rule interface {
	// Window is how far before now the rule reads observations.
	Window() time.Duration
	// ReachMeters is how far beyond the watch's shape the rule reads, such as a
	// cluster's eps, so that a cluster straddling the edge is seen whole.
	ReachMeters() float64
	// Kinds restricts the observations the rule reads; empty means all.
	Kinds() []string
	// Evaluate returns what holds at now among obs, which are the observations of
	// [now-Window, now) within the watch's shape grown by ReachMeters. No finding
	// means the rule does not hold.
	Evaluate(now time.Time, w *Watch, obs []Observation) []Finding
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
}

// Watch is a watched place and the rules evaluated for it.
type Watch struct {
	Name   string
	Place  string // the place name it was configured with, if any
	Center orb.Point
	// RadiusMeters is the watch's radius.
	RadiusMeters float64
	Rules        []NamedRule
}

// NamedRule is a rule as configured on a watch.
type NamedRule struct {
	Name     string
	Type     string // "count", "cluster"
	Severity Severity
	Rule     Rule
}
