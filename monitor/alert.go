package monitor

import (
	"fmt"
	"time"
)

// Severity ranks alerts for subscribers' filters.
type Severity uint8

// Severities, from the least urgent.
const (
	SeverityInfo Severity = iota
	SeverityWarning
	SeverityCritical
)

var severityNames = [...]string{"info", "warning", "critical"}

func (s Severity) String() string {
	if int(s) < len(severityNames) {
		return severityNames[s]
	}
	return fmt.Sprintf("severity(%d)", s)
}

// ParseSeverity reads a severity name as String writes it.
func ParseSeverity(s string) (Severity, error) {
	for i, n := range severityNames {
		if s == n {
			return Severity(i), nil
		}
	}
	return 0, fmt.Errorf("unknown severity %q (want info, warning or critical)", s)
}

// AlertState is where an alert is in its lifecycle.
type AlertState uint8

// Alert states. An alert opens pending (or firing, for a rule with no hold
// time), fires once it has held for the rule's For, and ends resolved.
const (
	StateFiring AlertState = iota + 1
	StateResolved
	StatePending
)

var stateNames = map[AlertState]string{0: "none", StateFiring: "firing", StateResolved: "resolved", StatePending: "pending"}

func (s AlertState) String() string {
	if n, ok := stateNames[s]; ok {
		return n
	}
	return fmt.Sprintf("state(%d)", s)
}

// ParseAlertState reads a state name as String writes it.
func ParseAlertState(s string) (AlertState, error) {
	for st, n := range stateNames {
		if s == n && st != 0 {
			return st, nil
		}
	}
	return 0, fmt.Errorf("unknown alert state %q", s)
}

// Alert is one episode of a rule holding at a watch.
type Alert struct {
	ID           int64 // the store's id; zero until first saved
	Watch        string
	Rule         string
	RuleType     string
	Severity     Severity
	State        AlertState
	RadiusMeters float64       // the watch's radius
	Window       time.Duration // the rule's window
	ActiveAt     time.Time     // when the rule started holding (pending since)
	StartsAt     time.Time     // when it started firing; zero while pending
	UpdatedAt    time.Time     // the last evaluation that changed it
	EndsAt       time.Time     // when it resolved; zero while open
	// LastHeldAt is the last evaluation at which the rule held for it; with the
	// rule's KeepFiringFor it decides when a flickering cluster resolves.
	LastHeldAt time.Time
	// LastNotifiedAt is when it was last announced as firing, for Repeat.
	LastNotifiedAt time.Time
	Finding        Finding           // the latest finding while it held
	Labels         map[string]string // the rule's labels, for subscribers' filters
	Summary        string            // the rule's summary template, rendered at the last transition
}

// Open reports whether the alert is pending or firing.
func (a *Alert) Open() bool { return a.State == StatePending || a.State == StateFiring }

// Transition is one change of an alert's state, as persisted and announced. A
// firing alert re-announced after the rule's Repeat interval is a transition from
// firing to firing.
type Transition struct {
	ID      int64
	AlertID int64
	At      time.Time
	From    AlertState // zero for the opening transition
	To      AlertState
	// SilenceID is the silence that muted it when it was persisted; zero when
	// none did.
	SilenceID int64
}

// Deliverable reports whether subscribers receive t: a firing transition (also
// repeated) or a resolution after firing, not muted by a silence. Pending
// transitions, and the end of an alert that never fired, are only persisted
// and logged.
func Deliverable(t Transition) bool { return announced(t) && t.SilenceID == 0 }

// announced reports whether t is one subscribers are told of, silences aside.
func announced(t Transition) bool {
	return t.To == StateFiring || t.To == StateResolved && t.From == StateFiring
}

// Event is a transition with the alert as it stood after it: what sinks receive.
type Event struct {
	Alert      Alert
	Transition Transition
}
