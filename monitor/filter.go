package monitor

import (
	"context"
	"slices"
)

// Filter selects the alert events a subscriber receives. Empty lists match
// everything.
type Filter struct {
	Watches     []string
	Rules       []string
	MinSeverity Severity
}

// Match reports whether ev passes the filter.
func (f Filter) Match(ev Event) bool {
	a := ev.Alert
	return (len(f.Watches) == 0 || slices.Contains(f.Watches, a.Watch)) &&
		(len(f.Rules) == 0 || slices.Contains(f.Rules, a.Rule)) &&
		a.Severity >= f.MinSeverity
}

// Filtered is a Notifier that passes on only the events its Filter matches.
type Filtered struct {
	Notifier
	Filter Filter
}

// Notify delivers ev when the filter matches it and drops it otherwise.
func (f Filtered) Notify(ctx context.Context, ev Event) error {
	if !f.Filter.Match(ev) {
		return nil
	}
	return f.Notifier.Notify(ctx, ev)
}
