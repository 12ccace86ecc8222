package monitor

import (
	"cmp"
	"slices"
	"time"
)

// views turns the observations of one query for a watch into each rule's Input:
// the engine reads the union of its rules' windows and reaches once, sorts it
// once, and tests each observation against the watch's area once per distinct
// reach, however many rules share it.
type views struct {
	now time.Time
	w   *Watch
	obs []*Observation // sorted by compareObs
	// areas holds, per reach, whether each observation is in the watch's area
	// grown by it, worked out for the observations a rule asked about.
	areas map[float64]*membership
}

// membership caches an area's Contains per observation.
type membership struct {
	area Shape
	in   []int8 // 0: not asked yet, 1: inside, -1: outside
}

func (m *membership) contains(i int, o *Observation) bool {
	if m.in[i] == 0 {
		// A corrupt (NaN) point has NaN distances, which compare false: it is
		// never inside.
		m.in[i] = -1
		if m.area.Contains(o.Point) {
			m.in[i] = 1
		}
	}
	return m.in[i] > 0
}

func newViews(w *Watch, obs []Observation, now time.Time) *views {
	ptrs := make([]*Observation, len(obs))
	for i := range obs {
		ptrs[i] = &obs[i]
	}
	slices.SortFunc(ptrs, compareObs)
	return &views{now: now, w: w, obs: ptrs, areas: map[float64]*membership{}}
}

// NewInput returns the input the engine hands nr at now when obs are what the
// store holds near w: the rule's window, kinds, sources, precisions and reach
// applied, in the engine's order. It is how tests and tools run a rule the way
// the engine does.
func NewInput(now time.Time, w *Watch, nr NamedRule, obs []Observation) Input {
	return newViews(w, obs, now).input(nr)
}

// input narrows the observations to what nr reads.
func (v *views) input(nr NamedRule) Input {
	r := nr.Rule
	since := v.now.Add(-r.Window())
	byTime := func(o *Observation, t time.Time) int { return o.Time.Compare(t) }
	lo, _ := slices.BinarySearchFunc(v.obs, since, byTime)
	hi, _ := slices.BinarySearchFunc(v.obs, v.now, byTime)
	area := v.area(r.ReachMeters())
	kinds := r.Kinds()
	out := make([]*Observation, 0, max(hi-lo, 0))
	for i := lo; i < hi; i++ {
		// The cheap tests first: the area's is a geodesic distance or a
		// point-in-polygon test.
		o := v.obs[i]
		if (len(kinds) == 0 || slices.Contains(kinds, o.Kind)) && nr.Select.Match(o) && area.contains(i, o) {
			out = append(out, o)
		}
	}
	if nr.Dedupe.Enabled() {
		out = CollapseNearDuplicates(out, nr.Dedupe.Within, nr.Dedupe.Window)
		slices.SortFunc(out, compareObs)
	}
	return Input{Now: v.now, Watch: v.w, Obs: out}
}

// area returns the membership of the watch's area grown by reach, shared by the
// rules with that reach.
func (v *views) area(reach float64) *membership {
	m, ok := v.areas[reach]
	if !ok {
		m = &membership{area: v.w.Area(reach), in: make([]int8, len(v.obs))}
		v.areas[reach] = m
	}
	return m
}

// compareObs orders observations by (Time, FID, ID).
func compareObs(a, b *Observation) int {
	// Not cmp.Or: it would compare the IDs on every call, not only on ties.
	if c := a.Time.Compare(b.Time); c != 0 {
		return c
	}
	if c := cmp.Compare(a.FID, b.FID); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}
