package monitor

import (
	"cmp"
	"slices"
	"time"

	"github.com/geowatch/geowatch/geo"
)

// Dedupe is a rule's near-duplicate policy (the config's dedupe: {within,
// window}): observations of one kind within Within metres and Window of an
// earlier one count as that one. The zero value counts every observation. The
// engine applies it to the rule's observations before the rule reads them.
type Dedupe struct {
	Within float64       // metres
	Window time.Duration // how long after the first report another is the same event
}

// Enabled reports whether d collapses anything.
func (d Dedupe) Enabled() bool { return d.Within >= 0 && d.Window > 0 }

// CollapseNearDuplicates returns obs with near-duplicates left out: an
// observation of the same Kind as a kept one, no more than window after it
// and within metres of it (geodesic, geo.Distance), is a report of that one's
// event and is dropped. The kept one, the representative, is the earliest
// report; ties are broken by Source, then ID, so the choice does not depend on
// the input's order. A report is compared with representatives only, so a
// chain of reports each near the next does not merge distant ones. The result
// is in time order (then Source, ID); obs is not modified.
//
// It sorts (O(n log n)) and then compares each observation with the
// representatives of its kind still within window: O(n·k) for k such
// representatives, few when window is short against the feed's span.
func CollapseNearDuplicates(obs []*Observation, within float64, window time.Duration) []*Observation {
	order := slices.Clone(obs)
	slices.SortStableFunc(order, func(a, b *Observation) int {
		return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.Source, b.Source), cmp.Compare(a.ID, b.ID))
	})
	if within < 0 || window <= 0 {
		return order
	}
	out := order[:0] // kept ones, in order; never ahead of the reading position
	// active holds, per kind, the representatives not yet older than window,
	// oldest first.
	active := make(map[string][]*Observation)
	for _, o := range order {
		reps := active[o.Kind]
		drop := 0
		for drop < len(reps) && o.Time.Sub(reps[drop].Time) > window {
			drop++
		}
		reps = reps[drop:]
		dup := false
		for _, r := range reps {
			if geo.Distance(r.Point, o.Point) <= within {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, o)
			reps = append(reps, o)
		}
		active[o.Kind] = reps
	}
	return out
}
