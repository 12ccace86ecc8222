package monitor

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/geowatch/geowatch/geo"
)

// Change is one alert's new state after a Step, and the transition that made
// it; Transition is nil when only the alert's finding changed.
type Change struct {
	Alert      *Alert
	Transition *Transition
}

// Step moves the open alerts of one rule of w through their lifecycle given the
// rule's findings at now, the Alertmanager way plus geography:
//
//   - a finding that matches no open alert opens one: pending while the rule has
//     held for less than its For, then firing;
//   - a finding that matches an open alert (they share observations, or the
//     rule reports one finding per watch) keeps it and updates it;
//   - an open alert that no finding matches resolves, unless it fired less than
//     KeepFiringFor ago: a pending one just ends;
//   - a firing alert is announced again every Repeat.
//
// It is pure: open is not modified, and next (the alerts still open) and changes
// point to fresh copies. New alerts have ID 0 until the store saves them.
func Step(open []*Alert, w *Watch, nr NamedRule, findings []Finding, now time.Time) (next []*Alert, changes []Change) {
	pairs, lone := match(open, findings, nr.Rule.ReachMeters())
	for i, old := range open {
		a := ptrTo(*old)
		f, held := pairs[i]
		switch {
		case held:
			if t := hold(w, nr, a, findings[f], now); t != nil || !sameFinding(old.Finding, a.Finding) {
				changes = append(changes, Change{a, t})
			}
			next = append(next, a)
		case a.State == StateFiring && now.Sub(a.LastHeldAt) < nr.KeepFiringFor:
			next = append(next, a) // hysteresis: a flicker does not resolve it
		default:
			// The rule's summary stays as it was rendered while it held.
			changes = append(changes, Change{a, transition(NamedRule{}, a, StateResolved, now)})
		}
	}
	for _, f := range lone {
		a := &Alert{
			Watch: w.Name, Rule: nr.Name, RuleType: nr.Type, Severity: nr.Severity,
			RadiusMeters: w.RadiusMeters, Window: nr.Rule.Window(), ActiveAt: now, UpdatedAt: now,
			LastHeldAt: now, Finding: findings[f], Labels: maps.Clone(nr.Labels),
		}
		to := StatePending
		if nr.For <= 0 {
			to = StateFiring
		}
		changes = append(changes, Change{a, transition(nr, a, to, now)})
		next = append(next, a)
	}
	return next, changes
}

func ptrTo(a Alert) *Alert { return &a }

// hold advances a, an open alert whose rule still holds with finding f: pending
// to firing once held for For, a repeat announcement every Repeat. It returns
// the transition, or nil when the state stays (the finding may have changed).
func hold(w *Watch, nr NamedRule, a *Alert, f Finding, now time.Time) *Transition {
	changed := !sameFinding(a.Finding, f)
	a.Finding, a.LastHeldAt = f, now
	a.Severity, a.RadiusMeters, a.Window, a.Labels = nr.Severity, w.RadiusMeters, nr.Rule.Window(), maps.Clone(nr.Labels)
	switch {
	case a.State == StatePending && now.Sub(a.ActiveAt) >= nr.For:
		return transition(nr, a, StateFiring, now)
	case a.State == StateFiring && nr.Repeat > 0 && now.Sub(a.LastNotifiedAt) >= nr.Repeat:
		return transition(nr, a, StateFiring, now)
	case changed:
		a.UpdatedAt = now
	}
	return nil
}

// transition moves a to state to at now and returns the transition.
func transition(nr NamedRule, a *Alert, to AlertState, now time.Time) *Transition {
	t := &Transition{AlertID: a.ID, At: now, From: a.State, To: to}
	a.State, a.UpdatedAt = to, now
	switch to {
	case StateFiring:
		if t.From != StateFiring {
			a.StartsAt = now
		}
		a.LastNotifiedAt = now
	case StateResolved:
		a.EndsAt = now
	}
	if nr.Summary != nil {
		a.Summary = renderSummary(nr, a)
	}
	return t
}

// match pairs open alerts with findings: an alert keeps the finding that shares
// the most observations with its last one. A rule whose reach is zero (count,
// surge) reports one finding per watch, which keeps the one alert whatever
// observations it is made of; a cluster with no shared observation is kept when
// its centre is within the rule's reach of the alert's. pairs maps alert index
// to finding index; lone lists the findings that open new alerts.
func match(open []*Alert, findings []Finding, reach float64) (pairs map[int]int, lone []int) {
	pairs = map[int]int{}
	taken := make([]bool, len(findings))
	for i, a := range open {
		best, bestShared := -1, 0
		bestDist := reach
		for j, f := range findings {
			if taken[j] {
				continue
			}
			if n := shared(a.Finding.FIDs, f.FIDs); n > bestShared {
				best, bestShared = j, n
				continue
			}
			if bestShared > 0 {
				continue
			}
			if reach == 0 {
				if best < 0 {
					best = j
				}
				continue
			}
			if d := geo.Distance(a.Finding.Center, f.Center); d <= bestDist {
				best, bestDist = j, d
			}
		}
		if best >= 0 {
			pairs[i] = best
			taken[best] = true
		}
	}
	for j := range findings {
		if !taken[j] {
			lone = append(lone, j)
		}
	}
	return pairs, lone
}

// shared counts the ids two sorted id lists have in common.
func shared(a, b []int64) int {
	n := 0
	for i, j := 0, 0; i < len(a) && j < len(b); {
		switch {
		case a[i] == b[j]:
			n++
			i++
			j++
		case a[i] < b[j]:
			i++
		default:
			j++
		}
	}
	return n
}

// sameFinding reports whether a finding reports the same activity as before, so
// that an unchanged alert is not rewritten on every evaluation.
func sameFinding(a, b Finding) bool {
	return a.Count == b.Count && a.Weight == b.Weight && a.LastSeen.Equal(b.LastSeen) &&
		a.FirstSeen.Equal(b.FirstSeen) && slices.Equal(a.FIDs, b.FIDs)
}

// SummaryData is what a rule's summary template sees.
type SummaryData struct {
	Watch, Rule, Severity, State string
	Count                        int
	Weight                       float64
	RadiusKm                     float64
	Window                       string
	Lat, Lon                     float64
	FirstSeen, LastSeen          time.Time
	Stats                        map[string]float64
	Labels                       map[string]string
}

func renderSummary(nr NamedRule, a *Alert) string {
	var b bytes.Buffer
	err := nr.Summary.Execute(&b, SummaryData{
		Watch: a.Watch, Rule: a.Rule, Severity: a.Severity.String(), State: a.State.String(),
		Count: a.Finding.Count, Weight: a.Finding.Weight, RadiusKm: a.RadiusMeters / 1000,
		Window: shortDuration(a.Window), Lat: a.Finding.Center.Lat(), Lon: a.Finding.Center.Lon(),
		FirstSeen: a.Finding.FirstSeen, LastSeen: a.Finding.LastSeen, Stats: a.Finding.Stats, Labels: a.Labels,
	})
	if err != nil {
		return "summary template failed: " + err.Error()
	}
	return b.String()
}

// shortDuration writes whole days and hours the way configs read them: "6h", "14d".
func shortDuration(d time.Duration) string {
	switch {
	case d >= 24*time.Hour && d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	case d >= time.Hour && d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d >= time.Minute && d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return d.String()
}
