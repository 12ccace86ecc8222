package monitor

import (
	"cmp"
	"slices"
	"time"

	"github.com/geowatch/geowatch/geo"
)

// Dedupe is a rule's near-duplicate policy (the config's dedupe: {within,
// window}): observations of one kind within Within metres and Window of an
// earlier one count as that one. The zero value counts every observation.
//
// TODO(engine): the engine does not apply it yet; NamedRule.Dedupe carries it
// from the config for the evaluation to pass its observations through
// CollapseNearDuplicates.
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
func CollapseNearDuplicates(obs []Observation, within float64, window time.Duration) []Observation {
	order := make([]int, len(obs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		oa, ob := &obs[a], &obs[b]
		return cmp.Or(oa.Time.Compare(ob.Time), cmp.Compare(oa.Source, ob.Source), cmp.Compare(oa.ID, ob.ID))
	})
	out := make([]Observation, 0, len(obs))
	if within < 0 || window <= 0 {
		for _, i := range order {
			out = append(out, obs[i])
		}
		return out
	}
	// active holds, per kind, the indices into out of representatives not
	// yet older than window, oldest first.
	active := make(map[string][]int)
	for _, i := range order {
		o := &obs[i]
		reps := active[o.Kind]
		drop := 0
		for drop < len(reps) && o.Time.Sub(out[reps[drop]].Time) > window {
			drop++
		}
		reps = reps[drop:]
		dup := false
		for _, r := range reps {
			if geo.Distance(out[r].Point, o.Point) <= within {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, *o)
			reps = append(reps, len(out)-1)
		}
		active[o.Kind] = reps
	}
	return out
}
