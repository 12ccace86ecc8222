package monitor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/geowatch/geowatch/geo"
	"go.uber.org/zap"
)

// Evaluate runs every rule of w at now and moves its alerts through their
// lifecycle, the Alertmanager way plus geography:
//
//   - a finding that matches no open alert opens one: pending while the rule has
//     held for less than its For, then firing;
//   - a finding that matches an open alert (they share observations, or the
//     rule reports one finding per watch) keeps it and updates it;
//   - an open alert that no finding matches resolves, unless it fired less than
//     KeepFiringFor ago: a pending one just ends;
//   - a firing alert is announced again every Repeat.
//
// Transitions are persisted before they are announced; pending transitions are
// logged but not announced, and silenced ones are persisted but not announced.
func (e *Engine) Evaluate(ctx context.Context, w *Watch, now time.Time) error {
	obs, err := e.observationsFor(ctx, w, now)
	if err != nil {
		return err
	}
	silences := e.silences(ctx, now)
	var errs []error
	for _, nr := range w.Rules {
		done := e.metrics.RuleEvaluation(w.Name, nr.Name)
		in := rulesInput(w, nr, obs, now)
		findings := nr.Rule.Evaluate(now, w, in)
		err := e.step(ctx, w, nr, findings, now, silences)
		done()
		if err != nil {
			errs = append(errs, fmt.Errorf("watch %s rule %s: %w", w.Name, nr.Name, err))
		}
	}
	if err := e.Redeliver(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// observationsFor reads, in one query, what every rule of w needs: the longest
// window, the farthest reach, and the union of kinds.
func (e *Engine) observationsFor(ctx context.Context, w *Watch, now time.Time) ([]Observation, error) {
	var window time.Duration
	var reach float64
	var kinds []string
	allKinds := false
	for _, nr := range w.Rules {
		window = max(window, nr.Rule.Window())
		reach = max(reach, nr.Rule.ReachMeters())
		if k := nr.Rule.Kinds(); len(k) == 0 {
			allKinds = true
		} else {
			kinds = append(kinds, k...)
		}
	}
	if allKinds {
		kinds = nil
	}
	slices.Sort(kinds)
	q := Query{Area: w.Area(reach), Since: now.Add(-window), Until: now, Kinds: slices.Compact(kinds)}
	obs, err := e.store.Observations(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("monitor: watch %s: query observations: %w", w.Name, err)
	}
	return obs, nil
}

// rulesInput narrows the watch's observations to what one rule reads: its
// window, kinds, reach, sources and precisions.
func rulesInput(w *Watch, nr NamedRule, obs []Observation, now time.Time) []Observation {
	r := nr.Rule
	since := now.Add(-r.Window())
	area := w.Area(r.ReachMeters())
	kinds := r.Kinds()
	out := make([]Observation, 0, len(obs))
	for i := range obs {
		o := &obs[i]
		if o.Time.Before(since) || !o.Time.Before(now) ||
			len(kinds) > 0 && !slices.Contains(kinds, o.Kind) ||
			!nr.Select.Match(o) || !area.Contains(o.Point) {
			continue
		}
		out = append(out, *o)
	}
	return out
}

// step applies one rule's findings to its open alerts.
func (e *Engine) step(ctx context.Context, w *Watch, nr NamedRule, findings []Finding, now time.Time, silences []Silence) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	key := alertKey{w.Name, nr.Name}
	open := e.open[key]
	pairs, lone := match(open, findings, nr.Rule.ReachMeters())
	var errs []error
	var keep []*Alert
	for i, a := range open {
		f, ok := pairs[i]
		if !ok {
			if a.State == StateFiring && now.Sub(a.LastHeldAt) < nr.KeepFiringFor {
				keep = append(keep, a) // hysteresis: a flicker does not resolve it
				continue
			}
			if err := e.closeLocked(ctx, a, now, silences); err != nil {
				errs = append(errs, err)
				keep = append(keep, a) // try again next evaluation
			}
			continue
		}
		if err := e.holdLocked(ctx, w, nr, a, findings[f], now, silences); err != nil {
			errs = append(errs, err)
		}
		keep = append(keep, a)
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
		if err := e.transitionLocked(ctx, nr, a, to, now, silences); err != nil {
			errs = append(errs, err)
			continue
		}
		keep = append(keep, a)
	}
	if len(keep) == 0 {
		delete(e.open, key)
	} else {
		e.open[key] = keep
	}
	return errors.Join(errs...)
}

// holdLocked advances an open alert whose rule still holds: pending to firing
// once held for For, a repeat announcement every Repeat, else an update when the
// finding changed.
func (e *Engine) holdLocked(ctx context.Context, w *Watch, nr NamedRule, a *Alert, f Finding, now time.Time, silences []Silence) error {
	changed := !sameFinding(a.Finding, f)
	a.Finding, a.LastHeldAt = f, now
	a.Severity, a.RadiusMeters, a.Window, a.Labels = nr.Severity, w.RadiusMeters, nr.Rule.Window(), maps.Clone(nr.Labels)
	switch {
	case a.State == StatePending && now.Sub(a.ActiveAt) >= nr.For:
		return e.transitionLocked(ctx, nr, a, StateFiring, now, silences)
	case a.State == StateFiring && nr.Repeat > 0 && now.Sub(a.LastNotifiedAt) >= nr.Repeat:
		return e.transitionLocked(ctx, nr, a, StateFiring, now, silences)
	case changed:
		a.UpdatedAt = now
		if err := e.store.UpdateAlert(ctx, a); err != nil {
			return fmt.Errorf("update alert %d: %w", a.ID, err)
		}
	}
	return nil
}

// closeLocked resolves a firing alert, or ends a pending one, that no finding
// matches any more.
func (e *Engine) closeLocked(ctx context.Context, a *Alert, now time.Time, silences []Silence) error {
	return e.transitionLocked(ctx, NamedRule{}, a, StateResolved, now, silences)
}

// transitionLocked moves a to state to at now: it persists the new state and the
// transition in one step, then logs and delivers it. On a store error a is left
// as it was.
func (e *Engine) transitionLocked(ctx context.Context, nr NamedRule, a *Alert, to AlertState, now time.Time, silences []Silence) error {
	next := *a
	next.State, next.UpdatedAt = to, now
	switch to {
	case StateFiring:
		if a.State != StateFiring {
			next.StartsAt = now
		}
		next.LastNotifiedAt = now
	case StateResolved:
		next.EndsAt = now
	}
	if nr.Summary != nil {
		next.Summary = renderSummary(nr, &next)
	}
	t := &Transition{AlertID: a.ID, At: now, From: a.State, To: to}
	if err := e.store.SaveTransition(ctx, &next, t); err != nil {
		return fmt.Errorf("save %s transition of alert %d: %w", to, a.ID, err)
	}
	*a = next
	e.metrics.Transitioned(next, *t)
	if !announced(*t) {
		e.log.Info("alert "+to.String(), zap.Int64("alert_id", a.ID), zap.String("watch", a.Watch),
			zap.String("rule", a.Rule), zap.String("state", to.String()), zap.Int("count", a.Finding.Count),
			zap.Int64("transition_id", t.ID))
	}
	e.deliverLocked(ctx, Event{Alert: next, Transition: *t}, silences)
	return nil
}

// announced reports whether subscribers receive a transition: firing (also
// repeated) and resolved after firing. Pending ones, and the end of an alert that
// never fired, are only persisted and logged.
func announced(t Transition) bool {
	return t.To == StateFiring || t.To == StateResolved && t.From == StateFiring
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

// Retire resolves the open alerts of watches and rules that are no longer
// configured, so that a reload which removes a rule does not leave its alert
// firing forever.
func (e *Engine) Retire(ctx context.Context, watches []*Watch, now time.Time) error {
	keep := map[alertKey]bool{}
	for _, w := range watches {
		for _, nr := range w.Rules {
			keep[alertKey{w.Name, nr.Name}] = true
		}
	}
	silences := e.silences(ctx, now)
	e.mu.Lock()
	defer e.mu.Unlock()
	var errs []error
	for k, as := range e.open {
		if keep[k] {
			continue
		}
		var left []*Alert
		for _, a := range as {
			if err := e.closeLocked(ctx, a, now, silences); err != nil {
				errs = append(errs, err)
				left = append(left, a)
			}
		}
		if len(left) == 0 {
			delete(e.open, k)
		} else {
			e.open[k] = left
		}
	}
	return errors.Join(errs...)
}

// silences returns the silences in force at now, when the store keeps
// silences, and logs the ones that ended since the last call.
func (e *Engine) silences(ctx context.Context, now time.Time) []Silence {
	ss, ok := e.store.(SilenceStore)
	if !ok {
		return nil
	}
	list, err := ss.Silences(ctx, now)
	if err != nil {
		e.log.Error("list silences; notifying as if none", zap.Error(err))
		return nil
	}
	e.silMu.Lock()
	defer e.silMu.Unlock()
	active := make(map[int64]Silence, len(list))
	for _, s := range list {
		active[s.ID] = s
	}
	for id, s := range e.silenced {
		if _, still := active[id]; !still {
			e.log.Info("silence expired", zap.Int64("silence_id", id), zap.String("watch", s.Watch),
				zap.String("rule", s.Rule), zap.String("comment", s.Comment))
		}
	}
	e.silenced = active
	return list
}

// silencedBy returns the silence that mutes ev, if any.
func silencedBy(silences []Silence, ev Event) (Silence, bool) {
	for _, s := range silences {
		if s.Matches(ev.Alert, ev.Transition.At) {
			return s, true
		}
	}
	return Silence{}, false
}
