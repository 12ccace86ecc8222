package monitor

import (
	"context"
	"slices"
)

// Filter selects the alert events a subscriber receives. Empty lists and maps
// match everything.
type Filter struct {
	Watches     []string
	Rules       []string
	MinSeverity Severity
	// Labels must each be on the alert with the same value.
	Labels map[string]string
}

// Match reports whether ev passes the filter.
func (f Filter) Match(ev Event) bool {
	a := ev.Alert
	return (len(f.Watches) == 0 || slices.Contains(f.Watches, a.Watch)) &&
		(len(f.Rules) == 0 || slices.Contains(f.Rules, a.Rule)) &&
		a.Severity >= f.MinSeverity && hasLabels(a.Labels, f.Labels)
}

// hasLabels reports whether have holds every key of want with its value.
func hasLabels(have, want map[string]string) bool {
	for k, v := range want {
		if got, ok := have[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// Subscription is a configured subscriber: a sink under the subscriber's name,
// receiving only the events its filter matches.
type Subscription struct {
	Subscriber string
	Sink       Notifier
	Filter     Filter
}

// Name returns the subscriber's name, which the engine tracks deliveries by.
func (s Subscription) Name() string { return s.Subscriber }

// Notify delivers ev to the sink when the filter matches it and drops it otherwise.
func (s Subscription) Notify(ctx context.Context, ev Event) error {
	if !s.Filter.Match(ev) {
		return nil
	}
	return s.Sink.Notify(ctx, ev)
}
